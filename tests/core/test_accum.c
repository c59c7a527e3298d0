/* test_accum.c -- the exact accumulator against the MPFR oracle: sums and
 * halves of random and extreme inputs of every dtype, the final rounding bit
 * by bit, independence from block splits and merge order, and the index of
 * the first NaN or infinity. Every test that feeds runs with the
 * implementation chosen for this CPU, and with the portable and the AVX2
 * ones forced. */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/accum.h"
#include "core/accum_impl.h"
#include "tests/support/oracle.h"
#include "tests/support/bits.h"
#include "tests/support/core_bits.h"

/* Defines test name in suite accum (the implementation l2_accum_feed picks),
 * in suite accum_portable (the portable code forced) and in accum_avx2 (the
 * AVX2 code forced; on a CPU without AVX2 that one has nothing to test). */
#define FEED_TEST(name)                                                                            \
    static void name##_body(void);                                                                 \
    Test(accum, name)                                                                              \
    {                                                                                              \
        name##_body();                                                                             \
    }                                                                                              \
    Test(accum_portable, name)                                                                     \
    {                                                                                              \
        cr_assert(l2_accum_impl_set(L2_ACCUM_IMPL_PORTABLE));                                      \
        name##_body();                                                                             \
    }                                                                                              \
    Test(accum_avx2, name)                                                                         \
    {                                                                                              \
        if (l2_accum_impl_set(L2_ACCUM_IMPL_AVX2))                                                 \
            name##_body();                                                                         \
    }                                                                                              \
    static void name##_body(void)

CORE_BITS_RNG(0x243f6a8885a308d3u);

/* Raw bits of a value exactly representable in dtype t. */
static uint64_t bits_for(enum l2_dtype t, double v)
{
    switch (t) {
    case L2_DTYPE_FLOAT64:
        return bits_of(v);
    case L2_DTYPE_FLOAT32: {
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, 4);
        return u;
    }
    case L2_DTYPE_BFLOAT16: {
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, 4);
        cr_assert_eq(u & 0xffff, 0, "%a is not a bfloat16", v);
        return u >> 16;
    }
    default: {
        uint64_t sign = signbit(v) ? 0x8000 : 0, u;
        double a = fabs(v);
        int e;
        if (a < 0x1p-14) {
            u = (uint64_t)(a * 0x1p24);
        } else {
            frexp(a, &e); /* a = f * 2^e, f in [0.5, 1) */
            u = (uint64_t)(e + 14) << 10 | (uint64_t)((ldexp(a, 1 - e) - 1) * 1024);
        }
        unsigned char b[2] = {(unsigned char)(u & 255), (unsigned char)(u >> 8)};
        cr_assert_eq(l2_dtype_load_le(t, b), a, "%a is not a float16", v);
        return sign | u;
    }
    }
}

static uint64_t exp_mask(enum l2_dtype t)
{
    switch (t) {
    case L2_DTYPE_FLOAT16:
        return 0x7c00;
    case L2_DTYPE_BFLOAT16:
        return 0x7f80;
    case L2_DTYPE_FLOAT32:
        return 0x7f800000;
    default:
        return UINT64_C(0x7ff0000000000000);
    }
}

/* Random finite bits of dtype t over its whole range. */
static uint64_t random_finite(enum l2_dtype t)
{
    size_t w = l2_dtype_size(t);
    for (;;) {
        uint64_t u = rnd();
        if (w < 8)
            u &= (UINT64_C(1) << (8 * w)) - 1;
        if ((u & exp_mask(t)) != exp_mask(t))
            return u;
    }
}

/* Random finite value of dtype t with magnitude in [2^lo, 2^hi). */
static double random_in(enum l2_dtype t, int lo, int hi)
{
    double x = ldexp(1 + (double)(rnd() >> 11) * 0x1p-53, lo + (int)(rnd() % (unsigned)(hi - lo)));
    x = l2_dtype_round(t, rnd() & 1 ? -x : x);
    return x;
}

