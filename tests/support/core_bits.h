/* core_bits.h -- what the kernel tests (tests/core/test_accum*.c) build
 * their buffers with: the four dtypes, an element's bits from its fields,
 * elements written into a little-endian buffer, the largest magnitude the
 * obvious way, and a reproducible rnd() per test file. Header only. */
#ifndef TEST_CORE_BITS_H
#define TEST_CORE_BITS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "tests/support/rng.h"

/* Defines rnd(), the next 64 bits of xorshift64* (rng.h) from a state of
 * this file first set to seed: each file draws its own sequence, the same
 * on every run. Use once, at file scope: CORE_BITS_RNG(0x...u); */
#define CORE_BITS_RNG(seed)                                                                        \
    static uint64_t rng_state;                                                                     \
    static uint64_t rnd(void)                                                                      \
    {                                                                                              \
        return rng_xorshift64s(&rng_state);                                                        \
    }                                                                                              \
    static uint64_t rng_state = (seed)

/* Every dtype, in enum order. */
static const enum l2_dtype all_types[L2_DTYPE_COUNT] = {L2_DTYPE_FLOAT16, L2_DTYPE_BFLOAT16,
                                                        L2_DTYPE_FLOAT32, L2_DTYPE_FLOAT64};

/* Bits of dtype t with sign s, exponent field e and fraction f (f cut to
 * the fraction's width). */
static inline uint64_t make_bits(enum l2_dtype t, uint64_t s, uint64_t e, uint64_t f)
{
    struct l2_dtype_layout l = l2_dtype_layout(t);

    return s << l.sign | e << l.fbits | (f & ((UINT64_C(1) << l.fbits) - 1));
}

/* Writes element i of dtype t with raw bits u, little-endian. */
static inline void put_bits(enum l2_dtype t, unsigned char *buf, size_t i, uint64_t u)
{
    size_t w = l2_dtype_size(t);

    for (size_t k = 0; k < w; k++)
        buf[i * w + k] = (unsigned char)(u >> (8 * k));
}

/* The largest |x| of buf[0..n) of t, the obvious way (+0.0 when empty or
 * all zeros). */
static inline double naive_max_abs(enum l2_dtype t, const unsigned char *buf, size_t n)
{
    size_t w = l2_dtype_size(t);
    double m = 0.0;

    for (size_t i = 0; i < n; i++) {
        double x = fabs(l2_dtype_load_le(t, buf + i * w));
        if (x > m)
            m = x;
    }
    return m;
}

#endif
