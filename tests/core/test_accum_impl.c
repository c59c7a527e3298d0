/* test_accum_impl.c -- every implementation of l2_accum_feed (portable, and
 * each vector one this CPU runs: AVX2, AVX-512 IFMA) against the MPFR oracle and against each
 * other, limb for limb: every size 0..300 at odd alignments, random, extreme
 * and mixed data, blocks that reuse, move or leave the fixed-point window,
 * accumulators filled to their limit, and the exact first NaN/inf index. */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "core/accum.h"
#include "core/accum_impl.h"
#include "tests/support/oracle.h"
#include "tests/support/bits.h"
#include "tests/support/core_bits.h"

CORE_BITS_RNG(0x9e3779b97f4a7c15u);

enum kind {
    K_NARROW,   /* exponents within +-8 of 1.0 */
    K_FULL,     /* any finite bits */
    K_OUTLIERS, /* narrow, with 1 in 64 a zero, subnormal, tiny or huge */
    K_ZEROS,    /* +-0 only */
    K_MAX,      /* the two largest binades, largest significands */
    K_KINDS
};

/* One random finite element of dtype t of the given kind. */
static uint64_t random_element(enum l2_dtype t, enum kind k)
{
    struct l2_dtype_layout l = l2_dtype_layout(t);
    uint64_t emax = l.eall, bias = l.bias;
    uint64_t s = rnd() & 1, f = rnd();

    switch (k) {
    case K_NARROW:
        return make_bits(t, s, bias - 8 + rnd() % 17, f);
    case K_FULL:
        return make_bits(t, s, rnd() % emax, f);
    case K_OUTLIERS:
        if (rnd() % 64 == 0) {
            switch (rnd() % 4) {
            case 0:
                return make_bits(t, s, 0, 0);
            case 1:
                return make_bits(t, s, 0, f | 1);
            case 2:
                return make_bits(t, s, 1 + rnd() % 4, f);
            default:
                return make_bits(t, s, emax - 1 - rnd() % 4, f);
            }
        }
        return make_bits(t, s, bias - 8 + rnd() % 17, f);
    case K_ZEROS:
        return make_bits(t, s, 0, 0);
    default:
        return make_bits(t, s, emax - 1 - rnd() % 2, ~(rnd() % 4));
    }
}

/* Feeds buf[0..n) of t in one call with impl into a fresh *acc. */
static enum l2_status feed_with(enum l2_accum_impl impl, enum l2_dtype t, const unsigned char *buf,
                                size_t n, struct l2_accum *acc, size_t *bad)
{
    cr_assert(l2_accum_impl_set(impl), "%s unsupported", l2_accum_impl_name(impl));
    cr_assert_eq(l2_accum_impl_get(), impl);
    l2_accum_init(acc);
    return l2_accum_feed(acc, t, buf, n, bad);
}

/* Every supported implementation gives the portable limbs on buf and the
 * naive max_abs (bit for bit: +0.0 for zeros of either sign), and (when o is
 * not NULL) the oracle's rounded sum and half. */
static void check_all_impls(enum l2_dtype t, const unsigned char *buf, size_t n,
                            const struct oracle_sum *o, const char *what)
{
    struct l2_accum ref, acc;
    double max_abs = naive_max_abs(t, buf, n);

    cr_assert_eq(feed_with(L2_ACCUM_IMPL_PORTABLE, t, buf, n, &ref, NULL), L2_OK);
    for (int i = 0; i < L2_ACCUM_IMPL_COUNT; i++) {
        enum l2_accum_impl impl = (enum l2_accum_impl)i;
        if (!l2_accum_impl_supported(impl))
            continue;
        size_t bad = 777;
        cr_assert_eq(feed_with(impl, t, buf, n, &acc, &bad), L2_OK, "%s %s %s n=%zu",
                     l2_accum_impl_name(impl), l2_dtype_name(t), what, n);
        cr_assert_eq(bad, 777);
        cr_assert_eq(acc.count, n);
        cr_assert_eq(memcmp(acc.limb, ref.limb, sizeof acc.limb), 0, "%s %s %s n=%zu: limbs differ",
                     l2_accum_impl_name(impl), l2_dtype_name(t), what, n);
        cr_assert_eq(memcmp(&acc.max_abs, &max_abs, sizeof max_abs), 0,
                     "%s %s %s n=%zu: max_abs %a, want %a", l2_accum_impl_name(impl),
                     l2_dtype_name(t), what, n, acc.max_abs, max_abs);
        cr_assert_eq(acc.nan_count + acc.inf_count, 0);
        if (!o)
            continue;
        for (int half = 0; half < 2; half++) {
            double want, got = 0;
            bool ok = oracle_sum_round(o, half, &want);
            enum l2_status st = half ? l2_accum_half(&acc, &got) : l2_accum_sum(&acc, &got);
            cr_assert_eq(st, ok ? L2_OK : L2_OVERFLOW);
            cr_assert_eq(memcmp(&got, &want, sizeof got), 0, "%s %s %s n=%zu: %a, oracle %a",
                         l2_accum_impl_name(impl), l2_dtype_name(t), what, n, got, want);
        }
    }
}