/* A buffer of n random elements; vals (if not NULL) gets their values. */
static unsigned char *random_buffer(enum l2_dtype t, size_t n, bool full_range, double *vals)
{
    unsigned char *buf = malloc(n * l2_dtype_size(t) + 1);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < n; i++) {
        uint64_t u = full_range ? random_finite(t) : bits_for(t, random_in(t, -8, 8));
        put_bits(t, buf, i, u);
        if (vals)
            vals[i] = l2_dtype_load_le(t, buf + i * l2_dtype_size(t));
    }
    return buf;
}

/* acc's sum and half equal the oracle's, bit for bit, overflow included. */
static void check_oracle(const struct l2_accum *acc, const struct oracle_sum *o, const char *what)
{
    for (int half = 0; half < 2; half++) {
        double want, got = 0;
        bool ok = oracle_sum_round(o, half, &want);
        enum l2_status st = half ? l2_accum_half(acc, &got) : l2_accum_sum(acc, &got);
        cr_assert_eq(st, ok ? L2_OK : L2_OVERFLOW, "%s %s: status %d", what, half ? "half" : "sum",
                     (int)st);
        cr_assert_eq(bits_of(got), bits_of(want), "%s %s: got %a want %a", what,
                     half ? "half" : "sum", got, want);
    }
}

/* Feeds n values of t (given as doubles) in one call and checks the oracle. */
static void check_values(enum l2_dtype t, const double *v, size_t n, const char *what)
{
    unsigned char *buf = malloc(n * l2_dtype_size(t) + 1);
    struct l2_accum acc;
    struct oracle_sum o;
    size_t bad = 12345;

    cr_assert_not_null(buf);
    oracle_sum_init(&o);
    for (size_t i = 0; i < n; i++) {
        put_bits(t, buf, i, bits_for(t, v[i]));
        oracle_sum_add_sq(&o, v[i]);
    }
    l2_accum_init(&acc);
    cr_assert_eq(l2_accum_feed(&acc, t, buf, n, &bad), L2_OK);
    cr_assert_eq(bad, 12345, "bad_index written on success");
    cr_assert_eq(acc.count, n);
    check_oracle(&acc, &o, what);
    oracle_sum_free(&o);
    free(buf);
}

FEED_TEST(empty_is_positive_zero)
{
    struct l2_accum acc;
    double s = -1, h = -1;

    l2_accum_init(&acc);
    for (int t = 0; t < 4; t++) /* a decoder may pass an empty chunk as NULL */
        cr_assert_eq(l2_accum_feed(&acc, all_types[t], NULL, 0, NULL), L2_OK);
    cr_assert_eq(l2_accum_sum(&acc, &s), L2_OK);
    cr_assert_eq(l2_accum_half(&acc, &h), L2_OK);
    cr_assert_eq(bits_of(s), 0);
    cr_assert_eq(bits_of(h), 0);
    cr_assert_eq(acc.count, 0);
}

FEED_TEST(zeros_of_both_signs)
{
    for (int t = 0; t < 4; t++) {
        double v[100];
        for (int i = 0; i < 100; i++)
            v[i] = i & 1 ? -0.0 : 0.0;
        check_values(all_types[t], v, 100, "zeros");
        check_values(all_types[t], v, 3, "few zeros");
    }
}

FEED_TEST(random_full_range_every_dtype)
{
    size_t sizes[3] = {7, 1000, 20000};
    for (int t = 0; t < 4; t++) {
        for (int s = 0; s < 3; s++) {
            size_t n = sizes[s];
            double *v = malloc(n * sizeof *v);
            unsigned char *buf = random_buffer(all_types[t], n, true, v);
            struct oracle_sum o;
            struct l2_accum acc;

            oracle_sum_init(&o);
            for (size_t i = 0; i < n; i++)
                oracle_sum_add_sq(&o, v[i]);
            l2_accum_init(&acc);
            cr_assert_eq(l2_accum_feed(&acc, all_types[t], buf, n, NULL), L2_OK);
            check_oracle(&acc, &o, l2_dtype_name(all_types[t]));
            oracle_sum_free(&o);
            free(buf);
            free(v);
        }
    }
}

/* Values within a few binades, so every element reaches the rounded bits. */
FEED_TEST(random_narrow_range_every_dtype)
{
    for (int t = 0; t < 4; t++) {
        for (int round = 0; round < 20; round++) {
            size_t n = 1 + rnd() % 5000;
            double *v = malloc(n * sizeof *v);
            for (size_t i = 0; i < n; i++)
                v[i] = random_in(all_types[t], -3, 3);
            check_values(all_types[t], v, n, l2_dtype_name(all_types[t]));
            free(v);
        }
    }
}

