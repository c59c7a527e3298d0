/* test_log.c -- JSON escaping, the access line in both formats, and the
 * access log's buffer. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server/log.h"

static const char *escape(const char *s, char *buf, size_t cap)
{
    size_t len = 0;
    log_json_escape(buf, &len, cap - 1, s);
    buf[len] = '\0';
    return buf;
}

Test(log, json_escape)
{
    char buf[256];
    cr_assert_str_eq(escape("/l2_loss", buf, sizeof buf), "/l2_loss");
    cr_assert_str_eq(escape("a\"b\\c", buf, sizeof buf), "a\\\"b\\\\c");
    cr_assert_str_eq(escape("\n\t\x01\x7f", buf, sizeof buf), "\\u000a\\u0009\\u0001\\u007f");
    /* Valid UTF-8 is kept; invalid bytes become U+FFFD each. */
    cr_assert_str_eq(escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", buf, sizeof buf),
                     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    cr_assert_str_eq(escape("\xff", buf, sizeof buf), "\\ufffd");
    cr_assert_str_eq(escape("\xc0\xaf", buf, sizeof buf), "\\ufffd\\ufffd"); /* overlong */
    cr_assert_str_eq(escape("\xed\xa0\x80", buf, sizeof buf),
                     "\\ufffd\\ufffd\\ufffd");                               /* surrogate */
    cr_assert_str_eq(escape("\xe2\x82", buf, sizeof buf), "\\ufffd\\ufffd"); /* truncated */
    cr_assert_str_eq(escape("\xf4\x90\x80\x80", buf, sizeof buf),
                     "\\ufffd\\ufffd\\ufffd\\ufffd"); /* above U+10FFFF */
}

Test(log, json_escape_never_splits_an_escape)
{
    char buf[16];
    size_t len = 0;
    /* "ab" fits, the 6-byte escape of \n does not: stop before it. */
    cr_assert_not(log_json_escape(buf, &len, 7, "ab\ncd"));
    cr_assert_eq(len, 2);
    len = 0;
    cr_assert(log_json_escape(buf, &len, 8, "ab\n"));
    cr_assert_eq(len, 8);
}

static json_t *access_json(const struct log_access_entry *e, char *buf, size_t cap)
{
    struct timespec now = {1700000000, 123456789};
    size_t len = log_format_access(buf, cap, LOG_JSON, e, &now);
    cr_assert(len > 0 && len <= cap);
    cr_assert_eq(buf[len - 1], '\n');
    cr_assert(memchr(buf, '\n', len - 1) == NULL, "more than one line: %.*s", (int)len, buf);
    json_error_t jerr;
    json_t *j = json_loadb(buf, len, 0, &jerr);
    cr_assert(j != NULL, "not JSON (%s): %.*s", jerr.text, (int)len, buf);
    return j;
}

Test(log, access_json_fields)
{
    char buf[LOG_LINE_MAX];
    struct log_access_entry e = {.request_id = "id-\"1\"",
                                 .method = "POST",
                                 .path = "/l2_loss\n\x01\"x\xff",
                                 .status = 200,
                                 .body_bytes = 12345,
                                 .elements = 678,
                                 .duration_ns = 1500000};
    json_t *j = access_json(&e, buf, sizeof buf);
    cr_assert_str_eq(json_string_value(json_object_get(j, "time")), "2023-11-14T22:13:20.123Z");
    cr_assert_str_eq(json_string_value(json_object_get(j, "level")), "info");
    cr_assert_str_eq(json_string_value(json_object_get(j, "msg")), "request");
    cr_assert_str_eq(json_string_value(json_object_get(j, "request_id")), "id-\"1\"");
    cr_assert_str_eq(json_string_value(json_object_get(j, "method")), "POST");
    cr_assert_str_eq(json_string_value(json_object_get(j, "path")),
                     "/l2_loss\n\x01\"x\xef\xbf\xbd");
    cr_assert_eq(json_integer_value(json_object_get(j, "status")), 200);
    cr_assert_eq(json_integer_value(json_object_get(j, "body_bytes")), 12345);
    cr_assert_eq(json_integer_value(json_object_get(j, "elements")), 678);
    cr_assert_float_eq(json_real_value(json_object_get(j, "duration_ms")), 1.5, 1e-9);
    json_decref(j);
}

