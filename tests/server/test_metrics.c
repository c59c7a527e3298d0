/* test_metrics.c -- the Prometheus text: names, types, labels, values. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/metrics.h"
#include "server/version.h"

static char *render(struct metrics *m, const struct metrics_process *p)
{
    size_t len = 0;
    char *text = metrics_render(m, p, &len);
    cr_assert(text != NULL);
    cr_assert_eq(strlen(text), len);
    cr_assert(len > 0 && text[len - 1] == '\n');
    return text;
}

static void expect_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    }
    cr_assert_fail("no line \"%s\" in:\n%s", line, text);
}

Test(metrics, new_series)
{
    struct metrics m;
    metrics_init(&m);
    metrics_add_body_bytes(&m, 100);
    metrics_add_body_bytes(&m, 23);
    metrics_add_elements(&m, L2_DTYPE_FLOAT32, API_FORMAT_RAW, 7);
    metrics_add_elements(&m, L2_DTYPE_FLOAT32, API_FORMAT_RAW, 3);
    metrics_add_elements(&m, L2_DTYPE_BFLOAT16, API_FORMAT_NPY, 2);
    metrics_add_elements(&m, (enum l2_dtype)99, API_FORMAT_RAW, 5); /* ignored */
    metrics_in_flight_add(&m, 1);
    metrics_in_flight_add(&m, 1);
    metrics_in_flight_add(&m, -1);
    metrics_connections_add(&m, 1);
    metrics_connections_add(&m, 1);
    char *t = render(&m, NULL);
    expect_line(t, "# TYPE l2d_request_body_bytes_total counter");
    expect_line(t, "l2d_request_body_bytes_total 123");
    expect_line(t, "# TYPE l2d_elements_total counter");
    expect_line(t, "l2d_elements_total{dtype=\"float32\",format=\"raw\"} 10");
    expect_line(t, "l2d_elements_total{dtype=\"bfloat16\",format=\"npy\"} 2");
    expect_line(t, "l2d_elements_total{dtype=\"float64\",format=\"json\"} 0");
    expect_line(t, "# TYPE l2d_requests_in_flight gauge");
    expect_line(t, "l2d_requests_in_flight 1");
    expect_line(t, "# TYPE l2d_open_connections gauge");
    expect_line(t, "l2d_open_connections 2");
    expect_line(t, "# TYPE l2d_build_info gauge");
    expect_line(t, "l2d_build_info{version=\"" L2D_VERSION "\"} 1");
    cr_assert(strstr(t, "process_") == NULL, "process metrics without a process reading");
    free(t);
}

Test(metrics, requests_and_histogram)
{
    struct metrics m;
    metrics_init(&m);
    metrics_observe(&m, ROUTE_L2_LOSS, 200, 2000000); /* 2 ms */
    metrics_observe(&m, ROUTE_L2_LOSS, 401, 100000);  /* 0.1 ms */
    metrics_observe(&m, ROUTE_OTHER, 404, 100000);
    metrics_observe(&m, ROUTE_METRICS, 418, 100000); /* an unlisted code */
    char *t = render(&m, NULL);
    expect_line(t, "# TYPE l2d_requests_total counter");
    expect_line(t, "l2d_requests_total{endpoint=\"l2_loss\",code=\"200\"} 1");
    expect_line(t, "l2d_requests_total{endpoint=\"l2_loss\",code=\"401\"} 1");
    expect_line(t, "l2d_requests_total{endpoint=\"other\",code=\"404\"} 1");
    expect_line(t, "l2d_requests_total{endpoint=\"metrics\",code=\"other\"} 1");
    expect_line(t, "# TYPE l2d_request_duration_seconds histogram");
    expect_line(t, "l2d_request_duration_seconds_bucket{endpoint=\"l2_loss\",le=\"0.0005\"} 1");
    expect_line(t, "l2d_request_duration_seconds_bucket{endpoint=\"l2_loss\",le=\"0.001\"} 1");
    expect_line(t, "l2d_request_duration_seconds_bucket{endpoint=\"l2_loss\",le=\"0.0025\"} 2");
    expect_line(t, "l2d_request_duration_seconds_bucket{endpoint=\"l2_loss\",le=\"+Inf\"} 2");
    expect_line(t, "l2d_request_duration_seconds_count{endpoint=\"l2_loss\"} 2");
    expect_line(t, "l2d_request_duration_seconds_sum{endpoint=\"l2_loss\"} 0.002100000");
    free(t);
}