/* The oracle sum of buf[0..n) of t. */
static void oracle_of(struct oracle_sum *o, enum l2_dtype t, const unsigned char *buf, size_t n)
{
    size_t w = l2_dtype_size(t);
    oracle_sum_init(o);
    for (size_t i = 0; i < n; i++)
        oracle_sum_add_sq(o, l2_dtype_load_le(t, buf + i * w));
}

Test(accum_impl, selection)
{
    cr_assert(l2_accum_impl_supported(L2_ACCUM_IMPL_PORTABLE));
    cr_assert_str_eq(l2_accum_impl_name(L2_ACCUM_IMPL_PORTABLE), "portable");
    cr_assert_str_eq(l2_accum_impl_name(L2_ACCUM_IMPL_AVX2), "avx2");
    cr_assert_str_eq(l2_accum_impl_name(L2_ACCUM_IMPL_AVX512IFMA), "avx512ifma");
#if defined(__x86_64__)
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                  __builtin_cpu_supports("avx512ifma");
    bool avx2 = __builtin_cpu_supports("avx2"); /* every AVX2 CPU has F16C */
#else
    bool avx512 = false, avx2 = false;
#endif
    cr_assert_eq(l2_accum_impl_supported(L2_ACCUM_IMPL_AVX512IFMA), avx512);
    cr_assert_eq(l2_accum_impl_supported(L2_ACCUM_IMPL_AVX2), avx2);
    /* the first choice is the fastest supported */
    cr_assert_eq(l2_accum_impl_get(), avx512 ? L2_ACCUM_IMPL_AVX512IFMA
                                      : avx2 ? L2_ACCUM_IMPL_AVX2
                                             : L2_ACCUM_IMPL_PORTABLE);
    cr_assert(l2_accum_impl_set(L2_ACCUM_IMPL_PORTABLE));
    cr_assert_eq(l2_accum_impl_get(), L2_ACCUM_IMPL_PORTABLE);
    cr_assert_eq(l2_accum_impl_set(L2_ACCUM_IMPL_AVX2), avx2);
    cr_assert_eq(l2_accum_impl_get(), avx2 ? L2_ACCUM_IMPL_AVX2 : L2_ACCUM_IMPL_PORTABLE);
    cr_assert_eq(l2_accum_impl_set(L2_ACCUM_IMPL_AVX512IFMA), avx512);
    if (avx512)
        cr_assert_eq(l2_accum_impl_get(), L2_ACCUM_IMPL_AVX512IFMA);
}

/* Every size 0..300, each dtype and kind, at an odd address. */
Test(accum_impl, every_small_size_and_alignment)
{
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        size_t w = l2_dtype_size(t);
        unsigned char *mem = malloc(301 * w + 8);
        cr_assert_not_null(mem);
        for (size_t n = 0; n <= 300; n++) {
            enum kind k = (enum kind)(n % K_KINDS);
            unsigned char *buf = mem + (n * 3) % 8;
            struct oracle_sum o;
            for (size_t i = 0; i < n; i++)
                put_bits(t, buf, i, random_element(t, k));
            oracle_of(&o, t, buf, n);
            check_all_impls(t, buf, n, &o, "small");
            oracle_sum_free(&o);
        }
        free(mem);
    }
}

/* Larger feeds of every kind: many blocks, at an odd address. */
Test(accum_impl, every_kind_many_blocks)
{
    const size_t sizes[3] = {4095, 9001, 70001};
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        size_t w = l2_dtype_size(t);
        for (int k = 0; k < K_KINDS; k++) {
            for (int s = 0; s < 3; s++) {
                size_t n = sizes[s];
                unsigned char *mem = malloc(n * w + 1), *buf = mem + 1;
                struct oracle_sum o;
                cr_assert_not_null(mem);
                for (size_t i = 0; i < n; i++)
                    put_bits(t, buf, i, random_element(t, (enum kind)k));
                oracle_of(&o, t, buf, n);
                check_all_impls(t, buf, n, &o, "kind");
                oracle_sum_free(&o);
                free(mem);
            }
        }
    }
}

/* Blocks whose exponent ranges rise, fall, jump past the window, fit in it
 * only at its edges, or are all zero, in one feed. */
