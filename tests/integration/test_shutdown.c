/* test_shutdown.c -- SIGTERM/SIGINT: /readyz turns 503 `draining`, requests
 * on open connections get 503 with Connection: close, an upload in flight
 * still gets its answer, the process exits 0 within the drain timeout, and
 * --help and the log describe the drain exactly. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

static struct it_server srv;

TestSuite(shutdown, .init = it_setup, .fini = it_teardown, .timeout = 60);

static void expect_clean_exit(int status, const char *what)
{
    cr_assert(status != -1, "%s: l2d did not exit in time", what);
    cr_assert(WIFEXITED(status), "%s: l2d died of signal %d", what,
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s: exit status %d", what, WEXITSTATUS(status));
}

Test(shutdown, sigterm_idle_exits_zero)
{
    const char *args[] = {"--drain-timeout", "1", NULL};
    it_start(&srv, args, NULL);
    struct it_response r;
    it_get(srv.port, "/readyz", &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    expect_clean_exit(it_stop(&srv, SIGTERM, 15000), "SIGTERM");
}

Test(shutdown, sigint_idle_exits_zero)
{
    const char *args[] = {"--drain-timeout", "1", NULL};
    it_start(&srv, args, NULL);
    expect_clean_exit(it_stop(&srv, SIGINT, 15000), "SIGINT");
}

/* GET /readyz on a new raw connection; the status, or -1 when the server
 * no longer answers. A 503 is held to the contract (problem+json, draining). */
static long probe_readyz(int port)
{
    struct it_request req = {.method = "GET", .target = "/readyz", .timeout_s = 5};
    struct it_response r;
    CURLcode rc = it_perform(NULL, port, &req, &r);
    long status = rc == CURLE_OK ? r.status : -1;
    if (status == 503) {
        it_check_openapi("GET", "/readyz", &r);
        json_decref(it_expect_problem(&r, 503, "draining"));
    }
    it_response_free(&r);
    return status;
}

Test(shutdown, readyz_503_while_draining)
{
    const char *args[] = {"--drain-timeout", "3", NULL};
    it_start(&srv, args, NULL);
    cr_assert_eq(probe_readyz(srv.port), 200);
    kill(srv.pid, SIGTERM);
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        long st = probe_readyz(srv.port);
        if (st == 503)
            seen = true;
        else if (st == -1)
            break;
        else
            it_sleep_ms(20);
    }
    cr_assert(seen, "/readyz never answered 503 during the 3 s drain");
    expect_clean_exit(it_wait_exit(&srv, 15000), "after draining");
}

/* API.md: /readyz answers 503 for --drain-timeout seconds before the
 * listener closes. With 4 s, a probe 1.5 s in must still see the 503. */
Test(shutdown, readyz_503_for_the_drain_timeout)
{
    const char *args[] = {"--drain-timeout", "4", NULL};
    it_start(&srv, args, NULL);
    cr_assert_eq(probe_readyz(srv.port), 200);
    kill(srv.pid, SIGTERM);
    it_sleep_ms(1500);
    long st = probe_readyz(srv.port);
    cr_assert_eq(st, 503, "/readyz 1.5 s into a 4 s drain: %ld (-1: no answer)", st);
    expect_clean_exit(it_wait_exit(&srv, 15000), "after draining");
}

