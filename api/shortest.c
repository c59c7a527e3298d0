/* shortest.c -- doubles printed as Python's repr(float).
 *
 * The digits are the fewest that strtod reads back to the same bits: the
 * correctly rounded p-digit decimal, or its neighbour towards x, for the
 * smallest such p, found by bisection from one correctly rounded 17-digit
 * print of x. */
#include "shortest.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads the p significant digits and the exponent of "%.*e" output. */
static void sci_split(const char *s, char *digits, int *exp10)
{
    int n = 0;

    for (; *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            digits[n++] = *s;
    *exp10 = (int)strtol(s + 1, NULL, 10);
}

/* Reads back digits[0..p) x 10^exp10 (as d.ddd) with strtod. */
static double sci_value(const char *digits, int p, int exp10)
{
    char buf[48];
    int n = 0;

    buf[n++] = digits[0];
    if (p > 1) {
        buf[n++] = '.';
        memcpy(buf + n, digits + 1, (size_t)(p - 1));
        n += p - 1;
    }
    buf[n++] = 'e';
    if (exp10 < 0) {
        buf[n++] = '-';
        exp10 = -exp10;
    }
    if (exp10 >= 100)
        buf[n++] = (char)('0' + exp10 / 100);
    if (exp10 >= 10)
        buf[n++] = (char)('0' + exp10 / 10 % 10);
    buf[n++] = (char)('0' + exp10 % 10);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

/* Moves the p-digit decimal digits x 10^exp10 one unit in its last place
 * up (dir > 0) or down, renormalising across a power of ten. */
static void sci_step(char *digits, int p, int *exp10, int dir)
{
    int i;

    if (dir > 0) {
        for (i = p - 1; i >= 0 && digits[i] == '9'; i--)
            digits[i] = '0';
        if (i >= 0) {
            digits[i]++;
        } else { /* 99..9 -> 100..0 */
            digits[0] = '1';
            (*exp10)++;
        }
    } else {
        for (i = p - 1; i >= 0 && digits[i] == '0'; i--)
            digits[i] = '9';
        digits[i]--;            /* digits[0] >= '1', so i >= 0 */
        if (digits[0] == '0') { /* 10..0 -> 9..9 one decade down */
            memset(digits, '9', (size_t)p);
            (*exp10)--;
        }
    }
}

/* The nearest p-digit decimal to x, from d17/e17, the nearest 17-digit one:
 * rounding d17 again gives the same digits unless d17 sits exactly on a
 * p-digit midpoint (a midpoint strictly between x and d17 would be a closer
 * 17-digit decimal). Returns false in that one case. */
static bool round_from_17(const char d17[17], int e17, int p, char digits[17], int *exp10)
{
    int i;

    memcpy(digits, d17, 17);
    *exp10 = e17;
    if (p == 17)
        return true;
    if (d17[p] == '5') {
        for (i = p + 1; i < 17 && d17[i] == '0'; i++)
            ;
        if (i == 17)
            return false;
    }
    if (d17[p] >= '5')
        sci_step(digits, p, exp10, 1);
    return true;
}

/* Whether some p-digit decimal reads back as ax: the nearest one, or, where
 * the rounding interval is lopsided (at a power of two), the neighbour on the
 * other side of ax. On true, digits/exp10 hold that decimal. This only gets
 * truer as p grows: a p-digit decimal inside the interval is also a
 * (p+1)-digit one, and the nearest (p+1)-digit decimal on its side of ax is
 * at least as close. d17/e17: ax's nearest 17-digit decimal. */
static bool round_trips(double ax, int p, const char d17[17], int e17, char digits[17], int *exp10)
{
    char buf[40];
    double back;

    if (!round_from_17(d17, e17, p, digits, exp10)) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, ax);
        sci_split(buf, digits, exp10);
    }
    back = sci_value(digits, p, *exp10);
    if (back == ax)
        return true;
    sci_step(digits, p, exp10, back > ax ? -1 : 1);
    return sci_value(digits, p, *exp10) == ax;
}

/* The shortest significant digits (no trailing zeros) of finite ax > 0 that
 * strtod reads back as ax, and its decimal exponent: ax ~ d.ddd x 10^exp10.
 * Among candidates of that length the nearest to ax is chosen, as Gay's
 * shortest mode (used by repr) does. round_trips is monotone in p, so the
 * shortest length is found by bisection (17 digits always round-trip), each
 * candidate rounded from one correctly rounded 17-digit print of ax.
 * Returns the digit count. */
static int shortest_digits(double ax, char digits[17], int *exp10)
{
    char buf[40], d17[17];
    int e17, lo = 1, hi = 17, p;

    snprintf(buf, sizeof buf, "%.16e", ax);
    sci_split(buf, d17, &e17);
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (round_trips(ax, mid, d17, e17, digits, exp10))
            hi = mid;
        else
            lo = mid + 1;
    }
    p = lo;
    round_trips(ax, p, d17, e17, digits, exp10); /* true: leaves p's digits behind */
    while (p > 1 && digits[p - 1] == '0')
        p--;
    return p;
}

size_t api_shortest_repr(double x, char buf[API_SHORTEST_MAX])
{
    char digits[17];
    size_t n = 0;
    int nd, e, i;

    if (isnan(x)) {
        memcpy(buf, "nan", 4);
        return 3;
    }
    if (signbit(x))
        buf[n++] = '-';
    if (isinf(x)) {
        memcpy(buf + n, "inf", 4);
        return n + 3;
    }
    if (x == 0.0) {
        memcpy(buf + n, "0.0", 4);
        return n + 3;
    }
    nd = shortest_digits(fabs(x), digits, &e);
    if (e >= -4 && e < 16) { /* repr's fixed notation */
        if (e >= 0) {
            for (i = 0; i <= e; i++)
                buf[n++] = i < nd ? digits[i] : '0';
            buf[n++] = '.';
            if (nd > e + 1) {
                for (i = e + 1; i < nd; i++)
                    buf[n++] = digits[i];
            } else {
                buf[n++] = '0';
            }
        } else {
            buf[n++] = '0';
            buf[n++] = '.';
            for (i = 0; i < -e - 1; i++)
                buf[n++] = '0';
            for (i = 0; i < nd; i++)
                buf[n++] = digits[i];
        }
        buf[n] = '\0';
    } else { /* scientific: d[.ddd]e+XX, at least two exponent digits */
        buf[n++] = digits[0];
        if (nd > 1) {
            buf[n++] = '.';
            for (i = 1; i < nd; i++)
                buf[n++] = digits[i];
        }
        n += (size_t)snprintf(buf + n, API_SHORTEST_MAX - n, "e%c%02d", e < 0 ? '-' : '+',
                              e < 0 ? -e : e);
    }
    return n;
}