Test(accum_impl, window_moves_between_blocks)
{
    const int shifts[] = {0, 0, 1, 2, 3, -1, -5, 0, 30, -30, 0, 100, -100, 0, 27, 28, 29, 0};
    const size_t nb = sizeof shifts / sizeof shifts[0], blk = 2048;
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        size_t w = l2_dtype_size(t), n = nb * blk + 13;
        uint64_t emax = l2_dtype_layout(t).eall, mid = emax / 2;
        unsigned char *buf = malloc(n * w);
        struct oracle_sum o;
        cr_assert_not_null(buf);
        for (size_t i = 0; i < n; i++) {
            size_t b = i / blk;
            int sh = b < nb ? shifts[b] : 0;
            /* b == 7 is all zeros; blocks 14..16: one element 2^sh below */
            int64_t e = (int64_t)mid + (int64_t)(rnd() % 3);
            if (b >= 14 && b <= 16 && i % blk == 5)
                e -= sh;
            else if (b < 14)
                e += sh;
            if (e < 1)
                e = 1;
            if (e > (int64_t)emax - 1)
                e = (int64_t)emax - 1;
            put_bits(t, buf, i, b == 7 ? 0 : make_bits(t, rnd() & 1, (uint64_t)e, rnd()));
        }
        oracle_of(&o, t, buf, n);
        check_all_impls(t, buf, n, &o, "moves");
        oracle_sum_free(&o);
        free(buf);
    }
}

/* The largest squares a window allows, its top filled with the largest
 * significand and its bottom holding the smallest exponent, for more elements
 * than one accumulator segment: no lane may wrap. The spans straddle each
 * implementation's window (27 or 28 binades above the bottom for the narrow
 * types, 25 for float64), so the widest block in a window and the narrowest
 * beyond it are both there. */
Test(accum_impl, accumulators_full_do_not_wrap)
{
    for (int ts = 0; ts < 4 * 4; ts++) {
        enum l2_dtype t = all_types[ts / 4];
        size_t w = l2_dtype_size(t), n = 300000;
        unsigned span = (t == L2_DTYPE_FLOAT64 ? 23 : 26) + (unsigned)(ts % 4);
        uint64_t emax = l2_dtype_layout(t).eall;
        uint64_t top = t == L2_DTYPE_FLOAT16 ? emax - 1 : emax / 2 + 10;
        uint64_t big = make_bits(t, 0, top, UINT64_MAX);
        uint64_t small = make_bits(t, 1, top >= span ? top - span : 1, 0);
        unsigned char *buf = malloc(n * w);
        struct oracle_sum o;
        cr_assert_not_null(buf);
        for (size_t i = 0; i < n; i++)
            put_bits(t, buf, i, i % 1024 == 0 ? small : big);
        oracle_sum_init(&o);
        unsigned char b[8];
        memcpy(b, buf + w, w);
        oracle_sum_add_sq_times(&o, l2_dtype_load_le(t, b), n - (n + 1023) / 1024);
        memcpy(b, buf, w);
        oracle_sum_add_sq_times(&o, l2_dtype_load_le(t, b), (n + 1023) / 1024);
        check_all_impls(t, buf, n, &o, "full");
        oracle_sum_free(&o);
        free(buf);
    }
}

/* Random splits into calls give every implementation the same limbs. */
Test(accum_impl, splits_agree_across_impls)
{
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        size_t w = l2_dtype_size(t), n = 100000;
        unsigned char *buf = malloc(n * w);
        struct l2_accum ref, acc;
        cr_assert_not_null(buf);
        for (size_t i = 0; i < n; i++)
            put_bits(t, buf, i, random_element(t, ti & 1 ? K_OUTLIERS : K_NARROW));
        cr_assert_eq(feed_with(L2_ACCUM_IMPL_PORTABLE, t, buf, n, &ref, NULL), L2_OK);
        for (int i = 0; i < L2_ACCUM_IMPL_COUNT; i++) {
            if (!l2_accum_impl_set((enum l2_accum_impl)i))
                continue;
            l2_accum_init(&acc);
            for (size_t at = 0; at < n;) {
                size_t len = rnd() % 2 ? rnd() % 300 : rnd() % 40000;
                if (len > n - at)
                    len = n - at;
                cr_assert_eq(l2_accum_feed(&acc, t, buf + at * w, len, NULL), L2_OK);
                at += len;
            }
            cr_assert_eq(acc.count, n);
            cr_assert_eq(memcmp(acc.limb, ref.limb, sizeof acc.limb), 0, "%s %s",
                         l2_accum_impl_name((enum l2_accum_impl)i), l2_dtype_name(t));
            cr_assert_eq(acc.max_abs, naive_max_abs(t, buf, n));
        }
        free(buf);
    }
}

/* The first NaN or infinity, wherever it is, in every implementation: the
 * first and last of a block, after a block left to the portable code, in a
 * masked tail, with a later one that must not win. */
