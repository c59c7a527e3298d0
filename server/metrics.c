/* metrics.c -- request counters, latency histograms, gauges and process
 * metrics, as Prometheus text 0.0.4.
 *
 * Histogram buckets are stored per bucket (not cumulative) so that an
 * observation is a single atomic increment; rendering accumulates them and
 * derives _count from the same snapshot, so _count always equals the +Inf
 * bucket. */
#include "metrics.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "version.h"

#define METRICS_PROC_STAT_MAX 1024

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
    atomic_init(&m->body_bytes, 0);
    for (size_t d = 0; d < L2_DTYPE_COUNT; d++) {
        for (size_t f = 0; f < METRICS_FORMAT_COUNT; f++)
            atomic_init(&m->elements[d][f], 0);
    }
    atomic_init(&m->in_flight, 0);
    atomic_init(&m->open_connections, 0);
}

void metrics_add_body_bytes(struct metrics *m, uint64_t len)
{
    atomic_fetch_add_explicit(&m->body_bytes, len, memory_order_relaxed);
}

void metrics_add_elements(struct metrics *m, enum l2_dtype dtype, enum api_format format,
                          uint64_t n)
{
    if ((unsigned)dtype >= L2_DTYPE_COUNT || (unsigned)format >= METRICS_FORMAT_COUNT)
        return;
    atomic_fetch_add_explicit(&m->elements[dtype][format], n, memory_order_relaxed);
}

void metrics_in_flight_add(struct metrics *m, int64_t delta)
{
    atomic_fetch_add_explicit(&m->in_flight, delta, memory_order_relaxed);
}

void metrics_connections_add(struct metrics *m, int64_t delta)
{
    atomic_fetch_add_explicit(&m->open_connections, delta, memory_order_relaxed);
}

/* Reads up to cap-1 bytes of path into buf, NUL-terminated; false on error. */
static bool read_small_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL)
        return false;
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0;
}

/* The system boot time (btime in /proc/stat), seconds since the epoch. */
static bool read_boot_time(uint64_t *out)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    bool found = false;

    if (f == NULL)
        return false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        char *end = NULL;
        if (strncmp(line, "btime ", 6) != 0)
            continue;
        *out = strtoull(line + 6, &end, 10);
        found = end != line + 6;
    }
    fclose(f);
    return found;
}

static uint64_t count_open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *ent;
    uint64_t n = 0;

    if (dir == NULL)
        return 0;
    while ((ent = readdir(dir)) != NULL) {
        if (ent->d_name[0] != '.')
            n++;
    }
    closedir(dir);
    return n > 0 ? n - 1 : 0; /* not the directory's own descriptor */
}

bool metrics_process_read(struct metrics_process *p)
{
    char stat[METRICS_PROC_STAT_MAX];
    uint64_t fields[22];
    const char *s;
    long ticks = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    uint64_t boot;
    struct rlimit rl;

    memset(p, 0, sizeof(*p));
    if (ticks <= 0 || page <= 0 || !read_small_file("/proc/self/stat", stat, sizeof(stat)) ||
        !read_boot_time(&boot))
        return false;
    /* Fields after the command name, which is in parentheses and may hold
     * spaces: field 3 (state) is fields[0] and is skipped. */
    s = strrchr(stat, ')');
    if (s == NULL || s[1] != ' ')
        return false;
    s += 2;
    while (*s != ' ' && *s != '\0')
        s++;
    for (size_t i = 1; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char *end = NULL;
        fields[i] = strtoull(s, &end, 10);
        if (end == s)
            return false;
        s = end;
    }
    /* utime 14, stime 15, starttime 22, vsize 23, rss 24 (proc(5)). */
    p->cpu_seconds = (double)(fields[11] + fields[12]) / (double)ticks;
    p->start_time_seconds = (double)boot + (double)fields[19] / (double)ticks;
    p->virtual_bytes = fields[20];
    p->resident_bytes = fields[21] * (uint64_t)page;
    p->open_fds = count_open_fds();
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        p->max_fds = rl.rlim_cur == RLIM_INFINITY ? 0 : (uint64_t)rl.rlim_cur;
    return true;
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

char *metrics_render(struct metrics *m, const struct metrics_process *proc, size_t *out_len)
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

    text_append(&t,
                "# HELP l2d_request_body_bytes_total Request body bytes received.\n"
                "# TYPE l2d_request_body_bytes_total counter\n"
                "l2d_request_body_bytes_total %llu\n",
                (unsigned long long)atomic_load_explicit(&m->body_bytes, memory_order_relaxed));

    text_append(&t, "# HELP l2d_elements_total Tensor elements decoded, by dtype and body "
                    "format.\n"
                    "# TYPE l2d_elements_total counter\n");
    for (size_t d = 0; d < L2_DTYPE_COUNT; d++) {
        for (size_t f = 0; f < METRICS_FORMAT_COUNT; f++)
            text_append(
                &t, "l2d_elements_total{dtype=\"%s\",format=\"%s\"} %llu\n",
                l2_dtype_name((enum l2_dtype)d), api_format_label((enum api_format)f),
                (unsigned long long)atomic_load_explicit(&m->elements[d][f], memory_order_relaxed));
    }

    text_append(&t,
                "# HELP l2d_requests_in_flight Requests started and not yet completed.\n"
                "# TYPE l2d_requests_in_flight gauge\n"
                "l2d_requests_in_flight %lld\n"
                "# HELP l2d_open_connections Open client connections.\n"
                "# TYPE l2d_open_connections gauge\n"
                "l2d_open_connections %lld\n"
                "# HELP l2d_build_info The running l2d's version; always 1.\n"
                "# TYPE l2d_build_info gauge\n"
                "l2d_build_info{version=\"%s\"} 1\n",
                (long long)atomic_load_explicit(&m->in_flight, memory_order_relaxed),
                (long long)atomic_load_explicit(&m->open_connections, memory_order_relaxed),
                L2D_VERSION);

    if (proc != NULL) {
        text_append(&t,
                    "# HELP process_cpu_seconds_total Total user and system CPU time spent in "
                    "seconds.\n"
                    "# TYPE process_cpu_seconds_total counter\n"
                    "process_cpu_seconds_total %.2f\n"
                    "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                    "# TYPE process_resident_memory_bytes gauge\n"
                    "process_resident_memory_bytes %llu\n"
                    "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                    "# TYPE process_virtual_memory_bytes gauge\n"
                    "process_virtual_memory_bytes %llu\n"
                    "# HELP process_open_fds Number of open file descriptors.\n"
                    "# TYPE process_open_fds gauge\n"
                    "process_open_fds %llu\n",
                    proc->cpu_seconds, (unsigned long long)proc->resident_bytes,
                    (unsigned long long)proc->virtual_bytes, (unsigned long long)proc->open_fds);
        if (proc->max_fds != 0)
            text_append(&t,
                        "# HELP process_max_fds Maximum number of open file descriptors.\n"
                        "# TYPE process_max_fds gauge\n"
                        "process_max_fds %llu\n",
                        (unsigned long long)proc->max_fds);
        text_append(&t,
                    "# HELP process_start_time_seconds Start time of the process since unix "
                    "epoch in seconds.\n"
                    "# TYPE process_start_time_seconds gauge\n"
                    "process_start_time_seconds %.2f\n",
                    proc->start_time_seconds);
    }

    if (!t.ok) {
        free(t.buf);
        return NULL;
    }
    *out_len = t.len;
    return t.buf;
}
