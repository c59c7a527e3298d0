/* test_review_fixes.c -- the four defects a review found, against the real
 * binary: absolute-form request targets, 413 before the body's own checks,
 * whitespace around a bearer token, and the drain's wording. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

#define TOKEN "tok-9d1e4b"

TestSuite(review_fixes, .init = it_setup, .fini = it_teardown, .timeout = 60);

/* Sends the raw request text on a new connection (it asks the server to
 * close after the answer) and parses the answer into r. */
static void raw_exchange(int port, const char *text, struct it_response *r)
{
    char buf[16384];
    bool closed = false;
    int fd = it_connect(port);
    cr_assert(it_send_all(fd, text, strlen(text)), "send failed");
    size_t n = it_recv_until(fd, buf, sizeof buf, NULL, 10000, &closed);
    close(fd);
    cr_assert(it_parse_response(buf, n, r), "no complete answer: %.300s", buf);
}

/* RFC 9112 section 3.2.2: a server MUST accept the absolute form. */
Test(review_fixes, absolute_form_get)
{
    struct it_server srv;
    struct it_response r;
    char text[512];
    it_start(&srv, NULL, NULL);

    snprintf(text, sizeof text,
             "GET http://127.0.0.1:%d/healthz HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "Connection: close\r\n\r\n",
             srv.port, srv.port);
    raw_exchange(srv.port, text, &r);
    cr_assert_eq(r.status, 200, "absolute-form GET /healthz: %ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_str(j, "status", "ok");
    json_decref(j);
    it_check_openapi("GET", "/healthz", &r);
    it_response_free(&r);

    /* The scheme is case-insensitive, and https names the same resource. */
    snprintf(text, sizeof text,
             "GET HTTPS://localhost:%d/readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Connection: close\r\n\r\n",
             srv.port);
    raw_exchange(srv.port, text, &r);
    cr_assert_eq(r.status, 200, "absolute-form GET /readyz: %ld %s", r.status, r.body);
    it_response_free(&r);

    /* An unknown path is still unknown in absolute form. */
    snprintf(text, sizeof text,
             "GET http://127.0.0.1:%d/nope HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Connection: close\r\n\r\n",
             srv.port);
    raw_exchange(srv.port, text, &r);
    json_decref(it_expect_problem(&r, 404, "not_found"));
    it_response_free(&r);
}

/* The query is split off after the authority is stripped: the scale
 * reaches /regularize, and the answer is exact. */
Test(review_fixes, absolute_form_post_with_query)
{
    struct it_server srv;
    struct it_response r;
    char text[512];
    it_start(&srv, NULL, NULL);

    snprintf(text, sizeof text,
             "POST hTtP://127.0.0.1:%d/regularize?scale=0.5 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Content-Type: application/json\r\nContent-Length: 5\r\n"
             "Connection: close\r\n\r\n[3,4]",
             srv.port);
    raw_exchange(srv.port, text, &r);
    cr_assert_eq(r.status, 200, "absolute-form POST /regularize: %ld %s", r.status, r.body);
    it_check_openapi("POST", "/regularize?scale=0.5", &r);
    json_t *j = it_json(&r);
    it_expect_real(j, "loss", 6.25);
    json_decref(j);
    it_response_free(&r);

    /* A bad query in absolute form is the query's 400, not a 404. */
    snprintf(text, sizeof text,
             "POST http://127.0.0.1:%d/l2_loss?scale=2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Content-Type: application/json\r\nContent-Length: 5\r\n"
             "Connection: close\r\n\r\n[3,4]",
             srv.port);
    raw_exchange(srv.port, text, &r);
    json_decref(it_expect_problem(&r, 400, "invalid_parameter"));
    it_response_free(&r);
}

/* A too-large Content-Length is the 413 even when the body's own checks
 * (a dtype beside .npy, raw without dtype) would refuse it too: API.md's
 * order is 415 -> 413 -> body. */
static void expect_413_from_headers(int port, const char *target, const char *content_type)
{
    char head[512];
    char buf[4096];
    bool closed = false;
    struct it_response r;
    int fd = it_connect(port);

    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
             "Content-Length: 300000000\r\n\r\n",
             target, content_type);
    cr_assert(it_send_all(fd, head, strlen(head)));
    size_t n = it_recv_until(fd, buf, sizeof buf, NULL, 10000, &closed);
    close(fd);
    cr_assert(it_parse_response(buf, n, &r), "no answer before the body: %.300s", buf);
    it_check_openapi("POST", target, &r);
    json_decref(it_expect_problem(&r, 413, "payload_too_large"));
    it_response_free(&r);
}

