/* test_dtype.c -- names, sizes, exact decoding and one-step rounding of the
 * four element types, against MPFR (tests/support/oracle.c) and exhaustive
 * sweeps of the 16-bit types. */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/dtype.h"
#include "tests/support/oracle.h"
#include "tests/support/bits.h"
#include "tests/support/rng.h"

/* Same value and sign, or both NaN. */
static bool same(double a, double b)
{
    return (isnan(a) && isnan(b)) || bits_of(a) == bits_of(b);
}

/* xorshift64*: reproducible pseudo-random bits. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
    return rng_xorshift64s(&rng_state);
}

/* float16 bits decoded by definition: (-1)^s * 2^(e-15) * (1 + f/1024). */
static double f16_reference(unsigned h)
{
    unsigned s = h >> 15, e = (h >> 10) & 31, f = h & 1023;
    double v;
    if (e == 31)
        v = f ? NAN : INFINITY;
    else if (e == 0)
        v = f / 1024.0 * pow(2, -14);
    else
        v = (1 + f / 1024.0) * pow(2, (double)e - 15);
    return s ? -v : v;
}

static double bf16_reference(unsigned h)
{
    unsigned s = h >> 15, e = (h >> 7) & 255, f = h & 127;
    double v;
    if (e == 255)
        v = f ? NAN : INFINITY;
    else if (e == 0)
        v = f / 128.0 * pow(2, -126);
    else
        v = (1 + f / 128.0) * pow(2, (double)e - 127);
    return s ? -v : v;
}

Test(dtype, sizes_and_names)
{
    static const struct {
        enum l2_dtype t;
        const char *name;
        size_t size;
    } cases[] = {
        {L2_DTYPE_FLOAT16, "float16", 2},
        {L2_DTYPE_BFLOAT16, "bfloat16", 2},
        {L2_DTYPE_FLOAT32, "float32", 4},
        {L2_DTYPE_FLOAT64, "float64", 8},
    };
    for (size_t i = 0; i < 4; i++) {
        enum l2_dtype got = cases[i].t == L2_DTYPE_FLOAT16 ? L2_DTYPE_FLOAT64 : L2_DTYPE_FLOAT16;
        cr_assert_eq(l2_dtype_size(cases[i].t), cases[i].size);
        cr_assert_str_eq(l2_dtype_name(cases[i].t), cases[i].name);
        cr_assert(l2_dtype_from_name(cases[i].name, strlen(cases[i].name), &got));
        cr_assert_eq(got, cases[i].t);
    }
}

Test(dtype, from_name_rejects)
{
    static const char *bad[] = {"",         "float",  "float1", "float166", "Float16",
                                "float64 ", "bfloat", "f16",    "double",   "float8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum l2_dtype out = L2_DTYPE_BFLOAT16;
        cr_assert(!l2_dtype_from_name(bad[i], strlen(bad[i]), &out), "%s", bad[i]);
        cr_assert_eq(out, L2_DTYPE_BFLOAT16, "out touched for %s", bad[i]);
    }
    /* length counts, not the NUL: a prefix of a longer buffer is looked up */
    enum l2_dtype out = L2_DTYPE_FLOAT16;
    cr_assert(l2_dtype_from_name("float32xyz", 7, &out));
    cr_assert_eq(out, L2_DTYPE_FLOAT32);
    cr_assert(!l2_dtype_from_name("float32xyz", 8, &out));
}

Test(dtype, load_float16_exhaustive)
{
    for (unsigned h = 0; h < 65536; h++) {
        unsigned char b[2] = {(unsigned char)(h & 255), (unsigned char)(h >> 8)};
        double got = l2_dtype_load_le(L2_DTYPE_FLOAT16, b);
        cr_assert(same(got, f16_reference(h)), "0x%04x: %a", h, got);
    }
}

Test(dtype, load_bfloat16_exhaustive)
{
    for (unsigned h = 0; h < 65536; h++) {
        unsigned char b[2] = {(unsigned char)(h & 255), (unsigned char)(h >> 8)};
        double got = l2_dtype_load_le(L2_DTYPE_BFLOAT16, b);
        cr_assert(same(got, bf16_reference(h)), "0x%04x: %a", h, got);
    }
}