Test(log, access_json_stays_closed_when_the_path_is_huge)
{
    char buf[LOG_LINE_MAX];
    static char path[8192];
    memset(path, '"', sizeof path - 1); /* every byte needs an escape */
    struct log_access_entry e = {
        .request_id = "r", .method = "GET", .path = path, .status = 404, .duration_ns = 1};
    json_t *j = access_json(&e, buf, sizeof buf);
    const char *got = json_string_value(json_object_get(j, "path"));
    cr_assert(got != NULL && strlen(got) > 100 && strspn(got, "\"") == strlen(got));
    cr_assert_eq(json_integer_value(json_object_get(j, "status")), 404);
    json_decref(j);
}

Test(log, access_text_line)
{
    char buf[LOG_LINE_MAX];
    struct timespec now = {1700000000, 5000000};
    struct log_access_entry e = {.request_id = "abc",
                                 .method = "GET",
                                 .path = "/a b\n",
                                 .status = 404,
                                 .body_bytes = 0,
                                 .duration_ns = 2000000};
    size_t len = log_format_access(buf, sizeof buf, LOG_TEXT, &e, &now);
    buf[len] = '\0';
    cr_assert_str_eq(buf, "2023-11-14T22:13:20.005Z abc GET /a%20b%0A 404 0 2.000ms\n");
}

/* The duration is rounded to the microsecond in integers, and the cached
 * date follows the clock from one second to the next (and back). */
Test(log, access_text_duration_and_date)
{
    char buf[LOG_LINE_MAX];
    struct timespec t1 = {1700000000, 999000000}, t2 = {1700086400, 0};
    struct log_access_entry e = {
        .request_id = "r", .method = "POST", .path = "/l2_loss", .status = 200};
    size_t len;

    e.duration_ns = 1234500;
    len = log_format_access(buf, sizeof buf, LOG_TEXT, &e, &t1);
    buf[len] = '\0';
    cr_assert_str_eq(buf, "2023-11-14T22:13:20.999Z r POST /l2_loss 200 0 1.235ms\n");
    e.duration_ns = 499;
    len = log_format_access(buf, sizeof buf, LOG_TEXT, &e, &t2);
    buf[len] = '\0';
    cr_assert_str_eq(buf, "2023-11-15T22:13:20.000Z r POST /l2_loss 200 0 0.000ms\n");
    e.duration_ns = 12345678901ULL;
    len = log_format_access(buf, sizeof buf, LOG_TEXT, &e, &t1);
    buf[len] = '\0';
    cr_assert_str_eq(buf, "2023-11-14T22:13:20.999Z r POST /l2_loss 200 0 12345.679ms\n");
    e.duration_ns = 1000500;
    len = log_format_access(buf, sizeof buf, LOG_JSON, &e, &t1);
    buf[len] = '\0';
    cr_assert(strstr(buf, "\"duration_ms\":1.001,") != NULL, "%s", buf);
}

/* A trace id goes after the duration in text, as "trace_id" in JSON; none
 * without one; and a huge path never pushes it out of the line. */
