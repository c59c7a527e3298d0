/* elem_bits.h -- an element's bits for the decoder tests of tests/api/: its
 * size, its value decoded here independently of core/ (so that an error in
 * core/dtype.c cannot hide in both the decoder and its test), random finite
 * bits, and its bytes in either order. Header only. */
#ifndef TEST_ELEM_BITS_H
#define TEST_ELEM_BITS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/dtype.h"
#include "tests/support/chunks.h"

/* Bytes per element of dt (2, 2, 4 or 8). */
static inline size_t elem_size(enum l2_dtype dt)
{
    return dt == L2_DTYPE_FLOAT64 ? 8 : dt == L2_DTYPE_FLOAT32 ? 4 : 2;
}

/* The IEEE binary type of `size` bytes, as an .npy descr names it (f2:
 * float16, f4: float32, f8: float64). */
static inline enum l2_dtype elem_dtype_of_size(size_t size)
{
    return size == 8 ? L2_DTYPE_FLOAT64 : size == 4 ? L2_DTYPE_FLOAT32 : L2_DTYPE_FLOAT16;
}

/* The value of an element's bits (in the low bits of `bits`). */
static inline double elem_value(enum l2_dtype dt, uint64_t bits)
{
    if (dt == L2_DTYPE_FLOAT64) {
        double d;
        memcpy(&d, &bits, 8);
        return d;
    }
    if (dt == L2_DTYPE_BFLOAT16)
        bits <<= 16, dt = L2_DTYPE_FLOAT32;
    if (dt == L2_DTYPE_FLOAT32) {
        uint32_t u = (uint32_t)bits;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    /* float16: 1 sign, 5 exponent, 10 fraction bits. */
    int e = (int)((bits >> 10) & 0x1f);
    double m = (double)(bits & 0x3ff);
    double v = e == 0    ? ldexp(m, -24)
               : e == 31 ? (m == 0 ? INFINITY : NAN)
                         : ldexp(m + 1024.0, e - 25);
    return (bits & 0x8000) ? -v : v;
}

/* Random finite element bits of dt drawn from *rng (chunks_rng): any sign,
 * exponent and fraction (for float64, below 2^500, so that sums of squares
 * stay in range). tests/data/npz/gen.py draws the same sequence. */
static inline uint64_t elem_random_finite(enum l2_dtype dt, uint64_t *rng)
{
    for (;;) {
        uint64_t b = chunks_rng(rng);

        if (dt != L2_DTYPE_FLOAT64)
            b &= dt == L2_DTYPE_FLOAT32 ? 0xffffffffu : 0xffffu;
        if (isfinite(elem_value(dt, b)) && fabs(elem_value(dt, b)) < 0x1p500)
            return b;
    }
}

/* Writes the low `size` bytes of bits at p, big-endian when big. */
static inline void elem_put(unsigned char *p, uint64_t bits, size_t size, bool big)
{
    for (size_t i = 0; i < size; i++)
        p[big ? size - 1 - i : i] = (unsigned char)(bits >> (8 * i));
}

/* Writes the low `size` bytes of bits at p, little-endian. */
static inline void elem_put_le(unsigned char *p, uint64_t bits, size_t size)
{
    elem_put(p, bits, size, false);
}

#endif
