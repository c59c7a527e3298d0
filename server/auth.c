/* auth.c -- bearer-token authentication (--auth-token-file).
 *
 * The comparison ORs together the XOR of every byte pair over the secret's
 * whole length (reading the candidate's bytes modulo its length), and folds
 * in whether the lengths differ, so nothing about the candidate changes
 * which instructions run. */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void auth_init(struct auth *a)
{
    a->enabled = false;
    a->token_len = 0;
    a->token[0] = '\0';
}

void auth_free(struct auth *a)
{
    if (a == NULL)
        return;
    explicit_bzero(a->token, sizeof(a->token));
    auth_init(a);
}

static bool is_trailing_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool auth_load(struct auth *a, const char *path, char *why, size_t why_len)
{
    FILE *f;
    size_t n;
    bool result = false;
    char extra;

    auth_init(a);
    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, why_len, "cannot open '%s': %s", path, strerror(errno));
        goto out;
    }
    n = fread(a->token, 1, AUTH_TOKEN_MAX, f);
    if (ferror(f)) {
        snprintf(why, why_len, "cannot read '%s'", path);
        goto out_close;
    }
    while (n > 0 && is_trailing_space(a->token[n - 1]))
        n--;
    if (n == AUTH_TOKEN_MAX && fread(&extra, 1, 1, f) == 1 && !is_trailing_space(extra)) {
        snprintf(why, why_len, "'%s': the token is longer than %d bytes", path, AUTH_TOKEN_MAX);
        goto out_close;
    }
    if (n == 0) {
        snprintf(why, why_len, "'%s': the token is empty", path);
        goto out_close;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a->token[i];
        if (c < 0x21 || c > 0x7e) {
            snprintf(why, why_len, "'%s': the token holds a byte that is not visible ASCII", path);
            goto out_close;
        }
    }
    a->token[n] = '\0';
    a->token_len = n;
    a->enabled = true;
    result = true;
out_close:
    fclose(f);
out:
    if (!result)
        auth_free(a);
    return result;
}

bool auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    /* volatile: keeps the compiler from turning the loop into an early exit. */
    volatile unsigned char diff = (unsigned char)(alen != blen);

    for (size_t i = 0; i < alen; i++) {
        unsigned char other = blen != 0 ? (unsigned char)b[i % blen] : 0;
        diff |= (unsigned char)(a[i] ^ other);
    }
    return diff == 0;
}

bool auth_check(const struct auth *a, const char *header)
{
    const char *cred;
    size_t len;

    if (!a->enabled)
        return true;
    if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
        return false;
    /* RFC 9110 section 5.5: a field value has no leading or trailing
     * whitespace (SP / HTAB); trim it rather than compare it. */
    cred = header + 7;
    while (*cred == ' ' || *cred == '\t')
        cred++;
    len = strlen(cred);
    while (len > 0 && (cred[len - 1] == ' ' || cred[len - 1] == '\t'))
        len--;
    return auth_equal(a->token, a->token_len, cred, len);
}
