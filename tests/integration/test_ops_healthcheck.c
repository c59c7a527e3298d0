/* test_ops_healthcheck.c -- `l2d --healthcheck URL` against a real server:
 * exit 0 on 200, 1 on anything else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(ops_healthcheck, .init = it_setup, .fini = it_teardown, .timeout = 60);

static int probe(const char *url, char **err_out)
{
    const char *args[] = {"--healthcheck", url, NULL};
    struct it_run_result res;
    it_run(args, NULL, &res);
    int code = res.exit_code;
    if (err_out != NULL)
        *err_out = strdup(res.err);
    it_run_free(&res);
    return code;
}

Test(ops_healthcheck, exit_codes)
{
    struct it_server srv;
    char url[128];
    char *err = NULL;
    it_start(&srv, NULL, NULL);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", srv.port);
    cr_assert_eq(probe(url, &err), 0, "stderr: %s", err);
    free(err);
    snprintf(url, sizeof url, "http://localhost:%d/readyz", srv.port);
    cr_assert_eq(probe(url, &err), 0, "stderr: %s", err);
    free(err);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/no-such-path", srv.port);
    cr_assert_eq(probe(url, &err), 1);
    cr_assert(strstr(err, "404") != NULL, "stderr: %s", err);
    free(err);

    /* Nothing listens there any more. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", it_free_port());
    cr_assert_eq(probe(url, &err), 1);
    free(err);

    cr_assert_eq(probe("https://127.0.0.1:1/healthz", &err), 1);
    cr_assert(strstr(err, "http://") != NULL, "stderr: %s", err);
    free(err);
    cr_assert_eq(probe("not a url", NULL), 1);
}

Test(ops_healthcheck, probes_stay_open_with_a_token)
{
    struct it_server srv;
    char dir[64], url[128];
    char *err = NULL;
    it_tmpdir(dir);
    char *tok = it_write_file(dir, "token", "hc-token\n");
    const char *args[] = {"--auth-token-file", tok, NULL};
    it_start(&srv, args, NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", srv.port);
    cr_assert_eq(probe(url, &err), 0, "stderr: %s", err);
    free(err);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", srv.port);
    cr_assert_eq(probe(url, &err), 1); /* 401 */
    cr_assert(strstr(err, "401") != NULL, "stderr: %s", err);
    free(err);
    free(tok);
    it_rmdir(dir);
}
