/* test_hostile.c -- hostile requests: oversized headers, a 10 KB URL,
 * thousands of query parameters, a Content-Length that lies in either
 * direction, a body sent after a 413. Each must end in a clean 4xx answer
 * or a clean close, within a bound, and the server must go on answering
 * correctly with no file descriptor left behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "rel.h"

#define HOSTILE_LIMIT 65536
#define HOSTILE_TIMEOUT_S 2

static struct rel_server rs;
static int base_fds;

static void start_hostile(void)
{
    it_setup();
    const char *args[] = {"--max-body-bytes", "65536", "--timeout", "2", "--threads", "2", NULL};
    rel_start(&rs, args, true);
    char why[512];
    cr_assert(rel_check_normal(rs.srv.port, why, sizeof why), "warm-up: %s", why);
    base_fds = rel_wait_fds(rs.srv.pid, 0, 0);
}

static void stop_hostile(void)
{
    it_teardown();
    rel_release(&rs);
}

TestSuite(hostile, .init = start_hostile, .fini = stop_hostile, .timeout = 60);

/* After each hostile exchange: alive, a correct answer, no fd left open. */
static void expect_still_serving(const char *what)
{
    char why[512];
    cr_assert(it_alive(&rs.srv), "%s took the server down", what);
    cr_assert(rel_check_normal(rs.srv.port, why, sizeof why), "after %s: %s", what, why);
    int fds = rel_wait_fds(rs.srv.pid, base_fds, 5000);
    cr_assert(fds <= base_fds, "after %s: %d fds open, %d before", what, fds, base_fds);
}

/* A clean refusal: a complete 4xx answer (libmicrohttpd's own 431 for
 * headers past the connection memory limit, problem+json where the server
 * answers), within the bound; never silence, a bare close, 2xx or 5xx. */
static void expect_clean_refusal(const struct rel_reply *r, const char *what)
{
    cr_assert(r->complete, "%s: no answer, %s (%zu bytes: %.200s)", what,
              r->closed ? "the connection was closed" : "the connection hung", r->len, r->raw);
    cr_assert(r->status >= 400 && r->status < 500, "%s: status %ld: %.300s", what, r->status,
              r->raw);
}

/* Asserts r is a complete problem+json answer with this status and code. */
static void expect_problem(const struct rel_reply *r, long status, const char *code,
                           const char *what)
{
    struct it_response res;
    cr_assert(r->complete, "%s: no complete answer (%zu bytes, closed %d): %.200s", what, r->len,
              r->closed, r->raw);
    cr_assert(it_parse_response(r->raw, r->len, &res));
    cr_assert_str_eq(res.content_type, "application/problem+json", "%s: %s", what,
                     res.content_type);
    json_decref(it_expect_problem(&res, status, code));
    it_response_free(&res);
}

static char *repeat(const char *head, const char *unit, size_t times, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * times + tl + 1);
    cr_assert(s != NULL);
    memcpy(s, head, hl);
    for (size_t i = 0; i < times; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + ul * times, tail, tl + 1);
    return s;
}

Test(hostile, oversized_headers)
{
    /* 4000 header lines of ~100 bytes, then one header line of 400 KB:
     * both past the 256 KiB a connection may use. */
    char line[128];
    snprintf(line, sizeof line, "X-Pad: %090d\r\n", 7);
    char *many = repeat("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", line, 4000, "\r\n");
    char *one =
        repeat("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ", "a", 400000, "\r\n\r\n");
    const char *reqs[] = {many, one};
    for (size_t i = 0; i < 2; i++) {
        struct rel_reply r;
        cr_assert(rel_exchange(rs.srv.port, reqs[i], strlen(reqs[i]), false, true, 10000, &r));
        expect_clean_refusal(&r, i == 0 ? "4000 header lines" : "a 400 KB header");
        cr_assert(r.closed, "oversized headers: the connection stayed open");
        rel_reply_free(&r);
        expect_still_serving("oversized headers");
    }
    free(many);
    free(one);
}

