/* test_ops_tls.c -- --tls-cert/--tls-key: HTTPS with a throwaway
 * certificate, verified by libcurl against it; bad, missing or unmatched
 * files are a startup error (exit 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(ops_tls, .init = it_setup, .fini = it_teardown, .timeout = 90);

static char dir[64];
static char cert[128], key[128], other_key[128];

static void make_certs(void)
{
    it_tmpdir(dir);
    it_make_cert(dir, "a");
    snprintf(cert, sizeof cert, "%s/a-cert.pem", dir);
    snprintf(key, sizeof key, "%s/a-key.pem", dir);
}

Test(ops_tls, serves_https)
{
    struct it_server srv;
    struct it_response r;
    make_certs();
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, "--drain-timeout", "0", NULL};
    it_start(&srv, args, NULL);
    cr_assert(srv.tls, "the startup line does not say https://");

    struct it_request get = {.method = "GET", .target = "/healthz", .cainfo = cert};
    it_http(NULL, srv.port, &get, &r);
    cr_assert_eq(r.status, 200);
    json_t *j = it_json(&r);
    it_expect_str(j, "status", "ok");
    json_decref(j);
    it_response_free(&r);

    /* Keep-alive and a body over TLS, several requests on one handle. */
    CURL *h = curl_easy_init();
    for (int i = 0; i < 3; i++) {
        struct it_request post = {.method = "POST",
                                  .target = "/l2_loss",
                                  .content_type = "application/json",
                                  .body = "[[1, 2], [3, 4]]",
                                  .body_len = 16,
                                  .cainfo = cert};
        it_http(h, srv.port, &post, &r);
        cr_assert_eq(r.status, 200, "body %s", r.body);
        j = it_json(&r);
        it_expect_result(j, 15.0, 30.0, 4);
        json_decref(j);
        it_response_free(&r);
    }
    curl_easy_cleanup(h);

    /* Plain HTTP to the TLS port gets no HTTP answer. */
    struct it_request plain = {.method = "GET", .target = "/healthz", .timeout_s = 5};
    CURLcode rc = it_perform(NULL, srv.port, &plain, &r);
    cr_assert(rc != CURLE_OK || r.status != 200, "plain HTTP was answered 200 on the TLS port");
    it_response_free(&r);
    it_rmdir(dir);
}

Test(ops_tls, env_variables)
{
    struct it_server srv;
    struct it_response r;
    char ce[200], ke[200];
    make_certs();
    snprintf(ce, sizeof ce, "L2D_TLS_CERT=%s", cert);
    snprintf(ke, sizeof ke, "L2D_TLS_KEY=%s", key);
    const char *env[] = {ce, ke, NULL};
    it_start(&srv, NULL, env);
    cr_assert(srv.tls);
    struct it_request get = {.method = "GET", .target = "/readyz", .cainfo = cert};
    it_http(NULL, srv.port, &get, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    it_rmdir(dir);
}

static void expect_exit_2(const char *c, const char *k, const char *want_in_stderr)
{
    const char *args[10];
    size_t n = 0;
    args[n++] = "--bind";
    args[n++] = "127.0.0.1";
    args[n++] = "--port";
    args[n++] = "0";
    if (c != NULL) {
        args[n++] = "--tls-cert";
        args[n++] = c;
    }
    if (k != NULL) {
        args[n++] = "--tls-key";
        args[n++] = k;
    }
    args[n] = NULL;
    struct it_run_result res;
    it_run(args, NULL, &res);
    cr_assert_eq(res.exit_code, 2, "cert %s key %s: exit %d, want 2; stderr: %s", c ? c : "-",
                 k ? k : "-", res.exit_code, res.err);
    cr_assert(strstr(res.err, want_in_stderr) != NULL, "stderr lacks \"%s\": %s", want_in_stderr,
              res.err);
    it_run_free(&res);
}

Test(ops_tls, bad_files_exit_2)
{
    make_certs();
    it_make_cert(dir, "b");
    snprintf(other_key, sizeof other_key, "%s/b-key.pem", dir);
    char *garbage = it_write_file(dir, "garbage.pem", "not a certificate\n");
    char *fake = it_write_file(dir, "fake.pem",
                               "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    char *empty = it_write_file(dir, "empty.pem", "");

    expect_exit_2(cert, NULL, "--tls-key");
    expect_exit_2(NULL, key, "--tls-cert");
    expect_exit_2("/nonexistent/cert.pem", key, "/nonexistent/cert.pem");
    expect_exit_2(cert, "/nonexistent/key.pem", "/nonexistent/key.pem");
    expect_exit_2(garbage, key, "PEM");
    expect_exit_2(empty, key, "empty");
    expect_exit_2(fake, key, "--tls-cert");
    expect_exit_2(cert, cert, "--tls-cert");      /* a certificate is not a key */
    expect_exit_2(cert, other_key, "--tls-cert"); /* the key of another certificate */
    free(garbage);
    free(fake);
    free(empty);
    it_rmdir(dir);
}