Test(accum_impl, first_non_finite_index)
{
    const size_t sizes[] = {31, 32, 33, 300, 2048, 4097, 9000, 20000};
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        size_t w = l2_dtype_size(t);
        uint64_t emax = l2_dtype_layout(t).eall;
        const uint64_t bad[4] = {make_bits(t, 0, emax, 0), make_bits(t, 1, emax, 0),
                                 make_bits(t, 0, emax, UINT64_MAX), make_bits(t, 1, emax, 1)};
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            const size_t pos[] = {0, 1, 15, 16, 31, 2047, 2048, 4095, 4096, 4100, n / 2, n - 1};
            unsigned char *buf = malloc(n * w + 1), *b = buf + 1;
            cr_assert_not_null(buf);
            for (size_t p = 0; p < sizeof pos / sizeof pos[0]; p++) {
                if (pos[p] >= n)
                    continue;
                for (size_t i = 0; i < n; i++)
                    put_bits(t, b, i, random_element(t, p % 3 ? K_NARROW : K_OUTLIERS));
                put_bits(t, b, 3, make_bits(t, 0, 0, 1)); /* a subnormal: portable block */
                put_bits(t, b, pos[p], bad[p % 4]);
                if (pos[p] + 2 < n)
                    put_bits(t, b, n - 1, bad[(p + 1) % 4]);
                for (int i = 0; i < L2_ACCUM_IMPL_COUNT; i++) {
                    enum l2_accum_impl impl = (enum l2_accum_impl)i;
                    if (!l2_accum_impl_supported(impl))
                        continue;
                    struct l2_accum acc;
                    size_t idx = 999999;
                    cr_assert_eq(feed_with(impl, t, b, n, &acc, &idx), L2_NON_FINITE);
                    cr_assert_eq(idx, pos[p], "%s %s n=%zu: index %zu, want %zu",
                                 l2_accum_impl_name(impl), l2_dtype_name(t), n, idx, pos[p]);
                    cr_assert_eq(feed_with(impl, t, b, n, &acc, NULL), L2_NON_FINITE);
                }
            }
            free(buf);
        }
    }
}

/* Subnormals and the smallest normals, alone and next to large values. */
Test(accum_impl, subnormals_and_edges)
{
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        size_t w = l2_dtype_size(t), n = 5000;
        uint64_t emax = l2_dtype_layout(t).eall;
        unsigned char *buf = malloc(n * w);
        cr_assert_not_null(buf);
        for (int round = 0; round < 3; round++) {
            struct oracle_sum o;
            for (size_t i = 0; i < n; i++) {
                uint64_t e = round == 0 ? rnd() % 2 : round == 1 ? 1 + rnd() % 20 : 0;
                if (round == 2 && i % 1000 == 999)
                    e = emax - 1;
                put_bits(t, buf, i, make_bits(t, rnd() & 1, e, rnd()));
            }
            oracle_of(&o, t, buf, n);
            check_all_impls(t, buf, n, &o, "edges");
            oracle_sum_free(&o);
        }
        free(buf);
    }
}

/* A block that fits no window sends it and the next few blocks to the
 * portable code, after which the windows resume: the sum, and the index of a
 * NaN inside such a run or just after it, are as everywhere else. */
Test(accum_impl, portable_runs_and_back)
{
    const size_t n = 40 * 4096, odd[3] = {5000, 60000, 100000};
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        size_t w = l2_dtype_size(t);
        uint64_t emax = l2_dtype_layout(t).eall;
        unsigned char *buf = malloc(n * w);
        struct oracle_sum o;
        cr_assert_not_null(buf);
        for (size_t i = 0; i < n; i++)
            put_bits(t, buf, i, random_element(t, K_NARROW));
        put_bits(t, buf, odd[0], make_bits(t, 0, 0, 3));        /* a subnormal */
        put_bits(t, buf, odd[1], make_bits(t, 1, 1, 5));        /* the smallest normals */
        put_bits(t, buf, odd[2], make_bits(t, 0, emax - 1, 7)); /* the largest */
        oracle_of(&o, t, buf, n);
        check_all_impls(t, buf, n, &o, "runs");
        oracle_sum_free(&o);

        const size_t nan_at[4] = {odd[0] + 3 * 4096, odd[0] + 8 * 2048 + 5, odd[0] + 8 * 4096 + 7,
                                  odd[2] + 1};
        for (int k = 0; k < 4; k++) {
            uint64_t keep = 0;
            for (size_t b = 0; b < w; b++)
                keep |= (uint64_t)buf[nan_at[k] * w + b] << (8 * b);
            put_bits(t, buf, nan_at[k], make_bits(t, k & 1, emax, (uint64_t)k));
            for (int i = 0; i < L2_ACCUM_IMPL_COUNT; i++) {
                enum l2_accum_impl impl = (enum l2_accum_impl)i;
                struct l2_accum acc;
                size_t idx = 0;
                if (!l2_accum_impl_supported(impl))
                    continue;
                cr_assert_eq(feed_with(impl, t, buf, n, &acc, &idx), L2_NON_FINITE);
                cr_assert_eq(idx, nan_at[k], "%s %s: index %zu, want %zu", l2_accum_impl_name(impl),
                             l2_dtype_name(t), idx, nan_at[k]);
            }
            put_bits(t, buf, nan_at[k], keep);
        }
        free(buf);
    }
}

