/* test_endpoints.c -- every endpoint of the real binary, answered as API.md
 * says: the compute endpoints' exact numbers, health, readiness, metrics,
 * the OpenAPI document, HEAD, X-Request-Id, and absolute-form targets. */
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

static struct it_server srv;

static void start_default(void)
{
    it_setup();
    it_start(&srv, NULL, NULL);
}

TestSuite(endpoints, .init = start_default, .fini = it_teardown, .timeout = 60);

static const char MATRIX[] = "[[1, 2], [3, 4]]";
static const char NAMED[] =
    "{\"tensors\": {\"dense/kernel\": [[1, 2], [3, 4]], \"dense/bias\": [1]}}";

Test(endpoints, l2_loss_matrix_exact)
{
    struct it_response r;
    it_post(srv.port, "/l2_loss", "application/json", MATRIX, strlen(MATRIX), &r);
    cr_assert_eq(r.status, 200, "status %ld: %s", r.status, r.body);
    cr_assert(strncmp(r.content_type, "application/json", 16) == 0, "Content-Type %s",
              r.content_type);
    json_t *j = it_json(&r);
    it_expect_result(j, 15.0, 30.0, 4);
    it_expect_real(j, "norm", 5.477225575051661);
    const long long dims[] = {2, 2};
    it_expect_shape(j, dims, 2);
    it_expect_str(j, "dtype", "float64");
    cr_assert_null(json_object_get(j, "scale"), "/l2_loss must not report a scale");
    it_expect_number_text(&r, "loss", "15.0");
    it_expect_number_text(&r, "sum_squares", "30.0");
    it_expect_number_text(&r, "norm", "5.477225575051661");
    it_expect_number_text(&r, "count", "4");
    json_decref(j);
    it_response_free(&r);
}

