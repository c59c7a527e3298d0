/* test_errors.c -- every row of API.md's error table that the server answers
 * today, each as application/problem+json with type/title/status/detail/code
 * (and pointer/index/offset where they help), the order of the checks, and
 * that the server keeps serving after a refusal with body bytes unread. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

#define LIMIT 4096

static struct it_server srv;

static void start_limited(void)
{
    it_setup();
    const char *args[] = {"--max-body-bytes", "4096", NULL};
    it_start(&srv, args, NULL);
}

TestSuite(errors, .init = start_limited, .fini = it_teardown, .timeout = 60);

/* POSTs body to target and asserts the problem; returns the parsed body. */
static json_t *post_problem(const char *target, const char *ct, const void *body, size_t len,
                            long status, const char *code)
{
    struct it_response r;
    it_post(srv.port, target, ct, body, len, &r);
    json_t *j = it_expect_problem(&r, status, code);
    it_response_free(&r);
    return j;
}

static void json_problem(const char *target, const char *body, const char *code)
{
    json_decref(post_problem(target, "application/json", body, strlen(body), 400, code));
}

static void expect_member_int(const json_t *j, const char *key, long long want)
{
    it_expect_int(j, key, want);
}

Test(errors, invalid_json_with_offset)
{
    json_t *j = post_problem("/l2_loss", "application/json", "[1, 2]x", 7, 400, "invalid_json");
    expect_member_int(j, "offset", 6);
    json_decref(j);
    j = post_problem("/l2_loss", "application/json", "[1, @]", 6, 400, "invalid_json");
    expect_member_int(j, "offset", 4);
    json_decref(j);
    j = post_problem("/l2_loss", "application/json", "hello", 5, 400, "invalid_json");
    expect_member_int(j, "offset", 0);
    json_decref(j);
    j = post_problem("/l2_loss", "application/json", "[1, 2", 5, 400, "invalid_json");
    cr_assert(json_is_integer(json_object_get(j, "offset")), "truncated JSON has no offset");
    json_decref(j);
    json_problem("/l2_loss", "", "invalid_json");
    json_problem("/regularize?scale=0.5", "[1, 2] [3]", "invalid_json");
}

Test(errors, invalid_tensor_with_pointer)
{
    json_t *j =
        post_problem("/l2_loss", "application/json", "[1, \"a\", 3]", 11, 400, "invalid_tensor");
    it_expect_str(j, "pointer", "/1");
    json_decref(j);

    const char *named = "{\"tensors\": {\"dense/bias\": [1, 2, 3, true]}}";
    j = post_problem("/l2_loss", "application/json", named, strlen(named), 400, "invalid_tensor");
    it_expect_str(j, "pointer", "/tensors/dense~1bias/3");
    json_decref(j);

    json_problem("/l2_loss", "[[1, 2], [3]]", "invalid_tensor");
    json_problem("/l2_loss", "[[1, 2], 3]", "invalid_tensor");
    json_problem("/l2_loss", "[{\"a\": 1}]", "invalid_tensor");
    json_problem("/l2_loss", "null", "invalid_tensor");
    json_problem("/l2_loss", "\"1\"", "invalid_tensor");
    json_problem("/l2_loss", "{\"tensors\": {\"\": [1]}}", "invalid_tensor");
    json_problem("/l2_loss", "{\"tensors\": {\"a\": [1], \"a\": [2]}}", "invalid_tensor");
    json_problem("/l2_loss", "{\"tensors\": {}, \"extra\": 1}", "invalid_tensor");
    json_problem("/l2_loss", "{\"weights\": [1]}", "invalid_tensor");
    json_problem("/l2_loss", "{\"tensors\": [1, 2]}", "invalid_tensor");
    json_problem("/l2_loss", "{\"tensors\": {\"a\": {\"b\": [1]}}}", "invalid_tensor");
}

