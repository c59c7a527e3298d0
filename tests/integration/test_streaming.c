/* test_streaming.c -- bodies as they really arrive: a 1 GiB upload generated
 * on the fly (the server's peak RSS must stay small), chunked uploads in
 * 1-byte and random-size chunks, 100 keep-alive requests on one connection,
 * 32 concurrent clients, clients that vanish mid-body, and 100-continue. */
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "harness.h"

static struct it_server srv;

static void start_default(void)
{
    it_setup();
    it_start(&srv, NULL, NULL);
}

TestSuite(streaming, .init = start_default, .fini = it_teardown, .timeout = 60);
TestSuite(big, .init = it_setup, .fini = it_teardown, .timeout = 240);

/* --- 1 GiB ---------------------------------------------------------------- */

#define GIB (1ull << 30)
#define RSS_LIMIT_KIB (32 * 1024)

/* 1.0, 2.0, 0.5, -3.0 as float32, repeated: 16 bytes whose squares sum to 14.25. */
struct pattern_src {
    unsigned char block[65536 + 16];
    uint64_t sent, total;
};

static size_t read_pattern(char *buf, size_t size, size_t nitems, void *ctx)
{
    struct pattern_src *s = ctx;
    size_t n = size * nitems;
    if (n > s->total - s->sent)
        n = (size_t)(s->total - s->sent);
    size_t done = 0;
    while (done < n) {
        size_t off = (size_t)((s->sent + done) % 16);
        size_t k = n - done;
        if (k > 65536)
            k = 65536;
        memcpy(buf + done, s->block + off, k);
        done += k;
    }
    s->sent += n;
    return n;
}

Test(big, one_gib_raw_float32_in_constant_memory)
{
    const char *args[] = {"--max-body-bytes", "2147483648", "--timeout", "120", NULL};
    it_start(&srv, args, NULL);

    struct pattern_src *src = malloc(sizeof *src);
    cr_assert(src != NULL);
    const float vals[4] = {1.0f, 2.0f, 0.5f, -3.0f};
    for (size_t i = 0; i < sizeof src->block / 16; i++)
        memcpy(src->block + 16 * i, vals, 16);
    src->sent = 0;
    src->total = GIB;

    struct it_request req = {.method = "POST",
                             .target = "/l2_loss?dtype=float32",
                             .content_type = "application/octet-stream",
                             .read_fn = read_pattern,
                             .read_ctx = src,
                             .read_size = (long long)GIB,
                             .timeout_s = 200};
    struct it_response r;
    int64_t t0 = it_now_ms();
    it_http(NULL, srv.port, &req, &r);
    int64_t ms = it_now_ms() - t0;
    long hwm = it_vmhwm_kib(&srv);
    cr_assert_eq(src->sent, GIB, "sent %llu bytes", (unsigned long long)src->sent);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);

    /* 2^26 groups of (1 + 4 + 0.25 + 9): exact in float64. */
    const long long count = (long long)(GIB / 4);
    const double ss = (double)(GIB / 16) * 14.25;
    json_t *j = it_json(&r);
    it_expect_result(j, ss / 2, ss, count);
    cr_assert(ss == 956301312.0);
    const long long dims[] = {count};
    it_expect_shape(j, dims, 1);
    json_decref(j);
    it_response_free(&r);
    free(src);

    cr_log_info("1 GiB raw float32 upload: %lld ms, server VmHWM %ld KiB (%.1f MiB)", (long long)ms,
                hwm, (double)hwm / 1024.0);
    fprintf(stderr, "l2d 1 GiB upload: server VmHWM = %ld kB (%.1f MiB), %lld ms\n", hwm,
            (double)hwm / 1024.0, (long long)ms);
    cr_assert(hwm > 0, "could not read VmHWM of pid %d", (int)srv.pid);
    cr_assert(hwm < RSS_LIMIT_KIB, "peak RSS %ld KiB is over 32 MiB", hwm);
}

/* --- chunked uploads ------------------------------------------------------ */

/* The four numbers of a single-tensor answer, bit for bit. */
struct answer {
    double loss, sum_squares, norm;
    long long count;
};

static struct answer answer_of(const struct it_response *r)
{
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *j = it_json(r);
    struct answer a = {json_real_value(json_object_get(j, "loss")),
                       json_real_value(json_object_get(j, "sum_squares")),
                       json_real_value(json_object_get(j, "norm")),
                       (long long)json_integer_value(json_object_get(j, "count"))};
    cr_assert(json_is_real(json_object_get(j, "sum_squares")));
    json_decref(j);
    return a;
}

