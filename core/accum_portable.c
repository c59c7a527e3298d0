/* accum_portable.c -- l2_accum_feed in plain C, for any CPU.
 *
 * Every finite element is m * 2^e with an integer significand m, so its square
 * is the integer m^2 at bit 2e of the fixed-point sum. The square is added as
 * a plain integer into a bucket indexed by the element's exponent field, and
 * the buckets go into the wide sum before any could overflow. The field of
 * NaN and infinity has its own bucket: one test per block finds them (and
 * the feed stops clean before them). The largest magnitude is the largest of
 * the elements' bits with the sign cleared: IEEE magnitudes order as their
 * bits do. */
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

/* The arguments of the helpers below for dtype ID: the dtype, and its bytes
 * per element, fraction bits, exponent bits, bias. */
#define ACCUM_LAYOUT(id)                                                                           \
    L2_DTYPE_##id, L2_##id##_BYTES, L2_##id##_FBITS, L2_##id##_EBITS, L2_##id##_BIAS

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

/* The larger of a and the magnitude bits of u (sign cleared), for a type of
 * fbits fraction and ebits exponent bits. */
static inline __attribute__((always_inline)) uint64_t accum_max(uint64_t a, uint64_t u,
                                                                unsigned fbits, unsigned ebits)
{
    uint64_t v = u & ((UINT64_C(1) << (fbits + ebits)) - 1);
    return v > a ? v : a;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* One iteration's elements as vectors of the compiler's generic kind (SIMD
 * where the CPU has it, else plain integers): the largest magnitude is kept
 * this way beside the scalar bucket adds, at a fraction of their cost, and
 * NaNs are searched 64 bytes at a time. Magnitudes (sign cleared) compare as
 * signed integers, float64 ones as doubles (x86-64's baseline has no 64-bit
 * integer compare; the default floating-point mode, without
 * denormals-are-zero, is assumed). */
typedef int16_t accum_v16 __attribute__((vector_size(16)));
typedef int32_t accum_v32 __attribute__((vector_size(16)));
typedef int64_t accum_v64 __attribute__((vector_size(16)));
typedef double accum_vd __attribute__((vector_size(16)));
#define ACCUM_VMAX 1
_Static_assert(ACCUM_WAYS == 8, "a vector holds one iteration's elements");
#else
#define ACCUM_VMAX 0 /* lanes would hold byte-swapped elements */
#endif

/* The largest magnitude bits of a block's elements, of a type of w bytes,
 * fbits fraction and ebits exponent bits, as the bucket loops keep it. */
struct accum_bmax {
#if ACCUM_VMAX
    accum_v16 h;    /* w == 2 */
    accum_v32 f[2]; /* w == 4 */
    accum_v64 d[2]; /* w == 8 */
#endif
    uint64_t x; /* tails (and all of it without vectors) */
};

/* Takes the 8 (w <= 4) or 4 (w == 8) elements at r into m. */
static inline __attribute__((always_inline)) void accum_bmax_step(struct accum_bmax *m,
                                                                  const unsigned char *r,
                                                                  unsigned w, unsigned fbits,
                                                                  unsigned ebits)
{
#if ACCUM_VMAX
    if (w == 2) {
        accum_v16 v, c;
        memcpy(&v, r, sizeof v);
        v &= (int16_t)((1u << (fbits + ebits)) - 1);
        c = v > m->h;
        m->h = (v & c) | (m->h & ~c);
    } else if (w == 4) {
        for (unsigned k = 0; k < 2; k++) {
            accum_v32 v, c;
            memcpy(&v, r + k * sizeof v, sizeof v);
            v &= (int32_t)((UINT32_C(1) << (fbits + ebits)) - 1);
            c = v > m->f[k];
            m->f[k] = (v & c) | (m->f[k] & ~c);
        }
    } else {
        for (unsigned k = 0; k < 2; k++) {
            accum_v64 v, c;
            memcpy(&v, r + k * sizeof v, sizeof v);
            v &= (int64_t)((UINT64_C(1) << (fbits + ebits)) - 1);
            c = (accum_vd)v > (accum_vd)m->d[k];
            m->d[k] = (v & c) | (m->d[k] & ~c);
        }
    }
#else
    for (unsigned k = 0; k < (w == 8 ? 4 : 8); k++)
        m->x = accum_max(m->x, accum_load(r + k * w, w), fbits, ebits);
#endif
}

/* The largest of m's magnitude bits and xmax. */
static inline __attribute__((always_inline)) uint64_t
accum_bmax_end(const struct accum_bmax *m, uint64_t xmax, unsigned fbits, unsigned ebits)
{
    uint64_t x = m->x > xmax ? m->x : xmax;
    (void)fbits, (void)ebits; /* used with vectors */
#if ACCUM_VMAX
    for (unsigned k = 0; k < 8; k++)
        x = accum_max(x, (uint64_t)(uint16_t)m->h[k], fbits, ebits);
    for (unsigned k = 0; k < 4; k++)
        x = accum_max(accum_max(x, (uint32_t)m->f[0][k], fbits, ebits), (uint32_t)m->f[1][k], fbits,
                      ebits);
    for (unsigned k = 0; k < 2; k++)
        x = accum_max(accum_max(x, (uint64_t)m->d[0][k], fbits, ebits), (uint64_t)m->d[1][k], fbits,
                      ebits);
#endif
    return x;
}

/* Adds n elements one by one: the path for tiny feeds. */
static inline __attribute__((always_inline)) enum l2_status
accum_feed_direct(struct l2_accum *acc, const unsigned char *p, size_t n, size_t *bad_index,
                  enum l2_dtype t, unsigned w, unsigned fbits, unsigned ebits, unsigned bias)
{
    const uint64_t fmask = (UINT64_C(1) << fbits) - 1;
    const unsigned eall = (1u << ebits) - 1;
    enum l2_status st = L2_OK;
    uint64_t xmax = 0;

    for (size_t j = 0; j < n; j++) {
        uint64_t u = accum_load(p + j * w, w);
        unsigned be = (unsigned)(u >> fbits) & eall;
        uint64_t m = (u & fmask) | (uint64_t)(be != 0) << fbits;
        if (be == eall) {
            if (bad_index)
                *bad_index = j;
            st = L2_NON_FINITE;
            break;
        }
        xmax = accum_max(xmax, u, fbits, ebits);
        if (m)
            l2_accum_add_at(acc->limb, (l2_accum_u128)m * m, l2_accum_shift(be, fbits, bias));
    }
    l2_accum_take_max(acc, t, xmax);
    return st;
}

/* Whether any of the 64 bytes at r holds an element (w bytes, fbits fraction,
 * ebits exponent bits) whose exponent field is all ones: its magnitude bits
 * (or, for float64, those of its high half) are at least the infinity's. */
static inline __attribute__((always_inline)) bool
accum_any_bad64(const unsigned char *r, unsigned w, unsigned fbits, unsigned ebits)
{
#if ACCUM_VMAX
    uint64_t any[2] = {0, 0};

    if (w == 2) {
        accum_v16 inf = {0}, hit = {0};
        inf += (int16_t)(((1u << ebits) - 1) << fbits);
        for (unsigned k = 0; k < 4; k++) {
            accum_v16 v;
            memcpy(&v, r + 16 * k, sizeof v);
            hit |= (v & 0x7fff) >= inf;
        }
        memcpy(any, &hit, sizeof any);
    } else {
        /* float64: only the odd (high) 32-bit halves count */
        const int32_t m = 0x7fffffff, lo = w == 8 ? 0 : m;
        const accum_v32 mask = {lo, m, lo, m};
        accum_v32 inf = {0}, hit = {0};
        inf += (int32_t)(w == 8 ? (((1u << ebits) - 1) << (fbits - 32))
                                : (((1u << ebits) - 1) << fbits));
        for (unsigned k = 0; k < 4; k++) {
            accum_v32 v;
            memcpy(&v, r + 16 * k, sizeof v);
            hit |= (v & mask) >= inf;
        }
        memcpy(any, &hit, sizeof any);
    }
    return (any[0] | any[1]) != 0;
#else
    const unsigned eall = (1u << ebits) - 1;
    bool any = false;

    for (unsigned k = 0; k < 64 / w; k++)
        any |= ((unsigned)(accum_load(r + k * w, w) >> fbits) & eall) == eall;
    return any;
#endif
}

/* Finds the first element of p[0..n) whose exponent field is all ones: 64
 * bytes at a time, then one by one. */
static inline __attribute__((always_inline)) size_t
accum_find_bad(const unsigned char *p, size_t n, unsigned w, unsigned fbits, unsigned ebits)
{
    const unsigned eall = (1u << ebits) - 1;
    size_t j = 0;

    for (; j + 64 / w <= n; j += 64 / w)
        if (accum_any_bad64(p + j * w, w, fbits, ebits))
            break;
    for (; j < n; j++) {
        uint64_t u = accum_load(p + j * w, w);
        if (((unsigned)(u >> fbits) & eall) == eall)
            break;
    }
    return j;
}

/* The end of a feed of dtype t at p that found its first NaN or infinity at
 * element bad of the block at element base, whose buckets are thrown away:
 * the sum keeps the blocks before it, max_abs takes xmax (their largest
 * magnitude bits), and the finite elements of the block before bad are fed
 * again (they cannot fail), so the feed stops clean. */
static enum l2_status accum_stop(struct l2_accum *acc, enum l2_dtype t, const unsigned char *p,
                                 size_t base, size_t bad, uint64_t xmax, size_t *bad_index)
{
    l2_accum_take_max(acc, t, xmax);
    if (bad > 0)
        l2_accum_feed_portable(acc, t, p + base * l2_dtype_size(t), bad, NULL);
    if (bad_index)
        *bad_index = base + bad;
    return L2_NON_FINITE;
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
                  enum l2_dtype t, unsigned w, unsigned fbits, unsigned ebits, unsigned bias,
                  size_t direct_max)
{
    enum { NB = 1 << L2_FLOAT32_EBITS, PAD = 8 };
    const unsigned eall = (1u << ebits) - 1;
    const unsigned nb = 1u << ebits;
    const unsigned lg = 62 - 2 * fbits;
    const size_t block = (size_t)1 << (lg < 20 ? lg : 20);
    /* padded so that the same bucket of two arrays is not 4 KiB apart (a
     * load would falsely wait on the other array's store) */
    uint64_t b[ACCUM_WAYS][NB + PAD];
    uint64_t xmax = 0; /* largest magnitude bits of the blocks done */

    if (n < direct_max)
        return accum_feed_direct(acc, p, n, bad_index, t, w, fbits, ebits, bias);

    for (size_t base = 0; base < n; base += block) {
        size_t len = n - base < block ? n - base : block;
        const unsigned char *q = p + base * w;
        size_t j = 0;
        struct accum_bmax bm = {0};

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
            accum_bmax_step(&bm, r, w, fbits, ebits);
        }
        for (; j < len; j++) {
            uint64_t u = accum_load(q + j * w, w);
            accum_bucket(b[0], u, fbits, ebits);
            bm.x = accum_max(bm.x, u, fbits, ebits);
        }

        uint64_t nonfinite = 0;
        for (unsigned k = 0; k < ACCUM_WAYS; k++)
            nonfinite |= b[k][eall];
        if (nonfinite)
            return accum_stop(acc, t, p, base, accum_find_bad(q, len, w, fbits, ebits), xmax,
                              bad_index);
        for (unsigned e = 0; e < nb - 1; e++) {
            uint64_t s = 0;
            for (unsigned k = 0; k < ACCUM_WAYS; k++)
                s += b[k][e];
            if (s)
                l2_accum_add_at(acc->limb, s, l2_accum_shift(e, fbits, bias));
        }
        xmax = accum_bmax_end(&bm, xmax, fbits, ebits);
    }
    l2_accum_take_max(acc, t, xmax);
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
    enum { FB = L2_FLOAT64_FBITS, EB = L2_FLOAT64_EBITS };
    const size_t block = (size_t)1 << 22;
    l2_accum_u128 b[ACCUM_WAYS64][NB + PAD]; /* padded as in accum_feed_narrow */
    uint64_t xmax = 0;                       /* largest magnitude bits of the blocks done */

    if (n < ACCUM_DIRECT_F64)
        return accum_feed_direct(acc, p, n, bad_index, ACCUM_LAYOUT(FLOAT64));

    for (size_t base = 0; base < n; base += block) {
        size_t len = n - base < block ? n - base : block;
        const unsigned char *q = p + base * W;
        size_t j = 0;
        struct accum_bmax bm = {0};

        memset(b, 0, sizeof b);
        for (; j + 4 <= len; j += 4) {
            const unsigned char *r = q + j * W;
            accum_prefetch(r);
            accum_bucket128(b[0], accum_load(r, W));
            accum_bucket128(b[1 % ACCUM_WAYS64], accum_load(r + W, W));
            accum_bucket128(b[2 % ACCUM_WAYS64], accum_load(r + 2 * W, W));
            accum_bucket128(b[3 % ACCUM_WAYS64], accum_load(r + 3 * W, W));
            accum_bmax_step(&bm, r, W, FB, EB);
        }
        for (; j < len; j++) {
            uint64_t u = accum_load(q + j * W, W);
            accum_bucket128(b[0], u);
            bm.x = accum_max(bm.x, u, FB, EB);
        }

        l2_accum_u128 nonfinite = 0;
        for (unsigned k = 0; k < ACCUM_WAYS64; k++)
            nonfinite |= b[k][L2_FLOAT64_EALL];
        if (nonfinite)
            return accum_stop(acc, L2_DTYPE_FLOAT64, p, base, accum_find_bad(q, len, W, FB, EB),
                              xmax, bad_index);
        for (unsigned e = 0; e < NB - 1; e++) {
            l2_accum_u128 s = 0;
            for (unsigned k = 0; k < ACCUM_WAYS64; k++)
                s += b[k][e];
            if (s)
                l2_accum_add_at(acc->limb, s, l2_accum_shift(e, FB, L2_FLOAT64_BIAS));
        }
        xmax = accum_bmax_end(&bm, xmax, FB, EB);
    }
    l2_accum_take_max(acc, L2_DTYPE_FLOAT64, xmax);
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

/* Counts the non-finite elements at p (fbits fraction, ebits exponent bits)
 * up to the first finite one; returns how many. */
static inline __attribute__((always_inline)) size_t accum_count_bad(struct l2_accum *acc,
                                                                    const unsigned char *p,
                                                                    size_t n, unsigned w,
                                                                    unsigned fbits, unsigned ebits)
{
    const unsigned eall = (1u << ebits) - 1;
    uint64_t nans = 0;
    size_t j;

    for (j = 0; j < n; j++) {
        uint64_t u = accum_load(p + j * w, w);
        if (((unsigned)(u >> fbits) & eall) != eall)
            break;
        nans += (u & ((UINT64_C(1) << fbits) - 1)) != 0;
    }
    acc->nan_count += nans;
    acc->inf_count += j - nans;
    return j;
}

size_t l2_accum_count_nonfinite(struct l2_accum *acc, enum l2_dtype dtype, const unsigned char *p,
                                size_t n)
{
    switch (dtype) {
#define ACCUM_COUNT_BAD(id, name, bytes, ebits, fbits)                                             \
    case L2_DTYPE_##id:                                                                            \
        return accum_count_bad(acc, p, n, L2_##id##_BYTES, L2_##id##_FBITS, L2_##id##_EBITS);
        L2_DTYPE_LIST(ACCUM_COUNT_BAD)
#undef ACCUM_COUNT_BAD
    }
    return 0;
}

/* Adds the finite elements among n at p one by one and counts the others:
 * the path for stretches dense with NaN or infinity. */
static inline __attribute__((always_inline)) void
accum_feed_mixed(struct l2_accum *acc, const unsigned char *p, size_t n, enum l2_dtype t,
                 unsigned w, unsigned fbits, unsigned ebits, unsigned bias)
{
    const uint64_t fmask = (UINT64_C(1) << fbits) - 1;
    const unsigned eall = (1u << ebits) - 1;
    uint64_t xmax = 0, nans = 0, infs = 0;

    for (size_t j = 0; j < n; j++) {
        uint64_t u = accum_load(p + j * w, w);
        unsigned be = (unsigned)(u >> fbits) & eall;
        uint64_t m = (u & fmask) | (uint64_t)(be != 0) << fbits;
        if (be == eall) {
            nans += (u & fmask) != 0;
            infs += (u & fmask) == 0;
            continue;
        }
        xmax = accum_max(xmax, u, fbits, ebits);
        if (m)
            l2_accum_add_at(acc->limb, (l2_accum_u128)m * m, l2_accum_shift(be, fbits, bias));
    }
    acc->nan_count += nans;
    acc->inf_count += infs;
    l2_accum_take_max(acc, t, xmax);
}

void l2_accum_feed_mixed(struct l2_accum *acc, enum l2_dtype dtype, const unsigned char *p,
                         size_t n)
{
    switch (dtype) {
#define ACCUM_MIXED(id, name, bytes, ebits, fbits)                                                 \
    case L2_DTYPE_##id:                                                                            \
        accum_feed_mixed(acc, p, n, ACCUM_LAYOUT(id));                                             \
        break;
        L2_DTYPE_LIST(ACCUM_MIXED)
#undef ACCUM_MIXED
    }
}