Test(metrics, process_metrics_from_proc)
{
    struct metrics m;
    struct metrics_process p;
    metrics_init(&m);
    cr_assert(metrics_process_read(&p));
    cr_assert(p.resident_bytes > 0);
    cr_assert(p.virtual_bytes >= p.resident_bytes);
    cr_assert(p.open_fds >= 3, "open fds %llu", (unsigned long long)p.open_fds);
    cr_assert(p.start_time_seconds > 1.5e9 && p.start_time_seconds <= (double)time(NULL) + 1);
    cr_assert(p.cpu_seconds >= 0);

    /* One more descriptor shows. */
    int fd = dup(0);
    struct metrics_process q;
    cr_assert(metrics_process_read(&q));
    cr_assert_eq(q.open_fds, p.open_fds + 1);
    close(fd);

    p.cpu_seconds = 1.25;
    p.resident_bytes = 4096;
    p.virtual_bytes = 8192;
    p.open_fds = 9;
    p.max_fds = 1024;
    p.start_time_seconds = 1700000000.5;
    char *t = render(&m, &p);
    expect_line(t, "# TYPE process_cpu_seconds_total counter");
    expect_line(t, "process_cpu_seconds_total 1.25");
    expect_line(t, "# TYPE process_resident_memory_bytes gauge");
    expect_line(t, "process_resident_memory_bytes 4096");
    expect_line(t, "process_virtual_memory_bytes 8192");
    expect_line(t, "process_open_fds 9");
    expect_line(t, "process_max_fds 1024");
    expect_line(t, "# TYPE process_start_time_seconds gauge");
    expect_line(t, "process_start_time_seconds 1700000000.50");
    free(t);
}

/* Every sample line's metric name has a # TYPE line before it, and no
 * family is declared twice (the tracked store's included). */
Test(metrics, every_family_typed_once)
{
    struct metrics m;
    struct metrics_process p;
    struct tracked *tr = tracked_new(4);
    struct api_result res;
    cr_assert(tr != NULL);
    api_result_init(&res, L2_DTYPE_FLOAT64);
    cr_assert_eq(tracked_record(tr, "m", 1, &res, 1), TRACKED_ALL);
    metrics_init(&m);
    metrics_set_tracked(&m, tr);
    metrics_observe(&m, ROUTE_HEALTHZ, 200, 1);
    metrics_problem(&m, ROUTE_OTHER, API_NOT_FOUND);
    cr_assert(metrics_process_read(&p));
    char *t = render(&m, &p);
    char seen[64][64];
    size_t n_seen = 0;
    for (char *line = t, *next; *line != '\0'; line = next) {
        next = strchr(line, '\n');
        cr_assert(next != NULL);
        *next++ = '\0';
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[64];
            cr_assert_eq(sscanf(line + 7, "%63s", name), 1);
            for (size_t i = 0; i < n_seen; i++)
                cr_assert_str_neq(seen[i], name, "%s typed twice", name);
            cr_assert(n_seen < 64);
            snprintf(seen[n_seen++], sizeof seen[0], "%s", name);
        } else if (line[0] != '#') {
            size_t len = strcspn(line, "{ ");
            bool found = false;
            for (size_t i = 0; i < n_seen && !found; i++) {
                size_t sl = strlen(seen[i]);
                found =
                    strncmp(line, seen[i], sl) == 0 && (len == sl || (len > sl && line[sl] == '_'));
            }
            cr_assert(found, "sample before its # TYPE: %s", line);
        }
    }
    free(t);
    api_result_free(&res);
    tracked_free(tr);
}

/* The bucket and code counts follow their lists: one bucket line per bound
 * and +Inf, one series per listed code, anything else under "other". */
