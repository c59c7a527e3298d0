/* numparse.c -- JSON number text to the nearest float64, correctly rounded.
 *
 * Clinger's fast path: a decimal with at most 2^53 as its digits and a power
 * of ten that is itself exact (|e| <= 22) needs one IEEE multiply or divide,
 * which rounds once and is therefore correct. Everything else goes to strtod
 * on a normalised copy "DIGITSeEXP" with no decimal point, which no locale
 * can misread, and with at most API_NUMPARSE_DIGITS significant digits plus
 * a sticky nonzero digit standing for any dropped tail. */
#include "numparse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Exponent magnitudes beyond this give 0 or inf whatever the digits, since
 * a token holding enough digits to matter would not fit in memory. */
#define EXP_CLAMP 100000000

static const double exact_pow10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* The slow, exact path: strtod on a normalised copy of the digits. */
static double slow_path(const char *tok, size_t int_beg, size_t int_end, size_t frac_beg,
                        size_t frac_end, int64_t exp10)
{
    char buf[API_NUMPARSE_DIGITS + 2 + 24];
    size_t n = 0;
    int64_t dropped = 0;
    bool sticky = false;

    for (int part = 0; part < 2; part++) {
        size_t beg = part == 0 ? int_beg : frac_beg;
        size_t end = part == 0 ? int_end : frac_end;
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
    int64_t frac_digits = (int64_t)(frac_end - frac_beg);
    if (frac_digits > EXP_CLAMP)
        frac_digits = EXP_CLAMP;
    int64_t e = exp10 - frac_digits + dropped - (sticky ? 1 : 0);
    snprintf(buf + n, sizeof buf - n, "e%lld", (long long)e);
    return strtod(buf, NULL);
}

bool api_numparse(const char *tok, size_t len, double *out, size_t *bad)
{
    size_t i = 0;
    bool neg = false;
    uint64_t w = 0; /* first significant digits, while they fit */
    int nsig = 0;   /* significant digits seen, capped at 20 */
    int64_t exp10 = 0;
    size_t int_beg, int_end, frac_beg, frac_end;

    if (i < len && tok[i] == '-') {
        neg = true;
        i++;
    }
    int_beg = i;
    if (i < len && tok[i] == '0') {
        i++;
    } else if (i < len && tok[i] >= '1' && tok[i] <= '9') {
        for (; i < len && is_digit(tok[i]); i++) {
            if (nsig < 19)
                w = w * 10 + (uint64_t)(tok[i] - '0');
            if (nsig < 20)
                nsig++;
        }
    } else {
        goto bad;
    }
    int_end = i;
    frac_beg = frac_end = i;
    if (i < len && tok[i] == '.') {
        i++;
        frac_beg = i;
        for (; i < len && is_digit(tok[i]); i++) {
            if (nsig == 0 && tok[i] == '0')
                continue;
            if (nsig < 19)
                w = w * 10 + (uint64_t)(tok[i] - '0');
            if (nsig < 20)
                nsig++;
        }
        frac_end = i;
        if (frac_end == frac_beg)
            goto bad;
    }
    if (i < len && (tok[i] == 'e' || tok[i] == 'E')) {
        bool eneg = false;
        i++;
        if (i < len && (tok[i] == '+' || tok[i] == '-')) {
            eneg = tok[i] == '-';
            i++;
        }
        size_t exp_beg = i;
        for (; i < len && is_digit(tok[i]); i++) {
            if (exp10 < EXP_CLAMP)
                exp10 = exp10 * 10 + (tok[i] - '0');
        }
        if (i == exp_beg)
            goto bad;
        if (eneg)
            exp10 = -exp10;
    }
    if (i != len)
        goto bad;

    double x;
    if (nsig == 0) {
        x = 0.0;
    } else if (nsig <= 19 && w <= (UINT64_C(1) << 53)) {
        /* digits are exact; exponent relative to the last digit read */
        int64_t e = exp10 - (int64_t)(frac_end - frac_beg);
        if (e >= 0 && e <= 22) {
            x = (double)w * exact_pow10[e];
        } else if (e < 0 && e >= -22) {
            x = (double)w / exact_pow10[-e];
        } else if (e > 22 && e <= 22 + 15) {
            /* w * 10^(e-22) may still be exact: then one rounding */
            double y = (double)w * exact_pow10[e - 22];
            if (y < 9007199254740992.0)
                x = y * 1e22;
            else
                x = slow_path(tok, int_beg, int_end, frac_beg, frac_end, exp10);
        } else {
            x = slow_path(tok, int_beg, int_end, frac_beg, frac_end, exp10);
        }
    } else {
        x = slow_path(tok, int_beg, int_end, frac_beg, frac_end, exp10);
    }
    *out = neg ? -x : x;
    return true;

bad:
    *bad = i;
    return false;
}
