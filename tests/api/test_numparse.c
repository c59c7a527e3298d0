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
#include "tests/support/rng.h"
#include "tests/support/bits.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u; /* rng_xorshift64s */

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
        int point = (int)(rng_xorshift64s(&rng_state) % 800);
        s[n++] = (char)('1' + rng_xorshift64s(&rng_state) % 9);
        for (int k = 0; k < 799; k++) {
            if (k == point)
                s[n++] = '.';
            s[n++] = (char)('0' + rng_xorshift64s(&rng_state) % 10);
        }
        if (memchr(s, '.', n) == NULL && round % 2) {
            s[n++] = '.';
            s[n++] = '5';
        }
        snprintf(s + n, sizeof s - n, "e%d", (int)(rng_xorshift64s(&rng_state) % 1200) - 1100);
        same_as_strtod(s);
    }
}

Test(numparse, random_doubles_at_every_precision)
{
    char s[64];
    const int precs[] = {6, 9, 15, 16, 17, 20, 25};
    for (int i = 0; i < 40000; i++) {
        double x;
        uint64_t u = rng_xorshift64s(&rng_state);
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
        if (rng_xorshift64s(&rng_state) & 1)
            s[n++] = '-';
        int ndig = 1 + (int)(rng_xorshift64s(&rng_state) % 30);
        int point = (int)(rng_xorshift64s(&rng_state) % (unsigned)(ndig + 1));
        if (point == 0) {
            s[n++] = '0';
            s[n++] = '.';
            for (int k = 0; k < (int)(rng_xorshift64s(&rng_state) % 5); k++)
                s[n++] = '0';
        }
        for (int k = 0; k < ndig; k++) {
            if (k > 0 && k == point)
                s[n++] = '.';
            s[n++] = (char)((k == 0 && point != 0 ? '1' : '0') +
                            rng_xorshift64s(&rng_state) % (k == 0 && point ? 9 : 10));
        }
        if (rng_xorshift64s(&rng_state) % 4)
            n += (size_t)snprintf(s + n, sizeof s - n, "%c%d",
                                  (rng_xorshift64s(&rng_state) & 1) ? 'e' : 'E',
                                  (int)(rng_xorshift64s(&rng_state) % 700) - 350);
        s[n] = '\0';
        same_as_strtod(s);
    }
}

