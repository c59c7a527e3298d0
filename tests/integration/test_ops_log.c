/* test_ops_log.c -- --log-format json: one JSON object per line, access
 * lines with every field, client strings escaped, structured startup and
 * shutdown; text stays the default; a valid W3C traceparent's trace id is in
 * the access line in both formats, an invalid one is not. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(ops_log, .init = it_setup, .fini = it_teardown, .timeout = 60);

/* Parses every line of log as a JSON object (asserting each is one) and
 * returns them as an array. */
static json_t *log_objects(const char *log)
{
    json_t *all = json_array();
    const char *p = log;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        cr_assert(nl != NULL, "unterminated last line: %s", p);
        json_error_t jerr;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, &jerr);
        cr_assert(j != NULL && json_is_object(j), "not a JSON object (%s): %.*s", jerr.text,
                  (int)(nl - p), p);
        cr_assert(json_is_string(json_object_get(j, "time")), "no time: %.*s", (int)(nl - p), p);
        cr_assert(json_is_string(json_object_get(j, "level")), "no level: %.*s", (int)(nl - p), p);
        cr_assert(json_is_string(json_object_get(j, "msg")), "no msg: %.*s", (int)(nl - p), p);
        json_array_append_new(all, j);
        p = nl + 1;
    }
    return all;
}

/* The access object whose request_id is id, or NULL. */
static json_t *find_request(json_t *all, const char *id)
{
    size_t i;
    json_t *j;
    json_array_foreach(all, i, j)
    {
        json_t *rid = json_object_get(j, "request_id");
        if (json_is_string(rid) && strcmp(json_string_value(rid), id) == 0)
            return j;
    }
    return NULL;
}

static void check_json_log(struct it_server *srv)
{
    struct it_response r;
    cr_assert(srv->json_log, "the startup line was not JSON");

    const char *h1[] = {"X-Request-Id: req-\"quoted\"\\back", NULL};
    struct it_request post = {.method = "POST",
                              .target = "/l2_loss",
                              .content_type = "application/json",
                              .body = "[1, 2, 3]",
                              .body_len = 9,
                              .headers = h1};
    it_http(NULL, srv->port, &post, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);

    /* A raw request whose path holds a quote, a backslash and a non-UTF-8
     * byte. */
    int fd = it_connect(srv->port);
    const char raw[] = "GET /a\"b\\c\xff HTTP/1.1\r\nHost: x\r\nX-Request-Id: raw-1\r\n"
                       "Connection: close\r\n\r\n";
    cr_assert(it_send_all(fd, raw, sizeof raw - 1));
    char buf[4096];
    bool closed;
    it_recv_until(fd, buf, sizeof buf, "\r\n\r\n", 5000, &closed);
    close(fd);

    char *log = it_wait_log(srv, "raw-1", 5000);
    cr_assert(log != NULL, "no access line for raw-1");
    free(log);
    int status = it_stop(srv, SIGTERM, 10000);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    log = it_server_log(srv);
    json_t *all = log_objects(log);

    json_t *first = json_array_get(all, 0);
    it_expect_str(first, "msg", "listening");
    it_expect_int(first, "port", srv->port);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv->port);
    it_expect_str(first, "url", url);
    it_expect_str(first, "version", srv->version);

    json_t *a = find_request(all, "req-\"quoted\"\\back");
    cr_assert(a != NULL, "no access object for the quoted request id:\n%s", log);
    it_expect_str(a, "msg", "request");
    it_expect_str(a, "level", "info");
    it_expect_str(a, "method", "POST");
    it_expect_str(a, "path", "/l2_loss");
    it_expect_int(a, "status", 200);
    it_expect_int(a, "body_bytes", 9);
    it_expect_int(a, "elements", 3);
    cr_assert(json_is_number(json_object_get(a, "duration_ms")));

    json_t *b = find_request(all, "raw-1");
    cr_assert(b != NULL);
    it_expect_str(b, "path", "/a\"b\\c\xef\xbf\xbd");
    it_expect_int(b, "status", 404);
    it_expect_int(b, "elements", 0);

    json_t *last = json_array_get(all, json_array_size(all) - 1);
    it_expect_str(last, "msg", "stopped");
    bool saw_shutdown = false;
    size_t i;
    json_t *j;
    json_array_foreach(all, i, j)
    {
        const char *msg = json_string_value(json_object_get(j, "msg"));
        saw_shutdown |= strncmp(msg, "shutting down", 13) == 0;
    }
    cr_assert(saw_shutdown, "no shutdown line:\n%s", log);
    json_decref(all);
    free(log);
}

