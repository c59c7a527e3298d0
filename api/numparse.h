/* numparse.h -- JSON number text to the nearest float64, correctly rounded.
 *
 * The result is exactly what strtod gives in the "C" locale (round to
 * nearest, ties to even), for any length of text: short numbers take an
 * exact fast path, the rest a locale-free strtod call on a normalised copy. */
#ifndef API_NUMPARSE_H
#define API_NUMPARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Significant digits kept before the rest is folded into a sticky digit;
 * more than the 767 a float64 halfway point can need, so rounding stays
 * exact. */
#define API_NUMPARSE_DIGITS 800

/* Parses tok[0..len) (not NUL-terminated), which must be a whole RFC 8259
 * number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. On success stores
 * the nearest double in *out (+-inf beyond the range, +-0 below it) and
 * returns true. Otherwise returns false with *bad set to the index of the
 * first byte that breaks the grammar (len when the text ends too early). */
bool api_numparse(const char *tok, size_t len, double *out, size_t *bad);

/* Longest token api_numparse_run accepts. */
#define API_NUMPARSE_RUN_MAX 64

/* The common case of api_numparse fused with finding where the token ends,
 * for a decoder reading in place: parses the number that starts at p. When
 * the text p[0..n) is a whole number of at most 19 significant digits and
 * API_NUMPARSE_RUN_MAX bytes, n < end - p and p[n] is none of the bytes
 * "0123456789+-.eE" (so the token cannot go on), and the value is decided
 * by an exact fast path, stores in *out exactly what api_numparse(p, n)
 * gives, which is then finite, and returns n. Otherwise returns 0 and leaves *out alone: the
 * caller then finds the token's end itself and calls api_numparse, which
 * also reports any error. */
size_t api_numparse_run(const char *p, const char *end, double *out);

#endif