Test(errors, tensor_name_limit)
{
    char body[1200];
    char name[1026];
    memset(name, 'n', 1025);
    name[1025] = '\0';
    snprintf(body, sizeof body, "{\"tensors\": {\"%s\": [1]}}", name);
    json_problem("/l2_loss", body, "invalid_tensor");

    name[1024] = '\0'; /* 1024 bytes: allowed */
    snprintf(body, sizeof body, "{\"tensors\": {\"%s\": [2]}}", name);
    struct it_response r;
    it_post(srv.port, "/l2_loss", "application/json", body, strlen(body), &r);
    cr_assert_eq(r.status, 200, "a 1024-byte name: %ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "loss", 2.0);
    json_decref(j);
    it_response_free(&r);
}

Test(errors, nesting_depth_limit)
{
    char body[200];
    size_t n = 0;
    for (int i = 0; i < 64; i++)
        body[n++] = '[';
    body[n++] = '2';
    for (int i = 0; i < 64; i++)
        body[n++] = ']';
    struct it_response r;
    it_post(srv.port, "/l2_loss", "application/json", body, n, &r);
    cr_assert_eq(r.status, 200, "64 levels: %ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_result(j, 2.0, 4.0, 1);
    cr_assert_eq(json_array_size(json_object_get(j, "shape")), 64);
    json_decref(j);
    it_response_free(&r);

    n = 0;
    for (int i = 0; i < 65; i++)
        body[n++] = '[';
    body[n++] = '2';
    for (int i = 0; i < 65; i++)
        body[n++] = ']';
    body[n] = '\0';
    json_problem("/l2_loss", body, "invalid_tensor");
}

Test(errors, number_out_of_range)
{
    json_problem("/l2_loss", "[1, 1e309]", "number_out_of_range");
    json_problem("/l2_loss", "[-1e400]", "number_out_of_range");
    json_problem("/l2_loss?dtype=float16", "[70000]", "number_out_of_range");
    json_problem("/l2_loss?dtype=float32", "[1e39]", "number_out_of_range");
    json_problem("/l2_loss?dtype=bfloat16", "[3.4e38]", "number_out_of_range");
    json_problem("/regularize?scale=0.5&dtype=float16", "{\"tensors\": {\"a\": [1, 65520]}}",
                 "number_out_of_range");

    /* The largest float16 is fine. */
    struct it_response r;
    it_post(srv.port, "/l2_loss?dtype=float16", "application/json", "[65504]", 7, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "sum_squares", 65504.0 * 65504.0);
    json_decref(j);
    it_response_free(&r);
}

Test(errors, non_finite_with_index)
{
    const float f[] = {1.0f, NAN, 3.0f};
    json_t *j = post_problem("/l2_loss?dtype=float32", "application/octet-stream", f, sizeof f, 400,
                             "non_finite");
    expect_member_int(j, "index", 1);
    json_decref(j);

    const double d[] = {1.0, 2.0, INFINITY};
    j = post_problem("/l2_loss?dtype=float64", "application/octet-stream", d, sizeof d, 400,
                     "non_finite");
    expect_member_int(j, "index", 2);
    json_decref(j);

    const uint16_t h[] = {0x3C00, 0x7C00}; /* 1, +inf */
    j = post_problem("/l2_loss?dtype=float16", "application/octet-stream", h, sizeof h, 400,
                     "non_finite");
    expect_member_int(j, "index", 1);
    json_decref(j);

    const uint16_t b[] = {0xFF80}; /* bfloat16 -inf */
    j = post_problem("/regularize?scale=0.1&dtype=bfloat16", "application/octet-stream", b,
                     sizeof b, 400, "non_finite");
    expect_member_int(j, "index", 0);
    json_decref(j);

    const float g[] = {1.0f, 2.0f, 3.0f, NAN};
    size_t len;
    unsigned char *npy = it_npy(1, "<f4", "(2, 2)", g, sizeof g, &len);
    j = post_problem("/l2_loss", "application/x-npy", npy, len, 400, "non_finite");
    expect_member_int(j, "index", 3);
    json_decref(j);
    free(npy);
}

Test(errors, invalid_length)
{
    const unsigned char seven[7] = {0};
    json_decref(post_problem("/l2_loss?dtype=float32", "application/octet-stream", seven, 7, 400,
                             "invalid_length"));
    json_decref(post_problem("/l2_loss?dtype=float64", "application/octet-stream", seven, 4, 400,
                             "invalid_length"));
    json_decref(post_problem("/l2_loss?dtype=bfloat16", "application/octet-stream", seven, 3, 400,
                             "invalid_length"));

    const float g[] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
    size_t len;
    unsigned char *npy = it_npy(1, "<f4", "(2, 2)", g, 3 * sizeof(float), &len);
    json_decref(post_problem("/l2_loss", "application/x-npy", npy, len, 400, "invalid_length"));
    free(npy);
    npy = it_npy(1, "<f4", "(2, 2)", g, 5 * sizeof(float), &len);
    json_decref(post_problem("/l2_loss", "application/x-npy", npy, len, 400, "invalid_length"));
    free(npy);
}

Test(errors, invalid_npy)
{
    const float g[] = {1.0f, 2.0f, 3.0f, 4.0f};
    size_t len;
    unsigned char *npy = it_npy(1, "<f4", "(4,)", g, sizeof g, &len);
    npy[1] = 'X'; /* bad magic */
    json_decref(post_problem("/l2_loss", "application/x-npy", npy, len, 400, "invalid_npy"));
    free(npy);

    npy = it_npy(1, "<i4", "(4,)", g, sizeof g, &len);
    json_decref(post_problem("/l2_loss", "application/x-npy", npy, len, 400, "invalid_npy"));
    free(npy);

    npy = it_npy(1, "<f4", "(4,)", g, sizeof g, &len);
    json_decref(
        post_problem("/l2_loss?dtype=float32", "application/x-npy", npy, len, 400, "invalid_npy"));
    free(npy);

    npy = it_npy(1, "<f4", "[4", g, sizeof g, &len); /* a header that is not a dict */
    json_decref(post_problem("/l2_loss", "application/x-npy", npy, len, 400, "invalid_npy"));
    free(npy);

    npy = it_npy(9, "<f4", "(4,)", g, sizeof g, &len); /* format version 9 */
    json_decref(post_problem("/l2_loss", "application/x-npy", npy, len, 400, "invalid_npy"));
    free(npy);
}

Test(errors, invalid_dtype)
{
    const float g[] = {1.0f, 2.0f};
    json_decref(
        post_problem("/l2_loss", "application/octet-stream", g, sizeof g, 400, "invalid_dtype"));
    json_decref(post_problem("/l2_loss?dtype=int32", "application/octet-stream", g, sizeof g, 400,
                             "invalid_dtype"));
    json_problem("/l2_loss?dtype=float8", "[1]", "invalid_dtype");
    json_problem("/regularize?scale=0.5&dtype=", "[1]", "invalid_dtype");
}

/* POSTs [1] to /regularize with this (already encoded) scale and asserts
 * invalid_scale, with detail when it is not NULL. */
static void bad_scale(const char *scale, const char *detail)
{
    char target[128];
    snprintf(target, sizeof target, "/regularize?scale=%s", scale);
    json_t *j = post_problem(target, "application/json", "[1]", 3, 400, "invalid_scale");
    if (detail != NULL)
        it_expect_str(j, "detail", detail);
    json_decref(j);
}

Test(errors, invalid_scale_tensorflow_messages)
{
    bad_scale("1", "scale cannot be an integer: 1");
    bad_scale("-0", "scale cannot be an integer: -0");
    bad_scale("-1", "scale cannot be an integer: -1");
    bad_scale("-0.1", "Setting a scale less than 0 on a regularizer: -0.1.");
    bad_scale("-0.00000015", "Setting a scale less than 0 on a regularizer: -1.5e-07.");
    bad_scale("-2.5e3", "Setting a scale less than 0 on a regularizer: -2500.");
}

Test(errors, invalid_scale_malformed)
{
    const char *bad[] = {
        "abc", "inf",   "nan",   "-inf",   "0x1p-3", "1e999", "1e",  "5.",
        "",    "0.1.2", "1%2C5", "0.5abc", "e5",     "--0.5", "+0.5" /* a literal + is a space */};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        bad_scale(bad[i], NULL);
    json_decref(post_problem("/regularize", "application/json", "[1]", 3, 400, "invalid_scale"));
}

Test(errors, valid_scale_forms)
{
    const char *ok[] = {"0.5", "%2B0.5", ".5", "5e-1", "0.05E1", "500e-3"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char target[128];
        snprintf(target, sizeof target, "/regularize?scale=%s", ok[i]);
        struct it_response r;
        it_post(srv.port, target, "application/json", "[2]", 3, &r);
        cr_assert_eq(r.status, 200, "scale=%s: %ld %s", ok[i], r.status, r.body);
        json_t *j = it_json(&r);
        it_expect_real(j, "loss", 1.0);
        it_expect_real(j, "scale", 0.5);
        json_decref(j);
        it_response_free(&r);
    }
}

Test(errors, invalid_parameter)
{
    json_problem("/l2_loss?foo=1", "[1]", "invalid_parameter");
    json_problem("/l2_loss?scale=0.5", "[1]", "invalid_parameter");
    json_problem("/l2_loss?dtype=float32&dtype=float32", "[1]", "invalid_parameter");
    json_problem("/regularize?scale=0.5&scale=0.5", "[1]", "invalid_parameter");
    json_problem("/regularize?scale=0.5&verbose=true", "[1]", "invalid_parameter");
}

Test(errors, result_out_of_range)
{
    json_problem("/l2_loss", "[1e200, 1e200]", "result_out_of_range");
    json_problem("/regularize?scale=0.5", "[1e200]", "result_out_of_range");
    json_problem("/l2_loss", "{\"tensors\": {\"a\": [1.3e154], \"b\": [1.3e154]}}",
                 "result_out_of_range");
    /* sum_squares fits; scale * l2_loss does not. */
    json_problem("/regularize?scale=1e300", "[1e10]", "result_out_of_range");
    const double d[] = {1.7976931348623157e308};
    json_decref(post_problem("/l2_loss?dtype=float64", "application/octet-stream", d, sizeof d, 400,
                             "result_out_of_range"));
}

static void expect_status(const char *method, const char *target, long status, const char *code)
{
    struct it_request req = {.method = method, .target = target};
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        req.content_type = "application/json";
        req.body = "[1]";
        req.body_len = 3;
    }
    struct it_response r;
    it_http(NULL, srv.port, &req, &r);
    json_decref(it_expect_problem(&r, status, code));
    it_response_free(&r);
}

Test(errors, not_found)
{
    expect_status("GET", "/nope", 404, "not_found");
    expect_status("POST", "/nope", 404, "not_found");
    expect_status("GET", "/index.html", 404, "not_found");
    expect_status("POST", "/l2_loss/", 404, "not_found");
    expect_status("GET", "/healthz/extra", 404, "not_found");
    expect_status("DELETE", "/L2_LOSS", 404, "not_found");
}

static void expect_405(const char *method, const char *target, const char *allowed)
{
    struct it_request req = {.method = method, .target = target};
    if (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) {
        req.content_type = "application/json";
        req.body = "[1]";
        req.body_len = 3;
    }
    struct it_response r;
    it_http(NULL, srv.port, &req, &r);
    json_decref(it_expect_problem(&r, 405, "method_not_allowed"));
    char allow[256];
    cr_assert(it_header(&r, "Allow", allow, sizeof allow), "%s %s: no Allow header", method,
              target);
    cr_assert(strstr(allow, allowed) != NULL, "%s %s: Allow: %s, want %s in it", method, target,
              allow, allowed);
    it_response_free(&r);
}

Test(errors, method_not_allowed_with_allow)
{
    expect_405("GET", "/l2_loss", "POST");
    expect_405("PUT", "/regularize?scale=0.5", "POST");
    expect_405("DELETE", "/l2_loss", "POST");
    expect_405("POST", "/healthz", "GET");
    expect_405("POST", "/readyz", "GET");
    expect_405("DELETE", "/metrics", "GET");
    expect_405("PUT", "/openapi.yaml", "GET");
    expect_405("POST", "/healthz", "HEAD");
}

/* A valid JSON array of exactly len bytes: "[0,0,...,0]" padded with spaces. */
static char *json_body_of(size_t len)
{
    char *b = malloc(len + 1);
    cr_assert(b != NULL && len >= 3);
    memset(b, ' ', len);
    b[0] = '[';
    size_t n = 1;
    while (n + 3 < len) {
        b[n++] = '0';
        b[n++] = ',';
    }
    b[n++] = '0';
    b[len - 1] = ']';
    b[len] = '\0';
    return b;
}

Test(errors, payload_too_large_from_content_length)
{
    char *body = json_body_of(LIMIT + 1);
    json_decref(
        post_problem("/l2_loss", "application/json", body, LIMIT + 1, 413, "payload_too_large"));
    free(body);

    body = json_body_of(LIMIT);
    struct it_response r;
    it_post(srv.port, "/l2_loss", "application/json", body, LIMIT, &r);
    cr_assert_eq(r.status, 200, "a body at the limit: %ld %s", r.status, r.body);
    it_response_free(&r);
    free(body);
}

Test(errors, payload_too_large_chunked)
{
    char *body = json_body_of(3 * LIMIT);
    struct it_chunks src = {body, 3 * LIMIT, 0, 700, 0};
    struct it_request req = {.method = "POST",
                             .target = "/l2_loss",
                             .content_type = "application/json",
                             .read_fn = it_read_chunks,
                             .read_ctx = &src,
                             .read_size = -1};
    struct it_response r;
    it_http(NULL, srv.port, &req, &r);
    json_decref(it_expect_problem(&r, 413, "payload_too_large"));
    it_response_free(&r);

    /* A chunked body under the limit is fine. */
    struct it_chunks small = {body, 1001, 0, 100, 0};
    body[1000] = ']';
    req.read_ctx = &small;
    it_http(NULL, srv.port, &req, &r);
    cr_assert_eq(r.status, 200, "a small chunked body: %ld %s", r.status, r.body);
    it_response_free(&r);
    free(body);
}

Test(errors, unsupported_media_type)
{
    json_t *j = post_problem("/l2_loss", "application/x-www-form-urlencoded", "[1]", 3, 415,
                             "unsupported_media_type");
    const char *detail = json_string_value(json_object_get(j, "detail"));
    cr_assert(strstr(detail, "application/json") && strstr(detail, "application/octet-stream") &&
                  strstr(detail, "application/x-npy"),
              "the detail does not name the accepted types: %s", detail);
    json_decref(j);
    json_decref(post_problem("/regularize?scale=0.5", "text/plain", "[1]", 3, 415,
                             "unsupported_media_type"));
    json_decref(
        post_problem("/l2_loss", "application/jsonx", "[1]", 3, 415, "unsupported_media_type"));
}

Test(errors, order_of_checks)
{
    /* 404 before everything. */
    json_decref(post_problem("/nope?scale=1", "text/plain", "x", 1, 404, "not_found"));
    /* 405 before the query. */
    expect_status("GET", "/regularize?scale=1", 405, "method_not_allowed");
    /* Query before 415. */
    json_decref(post_problem("/regularize?scale=1", "text/plain", "x", 1, 400, "invalid_scale"));
    json_decref(post_problem("/l2_loss?foo=1", "text/plain", "x", 1, 400, "invalid_parameter"));
    json_decref(post_problem("/l2_loss?dtype=float8", "text/plain", "x", 1, 400, "invalid_dtype"));
    /* 415 before 413. */
    char *big = json_body_of(2 * LIMIT);
    json_decref(
        post_problem("/l2_loss", "text/plain", big, 2 * LIMIT, 415, "unsupported_media_type"));
    /* Query before 413. */
    json_decref(post_problem("/regularize?scale=-0.1", "application/json", big, 2 * LIMIT, 400,
                             "invalid_scale"));
    /* 413 before the body. */
    big[0] = 'x';
    json_decref(
        post_problem("/l2_loss", "application/json", big, 2 * LIMIT, 413, "payload_too_large"));
    free(big);
}

static void post_on(CURL *h, const char *target, const char *ct, const void *body, size_t len,
                    struct it_response *r)
{
    struct it_request req = {
        .method = "POST", .target = target, .content_type = ct, .body = body, .body_len = len};
    it_http(h, srv.port, &req, r);
}

Test(errors, serving_continues_after_refusals_with_unread_body)
{
    CURL *h = curl_easy_init();
    char *big = json_body_of(2 * LIMIT);
    char *mid = json_body_of(LIMIT - 8);
    mid[0] = '#'; /* invalid at byte 0, thousands of bytes unread */
    struct it_response r;
    const char *good = "[[1, 2], [3, 4]]";

    for (int round = 0; round < 3; round++) {
        post_on(h, "/l2_loss", "application/json", big, 2 * LIMIT, &r);
        json_decref(it_expect_problem(&r, 413, "payload_too_large"));
        it_response_free(&r);
        post_on(h, "/l2_loss", "application/json", good, strlen(good), &r);
        cr_assert_eq(r.status, 200, "after a 413: %ld %s", r.status, r.body);
        json_t *j = it_json(&r);
        it_expect_real(j, "loss", 15.0);
        json_decref(j);
        it_response_free(&r);

        post_on(h, "/l2_loss", "application/json", mid, LIMIT - 8, &r);
        json_decref(it_expect_problem(&r, 400, "invalid_json"));
        it_response_free(&r);
        post_on(h, "/l2_loss", "application/json", good, strlen(good), &r);
        cr_assert_eq(r.status, 200, "after a 400: %ld %s", r.status, r.body);
        it_response_free(&r);

        post_on(h, "/l2_loss", "text/plain", big, 2 * LIMIT, &r);
        json_decref(it_expect_problem(&r, 415, "unsupported_media_type"));
        it_response_free(&r);
    }
    /* And on a new connection. */
    it_post(srv.port, "/l2_loss", "application/json", good, strlen(good), &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    curl_easy_cleanup(h);
    free(big);
    free(mid);
}

Test(errors, problem_on_every_error_has_request_id)
{
    struct it_response r;
    it_post(srv.port, "/l2_loss", "application/json", "[", 1, &r);
    char id[128];
    cr_assert(it_header(&r, "X-Request-Id", id, sizeof id), "no X-Request-Id on a 400");
    it_response_free(&r);
}

/* Refused from Content-Length alone: the 413 comes back before any body
 * byte is sent, with Connection: close. */
Test(errors, payload_too_large_before_the_body_is_read)
{
    int fd = it_connect(srv.port);
    const char *head = "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n";
    cr_assert(it_send_all(fd, head, strlen(head)));
    char buf[4096];
    bool closed;
    size_t n = it_recv_until(fd, buf, sizeof buf, NULL, 10000, &closed);
    close(fd);
    struct it_response r;
    cr_assert(it_parse_response(buf, n, &r), "no answer before the body: %.300s", buf);
    it_check_openapi("POST", "/l2_loss", &r);
    json_decref(it_expect_problem(&r, 413, "payload_too_large"));
    char conn[64] = "";
    cr_assert(it_header(&r, "Connection", conn, sizeof conn) && strcasecmp(conn, "close") == 0,
              "a refusal with the body unread has no Connection: close");
    it_response_free(&r);
}

/* A chunked body that goes wrong at its first byte is still answered (at
 * its end at the latest), and the server serves the next request. */
Test(errors, chunked_body_error_then_next_request)
{
    char *bad = json_body_of(LIMIT - 10);
    bad[0] = '#';
    struct it_chunks src = {bad, LIMIT - 10, 0, 333, 0};
    struct it_request req = {.method = "POST",
                             .target = "/l2_loss",
                             .content_type = "application/json",
                             .read_fn = it_read_chunks,
                             .read_ctx = &src,
                             .read_size = -1};
    CURL *h = curl_easy_init();
    struct it_response r;
    it_http(h, srv.port, &req, &r);
    json_t *j = it_expect_problem(&r, 400, "invalid_json");
    it_expect_int(j, "offset", 0);
    json_decref(j);
    it_response_free(&r);
    post_on(h, "/l2_loss", "application/json", "[3, 4]", 6, &r);
    cr_assert_eq(r.status, 200, "after a chunked 400: %ld %s", r.status, r.body);
    it_response_free(&r);
    curl_easy_cleanup(h);
    free(bad);
}

/* Requests libmicrohttpd itself refuses (or that are not HTTP at all) never
 * take the server down; what it answers to them is its own, so only the
 * server's survival is checked here. */
Test(errors, malformed_requests_do_not_take_the_server_down)
{
    static char huge[300000];
    memset(huge, 'a', sizeof huge);
    static const char big_head[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ";
    memcpy(huge, big_head, sizeof big_head - 1);
    memcpy(huge + sizeof huge - 4, "\r\n\r\n", 4);
#define JUNK(lit)                                                                                  \
    {                                                                                              \
        lit, sizeof lit - 1                                                                        \
    }
    struct {
        const char *data;
        size_t len;
    } junk[] = {
        JUNK("GARBAGE\r\n\r\n"),
        JUNK("POST /l2_loss HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n[1]"),
        JUNK("POST /l2_loss HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n[1]"),
        JUNK("POST /l2_loss HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        JUNK("GET /\0healthz HTTP/1.1\r\n\r\n"),
        JUNK("\r\n\r\n\r\n"),
        JUNK("GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n"),
        {huge, sizeof huge},
    };
#undef JUNK
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        int fd = it_connect(srv.port);
        it_send_all(fd, junk[i].data, junk[i].len);
        shutdown(fd, SHUT_WR);
        it_wait_closed(fd, 1000); /* its answer, if any; --timeout closes it at the latest */
        close(fd);
        cr_assert(it_alive(&srv), "junk %zu took the server down", i);
        struct it_response r;
        it_get(srv.port, "/healthz", &r);
        cr_assert_eq(r.status, 200, "after junk %zu: %ld", i, r.status);
        it_response_free(&r);
    }
}

/* A too-large Content-Length is the 413 even when the body's own checks
 * (a dtype beside .npy, raw without dtype) would refuse it too: API.md's
 * order is 415 -> 413 -> body. */
static void expect_413_from_headers(const char *target, const char *content_type)
{
    char head[512];
    struct it_response r;

    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
             "Content-Length: 300000000\r\n\r\n",
             target, content_type);
    it_raw_exchange(srv.port, head, &r);
    it_check_openapi("POST", target, &r);
    json_decref(it_expect_problem(&r, 413, "payload_too_large"));
    it_response_free(&r);
}

Test(errors, payload_too_large_before_body_checks)
{
    expect_413_from_headers("/l2_loss?dtype=float64", "application/x-npy");
    expect_413_from_headers("/l2_loss", "application/octet-stream");
    expect_413_from_headers("/regularize?scale=2.0&dtype=float16", "application/x-npy");

    /* Within the limit the body's checks still run. */
    json_decref(
        post_problem("/l2_loss?dtype=float64", "application/x-npy", "xxxx", 4, 400, "invalid_npy"));
    json_decref(
        post_problem("/l2_loss", "application/octet-stream", "xxxx", 4, 400, "invalid_dtype"));
    /* A request the body checks accept is refused the same way. */
    expect_413_from_headers("/l2_loss?dtype=float32", "application/octet-stream");
}

Test(errors, unsupported_type_before_payload_too_large)
{
    struct it_response r;

    it_raw_exchange(srv.port,
                    "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                    "Content-Length: 300000000\r\n\r\n",
                    &r);
    json_decref(it_expect_problem(&r, 415, "unsupported_media_type"));
    it_response_free(&r);
}

/* A file sent as raw values is refused, never summed as numbers. */
Test(errors, format_mismatch)
{
    static const char header[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    unsigned char st[8 + sizeof header - 1 + 4] = {0};
    unsigned char npy[20] = "\x93NUMPY\x01\x00\x76\x00{'descr'";

    st[0] = (unsigned char)(sizeof header - 1);
    memcpy(st + 8, header, sizeof header - 1);
    json_t *j = post_problem("/l2_loss?dtype=float32", "application/octet-stream", st, sizeof st,
                             400, "format_mismatch");
    cr_assert_not_null(
        strstr(json_string_value(json_object_get(j, "detail")), "application/x-safetensors"));
    json_decref(j);
    j = post_problem("/l2_loss?dtype=float16", "application/octet-stream", npy, sizeof npy, 400,
                     "format_mismatch");
    cr_assert_not_null(
        strstr(json_string_value(json_object_get(j, "detail")), "application/x-npy"));
    json_decref(j);
}