static void expect_same(struct answer a, struct answer b, const char *what)
{
    cr_assert(memcmp(&a.loss, &b.loss, sizeof a.loss) == 0 &&
                  memcmp(&a.sum_squares, &b.sum_squares, sizeof a.sum_squares) == 0 &&
                  memcmp(&a.norm, &b.norm, sizeof a.norm) == 0 && a.count == b.count,
              "%s: loss %.17g/%.17g sum_squares %.17g/%.17g count %lld/%lld", what, a.loss, b.loss,
              a.sum_squares, b.sum_squares, a.count, b.count);
}

static struct answer post_chunked(const char *target, const char *ct, const char *data, size_t len,
                                  size_t max_step)
{
    /* max_step 1: one byte per piece; else random 1..max_step. */
    struct it_chunks src = {data, len, 0, max_step, max_step > 1 ? 0x9e3779b97f4a7c15ull : 0};
    struct it_request req = {.method = "POST",
                             .target = target,
                             .content_type = ct,
                             .read_fn = it_read_chunks,
                             .read_ctx = &src,
                             .read_size = -1};
    struct it_response r;
    it_http(NULL, srv.port, &req, &r);
    cr_assert_eq(src.pos, len);
    struct answer a = answer_of(&r);
    it_response_free(&r);
    return a;
}

static struct answer post_whole(const char *target, const char *ct, const char *data, size_t len)
{
    struct it_response r;
    it_post(srv.port, target, ct, data, len, &r);
    struct answer a = answer_of(&r);
    it_response_free(&r);
    return a;
}

Test(streaming, chunked_one_byte_chunks)
{
    const char *body = "{\"tensors\": {\"w\": [[1.5, -2.25], [3e-3, 4]], \"b\": [0.1, 1e2]}}";
    struct answer whole = post_whole("/l2_loss", "application/json", body, strlen(body));
    struct answer one = post_chunked("/l2_loss", "application/json", body, strlen(body), 1);
    expect_same(one, whole, "JSON in 1-byte chunks");
    cr_assert_eq(whole.count, 6);

    const double d[] = {0.1, -7.5, 3.25};
    struct answer rw = post_whole("/regularize?scale=0.25&dtype=float64",
                                  "application/octet-stream", (const char *)d, sizeof d);
    struct answer r1 = post_chunked("/regularize?scale=0.25&dtype=float64",
                                    "application/octet-stream", (const char *)d, sizeof d, 1);
    expect_same(r1, rw, "raw float64 in 1-byte chunks");
}