/* The internal contract l2_accum_feed_counting builds on: at a NaN or
 * infinity every implementation stops clean, with exactly the sum and
 * max_abs of the elements before it (count untouched), wherever it falls:
 * in the first block, after flushed windows, inside a portable run, in a
 * tail. */
Test(accum_impl, stops_clean_at_non_finite)
{
    const size_t n = 20 * 4096 + 77;
    const size_t pos[] = {0, 1, 31, 32, 100, 4095, 4096, 4097, 5000, 9000, 40000, 65536, n - 1};
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        size_t w = l2_dtype_size(t);
        uint64_t emax = l2_dtype_layout(t).eall;
        unsigned char *buf = malloc(n * w);
        cr_assert_not_null(buf);
        for (size_t p = 0; p < sizeof pos / sizeof pos[0]; p++) {
            for (size_t i = 0; i < n; i++)
                put_bits(t, buf, i, random_element(t, p % 3 ? K_NARROW : K_OUTLIERS));
            put_bits(t, buf, 4500, make_bits(t, 0, 0, 1)); /* a portable block */
            put_bits(t, buf, pos[p], make_bits(t, p & 1, emax, p % 2 ? 0 : 1));
            struct l2_accum ref;
            l2_accum_init(&ref);
            for (size_t i = 0; i < pos[p]; i++)
                cr_assert_eq(l2_accum_add(&ref, l2_dtype_load_le(t, buf + i * w)), L2_OK);
            for (int i = 0; i < L2_ACCUM_IMPL_COUNT; i++) {
                enum l2_accum_impl impl = (enum l2_accum_impl)i;
                struct l2_accum acc;
                size_t idx = 0;
                if (!l2_accum_impl_supported(impl))
                    continue;
                cr_assert_eq(feed_with(impl, t, buf, n, &acc, &idx), L2_NON_FINITE);
                cr_assert_eq(idx, pos[p]);
                cr_assert_eq(acc.count, 0);
                cr_assert_eq(memcmp(acc.limb, ref.limb, sizeof acc.limb), 0, "%s %s at %zu: limbs",
                             l2_accum_impl_name(impl), l2_dtype_name(t), pos[p]);
                cr_assert_eq(acc.max_abs, ref.max_abs, "%s %s at %zu: max_abs %a, want %a",
                             l2_accum_impl_name(impl), l2_dtype_name(t), pos[p], acc.max_abs,
                             ref.max_abs);
            }
        }
        free(buf);
    }
}

/* ---- the 16-bit kernels' own edges ---------------------------------------- */

/* Every finite float16 and bfloat16 bit pattern (both signs, subnormals, +-0,
 * the largest finite), in order and shuffled, at an odd address: float16's
 * window holds them all at once; bfloat16's range spans many windows. */
Test(accum_impl, every_finite_16_bit_pattern)
{
    for (int ti = 0; ti < 2; ti++) {
        enum l2_dtype t = all_types[ti];
        uint64_t eall = l2_dtype_layout(t).eall, fbits = l2_dtype_layout(t).fbits;
        size_t n = 0;
        unsigned char *buf = malloc(2 * 65536 + 1), *b = buf + 1;
        struct oracle_sum o;
        cr_assert_not_null(buf);
        for (uint64_t u = 0; u < 65536; u++)
            if (((u >> fbits) & eall) != eall)
                put_bits(t, b, n++, u);
        oracle_of(&o, t, b, n);
        check_all_impls(t, b, n, &o, "every pattern");
        for (size_t i = n - 1; i > 0; i--) { /* the same multiset, shuffled */
            size_t j = rnd() % (i + 1);
            unsigned char tmp[2];
            memcpy(tmp, b + 2 * i, 2);
            memcpy(b + 2 * i, b + 2 * j, 2);
            memcpy(b + 2 * j, tmp, 2);
        }
        check_all_impls(t, b, n, &o, "every pattern shuffled");
        oracle_sum_free(&o);
        free(buf);
    }
}

