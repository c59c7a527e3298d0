/* accum_portable.c -- l2_accum_feed in plain C, for any CPU.
 *
 * Every finite element is m * 2^e with an integer significand m, so its square
 * is the integer m^2 at bit 2e of the fixed-point sum. The square is added as
 * a plain integer into a bucket indexed by the element's exponent field, and
 * the buckets go into the wide sum before any could overflow. The field of
 * NaN and infinity has its own bucket: one test per block finds them. */
#include "accum_impl.h"

#include <string.h>

/* Interleaved bucket arrays per feed: element j goes to array j % WAYS, so
 * that consecutive adds do not wait on each other. */
#define ACCUM_WAYS 8
#define ACCUM_WAYS64 2

/* Bytes read ahead with a prefetch hint: a loop that loads 2 to 8 bytes at a
 * time otherwise waits on memory. */
#define ACCUM_PREFETCH 2048

/* Below these element counts a feed adds each square straight into the sum:
 * clearing and flushing the buckets would cost more than it saves (measured
 * break-even points; they grow with the number of buckets). */
#define ACCUM_DIRECT_F16 48
#define ACCUM_DIRECT_F32 192 /* and bfloat16 */
#define ACCUM_DIRECT_F64 768

/* The layout arguments of the helpers below for dtype ID: bytes per element,
 * fraction bits, exponent bits, bias. */
#define ACCUM_LAYOUT(id) L2_##id##_BYTES, L2_##id##_FBITS, L2_##id##_EBITS, L2_##id##_BIAS

/* One little-endian element of w bytes as an integer (any alignment). */
static inline __attribute__((always_inline)) uint64_t accum_load(const unsigned char *p, unsigned w)
{
    if (w == 2) {
        uint16_t v;
        memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap16(v);
#endif
        return v;
    }
    if (w == 4) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap32(v);
#endif
        return v;
    }
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Hints that the data ACCUM_PREFETCH bytes after r will be read soon. The
 * address is formed as an integer because it may lie past the end of the
 * data; a prefetch never faults. */
static inline __attribute__((always_inline)) void accum_prefetch(const unsigned char *r)
{
    __builtin_prefetch((const void *)((uintptr_t)r + ACCUM_PREFETCH));
}

/* Adds n elements one by one: the path for tiny feeds. */
static inline __attribute__((always_inline)) enum l2_status
accum_feed_direct(struct l2_accum *acc, const unsigned char *p, size_t n, size_t *bad_index,
                  unsigned w, unsigned fbits, unsigned ebits, unsigned bias)
{
    const uint64_t fmask = (UINT64_C(1) << fbits) - 1;
    const unsigned eall = (1u << ebits) - 1;

    for (size_t j = 0; j < n; j++) {
        uint64_t u = accum_load(p + j * w, w);
        unsigned be = (unsigned)(u >> fbits) & eall;
        uint64_t m = (u & fmask) | (uint64_t)(be != 0) << fbits;
        if (be == eall) {
            if (bad_index)
                *bad_index = j;
            return L2_NON_FINITE;
        }
        if (m)
            l2_accum_add_at(acc->limb, (l2_accum_u128)m * m, l2_accum_shift(be, fbits, bias));
    }
    return L2_OK;
}

/* Finds the first element of p[0..n) whose exponent field is all ones. */
static size_t accum_find_bad(const unsigned char *p, size_t n, unsigned w, unsigned fbits,
                             unsigned ebits)
{
    const unsigned eall = (1u << ebits) - 1;
    size_t j;

    for (j = 0; j < n; j++) {
        uint64_t u = accum_load(p + j * w, w);
        if (((unsigned)(u >> fbits) & eall) == eall)
            break;
    }
    return j;
}

/* b[exponent field of u] += significand(u)^2, for a type of fbits fraction
 * and ebits exponent bits. */