/* One large square and a million squares each below half its last place: a
 * running float sum would lose all of them. */
FEED_TEST(huge_and_a_million_tiny)
{
    const size_t n = 1000001;
    double x[2][2] = {{1.0, 0x1p-30}, {4096.0, 0x1p-20}};
    enum l2_dtype types[2] = {L2_DTYPE_FLOAT64, L2_DTYPE_FLOAT32};

    for (int t = 0; t < 2; t++) {
        unsigned char *buf = malloc(n * l2_dtype_size(types[t]));
        struct oracle_sum o;
        struct l2_accum acc;
        double s;

        cr_assert_not_null(buf);
        for (size_t i = 0; i < n; i++)
            put_bits(types[t], buf, i, bits_for(types[t], i == n / 3 ? x[t][0] : x[t][1]));
        oracle_sum_init(&o);
        oracle_sum_add_sq(&o, x[t][0]);
        oracle_sum_add_sq_times(&o, x[t][1], n - 1);
        l2_accum_init(&acc);
        cr_assert_eq(l2_accum_feed(&acc, types[t], buf, n, NULL), L2_OK);
        check_oracle(&acc, &o, "huge+tiny");
        l2_accum_sum(&acc, &s);
        cr_assert_gt(s, x[t][0] * x[t][0]);
        oracle_sum_free(&o);
        free(buf);
    }
}

/* 10^7 copies of 0.1 (as float64 and as float32), fed 10^6 at a time. */
FEED_TEST(ten_million_tenths)
{
    const size_t chunk = 1000000;
    enum l2_dtype types[2] = {L2_DTYPE_FLOAT64, L2_DTYPE_FLOAT32};

    for (int t = 0; t < 2; t++) {
        double x = l2_dtype_round(types[t], 0.1);
        unsigned char *buf = malloc(chunk * l2_dtype_size(types[t]));
        struct oracle_sum o;
        struct l2_accum acc;
        double s;

        cr_assert_not_null(buf);
        for (size_t i = 0; i < chunk; i++)
            put_bits(types[t], buf, i, bits_for(types[t], x));
        l2_accum_init(&acc);
        for (int k = 0; k < 10; k++)
            cr_assert_eq(l2_accum_feed(&acc, types[t], buf, chunk, NULL), L2_OK);
        cr_assert_eq(acc.count, 10 * chunk);
        oracle_sum_init(&o);
        oracle_sum_add_sq_times(&o, x, 10 * chunk);
        check_oracle(&acc, &o, l2_dtype_name(types[t]));
        l2_accum_sum(&acc, &s);
        cr_assert(fabs(s - 1e5) < 1e-6 * (t ? 1e4 : 1));
        oracle_sum_free(&o);
        free(buf);
    }
}

FEED_TEST(subnormals_every_dtype)
{
    const unsigned fbits[4] = {10, 7, 23, 52};
    for (int t = 0; t < 4; t++) {
        const size_t n = 3000;
        unsigned char *buf = malloc(n * l2_dtype_size(all_types[t]));
        struct oracle_sum o;
        struct l2_accum acc;
        uint64_t fmask = (UINT64_C(1) << fbits[t]) - 1;
        uint64_t sign = UINT64_C(1) << (8 * l2_dtype_size(all_types[t]) - 1);

        cr_assert_not_null(buf);
        oracle_sum_init(&o);
        for (size_t i = 0; i < n; i++) {
            uint64_t u = i < 2 ? (i ? fmask : 1) : 1 + rnd() % fmask; /* smallest, largest */
            if (rnd() & 1)
                u |= sign;
            put_bits(all_types[t], buf, i, u);
            oracle_sum_add_sq(
                &o, l2_dtype_load_le(all_types[t], buf + i * l2_dtype_size(all_types[t])));
        }
        l2_accum_init(&acc);
        cr_assert_eq(l2_accum_feed(&acc, all_types[t], buf, n, NULL), L2_OK);
        check_oracle(&acc, &o, l2_dtype_name(all_types[t]));
        oracle_sum_free(&o);
        free(buf);
    }
    /* float64: the smallest subnormal squared is 2^-2148, far below 2^-1075 */
    double v1[1] = {0x1p-1074}, v2[2] = {0x1p-537, 0x1p-1074};
    check_values(L2_DTYPE_FLOAT64, v1, 1, "min subnormal");
    check_values(L2_DTYPE_FLOAT64, v2, 2, "2^-537");
    struct l2_accum acc;
    double s;
    l2_accum_init(&acc);
    l2_accum_add(&acc, 0x1p-1074);
    cr_assert_eq(l2_accum_sum(&acc, &s), L2_OK);
    cr_assert_eq(bits_of(s), 0);
    l2_accum_add(&acc, 0x1p-537);
    cr_assert_eq(l2_accum_sum(&acc, &s), L2_OK);
    cr_assert_eq(s, 0x1p-1074);
}