/* Sends body as explicit 1-byte HTTP chunks, each in its own packet. */
Test(streaming, chunked_one_byte_chunks_on_the_wire)
{
    const char *body = "[[1, 2], [3, 4]]";
    int fd = it_connect(srv.port);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const char *head = "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                       "Connection: close\r\n\r\n";
    cr_assert(it_send_all(fd, head, strlen(head)));
    for (size_t i = 0; body[i] != '\0'; i++) {
        char chunk[8] = {'1', '\r', '\n', body[i], '\r', '\n'};
        cr_assert(it_send_all(fd, chunk, 6));
        if (i % 4 == 0)
            it_sleep_ms(2);
    }
    cr_assert(it_send_all(fd, "0\r\n\r\n", 5));
    char buf[8192];
    bool closed;
    size_t n = it_recv_until(fd, buf, sizeof buf, NULL, 10000, &closed);
    close(fd);
    struct it_response r;
    cr_assert(it_parse_response(buf, n, &r), "no complete response: %.300s", buf);
    it_check_openapi("POST", "/l2_loss", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_result(j, 15.0, 30.0, 4);
    json_decref(j);
    it_response_free(&r);
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 17;
}

Test(streaming, chunked_random_sizes_same_answer)
{
    /* 60000 float64 values, 480 KB, in chunks of 1..9000 bytes. */
    size_t n = 60000;
    double *d = malloc(n * sizeof *d);
    cr_assert(d != NULL);
    uint64_t s = 42;
    for (size_t i = 0; i < n; i++)
        d[i] = ((double)(lcg(&s) % 2000001) - 1000000.0) / 1024.0 * 1e-3;
    struct answer whole = post_whole("/l2_loss?dtype=float64", "application/octet-stream",
                                     (const char *)d, n * sizeof *d);
    cr_assert_eq(whole.count, (long long)n);
    for (size_t step = 7; step <= 9000; step *= 9) {
        struct answer c = post_chunked("/l2_loss?dtype=float64", "application/octet-stream",
                                       (const char *)d, n * sizeof *d, step);
        expect_same(c, whole, "raw in random chunks");
    }

    /* The same values as JSON text, about 1 MB. */
    size_t cap = n * 32 + 16, len = 0;
    char *json = malloc(cap);
    cr_assert(json != NULL);
    json[len++] = '[';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(json + len, cap - len, "%s%.17g", i ? ", " : "", d[i]);
    json[len++] = ']';
    struct answer jw = post_whole("/l2_loss", "application/json", json, len);
    expect_same(jw, whole, "JSON and raw of the same float64 values");
    struct answer jc = post_chunked("/l2_loss", "application/json", json, len, 5000);
    expect_same(jc, whole, "JSON in random chunks");

    /* .npy in random chunks. */
    size_t npy_len;
    char shape[32];
    snprintf(shape, sizeof shape, "(%zu,)", n);
    unsigned char *npy = it_npy(1, "<f8", shape, d, n * sizeof *d, &npy_len);
    struct answer nc =
        post_chunked("/l2_loss", "application/x-npy", (const char *)npy, npy_len, 3000);
    expect_same(nc, whole, ".npy in random chunks");
    free(npy);
    free(json);
    free(d);
}

/* --- connections ------------------------------------------------------------ */

Test(streaming, keep_alive_100_requests_one_connection)
{
    CURL *h = curl_easy_init();
    long connects = 0;
    for (int i = 0; i < 100; i++) {
        char body[64];
        snprintf(body, sizeof body, "[%d, 1]", i);
        struct it_request req = {.method = "POST",
                                 .target = i % 2 ? "/l2_loss" : "/regularize?scale=0.5",
                                 .content_type = "application/json",
                                 .body = body,
                                 .body_len = strlen(body)};
        if (i % 10 == 9) {
            req.method = "GET";
            req.target = "/healthz";
            req.body = NULL;
        }
        struct it_response r;
        it_http(h, srv.port, &req, &r);
        connects += r.connects;
        cr_assert_eq(r.status, 200, "request %d: %ld %s", i, r.status, r.body);
        if (req.body != NULL) {
            json_t *j = it_json(&r);
            double ss = (double)i * i + 1;
            it_expect_real(j, "sum_squares", ss);
            it_expect_real(j, "loss", i % 2 ? ss / 2 : 0.5 * (ss / 2));
            json_decref(j);
        }
        it_response_free(&r);
    }
    curl_easy_cleanup(h);
    cr_assert_eq(connects, 1, "100 requests used %ld connections", connects);
}

#define CLIENTS 32
#define PER_CLIENT 4

struct client {
    pthread_t thread;
    int port;
    int id;
    CURLcode rc[PER_CLIENT];
    struct it_response res[PER_CLIENT];
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    CURL *h = curl_easy_init();
    for (int i = 0; i < PER_CLIENT; i++) {
        char body[64];
        snprintf(body, sizeof body, "[[%d, %d], [0.5, -1]]", c->id, i);
        struct it_request req = {.method = "POST",
                                 .target = "/l2_loss",
                                 .content_type = "application/json",
                                 .body = body,
                                 .body_len = strlen(body)};
        c->rc[i] = it_perform(h, c->port, &req, &c->res[i]);
    }
    curl_easy_cleanup(h);
    return NULL;
}

static void check_client(struct client *c)
{
    for (int i = 0; i < PER_CLIENT; i++) {
        struct it_response *r = &c->res[i];
        cr_assert_eq(c->rc[i], CURLE_OK, "client %d request %d: %s", c->id, i,
                     curl_easy_strerror(c->rc[i]));
        it_check_openapi("POST", "/l2_loss", r);
        cr_assert_eq(r->status, 200, "client %d request %d: %ld %s", c->id, i, r->status, r->body);
        json_t *j = it_json(r);
        double ss = (double)c->id * c->id + (double)i * i + 0.25 + 1.0;
        it_expect_result(j, ss / 2, ss, 4);
        json_decref(j);
        it_response_free(r);
    }
}

Test(streaming, concurrent_32_clients)
{
    struct client *cs = calloc(CLIENTS, sizeof *cs);
    cr_assert(cs != NULL);
    for (int t = 0; t < CLIENTS; t++) {
        cs[t].port = srv.port;
        cs[t].id = t + 1;
        cr_assert_eq(pthread_create(&cs[t].thread, NULL, client_main, &cs[t]), 0);
    }
    for (int t = 0; t < CLIENTS; t++)
        pthread_join(cs[t].thread, NULL);
    for (int t = 0; t < CLIENTS; t++)
        check_client(&cs[t]);
    free(cs);
}

Test(streaming, disconnect_mid_body_does_not_disturb_others)
{
    struct client *cs = calloc(8, sizeof *cs);
    cr_assert(cs != NULL);
    for (int t = 0; t < 8; t++) {
        cs[t].port = srv.port;
        cs[t].id = 100 + t;
        cr_assert_eq(pthread_create(&cs[t].thread, NULL, client_main, &cs[t]), 0);
    }

    char part[20000];
    memset(part, ' ', sizeof part);
    part[0] = '[';
    for (size_t i = 1; i + 2 < sizeof part; i += 2) {
        part[i] = '1';
        part[i + 1] = ',';
    }
    for (int k = 0; k < 24; k++) {
        int fd = it_connect(srv.port);
        const char *head = k % 3 == 0 ? "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                        "Content-Type: application/octet-stream\r\n"
                                        "Content-Length: 1000000\r\n\r\n"
                                      : "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                        "Content-Type: application/json\r\n"
                                        "Content-Length: 1000000\r\n\r\n";
        it_send_all(fd, head, strlen(head));
        it_send_all(fd, part, (size_t)(1000 + 700 * k));
        if (k % 2 == 1) { /* half of them reset instead of closing */
            struct linger lg = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(fd);
    }

    for (int t = 0; t < 8; t++)
        pthread_join(cs[t].thread, NULL);
    for (int t = 0; t < 8; t++)
        check_client(&cs[t]);
    free(cs);

    cr_assert(it_alive(&srv), "the server died");
    struct it_response r;
    it_get(srv.port, "/healthz", &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    struct answer a = post_whole("/l2_loss", "application/json", "[3, 4]", 6);
    cr_assert(a.sum_squares == 25.0 && a.norm == 5.0);
}

Test(streaming, expect_100_continue_on_the_wire)
{
    const char *body = "[[1, 2], [3, 4]]";
    int fd = it_connect(srv.port);
    char head[512];
    snprintf(head, sizeof head,
             "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
             strlen(body));
    cr_assert(it_send_all(fd, head, strlen(head)));
    char buf[8192];
    bool closed;
    size_t n = it_recv_until(fd, buf, sizeof buf, "\r\n\r\n", 10000, &closed);
    cr_assert(strncmp(buf, "HTTP/1.1 100", 12) == 0,
              "no 100 Continue before the body was sent: %.200s", buf);
    cr_assert(it_send_all(fd, body, strlen(body)));
    size_t m = it_recv_until(fd, buf + n, sizeof buf - n, NULL, 10000, &closed);
    close(fd);
    struct it_response r;
    cr_assert(it_parse_response(buf, n + m, &r), "no complete response: %.300s", buf);
    it_check_openapi("POST", "/l2_loss", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_result(j, 15.0, 30.0, 4);
    json_decref(j);
    it_response_free(&r);
}

Test(streaming, expect_100_continue_64k_body)
{
    /* 8192 float64 twos as raw, and curl's own Expect: 100-continue. curl
     * is told to wait 60 s for the 100 and the request may take 20 s, so a
     * server that never sends 100 Continue fails this test. */
    size_t n = 8192;
    double *d = malloc(n * sizeof *d);
    cr_assert(d != NULL);
    for (size_t i = 0; i < n; i++)
        d[i] = 2.0;
    const char *hdrs[] = {"Expect: 100-continue", NULL};
    struct it_request req = {.method = "POST",
                             .target = "/l2_loss?dtype=float64",
                             .content_type = "application/octet-stream",
                             .body = d,
                             .body_len = n * sizeof *d,
                             .headers = hdrs,
                             .timeout_s = 20,
                             .expect_100_ms = 60000};
    struct it_response r;
    it_http(NULL, srv.port, &req, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_result(j, 16384.0, 32768.0, 8192);
    json_decref(j);
    it_response_free(&r);
    free(d);
}