Test(dtype, load_float32_and_float64)
{
    unsigned char b[9];
    for (int i = 0; i < 100000; i++) {
        uint64_t u = rnd();
        uint32_t u32 = (uint32_t)u;
        float f;
        double d;
        memcpy(&f, &u32, 4);
        memcpy(&d, &u, 8);
        for (int k = 0; k < 8; k++)
            b[1 + k] = (unsigned char)(u >> (8 * k)); /* misaligned on purpose */
        cr_assert(same(l2_dtype_load_le(L2_DTYPE_FLOAT32, b + 1), (double)f));
        cr_assert(same(l2_dtype_load_le(L2_DTYPE_FLOAT64, b + 1), d));
    }
    const unsigned char one32[4] = {0, 0, 0x80, 0x3f}, inf64[8] = {0, 0, 0, 0, 0, 0, 0xf0, 0xff};
    cr_assert_eq(l2_dtype_load_le(L2_DTYPE_FLOAT32, one32), 1.0);
    cr_assert_eq(l2_dtype_load_le(L2_DTYPE_FLOAT64, inf64), -INFINITY);
}

/* Every 16-bit pattern decodes to a value that rounds to itself. */
Test(dtype, round_trip_16bit_exhaustive)
{
    enum l2_dtype types[2] = {L2_DTYPE_FLOAT16, L2_DTYPE_BFLOAT16};
    for (int t = 0; t < 2; t++) {
        for (unsigned h = 0; h < 65536; h++) {
            unsigned char b[2] = {(unsigned char)(h & 255), (unsigned char)(h >> 8)};
            double v = l2_dtype_load_le(types[t], b);
            cr_assert(same(l2_dtype_round(types[t], v), v), "%s 0x%04x", l2_dtype_name(types[t]),
                      h);
        }
    }
}

/* Checks x and its neighbours against MPFR. */
static void check_round_near(enum l2_dtype t, double x)
{
    double probes[5] = {x, nextafter(x, INFINITY), nextafter(x, -INFINITY), -x, x * (1 + 0x1p-40)};
    for (int i = 0; i < 5; i++) {
        double want = oracle_round_dtype(t, probes[i]);
        double got = l2_dtype_round(t, probes[i]);
        cr_assert(same(got, want), "%s(%a) = %a, want %a", l2_dtype_name(t), probes[i], got, want);
    }
}

static double load16(enum l2_dtype t, unsigned h)
{
    unsigned char b[2] = {(unsigned char)(h & 255), (unsigned char)(h >> 8)};
    return l2_dtype_load_le(t, b);
}

/* Every halfway point between consecutive 16-bit values, and its neighbours. */
Test(dtype, round_halfway_16bit_exhaustive)
{
    enum l2_dtype types[2] = {L2_DTYPE_FLOAT16, L2_DTYPE_BFLOAT16};
    for (int t = 0; t < 2; t++) {
        unsigned top = types[t] == L2_DTYPE_FLOAT16 ? 0x7c00 : 0x7f80;
        for (unsigned h = 0; h < top; h++) {
            double a = load16(types[t], h), b = load16(types[t], h + 1);
            double mid = a + (b - a) / 2; /* exact: a few bits more than the type */
            if (isinf(b))                 /* above the largest value: the overflow threshold */
                mid = a + (a - load16(types[t], h - 1)) / 2;
            check_round_near(types[t], mid);
            check_round_near(types[t], a);
        }
    }
}

Test(dtype, round_float32_random_halfway)
{
    for (int i = 0; i < 200000; i++) {
        uint32_t u = (uint32_t)rnd() & 0x7fffffff;
        if ((u >> 23) >= 254)
            continue;
        float a, b;
        memcpy(&a, &u, 4);
        u++;
        memcpy(&b, &u, 4);
        double mid = (double)a + ((double)b - (double)a) / 2;
        check_round_near(L2_DTYPE_FLOAT32, mid);
        /* a second, independent reference: the C conversion (round to nearest) */
        cr_assert(same(l2_dtype_round(L2_DTYPE_FLOAT32, mid), (double)(float)mid));
    }
}