FEED_TEST(float64_squares_under_and_overflow)
{
    const double one[] = {1e-200, 1e200,  1.5e154, 1.3407807929942596e154,  1.3407807929942597e154,
                          1e154,  1e-154, 1e-161,  2.2250738585072014e-308, 1e-170};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        check_values(L2_DTYPE_FLOAT64, &one[i], 1, "one float64");

    struct l2_accum acc;
    double s = 0, h = 0;
    l2_accum_init(&acc);
    l2_accum_add(&acc, 1e200);
    cr_assert_eq(l2_accum_sum(&acc, &s), L2_OVERFLOW);
    cr_assert_eq(s, INFINITY);
    cr_assert_eq(l2_accum_half(&acc, &h), L2_OVERFLOW);
    cr_assert_eq(h, INFINITY);
    l2_accum_init(&acc);
    l2_accum_add(&acc, 1e-200);
    cr_assert_eq(l2_accum_sum(&acc, &s), L2_OK);
    cr_assert_eq(bits_of(s), 0);

    /* a sum that overflows whose half does not */
    double two[2] = {1.2e154, -1.2e154};
    check_values(L2_DTYPE_FLOAT64, two, 2, "two");
    l2_accum_init(&acc);
    l2_accum_add(&acc, two[0]);
    l2_accum_add(&acc, two[1]);
    cr_assert_eq(l2_accum_sum(&acc, &s), L2_OVERFLOW);
    cr_assert_eq(l2_accum_half(&acc, &h), L2_OK);
    cr_assert(fabs(h - 1.44e308) < 1e295, "%a", h);
}

FEED_TEST(largest_finite_every_dtype)
{
    const double max[4] = {65504.0, 255 * 0x1p120, FLT_MAX, DBL_MAX};
    for (int t = 0; t < 4; t++) {
        double v[50];
        for (int i = 0; i < 50; i++)
            v[i] = i & 1 ? -max[t] : max[t];
        check_values(all_types[t], v, 50, "max");
        check_values(all_types[t], v, 1, "one max");
    }
    struct l2_accum acc;
    double s;
    l2_accum_init(&acc);
    cr_assert_eq(l2_accum_add(&acc, DBL_MAX), L2_OK);
    cr_assert_eq(l2_accum_sum(&acc, &s), L2_OVERFLOW);
    cr_assert_eq(l2_accum_half(&acc, &s), L2_OVERFLOW);
    l2_accum_init(&acc);
    l2_accum_add(&acc, FLT_MAX);
    cr_assert_eq(l2_accum_sum(&acc, &s), L2_OK);
    cr_assert_eq(s, (double)FLT_MAX * FLT_MAX);
}

/* x = 2^-537 squares to 2^-1074, so k copies sum to k * 2^-1074 and the half
 * is k/2 subnormal steps: a tie for odd k, rounded to even. */
