/* metrics.h -- request counters and latency histograms, as Prometheus text 0.0.4.
 *
 * Every cell is a C11 atomic bumped with relaxed ordering, so worker threads
 * never take a lock; labels are bounded (endpoint from ROUTE_LIST, code from
 * a fixed list of the statuses the service sends). */
#ifndef SERVER_METRICS_H
#define SERVER_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "routes.h"

/* Upper bounds of the duration histogram in seconds, +Inf excluded. */
#define METRICS_BUCKET_LIST(X)                                                                     \
    X(0.0005)                                                                                      \
    X(0.001)                                                                                       \
    X(0.0025)                                                                                      \
    X(0.005)                                                                                       \
    X(0.01) X(0.025) X(0.05) X(0.1) X(0.25) X(0.5) X(1.0) X(2.5) X(5.0) X(10.0) X(30.0) X(60.0)
#define METRICS_BUCKET_COUNT 16

/* The HTTP statuses the service answers with; anything else is counted
 * under code="other". */
#define METRICS_CODE_LIST(X) X(200) X(400) X(401) X(404) X(405) X(413) X(415) X(500) X(503)
#define METRICS_CODE_COUNT 10 /* the list, plus "other" */

struct metrics {
    _Atomic uint64_t requests[ROUTE_COUNT][METRICS_CODE_COUNT];
    _Atomic uint64_t buckets[ROUTE_COUNT][METRICS_BUCKET_COUNT + 1]; /* last: +Inf */
    _Atomic uint64_t sum_ns[ROUTE_COUNT];
};

/* Zeroes every counter. Cannot fail. */
void metrics_init(struct metrics *m);

/* Counts one answered request of route with HTTP status http_status that
 * took duration_ns nanoseconds. Lock-free; safe from any thread. */
void metrics_observe(struct metrics *m, enum route_id route, int http_status, uint64_t duration_ns);

/* Renders m as Prometheus text exposition 0.0.4. Returns a malloc'd,
 * NUL-terminated string the caller frees (length in *out_len), or NULL when
 * out of memory. */
char *metrics_render(struct metrics *m, size_t *out_len);

#endif
