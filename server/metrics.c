/* metrics.c -- request counters and latency histograms, as Prometheus text 0.0.4.
 *
 * Histogram buckets are stored per bucket (not cumulative) so that an
 * observation is a single atomic increment; rendering accumulates them and
 * derives _count from the same snapshot, so _count always equals the +Inf
 * bucket. */
#include "metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing output buffer; after a failed allocation every append is a
 * no-op and ok stays false. */
struct text {
    char *buf;
    size_t len, cap;
    bool ok;
};

static const double bucket_bounds[METRICS_BUCKET_COUNT] = {
#define METRICS_BOUND(b) b,
    METRICS_BUCKET_LIST(METRICS_BOUND)
#undef METRICS_BOUND
};

static const int code_values[METRICS_CODE_COUNT - 1] = {
#define METRICS_CODE(c) c,
    METRICS_CODE_LIST(METRICS_CODE)
#undef METRICS_CODE
};

static size_t code_index(int http_status)
{
    for (size_t i = 0; i < METRICS_CODE_COUNT - 1; i++) {
        if (code_values[i] == http_status)
            return i;
    }
    return METRICS_CODE_COUNT - 1;
}

void metrics_init(struct metrics *m)
{
    for (size_t r = 0; r < ROUTE_COUNT; r++) {
        for (size_t c = 0; c < METRICS_CODE_COUNT; c++)
            atomic_init(&m->requests[r][c], 0);
        for (size_t b = 0; b <= METRICS_BUCKET_COUNT; b++)
            atomic_init(&m->buckets[r][b], 0);
        atomic_init(&m->sum_ns[r], 0);
    }
}

void metrics_observe(struct metrics *m, enum route_id route, int http_status, uint64_t duration_ns)
{
    double seconds = (double)duration_ns / 1e9;
    size_t b = 0;

    if (route >= ROUTE_COUNT)
        route = ROUTE_OTHER;
    while (b < METRICS_BUCKET_COUNT && seconds > bucket_bounds[b])
        b++;
    atomic_fetch_add_explicit(&m->requests[route][code_index(http_status)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->buckets[route][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_ns[route], duration_ns, memory_order_relaxed);
}

static void text_append(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_append(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!t->ok)
        return;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->ok = false;
            return;
        }
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t need, cap;
        if (__builtin_add_overflow(t->len, (size_t)n + 1, &need) ||
            __builtin_mul_overflow(need, (size_t)2, &cap)) {
            t->ok = false;
            return;
        }
        char *grown = realloc(t->buf, cap);
        if (grown == NULL) {
            t->ok = false;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
}

char *metrics_render(struct metrics *m, size_t *out_len)
{
    struct text t = {malloc(4096), 0, 4096, true};

    if (t.buf == NULL)
        return NULL;
    t.buf[0] = '\0';

    text_append(&t, "# HELP l2d_requests_total Requests answered, by endpoint and HTTP status.\n"
                    "# TYPE l2d_requests_total counter\n");
    for (size_t r = 0; r < ROUTE_COUNT; r++) {
        for (size_t c = 0; c < METRICS_CODE_COUNT; c++) {
            uint64_t v = atomic_load_explicit(&m->requests[r][c], memory_order_relaxed);
            if (v == 0)
                continue;
            if (c < METRICS_CODE_COUNT - 1)
                text_append(&t, "l2d_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n",
                            route_label((enum route_id)r), code_values[c], (unsigned long long)v);
            else
                text_append(&t, "l2d_requests_total{endpoint=\"%s\",code=\"other\"} %llu\n",
                            route_label((enum route_id)r), (unsigned long long)v);
        }
    }

    text_append(&t, "# HELP l2d_request_duration_seconds Time from request line to response "
                    "completion, by endpoint.\n"
                    "# TYPE l2d_request_duration_seconds histogram\n");
    for (size_t r = 0; r < ROUTE_COUNT; r++) {
        const char *label = route_label((enum route_id)r);
        uint64_t cumulative = 0;
        for (size_t b = 0; b <= METRICS_BUCKET_COUNT; b++) {
            cumulative += atomic_load_explicit(&m->buckets[r][b], memory_order_relaxed);
            if (b < METRICS_BUCKET_COUNT)
                text_append(&t,
                            "l2d_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} "
                            "%llu\n",
                            label, bucket_bounds[b], (unsigned long long)cumulative);
            else
                text_append(&t,
                            "l2d_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} "
                            "%llu\n",
                            label, (unsigned long long)cumulative);
        }
        uint64_t ns = atomic_load_explicit(&m->sum_ns[r], memory_order_relaxed);
        text_append(&t, "l2d_request_duration_seconds_sum{endpoint=\"%s\"} %.9f\n", label,
                    (double)ns / 1e9);
        text_append(&t, "l2d_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", label,
                    (unsigned long long)cumulative);
    }

    if (!t.ok) {
        free(t.buf);
        return NULL;
    }
    *out_len = t.len;
    return t.buf;
}
