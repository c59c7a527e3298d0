/* test_accum_counting.c -- l2_accum_feed_counting and l2_accum_add_nonfinite
 * (?nonfinite=count) against a naive reference that adds the finite elements
 * one by one and counts the others: every dtype's NaN and infinity patterns,
 * single ones at block and tail boundaries, runs, dense and all-non-finite
 * data, random splits, every implementation; and the same bits as
 * l2_accum_feed when there is nothing to count. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/accum.h"
#include "core/accum_impl.h"
#include "tests/support/bits.h"
#include "tests/support/core_bits.h"

CORE_BITS_RNG(0xbb67ae8584caa73bu);

/* A NaN or infinity of t, of kind k: +-inf, quiet and signalling NaNs of
 * either sign, with payloads (the fraction's top bit is the quiet bit). */
static uint64_t nonfinite_bits(enum l2_dtype t, unsigned k)
{
    struct l2_dtype_layout l = l2_dtype_layout(t);
    uint64_t quiet = UINT64_C(1) << (l.fbits - 1);
    switch (k % 6) {
    case 0:
        return make_bits(t, 0, l.eall, 0);
    case 1:
        return make_bits(t, 1, l.eall, 0);
    case 2:
        return make_bits(t, 0, l.eall, quiet);
    case 3:
        return make_bits(t, 1, l.eall, quiet | (rnd() & (quiet - 1)));
    case 4:
        return make_bits(t, 0, l.eall, 1); /* signalling */
    default:
        return make_bits(t, 1, l.eall, 1 + rnd() % (quiet - 1));
    }
}

/* A random finite element: mostly near 1.0, sometimes anything, sometimes a
 * subnormal or zero. */
static uint64_t finite_bits(enum l2_dtype t)
{
    struct l2_dtype_layout l = l2_dtype_layout(t);
    uint64_t e;
    switch (rnd() % 32) {
    case 0:
        e = 0;
        break;
    case 1:
        e = rnd() % l.eall;
        break;
    default:
        e = l.bias - 4 + rnd() % 9;
        break;
    }
    return make_bits(t, rnd() & 1, e, rnd());
}

/* The reference: finite elements one by one with l2_accum_add, the others
 * counted by hand. */
static void reference(enum l2_dtype t, const unsigned char *buf, size_t n, struct l2_accum *ref)
{
    size_t w = l2_dtype_size(t);
    l2_accum_init(ref);
    for (size_t i = 0; i < n; i++) {
        double x = l2_dtype_load_le(t, buf + i * w);
        if (isnan(x)) {
            ref->nan_count++;
            ref->count++;
        } else if (isinf(x)) {
            ref->inf_count++;
            ref->count++;
        } else {
            cr_assert_eq(l2_accum_add(ref, x), L2_OK);
        }
    }
}

static void assert_same(const struct l2_accum *acc, const struct l2_accum *ref, const char *what,
                        enum l2_dtype t, size_t n)
{
    const char *impl = l2_accum_impl_name(l2_accum_impl_get());
    cr_assert_eq(memcmp(acc->limb, ref->limb, sizeof acc->limb), 0, "%s %s %s n=%zu: limbs", impl,
                 l2_dtype_name(t), what, n);
    cr_assert_eq(acc->count, ref->count, "%s %s %s n=%zu: count", impl, l2_dtype_name(t), what, n);
    cr_assert_eq(acc->nan_count, ref->nan_count, "%s %s %s n=%zu: nan_count %llu, want %llu", impl,
                 l2_dtype_name(t), what, n, (unsigned long long)acc->nan_count,
                 (unsigned long long)ref->nan_count);
    cr_assert_eq(acc->inf_count, ref->inf_count, "%s %s %s n=%zu: inf_count", impl,
                 l2_dtype_name(t), what, n);
    cr_assert_eq(bits_of(acc->max_abs), bits_of(ref->max_abs), "%s %s %s n=%zu: max_abs %a, %a",
                 impl, l2_dtype_name(t), what, n, acc->max_abs, ref->max_abs);
}

