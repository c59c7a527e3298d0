/* auth.h -- bearer-token authentication (--auth-token-file).
 *
 * The token is read once at startup; each request's Authorization header is
 * compared with it in time that depends only on the token's length, never
 * on where the first differing byte is. */
#ifndef SERVER_AUTH_H
#define SERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_TOKEN_MAX 4096 /* bytes of token, after trailing whitespace is stripped */

struct auth {
    bool enabled;
    size_t token_len;
    char token[AUTH_TOKEN_MAX + 1];
};

/* Disables authentication (every request passes). Cannot fail. */
void auth_init(struct auth *a);

/* Wipes the token (a secret) from memory and leaves a disabled, as
 * auth_init does. a may be NULL. */
void auth_free(struct auth *a);

/* Reads the token from path: its content with trailing whitespace (spaces,
 * tabs, CR, LF) stripped. On failure returns false with a one-line reason
 * in why (a missing or unreadable file, an empty token, one over
 * AUTH_TOKEN_MAX bytes or holding a byte outside visible ASCII); a is then
 * left disabled and wiped. Call auth_free either way. */
bool auth_load(struct auth *a, const char *path, char *why, size_t why_len);

/* True when a[0..alen) equals b[0..blen). Runs in time that depends on alen
 * only (a is the secret): every byte is looked at, no early exit. */
bool auth_equal(const char *a, size_t alen, const char *b, size_t blen);

/* True when authentication is off, or header (an Authorization value, NULL
 * when absent) is `Bearer <token>` (scheme case-insensitive, then one or
 * more spaces or tabs) with the configured token; whitespace (SP, HTAB)
 * after the token is not part of it (RFC 9110 section 5.5). */
bool auth_check(const struct auth *a, const char *header);

#endif