Test(log, access_trace_id_in_both_formats)
{
    char buf[LOG_LINE_MAX];
    static char path[8192];
    struct timespec now = {1700000000, 5000000};
    struct log_access_entry e = {.request_id = "abc",
                                 .method = "GET",
                                 .path = "/healthz",
                                 .status = 200,
                                 .duration_ns = 2000000,
                                 .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"};
    size_t len = log_format_access(buf, sizeof buf, LOG_TEXT, &e, &now);
    buf[len] = '\0';
    cr_assert_str_eq(buf, "2023-11-14T22:13:20.005Z abc GET /healthz 200 0 2.000ms "
                          "trace_id=4bf92f3577b34da6a3ce929d0e0e4736\n");
    json_t *j = access_json(&e, buf, sizeof buf);
    cr_assert_str_eq(json_string_value(json_object_get(j, "trace_id")),
                     "4bf92f3577b34da6a3ce929d0e0e4736");
    json_decref(j);

    memset(path, '\n', sizeof path - 1); /* every byte needs an escape */
    e.path = path;
    len = log_format_access(buf, sizeof buf, LOG_TEXT, &e, &now);
    buf[len] = '\0';
    cr_assert(strstr(buf, " 200 0 2.000ms trace_id=4bf92f3577b34da6a3ce929d0e0e4736\n") != NULL,
              "%s", buf + len - 100);
    j = access_json(&e, buf, sizeof buf);
    cr_assert_str_eq(json_string_value(json_object_get(j, "trace_id")),
                     "4bf92f3577b34da6a3ce929d0e0e4736");
    json_decref(j);

    e.path = "/healthz";
    e.trace_id = NULL;
    len = log_format_access(buf, sizeof buf, LOG_TEXT, &e, &now);
    buf[len] = '\0';
    cr_assert_str_eq(buf, "2023-11-14T22:13:20.005Z abc GET /healthz 200 0 2.000ms\n");
    j = access_json(&e, buf, sizeof buf);
    cr_assert_null(json_object_get(j, "trace_id"));
    json_decref(j);
}

/* ---- the access log's buffer (each test runs in a process of its own) ---- */

/* A pipe whose read end does not block. */
static void open_pipe(int fds[2])
{
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
}

/* What the pipe holds now (at most cap - 1 bytes), NUL-terminated. */
static size_t drain_pipe(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t n;

    while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    return len;
}

static void log_request(const char *id)
{
    struct log_access_entry e = {.request_id = id,
                                 .method = "POST",
                                 .path = "/l2_loss",
                                 .status = 200,
                                 .body_bytes = 3,
                                 .duration_ns = 1000};
    log_access(&e);
}

/* Buffered lines are not written at once, and are written, whole and in
 * order, once the oldest is flush_ms old: the flusher needs no new line. */
Test(log_buffer, lines_wait_for_the_flush_time)
{
    int fds[2];
    char buf[4096];

    open_pipe(fds);
    cr_assert(log_buffer_start(fds[1], 200));
    log_request("req-1");
    log_request("req-2");
    cr_assert_eq(drain_pipe(fds[0], buf, sizeof buf), 0, "written before the flush: %s", buf);
    size_t len = 0;
    for (int i = 0; i < 300 && len == 0; i++) { /* up to 3 s */
        usleep(10000);
        len = drain_pipe(fds[0], buf, sizeof buf);
    }
    char *one = strstr(buf, " req-1 POST /l2_loss 200 3 0.001ms\n");
    char *two = strstr(buf, " req-2 POST /l2_loss 200 3 0.001ms\n");
    cr_assert(one != NULL && two != NULL && one < two, "%s", buf);
    cr_assert_eq(buf[len - 1], '\n');
    log_buffer_stop();
}

/* A service message writes the buffered access lines first, then itself. */
Test(log_buffer, a_message_comes_after_the_buffered_lines)
{
    int fds[2];
    char buf[4096];

    open_pipe(fds);
    cr_assert(log_buffer_start(fds[1], 10000));
    log_request("req-1");
    log_message(LOG_INFO, "a message");
    drain_pipe(fds[0], buf, sizeof buf);
    char *line = strstr(buf, " req-1 POST ");
    char *msg = strstr(buf, "l2d: a message\n");
    cr_assert(line != NULL && msg != NULL && line < msg, "%s", buf);
    log_buffer_stop();
}

/* A full buffer is written by the line that does not fit: whole lines, the
 * newest kept for the next write; stop writes what is left, nothing lost. */
Test(log_buffer, a_full_buffer_is_written_and_stop_writes_the_rest)
{
    int fds[2];
    static char buf[4 * LOG_BUFFER_BYTES];
    char id[32];
    int lines = 0, sent = 0;

    open_pipe(fds);
    cr_assert(log_buffer_start(fds[1], 10000));
    size_t len = 0;
    while (len == 0) {
        snprintf(id, sizeof id, "req-%d", sent++);
        log_request(id);
        len = drain_pipe(fds[0], buf, sizeof buf);
        cr_assert(sent < 10000, "nothing written after %d lines", sent);
    }
    cr_assert_leq(len, LOG_BUFFER_BYTES);
    cr_assert_gt(len, LOG_BUFFER_BYTES - LOG_LINE_MAX);
    cr_assert_eq(buf[len - 1], '\n');
    snprintf(id, sizeof id, " req-%d POST", sent - 1);
    cr_assert_null(strstr(buf, id), "the line that did not fit was written at once");
    log_buffer_stop();
    len += drain_pipe(fds[0], buf + len, sizeof buf - len);
    for (char *p = buf; (p = strstr(p, " POST /l2_loss ")) != NULL; p++)
        lines++;
    cr_assert_eq(lines, sent);
    cr_assert_not_null(strstr(buf, id));
}

/* flush_ms 0: every line is written at once. */
Test(log_buffer, zero_writes_each_line_at_once)
{
    int fds[2];
    char buf[4096];

    open_pipe(fds);
    cr_assert(log_buffer_start(fds[1], 0));
    log_request("req-1");
    drain_pipe(fds[0], buf, sizeof buf);
    cr_assert_not_null(strstr(buf, " req-1 POST "), "%s", buf);
    log_buffer_stop();
}
