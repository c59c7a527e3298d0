/* numparse.c -- JSON number text to the nearest float64, correctly rounded.
 *
 * One scan of the grammar (digits eight at a time) feeds three exact paths:
 * Clinger's (exact digits times an exact power of ten round once),
 * Eisel-Lemire (a 128-bit power of ten decides unless the product is near a
 * halfway point) and strtod on a normalised copy for everything else. */
#include "numparse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numparse_pow10.h" /* pow10_128, generated */

/* Exponent magnitudes beyond this give 0 or inf whatever the digits, since
 * a token holding enough digits to matter would not fit in memory. */
#define EXP_CLAMP 100000000

static const double exact_pow10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* The Eisel-Lemire algorithm (as in Go's strconv.eiselLemire64): the float64
 * nearest w * 10^e10 for w != 0, or false when it cannot decide cheaply
 * (near a halfway point, subnormal or overflowing results). */
static inline bool eisel_lemire(uint64_t w, int64_t e10, double *out)
{
    if (e10 < POW10_MIN || e10 > POW10_MAX)
        return false;
    const uint64_t *pw = pow10_128[e10 - POW10_MIN];
    int clz = __builtin_clzll(w);
    w <<= clz;
    /* floor(e10 * log2(10)), shifting only non-negative values */
    int64_t log2_10e = ((217706 * (e10 + 65536)) >> 16) - 217706;
    uint64_t exp2 = (uint64_t)(log2_10e + 64 + 1023) - (uint64_t)clz;

    unsigned __int128 x = (unsigned __int128)w * pw[1];
    uint64_t x_hi = (uint64_t)(x >> 64), x_lo = (uint64_t)x;
    if ((x_hi & 0x1ff) == 0x1ff && x_lo + w < w) {
        unsigned __int128 y = (unsigned __int128)w * pw[0];
        uint64_t y_hi = (uint64_t)(y >> 64), y_lo = (uint64_t)y;
        uint64_t m_hi = x_hi, m_lo = x_lo + y_hi;
        if (m_lo < x_lo)
            m_hi++;
        if ((m_hi & 0x1ff) == 0x1ff && m_lo + 1 == 0 && y_lo + w < w)
            return false;
        x_hi = m_hi;
        x_lo = m_lo;
    }
    uint64_t msb = x_hi >> 63;
    uint64_t mant = x_hi >> (msb + 9);
    exp2 -= 1 ^ msb;
    if (x_lo == 0 && (x_hi & 0x1ff) == 0 && (mant & 3) == 1)
        return false; /* exactly halfway as far as we can tell */
    mant += mant & 1;
    mant >>= 1;
    if (mant >> 53 > 0) {
        mant >>= 1;
        exp2++;
    }
    if (exp2 - 1 >= 0x7ff - 1)
        return false; /* subnormal, zero or infinite */
    uint64_t bits = exp2 << 52 | (mant & UINT64_C(0x000fffffffffffff));
    memcpy(out, &bits, sizeof *out);
    return true;
}

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* ---- the grammar, scanned once ------------------------------------------ */

#define SWAR_ONES UINT64_C(0x0101010101010101)

/* 8 bytes at p as a little-endian integer (any alignment). */
static inline uint64_t load8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* The value of 8 ASCII digits, first byte lowest (most significant digit):
 * pairs, then quads, then the whole, in three multiplies. */
static inline uint64_t parse8(uint64_t v)
{
    const uint64_t mask = UINT64_C(0x000000ff000000ff);
    const uint64_t mul1 = 100 + (UINT64_C(1000000) << 32);
    const uint64_t mul2 = 1 + (UINT64_C(10000) << 32);

    v -= SWAR_ONES * '0';
    v = v * 10 + (v >> 8);
    return ((v & mask) * mul1 + ((v >> 16) & mask) * mul2) >> 32;
}

/* Bit 7 set in each byte of v that is not an ASCII digit. Carries only run
 * towards later bytes, so the lowest flagged byte is the first non-digit. */
static inline uint64_t nondigit_mask8(uint64_t v)
{
    return ((v + SWAR_ONES * 0x46) | (v - SWAR_ONES * '0')) & (SWAR_ONES * 0x80);
}

static const uint64_t pow10_u64[9] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
};