/* Long streams (many flushes) of the largest magnitudes, of the smallest
 * subnormal, of both, and of values whose squares fill the low 52-bit digits
 * of the lanes (float16 about 2, bfloat16 2^-24 below a larger value, which
 * sets the window): no lane wraps between flushes, and the smallest square
 * is not lost beside the largest. */
Test(accum_impl, long_runs_of_extremes_16_bit)
{
    for (int ti = 0; ti < 2; ti++) {
        enum l2_dtype t = all_types[ti];
        uint64_t eall = l2_dtype_layout(t).eall;
        size_t n = 1000003;
        unsigned char *buf = malloc(2 * n), b[2];
        const uint64_t big = make_bits(t, 0, eall - 1, UINT64_MAX);
        const uint64_t tiny = make_bits(t, 1, 0, 1);
        const uint64_t full = t == L2_DTYPE_FLOAT16 ? make_bits(t, 1, 15, UINT64_MAX)
                                                    : make_bits(t, 1, eall - 1 - 24, UINT64_MAX);
        cr_assert_not_null(buf);
        for (int round = 0; round < 4; round++) {
            const uint64_t one = round == 3 ? full : tiny, other = round == 3 ? full : big;
            const uint64_t first = t == L2_DTYPE_BFLOAT16 && round == 3 ? big : other;
            struct oracle_sum o;
            size_t ones = 0;
            oracle_sum_init(&o);
            for (size_t i = 0; i < n; i++) {
                bool is_one =
                    round == 1 || (round == 2 && i % 65536 == 7) || (round == 3 && i % 4096 != 0);
                put_bits(t, buf, i, is_one ? one : (i & 1) ? first : first ^ 0x8000);
                ones += is_one;
            }
            put_bits(t, b, 0, first);
            oracle_sum_add_sq_times(&o, l2_dtype_load_le(t, b), n - ones);
            put_bits(t, b, 0, one);
            oracle_sum_add_sq_times(&o, l2_dtype_load_le(t, b), ones);
            check_all_impls(t, buf, n, &o, "extremes");
            oracle_sum_free(&o);
        }
        free(buf);
    }
}

/* bfloat16 windows at their edges: 45 exponent fields fit one window (the
 * widest, subnormals sharing field 1), 46 do not and go to the portable
 * code; blocks alternate between both, and between the bottom and the top
 * of the range, so windows move and flush in every way. */
Test(accum_impl, bfloat16_window_edges)
{
    const enum l2_dtype t = L2_DTYPE_BFLOAT16;
    const uint64_t eall = L2_BFLOAT16_EALL;
    size_t n = 9 * 4096 + 77;
    unsigned char *buf = malloc(2 * n + 1), *b = buf + 1;
    cr_assert_not_null(buf);
    for (int round = 0; round < 8; round++) {
        /* span 44 fits from any low; span 45 fits only from the subnormals */
        uint64_t span = round % 2 ? 45 : 44, low = round < 4 ? (uint64_t)(round / 2) : eall - 47;
        struct oracle_sum o;
        for (size_t i = 0; i < n; i++) {
            uint64_t e = low + ((i / 4096) % 3 == 1 ? span : rnd() % (span + 1));
            if (i % 4096 == 100)
                e = low; /* each block reaches both ends */
            put_bits(t, b, i, make_bits(t, rnd() & 1, e, rnd()));
        }
        oracle_of(&o, t, b, n);
        check_all_impls(t, b, n, &o, "window edges");
        oracle_sum_free(&o);
    }
    free(buf);
}

/* A NaN or infinity in every lane of a 32-element vector (the 16-bit
 * kernels' step), in a full block,
 * in a block's masked tail and just after a flush, at both alignments: the
 * index is exact and the stop clean (the sum of the elements before it). */
