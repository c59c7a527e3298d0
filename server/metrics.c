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

#include "../api/text.h"
#include "version.h"

#define METRICS_PROC_STAT_MAX 1024
/* Hard limit on the rendered text, far above what the fixed label sets
 * produce (about 20 KiB). */
#define METRICS_TEXT_MAX ((size_t)1 << 20)

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
    for (size_t r = 0; r < ROUTE_COUNT; r++) {
        for (size_t s = 0; s < API_STATUS_COUNT; s++)
            atomic_init(&m->problems[r][s], 0);
    }
    m->tracked = NULL;
}

void metrics_set_tracked(struct metrics *m, struct tracked *tracked)
{
    m->tracked = tracked;
}

void metrics_problem(struct metrics *m, enum route_id route, enum api_status st)
{
    if ((unsigned)st >= API_STATUS_COUNT || st == API_OK)
        return;
    if ((unsigned)route >= ROUTE_COUNT)
        route = ROUTE_OTHER;
    atomic_fetch_add_explicit(&m->problems[route][st], 1, memory_order_relaxed);
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

/* ---- rendering: one function per metric family ------------------------- */

/* The # HELP and # TYPE lines of a family. */
static void family(struct api_text_buf *t, const char *name, const char *type, const char *help)
{
    api_text_buf_appendf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one sample without labels; the value is printf-style. */
static void single(struct api_text_buf *t, const char *name, const char *type, const char *help,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void single(struct api_text_buf *t, const char *name, const char *type, const char *help,
                   const char *fmt, ...)
{
    va_list ap;

    family(t, name, type, help);
    api_text_buf_appendf(t, "%s ", name);
    va_start(ap, fmt);
    api_text_buf_vappendf(t, fmt, ap);
    va_end(ap);
    api_text_buf_append_str(t, "\n");
}

static void render_requests(struct api_text_buf *t, struct metrics *m)
{
    family(t, "l2d_requests_total", "counter", "Requests answered, by endpoint and HTTP status.");
    for (size_t r = 0; r < ROUTE_COUNT; r++) {
        for (size_t c = 0; c < METRICS_CODE_COUNT; c++) {
            uint64_t v = atomic_load_explicit(&m->requests[r][c], memory_order_relaxed);
            if (v == 0)
                continue;
            if (c < METRICS_CODE_COUNT - 1)
                api_text_buf_appendf(t, "l2d_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n",
                                     route_label((enum route_id)r), code_values[c],
                                     (unsigned long long)v);
            else
                api_text_buf_appendf(t, "l2d_requests_total{endpoint=\"%s\",code=\"other\"} %llu\n",
                                     route_label((enum route_id)r), (unsigned long long)v);
        }
    }
}

/* One series per endpoint that has answered a request, as
 * l2d_requests_total has: an endpoint never called adds no lines, so the
 * exposition grows with the traffic's endpoints, not with ROUTE_LIST. */
/* Like l2d_requests_total, only the cells that have counted something. */
static void render_problems(struct api_text_buf *t, struct metrics *m)
{
    family(t, "l2d_problems_total", "counter", "Problem responses, by endpoint and problem code.");
    for (size_t r = 0; r < ROUTE_COUNT; r++) {
        for (size_t s = 0; s < API_STATUS_COUNT; s++) {
            uint64_t v = atomic_load_explicit(&m->problems[r][s], memory_order_relaxed);
            if (v != 0)
                api_text_buf_appendf(t, "l2d_problems_total{endpoint=\"%s\",code=\"%s\"} %llu\n",
                                     route_label((enum route_id)r),
                                     api_status_code((enum api_status)s), (unsigned long long)v);
        }
    }
}

static void render_duration(struct api_text_buf *t, struct metrics *m)
{
    family(t, "l2d_request_duration_seconds", "histogram",
           "Time from request line to response completion, by endpoint.");
    for (size_t r = 0; r < ROUTE_COUNT; r++) {
        const char *label = route_label((enum route_id)r);
        uint64_t snap[METRICS_BUCKET_COUNT + 1], cumulative = 0, ns;

        for (size_t b = 0; b <= METRICS_BUCKET_COUNT; b++) {
            snap[b] = atomic_load_explicit(&m->buckets[r][b], memory_order_relaxed);
            cumulative += snap[b];
        }
        if (cumulative == 0)
            continue;
        cumulative = 0;
        for (size_t b = 0; b <= METRICS_BUCKET_COUNT; b++) {
            cumulative += snap[b];
            if (b < METRICS_BUCKET_COUNT)
                api_text_buf_appendf(
                    t, "l2d_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
                    label, bucket_bounds[b], (unsigned long long)cumulative);
            else
                api_text_buf_appendf(
                    t, "l2d_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
                    label, (unsigned long long)cumulative);
        }
        ns = atomic_load_explicit(&m->sum_ns[r], memory_order_relaxed);
        api_text_buf_appendf(t, "l2d_request_duration_seconds_sum{endpoint=\"%s\"} %.9f\n", label,
                             (double)ns / 1e9);
        api_text_buf_appendf(t, "l2d_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", label,
                             (unsigned long long)cumulative);
    }
}

static void render_body_bytes(struct api_text_buf *t, struct metrics *m)
{
    single(t, "l2d_request_body_bytes_total", "counter", "Request body bytes received.", "%llu",
           (unsigned long long)atomic_load_explicit(&m->body_bytes, memory_order_relaxed));
}

static void render_elements(struct api_text_buf *t, struct metrics *m)
{
    family(t, "l2d_elements_total", "counter",
           "Tensor elements decoded, by dtype and body format.");
    for (size_t d = 0; d < L2_DTYPE_COUNT; d++) {
        for (size_t f = 0; f < METRICS_FORMAT_COUNT; f++)
            api_text_buf_appendf(
                t, "l2d_elements_total{dtype=\"%s\",format=\"%s\"} %llu\n",
                l2_dtype_name((enum l2_dtype)d), api_format_label((enum api_format)f),
                (unsigned long long)atomic_load_explicit(&m->elements[d][f], memory_order_relaxed));
    }
}

static void render_in_flight(struct api_text_buf *t, struct metrics *m)
{
    single(t, "l2d_requests_in_flight", "gauge", "Requests started and not yet completed.", "%lld",
           (long long)atomic_load_explicit(&m->in_flight, memory_order_relaxed));
}

static void render_open_connections(struct api_text_buf *t, struct metrics *m)
{
    single(t, "l2d_open_connections", "gauge", "Open client connections.", "%lld",
           (long long)atomic_load_explicit(&m->open_connections, memory_order_relaxed));
}

static void render_build_info(struct api_text_buf *t)
{
    family(t, "l2d_build_info", "gauge", "The running l2d's version; always 1.");
    api_text_buf_appendf(t, "l2d_build_info{version=\"%s\"} 1\n", L2D_VERSION);
}

static void render_process_cpu(struct api_text_buf *t, const struct metrics_process *p)
{
    single(t, "process_cpu_seconds_total", "counter",
           "Total user and system CPU time spent in seconds.", "%.2f", p->cpu_seconds);
}

static void render_process_resident(struct api_text_buf *t, const struct metrics_process *p)
{
    single(t, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", "%llu",
           (unsigned long long)p->resident_bytes);
}

static void render_process_virtual(struct api_text_buf *t, const struct metrics_process *p)
{
    single(t, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", "%llu",
           (unsigned long long)p->virtual_bytes);
}

static void render_process_open_fds(struct api_text_buf *t, const struct metrics_process *p)
{
    single(t, "process_open_fds", "gauge", "Number of open file descriptors.", "%llu",
           (unsigned long long)p->open_fds);
}

/* Left out when there is no limit. */
static void render_process_max_fds(struct api_text_buf *t, const struct metrics_process *p)
{
    if (p->max_fds != 0)
        single(t, "process_max_fds", "gauge", "Maximum number of open file descriptors.", "%llu",
               (unsigned long long)p->max_fds);
}

static void render_process_start_time(struct api_text_buf *t, const struct metrics_process *p)
{
    single(t, "process_start_time_seconds", "gauge",
           "Start time of the process since unix epoch in seconds.", "%.2f", p->start_time_seconds);
}

char *metrics_render(struct metrics *m, const struct metrics_process *proc, size_t *out_len)
{
    struct api_text_buf t;
    size_t len = 0, tracked_len = 0;
    char *text = NULL, *tracked = NULL;

    if (m->tracked != NULL) {
        tracked = tracked_render_metrics(m->tracked, &tracked_len);
        if (tracked == NULL)
            return NULL;
    }
    api_text_buf_init(&t, METRICS_TEXT_MAX + tracked_len);
    render_requests(&t, m);
    render_problems(&t, m);
    render_duration(&t, m);
    render_body_bytes(&t, m);
    render_elements(&t, m);
    render_in_flight(&t, m);
    render_open_connections(&t, m);
    render_build_info(&t);
    if (proc != NULL) {
        render_process_cpu(&t, proc);
        render_process_resident(&t, proc);
        render_process_virtual(&t, proc);
        render_process_open_fds(&t, proc);
        render_process_max_fds(&t, proc);
        render_process_start_time(&t, proc);
    }
    if (tracked != NULL)
        api_text_buf_append(&t, tracked, tracked_len);
    free(tracked);
    text = api_text_buf_take(&t, &len);
    if (text != NULL)
        *out_len = len;
    return text;
}