Test(ops_log, json_flag)
{
    struct it_server srv;
    const char *args[] = {
        "--log-format", "json", "--shutdown-delay", "0", "--drain-timeout", "0", NULL};
    it_start(&srv, args, NULL);
    check_json_log(&srv);
}

Test(ops_log, json_env)
{
    struct it_server srv;
    const char *env[] = {"L2D_LOG_FORMAT=json", "L2D_SHUTDOWN_DELAY=0", "L2D_DRAIN_TIMEOUT=0",
                         NULL};
    it_start(&srv, NULL, env);
    check_json_log(&srv);
}

Test(ops_log, text_is_the_default)
{
    struct it_server srv;
    struct it_response r;
    it_start(&srv, NULL, NULL);
    cr_assert_not(srv.json_log);
    it_get(srv.port, "/healthz", &r);
    it_response_free(&r);
    char *log = it_wait_log(&srv, "/healthz", 5000);
    cr_assert(log != NULL);
    char want[128];
    snprintf(want, sizeof want, "l2d %s listening on http://127.0.0.1:%d (threads %d)\n",
             srv.version, srv.port, srv.threads);
    cr_assert(strncmp(log, want, strlen(want)) == 0, "first line is not \"%s\":\n%s", want, log);
    cr_assert(strchr(log, '{') == NULL, "JSON in the text log:\n%s", log);
    free(log);
}

#define TRACE_ID "4bf92f3577b34da6a3ce929d0e0e4736"
#define TRACEPARENT "traceparent: 00-" TRACE_ID "-00f067aa0ba902b7-01"

/* Requests with a valid traceparent, invalid ones, two of them and none,
 * each with its X-Request-Id; the ids, in that order. */
static const char *const trace_ids[] = {"tp-valid", "tp-upper", "tp-zero", "tp-two", "tp-none"};

static void send_traced(const struct it_server *srv)
{
    const char *const headers[][4] = {
        {"X-Request-Id: tp-valid", TRACEPARENT, NULL},
        {"X-Request-Id: tp-upper",
         "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", NULL},
        {"X-Request-Id: tp-zero",
         "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01", NULL},
        {"X-Request-Id: tp-two", TRACEPARENT, TRACEPARENT, NULL},
        {"X-Request-Id: tp-none", NULL},
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        struct it_request post = {.method = "POST",
                                  .target = "/l2_loss",
                                  .content_type = "application/json",
                                  .body = "[1]",
                                  .body_len = 3,
                                  .headers = headers[i]};
        struct it_response r;
        it_http(NULL, srv->port, &post, &r);
        cr_assert_eq(r.status, 200, "%s: %ld %s", trace_ids[i], r.status, r.body);
        it_response_free(&r);
    }
    char *log = it_wait_log(srv, "tp-none", 5000);
    cr_assert(log != NULL, "no access line for tp-none");
    free(log);
}

