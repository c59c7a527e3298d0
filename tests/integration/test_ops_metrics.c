/* test_ops_metrics.c -- the /metrics exposition: every series the issue
 * asks for, values that follow the requests made, bounded labels, and
 * `promtool check metrics` when promtool is installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(ops_metrics, .init = it_setup, .fini = it_teardown, .timeout = 60);

static char *scrape(int port)
{
    struct it_response r;
    it_get(port, "/metrics", &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strncmp(r.content_type, "text/plain; version=0.0.4", 25) == 0, "Content-Type %s",
              r.content_type);
    char *text = r.body;
    r.body = NULL;
    it_response_free(&r);
    return text;
}

Test(ops_metrics, series_follow_requests)
{
    struct it_server srv;
    struct it_response r;
    it_start(&srv, NULL, NULL);

    it_post(srv.port, "/l2_loss", "application/json", "[1, 2, 3]", 9, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    float f4[5] = {1, 2, 3, 4, 5};
    it_post(srv.port, "/l2_loss?dtype=float32", "application/octet-stream", f4, sizeof f4, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    double f8[2] = {1, 2};
    size_t npy_len;
    unsigned char *npy = it_npy(1, "<f8", "(2,)", f8, sizeof f8, &npy_len);
    it_post(srv.port, "/regularize?scale=0.5", "application/x-npy", npy, npy_len, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    /* A path a client makes up must not become a label. */
    it_get(srv.port, "/secret-path-xyz?name=abc", &r);
    cr_assert_eq(r.status, 404);
    it_response_free(&r);

    /* A request is counted when libmicrohttpd reports it completed, which
     * can come just after its client has read the answer: scrape until the
     * last one shows (a bounded wait), then check everything. */
    char *t = scrape(srv.port);
    for (int i = 0;
         i < 100 &&
         !(it_metrics_sample(t, "l2d_requests_total{endpoint=\"l2_loss\",code=\"200\"}") == 2 &&
           it_metrics_sample(t, "l2d_requests_total{endpoint=\"regularize\",code=\"200\"}") == 1 &&
           it_metrics_sample(t, "l2d_requests_total{endpoint=\"other\",code=\"404\"}") == 1);
         i++) {
        free(t);
        usleep(10000);
        t = scrape(srv.port);
    }
    cr_assert_eq(it_metrics_sample(t, "l2d_requests_total{endpoint=\"l2_loss\",code=\"200\"}"), 2,
                 "%s", t);
    cr_assert_eq(it_metrics_sample(t, "l2d_requests_total{endpoint=\"regularize\",code=\"200\"}"),
                 1);
    cr_assert_eq(it_metrics_sample(t, "l2d_requests_total{endpoint=\"other\",code=\"404\"}"), 1);
    cr_assert_eq(it_metrics_sample(t, "l2d_request_duration_seconds_count{endpoint=\"l2_loss\"}"),
                 2);
    cr_assert_eq(it_metrics_sample(
                     t, "l2d_request_duration_seconds_bucket{endpoint=\"l2_loss\",le=\"+Inf\"}"),
                 2);
    cr_assert_eq(it_metrics_sample(t, "l2d_request_body_bytes_total"),
                 (double)(9 + sizeof f4 + npy_len));
    cr_assert_eq(it_metrics_sample(t, "l2d_elements_total{dtype=\"float64\",format=\"json\"}"), 3);
    cr_assert_eq(it_metrics_sample(t, "l2d_elements_total{dtype=\"float32\",format=\"raw\"}"), 5);
    cr_assert_eq(it_metrics_sample(t, "l2d_elements_total{dtype=\"float64\",format=\"npy\"}"), 2);
    cr_assert_eq(it_metrics_sample(t, "l2d_elements_total{dtype=\"float16\",format=\"raw\"}"), 0);
    /* The scrape itself is in flight, on its open connection. */
    cr_assert_eq(it_metrics_sample(t, "l2d_requests_in_flight"), 1, "%s", t);
    cr_assert(it_metrics_sample(t, "l2d_open_connections") >= 1);
    char build[128];
    snprintf(build, sizeof build, "l2d_build_info{version=\"%s\"}", srv.version);
    cr_assert_eq(it_metrics_sample(t, build), 1);
    cr_assert(it_metrics_sample(t, "process_cpu_seconds_total") >= 0);
    cr_assert(it_metrics_sample(t, "process_resident_memory_bytes") > 1e5);
    cr_assert(it_metrics_sample(t, "process_open_fds") >= 3);
    double start = it_metrics_sample(t, "process_start_time_seconds");
    cr_assert(start > 1.5e9 && start <= (double)time(NULL) + 1, "start %f", start);
    cr_assert(strstr(t, "secret-path-xyz") == NULL && strstr(t, "abc") == NULL,
              "a request path leaked into a label:\n%s", t);
    free(t);
    free(npy);
}

Test(ops_metrics, open_connections_follow_clients)
{
    struct it_server srv;
    it_start(&srv, NULL, NULL);
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = it_connect(srv.port);
        /* A complete request on each, so the connection is surely accepted. */
        const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        cr_assert(it_send_all(fds[i], req, sizeof req - 1));
        char buf[1024];
        bool closed;
        it_recv_until(fds[i], buf, sizeof buf, "\"ok\"", 5000, &closed);
        cr_assert(strstr(buf, "200") != NULL);
    }
    char *t = scrape(srv.port);
    cr_assert_eq(it_metrics_sample(t, "l2d_open_connections"), 4, "%s", t); /* 3 + the scrape */
    free(t);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    double open = -1;
    for (int i = 0; i < 500 && open != 1; i++) {
        t = scrape(srv.port);
        open = it_metrics_sample(t, "l2d_open_connections");
        free(t);
        if (open != 1)
            it_sleep_ms(10);
    }
    cr_assert_eq(open, 1, "closed clients still counted");
}

Test(ops_metrics, promtool_check_metrics)
{
    if (!it_have("promtool"))
        cr_skip_test("promtool is not installed (Debian package prometheus): not checked");
    struct it_server srv;
    struct it_response r;
    it_start(&srv, NULL, NULL);
    it_post(srv.port, "/l2_loss", "application/json", "[1]", 3, &r);
    it_response_free(&r);
    char *t = scrape(srv.port);
    char path[] = "/tmp/l2d-metrics-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, t, strlen(t)), (ssize_t)strlen(t));
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
    char *out = NULL;
    int rc = it_sh(cmd, &out);
    unlink(path);
    cr_assert_eq(rc, 0, "promtool check metrics failed:\n%s", out);
    cr_assert(strlen(out) == 0, "promtool has remarks:\n%s", out);
    free(out);
    free(t);
}
