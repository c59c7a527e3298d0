/* metrics.h -- request counters, latency histograms, problem counts,
 * gauges and process metrics, as Prometheus text 0.0.4, followed by the
 * tracked store's families (tracked.h) when one is set.
 *
 * Every cell is a C11 atomic bumped with relaxed ordering, so worker threads
 * never take a lock; labels are bounded (endpoint from ROUTE_LIST, code from
 * a fixed list of the statuses the service sends or from API_STATUS_LIST,
 * dtype and format from their enums). Process metrics are read from /proc
 * at scrape time. */
#ifndef SERVER_METRICS_H
#define SERVER_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../api/format.h"
#include "../api/status.h"
#include "../core/dtype.h"
#include "routes.h"
#include "tracked.h"

/* Upper bounds of the duration histogram in seconds, +Inf excluded. */
#define METRICS_BUCKET_LIST(X)                                                                     \
    X(0.0005)                                                                                      \
    X(0.001)                                                                                       \
    X(0.0025)                                                                                      \
    X(0.005)                                                                                       \
    X(0.01) X(0.025) X(0.05) X(0.1) X(0.25) X(0.5) X(1.0) X(2.5) X(5.0) X(10.0) X(30.0) X(60.0)

/* (0 LIST(METRICS_PLUS_ONE)) is the number of rows of an X-macro list, as a
 * constant expression: the counts below follow their lists. */
#define METRICS_PLUS_ONE(x) +1
#define METRICS_BUCKET_COUNT (0 METRICS_BUCKET_LIST(METRICS_PLUS_ONE))

/* The HTTP statuses the service answers with; anything else is counted
 * under code="other". */
#define METRICS_CODE_LIST(X) X(200) X(400) X(401) X(404) X(405) X(413) X(415) X(500) X(503)
#define METRICS_CODE_COUNT (1 METRICS_CODE_LIST(METRICS_PLUS_ONE)) /* the list, plus "other" */

/* The body formats (api/format.h), labelled by api_format_label. */
#define METRICS_FORMAT_COUNT API_FORMAT_COUNT

struct metrics {
    _Atomic uint64_t requests[ROUTE_COUNT][METRICS_CODE_COUNT];
    _Atomic uint64_t buckets[ROUTE_COUNT][METRICS_BUCKET_COUNT + 1]; /* last: +Inf */
    _Atomic uint64_t sum_ns[ROUTE_COUNT];
    _Atomic uint64_t body_bytes;
    _Atomic uint64_t elements[L2_DTYPE_COUNT][METRICS_FORMAT_COUNT];
    _Atomic int64_t in_flight;        /* requests started, not yet completed */
    _Atomic int64_t open_connections; /* TCP connections open */
    _Atomic uint64_t problems[ROUTE_COUNT][API_STATUS_COUNT]; /* by problem code */
    struct tracked *tracked; /* rendered with the rest when not NULL; not owned */
};

/* What /proc/self says about the process, read at scrape time. */
struct metrics_process {
    double cpu_seconds; /* user + system */
    uint64_t resident_bytes;
    uint64_t virtual_bytes;
    uint64_t open_fds;
    uint64_t max_fds;          /* RLIMIT_NOFILE soft limit */
    double start_time_seconds; /* since the Unix epoch */
};

/* Zeroes every counter, with no tracked store. Cannot fail. */
void metrics_init(struct metrics *m);

/* Makes metrics_render include tracked's l2d_tracked_* families (NULL:
 * none). tracked stays the caller's and must outlive every render. Call it
 * before the first render, from one thread. */
void metrics_set_tracked(struct metrics *m, struct tracked *tracked);

/* Counts one problem response of route with status st (its problem `code`
 * is the label) in l2d_problems_total. API_OK and out-of-range values are
 * ignored. Lock-free; safe from any thread. */
void metrics_problem(struct metrics *m, enum route_id route, enum api_status st);

/* Counts one answered request of route with HTTP status http_status that
 * took duration_ns nanoseconds. Lock-free; safe from any thread. */
void metrics_observe(struct metrics *m, enum route_id route, int http_status, uint64_t duration_ns);

/* Counts len more request body bytes. */
void metrics_add_body_bytes(struct metrics *m, uint64_t len);

/* Counts n elements decoded of dtype from a body of format (out-of-range
 * values are ignored). */
void metrics_add_elements(struct metrics *m, enum l2_dtype dtype, enum api_format format,
                          uint64_t n);

/* Moves the in-flight and open-connection gauges by delta (+1 or -1). */
void metrics_in_flight_add(struct metrics *m, int64_t delta);
void metrics_connections_add(struct metrics *m, int64_t delta);

/* Fills p from /proc/self (stat, fd/) and /proc/stat; false when they
 * cannot be read (p is then zeroed). */
bool metrics_process_read(struct metrics_process *p);

/* Renders m, the build info, proc (NULL: no process_* metrics) and the
 * tracked store set by metrics_set_tracked as Prometheus text exposition
 * 0.0.4. Returns a malloc'd, NUL-terminated
 * string the caller frees (length in *out_len), or NULL when out of
 * memory. */
char *metrics_render(struct metrics *m, const struct metrics_process *proc, size_t *out_len);

#endif