Test(shutdown, open_connection_gets_503_with_close)
{
    const char *args[] = {"--drain-timeout", "3", NULL};
    it_start(&srv, args, NULL);
    CURL *h = curl_easy_init();
    struct it_request get = {.method = "GET", .target = "/healthz"};
    struct it_response r;
    it_http(h, srv.port, &get, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);

    kill(srv.pid, SIGTERM);
    bool seen = false;
    for (int i = 0; i < 50 && !seen; i++) {
        struct it_request post = {.method = "POST",
                                  .target = "/l2_loss",
                                  .content_type = "application/json",
                                  .body = "[1]",
                                  .body_len = 3,
                                  .timeout_s = 5};
        CURLcode rc = it_perform(h, srv.port, &post, &r);
        if (rc == CURLE_OK && r.status == 503) {
            seen = true;
            it_check_openapi("POST", "/l2_loss", &r);
            json_decref(it_expect_problem(&r, 503, "draining"));
            char conn[64] = "";
            cr_assert(it_header(&r, "Connection", conn, sizeof conn) &&
                          strcasecmp(conn, "close") == 0,
                      "a 503 while draining without Connection: close");
        } else if (rc == CURLE_OK) {
            cr_assert_eq(r.status, 200, "while draining: %ld %s", r.status, r.body);
        }
        it_response_free(&r);
        if (rc != CURLE_OK)
            break;
        if (!seen)
            it_sleep_ms(20);
    }
    curl_easy_cleanup(h);
    cr_assert(seen, "no 503 draining for a request during the drain");
    expect_clean_exit(it_wait_exit(&srv, 15000), "after draining");
}

/* A slow upload: 40 ones as JSON, sent in 20 pieces 100 ms apart. After the
 * 3rd piece it sends SIGTERM; after the 8th it probes /readyz. */
struct slow_src {
    const char *data;
    size_t len, pos, piece;
    int calls;
    pid_t pid;
    int port;
    long readyz;
};

static size_t read_slow(char *buf, size_t size, size_t nitems, void *ctx)
{
    struct slow_src *s = ctx;
    if (s->pos >= s->len)
        return 0;
    s->calls++;
    if (s->calls > 1)
        it_sleep_ms(100);
    if (s->calls == 4)
        kill(s->pid, SIGTERM);
    if (s->calls == 9)
        s->readyz = probe_readyz(s->port);
    size_t n = size * nitems;
    if (n > s->piece)
        n = s->piece;
    if (n > s->len - s->pos)
        n = s->len - s->pos;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return n;
}