/* buf[0..n) counted in one call and in random splits, by every supported
 * implementation, equals the reference. */
static void check(enum l2_dtype t, const unsigned char *buf, size_t n, const char *what)
{
    size_t w = l2_dtype_size(t);
    enum l2_accum_impl before = l2_accum_impl_get();
    struct l2_accum ref, acc;

    reference(t, buf, n, &ref);
    for (int i = 0; i < L2_ACCUM_IMPL_COUNT; i++) {
        if (!l2_accum_impl_set((enum l2_accum_impl)i))
            continue;
        l2_accum_init(&acc);
        l2_accum_feed_counting(&acc, t, buf, n);
        assert_same(&acc, &ref, what, t, n);
        l2_accum_init(&acc);
        for (size_t at = 0; at < n;) {
            size_t len = rnd() % 3 == 0 ? rnd() % 40 : rnd() % 100000;
            if (len > n - at)
                len = n - at;
            l2_accum_feed_counting(&acc, t, buf + at * w, len);
            at += len;
        }
        assert_same(&acc, &ref, what, t, n);
    }
    l2_accum_impl_set(before);
}

/* Nothing to count: the same limbs, count and max_abs as l2_accum_feed. */
Test(accum_counting, without_non_finite_as_feed)
{
    const size_t sizes[] = {0, 1, 31, 32, 33, 4096, 65535, 65536, 65537, 200000};
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        size_t w = l2_dtype_size(t);
        unsigned char *buf = malloc(200000 * w);
        cr_assert_not_null(buf);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            struct l2_accum a, b;
            for (size_t i = 0; i < n; i++)
                put_bits(t, buf, i, finite_bits(t));
            l2_accum_init(&a);
            l2_accum_init(&b);
            cr_assert_eq(l2_accum_feed(&a, t, buf, n, NULL), L2_OK);
            l2_accum_feed_counting(&b, t, buf, n);
            assert_same(&b, &a, "finite", t, n);
            check(t, buf, n, "finite");
        }
        free(buf);
    }
}

/* One NaN or infinity at each boundary of the kernels' blocks (32-element
 * vectors, 2048- and 4096-element passes, the 65536-element counting
 * blocks), of every kind, in data that fits the windows or not. */
Test(accum_counting, single_at_boundaries)
{
    const size_t n = 3 * 65536 + 100;
    const size_t pos[] = {0,     1,     31,    32,    2047,      2048,    4095,  4096,
                          65535, 65536, 65537, 65600, 2 * 65536, n - 100, n - 2, n - 1};
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        size_t w = l2_dtype_size(t);
        unsigned char *buf = malloc(n * w);
        cr_assert_not_null(buf);
        for (size_t i = 0; i < n; i++)
            put_bits(t, buf, i, finite_bits(t));
        for (size_t p = 0; p < sizeof pos / sizeof pos[0]; p++) {
            unsigned char keep[8];
            memcpy(keep, buf + pos[p] * w, w);
            put_bits(t, buf, pos[p], nonfinite_bits(t, (unsigned)p));
            check(t, buf, n, "single");
            memcpy(buf + pos[p] * w, keep, w);
        }
        free(buf);
    }
}

/* Runs of non-finite elements of every length up to 300 crossing block
 * boundaries, pairs, and the non-finite ones sprinkled at densities from one
 * in two to one in 10^5. */
