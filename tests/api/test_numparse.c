/* test_numparse.c -- the JSON number parser against strtod and MPFR: hard
 * halfway cases, subnormals, overflow, 800-digit mantissas, random doubles
 * printed at every precision, random decimal strings, and the grammar. */
#include <criterion/criterion.h>

#include <math.h>
#include <mpfr.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/numparse.h"

static uint64_t bits_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static double parse_ok(const char *s)
{
    double x = -1234.5;
    size_t bad = 0;
    cr_assert(api_numparse(s, strlen(s), &x, &bad), "refused %.60s (bad at %zu)", s, bad);
    return x;
}

/* api_numparse and strtod give the same bits for s. */
static void same_as_strtod(const char *s)
{
    double want = strtod(s, NULL);
    double got = parse_ok(s);
    cr_assert_eq(bits_of(got), bits_of(want), "%.80s: got %a, strtod %a", s, got, want);
}

/* MPFR's correctly rounded float64 of s: an independent reference. */
static double mpfr_ref(const char *s)
{
    mpfr_t m;
    mpfr_init2(m, 53);
    mpfr_set_emin(-1073);
    mpfr_set_emax(1024);
    int t = mpfr_strtofr(m, s, NULL, 10, MPFR_RNDN);
    t = mpfr_subnormalize(m, t, MPFR_RNDN);
    (void)t;
    double d = mpfr_get_d(m, MPFR_RNDN);
    mpfr_clear(m);
    mpfr_set_emin(mpfr_get_emin_min());
    mpfr_set_emax(mpfr_get_emax_max());
    return d;
}

static void check_both(const char *s, double expect)
{
    double got = parse_ok(s);
    cr_assert_eq(bits_of(got), bits_of(expect), "%.80s: got %a, expected %a", s, got, expect);
    cr_assert_eq(bits_of(got), bits_of(strtod(s, NULL)), "%.80s differs from strtod", s);
    cr_assert_eq(bits_of(got), bits_of(mpfr_ref(s)), "%.80s differs from MPFR", s);
}

Test(numparse, hard_cases)
{
    check_both("0", 0.0);
    check_both("-0", -0.0);
    check_both("-0.0e-0", -0.0);
    check_both("0.1", 0.1);
    check_both("1e23", 1e23);
    check_both("9007199254740992", 9007199254740992.0);
    check_both("9007199254740993", 9007199254740992.0); /* halfway: to even */
    check_both("9007199254740995", 9007199254740996.0); /* halfway: to even */
    check_both("9007199254740993.0000000000000000001", 9007199254740994.0);
    check_both("2.2250738585072011e-308", 0x0.fffffffffffffp-1022);
    check_both("2.2250738585072012e-308", 0x1p-1022);
    check_both("2.2250738585072014e-308", 0x1p-1022);
    check_both("4.9406564584124654e-324", 0x1p-1074);
    check_both("2.4703282292062327e-324", 0.0); /* just below half the least subnormal */
    check_both("2.4703282292062328e-324", 0x1p-1074);
    check_both("1e-400", 0.0);
    check_both("-1e-400", -0.0);
    check_both("1e309", INFINITY);
    check_both("-1e309", -INFINITY);
    check_both("1.7976931348623157e308", 0x1.fffffffffffffp1023);
    check_both("1.7976931348623158e308", 0x1.fffffffffffffp1023);
    check_both("1.7976931348623159e308", INFINITY);
    check_both("8.98846567431158e307", 0x1p1023);
    check_both("1e22", 1e22);
    check_both("1e-22", 1e-22);
    check_both("123456789e30", 123456789e30); /* the extended fast path */
    check_both("9007199254740991e22", 9007199254740991e22);
    check_both("3.4028235677973366e38", 3.4028235677973366e38);
    check_both("0e999999999999999999999", 0.0);
    check_both("1e-99999999999999999999", 0.0);
    check_both("1e99999999999999999999", INFINITY);
    check_both("0.000000000000000000000000000000000000000000001", 1e-45);
    check_both("123456789012345678901234567890", 123456789012345678901234567890.0);
}