static void slow_upload(long long size)
{
    const char *args[] = {"--drain-timeout", "8", NULL};
    it_start(&srv, args, NULL);
    char body[256];
    size_t len = 0;
    body[len++] = '[';
    for (int i = 0; i < 40; i++) {
        memcpy(body + len, i ? ", 1" : "1", i ? 3 : 1);
        len += i ? 3 : 1;
    }
    body[len++] = ']';
    struct slow_src src = {body, len, 0, (len + 19) / 20, 0, srv.pid, srv.port, 0};
    struct it_request req = {.method = "POST",
                             .target = "/l2_loss",
                             .content_type = "application/json",
                             .read_fn = read_slow,
                             .read_ctx = &src,
                             .read_size = size < 0 ? -1 : (long long)len,
                             .timeout_s = 20};
    struct it_response r;
    it_http(NULL, srv.port, &req, &r);
    cr_assert(src.calls >= 10, "the upload was not slow (%d pieces)", src.calls);
    cr_assert_eq(r.status, 200, "the upload in flight at SIGTERM got %ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_result(j, 20.0, 40.0, 40);
    json_decref(j);
    it_response_free(&r);
    cr_assert_eq(src.readyz, 503, "/readyz during the drain answered %ld", src.readyz);
    expect_clean_exit(it_wait_exit(&srv, 20000), "after the slow upload");
}

Test(shutdown, slow_upload_finishes_after_sigterm)
{
    slow_upload(0);
}

Test(shutdown, slow_chunked_upload_finishes_after_sigterm)
{
    slow_upload(-1);
}

/* Every kind of request, good and bad, then SIGTERM: the process exits 0.
 * Run against a sanitizer build (make test-san) this is also the leak and
 * undefined-behaviour check: LeakSanitizer turns a leak into a non-zero exit,
 * and any report lands in the server's stderr. */
Test(shutdown, mixed_workload_then_clean_exit)
{
    const char *args[] = {"--drain-timeout", "1", "--max-body-bytes", "65536", NULL};
    it_start(&srv, args, NULL);
    struct {
        const char *target, *ct, *body;
        long status;
    } cases[] = {
        {"/l2_loss", "application/json", "[[1, 2], [3, 4]]", 200},
        {"/l2_loss", "application/json", "{\"tensors\": {\"a\": [1], \"b\": [[2]]}}", 200},
        {"/regularize?scale=0.01", "application/json", "[1, 2]", 200},
        {"/regularize?scale=0.0", "application/json", "[1, 2]", 200},
        {"/l2_loss", "application/json", "[1, 2", 400},
        {"/l2_loss", "application/json", "[[1], 2]", 400},
        {"/l2_loss", "application/json", "{\"tensors\": {\"a\": [1], \"a\": [1]}}", 400},
        {"/l2_loss?dtype=float16", "application/json", "[1e6]", 400},
        {"/l2_loss", "application/json", "[1e200, 1e200]", 400},
        {"/l2_loss?dtype=float32", "application/octet-stream", "abcde", 400},
        {"/l2_loss", "application/octet-stream", "abcd", 400},
        {"/l2_loss", "application/x-npy", "\x93NUMPY\x01\x00\x04\x00{}\n\n", 400},
        {"/regularize?scale=1", "application/json", "[1]", 400},
        {"/regularize?scale=-0.5", "application/json", "[1]", 400},
        {"/l2_loss?x=1", "application/json", "[1]", 400},
        {"/l2_loss", "text/plain", "[1]", 415},
        {"/nope", "application/json", "[1]", 404},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct it_response r;
        it_post(srv.port, cases[i].target, cases[i].ct, cases[i].body, strlen(cases[i].body), &r);
        cr_assert_eq(r.status, cases[i].status, "case %zu %s: %ld %s", i, cases[i].target, r.status,
                     r.body);
        it_response_free(&r);
    }
    char *big = malloc(100000);
    cr_assert(big != NULL);
    memset(big, '1', 100000);
    struct it_response r;
    it_post(srv.port, "/l2_loss", "application/json", big, 100000, &r);
    cr_assert_eq(r.status, 413);
    it_response_free(&r);
    free(big);
    for (int k = 0; k < 4; k++) {
        int fd = it_connect(srv.port);
        const char *head = "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n[1, 2, ";
        it_send_all(fd, head, strlen(head));
        close(fd);
    }
    it_sleep_ms(100);
    int status = it_stop(&srv, SIGTERM, 15000);
    char *log = it_server_log(&srv);
    cr_assert(strstr(log, "Sanitizer") == NULL && strstr(log, "runtime error") == NULL,
              "sanitizer report in the server's stderr:\n%s", log);
    free(log);
    expect_clean_exit(status, "after the mixed workload");
}

/* The drain lasts the whole --drain-timeout: --help and the log say so,
 * with no "up to" or "longest" that suggests it may end early. */
Test(shutdown, drain_wording_is_exact)
{
    struct it_run_result res;
    const char *help[] = {"--help", NULL};

    it_run(help, NULL, &res);
    cr_assert_eq(res.exit_code, 0);
    const char *line = strstr(res.out, "--drain-timeout");
    cr_assert(line != NULL, "--help has no --drain-timeout:\n%s", res.out);
    size_t len = strcspn(line, "\n");
    char text[256];
    cr_assert(len < sizeof text);
    memcpy(text, line, len);
    text[len] = '\0';
    cr_assert(strstr(text, "longest") == NULL && strstr(text, "up to") == NULL, "%s", text);
    cr_assert(strstr(text, "503") != NULL && strstr(text, "(10)") != NULL, "%s", text);
    it_run_free(&res);

    const char *args[] = {"--drain-timeout", "1", NULL};
    it_start(&srv, args, NULL);
    int status = it_stop(&srv, SIGTERM, 15000);
    cr_assert(status != -1, "l2d did not exit");
    char *log = it_server_log(&srv);
    cr_assert(strstr(log, "draining for 1 s") != NULL, "log: %s", log);
    cr_assert(strstr(log, "up to") == NULL, "log: %s", log);
    free(log);
}
