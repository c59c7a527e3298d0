/* accum_avx2.c -- the fixed-point window kernel for AVX2 (x86-64 CPUs
 * without AVX-512 IFMA), for float32, float16 and bfloat16.
 *
 * accum_avx512.c's windows with a 32-bit multiplier: v = m << (e - base) <
 * 2^51 splits into 26-bit digits, and v * v is three exact 32x32-bit products.
 * float64 stays on the portable code (its significands would need six). */
#include "accum_impl.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <immintrin.h>
#include <string.h>

#define ACCUM_TARGET __attribute__((target("avx2,f16c")))
#define ACCUM_INLINE static inline __attribute__((always_inline)) ACCUM_TARGET

/* Feeds below this many elements go to the portable code. */
#define ACCUM_VECTOR_MIN 32

/* In a block whose nonzero elements have exponent fields in [base, base +
 * 27], v = m << (e - base) < 2^51 splits as h * 2^26 + l with l, 2h < 2^26,
 * and v * v = l*l + 2h*l * 2^26 + h*h * 2^52: three products (vpmuludq),
 * each below 2^52, added into 64-bit lanes that take 4096 of them before
 * the sums are flushed into the wide l2_accum. Blocks of 4096 elements; a
 * lane of each accumulator gets one add per 16 elements (one more per block),
 * so a segment of 2^15 elements stays far below 4096 adds. */
#define F32_BLOCK 4096
#define F32_WIN 27
#define F32_SEGMENT 32768

/* Bytes read ahead, as in accum_avx512.c. */
#define ACCUM_PREFETCH 4096

/* The lanes hold float32 bits (narrower types are widened to them): the
 * exponent field of x + x (the sign shifted out) starts at this bit. */
#define F32_X2_EXP (L2_FLOAT32_FBITS + 1)

/* Adds the sum of all 64-bit lanes of v[0..k), times 2^shift, into limb, and
 * zeroes v. */
ACCUM_TARGET static void avx2_flush_lanes(uint64_t *limb, __m256i *v, int k, unsigned shift)
{
    uint64_t lo = 0, hi = 0;

    for (int i = 0; i < k; i++) {
        uint64_t lanes[4];
        _mm256_storeu_si256((__m256i *)(void *)lanes, v[i]);
        for (int j = 0; j < 4; j++) {
            lo += lanes[j];
            hi += lo < lanes[j];
        }
        v[i] = _mm256_setzero_si256();
    }
    if (lo | hi)
        l2_accum_add_at(limb, (l2_accum_u128)hi << 64 | lo, shift);
}

/* Reads ahead within the feed, as accum_prefetch in accum_avx512.c. */
ACCUM_INLINE void avx2_prefetch(const unsigned char *p, const unsigned char *end)
{
    uintptr_t a = (uintptr_t)p + ACCUM_PREFETCH;

    if (a < (uintptr_t)end)
        _mm_prefetch((const char *)a, _MM_HINT_T1);
}

/* 8 elements of dtype t at p as float32 bits (widening is exact). */
ACCUM_INLINE __m256i avx2_load(enum l2_dtype t, const unsigned char *p)
{
    if (t == L2_DTYPE_FLOAT32)
        return _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
    if (t == L2_DTYPE_FLOAT16)
        return _mm256_castps_si256(_mm256_cvtph_ps(h));
    return _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 8 * (L2_FLOAT32_BYTES - L2_BFLOAT16_BYTES));
}

/* Squares 4 significands m (64-bit lanes, < 2^24) shifted by d (>= 64 for
 * zeros, whose shifted value is 0) into the three digit accumulators. */
ACCUM_INLINE void avx2_square(__m256i m, __m256i d, __m256i *a0, __m256i *a1, __m256i *a2)
{
    __m256i v = _mm256_sllv_epi64(m, d);
    __m256i l = _mm256_and_si256(v, _mm256_set1_epi64x((1 << 26) - 1));
    __m256i h = _mm256_srli_epi64(v, 26);

    *a0 = _mm256_add_epi64(*a0, _mm256_mul_epu32(l, l));
    *a1 = _mm256_add_epi64(*a1, _mm256_mul_epu32(_mm256_add_epi64(h, h), l));
    *a2 = _mm256_add_epi64(*a2, _mm256_mul_epu32(h, h));
}

/* Squares 8 float32 bit patterns x into the accumulators (acc[0..3) even
 * elements, acc[3..6) odd ones) and folds their range into mx and mn, as
 * f32_range_step and f32_step of accum_avx512.c do. */
ACCUM_INLINE void avx2_step(__m256i x, __m256i vbase, __m256i *acc, __m256i *mx, __m256i *mn)
{
    const __m256i low32 = _mm256_set1_epi64x(0xffffffff);
    __m256i x2 = _mm256_add_epi32(x, x); /* drops the sign */
    __m256i d = _mm256_sub_epi32(_mm256_srli_epi32(x2, F32_X2_EXP), vbase);
    __m256i m = _mm256_or_si256(_mm256_and_si256(x, _mm256_set1_epi32((1 << L2_FLOAT32_FBITS) - 1)),
                                _mm256_set1_epi32(1 << L2_FLOAT32_FBITS));

    *mx = _mm256_max_epu32(*mx, x2);
    *mn = _mm256_min_epu32(*mn, _mm256_sub_epi32(x2, _mm256_set1_epi32(2)));
    avx2_square(_mm256_and_si256(m, low32), _mm256_and_si256(d, low32), &acc[0], &acc[1], &acc[2]);
    avx2_square(_mm256_srli_epi64(m, 32), _mm256_srli_epi64(d, 32), &acc[3], &acc[4], &acc[5]);
}