Test(ops_log, traceparent_text)
{
    struct it_server srv;
    it_start(&srv, NULL, NULL);
    send_traced(&srv);
    char *log = it_server_log(&srv);
    for (size_t i = 0; i < sizeof trace_ids / sizeof trace_ids[0]; i++) {
        char needle[32];
        snprintf(needle, sizeof needle, " %s POST ", trace_ids[i]);
        const char *line = strstr(log, needle);
        cr_assert(line != NULL, "no access line for %s:\n%s", trace_ids[i], log);
        size_t len = strcspn(line, "\n");
        const char *tp = strstr(line, " trace_id=");
        if (i == 0)
            cr_assert(tp != NULL && tp + strlen(" trace_id=" TRACE_ID) == line + len &&
                          strncmp(tp, " trace_id=" TRACE_ID, strlen(" trace_id=" TRACE_ID)) == 0,
                      "the valid traceparent's line: %.*s", (int)len, line);
        else
            cr_assert(tp == NULL || tp > line + len, "%s: %.*s", trace_ids[i], (int)len, line);
    }
    free(log);
}

Test(ops_log, traceparent_json)
{
    struct it_server srv;
    const char *args[] = {"--log-format", "json", NULL};
    it_start(&srv, args, NULL);
    send_traced(&srv);
    char *log = it_server_log(&srv);
    json_t *all = log_objects(log);
    for (size_t i = 0; i < sizeof trace_ids / sizeof trace_ids[0]; i++) {
        json_t *a = find_request(all, trace_ids[i]);
        cr_assert(a != NULL, "no access object for %s:\n%s", trace_ids[i], log);
        if (i == 0)
            it_expect_str(a, "trace_id", TRACE_ID);
        else
            cr_assert_null(json_object_get(a, "trace_id"), "%s has a trace_id", trace_ids[i]);
    }
    json_decref(all);
    free(log);
}

/* Access lines are buffered (--log-flush-ms, 100 ms by default) but none is
 * lost: every request's line is in the log when l2d exits on SIGTERM right
 * after the last answer, before the "stopped" line; and each shows up by
 * itself within the flush time when traffic stops. */
Test(ops_log, buffered_lines_are_all_written_by_exit)
{
    struct it_server srv;
    const char *args[] = {"--log-flush-ms", "10000", "--shutdown-delay", "0", NULL};
    enum { REQUESTS = 100 };

    it_start(&srv, args, NULL);
    for (int i = 0; i < REQUESTS; i++) {
        char id[48];
        snprintf(id, sizeof id, "X-Request-Id: buffered-%d", i);
        const char *headers[] = {id, NULL};
        struct it_request post = {.method = "POST",
                                  .target = "/l2_loss",
                                  .content_type = "application/json",
                                  .body = "[1]",
                                  .body_len = 3,
                                  .headers = headers};
        struct it_response r;
        it_http(NULL, srv.port, &post, &r);
        cr_assert_eq(r.status, 200);
        it_response_free(&r);
    }
    char *log = it_server_log(&srv);
    cr_assert_null(strstr(log, " buffered-0 POST "), "written before 10 s:\n%s", log);
    free(log);
    int status = it_stop(&srv, SIGTERM, 10000);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    log = it_server_log(&srv);
    const char *stopped = strstr(log, "l2d: stopped\n");
    cr_assert_not_null(stopped, "%s", log);
    for (int i = 0; i < REQUESTS; i++) {
        char needle[48];
        snprintf(needle, sizeof needle, " buffered-%d POST /l2_loss 200 ", i);
        const char *line = strstr(log, needle);
        cr_assert(line != NULL && line < stopped, "line %d missing or after the end:\n%s", i, log);
    }
    free(log);
}

Test(ops_log, a_line_is_written_within_the_flush_time)
{
    struct it_server srv;
    const char *args[] = {"--log-flush-ms", "50", NULL};
    const char *headers[] = {"X-Request-Id: flushed-alone", NULL};
    struct it_request get = {.method = "GET", .target = "/healthz", .headers = headers};
    struct it_response r;

    it_start(&srv, args, NULL);
    it_http(NULL, srv.port, &get, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    char *log = it_wait_log(&srv, " flushed-alone GET /healthz 200 ", 5000);
    cr_assert_not_null(log, "no access line 5 s after the request");
    free(log);
    it_stop(&srv, SIGTERM, 10000);
}