FEED_TEST(half_in_the_subnormal_range)
{
    const double want[8] = {0,         0,         0x1p-1074,     0x1p-1073,
                            0x1p-1073, 0x1p-1073, 3 * 0x1p-1074, 0x1p-1072};
    for (unsigned k = 0; k < 8; k++) {
        struct l2_accum acc;
        double h;
        l2_accum_init(&acc);
        for (unsigned i = 0; i < k; i++)
            l2_accum_add(&acc, 0x1p-537);
        cr_assert_eq(l2_accum_half(&acc, &h), L2_OK);
        cr_assert_eq(bits_of(h), bits_of(want[k]), "k=%u: %a", k, h);
        double v[8];
        for (unsigned i = 0; i < 8; i++)
            v[i] = 0x1p-537;
        if (k)
            check_values(L2_DTYPE_FLOAT64, v, k, "half subnormal");
    }
    /* just below the smallest normal: the half is a subnormal with a tie */
    double v[3] = {0x1p-511, 0x1p-537, 0x1p-537};
    check_values(L2_DTYPE_FLOAT64, v, 3, "near normal");
}

/* Sums exactly halfway between two doubles. */
FEED_TEST(final_rounding_ties_to_even)
{
    struct {
        double v[8];
        size_t n;
        double sum, half;
    } cases[] = {
        /* 1 + 2^-53: tie, stays at the even 1 */
        {{1, 0x1p-27, 0x1p-27}, 3, 1.0, 0.5},
        /* 1 + 3 * 2^-53 = (1 + 2^-52) + 2^-53: tie, goes up to the even 1 + 2^-51 */
        {{1, 0x1p-27, 0x1p-27, 0x1p-27, 0x1p-27, 0x1p-27, 0x1p-27}, 7, 1 + 0x1p-51, 0.5 + 0x1p-52},
        /* a sticky bit far below breaks the tie upwards */
        {{1, 0x1p-27, 0x1p-27, 0x1p-600}, 4, 1 + 0x1p-52, 0.5 + 0x1p-53},
        /* 2^-53 alone is exact */
        {{0x1p-27, 0x1p-27}, 2, 0x1p-53, 0x1p-54},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct l2_accum acc;
        double s, h;
        l2_accum_init(&acc);
        for (size_t k = 0; k < cases[i].n; k++)
            cr_assert_eq(l2_accum_add(&acc, cases[i].v[k]), L2_OK);
        cr_assert_eq(l2_accum_sum(&acc, &s), L2_OK);
        cr_assert_eq(l2_accum_half(&acc, &h), L2_OK);
        cr_assert_eq(s, cases[i].sum, "case %zu: sum %a", i, s);
        cr_assert_eq(h, cases[i].half, "case %zu: half %a", i, h);
        check_values(L2_DTYPE_FLOAT64, cases[i].v, cases[i].n, "tie");
    }
}

/* The rounding alone, on fixed-point sums written bit by bit: random widths,
 * positions and densities, ties and the overflow threshold. */
Test(accum, rounding_of_arbitrary_sums)
{
    struct l2_accum acc;
    struct oracle_sum o;

    oracle_sum_init(&o);
    for (int round = 0; round < 20000; round++) {
        l2_accum_init(&acc);
        int top = (int)(rnd() % (64 * L2_ACCUM_LIMBS - 10));
        if (round % 3 == 0) /* results near and below the smallest normal */
            top = 1000 + (int)(rnd() % 200);
        int width = 1 + (int)(rnd() % 120);
        int mode = (int)(rnd() % 3);
        for (int b = top; b >= 0 && b > top - width; b--) {
            bool set = mode == 0 ? (rnd() & 1) : mode == 1 ? b == top : (rnd() % 8 == 0);
            if (b == top || set)
                acc.limb[b / 64] |= UINT64_C(1) << (b % 64);
        }
        if (mode == 1 && width > 54 && top >= 53) {
            /* a tie: the top bit and the one 53 below, the last place odd or even */
            acc.limb[(top - 53) / 64] |= UINT64_C(1) << ((top - 53) % 64);
            if (rnd() & 1)
                acc.limb[(top - 52) / 64] |= UINT64_C(1) << ((top - 52) % 64);
        }
        if (rnd() % 4 == 0) /* a far sticky bit */
            acc.limb[0] |= 1;
        oracle_sum_set_limbs(&o, acc.limb, L2_ACCUM_LIMBS, L2_ACCUM_LSB_EXP);
        check_oracle(&acc, &o, "bits");
    }
    /* just above half the smallest subnormal: up, not a tie */
    l2_accum_init(&acc);
    acc.limb[(-1075 - L2_ACCUM_LSB_EXP) / 64] |= UINT64_C(1) << ((-1075 - L2_ACCUM_LSB_EXP) % 64);
    double t;
    cr_assert_eq(l2_accum_sum(&acc, &t), L2_OK);
    cr_assert_eq(bits_of(t), 0); /* exactly half: to even, 0 */
    acc.limb[0] |= 1;
    cr_assert_eq(l2_accum_sum(&acc, &t), L2_OK);
    cr_assert_eq(t, 0x1p-1074);

    /* the overflow threshold 2^1024 - 2^970, and one unit below it */
    int lsb_thr = 970 - L2_ACCUM_LSB_EXP;
    l2_accum_init(&acc);
    for (int b = lsb_thr; b < 1024 - L2_ACCUM_LSB_EXP; b++)
        acc.limb[b / 64] |= UINT64_C(1) << (b % 64);
    double s;
    cr_assert_eq(l2_accum_sum(&acc, &s), L2_OVERFLOW);
    cr_assert_eq(l2_accum_half(&acc, &s), L2_OK);
    cr_assert_eq(s, 0x1p1023, "%a", s);      /* a tie, to even */
    for (int k = 0; k < L2_ACCUM_LIMBS; k++) /* subtract one unit */
        if (acc.limb[k]--)
            break;
    cr_assert_eq(l2_accum_sum(&acc, &s), L2_OK);
    cr_assert_eq(s, DBL_MAX);
    oracle_sum_free(&o);
}