Test(review_fixes, payload_too_large_before_body_checks)
{
    struct it_server srv;
    struct it_response r;
    it_start(&srv, NULL, NULL);

    expect_413_from_headers(srv.port, "/l2_loss?dtype=float64", "application/x-npy");
    expect_413_from_headers(srv.port, "/l2_loss", "application/octet-stream");
    expect_413_from_headers(srv.port, "/regularize?scale=2.0&dtype=float16", "application/x-npy");

    /* Within the limit the body's checks still run. */
    it_post(srv.port, "/l2_loss?dtype=float64", "application/x-npy", "xxxx", 4, &r);
    json_decref(it_expect_problem(&r, 400, "invalid_npy"));
    it_response_free(&r);
    it_post(srv.port, "/l2_loss", "application/octet-stream", "xxxx", 4, &r);
    json_decref(it_expect_problem(&r, 400, "invalid_dtype"));
    it_response_free(&r);
    /* A request the body checks accept is refused the same way. */
    expect_413_from_headers(srv.port, "/l2_loss?dtype=float32", "application/octet-stream");
}

Test(review_fixes, unsupported_type_before_payload_too_large)
{
    struct it_server srv;
    char head[256], buf[4096];
    bool closed = false;
    struct it_response r;
    it_start(&srv, NULL, NULL);

    int fd = it_connect(srv.port);
    snprintf(head, sizeof head,
             "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
             "Content-Length: 300000000\r\n\r\n");
    cr_assert(it_send_all(fd, head, strlen(head)));
    size_t n = it_recv_until(fd, buf, sizeof buf, NULL, 10000, &closed);
    close(fd);
    cr_assert(it_parse_response(buf, n, &r), "no answer before the body: %.300s", buf);
    json_decref(it_expect_problem(&r, 415, "unsupported_media_type"));
    it_response_free(&r);
}

/* RFC 9110 section 5.5: whitespace after the token is not part of it. */
Test(review_fixes, bearer_token_with_trailing_whitespace)
{
    struct it_server srv;
    struct it_response r;
    char dir[64], text[512];
    it_tmpdir(dir);
    char *token_path = it_write_file(dir, "token", TOKEN "\n");
    const char *args[] = {"--auth-token-file", token_path, "--drain-timeout", "0", NULL};
    it_start(&srv, args, NULL);

    static const char *const good[] = {TOKEN " ", TOKEN "\t", TOKEN " \t ", "\t" TOKEN " "};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(text, sizeof text,
                 "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                 "Connection: close\r\n\r\n",
                 good[i]);
        raw_exchange(srv.port, text, &r);
        cr_assert_eq(r.status, 200, "Bearer '%s': %ld %s", good[i], r.status, r.body);
        it_response_free(&r);
    }
    static const char *const bad[] = {TOKEN "x ", TOKEN " x", " ", "tok-9d1e4 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text,
                 "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                 "Connection: close\r\n\r\n",
                 bad[i]);
        raw_exchange(srv.port, text, &r);
        json_decref(it_expect_problem(&r, 401, "unauthorized"));
        it_response_free(&r);
    }
    it_stop(&srv, SIGTERM, 10000);
    it_rmdir(dir);
    free(token_path);
}

/* The drain lasts the whole --drain-timeout: --help and the log say so,
 * with no "up to" or "longest" that suggests it may end early. */
Test(review_fixes, drain_wording_is_exact)
{
    struct it_server srv;
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
