/* test_accum_stats.c -- the statistics beside the exact sum: max_abs (the
 * largest |x| of the finite elements) from l2_accum_add, l2_accum_feed in
 * every implementation and l2_accum_merge, against the obvious loop: empty
 * feeds, zeros of both signs, subnormals, the largest values, the maximum at
 * every position of a block and across splits. */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/accum.h"
#include "core/accum_impl.h"
#include "tests/support/bits.h"
#include "tests/support/core_bits.h"

CORE_BITS_RNG(0x6a09e667f3bcc909u);

/* Feeds buf[0..n) of t with every supported implementation, in one call and
 * in random splits, and checks max_abs (bit for bit) and the count. */
static void check_feed(enum l2_dtype t, const unsigned char *buf, size_t n, const char *what)
{
    size_t w = l2_dtype_size(t);
    double want = naive_max_abs(t, buf, n);
    enum l2_accum_impl before = l2_accum_impl_get();

    for (int i = 0; i < L2_ACCUM_IMPL_COUNT; i++) {
        enum l2_accum_impl impl = (enum l2_accum_impl)i;
        struct l2_accum acc;
        if (!l2_accum_impl_set(impl))
            continue;
        l2_accum_init(&acc);
        cr_assert_eq(l2_accum_feed(&acc, t, buf, n, NULL), L2_OK);
        cr_assert_eq(bits_of(acc.max_abs), bits_of(want), "%s %s %s n=%zu: %a, want %a",
                     l2_accum_impl_name(impl), l2_dtype_name(t), what, n, acc.max_abs, want);
        cr_assert_eq(acc.count, n);
        l2_accum_init(&acc);
        for (size_t at = 0; at < n;) {
            size_t len = 1 + rnd() % (rnd() % 2 ? 50 : 9000);
            if (len > n - at)
                len = n - at;
            cr_assert_eq(l2_accum_feed(&acc, t, buf + at * w, len, NULL), L2_OK);
            at += len;
        }
        cr_assert_eq(bits_of(acc.max_abs), bits_of(want), "%s %s %s n=%zu split: %a, want %a",
                     l2_accum_impl_name(impl), l2_dtype_name(t), what, n, acc.max_abs, want);
    }
    l2_accum_impl_set(before);
}

Test(accum_stats, init_is_all_zero)
{
    struct l2_accum acc;

    memset(&acc, 0xa5, sizeof acc);
    l2_accum_init(&acc);
    cr_assert_eq(bits_of(acc.max_abs), bits_of(0.0));
    cr_assert_eq(acc.count, 0);
    cr_assert_eq(acc.nan_count, 0);
    cr_assert_eq(acc.inf_count, 0);
}

Test(accum_stats, add_takes_the_largest_magnitude)
{
    struct l2_accum acc;

    l2_accum_init(&acc);
    l2_accum_add(&acc, -0.0);
    cr_assert_eq(bits_of(acc.max_abs), bits_of(0.0)); /* never -0.0 */
    l2_accum_add(&acc, 0x1p-1074);
    cr_assert_eq(acc.max_abs, 0x1p-1074);
    l2_accum_add(&acc, -0x1p-1073);
    cr_assert_eq(acc.max_abs, 0x1p-1073);
    l2_accum_add(&acc, 0.5);
    l2_accum_add(&acc, -3.25);
    l2_accum_add(&acc, 3.0);
    cr_assert_eq(acc.max_abs, 3.25);
    cr_assert_eq(l2_accum_add(&acc, -INFINITY), L2_NON_FINITE);
    cr_assert_eq(l2_accum_add(&acc, NAN), L2_NON_FINITE);
    cr_assert_eq(acc.max_abs, 3.25);
    cr_assert_eq(acc.count, 6);
    l2_accum_add(&acc, -DBL_MAX);
    cr_assert_eq(acc.max_abs, DBL_MAX);
}

Test(accum_stats, merge_takes_the_larger_and_adds_counts)
{
    struct l2_accum a, b;

    l2_accum_init(&a);
    l2_accum_init(&b);
    l2_accum_add(&a, 2.0);
    l2_accum_add(&b, -5.0);
    l2_accum_add(&b, 1.0);
    a.nan_count = 3, a.inf_count = 4, a.count += 7;
    b.nan_count = 10, b.inf_count = 20, b.count += 30;
    l2_accum_merge(&a, &b);
    cr_assert_eq(a.max_abs, 5.0);
    cr_assert_eq(a.count, 1 + 7 + 2 + 30);
    cr_assert_eq(a.nan_count, 13);
    cr_assert_eq(a.inf_count, 24);
    l2_accum_init(&b);
    l2_accum_merge(&a, &b); /* an empty one changes nothing */
    cr_assert_eq(a.max_abs, 5.0);
    l2_accum_merge(&b, &a);
    cr_assert_eq(b.max_abs, 5.0);
}