Test(accum_impl, non_finite_in_every_lane_16_bit)
{
    for (int ti = 0; ti < 2; ti++) {
        enum l2_dtype t = all_types[ti];
        uint64_t eall = l2_dtype_layout(t).eall;
        const size_t n = 65536 + 4096 + 100;
        const size_t starts[] = {0, 64, 4096 - 32, 4096 + 64, 65536, 65536 + 4096 + 100 - 64};
        unsigned char *buf = malloc(2 * n + 1);
        cr_assert_not_null(buf);
        for (size_t off = 0; off < 2; off++) {
            unsigned char *b = buf + off;
            for (size_t i = 0; i < n; i++)
                put_bits(t, b, i, random_element(t, i % 7 ? K_NARROW : K_OUTLIERS));
            for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
                for (size_t lane = 0; lane < 32; lane++) {
                    size_t at = starts[s] + lane;
                    uint64_t keep, bad = make_bits(t, lane & 1, eall, lane % 3 ? rnd() : 0);
                    if (at >= n)
                        continue;
                    keep = (uint64_t)b[2 * at] | (uint64_t)b[2 * at + 1] << 8;
                    put_bits(t, b, at, bad);
                    for (int i = 0; i < L2_ACCUM_IMPL_COUNT; i++) {
                        enum l2_accum_impl impl = (enum l2_accum_impl)i;
                        struct l2_accum acc, ref;
                        size_t idx = 0;
                        if (!l2_accum_impl_supported(impl))
                            continue;
                        cr_assert_eq(feed_with(impl, t, b, n, &acc, &idx), L2_NON_FINITE);
                        cr_assert_eq(idx, at, "%s %s: index %zu, want %zu",
                                     l2_accum_impl_name(impl), l2_dtype_name(t), idx, at);
                        cr_assert_eq(feed_with(L2_ACCUM_IMPL_PORTABLE, t, b, at, &ref, NULL),
                                     L2_OK);
                        cr_assert_eq(memcmp(acc.limb, ref.limb, sizeof acc.limb), 0,
                                     "%s %s: not a clean stop at %zu", l2_accum_impl_name(impl),
                                     l2_dtype_name(t), at);
                    }
                    put_bits(t, b, at, keep);
                }
            }
        }
        free(buf);
    }
}

#if defined(__x86_64__)
/* With MXCSR's DAZ (denormals are zero) set, as a library built with
 * -ffast-math may leave it, every implementation still adds the squares of
 * float16 and bfloat16 subnormals (the AVX-512 kernels, which pass them
 * through float32 subnormals, step aside for the portable code). */
Test(accum_impl, denormals_are_zero_mode_16_bit)
{
    for (int ti = 0; ti < 2; ti++) {
        enum l2_dtype t = all_types[ti];
        size_t n = 5000;
        unsigned char *buf = malloc(2 * n);
        struct l2_accum ref, acc;
        unsigned csr = _mm_getcsr();
        cr_assert_not_null(buf);
        for (size_t i = 0; i < n; i++)
            put_bits(t, buf, i, make_bits(t, rnd() & 1, i % 3 ? 0 : 1 + rnd() % 12, rnd() | 1));
        cr_assert_eq(feed_with(L2_ACCUM_IMPL_PORTABLE, t, buf, n, &ref, NULL), L2_OK);
        for (int i = 0; i < L2_ACCUM_IMPL_COUNT; i++) {
            enum l2_accum_impl impl = (enum l2_accum_impl)i;
            enum l2_status st;
            if (!l2_accum_impl_supported(impl))
                continue;
            cr_assert(l2_accum_impl_set(impl));
            l2_accum_init(&acc);
            _mm_setcsr(csr | 0x40);
            st = l2_accum_feed(&acc, t, buf, n, NULL);
            _mm_setcsr(csr);
            cr_assert_eq(st, L2_OK);
            cr_assert_eq(memcmp(acc.limb, ref.limb, sizeof acc.limb), 0, "%s %s: limbs differ",
                         l2_accum_impl_name(impl), l2_dtype_name(t));
        }
        free(buf);
    }
}
#endif

/* float16 steps of 64 elements whose largest magnitude is just below 2^7
 * (converted as 32-bit integers) or at and above it (as 64-bit ones), that
 * element anywhere in the step, among small values: the same sums. */
Test(accum_impl, float16_small_and_large_steps)
{
    const uint64_t tops[] = {0x57fe, 0x57ff, 0x5800, 0x5801, 0x5bff, 0x7bff};
    const enum l2_dtype t = L2_DTYPE_FLOAT16;
    size_t n = 64 * 70 + 33;
    unsigned char *buf = malloc(2 * n);
    cr_assert_not_null(buf);
    for (size_t k = 0; k < sizeof tops / sizeof tops[0]; k++) {
        struct oracle_sum o;
        for (size_t i = 0; i < n; i++) /* below 2^7 */
            put_bits(t, buf, i, make_bits(t, rnd() & 1, L2_FLOAT16_BIAS - 8 + rnd() % 15, rnd()));
        for (size_t c = 0; c < n / 64; c++)
            put_bits(t, buf, 64 * c + (c * 7) % 64, tops[k] | (c & 1) << 15);
        oracle_of(&o, t, buf, n);
        check_all_impls(t, buf, n, &o, "small and large steps");
        oracle_sum_free(&o);
    }
    free(buf);
}

/* A stream fed in calls of any size with its l2_accum_stream (portable runs
 * carried from one call to the next) gives the one-call limbs, count and
 * max_abs in every implementation, over data that leaves the windows and
 * comes back; a NaN inside a carried run is found at its index in the call;
 * and l2_accum_stream_portable says which code the stream is on. */
