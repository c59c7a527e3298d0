/* test_tls.c -- loading the HTTPS certificate and key: every file that
 * cannot be used leaves nothing loaded; tls_free takes NULL. (A real pair
 * is served in tests/integration/test_ops_tls.c.) */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/tls.h"

static void quiet(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

static char *write_temp(const char *content, size_t len)
{
    char *path = strdup("/tmp/l2d-tls-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

static void expect_refused(const char *cert_content, size_t len)
{
    struct tls t;
    char *path = write_temp(cert_content, len);

    tls_init(&t);
    cr_assert_not(tls_load(&t, path, path, quiet), "accepted %zu bytes", len);
    cr_assert_null(t.cert);
    cr_assert_null(t.key);
    tls_free(&t);
    unlink(path);
    free(path);
}

Test(tls, unusable_files_load_nothing)
{
    struct tls t;

    tls_init(&t);
    cr_assert_not(tls_load(&t, "/nonexistent/l2d/cert.pem", "/nonexistent/l2d/key.pem", quiet));
    cr_assert_null(t.cert);
    cr_assert_null(t.key);
    tls_free(&t);

    expect_refused("", 0);
    expect_refused("not a certificate\n", 18);

    char *big = malloc(TLS_PEM_MAX + 1);
    memset(big, 'a', TLS_PEM_MAX + 1);
    memcpy(big, "-----BEGIN CERTIFICATE-----\n", 28);
    expect_refused(big, TLS_PEM_MAX + 1);
    free(big);
}

Test(tls, free_takes_null_and_nothing_loaded)
{
    struct tls t;

    tls_free(NULL);
    tls_init(&t);
    tls_free(&t);
    tls_free(&t);
    cr_assert_null(t.cert);
}