Test(accum_stats, empty_and_zeros)
{
    unsigned char buf[8 * 5000];
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        check_feed(t, buf, 0, "empty");
        for (size_t n = 1; n <= 5000; n = n * 3 + 1) {
            for (size_t i = 0; i < n; i++)
                put_bits(t, buf, i, make_bits(t, rnd() & 1, 0, 0));
            check_feed(t, buf, n, "zeros");
            put_bits(t, buf, 0, make_bits(t, 1, 0, 0)); /* -0.0 first */
            check_feed(t, buf, n, "-0 first");
        }
    }
}

/* Only subnormals (plus zeros): the portable code takes those blocks. */
Test(accum_stats, subnormals)
{
    unsigned char *buf = malloc(8 * 20000);
    cr_assert_not_null(buf);
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        for (size_t n = 1; n <= 20000; n = n * 5 + 3) {
            for (size_t i = 0; i < n; i++)
                put_bits(t, buf, i, make_bits(t, rnd() & 1, 0, rnd() % 7 ? rnd() : 0));
            check_feed(t, buf, n, "subnormals");
            /* the smallest subnormal is the largest */
            for (size_t i = 0; i < n; i++)
                put_bits(t, buf, i, make_bits(t, rnd() & 1, 0, i == n / 2));
            check_feed(t, buf, n, "one tiny");
        }
    }
    free(buf);
}

/* One element larger than the rest, at every interesting position of the
 * vector kernels' blocks and tails, of either sign; the largest finite value;
 * the rest in a narrow range, or spread so that windows move or fail. */
Test(accum_stats, maximum_anywhere)
{
    const size_t n = 3 * 4096 + 77;
    const size_t pos[] = {0,    1,    7,      8,      15,     16,    31,   32,
                          33,   63,   64,     2047,   2048,   4095,  4096, 4097,
                          8191, 8192, n - 78, n - 77, n - 16, n - 2, n - 1};
    unsigned char *buf = malloc(8 * n);
    cr_assert_not_null(buf);
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        struct l2_dtype_layout l = l2_dtype_layout(t);
        for (size_t p = 0; p < sizeof pos / sizeof pos[0]; p++) {
            for (int spread = 0; spread < 3; spread++) {
                for (size_t i = 0; i < n; i++) {
                    uint64_t e = spread == 0   ? l.bias - 3 + rnd() % 5
                                 : spread == 1 ? 1 + rnd() % (l.eall - 3)
                                               : (rnd() % 64 ? l.bias + rnd() % 3 : rnd() % 3);
                    put_bits(t, buf, i, make_bits(t, rnd() & 1, e, rnd()));
                }
                uint64_t big = p % 4 == 3 ? make_bits(t, p & 1, l.eall - 1, UINT64_MAX)
                                          : make_bits(t, p & 1, l.eall - 2, rnd());
                put_bits(t, buf, pos[p], big);
                check_feed(t, buf, pos[p] + 1 + rnd() % (n - pos[p]), "anywhere");
                check_feed(t, buf, n, "anywhere");
            }
        }
    }
    free(buf);
}

/* Every float16 and bfloat16 value alone, and random float32 and float64
 * next to a few smaller ones: max_abs is the value itself. */
Test(accum_stats, every_16_bit_value_and_random_wide_ones)
{
    unsigned char buf[8 * 40];
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        size_t w = l2_dtype_size(t);
        long n = w == 2 ? 65536 : 100000;
        for (long i = 0; i < n; i++) {
            uint64_t u = w == 2 ? (uint64_t)i : w == 4 ? rnd() & 0xffffffff : rnd();
            struct l2_accum acc;
            put_bits(t, buf, 0, u);
            double x = fabs(l2_dtype_load_le(t, buf));
            if (!isfinite(x))
                continue;
            for (size_t k = 1; k < 40; k++)
                put_bits(t, buf, k, u & ~(UINT64_C(1) << (8 * w - 2))); /* top exponent bit off */
            l2_accum_init(&acc);
            cr_assert_eq(l2_accum_feed(&acc, t, buf, 1, NULL), L2_OK);
            cr_assert_eq(bits_of(acc.max_abs), bits_of(x));
            l2_accum_init(&acc);
            cr_assert_eq(l2_accum_feed(&acc, t, buf, 40, NULL), L2_OK);
            cr_assert_eq(bits_of(acc.max_abs), bits_of(naive_max_abs(t, buf, 40)));
        }
    }
}