Test(numparse, nineteen_digit_mantissas)
{
    /* the Eisel-Lemire range: up to 19 digits, every decimal exponent */
    char s[64];
    for (int i = 0; i < 60000; i++) {
        unsigned long long m = rng_xorshift64s(&rng_state) % 10000000000000000000ull;
        if (i % 3 == 0)
            m |= 1; /* odd mantissas sit on halfway points more often */
        snprintf(s, sizeof s, "%llue%d", m, (int)(rng_xorshift64s(&rng_state) % 720) - 370);
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

/* ---- api_numparse_run: the fused fast path ------------------------------ */

/* Runs api_numparse_run on tok followed by term and then slack more bytes,
 * in a heap buffer of exactly that size (so ASan sees any read past end);
 * term 0 means nothing follows the token. When it accepts, checks that it
 * took the whole token and gave api_numparse's and strtod's bits. Returns
 * the length it took. */
static size_t run_on(const char *tok, char term, size_t slack)
{
    size_t len = strlen(tok), size = len + (term ? 1 + slack : 0);
    char *buf = malloc(size > 0 ? size : 1);
    cr_assert_not_null(buf);
    memcpy(buf, tok, len);
    if (term) {
        buf[len] = term;
        memset(buf + len + 1, '7', slack); /* digits: must not be read as part of it */
    }
    double x = 42.0;
    size_t n = api_numparse_run(buf, buf + size, &x);
    if (n > 0) {
        double want;
        size_t bad;
        cr_assert_eq(n, len, "%s: took %zu of %zu bytes", tok, n, len);
        cr_assert(api_numparse(tok, len, &want, &bad), "%s: accepted a bad token", tok);
        cr_assert_eq(bits_of(x), bits_of(want), "%s: got %a, api_numparse %a", tok, x, want);
        cr_assert_eq(bits_of(x), bits_of(strtod(tok, NULL)), "%s: differs from strtod", tok);
        cr_assert(isfinite(x), "%s: an infinity from the fast path", tok);
    } else {
        cr_assert_eq(x, 42.0, "%s: *out written when declining", tok);
    }
    free(buf);
    return n;
}

Test(numparse, run_declines_what_it_must)
{
    /* the token runs to the end of the buffer: it may go on */
    const char *whole[] = {"1", "-0", "0.5", "12345678", "1.2345678901234567", "1e5"};
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        cr_assert_eq(run_on(whole[i], 0, 0), 0, "%s at the end", whole[i]);
        cr_assert_eq(run_on(whole[i], ',', 0), strlen(whole[i]), "%s then ','", whole[i]);
    }
    /* followed by a byte that would continue it */
    const char follow[] = "0123456789+-.eE";
    for (size_t i = 0; follow[i]; i++) {
        cr_assert_eq(run_on("12", follow[i], 3), 0, "12 then %c", follow[i]);
        cr_assert_eq(run_on("1.5e3", follow[i], 9), 0, "1.5e3 then %c", follow[i]);
    }
    /* malformed: the general path reports it */
    static const char *bad[] = {"-",  "01",    "-01", "1.",  ".1",   "1e",  "1e+", "1E-",
                                "+1", "1.e5",  "--1", "-.5", "00",   "Inf", "NaN", "]",
                                "t",  "\"1\"", "",    "-]",  "1e-]", "0.]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(run_on(bad[i], ']', 8), 0, "accepted '%s'", bad[i]);
    /* a byte that cannot continue a number ends it, whatever comes next */
    char hex[] = "0x10";
    double x = 0;
    cr_assert_eq(api_numparse_run(hex, hex + 4, &x), 1);
    cr_assert_eq(bits_of(x), bits_of(0.0));
    /* more than 19 significant digits, or longer than API_NUMPARSE_RUN_MAX */
    cr_assert_eq(run_on("12345678901234567890", ',', 8), 0);
    cr_assert_eq(run_on("1234567890.1234567890", ',', 8), 0);
    cr_assert_eq(run_on("1.00000000000000000000", ',', 8), 0);
    cr_assert_eq(run_on("1234567890123456789", ',', 8), 19);
    cr_assert_eq(run_on("0.0000000000000000000000001234567890123456789", ',', 8), 45);
    char s[128] = "0.";
    memset(s + 2, '0', API_NUMPARSE_RUN_MAX - 3);
    s[API_NUMPARSE_RUN_MAX - 1] = '1';
    s[API_NUMPARSE_RUN_MAX] = '\0';
    cr_assert_eq(run_on(s, ',', 8), API_NUMPARSE_RUN_MAX);
    s[API_NUMPARSE_RUN_MAX - 1] = '0';
    s[API_NUMPARSE_RUN_MAX] = '1';
    s[API_NUMPARSE_RUN_MAX + 1] = '\0';
    cr_assert_eq(run_on(s, ',', 8), 0, "a token longer than API_NUMPARSE_RUN_MAX");
    /* beyond the float64 range: never an infinity (the caller's range check
     * is on the general path) */
    cr_assert_eq(run_on("1.7976931348623159e308", ',', 8), 0);
    cr_assert_eq(run_on("-1e309", ',', 8), 0);
    cr_assert_eq(run_on("9007199254740993e300", ',', 8), 0);
    run_on("1.7976931348623157e308", ',', 8);
    /* halfway cases Eisel-Lemire declines, decided exactly as integers
     * times 1e22 */
    cr_assert_eq(run_on("1e23", ',', 8), 4);
    cr_assert_eq(run_on("-4e23", ']', 8), 5);
    /* exponents of more than five digits */
    cr_assert_eq(run_on("1e99999", ',', 8), 0); /* beyond the table: declined */
    cr_assert_eq(run_on("1e000005", ',', 8), 0);
    cr_assert_eq(run_on("1e00005", ',', 8), 7);
}

Test(numparse, run_every_digit_split)
{
    /* every split of up to 22 digits between integer and fraction, at every
     * distance from the end of the buffer (the 8-byte and 1-byte loops) */
    char s[64];
    for (int ip = 0; ip <= 20; ip++) {
        for (int fp = 0; fp <= 20 && ip + fp <= 22; fp++) {
            if (ip + fp == 0)
                continue;
            for (int rep = 0; rep < 4; rep++) {
                size_t n = 0;
                if (rep & 1)
                    s[n++] = '-';
                if (ip == 0)
                    s[n++] = '0';
                for (int k = 0; k < ip; k++)
                    s[n++] = (char)((k == 0 ? '1' : '0') +
                                    rng_xorshift64s(&rng_state) % (k == 0 ? 9 : 10));
                if (fp > 0) {
                    s[n++] = '.';
                    for (int k = 0; k < fp; k++)
                        s[n++] = (char)('0' + rng_xorshift64s(&rng_state) % 10);
                }
                if (rep >= 2)
                    n += (size_t)snprintf(s + n, sizeof s - n, "e%d",
                                          (int)(rng_xorshift64s(&rng_state) % 80) - 40);
                s[n] = '\0';
                int sig = ip + fp; /* an upper bound: leading fraction zeros do not count */
                for (size_t slack = 0; slack <= 9; slack++) {
                    size_t got = run_on(s, slack % 2 ? ']' : ',', slack);
                    if (sig <= 15 && (rep < 2 || strchr(s, 'e') == NULL))
                        cr_assert(got > 0, "%s: declined", s);
                }
            }
        }
    }
}

Test(numparse, run_random_tokens)
{
    /* random decimals of 1 to 24 digits; when at most 15 of them are
     * significant and the power of ten is exact, Clinger's path decides:
     * the fast path must not decline those */
    char s[128];
    static const char terms[] = ",] }\n\t\r";
    for (int i = 0; i < 200000; i++) {
        size_t n = 0;
        if (rng_xorshift64s(&rng_state) & 1)
            s[n++] = '-';
        int ndig = 1 + (int)(rng_xorshift64s(&rng_state) % 24);
        int point = (int)(rng_xorshift64s(&rng_state) % (unsigned)(ndig + 1));
        int zeros = 0;
        if (point == 0) {
            s[n++] = '0';
            s[n++] = '.';
            zeros = (int)(rng_xorshift64s(&rng_state) % 5);
            for (int k = 0; k < zeros; k++)
                s[n++] = '0';
        }
        for (int k = 0; k < ndig; k++) {
            if (k > 0 && k == point)
                s[n++] = '.';
            s[n++] = (char)('1' + rng_xorshift64s(&rng_state) % 9);
        }
        int frac = point == 0 ? zeros + ndig : ndig - point;
        int e10 = 0;
        if (rng_xorshift64s(&rng_state) % 3) {
            e10 = (int)(rng_xorshift64s(&rng_state) % 700) - 350;
            n += (size_t)snprintf(s + n, sizeof s - n, "%c%d",
                                  (rng_xorshift64s(&rng_state) & 1) ? 'e' : 'E', e10);
        }
        s[n] = '\0';
        size_t got =
            run_on(s, terms[rng_xorshift64s(&rng_state) % 7], rng_xorshift64s(&rng_state) % 10);
        int e = e10 - frac;
        if (ndig <= 15 && e >= -22 && e <= 22)
            cr_assert_eq(got, n, "%s: declined", s);
        if (ndig > 19)
            cr_assert_eq(got, 0, "%s: more than 19 digits taken", s);
    }
}

Test(numparse, run_random_doubles)
{
    /* printed as a JSON writer does: nearly all must take the fast path */
    char s[64];
    int declined = 0, total = 0;
    for (int i = 0; i < 300000; i++) {
        double x;
        uint64_t u = rng_xorshift64s(&rng_state);
        memcpy(&x, &u, sizeof x);
        if (!isfinite(x))
            continue;
        float f = (float)ldexp((double)(rng_xorshift64s(&rng_state) >> 40),
                               (int)(rng_xorshift64s(&rng_state) % 200) - 124);
        double v = ldexp((double)(rng_xorshift64s(&rng_state) >> 11), -53) *
                   pow(10.0, (double)(rng_xorshift64s(&rng_state) % 21) - 10);
        snprintf(s, sizeof s, "%.17g", x);
        declined += run_on(s, ',', rng_xorshift64s(&rng_state) % 10) == 0;
        snprintf(s, sizeof s, "%.9g", (double)f);
        declined += run_on(s, ']', rng_xorshift64s(&rng_state) % 10) == 0;
        snprintf(s, sizeof s, "%.17g", v);
        declined += run_on(s, ' ', rng_xorshift64s(&rng_state) % 10) == 0;
        total += 3;
    }
    /* only subnormals, overflow and near-halfway products go the slow way */
    cr_assert_lt(declined, total / 200, "%d of %d declined", declined, total);
}