Test(hostile, ten_kilobyte_urls)
{
    struct rel_reply r;
    /* GET endpoints ignore their query: 200. */
    char *get =
        repeat("GET /healthz?", "q", 10240, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(rel_exchange(rs.srv.port, get, strlen(get), false, true, 10000, &r));
    cr_assert(r.complete && r.status == 200, "10 KB query on /healthz: %.300s", r.raw);
    rel_reply_free(&r);

    /* A 10 KB unknown path: 404 problem. */
    char *path = repeat("GET /", "p", 10240, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(rel_exchange(rs.srv.port, path, strlen(path), false, true, 10000, &r));
    expect_problem(&r, 404, "not_found", "10 KB path");
    rel_reply_free(&r);

    /* A 10 KB value of an unknown parameter on a compute endpoint: 400. */
    char *post = repeat("POST /l2_loss?junk=", "v", 10240,
                        " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: 3\r\nConnection: close\r\n\r\n[1]");
    cr_assert(rel_exchange(rs.srv.port, post, strlen(post), false, true, 10000, &r));
    expect_problem(&r, 400, "invalid_parameter", "10 KB parameter");
    rel_reply_free(&r);

    /* A valid request whose dtype value is padded to 10 KB with %20... is
     * still refused cleanly (an unknown dtype). */
    char *dt = repeat("POST /l2_loss?dtype=float64", "%20", 3400,
                      " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: 3\r\nConnection: close\r\n\r\n[1]");
    cr_assert(rel_exchange(rs.srv.port, dt, strlen(dt), false, true, 10000, &r));
    expect_problem(&r, 400, "invalid_dtype", "10 KB dtype");
    rel_reply_free(&r);
    free(get);
    free(path);
    free(post);
    free(dt);
    expect_still_serving("10 KB URLs");
}

/* POST /regularize with `count` distinct unknown parameters. */
static char *many_parameters(int count, size_t *out_len)
{
    size_t cap = (size_t)count * 16 + 256, len = 0;
    char *req = malloc(cap);
    cr_assert(req != NULL);
    len += (size_t)snprintf(req + len, cap - len, "POST /regularize?scale=0.5");
    for (int i = 0; i < count; i++)
        len += (size_t)snprintf(req + len, cap - len, "&p%d=%d", i, i);
    len += (size_t)snprintf(req + len, cap - len,
                            " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: 3\r\nConnection: close\r\n\r\n[1]");
    *out_len = len;
    return req;
}

Test(hostile, thousands_of_query_parameters)
{
    struct rel_reply r;
    size_t len;
    char *req = many_parameters(3000, &len);
    cr_assert(rel_exchange(rs.srv.port, req, len, false, true, 10000, &r));
    expect_problem(&r, 400, "invalid_parameter", "3000 unknown parameters");
    rel_reply_free(&r);
    free(req);

    char *rep = repeat("POST /l2_loss?dtype=float32", "&dtype=float32", 2500,
                       " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 3\r\nConnection: close\r\n\r\n[1]");
    cr_assert(rel_exchange(rs.srv.port, rep, strlen(rep), false, true, 10000, &r));
    expect_problem(&r, 400, "invalid_parameter", "2500 repeated dtype");
    rel_reply_free(&r);
    free(rep);

    /* GET endpoints ignore their query. */
    char *get =
        repeat("GET /healthz?", "a=1&", 3000, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(rel_exchange(rs.srv.port, get, strlen(get), false, true, 10000, &r));
    cr_assert(r.complete && r.status == 200, "3000 parameters on /healthz: %.300s", r.raw);
    rel_reply_free(&r);
    free(get);
    expect_still_serving("thousands of parameters");
}

/* Many more parameters than libmicrohttpd's connection pool could hold as
 * argument records: it once closed such connections without an answer;
 * request_uri_log now keeps it to one record (server/request.c). */
Test(hostile, query_parameters_past_the_connection_memory)
{
    struct rel_reply r;
    size_t len;
    char *req = many_parameters(5000, &len);
    cr_assert(rel_exchange(rs.srv.port, req, len, false, true, 10000, &r));
    expect_clean_refusal(&r, "5000 unknown parameters");
    if (strstr(r.raw, "application/problem+json") != NULL)
        expect_problem(&r, 400, "invalid_parameter", "5000 unknown parameters");
    rel_reply_free(&r);
    free(req);

    char *get =
        repeat("GET /healthz?", "a=1&", 4000, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(rel_exchange(rs.srv.port, get, strlen(get), false, true, 10000, &r));
    cr_assert(r.complete && (r.status == 200 || (r.status >= 400 && r.status < 500)),
              "4000 parameters on /healthz: %s (%zu bytes: %.300s)", r.closed ? "closed" : "hung",
              r.len, r.raw);
    rel_reply_free(&r);
    free(get);
    expect_still_serving("parameters past the connection memory");
}

/* Content-Length shorter than the body: the declared bytes are the body
 * (answered exactly), the rest is the next request, which is junk. */
Test(hostile, content_length_shorter_than_the_body)
{
    static const char req[] =
        "POST /l2_loss HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 5\r\n\r\n[1.5] + [99, 99, 99]\r\n\r\n";
    struct rel_reply r;
    cr_assert(rel_exchange(rs.srv.port, req, sizeof req - 1, true, true, 10000, &r));
    cr_assert(r.complete, "no answer to the declared body: %.200s", r.raw);
    cr_assert_eq(r.status, 200, "%.300s", r.raw);
    cr_assert(strstr(r.raw, "\"loss\": 1.125") != NULL, "the first 5 bytes are [1.5]: %.300s",
              r.raw);
    cr_assert(r.closed, "the connection with junk after the body was not closed");
    /* Whatever follows the first answer is a 4xx or nothing. */
    const char *second = strstr(r.raw + 12, "HTTP/1.");
    if (second != NULL) {
        long st = strtol(second + 9, NULL, 10);
        cr_assert(st >= 400 && st < 500, "junk after the body answered %ld", st);
    }
    rel_reply_free(&r);

    /* The same with a body that is invalid at the cut: a clean 400. */
    static const char cut[] =
        "POST /l2_loss HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 4\r\nConnection: close\r\n\r\n[1, 2, 3]";
    cr_assert(rel_exchange(rs.srv.port, cut, sizeof cut - 1, true, true, 10000, &r));
    expect_problem(&r, 400, "invalid_json", "a body cut by its Content-Length");
    rel_reply_free(&r);
    expect_still_serving("a short Content-Length");
}

/* Content-Length longer than the body: the server waits for the rest, and
 * closes at --timeout when it never comes, or at once when the client
 * half-closes; never an answer computed from a partial body. */
Test(hostile, content_length_longer_than_the_body)
{
    static const char req[] =
        "POST /l2_loss HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n[1, 2]";
    struct rel_reply r;

    /* The client stays: closed by --timeout 2 (20 s bound for a loaded host). */
    int64_t t0 = it_now_ms();
    cr_assert(rel_exchange(rs.srv.port, req, sizeof req - 1, false, true, 20000, &r));
    cr_assert(r.closed, "a stalled body was not closed within 20 s (--timeout 2)");
    cr_assert(it_now_ms() - t0 >= HOSTILE_TIMEOUT_S * 1000 - 200,
              "closed before --timeout: the server did not wait for the announced bytes");
    cr_assert(r.status == 0 || r.status >= 400, "a partial body was answered: %.300s", r.raw);
    rel_reply_free(&r);

    /* The client half-closes: the server must not hang on it. */
    cr_assert(rel_exchange(rs.srv.port, req, sizeof req - 1, true, true, 20000, &r));
    cr_assert(r.closed, "a half-closed short body was not closed within 20 s");
    cr_assert(r.status == 0 || (r.status >= 400 && r.status < 500),
              "a partial body was answered: %.300s", r.raw);
    rel_reply_free(&r);
    expect_still_serving("a long Content-Length");
}

/* A 413 is answered from Content-Length before the body is read; a client
 * that sends the body anyway gets the answer and a close, not a hang. */
Test(hostile, body_after_413)
{
    size_t body_len = 1u << 20;
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "POST /l2_loss HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      body_len);
    char *req = malloc((size_t)hl + body_len);
    cr_assert(req != NULL);
    memcpy(req, head, (size_t)hl);
    memset(req + hl, ' ', body_len);
    req[hl] = '[';

    struct rel_reply r;
    cr_assert(rel_exchange(rs.srv.port, req, (size_t)hl + body_len, false, true, 20000, &r));
    expect_problem(&r, 413, "payload_too_large", "1 MiB body over a 64 KiB limit");
    cr_assert(r.closed, "after a 413 with the body sent anyway, the connection stayed open");
    cr_assert(strstr(r.raw, "Connection: close") != NULL || strstr(r.raw, "connection: close"),
              "a 413 with body bytes unread lacks Connection: close: %.300s", r.raw);
    rel_reply_free(&r);

    /* Headers first, the body only after the 413 has arrived. */
    int fd = rel_connect(rs.srv.port);
    cr_assert(fd >= 0);
    cr_assert(it_send_all(fd, head, (size_t)hl));
    char buf[4096];
    bool closed;
    it_recv_until(fd, buf, sizeof buf, "}", 10000, &closed);
    cr_assert(strstr(buf, " 413 ") != NULL, "no 413 before the body: %.300s", buf);
    it_send_all(fd, req + hl, body_len); /* may fail once the server closes: fine */
    cr_assert(it_wait_closed(fd, 20000), "the body after a 413 held the connection open");
    close(fd);
    free(req);
    expect_still_serving("a body after a 413");
}