/* The exact decimal expansion of a halfway point h (exactly representable in
 * 54 bits): digits and exponent, as "0.DDDD…eE". */
static void exact_decimal(mpfr_t h, char *buf, size_t cap)
{
    mpfr_exp_t e;
    char *digits = mpfr_get_str(NULL, &e, 10, 1100, h, MPFR_RNDN);
    size_t n = strlen(digits);
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    snprintf(buf, cap, "0.%se%ld", digits, (long)e);
    mpfr_free_str(digits);
}

Test(numparse, long_mantissas_at_halfway_points)
{
    static char buf[4096], up[4200], down[4200];
    const double lows[] = {0x1p-1074,
                           0x1.8p-1070,
                           0x0.fffffffffffffp-1022,
                           0x1p-1022,
                           0x1.123456789abcdp-1000,
                           1.0,
                           0x1.fffffffffffffp1000};
    mpfr_t h;
    mpfr_init2(h, 60);
    for (size_t i = 0; i < sizeof lows / sizeof lows[0]; i++) {
        double a = lows[i], b = nextafter(a, INFINITY);
        mpfr_set_d(h, a, MPFR_RNDN);
        mpfr_add_d(h, h, b, MPFR_RNDN);
        mpfr_div_2ui(h, h, 1, MPFR_RNDN); /* exact with 60 bits */
        exact_decimal(h, buf, sizeof buf);
        double even = (bits_of(a) & 1) ? b : a;
        check_both(buf, even);
        /* just above and just below, by a digit far past the 800th */
        char *e = strchr(buf, 'e');
        size_t mant = (size_t)(e - buf);
        snprintf(up, sizeof up, "%.*s%0900d1%s", (int)mant, buf, 0, e);
        check_both(up, b);
        /* below: decrement the last digit and append nines */
        memcpy(down, buf, mant);
        down[mant - 1] = (char)(down[mant - 1] - 1);
        size_t pos = mant;
        for (int k = 0; k < 900; k++)
            down[pos++] = '9';
        snprintf(down + pos, sizeof down - pos, "%s", e);
        check_both(down, a);
        cr_assert_gt(strlen(up), 800);
    }
    mpfr_clear(h);
}

Test(numparse, eight_hundred_digit_mantissas)
{
    static char s[1000];
    for (int round = 0; round < 300; round++) {
        size_t n = 0;
        int point = (int)(rnd() % 800);
        s[n++] = (char)('1' + rnd() % 9);
        for (int k = 0; k < 799; k++) {
            if (k == point)
                s[n++] = '.';
            s[n++] = (char)('0' + rnd() % 10);
        }
        if (memchr(s, '.', n) == NULL && round % 2) {
            s[n++] = '.';
            s[n++] = '5';
        }
        snprintf(s + n, sizeof s - n, "e%d", (int)(rnd() % 1200) - 1100);
        same_as_strtod(s);
    }
}

Test(numparse, random_doubles_at_every_precision)
{
    char s[64];
    const int precs[] = {6, 9, 15, 16, 17, 20, 25};
    for (int i = 0; i < 40000; i++) {
        double x;
        uint64_t u = rnd();
        memcpy(&x, &u, sizeof x);
        if (!isfinite(x))
            continue;
        int p = precs[i % 7];
        snprintf(s, sizeof s, "%.*g", p, x);
        same_as_strtod(s);
        snprintf(s, sizeof s, "%.*e", p, x);
        same_as_strtod(s);
    }
}

