/* test_shortest.c -- doubles printed as Python's repr: a table of repr's
 * outputs, and the round-trip, layout and minimality properties checked
 * with MPFR on random doubles and every power of two. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <mpfr.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/shortest.h"
#include "tests/support/rng.h"
#include "tests/support/shortest_ref.h"

/* Outputs of Python 3's repr(float). */
static const struct {
    double x;
    const char *repr;
} repr_table[] = {
    {0.1, "0.1"},
    {1.0 / 3.0, "0.3333333333333333"},
    {2.0 / 3.0, "0.6666666666666666"},
    {5.477225575051661, "5.477225575051661"},
    {5.5677643628300215, "5.5677643628300215"},
    {1e16, "1e+16"},
    {1e15, "1000000000000000.0"},
    {123456789012345678.0, "1.2345678901234568e+17"},
    {1e-4, "0.0001"},
    {1e-5, "1e-05"},
    {9.5e-5, "9.5e-05"},
    {1.7976931348623157e308, "1.7976931348623157e+308"},
    {2.2250738585072014e-308, "2.2250738585072014e-308"},
    {5e-324, "5e-324"},
    {0.5, "0.5"},
    {100.0, "100.0"},
    {15.0, "15.0"},
    {30.0, "30.0"},
    {1e22, "1e+22"},
    {9007199254740993.0, "9007199254740992.0"},
    {1234567890123456.0, "1234567890123456.0"},
    {1.5e300, "1.5e+300"},
    {0.0, "0.0"},
    {-0.0, "-0.0"},
    {-0.1, "-0.1"},
    {-1e-7, "-1e-07"},
    {0x1p-44, "5.684341886080802e-14"},
    {123.456, "123.456"},
    {0.01, "0.01"},
    {1e100, "1e+100"},
    {2.5e-310, "2.5e-310"},
    /* powers of two whose rounding interval is lopsided: the shortest
     * decimal is not the correctly rounded one of that length */
    {0x1p-1017, "7.120236347223045e-307"},
    {0x1p-1007, "7.291122019556398e-304"},
    {0x1p554, "5.896816288783659e+166"},
    {0x1p976, "6.386688990511104e+293"},
};

Test(shortest, python_repr_table)
{
    for (size_t i = 0; i < sizeof repr_table / sizeof repr_table[0]; i++) {
        char buf[API_SHORTEST_MAX];
        size_t n = api_shortest_repr(repr_table[i].x, buf);
        cr_assert_str_eq(buf, repr_table[i].repr, "row %zu", i);
        cr_assert_eq(n, strlen(buf));
    }
}

Test(shortest, non_finite_as_repr)
{
    char buf[API_SHORTEST_MAX];

    api_shortest_repr(INFINITY, buf);
    cr_assert_str_eq(buf, "inf");
    api_shortest_repr(-INFINITY, buf);
    cr_assert_str_eq(buf, "-inf");
    api_shortest_repr(NAN, buf);
    cr_assert_str_eq(buf, "nan");
}

/* Significant digits of a repr string, and its value as an exact decimal. */
static int sig_digits(const char *s)
{
    int n = 0, lead = 1, trail = 0;

    for (; *s != '\0' && *s != 'e'; s++) {
        if (*s < '0' || *s > '9')
            continue;
        if (lead && *s == '0')
            continue;
        lead = 0;
        n++;
        trail = *s == '0' ? trail + 1 : 0;
    }
    return n - trail;
}

/* Is the p-significant-digit decimal next to x in direction rnd read back
 * as x? Decided with MPFR, independently of the code under test. */
static bool rounded_decimal_round_trips(double x, int p, mpfr_rnd_t rnd, mpfr_t exact)
{
    char digits[32], text[48];
    mpfr_exp_t e;

    mpfr_set_d(exact, x, MPFR_RNDN);
    mpfr_get_str(digits, &e, 10, (size_t)p, exact, rnd);
    /* digits = [-]ddd, value = 0.ddd x 10^e */
    snprintf(text, sizeof text, "%s%s%se%ld", digits[0] == '-' ? "-" : "", "0.",
             digits + (digits[0] == '-'), (long)e);
    return strtod(text, NULL) == x;
}