/* Splits buf into random blocks fed to random accumulators, merged in random
 * order: the limbs must equal one feed of everything. */
static void check_splits(enum l2_dtype t, const unsigned char *buf, size_t n)
{
    struct l2_accum whole, parts[8];
    size_t w = l2_dtype_size(t);

    l2_accum_init(&whole);
    cr_assert_eq(l2_accum_feed(&whole, t, buf, n, NULL), L2_OK);
    for (int round = 0; round < 4; round++) {
        for (int k = 0; k < 8; k++)
            l2_accum_init(&parts[k]);
        for (size_t at = 0; at < n;) {
            size_t len = rnd() % 3 == 0 ? rnd() % 40 : rnd() % 100000;
            if (len > n - at)
                len = n - at;
            cr_assert_eq(l2_accum_feed(&parts[rnd() % 8], t, buf + at * w, len, NULL), L2_OK);
            at += len;
        }
        int order[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        for (int k = 7; k > 0; k--) {
            int j = (int)(rnd() % (unsigned)(k + 1)), tmp = order[k];
            order[k] = order[j];
            order[j] = tmp;
        }
        for (int k = 1; k < 8; k++)
            l2_accum_merge(&parts[order[0]], &parts[order[k]]);
        cr_assert_eq(memcmp(parts[order[0]].limb, whole.limb, sizeof whole.limb), 0,
                     "%s split round %d", l2_dtype_name(t), round);
        cr_assert_eq(parts[order[0]].count, n);
    }
}

FEED_TEST(splits_and_merges_give_the_same_bits)
{
    for (int t = 0; t < 4; t++) {
        size_t n = 300000;
        unsigned char *buf = random_buffer(all_types[t], n, rnd() & 1, NULL);
        check_splits(all_types[t], buf, n);
        free(buf);
    }
}

/* feed, add on the decoded values, and a misaligned copy all agree. */
FEED_TEST(feed_add_and_alignment_agree)
{
    /* both sides of each dtype's switch from the direct to the bucket path */
    const size_t sizes[] = {1, 31, 47, 48, 191, 192, 255, 767, 768, 70001};
    const int nsizes = (int)(sizeof sizes / sizeof sizes[0]);
    for (int t = 0; t < 4; t++) {
        for (int s = 0; s < nsizes; s++) {
            size_t n = sizes[s], w = l2_dtype_size(all_types[t]);
            double *v = malloc(n * sizeof *v);
            unsigned char *buf = random_buffer(all_types[t], n, true, v);
            unsigned char *odd = malloc(n * w + 1);
            struct l2_accum a, b, c;

            memcpy(odd + 1, buf, n * w);
            l2_accum_init(&a);
            l2_accum_init(&b);
            l2_accum_init(&c);
            cr_assert_eq(l2_accum_feed(&a, all_types[t], buf, n, NULL), L2_OK);
            cr_assert_eq(l2_accum_feed(&c, all_types[t], odd + 1, n, NULL), L2_OK);
            for (size_t i = 0; i < n; i++)
                cr_assert_eq(l2_accum_add(&b, v[i]), L2_OK);
            cr_assert_eq(memcmp(a.limb, b.limb, sizeof a.limb), 0, "%s n=%zu",
                         l2_dtype_name(all_types[t]), n);
            cr_assert_eq(memcmp(a.limb, c.limb, sizeof a.limb), 0);
            cr_assert_eq(a.count, n);
            cr_assert_eq(b.count, n);
            free(odd);
            free(buf);
            free(v);
        }
    }
}

Test(accum, add_refuses_non_finite)
{
    struct l2_accum acc, before;
    const double bad[3] = {INFINITY, -INFINITY, NAN};

    l2_accum_init(&acc);
    l2_accum_add(&acc, 3.0);
    before = acc;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(l2_accum_add(&acc, bad[i]), L2_NON_FINITE);
        cr_assert_eq(memcmp(&acc, &before, sizeof acc), 0);
    }
}

