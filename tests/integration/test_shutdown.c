/* test_shutdown.c -- SIGTERM/SIGINT: /readyz turns 503 `draining` for the
 * lame duck while other requests are still served (with Connection:
 * close), an upload in flight across the lame duck and the drain still gets
 * its answer, the process exits 0, and --help and the log say what each
 * phase does. test_lifecycle.c times the phases. */
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
    const char *args[] = {"--shutdown-delay", "1", "--drain-timeout", "1", NULL};
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

/* GET /readyz on a new connection; the status, or -1 when the server no
 * longer answers. A 503 is held to the contract (problem+json, draining,
 * Retry-After). */
static long probe_readyz(int port)
{
    struct it_request req = {.method = "GET", .target = "/readyz", .timeout_s = 5};
    struct it_response r;
    CURLcode rc = it_perform(NULL, port, &req, &r);
    long status = rc == CURLE_OK ? r.status : -1;
    if (status == 503) {
        it_check_openapi("GET", "/readyz", &r);
        json_decref(it_expect_problem(&r, 503, "draining"));
        char retry[32] = "";
        cr_assert(it_header(&r, "Retry-After", retry, sizeof retry) && retry[0] >= '1' &&
                      retry[0] <= '9',
                  "a 503 /readyz without a Retry-After in seconds: '%s'", retry);
    }
    it_response_free(&r);
    return status;
}

Test(shutdown, readyz_503_while_shutting_down)
{
    const char *args[] = {"--shutdown-delay", "2", NULL};
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
    cr_assert(seen, "/readyz never answered 503 during the 2 s lame duck");
    expect_clean_exit(it_wait_exit(&srv, 15000), "after the lame duck");
}

/* /readyz answers 503 for --shutdown-delay seconds before the listener
 * closes, whatever --drain-timeout is. With 4 s, a probe 1.5 s in must
 * still see the 503. */
Test(shutdown, readyz_503_for_the_shutdown_delay)
{
    const char *args[] = {"--shutdown-delay", "4", "--drain-timeout", "0", NULL};
    it_start(&srv, args, NULL);
    cr_assert_eq(probe_readyz(srv.port), 200);
    kill(srv.pid, SIGTERM);
    it_sleep_ms(1500);
    long st = probe_readyz(srv.port);
    cr_assert_eq(st, 503, "/readyz 1.5 s into a 4 s lame duck: %ld (-1: no answer)", st);
    expect_clean_exit(it_wait_exit(&srv, 15000), "after the lame duck");
}

/* After SIGTERM a kept-alive connection's next request is served as
 * before, with Connection: close; the client's next one reconnects and is
 * served too, for as long as the lame duck lasts. */
Test(shutdown, open_connection_served_with_close)
{
    const char *args[] = {"--shutdown-delay", "2", NULL};
    it_start(&srv, args, NULL);
    CURL *h = curl_easy_init();
    struct it_request get = {.method = "GET", .target = "/healthz"};
    struct it_response r;
    it_http(h, srv.port, &get, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);

    kill(srv.pid, SIGTERM);
    it_sleep_ms(200);
    for (int i = 0; i < 3; i++) {
        struct it_request post = {.method = "POST",
                                  .target = "/l2_loss",
                                  .content_type = "application/json",
                                  .body = "[1]",
                                  .body_len = 3,
                                  .timeout_s = 5};
        it_http(h, srv.port, &post, &r);
        cr_assert_eq(r.status, 200, "request %d after SIGTERM: %ld %s", i, r.status, r.body);
        it_expect_number_text(&r, "loss", "0.5");
        char conn[64] = "";
        cr_assert(it_header(&r, "Connection", conn, sizeof conn) && strcasecmp(conn, "close") == 0,
                  "request %d after SIGTERM without Connection: close", i);
        cr_assert_eq(r.connects, i == 0 ? 0 : 1, "request %d: %ld new connections", i, r.connects);
        it_response_free(&r);
    }
    curl_easy_cleanup(h);
    expect_clean_exit(it_wait_exit(&srv, 15000), "after the lame duck");
}

/* A slow upload: 40 ones as JSON, sent in 20 pieces 100 ms apart. After the
 * 3rd piece it sends SIGTERM (a 1 s lame duck); after the 5th it probes
 * /readyz (the lame duck); after the 19th, 1.5 s later, it tries a new
 * connection (the drain: refused). */
struct slow_src {
    const char *data;
    size_t len, pos, piece;
    int calls;
    pid_t pid;
    int port;
    long readyz;
    long late;
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
    if (s->calls == 6)
        s->readyz = probe_readyz(s->port);
    if (s->calls == 20)
        s->late = probe_readyz(s->port);
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
    const char *args[] = {"--shutdown-delay", "1", "--drain-timeout", "20", NULL};
    it_start(&srv, args, NULL);
    char body[256];
    size_t len = 0;
    body[len++] = '[';
    for (int i = 0; i < 40; i++) {
        memcpy(body + len, i ? ", 1" : "1", i ? 3 : 1);
        len += i ? 3 : 1;
    }
    body[len++] = ']';
    struct slow_src src = {body, len, 0, (len + 19) / 20, 0, srv.pid, srv.port, 0, 0};
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
    char conn[64] = "";
    cr_assert(it_header(&r, "Connection", conn, sizeof conn) && strcasecmp(conn, "close") == 0,
              "the answer after SIGTERM without Connection: close");
    it_response_free(&r);
    cr_assert_eq(src.readyz, 503, "/readyz during the lame duck answered %ld", src.readyz);
    cr_assert_eq(src.late, -1, "a new connection 1.5 s into a 1 s lame duck was served: %ld",
                 src.late);
    /* Nothing is left in flight: the exit comes long before the 20 s drain. */
    expect_clean_exit(it_wait_exit(&srv, 5000), "after the slow upload");
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
    const char *args[] = {
        "--shutdown-delay", "0", "--drain-timeout", "1", "--max-body-bytes", "65536", NULL};
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

/* --help says what each phase does and its default; the log names the
 * signal and the phases as they come. */
Test(shutdown, phases_wording)
{
    struct it_run_result res;
    const char *help[] = {"--help", NULL};
    struct {
        const char *flag, *words, *dflt;
    } lines[] = {
        {"--shutdown-delay", "503", "(5)"},
        {"--drain-timeout", "in flight", "(10)"},
    };

    it_run(help, NULL, &res);
    cr_assert_eq(res.exit_code, 0);
    for (size_t i = 0; i < 2; i++) {
        const char *line = strstr(res.out, lines[i].flag);
        cr_assert(line != NULL, "--help has no %s:\n%s", lines[i].flag, res.out);
        size_t len = strcspn(line, "\n");
        char text[256];
        cr_assert(len < sizeof text);
        memcpy(text, line, len);
        text[len] = '\0';
        cr_assert(strstr(text, lines[i].words) != NULL && strstr(text, lines[i].dflt) != NULL, "%s",
                  text);
    }
    it_run_free(&res);

    const char *args[] = {"--shutdown-delay", "1", "--drain-timeout", "2", NULL};
    it_start(&srv, args, NULL);
    int status = it_stop(&srv, SIGTERM, 15000);
    cr_assert(status != -1, "l2d did not exit");
    char *log = it_server_log(&srv);
    cr_assert(strstr(log, "shutting down on SIGTERM: readiness 503 for 1 s, then drain for at "
                          "most 2 s") != NULL,
              "log: %s", log);
    cr_assert(strstr(log, "listener closed; 0 requests in flight") != NULL, "log: %s", log);
    free(log);
}
