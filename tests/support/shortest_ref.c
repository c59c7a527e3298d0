/* shortest_ref.c -- Python's repr(float) on MPFR and strtod (see the header). */
#include "shortest_ref.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Does the decimal 0.DIGITS x 10^e (digits without a sign) read back as x? */
static bool reads_back(const char *digits, mpfr_exp_t e, double x)
{
    char text[64];
    double back;

    snprintf(text, sizeof text, "0.%se%ld", digits, (long)e);
    back = strtod(text, NULL);
    return back == fabs(x);
}

/* Lays out the n significant digits d (value 0.d x 10^e, d without
 * trailing zeros) as repr does: fixed notation for decimal exponents -4 to
 * 15, always with a '.', else d.ddde+XX. */
static size_t lay_out(bool neg, const char *d, size_t n, long e, char *buf)
{
    long k = e - 1; /* the exponent of d.ddd */
    size_t at = 0;

    if (neg)
        buf[at++] = '-';
    if (k >= -4 && k < 16) {
        if (e <= 0) {
            buf[at++] = '0';
            buf[at++] = '.';
            for (long i = 0; i < -e; i++)
                buf[at++] = '0';
            memcpy(buf + at, d, n);
            at += n;
        } else if ((size_t)e >= n) {
            memcpy(buf + at, d, n);
            at += n;
            for (size_t i = n; i < (size_t)e; i++)
                buf[at++] = '0';
            buf[at++] = '.';
            buf[at++] = '0';
        } else {
            memcpy(buf + at, d, (size_t)e);
            at += (size_t)e;
            buf[at++] = '.';
            memcpy(buf + at, d + e, n - (size_t)e);
            at += n - (size_t)e;
        }
        buf[at] = '\0';
        return at;
    }
    buf[at++] = d[0];
    if (n > 1) {
        buf[at++] = '.';
        memcpy(buf + at, d + 1, n - 1);
        at += n - 1;
    }
    at += (size_t)snprintf(buf + at, SHORTEST_REF_MAX - at, "e%c%02ld", k < 0 ? '-' : '+',
                           k < 0 ? -k : k);
    return at;
}

/* The p-digit decimal repr picks for |x| (in work) into d and *e, if one
 * reads back as x: the correctly rounded one when it does, else its other
 * neighbour. */
static bool candidate(double x, mpfr_t work, size_t p, char d[24], mpfr_exp_t *e)
{
    char other[24];
    mpfr_exp_t eo;

    mpfr_get_str(d, e, 10, p, work, MPFR_RNDN);
    if (reads_back(d, *e, x))
        return true;
    mpfr_get_str(other, &eo, 10, p, work, MPFR_RNDD);
    if (eo == *e && strcmp(other, d) == 0)
        mpfr_get_str(other, &eo, 10, p, work, MPFR_RNDU);
    if (!reads_back(other, eo, x))
        return false;
    strcpy(d, other);
    *e = eo;
    return true;
}

size_t shortest_ref_repr(double x, char buf[SHORTEST_REF_MAX], mpfr_t work)
{
    char d[24];
    mpfr_exp_t e = 0;
    size_t n, lo = 1, hi = 17;

    if (isnan(x) || isinf(x) || x == 0.0) {
        const char *s = isnan(x)     ? "nan"
                        : isinf(x)   ? (x > 0 ? "inf" : "-inf")
                        : signbit(x) ? "-0.0"
                                     : "0.0";
        strcpy(buf, s);
        return strlen(s);
    }
    mpfr_set_d(work, fabs(x), MPFR_RNDN); /* exact: work has >= 53 bits */
    /* If some p-digit decimal reads back as x, some (p+1)-digit one does
     * (the same decimal), and 17 digits always do: bisect for the fewest. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (candidate(x, work, mid, d, &e))
            hi = mid;
        else
            lo = mid + 1;
    }
    candidate(x, work, lo, d, &e);
    n = strlen(d);
    while (n > 1 && d[n - 1] == '0')
        n--;
    return lay_out(signbit(x) != 0, d, n, (long)e, buf);
}
