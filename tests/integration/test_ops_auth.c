/* test_ops_auth.c -- --auth-token-file: which paths need the token, the 401
 * answer, the order of checks, whitespace after the token, and that the
 * token never reaches the log. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "harness.h"

#define TOKEN "tok-4f9c2e7a1b"

TestSuite(ops_auth, .init = it_setup, .fini = it_teardown, .timeout = 60);

static char dir[64];
static char *token_path;

static void start_with_token(struct it_server *srv)
{
    it_tmpdir(dir);
    token_path = it_write_file(dir, "token", TOKEN "\n");
    const char *args[] = {"--auth-token-file", token_path, "--drain-timeout", "0", NULL};
    it_start(srv, args, NULL);
}

static void done(void)
{
    it_rmdir(dir);
    free(token_path);
}

/* A request with an optional Authorization header, without the openapi.yaml
 * check (401 may not be declared everywhere). */
static void send_req(int port, const char *method, const char *target, const char *auth,
                     const char *content_type, const char *body, struct it_response *r)
{
    char hdr[256];
    const char *headers[] = {hdr, NULL};
    snprintf(hdr, sizeof hdr, "Authorization: %s", auth != NULL ? auth : "");
    struct it_request req = {.method = method,
                             .target = target,
                             .content_type = content_type,
                             .body = body,
                             .body_len = body != NULL ? strlen(body) : 0,
                             .headers = auth != NULL ? headers : NULL};
    CURLcode rc = it_perform(NULL, port, &req, r);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, target, curl_easy_strerror(rc));
}

static void expect_401(const struct it_response *r)
{
    json_t *j = it_expect_problem(r, 401, "unauthorized");
    json_decref(j);
    char www[128];
    cr_assert(it_header(r, "WWW-Authenticate", www, sizeof www), "no WWW-Authenticate header");
    cr_assert(strncmp(www, "Bearer", 6) == 0, "WWW-Authenticate: %s", www);
}

Test(ops_auth, protected_paths_need_the_token)
{
    struct it_server srv;
    struct it_response r;
    start_with_token(&srv);

    const char *get_paths[] = {"/metrics", "/openapi.yaml"};
    for (size_t i = 0; i < 2; i++) {
        send_req(srv.port, "GET", get_paths[i], NULL, NULL, NULL, &r);
        expect_401(&r);
        it_response_free(&r);
        send_req(srv.port, "GET", get_paths[i], "Bearer wrong-token", NULL, NULL, &r);
        expect_401(&r);
        it_response_free(&r);
        send_req(srv.port, "GET", get_paths[i], "Bearer " TOKEN, NULL, NULL, &r);
        cr_assert_eq(r.status, 200, "%s with the token: %ld", get_paths[i], r.status);
        it_check_openapi("GET", get_paths[i], &r);
        it_response_free(&r);
    }
    send_req(srv.port, "POST", "/l2_loss", NULL, "application/json", "[3, 4]", &r);
    expect_401(&r);
    it_response_free(&r);
    send_req(srv.port, "POST", "/l2_loss", "Bearer " TOKEN "x", "application/json", "[3, 4]", &r);
    expect_401(&r);
    it_response_free(&r);
    send_req(srv.port, "POST", "/l2_loss", "Basic " TOKEN, "application/json", "[3, 4]", &r);
    expect_401(&r);
    it_response_free(&r);
    send_req(srv.port, "POST", "/l2_loss", "bearer " TOKEN, "application/json", "[3, 4]", &r);
    cr_assert_eq(r.status, 200, "body %s", r.body);
    it_check_openapi("POST", "/l2_loss", &r);
    json_t *j = it_json(&r);
    it_expect_result(j, 12.5, 25.0, 2);
    json_decref(j);
    it_response_free(&r);
    send_req(srv.port, "POST", "/regularize?scale=0.5", "Bearer " TOKEN, "application/json",
             "[3, 4]", &r);
    cr_assert_eq(r.status, 200, "body %s", r.body);
    it_response_free(&r);
    done();
}