/* One pass over len elements of dtype t at p, as f32_pass of
 * accum_avx512.c: squares in the window at base into acc[0..12) (two sets of
 * six), exact only if the range found lies in the window. */
ACCUM_INLINE void avx2_pass_t(enum l2_dtype t, const unsigned char *p, size_t len,
                              const unsigned char *end, unsigned base, __m256i *acc, unsigned *emax,
                              unsigned *emin, uint64_t *xmax)
{
    const size_t w = l2_dtype_layout(t).bytes;
    const __m256i vbase = _mm256_set1_epi32((int)base);
    __m256i a[12], mx0 = _mm256_setzero_si256(), mx1 = mx0;
    __m256i mn0 = _mm256_set1_epi32(-1), mn1 = mn0;
    size_t i = 0;

    memcpy(a, acc, sizeof a);
    for (; i + 16 <= len; i += 16) {
        if (w == 4 || i % 32 == 0)
            avx2_prefetch(p + w * i, end);
        avx2_step(avx2_load(t, p + w * i), vbase, a, &mx0, &mn0);
        avx2_step(avx2_load(t, p + w * i + 8 * w), vbase, a + 6, &mx1, &mn1);
    }
    if (i < len) { /* the tail, padded with zeros */
        _Alignas(32) unsigned char tail[16 * 4] = {0};
        memcpy(tail, p + w * i, (len - i) * w);
        avx2_step(avx2_load(t, tail), vbase, a, &mx0, &mn0);
        avx2_step(avx2_load(t, tail + 8 * w), vbase, a + 6, &mx1, &mn1);
    }
    memcpy(acc, a, sizeof a);

    uint32_t hi[8], lo[8], h = 0, l = UINT32_MAX;
    _mm256_storeu_si256((__m256i *)(void *)hi, _mm256_max_epu32(mx0, mx1));
    _mm256_storeu_si256((__m256i *)(void *)lo, _mm256_min_epu32(mn0, mn1));
    for (int k = 0; k < 8; k++) {
        h = hi[k] > h ? hi[k] : h;
        l = lo[k] < l ? lo[k] : l;
    }
    *xmax = h >> 1;
    *emax = h >> F32_X2_EXP;
    *emin = l == UINT32_C(0xfffffffe) ? L2_FLOAT32_EALL + 1 : (l + 2) >> F32_X2_EXP;
}

ACCUM_TARGET static void avx2_pass(enum l2_dtype t, const unsigned char *p, size_t len,
                                   const unsigned char *end, unsigned base, void *state,
                                   unsigned *emax, unsigned *emin, uint64_t *xmax)
{
    __m256i *acc = state;

    if (t == L2_DTYPE_FLOAT32)
        avx2_pass_t(L2_DTYPE_FLOAT32, p, len, end, base, acc, emax, emin, xmax);
    else if (t == L2_DTYPE_FLOAT16)
        avx2_pass_t(L2_DTYPE_FLOAT16, p, len, end, base, acc, emax, emin, xmax);
    else
        avx2_pass_t(L2_DTYPE_BFLOAT16, p, len, end, base, acc, emax, emin, xmax);
}

/* Flushes the digits of the window at base: bit 0 of l * l weighs what bit
 * 0 of m * m does for an element of exponent field base. */
ACCUM_TARGET static void avx2_flush(struct l2_accum *a, void *state, unsigned base)
{
    __m256i *acc = state;
    unsigned shift = l2_accum_shift(base, L2_FLOAT32_FBITS, L2_FLOAT32_BIAS);
    __m256i d0[4] = {acc[0], acc[3], acc[6], acc[9]};
    __m256i d1[4] = {acc[1], acc[4], acc[7], acc[10]};
    __m256i d2[4] = {acc[2], acc[5], acc[8], acc[11]};

    avx2_flush_lanes(a->limb, d0, 4, shift);
    avx2_flush_lanes(a->limb, d1, 4, shift + 26);
    avx2_flush_lanes(a->limb, d2, 4, shift + 52);
    for (int k = 0; k < 12; k++)
        acc[k] = _mm256_setzero_si256();
}

static const struct l2_accum_window_kernel avx2_kernel = {
    .state_size = 12 * sizeof(__m256i),
    .min_feed = ACCUM_VECTOR_MIN,
    .block = F32_BLOCK,
    .segment = F32_SEGMENT,
    .probe = 64,
    .win = F32_WIN,
    .lanes = L2_DTYPE_FLOAT32,
    .e_nonfinite = L2_FLOAT32_EALL,
    .pass = avx2_pass,
    .flush = avx2_flush,
};

const struct l2_accum_window_kernel *l2_accum_avx2_kernel(enum l2_dtype dtype)
{
    return dtype == L2_DTYPE_FLOAT64 ? NULL : &avx2_kernel;
}

#else /* not x86-64: never chosen, as l2_accum_impl_supported says */

const struct l2_accum_window_kernel *l2_accum_avx2_kernel(enum l2_dtype dtype)
{
    (void)dtype;
    return NULL;
}

#endif