static inline __attribute__((always_inline)) void accum_bucket(uint64_t *b, uint64_t u,
                                                               unsigned fbits, unsigned ebits)
{
    unsigned be = (unsigned)(u >> fbits) & ((1u << ebits) - 1);
    uint64_t m = (u & ((UINT64_C(1) << fbits) - 1)) | (uint64_t)(be != 0) << fbits;
    b[be] += m * m;
}

/* The bucket path for types of at most 32 bits (significand <= 24 bits, so a
 * square fits 48 bits and a uint64 bucket holds 2^(62 - 2 fbits) of them). */
static inline __attribute__((always_inline)) enum l2_status
accum_feed_narrow(struct l2_accum *acc, const unsigned char *p, size_t n, size_t *bad_index,
                  unsigned w, unsigned fbits, unsigned ebits, unsigned bias, size_t direct_max)
{
    enum { NB = 1 << L2_FLOAT32_EBITS, PAD = 8 };
    const unsigned eall = (1u << ebits) - 1;
    const unsigned nb = 1u << ebits;
    const unsigned lg = 62 - 2 * fbits;
    const size_t block = (size_t)1 << (lg < 20 ? lg : 20);
    /* padded so that the same bucket of two arrays is not 4 KiB apart (a
     * load would falsely wait on the other array's store) */
    uint64_t b[ACCUM_WAYS][NB + PAD];

    if (n < direct_max)
        return accum_feed_direct(acc, p, n, bad_index, w, fbits, ebits, bias);

    for (size_t base = 0; base < n; base += block) {
        size_t len = n - base < block ? n - base : block;
        const unsigned char *q = p + base * w;
        size_t j = 0;

        for (unsigned k = 0; k < ACCUM_WAYS; k++)
            memset(b[k], 0, nb * sizeof b[k][0]); /* float16 uses 32 of the 256 */
        /* written out: compilers do not unroll this at -O2 */
        for (; j + ACCUM_WAYS <= len; j += ACCUM_WAYS) {
            const unsigned char *r = q + j * w;
            accum_prefetch(r);
            accum_bucket(b[0], accum_load(r, w), fbits, ebits);
            accum_bucket(b[1], accum_load(r + w, w), fbits, ebits);
            accum_bucket(b[2], accum_load(r + 2 * w, w), fbits, ebits);
            accum_bucket(b[3], accum_load(r + 3 * w, w), fbits, ebits);
            accum_bucket(b[4], accum_load(r + 4 * w, w), fbits, ebits);
            accum_bucket(b[5], accum_load(r + 5 * w, w), fbits, ebits);
            accum_bucket(b[6], accum_load(r + 6 * w, w), fbits, ebits);
            accum_bucket(b[7], accum_load(r + 7 * w, w), fbits, ebits);
        }
        for (; j < len; j++)
            accum_bucket(b[0], accum_load(q + j * w, w), fbits, ebits);

        uint64_t nonfinite = 0;
        for (unsigned k = 0; k < ACCUM_WAYS; k++)
            nonfinite |= b[k][eall];
        if (nonfinite) {
            if (bad_index)
                *bad_index = base + accum_find_bad(q, len, w, fbits, ebits);
            return L2_NON_FINITE;
        }
        for (unsigned e = 0; e < nb - 1; e++) {
            uint64_t s = 0;
            for (unsigned k = 0; k < ACCUM_WAYS; k++)
                s += b[k][e];
            if (s)
                l2_accum_add_at(acc->limb, s, l2_accum_shift(e, fbits, bias));
        }
    }
    return L2_OK;
}

/* b[exponent field of u] += significand(u)^2 for float64 bits u. */
static inline __attribute__((always_inline)) void accum_bucket128(l2_accum_u128 *b, uint64_t u)
{
    unsigned be = (unsigned)(u >> L2_FLOAT64_FBITS) & L2_FLOAT64_EALL;
    uint64_t m = (u & ((UINT64_C(1) << L2_FLOAT64_FBITS) - 1)) | (uint64_t)(be != 0)
                                                                     << L2_FLOAT64_FBITS;
    b[be] += (l2_accum_u128)m * m;
}