/* The first NaN or infinity is found wherever it is: in a tiny feed, at the
 * ends, across bucket-flush blocks, with or without a later one. */
FEED_TEST(non_finite_index_every_dtype)
{
    const uint64_t bad[4][4] = {
        {0x7c00, 0xfc00, 0x7e00, 0x7c01},
        {0x7f80, 0xff80, 0x7fc0, 0x7f81},
        {0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001},
        {UINT64_C(0x7ff0000000000000), UINT64_C(0xfff0000000000000), UINT64_C(0x7ff8000000000000),
         UINT64_C(0x7ff0000000000001)},
    };
    const size_t sizes[] = {1, 5, 31, 47, 48, 191, 192, 767, 768, 1000, 200000};
    const int nsizes = (int)(sizeof sizes / sizeof sizes[0]);
    for (int t = 0; t < 4; t++) {
        for (int s = 0; s < nsizes; s++) {
            size_t n = sizes[s];
            unsigned char *buf = random_buffer(all_types[t], n, false, NULL);
            size_t pos[7] = {0, 1, n / 2, n - 1, 65535, 65536, 131073};
            for (int p = 0; p < 7; p++) {
                if (pos[p] >= n)
                    continue;
                unsigned char *copy = malloc(n * l2_dtype_size(all_types[t]));
                memcpy(copy, buf, n * l2_dtype_size(all_types[t]));
                put_bits(all_types[t], copy, pos[p], bad[t][p % 4]);
                if (p == 0 && n > 3) /* a second one later: the first wins */
                    put_bits(all_types[t], copy, n - 1, bad[t][1]);
                struct l2_accum acc;
                size_t idx = 999999999;
                l2_accum_init(&acc);
                cr_assert_eq(l2_accum_feed(&acc, all_types[t], copy, n, &idx), L2_NON_FINITE);
                cr_assert_eq(idx, pos[p], "%s n=%zu: index %zu, want %zu",
                             l2_dtype_name(all_types[t]), n, idx, pos[p]);
                l2_accum_init(&acc);
                cr_assert_eq(l2_accum_feed(&acc, all_types[t], copy, n, NULL), L2_NON_FINITE);
                free(copy);
            }
            free(buf);
        }
    }
}

/* float64 buckets flush every 2^22 elements: a NaN just after the first flush. */
FEED_TEST(non_finite_after_float64_flush)
{
    size_t n = (1u << 22) + 100;
    unsigned char *buf = calloc(n, 8);
    struct l2_accum acc;
    size_t idx = 0;

    cr_assert_not_null(buf);
    put_bits(L2_DTYPE_FLOAT64, buf, 5, bits_of(1.0));
    put_bits(L2_DTYPE_FLOAT64, buf, (1u << 22) + 7, bits_of(NAN));
    l2_accum_init(&acc);
    cr_assert_eq(l2_accum_feed(&acc, L2_DTYPE_FLOAT64, buf, n, &idx), L2_NON_FINITE);
    cr_assert_eq(idx, (1u << 22) + 7);
    put_bits(L2_DTYPE_FLOAT64, buf, (1u << 22) + 7, bits_of(2.0));
    l2_accum_init(&acc);
    cr_assert_eq(l2_accum_feed(&acc, L2_DTYPE_FLOAT64, buf, n, &idx), L2_OK);
    double s;
    l2_accum_sum(&acc, &s);
    cr_assert_eq(s, 5.0);
    free(buf);
}