Test(accum_counting, runs_and_densities)
{
    const size_t n = 140000;
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        unsigned char *buf = malloc(n * l2_dtype_size(t));
        cr_assert_not_null(buf);
        for (int r = 0; r < 12; r++) {
            size_t start = r % 2 ? 65536 - (size_t)(rnd() % 300) : 4096 - (size_t)(rnd() % 300);
            size_t len = 1 + (size_t)(rnd() % 300);
            for (size_t i = 0; i < n; i++)
                put_bits(t, buf, i,
                         i >= start && i < start + len ? nonfinite_bits(t, (unsigned)i)
                                                       : finite_bits(t));
            put_bits(t, buf, start + len + 1, nonfinite_bits(t, 2)); /* one more after a gap */
            check(t, buf, n, "run");
        }
        const unsigned every[] = {2, 3, 17, 100, 1000, 70000};
        for (size_t d = 0; d < sizeof every / sizeof every[0]; d++) {
            for (size_t i = 0; i < n; i++)
                put_bits(t, buf, i,
                         rnd() % every[d] == 0 ? nonfinite_bits(t, (unsigned)rnd())
                                               : finite_bits(t));
            check(t, buf, n, "sprinkled");
        }
        free(buf);
    }
}

/* All non-finite, and non-finite with only zeros and subnormals between:
 * max_abs stays 0.0 or the subnormal, the sum only the finite ones. */
Test(accum_counting, all_non_finite_and_tiny_finite)
{
    const size_t sizes[] = {1, 5, 40, 5000, 70000};
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        unsigned char *buf = malloc(70000 * l2_dtype_size(t));
        cr_assert_not_null(buf);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            for (size_t i = 0; i < n; i++)
                put_bits(t, buf, i, nonfinite_bits(t, (unsigned)rnd()));
            check(t, buf, n, "all");
            struct l2_accum acc;
            l2_accum_init(&acc);
            l2_accum_feed_counting(&acc, t, buf, n);
            cr_assert_eq(bits_of(acc.max_abs), bits_of(0.0));
            cr_assert_eq(acc.count, n);
            cr_assert_eq(acc.nan_count + acc.inf_count, n);
            for (size_t i = 0; i < n; i++)
                put_bits(t, buf, i,
                         rnd() % 2 ? nonfinite_bits(t, (unsigned)rnd())
                                   : make_bits(t, rnd() & 1, 0, rnd() % 4));
            check(t, buf, n, "tiny");
        }
        free(buf);
    }
}

/* Each NaN and infinity pattern of each dtype is counted on its own side. */
Test(accum_counting, patterns_count_as_nan_or_inf)
{
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        for (unsigned k = 0; k < 6; k++) {
            unsigned char buf[8];
            struct l2_accum acc;
            put_bits(t, buf, 0, nonfinite_bits(t, k));
            l2_accum_init(&acc);
            l2_accum_feed_counting(&acc, t, buf, 1);
            cr_assert_eq(acc.count, 1);
            cr_assert_eq(acc.inf_count, k < 2 ? 1 : 0, "%s kind %u", l2_dtype_name(t), k);
            cr_assert_eq(acc.nan_count, k < 2 ? 0 : 1, "%s kind %u", l2_dtype_name(t), k);
        }
    }
    /* the usual encodings, spelled out */
    const struct {
        enum l2_dtype t;
        uint64_t bits;
        bool nan;
    } known[] = {
        {L2_DTYPE_FLOAT16, 0x7c00, false},
        {L2_DTYPE_FLOAT16, 0xfc00, false},
        {L2_DTYPE_FLOAT16, 0x7e00, true},
        {L2_DTYPE_FLOAT16, 0x7c01, true},
        {L2_DTYPE_FLOAT16, 0xffff, true},
        {L2_DTYPE_BFLOAT16, 0x7f80, false},
        {L2_DTYPE_BFLOAT16, 0xff80, false},
        {L2_DTYPE_BFLOAT16, 0x7fc0, true},
        {L2_DTYPE_BFLOAT16, 0x7f81, true},
        {L2_DTYPE_BFLOAT16, 0xffc1, true},
        {L2_DTYPE_FLOAT32, 0x7f800000, false},
        {L2_DTYPE_FLOAT32, 0xff800000, false},
        {L2_DTYPE_FLOAT32, 0x7fc00000, true},
        {L2_DTYPE_FLOAT32, 0x7f800001, true},
        {L2_DTYPE_FLOAT64, UINT64_C(0x7ff0000000000000), false},
        {L2_DTYPE_FLOAT64, UINT64_C(0xfff0000000000000), false},
        {L2_DTYPE_FLOAT64, UINT64_C(0x7ff8000000000000), true},
        {L2_DTYPE_FLOAT64, UINT64_C(0x7ff0000000000001), true},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        unsigned char buf[64 * 8];
        struct l2_accum acc;
        for (size_t k = 0; k < 64; k++) /* 64 of them: the vector kernels see them */
            put_bits(known[i].t, buf, k, k % 2 ? known[i].bits : make_bits(known[i].t, 0, 1, 0));
        l2_accum_init(&acc);
        l2_accum_feed_counting(&acc, known[i].t, buf, 64);
        cr_assert_eq(acc.count, 64);
        cr_assert_eq(acc.nan_count, known[i].nan ? 32 : 0, "case %zu", i);
        cr_assert_eq(acc.inf_count, known[i].nan ? 0 : 32, "case %zu", i);
    }
}