/* The bucket path for float64: 106-bit squares in 128-bit buckets, 2^22 adds
 * per block before one could overflow. */
static enum l2_status accum_feed_f64(struct l2_accum *acc, const unsigned char *p, size_t n,
                                     size_t *bad_index)
{
    enum { NB = 1 << L2_FLOAT64_EBITS, PAD = 4, W = L2_FLOAT64_BYTES };
    const size_t block = (size_t)1 << 22;
    l2_accum_u128 b[ACCUM_WAYS64][NB + PAD]; /* padded as in accum_feed_narrow */

    if (n < ACCUM_DIRECT_F64)
        return accum_feed_direct(acc, p, n, bad_index, ACCUM_LAYOUT(FLOAT64));

    for (size_t base = 0; base < n; base += block) {
        size_t len = n - base < block ? n - base : block;
        const unsigned char *q = p + base * W;
        size_t j = 0;

        memset(b, 0, sizeof b);
        for (; j + 4 <= len; j += 4) {
            const unsigned char *r = q + j * W;
            accum_prefetch(r);
            accum_bucket128(b[0], accum_load(r, W));
            accum_bucket128(b[1 % ACCUM_WAYS64], accum_load(r + W, W));
            accum_bucket128(b[2 % ACCUM_WAYS64], accum_load(r + 2 * W, W));
            accum_bucket128(b[3 % ACCUM_WAYS64], accum_load(r + 3 * W, W));
        }
        for (; j < len; j++)
            accum_bucket128(b[0], accum_load(q + j * W, W));

        l2_accum_u128 nonfinite = 0;
        for (unsigned k = 0; k < ACCUM_WAYS64; k++)
            nonfinite |= b[k][L2_FLOAT64_EALL];
        if (nonfinite) {
            if (bad_index)
                *bad_index = base + accum_find_bad(q, len, W, L2_FLOAT64_FBITS, L2_FLOAT64_EBITS);
            return L2_NON_FINITE;
        }
        for (unsigned e = 0; e < NB - 1; e++) {
            l2_accum_u128 s = 0;
            for (unsigned k = 0; k < ACCUM_WAYS64; k++)
                s += b[k][e];
            if (s)
                l2_accum_add_at(acc->limb, s, l2_accum_shift(e, L2_FLOAT64_FBITS, L2_FLOAT64_BIAS));
        }
    }
    return L2_OK;
}

enum l2_status l2_accum_feed_portable(struct l2_accum *acc, enum l2_dtype dtype,
                                      const unsigned char *p, size_t n, size_t *bad_index)
{
    enum l2_status st;

    switch (dtype) {
    case L2_DTYPE_FLOAT16:
        st = accum_feed_narrow(acc, p, n, bad_index, ACCUM_LAYOUT(FLOAT16), ACCUM_DIRECT_F16);
        break;
    case L2_DTYPE_BFLOAT16:
        st = accum_feed_narrow(acc, p, n, bad_index, ACCUM_LAYOUT(BFLOAT16), ACCUM_DIRECT_F32);
        break;
    case L2_DTYPE_FLOAT32:
        st = accum_feed_narrow(acc, p, n, bad_index, ACCUM_LAYOUT(FLOAT32), ACCUM_DIRECT_F32);
        break;
    case L2_DTYPE_FLOAT64:
    default:
        st = accum_feed_f64(acc, p, n, bad_index);
        break;
    }
    return st;
}

size_t l2_accum_first_bad(enum l2_dtype dtype, const unsigned char *p, size_t n)
{
    switch (dtype) {
#define ACCUM_FIND_BAD(id, name, bytes, ebits, fbits)                                              \
    case L2_DTYPE_##id:                                                                            \
        return accum_find_bad(p, n, L2_##id##_BYTES, L2_##id##_FBITS, L2_##id##_EBITS);
        L2_DTYPE_LIST(ACCUM_FIND_BAD)
#undef ACCUM_FIND_BAD
    }
    return n;
}