Test(ops_auth, probes_stay_open)
{
    struct it_server srv;
    struct it_response r;
    start_with_token(&srv);
    it_get(srv.port, "/healthz", &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    it_get(srv.port, "/readyz", &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    struct it_request head = {.method = "HEAD", .target = "/healthz"};
    it_http(NULL, srv.port, &head, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    done();
}

/* 404 -> 405 -> 401 -> query -> 415 -> 413 -> body. */
Test(ops_auth, order_of_checks)
{
    struct it_server srv;
    struct it_response r;
    json_t *j;
    start_with_token(&srv);

    send_req(srv.port, "GET", "/nope", NULL, NULL, NULL, &r);
    j = it_expect_problem(&r, 404, "not_found");
    json_decref(j);
    it_response_free(&r);
    send_req(srv.port, "GET", "/l2_loss", NULL, NULL, NULL, &r);
    j = it_expect_problem(&r, 405, "method_not_allowed");
    json_decref(j);
    it_response_free(&r);
    send_req(srv.port, "POST", "/metrics", NULL, "application/json", "[1]", &r);
    j = it_expect_problem(&r, 405, "method_not_allowed");
    json_decref(j);
    it_response_free(&r);
    /* 401 before the query, the media type and the body. */
    send_req(srv.port, "POST", "/regularize?scale=1", NULL, "application/json", "[1]", &r);
    expect_401(&r);
    it_response_free(&r);
    send_req(srv.port, "POST", "/l2_loss", NULL, "text/plain", "[1]", &r);
    expect_401(&r);
    it_response_free(&r);
    send_req(srv.port, "POST", "/l2_loss", NULL, "application/json", "[1, ", &r);
    expect_401(&r);
    it_response_free(&r);
    /* With the token, the later checks answer. */
    send_req(srv.port, "POST", "/regularize?scale=1", "Bearer " TOKEN, "application/json", "[1]",
             &r);
    j = it_expect_problem(&r, 400, "invalid_scale");
    json_decref(j);
    it_response_free(&r);
    send_req(srv.port, "POST", "/l2_loss", "Bearer " TOKEN, "text/plain", "[1]", &r);
    j = it_expect_problem(&r, 415, "unsupported_media_type");
    json_decref(j);
    it_response_free(&r);
    done();
}

Test(ops_auth, token_never_logged)
{
    struct it_server srv;
    struct it_response r;
    start_with_token(&srv);
    send_req(srv.port, "GET", "/metrics", "Bearer " TOKEN, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    send_req(srv.port, "GET", "/metrics", "Bearer " TOKEN "-wrong", NULL, NULL, &r);
    cr_assert_eq(r.status, 401);
    it_response_free(&r);
    send_req(srv.port, "POST", "/l2_loss", "Bearer " TOKEN, "application/json", "[1]", &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    int status = it_stop(&srv, SIGTERM, 10000);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *log = it_server_log(&srv);
    cr_assert(strstr(log, "/l2_loss") != NULL, "no access line in:\n%s", log);
    cr_assert(strstr(log, "4f9c2e7a1b") == NULL, "the token is in the log:\n%s", log);
    free(log);
    done();
}

Test(ops_auth, env_variable_and_bad_token_files)
{
    struct it_server srv;
    struct it_response r;
    char env_var[300];
    it_tmpdir(dir);
    token_path = it_write_file(dir, "token", "  env-token \r\n\n");
    /* Leading spaces are part of the token file's content: refused (a token
     * is visible ASCII). */
    snprintf(env_var, sizeof env_var, "L2D_AUTH_TOKEN_FILE=%s", token_path);
    const char *env[] = {env_var, NULL};
    const char *args[] = {"--bind", "127.0.0.1", "--port", "0", NULL};
    struct it_run_result res;
    it_run(args, env, &res);
    cr_assert_eq(res.exit_code, 2, "exit %d; stderr %s", res.exit_code, res.err);
    it_run_free(&res);

    free(token_path);
    token_path = it_write_file(dir, "token", "env-token \r\n\n");
    it_start(&srv, NULL, env);
    send_req(srv.port, "GET", "/metrics", "Bearer env-token", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    /* whitespace around a field value is not part of it (RFC 9110 5.5) */
    send_req(srv.port, "GET", "/metrics", "Bearer env-token \t", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    send_req(srv.port, "GET", "/metrics", "Bearer env-tokenx", NULL, NULL, &r);
    cr_assert_eq(r.status, 401);
    it_response_free(&r);
    send_req(srv.port, "GET", "/metrics", "Bearer env-toke", NULL, NULL, &r);
    cr_assert_eq(r.status, 401);
    it_response_free(&r);

    const char *bad[] = {"", "\n", " \t\r\n"};
    for (size_t i = 0; i < 3; i++) {
        char *p = it_write_file(dir, "empty", bad[i]);
        const char *a[] = {"--bind", "127.0.0.1", "--port", "0", "--auth-token-file", p, NULL};
        it_run(a, NULL, &res);
        cr_assert_eq(res.exit_code, 2, "empty token %zu: exit %d", i, res.exit_code);
        cr_assert(strstr(res.err, "empty") != NULL, "stderr: %s", res.err);
        it_run_free(&res);
        free(p);
    }
    const char *missing[] = {
        "--bind", "127.0.0.1", "--port", "0", "--auth-token-file", "/nonexistent/l2d-token", NULL};
    it_run(missing, NULL, &res);
    cr_assert_eq(res.exit_code, 2, "missing token file: exit %d", res.exit_code);
    cr_assert(strstr(res.err, "/nonexistent/l2d-token") != NULL, "stderr: %s", res.err);
    it_run_free(&res);
    done();
}

/* RFC 9110 section 5.5: whitespace after the token is not part of it. */
Test(ops_auth, token_with_trailing_whitespace)
{
    struct it_server srv;
    struct it_response r;
    char text[512];
    start_with_token(&srv);

    static const char *const good[] = {TOKEN " ", TOKEN "\t", TOKEN " \t ", "\t" TOKEN " "};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(text, sizeof text,
                 "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                 "Connection: close\r\n\r\n",
                 good[i]);
        it_raw_exchange(srv.port, text, &r);
        cr_assert_eq(r.status, 200, "Bearer '%s': %ld %s", good[i], r.status, r.body);
        it_response_free(&r);
    }
    /* the last: the token without its last byte, then a space */
    static const char *const bad[] = {TOKEN "x ", TOKEN " x", " ", "tok-4f9c2e7a1 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text,
                 "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                 "Connection: close\r\n\r\n",
                 bad[i]);
        it_raw_exchange(srv.port, text, &r);
        json_decref(it_expect_problem(&r, 401, "unauthorized"));
        it_response_free(&r);
    }
    it_stop(&srv, SIGTERM, 10000);
    done();
}