Test(metrics, counts_follow_the_lists)
{
    static const double bounds[] = {
#define BOUND(b) b,
        METRICS_BUCKET_LIST(BOUND)
#undef BOUND
    };
    static const int codes[] = {
#define CODE(c) c,
        METRICS_CODE_LIST(CODE)
#undef CODE
    };
    const size_t n_bounds = sizeof bounds / sizeof bounds[0];
    const size_t n_codes = sizeof codes / sizeof codes[0];
    struct metrics m;
    char line[160];
    char *t;

    cr_assert_eq(METRICS_BUCKET_COUNT, n_bounds);
    cr_assert_eq(METRICS_CODE_COUNT, n_codes + 1);
    metrics_init(&m);
    for (size_t i = 0; i < n_codes; i++)
        metrics_observe(&m, ROUTE_L2_LOSS, codes[i], 1);
    metrics_observe(&m, ROUTE_L2_LOSS, 418, 1);
    t = render(&m, NULL);
    for (size_t i = 0; i < n_codes; i++) {
        snprintf(line, sizeof line, "l2d_requests_total{endpoint=\"l2_loss\",code=\"%d\"} 1",
                 codes[i]);
        expect_line(t, line);
    }
    expect_line(t, "l2d_requests_total{endpoint=\"l2_loss\",code=\"other\"} 1");
    for (size_t i = 0; i < n_bounds; i++) {
        snprintf(line, sizeof line,
                 "l2d_request_duration_seconds_bucket{endpoint=\"l2_loss\",le=\"%g\"} %zu",
                 bounds[i], n_codes + 1);
        expect_line(t, line);
    }
    snprintf(line, sizeof line,
             "l2d_request_duration_seconds_bucket{endpoint=\"l2_loss\",le=\"+Inf\"} %zu",
             n_codes + 1);
    expect_line(t, line);
    free(t);
}

/* Problem responses by their code: only the cells counted, the code label
 * from api/status.h; API_OK and unknown statuses are not problems. */
Test(metrics, problems_by_code)
{
    struct metrics m;
    metrics_init(&m);
    metrics_problem(&m, ROUTE_L2_LOSS, API_INVALID_JSON);
    metrics_problem(&m, ROUTE_L2_LOSS, API_INVALID_JSON);
    metrics_problem(&m, ROUTE_REGULARIZE, API_PAYLOAD_TOO_LARGE);
    metrics_problem(&m, ROUTE_OTHER, API_NOT_FOUND);
    metrics_problem(&m, (enum route_id)999, API_NOT_FOUND); /* as "other" */
    metrics_problem(&m, ROUTE_L2_LOSS, API_OK);
    metrics_problem(&m, ROUTE_L2_LOSS, (enum api_status)999);
    char *t = render(&m, NULL);
    expect_line(t, "# TYPE l2d_problems_total counter");
    expect_line(t, "l2d_problems_total{endpoint=\"l2_loss\",code=\"invalid_json\"} 2");
    expect_line(t, "l2d_problems_total{endpoint=\"regularize\",code=\"payload_too_large\"} 1");
    expect_line(t, "l2d_problems_total{endpoint=\"other\",code=\"not_found\"} 2");
    cr_assert(strstr(t, "code=\"ok\"") == NULL);
    size_t lines = 0;
    for (const char *p = t; (p = strstr(p, "\nl2d_problems_total{")) != NULL; p++)
        lines++;
    cr_assert_eq(lines, 3);
    free(t);
}

/* With a tracked store set, its families follow the others in the same
 * text, each typed once. */
Test(metrics, tracked_families_included)
{
    struct metrics m;
    struct tracked *tr = tracked_new(4);
    struct api_result res;
    cr_assert(tr != NULL);
    api_result_init(&res, L2_DTYPE_FLOAT64);
    cr_assert_eq(l2_accum_add(&res.total, 3.0), L2_OK);
    cr_assert_eq(l2_accum_add(&res.total, 4.0), L2_OK);
    cr_assert_eq(tracked_record(tr, "m", 1, &res, 42), TRACKED_ALL);
    metrics_init(&m);
    char *t = render(&m, NULL);
    cr_assert(strstr(t, "l2d_tracked") == NULL, "no store, no tracked families");
    free(t);
    metrics_set_tracked(&m, tr);
    metrics_observe(&m, ROUTE_L2_LOSS, 200, 1);
    t = render(&m, NULL);
    expect_line(t, "l2d_requests_total{endpoint=\"l2_loss\",code=\"200\"} 1");
    expect_line(t, "l2d_tracked_norm{model=\"m\",tensor=\"\"} 5.0");
    expect_line(t, "l2d_tracked_total_norm{model=\"m\"} 5.0");
    expect_line(t, "l2d_tracked_last_update_timestamp_seconds{model=\"m\"} 42");
    const char *first = strstr(t, "# TYPE l2d_tracked_norm gauge");
    cr_assert(first != NULL && strstr(first + 1, "# TYPE l2d_tracked_norm gauge") == NULL);
    free(t);
    api_result_free(&res);
    tracked_free(tr);
}