Test(numparse, random_decimal_strings)
{
    char s[128];
    for (int i = 0; i < 60000; i++) {
        size_t n = 0;
        if (rnd() & 1)
            s[n++] = '-';
        int ndig = 1 + (int)(rnd() % 30);
        int point = (int)(rnd() % (unsigned)(ndig + 1));
        if (point == 0) {
            s[n++] = '0';
            s[n++] = '.';
            for (int k = 0; k < (int)(rnd() % 5); k++)
                s[n++] = '0';
        }
        for (int k = 0; k < ndig; k++) {
            if (k > 0 && k == point)
                s[n++] = '.';
            s[n++] =
                (char)((k == 0 && point != 0 ? '1' : '0') + rnd() % (k == 0 && point ? 9 : 10));
        }
        if (rnd() % 4)
            n += (size_t)snprintf(s + n, sizeof s - n, "%c%d", (rnd() & 1) ? 'e' : 'E',
                                  (int)(rnd() % 700) - 350);
        s[n] = '\0';
        same_as_strtod(s);
    }
}

Test(numparse, nineteen_digit_mantissas)
{
    /* the Eisel-Lemire range: up to 19 digits, every decimal exponent */
    char s[64];
    for (int i = 0; i < 60000; i++) {
        unsigned long long m = rnd() % 10000000000000000000ull;
        if (i % 3 == 0)
            m |= 1; /* odd mantissas sit on halfway points more often */
        snprintf(s, sizeof s, "%llue%d", m, (int)(rnd() % 720) - 370);
        same_as_strtod(s);
    }
    /* exact powers of ten across the table, and next to them */
    for (int e = -350; e <= 350; e++) {
        snprintf(s, sizeof s, "1e%d", e);
        same_as_strtod(s);
        snprintf(s, sizeof s, "9999999999999999999e%d", e);
        same_as_strtod(s);
        snprintf(s, sizeof s, "1000000000000000001e%d", e);
        same_as_strtod(s);
    }
}

Test(numparse, short_numbers_exhaustively)
{
    /* every short integer and one-decimal number: the fast path */
    char s[32];
    for (int i = -20000; i <= 20000; i++) {
        snprintf(s, sizeof s, "%d", i);
        same_as_strtod(s);
        snprintf(s, sizeof s, "%d.%de%d", i, (i & 0xff) % 10, i % 25);
        same_as_strtod(s);
    }
}

Test(numparse, grammar)
{
    static const struct {
        const char *s;
        size_t bad;
    } bad[] = {
        {"", 0},     {"-", 1},   {"01", 1},   {"-01", 2},   {"1.", 2},    {".1", 0},
        {"1e", 2},   {"1e+", 3}, {"1E-", 3},  {"+1", 0},    {"1.5.3", 3}, {"1ee5", 2},
        {"0x10", 1}, {"1 ", 1},  {"1.e5", 2}, {"--1", 1},   {"1e5.5", 3}, {"00", 1},
        {"-.5", 1},  {"Inf", 0}, {"NaN", 0},  {"1e+-1", 3}, {"12a", 2},   {"0.-1", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double x = 7.0;
        size_t at = 999;
        cr_assert_not(api_numparse(bad[i].s, strlen(bad[i].s), &x, &at), "accepted '%s'", bad[i].s);
        cr_assert_eq(at, bad[i].bad, "'%s': bad at %zu, expected %zu", bad[i].s, at, bad[i].bad);
        cr_assert_eq(x, 7.0, "'%s': *out written on failure", bad[i].s);
    }
    const char *good[] = {"0", "-0", "0.0", "1E5", "1e+5", "1e-5", "0e0", "10", "-10.01e01"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        same_as_strtod(good[i]);
}

Test(numparse, reads_only_len_bytes)
{
    /* the token is not NUL-terminated: bytes past len are never read */
    const char s[] = "1.2345e3xyz";
    double x;
    size_t bad;
    cr_assert(api_numparse(s, 8, &x, &bad));
    cr_assert_eq(x, 1234.5);
    cr_assert(api_numparse(s, 6, &x, &bad));
    cr_assert_eq(bits_of(x), bits_of(1.2345));
}