Test(dtype, round_random_doubles_all_types)
{
    enum l2_dtype types[3] = {L2_DTYPE_FLOAT16, L2_DTYPE_BFLOAT16, L2_DTYPE_FLOAT32};
    for (int i = 0; i < 100000; i++) {
        /* exponents around each type's range, random significand */
        uint64_t u = rnd();
        int e = (int)(rnd() % 320) - 170;
        double x = ldexp((double)(u >> 11) * 0x1p-53 + 0.5, e);
        if (u & 1)
            x = -x;
        for (int t = 0; t < 3; t++) {
            double want = oracle_round_dtype(types[t], x);
            double got = l2_dtype_round(types[t], x);
            cr_assert(same(got, want), "%s(%a) = %a, want %a", l2_dtype_name(types[t]), x, got,
                      want);
        }
        cr_assert(same(l2_dtype_round(L2_DTYPE_FLOAT32, x), (double)(float)x));
    }
}

Test(dtype, round_overflow_thresholds)
{
    /* float16: max 65504, half an ulp above is 65520 */
    cr_assert_eq(l2_dtype_round(L2_DTYPE_FLOAT16, 65519.99), 65504.0);
    cr_assert_eq(l2_dtype_round(L2_DTYPE_FLOAT16, nextafter(65520.0, 0)), 65504.0);
    cr_assert_eq(l2_dtype_round(L2_DTYPE_FLOAT16, 65520.0), INFINITY);
    cr_assert_eq(l2_dtype_round(L2_DTYPE_FLOAT16, -65520.0), -INFINITY);
    cr_assert_eq(l2_dtype_round(L2_DTYPE_FLOAT16, 65504.0), 65504.0);
    cr_assert_eq(l2_dtype_round(L2_DTYPE_FLOAT16, 1e300), INFINITY);
    /* bfloat16: max (2^8-1) * 2^120, threshold 2^128 - 2^119 */
    double bfmax = 255 * 0x1p120, bfthr = 0x1p128 - 0x1p119;
    cr_assert_eq(l2_dtype_round(L2_DTYPE_BFLOAT16, nextafter(bfthr, 0)), bfmax);
    cr_assert_eq(l2_dtype_round(L2_DTYPE_BFLOAT16, bfthr), INFINITY);
    cr_assert_eq(l2_dtype_round(L2_DTYPE_BFLOAT16, -bfthr), -INFINITY);
    /* float32: FLT_MAX, threshold 2^128 - 2^103 */
    double fthr = 0x1p128 - 0x1p103;
    cr_assert_eq(l2_dtype_round(L2_DTYPE_FLOAT32, nextafter(fthr, 0)), (double)FLT_MAX);
    cr_assert_eq(l2_dtype_round(L2_DTYPE_FLOAT32, fthr), INFINITY);
    cr_assert_eq(l2_dtype_round(L2_DTYPE_FLOAT32, DBL_MAX), INFINITY);
}

Test(dtype, round_subnormals_and_zero)
{
    /* smallest subnormals: float16 2^-24, bfloat16 and float32 2^-149 */
    double tiny[3] = {0x1p-24, 0x1p-133, 0x1p-149};
    enum l2_dtype types[3] = {L2_DTYPE_FLOAT16, L2_DTYPE_BFLOAT16, L2_DTYPE_FLOAT32};
    for (int t = 0; t < 3; t++) {
        double s = tiny[t];
        cr_assert_eq(l2_dtype_round(types[t], s), s);
        cr_assert_eq(bits_of(l2_dtype_round(types[t], s / 2)), bits_of(0.0)); /* tie to even */
        cr_assert_eq(bits_of(l2_dtype_round(types[t], -s / 2)), bits_of(-0.0));
        cr_assert_eq(l2_dtype_round(types[t], nextafter(s / 2, 1)), s);
        cr_assert_eq(l2_dtype_round(types[t], 1.5 * s), 2 * s); /* tie to even, up */
        cr_assert_eq(l2_dtype_round(types[t], 2.5 * s), 2 * s); /* tie to even, down */
        cr_assert_eq(l2_dtype_round(types[t], 3 * s), 3 * s);
        cr_assert_eq(bits_of(l2_dtype_round(types[t], 0x1p-1074)), bits_of(0.0));
        cr_assert_eq(bits_of(l2_dtype_round(types[t], -0.0)), bits_of(-0.0));
        cr_assert_eq(bits_of(l2_dtype_round(types[t], 0.0)), bits_of(0.0));
        cr_assert(isnan(l2_dtype_round(types[t], NAN)));
        cr_assert_eq(l2_dtype_round(types[t], -INFINITY), -INFINITY);
    }
    /* float16: 2^-24 is the subnormal step, so 2^-14 - 2^-25 is a tie that
     * rounds to the even 2^-14 */
    cr_assert_eq(l2_dtype_round(L2_DTYPE_FLOAT16, 0x1p-14 - 0x1p-25), 0x1p-14);
    /* bfloat16 is not float32 rounded twice: 1 + 2^-8 + 2^-30 is just above a
     * tie of bfloat16 (rounds up) but rounds to 1 + 2^-8 in float32 first,
     * which is a tie that would go down to 1. */
    cr_assert_eq(l2_dtype_round(L2_DTYPE_BFLOAT16, 1 + 0x1p-8 + 0x1p-30), 1 + 0x1p-7);
    cr_assert_eq(l2_dtype_round(L2_DTYPE_FLOAT16, 1 + 0x1p-11 + 0x1p-30), 1 + 0x1p-10);
}