Test(accum_counting, add_nonfinite)
{
    struct l2_accum acc, ref;

    l2_accum_init(&acc);
    l2_accum_add_nonfinite(&acc, NAN);
    l2_accum_add_nonfinite(&acc, -NAN);
    l2_accum_add_nonfinite(&acc, INFINITY);
    l2_accum_add_nonfinite(&acc, -INFINITY);
    l2_accum_add_nonfinite(&acc, -INFINITY);
    cr_assert_eq(acc.count, 5);
    cr_assert_eq(acc.nan_count, 2);
    cr_assert_eq(acc.inf_count, 3);
    cr_assert_eq(bits_of(acc.max_abs), bits_of(0.0));
    l2_accum_init(&ref);
    ref.count = 5, ref.nan_count = 2, ref.inf_count = 3;
    cr_assert_eq(memcmp(&acc, &ref, sizeof acc), 0); /* nothing else moved */

    /* a finite value is taken as l2_accum_add takes it */
    l2_accum_add_nonfinite(&acc, -2.5);
    cr_assert_eq(l2_accum_add(&ref, -2.5), L2_OK);
    cr_assert_eq(memcmp(&acc, &ref, sizeof acc), 0);

    /* the same as the counting feed of float64 */
    const double x[4] = {1.5, NAN, -INFINITY, 0.25};
    l2_accum_init(&acc);
    l2_accum_init(&ref);
    for (int i = 0; i < 4; i++)
        l2_accum_add_nonfinite(&acc, x[i]);
    l2_accum_feed_counting(&ref, L2_DTYPE_FLOAT64, x, 4);
    cr_assert_eq(memcmp(&acc, &ref, sizeof acc), 0);
}

/* Counting accumulators merge like the others. */
Test(accum_counting, merge_of_counting_parts)
{
    const size_t n = 50000;
    unsigned char *buf = malloc(n * 4);
    struct l2_accum whole, part, sum;
    cr_assert_not_null(buf);
    for (size_t i = 0; i < n; i++)
        put_bits(L2_DTYPE_FLOAT32, buf, i,
                 rnd() % 50 ? finite_bits(L2_DTYPE_FLOAT32)
                            : nonfinite_bits(L2_DTYPE_FLOAT32, (unsigned)rnd()));
    l2_accum_init(&whole);
    l2_accum_feed_counting(&whole, L2_DTYPE_FLOAT32, buf, n);
    l2_accum_init(&sum);
    for (size_t at = 0; at < n; at += 7001) {
        size_t len = n - at < 7001 ? n - at : 7001;
        l2_accum_init(&part);
        l2_accum_feed_counting(&part, L2_DTYPE_FLOAT32, buf + 4 * at, len);
        l2_accum_merge(&sum, &part);
    }
    cr_assert_eq(memcmp(&sum, &whole, sizeof sum), 0);
    free(buf);
}
