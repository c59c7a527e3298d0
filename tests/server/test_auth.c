/* test_auth.c -- bearer tokens: loading the file, the constant-time
 * comparison and the Authorization header check. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/auth.h"

static char *write_temp(const char *content, size_t len)
{
    char *path = strdup("/tmp/l2d-auth-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

static bool load(struct auth *a, const char *content, size_t len, char *why, size_t why_len)
{
    char *path = write_temp(content, len);
    bool ok = auth_load(a, path, why, why_len);
    unlink(path);
    free(path);
    return ok;
}

Test(auth, equal_compares_bytes_and_lengths)
{
    cr_assert(auth_equal("abc", 3, "abc", 3));
    cr_assert_not(auth_equal("abc", 3, "abd", 3));
    cr_assert_not(auth_equal("abc", 3, "xbc", 3));
    cr_assert_not(auth_equal("abc", 3, "ab", 2));
    cr_assert_not(auth_equal("abc", 3, "abcd", 4));
    cr_assert_not(auth_equal("abc", 3, "", 0));
    /* A candidate that repeats the token is still a different length. */
    cr_assert_not(auth_equal("ab", 2, "abab", 4));
    cr_assert(auth_equal("", 0, "", 0));
}

Test(auth, load_strips_trailing_whitespace)
{
    struct auth a;
    char why[256] = "";
    cr_assert(load(&a, "s3cr3t-Token\n", 13, why, sizeof why), "%s", why);
    cr_assert(a.enabled);
    cr_assert_eq(a.token_len, 12);
    cr_assert_str_eq(a.token, "s3cr3t-Token");
    cr_assert(load(&a, "tok \t\r\n\n", 8, why, sizeof why), "%s", why);
    cr_assert_str_eq(a.token, "tok");
}

Test(auth, load_refuses_empty_missing_and_odd_tokens)
{
    struct auth a;
    char why[256] = "";
    cr_assert_not(load(&a, "", 0, why, sizeof why));
    cr_assert(strstr(why, "empty") != NULL, "%s", why);
    cr_assert_not(a.enabled);
    cr_assert_not(load(&a, " \n\n", 3, why, sizeof why));
    cr_assert(strstr(why, "empty") != NULL, "%s", why);
    cr_assert_not(load(&a, "two words\n", 10, why, sizeof why));
    cr_assert_not(a.enabled);
    cr_assert_not(auth_load(&a, "/nonexistent/l2d/token", why, sizeof why));
    cr_assert(strstr(why, "cannot open") != NULL, "%s", why);

    char *big = malloc(AUTH_TOKEN_MAX + 2);
    memset(big, 'a', AUTH_TOKEN_MAX + 1);
    big[AUTH_TOKEN_MAX + 1] = '\n';
    cr_assert_not(load(&a, big, AUTH_TOKEN_MAX + 2, why, sizeof why));
    cr_assert(strstr(why, "longer") != NULL, "%s", why);
    /* Exactly the limit, then a newline, is fine. */
    cr_assert(load(&a, big + 1, AUTH_TOKEN_MAX + 1, why, sizeof why), "%s", why);
    cr_assert_eq(a.token_len, AUTH_TOKEN_MAX);
    free(big);
}

Test(auth, check_header)
{
    struct auth a;
    char why[256] = "";
    cr_assert(load(&a, "tok123\n", 7, why, sizeof why), "%s", why);
    cr_assert(auth_check(&a, "Bearer tok123"));
    cr_assert(auth_check(&a, "bearer tok123"));
    cr_assert(auth_check(&a, "BEARER   tok123"));
    cr_assert_not(auth_check(&a, NULL));
    cr_assert_not(auth_check(&a, ""));
    cr_assert_not(auth_check(&a, "Bearer"));
    cr_assert_not(auth_check(&a, "Bearer "));
    cr_assert_not(auth_check(&a, "Bearer tok12"));
    cr_assert_not(auth_check(&a, "Bearer tok1234"));
    /* Whitespace around the token is not part of the field value. */
    cr_assert(auth_check(&a, "Bearer tok123 "));
    cr_assert(auth_check(&a, "Bearer tok123\t"));
    cr_assert(auth_check(&a, "Bearer \t tok123 \t "));
    cr_assert_not(auth_check(&a, "Bearer  \t "));
    cr_assert_not(auth_check(&a, "Bearer tok123 x"));
    cr_assert_not(auth_check(&a, "Bearer tok 123"));
    cr_assert_not(auth_check(&a, "Bearer tok123\n"));
    cr_assert_not(auth_check(&a, "Basic tok123"));
    cr_assert_not(auth_check(&a, "tok123"));
    cr_assert_not(auth_check(&a, "Bearertok123"));

    struct auth off;
    auth_init(&off);
    cr_assert(auth_check(&off, NULL));
    cr_assert(auth_check(&off, "Bearer anything"));
}

Test(auth, free_wipes_and_disables)
{
    struct auth a;
    char why[256] = "";
    cr_assert(load(&a, "tok123\n", 7, why, sizeof why), "%s", why);
    auth_free(&a);
    cr_assert_not(a.enabled);
    cr_assert_eq(a.token_len, 0);
    for (size_t i = 0; i < sizeof a.token; i++)
        cr_assert_eq(a.token[i], 0, "byte %zu of the token survived", i);
    cr_assert(auth_check(&a, NULL));
    auth_free(&a); /* twice is fine */
    auth_free(NULL);
}
