/* test_config.c -- parsing of the operations flags and their variables. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"

static enum config_action parse(struct config *cfg, char **argv, char *err_text, size_t cap)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    FILE *out = fopen("/dev/null", "w");
    FILE *err = fmemopen(err_text, cap, "w");
    enum config_action a = config_parse(cfg, argc, argv, out, err);
    fclose(out);
    fclose(err);
    return a;
}

static void clear_env(void)
{
    unsetenv("L2D_LOG_FORMAT");
    unsetenv("L2D_TLS_CERT");
    unsetenv("L2D_TLS_KEY");
    unsetenv("L2D_AUTH_TOKEN_FILE");
    unsetenv("L2D_HEALTHCHECK");
    unsetenv("L2D_SHUTDOWN_DELAY");
    unsetenv("L2D_DRAIN_TIMEOUT");
}

Test(config, ops_defaults, .init = clear_env)
{
    struct config cfg;
    char err[256] = "";
    char *argv[] = {"l2d", NULL};
    cr_assert_eq(parse(&cfg, argv, err, sizeof err), CONFIG_RUN, "%s", err);
    cr_assert_eq(cfg.log_format, CONFIG_LOG_TEXT);
    cr_assert_null(cfg.tls_cert);
    cr_assert_null(cfg.tls_key);
    cr_assert_null(cfg.auth_token_file);
    cr_assert_null(cfg.healthcheck_url);
}

Test(config, ops_flags, .init = clear_env)
{
    struct config cfg;
    char err[256] = "";
    char *argv[] = {"l2d",
                    "--log-format",
                    "json",
                    "--tls-cert=/c.pem",
                    "--tls-key",
                    "/k.pem",
                    "--auth-token-file",
                    "/t",
                    NULL};
    cr_assert_eq(parse(&cfg, argv, err, sizeof err), CONFIG_RUN, "%s", err);
    cr_assert_eq(cfg.log_format, CONFIG_LOG_JSON);
    cr_assert_str_eq(cfg.tls_cert, "/c.pem");
    cr_assert_str_eq(cfg.tls_key, "/k.pem");
    cr_assert_str_eq(cfg.auth_token_file, "/t");
}

Test(config, ops_env_and_flags_win, .init = clear_env, .fini = clear_env)
{
    struct config cfg;
    char err[256] = "";
    setenv("L2D_LOG_FORMAT", "json", 1);
    setenv("L2D_TLS_CERT", "/env-c", 1);
    setenv("L2D_TLS_KEY", "/env-k", 1);
    setenv("L2D_AUTH_TOKEN_FILE", "/env-t", 1);
    char *argv[] = {"l2d", "--tls-key", "/flag-k", NULL};
    cr_assert_eq(parse(&cfg, argv, err, sizeof err), CONFIG_RUN, "%s", err);
    cr_assert_eq(cfg.log_format, CONFIG_LOG_JSON);
    cr_assert_str_eq(cfg.tls_cert, "/env-c");
    cr_assert_str_eq(cfg.tls_key, "/flag-k");
    cr_assert_str_eq(cfg.auth_token_file, "/env-t");
    setenv("L2D_LOG_FORMAT", "text", 1);
    char *argv2[] = {"l2d", "--log-format", "json", NULL};
    cr_assert_eq(parse(&cfg, argv2, err, sizeof err), CONFIG_RUN, "%s", err);
    cr_assert_eq(cfg.log_format, CONFIG_LOG_JSON);
}

Test(config, ops_bad_values, .init = clear_env, .fini = clear_env)
{
    struct config cfg;
    char err[256];
    char *bad_format[] = {"l2d", "--log-format", "yaml", NULL};
    char *empty_path[] = {"l2d", "--auth-token-file=", NULL};
    char *cert_only[] = {"l2d", "--tls-cert", "/c", NULL};
    char *key_only[] = {"l2d", "--tls-key", "/k", NULL};
    char **cases[] = {bad_format, empty_path, cert_only, key_only};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(err, 0, sizeof err);
        cr_assert_eq(parse(&cfg, cases[i], err, sizeof err), CONFIG_EXIT_USAGE, "case %zu", i);
        cr_assert(strncmp(err, "l2d: ", 5) == 0, "case %zu: %s", i, err);
    }
    setenv("L2D_LOG_FORMAT", "JSON", 1);
    char *argv[] = {"l2d", NULL};
    memset(err, 0, sizeof err);
    cr_assert_eq(parse(&cfg, argv, err, sizeof err), CONFIG_EXIT_USAGE);
    cr_assert(strstr(err, "L2D_LOG_FORMAT") != NULL, "%s", err);
}

Test(config, healthcheck_mode_is_flag_only, .init = clear_env, .fini = clear_env)
{
    struct config cfg;
    char err[256] = "";
    char *argv[] = {"l2d", "--healthcheck", "http://127.0.0.1:8080/healthz", NULL};
    cr_assert_eq(parse(&cfg, argv, err, sizeof err), CONFIG_HEALTHCHECK, "%s", err);
    cr_assert_str_eq(cfg.healthcheck_url, "http://127.0.0.1:8080/healthz");
    setenv("L2D_HEALTHCHECK", "http://127.0.0.1:1/", 1);
    char *plain[] = {"l2d", NULL};
    cr_assert_eq(parse(&cfg, plain, err, sizeof err), CONFIG_RUN, "%s", err);
    cr_assert_null(cfg.healthcheck_url);
}

Test(config, lifecycle_defaults_env_and_flags, .init = clear_env, .fini = clear_env)
{
    struct config cfg;
    char err[256] = "";
    char *plain[] = {"l2d", NULL};
    cr_assert_eq(parse(&cfg, plain, err, sizeof err), CONFIG_RUN, "%s", err);
    cr_assert_eq(cfg.shutdown_delay, 5);
    cr_assert_eq(cfg.drain_timeout, 10);
    setenv("L2D_SHUTDOWN_DELAY", "0", 1);
    setenv("L2D_DRAIN_TIMEOUT", "3", 1);
    cr_assert_eq(parse(&cfg, plain, err, sizeof err), CONFIG_RUN, "%s", err);
    cr_assert_eq(cfg.shutdown_delay, 0);
    cr_assert_eq(cfg.drain_timeout, 3);
    char *flags[] = {"l2d", "--shutdown-delay", "12", "--drain-timeout=0", NULL};
    cr_assert_eq(parse(&cfg, flags, err, sizeof err), CONFIG_RUN, "%s", err);
    cr_assert_eq(cfg.shutdown_delay, 12);
    cr_assert_eq(cfg.drain_timeout, 0);
}

Test(config, lifecycle_bad_values, .init = clear_env, .fini = clear_env)
{
    struct config cfg;
    char err[256];
    char *negative[] = {"l2d", "--shutdown-delay", "-1", NULL};
    char *fraction[] = {"l2d", "--shutdown-delay=0.5", NULL};
    char *too_long[] = {"l2d", "--shutdown-delay", "86401", NULL};
    char *empty[] = {"l2d", "--shutdown-delay=", NULL};
    char **cases[] = {negative, fraction, too_long, empty};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(err, 0, sizeof err);
        cr_assert_eq(parse(&cfg, cases[i], err, sizeof err), CONFIG_EXIT_USAGE, "case %zu", i);
        cr_assert(strstr(err, "--shutdown-delay") != NULL, "case %zu: %s", i, err);
    }
    setenv("L2D_SHUTDOWN_DELAY", "soon", 1);
    memset(err, 0, sizeof err);
    char *plain[] = {"l2d", NULL};
    cr_assert_eq(parse(&cfg, plain, err, sizeof err), CONFIG_EXIT_USAGE);
    cr_assert(strstr(err, "L2D_SHUTDOWN_DELAY") != NULL, "%s", err);
}