Test(accum_impl, stream_calls_carry_portable_runs)
{
    static const struct {
        enum kind k;
        size_t n;
    } parts[4] = {{K_NARROW, 30000}, {K_FULL, 200000}, {K_NARROW, 30000}, {K_FULL, 70000}};
    const enum l2_dtype t = L2_DTYPE_FLOAT32;
    const size_t w = 4;
    size_t n = 0;
    unsigned char *buf;
    struct l2_accum ref;

    for (int p = 0; p < 4; p++)
        n += parts[p].n;
    buf = malloc(n * w);
    cr_assert_not_null(buf);
    for (size_t at = 0, p = 0; p < 4; p++)
        for (size_t i = 0; i < parts[p].n; i++)
            put_bits(t, buf, at++, random_element(t, parts[p].k));
    cr_assert_eq(feed_with(L2_ACCUM_IMPL_PORTABLE, t, buf, n, &ref, NULL), L2_OK);
    for (int i = 0; i < L2_ACCUM_IMPL_COUNT; i++) {
        enum l2_accum_impl impl = (enum l2_accum_impl)i;
        struct l2_accum acc;
        struct l2_accum_stream s = {0};
        bool vector = i != L2_ACCUM_IMPL_PORTABLE;

        if (!l2_accum_impl_set(impl))
            continue;
        l2_accum_init(&acc);
        /* a new stream: portable only where there is no vector kernel */
        cr_assert_eq(l2_accum_stream_portable(&s, t), !vector, "%s", l2_accum_impl_name(impl));
        for (size_t at = 0; at < n;) {
            size_t len = rnd() % 3 == 0 ? rnd() % 300 : 2000 + rnd() % 20000;
            if (len > n - at)
                len = n - at;
            if (at < 29000 && at + len > 29000) /* a call ends there */
                len = 29000 - at;
            cr_assert_eq(l2_accum_feed_stream(&acc, &s, t, buf + at * w, len, NULL), L2_OK);
            at += len;
            if (at == 29000) /* all narrow so far */
                cr_assert_eq(l2_accum_stream_portable(&s, t), !vector, "%s",
                             l2_accum_impl_name(impl));
        }
        cr_assert(l2_accum_stream_portable(&s, t), "%s", l2_accum_impl_name(impl));
        cr_assert_eq(acc.count, n);
        {
            /* a call that ends with its run: nothing left over, the next
             * run longer, and still on the portable code */
            struct l2_accum_stream s2 = {0};
            struct l2_accum a2, r2;

            l2_accum_init(&a2);
            cr_assert_eq(l2_accum_feed_stream(&a2, &s2, t, buf + 30000 * w, 16384, NULL), L2_OK);
            cr_assert(l2_accum_stream_portable(&s2, t), "%s", l2_accum_impl_name(impl));
            if (vector) {
                cr_assert_eq(s2.portable_left, 0, "%s", l2_accum_impl_name(impl));
                cr_assert_gt(s2.run, 4, "%s", l2_accum_impl_name(impl));
            }
            cr_assert_eq(feed_with(L2_ACCUM_IMPL_PORTABLE, t, buf + 30000 * w, 16384, &r2, NULL),
                         L2_OK);
            cr_assert(l2_accum_impl_set(impl));
            cr_assert_eq(memcmp(a2.limb, r2.limb, sizeof a2.limb), 0, "%s",
                         l2_accum_impl_name(impl));
        }
        cr_assert_eq(memcmp(acc.limb, ref.limb, sizeof acc.limb), 0, "%s: limbs differ",
                     l2_accum_impl_name(impl));
        cr_assert_eq(acc.max_abs, naive_max_abs(t, buf, n));

        /* a NaN a few calls into a carried run of the full-range part */
        for (size_t nan_at = 30000 + 3 * 4096 + 17; nan_at < 30000 + 5 * 4096; nan_at += 4000) {
            uint64_t keep = 0;
            bool found = false;

            for (size_t b = 0; b < w; b++)
                keep |= (uint64_t)buf[nan_at * w + b] << (8 * b);
            put_bits(t, buf, nan_at, make_bits(t, 0, 0xff, 1));
            l2_accum_init(&acc);
            memset(&s, 0, sizeof s);
            for (size_t at = 0; at < n && !found; at += 4096) {
                size_t len = n - at < 4096 ? n - at : 4096, bad = 0;
                enum l2_status st = l2_accum_feed_stream(&acc, &s, t, buf + at * w, len, &bad);

                if (st == L2_NON_FINITE) {
                    cr_assert_eq(at + bad, nan_at, "%s: index %zu, want %zu",
                                 l2_accum_impl_name(impl), at + bad, nan_at);
                    found = true;
                }
            }
            cr_assert(found);
            put_bits(t, buf, nan_at, keep);
        }
    }
    free(buf);
}