/* x's text reads back to the same bits, is laid out as repr, and has the
 * fewest digits that do so. */
static void check_shortest(double x, mpfr_t exact)
{
    char buf[API_SHORTEST_MAX];
    size_t n = api_shortest_repr(x, buf);
    double back;
    int nd;

    cr_assert_lt(n, API_SHORTEST_MAX);
    cr_assert_eq(n, strlen(buf));
    back = strtod(buf, NULL);
    cr_assert_eq(memcmp(&back, &x, sizeof x), 0, "%s does not read back as %a", buf, x);
    /* layout: fixed notation has a '.', scientific has e+XX / e-XX */
    if (strchr(buf, 'e') != NULL) {
        const char *e = strchr(buf, 'e');
        cr_assert(e[1] == '+' || e[1] == '-', "%s", buf);
        cr_assert_geq(strlen(e + 2), 2, "%s", buf);
        cr_assert(fabs(x) < 1e-4 || fabs(x) >= 1e16, "%s", buf);
    } else {
        cr_assert_not_null(strchr(buf, '.'), "%s", buf);
        cr_assert(x == 0.0 || (fabs(x) >= 1e-4 && fabs(x) < 1e16), "%s", buf);
    }
    /* minimal: neither (nd-1)-digit neighbour of x reads back as x */
    nd = sig_digits(buf);
    cr_assert(nd <= 17, "%s", buf);
    if (nd > 1) {
        cr_assert_not(rounded_decimal_round_trips(x, nd - 1, MPFR_RNDD, exact), "%s", buf);
        cr_assert_not(rounded_decimal_round_trips(x, nd - 1, MPFR_RNDU, exact), "%s", buf);
    }
    /* nearest: when the correctly rounded nd-digit decimal reads back as x,
     * those are the digits printed (repr's tie-break between candidates) */
    if (x != 0.0 && rounded_decimal_round_trips(x, nd, MPFR_RNDN, exact)) {
        char want[32], got[32];
        mpfr_exp_t e10;
        size_t k = 0;

        mpfr_get_str(want, &e10, 10, (size_t)nd, exact, MPFR_RNDN);
        for (const char *c = buf; *c != '\0' && *c != 'e'; c++)
            if (*c >= '0' && *c <= '9' && (k > 0 || *c != '0'))
                got[k++] = *c;
        got[nd] = '\0'; /* drops the trailing zeros of fixed notation, "100.0" */
        cr_assert_str_eq(got, want + (want[0] == '-'), "%s", buf);
    }
}

/* 100000 random finite doubles (random bit patterns). */
Test(shortest, round_trip_and_minimal_property, .timeout = 60)
{
    uint64_t seed = 0x9e3779b97f4a7c15u;
    mpfr_t exact;
    int checked = 0;

    mpfr_init2(exact, 64);
    while (checked < 100000) {
        uint64_t bits = rng_xorshift64(&seed);
        double x;

        memcpy(&x, &bits, sizeof x);
        if (!isfinite(x))
            continue;
        checked++;
        check_shortest(x, exact);
    }
    mpfr_clear(exact);
}

/* Every power of two (where the rounding interval is lopsided) and its
 * neighbours: random bits almost never land on these. */
Test(shortest, powers_of_two_property, .timeout = 60)
{
    mpfr_t exact;

    mpfr_init2(exact, 64);
    for (int e = -1074; e <= 1023; e++) {
        double x = ldexp(1.0, e);
        check_shortest(x, exact);
        check_shortest(-x, exact);
        check_shortest(nextafter(x, 0.0), exact);
        if (e < 1023)
            check_shortest(nextafter(x, INFINITY), exact);
    }
    mpfr_clear(exact);
}