static inline bool is_num_byte(unsigned char c)
{
    return is_digit((char)c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

/* What one pass over a number's text finds: where its parts are, its
 * first significant digits and its exponent. */
struct scan {
    bool neg;
    size_t int_beg, int_end;   /* the integer digits */
    size_t frac_beg, frac_end; /* the fraction digits; empty without '.' */
    uint64_t w;                /* the first 19 significant digits */
    int nsig;                  /* significant digits, capped at 20 */
    int64_t exp10;             /* the written exponent, its magnitude clamped near EXP_CLAMP */
    size_t exp_digits;         /* digits written in the exponent; 0 without one */
};

/* Adds the run of digits at p[i..len) to *w and *nd (the first 19
 * significant digits and their count, capped at 20), eight at a time while
 * they fit. Returns the index after the run. */
static inline __attribute__((always_inline)) size_t digit_run(const char *p, size_t i, size_t len,
                                                              uint64_t *w, int *nd)
{
    while (len - i >= 8) {
        uint64_t v = load8(p + i);
        uint64_t m = nondigit_mask8(v);
        if (m == 0) {
            if (*nd > 11)
                break;
            *w = *w * 100000000 + parse8(v);
            *nd += 8;
            i += 8;
            continue;
        }
        unsigned k = (unsigned)__builtin_ctzll(m) >> 3; /* leading digits, 0..7 */
        if (k == 0)
            return i;
        if (*nd + (int)k > 19)
            break;
        /* the k digits moved to the end, '0's before them */
        v = v << (64 - 8 * k) | (SWAR_ONES * '0') >> (8 * k);
        *w = *w * pow10_u64[k] + parse8(v);
        *nd += (int)k;
        return i + k;
    }
    for (; i < len && is_digit(p[i]); i++) {
        if (*nd < 19)
            *w = *w * 10 + (uint64_t)(p[i] - '0');
        if (*nd < 20)
            (*nd)++;
    }
    return i;
}

/* Scans the RFC 8259 number grammar, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?,
 * over the longest prefix of p[0..len) it matches, filling *s. Returns the
 * index where it stopped: the end of a whole number (*ok true), or the
 * first byte that breaks the grammar, len when the text ends too early. */
static inline __attribute__((always_inline)) size_t scan_number(const char *p, size_t len,
                                                                struct scan *s, bool *ok)
{
    size_t i = 0;

    *ok = false;
    s->neg = false;
    s->w = 0;
    s->nsig = 0;
    s->exp10 = 0;
    s->exp_digits = 0;
    if (i < len && p[i] == '-') {
        s->neg = true;
        i++;
    }
    s->int_beg = i;
    if (i < len && p[i] == '0')
        i++;
    else if (i < len && is_digit(p[i]))
        i = digit_run(p, i, len, &s->w, &s->nsig);
    else
        return i;
    s->int_end = s->frac_beg = s->frac_end = i;
    if (i < len && p[i] == '.') {
        s->frac_beg = ++i;
        if (s->nsig == 0) /* leading zeros of 0.000ddd: places, not digits */
            while (i < len && p[i] == '0')
                i++;
        i = digit_run(p, i, len, &s->w, &s->nsig);
        s->frac_end = i;
        if (i == s->frac_beg)
            return i;
    }
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        bool eneg = false;
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-')) {
            eneg = p[i] == '-';
            i++;
        }
        size_t beg = i;
        for (; i < len && is_digit(p[i]); i++) {
            if (s->exp10 < EXP_CLAMP)
                s->exp10 = s->exp10 * 10 + (p[i] - '0');
        }
        if (i == beg)
            return i;
        s->exp_digits = i - beg;
        if (eneg)
            s->exp10 = -s->exp10;
    }
    *ok = true;
    return i;
}

/* ---- from digits to a double -------------------------------------------- */

/* The exact fast paths, Clinger's (digits up to 2^53 times an exact power
 * of ten: one IEEE operation, one rounding) then Eisel-Lemire: stores
 * w * 10^e (e counted from the last digit) in *out, finite, and returns true
 * when one of them decides it; false when the digits do not fit in w or
 * Eisel-Lemire declines (near a halfway point, subnormal, zero, infinite). */