Test(dtype, round_float64_is_identity)
{
    for (int i = 0; i < 10000; i++) {
        uint64_t u = rnd();
        double x;
        memcpy(&x, &u, 8);
        cr_assert(same(l2_dtype_round(L2_DTYPE_FLOAT64, x), x));
    }
}

/* The bit layouts the kernels specialize on are the IEEE ones: the sign on
 * top of the element, 1.0 is the bias in the exponent field, the all-ones
 * field is infinity, and the largest finite and smallest subnormal values
 * decode as (2 - 2^-fbits) * 2^bias and 2^(1 - bias - fbits). */
Test(dtype, bit_layouts)
{
    const enum l2_dtype types[4] = {L2_DTYPE_FLOAT16, L2_DTYPE_BFLOAT16, L2_DTYPE_FLOAT32,
                                    L2_DTYPE_FLOAT64};
    const unsigned want_e[4] = {5, 8, 8, 11}, want_f[4] = {10, 7, 23, 52};
    const unsigned want_w[4] = {2, 2, 4, 8}, want_eall[4] = {31, 255, 255, 2047},
                   want_bias[4] = {15, 127, 127, 1023};
    for (int t = 0; t < 4; t++) {
        struct l2_dtype_layout l = l2_dtype_layout(types[t]);
        size_t w = l2_dtype_size(types[t]);
        unsigned char b[8];
        uint64_t u;
        cr_assert_eq(w, want_w[t]);
        cr_assert_eq(l.bytes, want_w[t]);
        cr_assert_eq(l.ebits, want_e[t]);
        cr_assert_eq(l.fbits, want_f[t]);
        cr_assert_eq(l.sign, 8 * want_w[t] - 1);
        cr_assert_eq(l.eall, want_eall[t]);
        cr_assert_eq(l.bias, want_bias[t]);
        const uint64_t pats[5] = {
            (uint64_t)l.bias << l.fbits,                                        /* 1.0 */
            UINT64_C(1) << l.sign | (uint64_t)l.bias << l.fbits,                /* -1.0 */
            (uint64_t)l.eall << l.fbits,                                        /* inf */
            (uint64_t)(l.eall - 1) << l.fbits | ((UINT64_C(1) << l.fbits) - 1), /* max */
            1,                                                                  /* min */
        };
        const double want[5] = {1.0, -1.0, INFINITY,
                                ldexp(2 - ldexp(1, -(int)l.fbits), (int)l.bias),
                                ldexp(1, 1 - (int)l.bias - (int)l.fbits)};
        for (int k = 0; k < 5; k++) {
            u = pats[k];
            for (size_t i = 0; i < w; i++)
                b[i] = (unsigned char)(u >> (8 * i));
            cr_assert_eq(l2_dtype_load_le(types[t], b), want[k], "%s pattern %d",
                         l2_dtype_name(types[t]), k);
        }
    }
    cr_assert_eq(L2_FLOAT32_EALL, 255);
    cr_assert_eq(L2_FLOAT64_BIAS, 1023);
    cr_assert_eq(L2_FLOAT16_SIGN, 15);
    cr_assert_eq(L2_BFLOAT16_FBITS, 7);
}