Test(endpoints, l2_loss_named_tensors_exact)
{
    struct it_response r;
    it_post(srv.port, "/l2_loss", "application/json", NAMED, strlen(NAMED), &r);
    cr_assert_eq(r.status, 200, "status %ld: %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_result(j, 15.5, 31.0, 5);
    it_expect_real(j, "norm", 5.5677643628300215);
    it_expect_str(j, "dtype", "float64");
    json_t *t = json_object_get(j, "tensors");
    cr_assert(json_is_object(t), "no \"tensors\" object: %s", r.body);
    cr_assert_eq(json_object_size(t), 2);
    json_t *kernel = json_object_get(t, "dense/kernel");
    json_t *bias = json_object_get(t, "dense/bias");
    cr_assert(json_is_object(kernel) && json_is_object(bias), "entries missing: %s", r.body);
    it_expect_result(kernel, 15.0, 30.0, 4);
    it_expect_real(kernel, "norm", 5.477225575051661);
    const long long kd[] = {2, 2}, bd[] = {1};
    it_expect_shape(kernel, kd, 2);
    it_expect_result(bias, 0.5, 1.0, 1);
    it_expect_shape(bias, bd, 1);
    /* In the order sent. */
    const char *pk = strstr(r.body, "\"dense/kernel\"");
    const char *pb = strstr(r.body, "\"dense/bias\"");
    cr_assert(pk != NULL && pb != NULL && pk < pb, "tensors not in the order sent: %s", r.body);
    json_decref(j);
    it_response_free(&r);
}

Test(endpoints, regularize_scale)
{
    struct it_response r;
    it_post(srv.port, "/regularize?scale=0.01", "application/json", MATRIX, strlen(MATRIX), &r);
    cr_assert_eq(r.status, 200, "status %ld: %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "loss", 0.01 * 15.0);
    it_expect_real(j, "loss", 0.15);
    it_expect_real(j, "sum_squares", 30.0);
    it_expect_real(j, "norm", 5.477225575051661);
    it_expect_int(j, "count", 4);
    it_expect_real(j, "scale", 0.01);
    json_t *dis = json_object_get(j, "disabled");
    cr_assert(dis == NULL || json_is_false(dis), "disabled must not be true for scale 0.01");
    it_expect_number_text(&r, "loss", "0.15");
    it_expect_number_text(&r, "scale", "0.01");
    json_decref(j);
    it_response_free(&r);
}

Test(endpoints, regularize_zero_scale_disables)
{
    struct it_response r;
    it_post(srv.port, "/regularize?scale=0.0", "application/json", MATRIX, strlen(MATRIX), &r);
    cr_assert_eq(r.status, 200, "status %ld: %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "loss", 0.0);
    cr_assert(json_is_true(json_object_get(j, "disabled")), "no \"disabled\": true: %s", r.body);
    it_expect_real(j, "scale", 0.0);
    it_expect_number_text(&r, "loss", "0.0");
    json_decref(j);
    it_response_free(&r);

    it_post(srv.port, "/regularize?scale=-0.0", "application/json", MATRIX, strlen(MATRIX), &r);
    cr_assert_eq(r.status, 200, "scale=-0.0: status %ld: %s", r.status, r.body);
    j = it_json(&r);
    json_t *loss = json_object_get(j, "loss");
    cr_assert(json_is_real(loss) && json_real_value(loss) == 0.0, "loss not 0: %s", r.body);
    cr_assert(json_is_true(json_object_get(j, "disabled")), "no \"disabled\": true: %s", r.body);
    json_decref(j);
    it_response_free(&r);
}

Test(endpoints, regularize_zero_scale_still_validates_body)
{
    struct it_response r;
    it_post(srv.port, "/regularize?scale=0.0", "application/json", "[1, \"x\"]", 8, &r);
    json_decref(it_expect_problem(&r, 400, "invalid_tensor"));
    it_response_free(&r);
}

Test(endpoints, regularize_named_tensors)
{
    struct it_response r;
    it_post(srv.port, "/regularize?scale=0.5", "application/json", NAMED, strlen(NAMED), &r);
    cr_assert_eq(r.status, 200, "status %ld: %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "loss", 7.75);
    it_expect_real(j, "sum_squares", 31.0);
    it_expect_real(j, "scale", 0.5);
    json_t *t = json_object_get(j, "tensors");
    it_expect_real(json_object_get(t, "dense/kernel"), "loss", 7.5);
    it_expect_real(json_object_get(t, "dense/bias"), "loss", 0.25);
    json_decref(j);
    it_response_free(&r);
}

Test(endpoints, scalar_empty_and_no_tensors)
{
    struct it_response r;
    it_post(srv.port, "/l2_loss", "application/json", "3", 1, &r);
    cr_assert_eq(r.status, 200, "scalar: %ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_result(j, 4.5, 9.0, 1);
    it_expect_shape(j, NULL, 0);
    json_decref(j);
    it_response_free(&r);

    it_post(srv.port, "/l2_loss", "application/json", "[]", 2, &r);
    cr_assert_eq(r.status, 200, "empty: %ld %s", r.status, r.body);
    j = it_json(&r);
    it_expect_result(j, 0.0, 0.0, 0);
    const long long zero[] = {0};
    it_expect_shape(j, zero, 1);
    json_decref(j);
    it_response_free(&r);

    it_post(srv.port, "/l2_loss", "application/json", "{\"tensors\": {}}", 15, &r);
    cr_assert_eq(r.status, 200, "no tensors: %ld %s", r.status, r.body);
    j = it_json(&r);
    it_expect_result(j, 0.0, 0.0, 0);
    cr_assert(json_is_object(json_object_get(j, "tensors")));
    cr_assert_eq(json_object_size(json_object_get(j, "tensors")), 0);
    json_decref(j);
    it_response_free(&r);
}

/* 1e16 + 1 + 1 is 10000000000000002 exactly; a running float64 sum loses
 * both ones (1e16 + 1 rounds back to 1e16). */
Test(endpoints, sum_of_squares_is_exact)
{
    const char *body = "[1e8, 1, 1]";
    struct it_response r;
    it_post(srv.port, "/l2_loss", "application/json", body, strlen(body), &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "sum_squares", 10000000000000002.0);
    it_expect_real(j, "loss", 5000000000000001.0);
    json_decref(j);
    it_response_free(&r);
}

Test(endpoints, content_type_case_and_parameters)
{
    struct it_response r;
    it_post(srv.port, "/l2_loss", "Application/JSON; charset=utf-8", MATRIX, strlen(MATRIX), &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "loss", 15.0);
    json_decref(j);
    it_response_free(&r);

    it_post(srv.port, "/l2_loss", NULL, MATRIX, strlen(MATRIX), &r);
    cr_assert_eq(r.status, 200, "no Content-Type: %ld %s", r.status, r.body);
    j = it_json(&r);
    it_expect_real(j, "loss", 15.0);
    json_decref(j);
    it_response_free(&r);
}

Test(endpoints, healthz)
{
    struct it_response r;
    it_get(srv.port, "/healthz", &r);
    cr_assert_eq(r.status, 200);
    json_t *j = it_json(&r);
    it_expect_str(j, "status", "ok");
    it_expect_str(j, "version", srv.version);
    json_decref(j);
    it_response_free(&r);

    it_get(srv.port, "/healthz?ignored=1&x", &r);
    cr_assert_eq(r.status, 200, "GET endpoints ignore their query: %ld", r.status);
    it_response_free(&r);
}

Test(endpoints, head_works_where_get_does)
{
    const char *paths[] = {"/healthz", "/readyz", "/metrics", "/openapi.yaml"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        struct it_response r;
        struct it_request req = {.method = "HEAD", .target = paths[i]};
        it_http(NULL, srv.port, &req, &r);
        cr_assert_eq(r.status, 200, "HEAD %s: %ld", paths[i], r.status);
        cr_assert_eq(r.body_len, 0, "HEAD %s sent a body", paths[i]);
        it_response_free(&r);
    }
}

Test(endpoints, readyz_serving)
{
    struct it_response r;
    it_get(srv.port, "/readyz", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    it_response_free(&r);
}

/* The value of the sample whose line starts with name and contains every
 * label fragment; -1 when there is none. */
static double metric_value(const char *text, const char *name, const char *frag1, const char *frag2)
{
    size_t nlen = strlen(name);
    const char *p = text;
    while (p != NULL && *p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[1024];
        if (len < sizeof line) {
            memcpy(line, p, len);
            line[len] = '\0';
            if (strncmp(line, name, nlen) == 0 && line[nlen] == '{' &&
                (frag1 == NULL || strstr(line, frag1)) && (frag2 == NULL || strstr(line, frag2))) {
                const char *sp = strrchr(line, ' ');
                if (sp != NULL)
                    return strtod(sp + 1, NULL);
            }
        }
        p = eol ? eol + 1 : NULL;
    }
    return -1;
}

Test(endpoints, metrics_count_requests)
{
    struct it_response r;
    for (int i = 0; i < 3; i++) {
        it_post(srv.port, "/l2_loss", "application/json", MATRIX, strlen(MATRIX), &r);
        cr_assert_eq(r.status, 200);
        it_response_free(&r);
    }
    it_post(srv.port, "/l2_loss", "application/json", "[1,", 3, &r);
    cr_assert_eq(r.status, 400);
    it_response_free(&r);

    /* A request is counted when its completion callback runs, which may be
     * just after the client has read the answer: poll briefly (2 s at most). */
    double ok = 0, bad = 0;
    for (int tries = 0; tries < 40; tries++) {
        it_get(srv.port, "/metrics", &r);
        cr_assert_eq(r.status, 200);
        ok = metric_value(r.body, "l2d_requests_total", "l2_loss\"", "code=\"200\"");
        bad = metric_value(r.body, "l2d_requests_total", "l2_loss\"", "code=\"400\"");
        if (ok == 3.0 && bad == 1.0)
            break;
        it_response_free(&r);
        usleep(50 * 1000);
    }
    cr_assert(strncmp(r.content_type, "text/plain", 10) == 0, "Content-Type %s", r.content_type);
    cr_assert(strstr(r.content_type, "version=0.0.4") != NULL, "Content-Type %s", r.content_type);
    cr_assert(strstr(r.body, "# TYPE l2d_requests_total counter") != NULL, "%s", r.body);
    cr_assert(strstr(r.body, "# TYPE l2d_request_duration_seconds histogram") != NULL, "%s",
              r.body);
    cr_assert(ok == 3.0, "l2d_requests_total{/l2_loss,200} = %g, want 3\n%s", ok, r.body);
    cr_assert(bad == 1.0, "l2d_requests_total{/l2_loss,400} = %g, want 1\n%s", bad, r.body);
    double inf =
        metric_value(r.body, "l2d_request_duration_seconds_bucket", "l2_loss\"", "le=\"+Inf\"");
    cr_assert(inf == 4.0, "duration bucket +Inf for /l2_loss = %g, want 4\n%s", inf, r.body);
    double cnt = metric_value(r.body, "l2d_request_duration_seconds_count", "l2_loss\"", NULL);
    cr_assert(cnt == 4.0, "duration count for /l2_loss = %g, want 4\n%s", cnt, r.body);
    cr_assert(metric_value(r.body, "l2d_request_duration_seconds_sum", "l2_loss\"", NULL) >= 0);
    it_response_free(&r);
}

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "cannot open %s", path);
    cr_assert(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    cr_assert(n >= 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    cr_assert(buf != NULL);
    cr_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

Test(endpoints, openapi_yaml_is_the_repository_file)
{
    char path[PATH_MAX];
    const char *env = getenv("L2D_OPENAPI_YAML");
    if (env != NULL && env[0] != '\0') {
        snprintf(path, sizeof path, "%s", env);
    } else {
        char bin[PATH_MAX];
        snprintf(bin, sizeof bin, "%s", it_bin());
        char *dir = dirname(bin);
        snprintf(path, sizeof path, "%s/../openapi.yaml", dir);
    }
    size_t want_len;
    char *want = read_whole(path, &want_len);

    struct it_response r;
    it_get(srv.port, "/openapi.yaml", &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.content_type, "yaml") != NULL, "Content-Type %s", r.content_type);
    cr_assert_eq(r.body_len, want_len, "served %zu bytes, %s has %zu", r.body_len, path, want_len);
    cr_assert(memcmp(r.body, want, want_len) == 0, "served document differs from %s", path);
    it_response_free(&r);
    free(want);
}

Test(endpoints, request_id_echoed_and_logged)
{
    const char *hdrs[] = {"X-Request-Id: it-req-7f3a9c", NULL};
    struct it_request req = {.method = "POST",
                             .target = "/l2_loss",
                             .content_type = "application/json",
                             .body = MATRIX,
                             .body_len = strlen(MATRIX),
                             .headers = hdrs};
    struct it_response r;
    it_http(NULL, srv.port, &req, &r);
    cr_assert_eq(r.status, 200);
    char id[256];
    cr_assert(it_header(&r, "X-Request-Id", id, sizeof id), "no X-Request-Id in response");
    cr_assert_str_eq(id, "it-req-7f3a9c");
    it_response_free(&r);

    /* The access log line of the request carries it (the log may trail the
     * response). */
    char line[1024] = "";
    for (int i = 0; i < 200 && line[0] == '\0'; i++) {
        char *log = it_server_log(&srv);
        const char *p = strstr(log, "it-req-7f3a9c");
        if (p != NULL) {
            const char *start = p, *end = strchr(p, '\n');
            while (start > log && start[-1] != '\n')
                start--;
            if (end == NULL)
                end = p + strlen(p);
            snprintf(line, sizeof line, "%.*s", (int)(end - start), start);
        }
        free(log);
        if (line[0] == '\0')
            it_sleep_ms(10);
    }
    cr_assert(line[0] != '\0', "the request id is not in the access log");
    cr_assert(strstr(line, "POST") && strstr(line, "/l2_loss") && strstr(line, "200"),
              "the access log line does not show the request: %s", line);

    /* Also on errors. */
    struct it_request bad = {.method = "GET", .target = "/nope", .headers = hdrs};
    it_http(NULL, srv.port, &bad, &r);
    cr_assert_eq(r.status, 404);
    cr_assert(it_header(&r, "X-Request-Id", id, sizeof id), "no X-Request-Id on a 404");
    cr_assert_str_eq(id, "it-req-7f3a9c");
    it_response_free(&r);
}

Test(endpoints, request_id_generated)
{
    char id1[256], id2[256];
    struct it_response r;
    it_get(srv.port, "/healthz", &r);
    cr_assert(it_header(&r, "X-Request-Id", id1, sizeof id1), "no generated X-Request-Id");
    cr_assert(strlen(id1) > 0);
    it_response_free(&r);
    it_get(srv.port, "/healthz", &r);
    cr_assert(it_header(&r, "X-Request-Id", id2, sizeof id2), "no generated X-Request-Id");
    cr_assert_str_neq(id1, id2, "two requests got the same generated id %s", id1);
    it_response_free(&r);
}

Test(endpoints, head_on_post_only_and_unknown_paths)
{
    struct it_request req = {.method = "HEAD", .target = "/l2_loss"};
    struct it_response r;
    it_http(NULL, srv.port, &req, &r);
    cr_assert_eq(r.status, 405, "HEAD /l2_loss: %ld", r.status);
    char allow[128];
    cr_assert(it_header(&r, "Allow", allow, sizeof allow) && strstr(allow, "POST"),
              "HEAD /l2_loss: no Allow: POST");
    it_response_free(&r);
    req.target = "/nope";
    it_http(NULL, srv.port, &req, &r);
    cr_assert_eq(r.status, 404, "HEAD /nope: %ld", r.status);
    it_response_free(&r);
}

/* Two requests written back to back on one connection are answered in order. */
Test(endpoints, pipelined_requests_in_order)
{
    const char *reqs = "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/json\r\nContent-Length: 6\r\n\r\n[3, 4]"
                       "POST /regularize?scale=0.5 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/json\r\nContent-Length: 3\r\n"
                       "Connection: close\r\n\r\n[2]";
    int fd = it_connect(srv.port);
    cr_assert(it_send_all(fd, reqs, strlen(reqs)));
    char buf[8192];
    bool closed;
    size_t n = it_recv_until(fd, buf, sizeof buf, NULL, 10000, &closed);
    close(fd);
    struct it_response r1, r2;
    cr_assert(it_parse_response(buf, n, &r1), "no first response: %.300s", buf);
    it_check_openapi("POST", "/l2_loss", &r1);
    cr_assert_eq(r1.status, 200, "%ld %s", r1.status, r1.body);
    json_t *j = it_json(&r1);
    it_expect_result(j, 12.5, 25.0, 2);
    json_decref(j);
    const char *second = strstr(buf + 12, "HTTP/1.1 ");
    cr_assert(second != NULL, "no second response: %.600s", buf);
    cr_assert(it_parse_response(second, n - (size_t)(second - buf), &r2),
              "incomplete second response: %s", second);
    it_check_openapi("POST", "/regularize", &r2);
    cr_assert_eq(r2.status, 200, "%ld %s", r2.status, r2.body);
    j = it_json(&r2);
    it_expect_real(j, "loss", 1.0);
    json_decref(j);
    it_response_free(&r1);
    it_response_free(&r2);
}

/* RFC 9112 section 3.2.2: a server MUST accept the absolute form. */
Test(endpoints, absolute_form_get)
{
    struct it_response r;
    char text[512];

    snprintf(text, sizeof text,
             "GET http://127.0.0.1:%d/healthz HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "Connection: close\r\n\r\n",
             srv.port, srv.port);
    it_raw_exchange(srv.port, text, &r);
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
    it_raw_exchange(srv.port, text, &r);
    cr_assert_eq(r.status, 200, "absolute-form GET /readyz: %ld %s", r.status, r.body);
    it_response_free(&r);

    /* An unknown path is still unknown in absolute form. */
    snprintf(text, sizeof text,
             "GET http://127.0.0.1:%d/nope HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Connection: close\r\n\r\n",
             srv.port);
    it_raw_exchange(srv.port, text, &r);
    json_decref(it_expect_problem(&r, 404, "not_found"));
    it_response_free(&r);
}

/* The query is split off after the authority is stripped: the scale
 * reaches /regularize, and the answer is exact. */
Test(endpoints, absolute_form_post_with_query)
{
    struct it_response r;
    char text[512];

    snprintf(text, sizeof text,
             "POST hTtP://127.0.0.1:%d/regularize?scale=0.5 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Content-Type: application/json\r\nContent-Length: 5\r\n"
             "Connection: close\r\n\r\n[3,4]",
             srv.port);
    it_raw_exchange(srv.port, text, &r);
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
    it_raw_exchange(srv.port, text, &r);
    json_decref(it_expect_problem(&r, 400, "invalid_parameter"));
    it_response_free(&r);
}