static inline __attribute__((always_inline)) bool fast_path(const struct scan *s, int64_t e,
                                                            double *out)
{
    uint64_t w = s->w;

    if (s->nsig == 0) {
        *out = 0.0;
        return true;
    }
    if (s->nsig > 19)
        return false;
    if (w <= (UINT64_C(1) << 53) && e >= -22 && e <= 22) {
        *out = e >= 0 ? (double)w * exact_pow10[e] : (double)w / exact_pow10[-e];
        return true;
    }
    if (w <= (UINT64_C(1) << 53) && e > 22 && e <= 22 + 15 &&
        (double)w * exact_pow10[e - 22] < 9007199254740992.0) {
        /* w * 10^(e-22) is still an exact integer: then one rounding */
        *out = (double)w * exact_pow10[e - 22] * 1e22;
        return true;
    }
    return eisel_lemire(w, e, out);
}

/* The slow, exact path: strtod on a normalised copy "DIGITSeEXP" of tok's
 * digits, with no decimal point that a locale could misread, keeping
 * API_NUMPARSE_DIGITS significant digits plus a sticky nonzero digit that
 * stands for any dropped tail. */
static double slow_path(const char *tok, const struct scan *s)
{
    char buf[API_NUMPARSE_DIGITS + 2 + 24];
    size_t n = 0;
    int64_t dropped = 0;
    bool sticky = false;

    for (int part = 0; part < 2; part++) {
        size_t beg = part == 0 ? s->int_beg : s->frac_beg;
        size_t end = part == 0 ? s->int_end : s->frac_end;
        for (size_t i = beg; i < end; i++) {
            char c = tok[i];
            if (n == 0 && c == '0')
                continue; /* leading zero: not significant */
            if (n < API_NUMPARSE_DIGITS) {
                buf[n++] = c;
            } else {
                if (dropped < EXP_CLAMP)
                    dropped++;
                if (c != '0')
                    sticky = true;
            }
        }
    }
    if (n == 0)
        return 0.0;
    if (sticky)
        buf[n++] = '1';
    /* value = digits(buf[0..n)) * 10^(exp10 - frac digits + dropped), where
     * the sticky digit costs one more place. */
    int64_t frac_digits = (int64_t)(s->frac_end - s->frac_beg);
    if (frac_digits > EXP_CLAMP)
        frac_digits = EXP_CLAMP;
    int64_t e = s->exp10 - frac_digits + dropped - (sticky ? 1 : 0);
    snprintf(buf + n, sizeof buf - n, "e%lld", (long long)e);
    return strtod(buf, NULL);
}

/* The exponent of the last digit: the written one less the fraction's digits. */
static inline int64_t last_digit_exp(const struct scan *s)
{
    return s->exp10 - (int64_t)(s->frac_end - s->frac_beg);
}

size_t api_numparse_run(const char *p, const char *end, double *out)
{
    struct scan s;
    bool ok;
    double x;
    /* One byte past the longest token: where its end must be seen. */
    size_t window =
        (size_t)(end - p) < API_NUMPARSE_RUN_MAX + 1 ? (size_t)(end - p) : API_NUMPARSE_RUN_MAX + 1;
    size_t n = scan_number(p, window, &s, &ok);

    if (!ok || n == window || is_num_byte((unsigned char)p[n]))
        return 0; /* malformed, too long, or it may go on */
    if (s.exp_digits > 5 || !fast_path(&s, last_digit_exp(&s), &x))
        return 0;
    *out = s.neg ? -x : x;
    return n;
}

bool api_numparse(const char *tok, size_t len, double *out, size_t *bad)
{
    struct scan s;
    bool ok;
    double x;
    size_t n = scan_number(tok, len, &s, &ok);

    if (!ok || n != len) {
        *bad = n;
        return false;
    }
    if (!fast_path(&s, last_digit_exp(&s), &x))
        x = slow_path(tok, &s);
    *out = s.neg ? -x : x;
    return true;
}