/* Values that are short decimals (k / 10^d) or integers: their bounds
 * can sit exactly on a decimal, the shortest search's rare path, which
 * random bit patterns almost never take. */
Test(shortest, short_decimals_property, .timeout = 60)
{
    uint64_t seed = 0x2545f4914f6cdd1du;
    mpfr_t exact;

    mpfr_init2(exact, 64);
    for (int d = 0; d <= 22; d++) {
        for (int i = 0; i < 2000; i++) {
            double k = (double)(rng_xorshift64(&seed) % 1000000 + 1);
            check_shortest(k / pow(10.0, d), exact);
            check_shortest(k * pow(10.0, d), exact);
        }
    }
    mpfr_clear(exact);
}

Test(shortest, integers_print_as_python_does)
{
    char buf[API_SHORTEST_MAX], want[API_SHORTEST_MAX];

    for (int64_t i = 1; i <= 300000; i++) {
        api_shortest_repr((double)i, buf);
        snprintf(want, sizeof want, "%lld.0", (long long)i);
        cr_assert_str_eq(buf, want);
    }
    api_shortest_repr(9007199254740993.0, buf); /* 2^53 + 1 rounds to 2^53 */
    cr_assert_str_eq(buf, "9007199254740992.0");
    api_shortest_repr(1e16, buf);
    cr_assert_str_eq(buf, "1e+16");
    api_shortest_repr(123456789012345678.0, buf);
    cr_assert_str_eq(buf, "1.2345678901234568e+17");
}

/* The printer and the reference (tests/support/shortest_ref.c: MPFR's
 * directed conversions and strtod) print the same text for x and -x. */
static void check_same_as_reference(double x, mpfr_t work)
{
    char got[API_SHORTEST_MAX], want[SHORTEST_REF_MAX];

    for (int s = 0; s < 2; s++, x = -x) {
        api_shortest_repr(x, got);
        shortest_ref_repr(x, want, work);
        cr_assert_str_eq(got, want, "%a", x);
    }
}

/* Every binade (each exponent field, subnormals included) at its smallest
 * and largest significand, its power of two's neighbours and random
 * significands; then random bit patterns. `make proof-printer` runs the
 * same comparison on 10^8 values. */
Test(shortest, same_as_reference_in_every_binade, .timeout = 120)
{
    uint64_t seed = 0x5851f42d4c957f2du;
    mpfr_t work;

    mpfr_init2(work, 64);
    for (uint64_t be = 0; be < 2047; be++) {
        uint64_t top = be << 52;
        const uint64_t sig[] = {
            0, 1, 2, (UINT64_C(1) << 52) - 1, (UINT64_C(1) << 52) - 2, UINT64_C(1) << 51};
        for (size_t i = 0; i < sizeof sig / sizeof sig[0]; i++) {
            double x;
            uint64_t bits = top | sig[i];
            memcpy(&x, &bits, sizeof x);
            check_same_as_reference(x, work);
        }
        for (int i = 0; i < 16; i++) {
            double x;
            uint64_t bits = top | (rng_xorshift64(&seed) & ((UINT64_C(1) << 52) - 1));
            memcpy(&x, &bits, sizeof x);
            check_same_as_reference(x, work);
        }
    }
    for (int i = 0; i < 100000; i++) {
        double x;
        uint64_t bits = rng_xorshift64(&seed);
        memcpy(&x, &bits, sizeof x);
        if (isfinite(x))
            check_same_as_reference(x, work);
    }
    mpfr_clear(work);
}

Test(shortest, reference_prints_repr_table)
{
    char buf[SHORTEST_REF_MAX];
    mpfr_t work;

    mpfr_init2(work, 64);
    for (size_t i = 0; i < sizeof repr_table / sizeof repr_table[0]; i++) {
        shortest_ref_repr(repr_table[i].x, buf, work);
        cr_assert_str_eq(buf, repr_table[i].repr);
    }
    mpfr_clear(work);
}