/* Carries run across many limbs, in add and in merge. */
Test(accum, long_carries)
{
    struct l2_accum a, b;
    struct oracle_sum o;

    l2_accum_init(&a);
    for (int i = 0; i < 60; i++)
        a.limb[i] = UINT64_MAX;
    a.count = 1; /* a sum of something: l2_accum_merge takes count 0 for the empty sum */
    b = a;
    cr_assert_eq(l2_accum_add(&a, 0x1p-1074), L2_OK); /* adds 1 at bit 0 */
    for (int i = 0; i < 60; i++)
        cr_assert_eq(a.limb[i], 0);
    cr_assert_eq(a.limb[60], 1);
    l2_accum_merge(&b, &b);
    oracle_sum_init(&o);
    oracle_sum_set_limbs(&o, b.limb, L2_ACCUM_LIMBS, L2_ACCUM_LSB_EXP);
    mpfr_t want;
    mpfr_init2(want, ORACLE_SUM_PREC);
    mpfr_set_ui_2exp(want, 1, 64 * 60 + 1 + L2_ACCUM_LSB_EXP, MPFR_RNDN);
    mpfr_sub(want, want, o.v, MPFR_RNDN);
    cr_assert_eq(mpfr_cmp_ui_2exp(want, 1, 1 + L2_ACCUM_LSB_EXP), 0); /* 2^(k+1) - 2 */
    mpfr_clear(want);
    oracle_sum_free(&o);
}

/* Many copies of the largest significand fill each bucket to its limit: the
 * flush must come before a bucket could wrap. */
FEED_TEST(full_buckets_do_not_wrap)
{
    const double x[4] = {2 - 0x1p-10, 2 - 0x1p-7, 2 - 0x1p-23, 2 - 0x1p-52};
    const size_t n = (UINT64_C(1) << 23) + 3;

    for (int t = 0; t < 4; t++) {
        size_t w = l2_dtype_size(all_types[t]);
        unsigned char *buf = malloc(n * w);
        struct oracle_sum o;
        struct l2_accum acc;

        cr_assert_not_null(buf);
        uint64_t u = bits_for(all_types[t], x[t]);
        for (size_t i = 0; i < n; i++)
            put_bits(all_types[t], buf, i, u);
        l2_accum_init(&acc);
        cr_assert_eq(l2_accum_feed(&acc, all_types[t], buf, n, NULL), L2_OK);
        oracle_sum_init(&o);
        oracle_sum_add_sq_times(&o, x[t], n);
        check_oracle(&acc, &o, l2_dtype_name(all_types[t]));
        oracle_sum_free(&o);
        free(buf);
    }
}

/* Merging into an accumulator that has taken nothing gives the source's
 * bits, max_abs +0.0 at least, as the limb-by-limb merge into the empty
 * sum would. */
Test(accum, merge_into_the_empty_sum)
{
    const double xs[3] = {3.0, 0x1p-1074, 0.0};
    struct l2_accum src, dst, ref;

    for (int k = 0; k < 3; k++) {
        l2_accum_init(&src);
        cr_assert_eq(l2_accum_add(&src, xs[k]), L2_OK);
        cr_assert_eq(l2_accum_add(&src, -xs[k]), L2_OK);
        l2_accum_init(&dst);
        l2_accum_merge(&dst, &src);
        /* the same sum reached by adds into a non-empty accumulator */
        l2_accum_init(&ref);
        ref.count = 1;
        l2_accum_merge(&ref, &src);
        cr_assert_eq(memcmp(dst.limb, ref.limb, sizeof dst.limb), 0, "%a", xs[k]);
        cr_assert_eq(dst.count, 2);
        cr_assert_eq(memcmp(&dst.max_abs, &ref.max_abs, sizeof dst.max_abs), 0);
        cr_assert(!signbit(dst.max_abs));
    }
}
