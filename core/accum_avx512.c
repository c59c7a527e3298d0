/* accum_avx512.c -- the fixed-point window kernels for AVX-512 with IFMA.
 *
 * The one idea: when a block's nonzero elements m * 2^e (m the integer
 * significand) all have e in [base, base + WIN], the integers v = m << (e -
 * base) are below 2^52, and the 52-bit multiply-adds vpmadd52lo/hi add the
 * low and high 52 bits of v * v, exactly, into 64-bit lane accumulators. */
#include "accum_impl.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <immintrin.h>
#include <string.h>

#define ACCUM_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512ifma")))
#define ACCUM_INLINE static inline __attribute__((always_inline)) ACCUM_TARGET
/* The 16-bit kernels' conversions need AVX512DQ too (the float32 and float64
 * kernels are built without it, as before: the same code). */
#define ACCUM_TARGET_DQ __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512ifma")))
#define ACCUM_INLINE_DQ static inline __attribute__((always_inline)) ACCUM_TARGET_DQ

/* Bytes read ahead (see accum_prefetch). */
#define ACCUM_PREFETCH 4096

/* Feeds below this many elements go to the portable code (one by one). */
#define ACCUM_VECTOR_MIN 32

/* With 12 bits of headroom a 64-bit lane takes 4096 adds of 52-bit digits
 * before the lanes are flushed into the wide l2_accum at the bit of 2^(2
 * base). float64 splits v into two 52-bit digits; float16 and bfloat16 have
 * their own way to v (below).
 *
 * float32: blocks of 4096 elements (16 KiB); window of
 * 29 exponents, as m < 2^24 and m << 28 < 2^52. A lane of each accumulator
 * gets one add per 32 elements (two more per block at most), so a segment of
 * 2^16 elements between flushes stays far below 4096 adds. */
#define F32_BLOCK 4096
#define F32_WIN 28
#define F32_SEGMENT 65536

/* float64: blocks of 2048 elements (16 KiB); v = m << d < 2^78 is split as
 * a * 2^52 + b, and the window of 26 exponents keeps a < 2^26, so a * a and
 * a * b fit the 52-bit multiplier. One add per lane per 16 elements. */
#define F64_BLOCK 2048
#define F64_WIN 25
#define F64_SEGMENT 32768

/* The exponent field of x + x (the sign shifted out) starts at this bit, in
 * float32 lanes and in float64 lanes. */
#define F32_X2_EXP (L2_FLOAT32_FBITS + 1)
#define F64_X2_EXP (L2_FLOAT64_FBITS + 1)

/* Adds the sum of all 64-bit lanes of v[0..k), times 2^shift, into limb, and
 * zeroes v. */
ACCUM_TARGET static void accum_flush_lanes(uint64_t *limb, __m512i *v, int k, unsigned shift)
{
    uint64_t lo = 0, hi = 0;

    for (int i = 0; i < k; i++) {
        uint64_t lanes[8];
        _mm512_storeu_si512(lanes, v[i]);
        for (int j = 0; j < 8; j++) {
            lo += lanes[j];
            hi += lo < lanes[j];
        }
        v[i] = _mm512_setzero_si512();
    }
    if (lo | hi)
        l2_accum_add_at(limb, (l2_accum_u128)hi << 64 | lo, shift);
}

/* Asks for the cache line ACCUM_PREFETCH bytes after p, if it lies before
 * end (the end of the feed: reading beyond it would waste bandwidth when the
 * next chunk is elsewhere). The hardware prefetcher alone does not run far
 * enough ahead for these loops to get the memory's bandwidth. Addresses are
 * compared as integers, as they may lie past the end. */
ACCUM_INLINE void accum_prefetch(const unsigned char *p, const unsigned char *end)
{
    uintptr_t a = (uintptr_t)p + ACCUM_PREFETCH;

    if (a < (uintptr_t)end)
        _mm_prefetch((const char *)a, _MM_HINT_T1);
}

/* Mask of the first r < 16 lanes (all 16 when r >= 16). */
static inline __mmask16 accum_mask16(size_t r)
{
    return (__mmask16)(r >= 16 ? 0xffffu : (1u << r) - 1);
}

/* ---- float32 ------------------------------------------------------------ */

/* 16 elements of dtype t at p + i elements as float32 bits, lanes beyond k
 * (a tail) as zeros. Widening is exact: every float16 is a float32, and a
 * bfloat16 is the top half of one. */
ACCUM_INLINE __m512i f32_load(enum l2_dtype t, const unsigned char *p, size_t i, __mmask16 k)
{
    if (t == L2_DTYPE_FLOAT32)
        return k == 0xffff ? _mm512_loadu_si512(p + 4 * i) : _mm512_maskz_loadu_epi32(k, p + 4 * i);
    __m256i h = k == 0xffff ? _mm256_loadu_si256((const __m256i *)(const void *)(p + 2 * i))
                            : _mm256_maskz_loadu_epi16(k, p + 2 * i);
    if (t == L2_DTYPE_FLOAT16)
        return _mm512_castps_si512(_mm512_cvtph_ps(h));
    return _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 8 * (L2_FLOAT32_BYTES - L2_BFLOAT16_BYTES));
}

/* Folds the exponent range of 16 float32 bit patterns, given as x2 = |x| <<
 * 1, into mx (the largest x2) and mn (the smallest x2 - 2 of a nonzero
 * element: zeros wrap to the top and never win). As magnitudes order as
 * their bits do, mx also gives max_abs. */
ACCUM_INLINE void f32_range_step(__m512i x2, __m512i *mx, __m512i *mn)
{
    *mx = _mm512_max_epu32(*mx, x2);
    *mn = _mm512_min_epu32(*mn, _mm512_sub_epi32(x2, _mm512_set1_epi32(2)));
}

/* The largest exponent field and the smallest one of a nonzero element (one
 * past the NaN field when all are zero), and the largest magnitude's bits,
 * from the folded mx and mn. */
ACCUM_INLINE void f32_range_end(__m512i mx, __m512i mn, unsigned *emax, unsigned *emin,
                                uint64_t *xmax)
{
    uint32_t hi = _mm512_reduce_max_epu32(mx), lo = _mm512_reduce_min_epu32(mn);

    *xmax = hi >> 1;
    *emax = hi >> F32_X2_EXP;
    *emin = lo == UINT32_C(0xfffffffe) ? L2_FLOAT32_EALL + 1 : (lo + 2) >> F32_X2_EXP;
}

/* Squares 16 float32 bit patterns x (x2 = x + x, which drops the sign) into
 * the accumulators: even elements into le/he (low/high 52 bits of each
 * square), odd ones into lo/ho. Exact for the elements whose exponent field
 * is in [base, base + F32_WIN]; a zero (field 0 < base) gets a shift count
 * that wraps to >= 2^31, and vpsllvq gives 0. */
ACCUM_INLINE void f32_step(__m512i x, __m512i x2, __m512i vbase, __m512i *le, __m512i *he,
                           __m512i *lo, __m512i *ho)
{
    const __m512i low32 = _mm512_set1_epi64(0xffffffff);
    __m512i d = _mm512_sub_epi32(_mm512_srli_epi32(x2, F32_X2_EXP), vbase);
    /* significand with its hidden bit: (x & fraction mask) | hidden bit */
    __m512i m = _mm512_ternarylogic_epi32(x, _mm512_set1_epi32((1 << L2_FLOAT32_FBITS) - 1),
                                          _mm512_set1_epi32(1 << L2_FLOAT32_FBITS), 0xea);
    __m512i ve = _mm512_sllv_epi64(_mm512_and_si512(m, low32), _mm512_and_si512(d, low32));
    __m512i vo = _mm512_sllv_epi64(_mm512_srli_epi64(m, 32), _mm512_srli_epi64(d, 32));

    *le = _mm512_madd52lo_epu64(*le, ve, ve);
    *he = _mm512_madd52hi_epu64(*he, ve, ve);
    *lo = _mm512_madd52lo_epu64(*lo, vo, vo);
    *ho = _mm512_madd52hi_epu64(*ho, vo, vo);
}

/* One pass over len elements of dtype t at p: adds their squares, computed
 * in the window at base, into acc[0..8) (acc[0..4) low digits, acc[4..8)
 * high digits) and finds their exponent range. The squares are right only
 * if the range turns out to lie in the window: the caller checks it after
 * the pass and otherwise throws acc away. */
ACCUM_INLINE void f32_pass_t(enum l2_dtype t, const unsigned char *p, size_t len,
                             const unsigned char *end, unsigned base, __m512i *acc, unsigned *emax,
                             unsigned *emin, uint64_t *xmax)
{
    const __m512i vbase = _mm512_set1_epi32((int)base);
    const size_t w = l2_dtype_layout(t).bytes;
    __m512i l0 = acc[0], l1 = acc[1], l2 = acc[2], l3 = acc[3];
    __m512i h0 = acc[4], h1 = acc[5], h2 = acc[6], h3 = acc[7];
    __m512i mx0 = _mm512_setzero_si512(), mx1 = mx0;
    __m512i mn0 = _mm512_set1_epi32(-1), mn1 = mn0;
    size_t i = 0;

    for (; i + 32 <= len; i += 32) {
        accum_prefetch(p + w * i, end);
        if (w == 4)
            accum_prefetch(p + w * i + 64, end);
        __m512i x = f32_load(t, p, i, 0xffff), y = f32_load(t, p, i + 16, 0xffff);
        __m512i x2 = _mm512_add_epi32(x, x), y2 = _mm512_add_epi32(y, y);
        f32_range_step(x2, &mx0, &mn0);
        f32_range_step(y2, &mx1, &mn1);
        f32_step(x, x2, vbase, &l0, &h0, &l1, &h1);
        f32_step(y, y2, vbase, &l2, &h2, &l3, &h3);
    }
    for (; i < len; i += 16) {
        __m512i x = f32_load(t, p, i, accum_mask16(len - i)), x2 = _mm512_add_epi32(x, x);
        f32_range_step(x2, &mx0, &mn0);
        f32_step(x, x2, vbase, &l0, &h0, &l1, &h1);
    }
    acc[0] = l0, acc[1] = l1, acc[2] = l2, acc[3] = l3;
    acc[4] = h0, acc[5] = h1, acc[6] = h2, acc[7] = h3;
    f32_range_end(_mm512_max_epu32(mx0, mx1), _mm512_min_epu32(mn0, mn1), emax, emin, xmax);
}

/* The 16-bit types have kernels of their own, and f32_pass is not given
 * them. It still instantiates f32_pass_t for them: without those two
 * branches gcc 12 lays out float32's loop differently, and it measured 4 %
 * slower (27.2-27.8 against 25.9-26.2 GB/s, three alternating runs of
 * `taskset -c 1 build/bench/bench_kernel`). */
ACCUM_TARGET static void f32_pass(enum l2_dtype t, const unsigned char *p, size_t len,
                                  const unsigned char *end, unsigned base, void *state,
                                  unsigned *emax, unsigned *emin, uint64_t *xmax)
{
    __m512i *acc = state;

    if (t == L2_DTYPE_FLOAT32)
        f32_pass_t(L2_DTYPE_FLOAT32, p, len, end, base, acc, emax, emin, xmax);
    else if (t == L2_DTYPE_FLOAT16)
        f32_pass_t(L2_DTYPE_FLOAT16, p, len, end, base, acc, emax, emin, xmax);
    else
        f32_pass_t(L2_DTYPE_BFLOAT16, p, len, end, base, acc, emax, emin, xmax);
}

/* Flushes eight accumulators of 52-bit digits into the sum, acc[0..4) the
 * low digits at shift, acc[4..8) the high ones 52 bits above: the float32
 * and 16-bit kernels' layout. */
ACCUM_INLINE void flush_lo_hi(struct l2_accum *a, __m512i *acc, unsigned shift)
{
    accum_flush_lanes(a->limb, acc, 4, shift);
    accum_flush_lanes(a->limb, acc + 4, 4, shift + 52);
}

/* Flushes the float32 accumulators of the window at base into the sum:
 * bit 0 of v * v has the weight of bit 0 of m * m for an element of
 * exponent field base. */
ACCUM_TARGET static void f32_flush(struct l2_accum *a, void *state, unsigned base)
{
    flush_lo_hi(a, state, l2_accum_shift(base, L2_FLOAT32_FBITS, L2_FLOAT32_BIAS));
}

static const struct l2_accum_window_kernel f32_kernel = {
    .state_size = 8 * sizeof(__m512i),
    .min_feed = ACCUM_VECTOR_MIN,
    .block = F32_BLOCK,
    .segment = F32_SEGMENT,
    .probe = 64,
    .win = F32_WIN,
    .lanes = L2_DTYPE_FLOAT32,
    .e_nonfinite = L2_FLOAT32_EALL,
    .pass = f32_pass,
    .flush = f32_flush,
};

/* ---- float16, bfloat16 -------------------------------------------------- */

/* The 16-bit types skip the float32 path's shift arithmetic: 32 elements are
 * laid out as float32, scaled by a power of two (vscalefps) to the integers
 * v = m << (e - base) and converted to 64-bit lanes (vcvtps2qq), which
 * vpmadd52lo/hi square as above. A float16's v is below 2^40 for every finite
 * value (subnormals included), so its window is fixed at base 1 and holds
 * them all; a bfloat16's v = m << d with m < 2^8 stays below 2^52 for a
 * window of 45 exponents (subnormals share base 1 with the smallest normals).
 * Blocks of 4096 elements (8 KiB); each lane of the eight accumulators gets
 * one add per 32 elements, so a segment of 2^16 elements between flushes
 * stays far below 4096 adds. */
#define H_BLOCK 4096
#define H_SEGMENT 65536
#define F16_WIN (L2_FLOAT16_EALL - 2)
#define BF16_WIN 44

/* Mask of the first r < 32 lanes (all 32 when r >= 32). */
static inline __mmask32 accum_mask32(size_t r)
{
    return r >= 32 ? 0xffffffffu : (UINT32_C(1) << r) - 1;
}

/* Squares the 16 float32 values f, which hold integers below 2^52 (any
 * others give garbage: the caller throws such a pass away), into the
 * accumulators l (low 52 bits of each square) and h (high bits). */
ACCUM_INLINE_DQ void h_square16(__m512 f, __m512i *l0, __m512i *h0, __m512i *l1, __m512i *h1)
{
    __m512i v0 = _mm512_cvtps_epi64(_mm512_castps512_ps256(f));
    __m512i v1 =
        _mm512_cvtps_epi64(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1)));

    *l0 = _mm512_madd52lo_epu64(*l0, v0, v0);
    *h0 = _mm512_madd52hi_epu64(*h0, v0, v0);
    *l1 = _mm512_madd52lo_epu64(*l1, v1, v1);
    *h1 = _mm512_madd52hi_epu64(*h1, v1, v1);
}

/* As h_square16 when the integers in f are below 2^31: vcvtps2dq converts
 * 16 of them at once, where vcvtps2qq takes 8 (and conversions bound these
 * loops), and the even and odd 32-bit lanes become 64-bit ones. */
ACCUM_INLINE_DQ void h_square16_small(__m512 f, __m512i *l0, __m512i *h0, __m512i *l1, __m512i *h1)
{
    __m512i v = _mm512_cvtps_epi32(f);
    __m512i v0 = _mm512_and_si512(v, _mm512_set1_epi64(0xffffffff));
    __m512i v1 = _mm512_srli_epi64(v, 32);

    *l0 = _mm512_madd52lo_epu64(*l0, v0, v0);
    *h0 = _mm512_madd52hi_epu64(*h0, v0, v0);
    *l1 = _mm512_madd52lo_epu64(*l1, v1, v1);
    *h1 = _mm512_madd52hi_epu64(*h1, v1, v1);
}

/* The largest of the 32 16-bit lanes of v. */
ACCUM_INLINE_DQ uint16_t h_reduce_max(__m512i v)
{
    __m256i m = _mm256_max_epu16(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i n = _mm_max_epu16(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    uint16_t lanes[8], r = 0;

    _mm_storeu_si128((__m128i *)(void *)lanes, n);
    for (int j = 0; j < 8; j++)
        r = lanes[j] > r ? lanes[j] : r;
    return r;
}

/* The smallest of the 32 16-bit lanes of v. */
ACCUM_INLINE_DQ uint16_t h_reduce_min(__m512i v)
{
    __m256i m = _mm256_min_epu16(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i n = _mm_min_epu16(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    uint16_t lanes[8], r = UINT16_MAX;

    _mm_storeu_si128((__m128i *)(void *)lanes, n);
    for (int j = 0; j < 8; j++)
        r = lanes[j] < r ? lanes[j] : r;
    return r;
}

/* x * 2^-112, as the bits x << 13 of a float32 hold it for any float16 bits
 * x with the sign clear (a subnormal becomes a float32 subnormal), times
 * 2^F16_SCALE is x * 2^24 = m << (max(e, 1) - 1), the integer v. */
#define F16_SCALE 136

/* Magnitudes below 2^7 (bits below these) have v = x * 2^24 below 2^31:
 * most real data, whose steps then take the 32-bit conversion. */
#define F16_SMALL ((L2_FLOAT16_BIAS + 7) << L2_FLOAT16_FBITS)

/* Squares 32 float16 magnitudes x into the accumulators, 16 into l0/h0,
 * l1/h1 and 16 into l2/h2, l3/h3, in the order unpacking gives (a sum does
 * not mind); small says that all are below F16_SMALL. Shifting the halves
 * into float32 layout costs less here than vcvtph2ps and a multiply by 2^24
 * (measured). */
ACCUM_INLINE_DQ void f16_step(__m512i x, __m512 scale, bool small, __m512i *l0, __m512i *h0,
                              __m512i *l1, __m512i *h1, __m512i *l2, __m512i *h2, __m512i *l3,
                              __m512i *h3)
{
    __m512i lo = _mm512_slli_epi16(x, 13), hi = _mm512_srli_epi16(x, 3);
    __m512 f0 = _mm512_scalef_ps(_mm512_castsi512_ps(_mm512_unpacklo_epi16(lo, hi)), scale);
    __m512 f1 = _mm512_scalef_ps(_mm512_castsi512_ps(_mm512_unpackhi_epi16(lo, hi)), scale);

    if (small) {
        h_square16_small(f0, l0, h0, l1, h1);
        h_square16_small(f1, l2, h2, l3, h3);
    } else {
        h_square16(f0, l0, h0, l1, h1);
        h_square16(f1, l2, h2, l3, h3);
    }
}

/* One float16 pass (see f32_pass_t): the magnitudes' bits give the largest
 * one and, by its exponent field, NaN and infinity; every finite value fits
 * the window at base 1, so emin is 1 unless all are zero. The main loop
 * takes 64 elements into two sets of accumulators, which measured a few per
 * cent faster than one set (each lane still gets one add per 32 elements),
 * and picks the 32-bit conversion for them when their largest allows. */
ACCUM_TARGET_DQ static void f16_pass(enum l2_dtype t, const unsigned char *p, size_t len,
                                     const unsigned char *end, unsigned base, void *state,
                                     unsigned *emax, unsigned *emin, uint64_t *xmax)
{
    (void)t, (void)base; /* float16 only, base 1 */
    __m512i *acc = state;
    const __m512i abs = _mm512_set1_epi16(0x7fff);
    const __m512 scale = _mm512_set1_ps((float)F16_SCALE);
    __m512i l0 = acc[0], l1 = acc[1], l2 = acc[2], l3 = acc[3];
    __m512i h0 = acc[4], h1 = acc[5], h2 = acc[6], h3 = acc[7];
    __m512i m0 = _mm512_setzero_si512(), m1 = m0, m2 = m0, m3 = m0;
    __m512i n0 = m0, n1 = m0, n2 = m0, n3 = m0, mx = m0;
    size_t i = 0;

    for (; i + 64 <= len; i += 64) {
        accum_prefetch(p + 2 * i, end);
        accum_prefetch(p + 2 * i + 64, end);
        __m512i x = _mm512_and_si512(_mm512_loadu_si512(p + 2 * i), abs);
        __m512i y = _mm512_and_si512(_mm512_loadu_si512(p + 2 * i + 64), abs);
        __m512i xy = _mm512_max_epu16(x, y);
        bool small = !_mm512_cmpge_epu16_mask(xy, _mm512_set1_epi16(F16_SMALL));
        mx = _mm512_max_epu16(mx, xy);
        f16_step(x, scale, small, &l0, &h0, &l1, &h1, &l2, &h2, &l3, &h3);
        f16_step(y, scale, small, &m0, &n0, &m1, &n1, &m2, &n2, &m3, &n3);
    }
    for (; i < len; i += 32) {
        __mmask32 k = accum_mask32(len - i);
        __m512i x = _mm512_and_si512(_mm512_maskz_loadu_epi16(k, p + 2 * i), abs);
        mx = _mm512_max_epu16(mx, x);
        f16_step(x, scale, false, &l0, &h0, &l1, &h1, &l2, &h2, &l3, &h3);
    }
    acc[0] = _mm512_add_epi64(l0, m0), acc[1] = _mm512_add_epi64(l1, m1);
    acc[2] = _mm512_add_epi64(l2, m2), acc[3] = _mm512_add_epi64(l3, m3);
    acc[4] = _mm512_add_epi64(h0, n0), acc[5] = _mm512_add_epi64(h1, n1);
    acc[6] = _mm512_add_epi64(h2, n2), acc[7] = _mm512_add_epi64(h3, n3);
    *xmax = h_reduce_max(mx);
    *emax = (unsigned)*xmax >> L2_FLOAT16_FBITS;
    *emin = *xmax ? 1 : L2_FLOAT16_EALL + 1;
}

/* Squares 32 bfloat16 magnitudes x into the accumulators as f16_step does,
 * scaled by 2^scale, and folds their range into mx and mn (the smallest x -
 * 1: zeros wrap to the top). An element is the top half of a float32. */
ACCUM_INLINE_DQ void bf16_step(__m512i x, __m512 scale, __m512i *mx, __m512i *mn, __m512i *l0,
                               __m512i *h0, __m512i *l1, __m512i *h1, __m512i *l2, __m512i *h2,
                               __m512i *l3, __m512i *h3)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512 f0 = _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, x));
    __m512 f1 = _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, x));

    *mx = _mm512_max_epu16(*mx, x);
    *mn = _mm512_min_epu16(*mn, _mm512_sub_epi16(x, _mm512_set1_epi16(1)));
    h_square16(_mm512_scalef_ps(f0, scale), l0, h0, l1, h1);
    h_square16(_mm512_scalef_ps(f1, scale), l2, h2, l3, h3);
}

/* One bfloat16 pass (see f32_pass_t): an element is the top half of a
 * float32, which vpscalefps takes to v = m << (e - base) without the
 * overflow a multiplier 2^(134 - base) would have for a small base. Lanes
 * come out of order (unpacking interleaves them), which a sum does not
 * mind. A subnormal reports exponent field 1, the field it shares. */
ACCUM_TARGET_DQ static void bf16_pass(enum l2_dtype t, const unsigned char *p, size_t len,
                                      const unsigned char *end, unsigned base, void *state,
                                      unsigned *emax, unsigned *emin, uint64_t *xmax)
{
    (void)t; /* bfloat16 only */
    __m512i *acc = state;
    const __m512i abs = _mm512_set1_epi16(0x7fff);
    const __m512 scale =
        _mm512_set1_ps((float)(L2_BFLOAT16_BIAS + L2_BFLOAT16_FBITS) - (float)base);
    __m512i l0 = acc[0], l1 = acc[1], l2 = acc[2], l3 = acc[3];
    __m512i h0 = acc[4], h1 = acc[5], h2 = acc[6], h3 = acc[7];
    __m512i m0 = _mm512_setzero_si512(), m1 = m0, m2 = m0, m3 = m0;
    __m512i n0 = m0, n1 = m0, n2 = m0, n3 = m0, mx = m0, mn = _mm512_set1_epi16(-1);
    size_t i = 0;
    uint16_t lo;

    for (; i + 64 <= len; i += 64) {
        accum_prefetch(p + 2 * i, end);
        accum_prefetch(p + 2 * i + 64, end);
        __m512i x = _mm512_and_si512(_mm512_loadu_si512(p + 2 * i), abs);
        __m512i y = _mm512_and_si512(_mm512_loadu_si512(p + 2 * i + 64), abs);
        bf16_step(x, scale, &mx, &mn, &l0, &h0, &l1, &h1, &l2, &h2, &l3, &h3);
        bf16_step(y, scale, &mx, &mn, &m0, &n0, &m1, &n1, &m2, &n2, &m3, &n3);
    }
    for (; i < len; i += 32) {
        __mmask32 k = accum_mask32(len - i);
        __m512i x = _mm512_and_si512(_mm512_maskz_loadu_epi16(k, p + 2 * i), abs);
        bf16_step(x, scale, &mx, &mn, &l0, &h0, &l1, &h1, &l2, &h2, &l3, &h3);
    }
    acc[0] = _mm512_add_epi64(l0, m0), acc[1] = _mm512_add_epi64(l1, m1);
    acc[2] = _mm512_add_epi64(l2, m2), acc[3] = _mm512_add_epi64(l3, m3);
    acc[4] = _mm512_add_epi64(h0, n0), acc[5] = _mm512_add_epi64(h1, n1);
    acc[6] = _mm512_add_epi64(h2, n2), acc[7] = _mm512_add_epi64(h3, n3);
    *xmax = h_reduce_max(mx);
    *emax = (unsigned)*xmax >> L2_BFLOAT16_FBITS;
    lo = h_reduce_min(mn);
    if (lo == UINT16_MAX)
        *emin = L2_BFLOAT16_EALL + 1;
    else
        *emin = (lo + 1u) >> L2_BFLOAT16_FBITS ? (lo + 1u) >> L2_BFLOAT16_FBITS : 1;
}

/* The 16-bit passes' accumulators, as f32_flush: bit 0 of v * v weighs
 * what bit 0 of m * m does for an element of exponent field base. */
ACCUM_TARGET static void f16_flush(struct l2_accum *a, void *state, unsigned base)
{
    (void)base; /* always 1 */
    flush_lo_hi(a, state, l2_accum_shift(1, L2_FLOAT16_FBITS, L2_FLOAT16_BIAS));
}

ACCUM_TARGET static void bf16_flush(struct l2_accum *a, void *state, unsigned base)
{
    flush_lo_hi(a, state, l2_accum_shift(base, L2_BFLOAT16_FBITS, L2_BFLOAT16_BIAS));
}

static const struct l2_accum_window_kernel f16_kernel = {
    .state_size = 8 * sizeof(__m512i),
    .min_feed = ACCUM_VECTOR_MIN,
    .block = H_BLOCK,
    .segment = H_SEGMENT,
    .probe = 64,
    .win = F16_WIN,
    .lanes = L2_DTYPE_FLOAT16,
    .e_nonfinite = L2_FLOAT16_EALL,
    .pass = f16_pass,
    .flush = f16_flush,
};

static const struct l2_accum_window_kernel bf16_kernel = {
    .state_size = 8 * sizeof(__m512i),
    .min_feed = ACCUM_VECTOR_MIN,
    .block = H_BLOCK,
    .segment = H_SEGMENT,
    .probe = 64,
    .win = BF16_WIN,
    .lanes = L2_DTYPE_BFLOAT16,
    .e_nonfinite = L2_BFLOAT16_EALL,
    .pass = bf16_pass,
    .flush = bf16_flush,
};

/* ---- float64 ------------------------------------------------------------ */

/* Squares 8 float64 bit patterns in the window at base: v = m << (e - base)
 * = a * 2^52 + b, and v * v = b*b + a*b * 2^53 + a*a * 2^104, each product
 * split by the multiplier into 52-bit halves: d0 weight 1, d1 weight 2^52,
 * d2 weight 2^53, d3 weight 2^105, d4 weight 2^104 (the factor 2 of 2ab is
 * in the weights, not an add per step). b is m << d whole: the multiplier
 * reads only the low 52 bits of its operands, which are b. Zeros shift to 0
 * as in f32_step. x2 is x + x; vtop is 52 + base. */
ACCUM_INLINE void f64_step(__m512i x, __m512i x2, __m512i vbase, __m512i vtop, __m512i *d0,
                           __m512i *d1, __m512i *d2, __m512i *d3, __m512i *d4)
{
    __m512i e = _mm512_srli_epi64(x2, F64_X2_EXP);
    __m512i m =
        _mm512_ternarylogic_epi64(x, _mm512_set1_epi64((INT64_C(1) << L2_FLOAT64_FBITS) - 1),
                                  _mm512_set1_epi64(INT64_C(1) << L2_FLOAT64_FBITS), 0xea);
    __m512i b = _mm512_sllv_epi64(m, _mm512_sub_epi64(e, vbase)); /* low 52 bits: b */
    __m512i a = _mm512_srlv_epi64(m, _mm512_sub_epi64(vtop, e));  /* m >> (52 - d) */

    *d0 = _mm512_madd52lo_epu64(*d0, b, b);
    *d1 = _mm512_madd52hi_epu64(*d1, b, b);
    *d2 = _mm512_madd52lo_epu64(*d2, a, b);
    *d3 = _mm512_madd52hi_epu64(*d3, a, b);
    *d4 = _mm512_madd52lo_epu64(*d4, a, a);
}

/* As f32_range_step for 8 float64: x2 = |x| << 1. */
ACCUM_INLINE void f64_range_step(__m512i x2, __m512i *mx, __m512i *mn)
{
    *mx = _mm512_max_epu64(*mx, x2);
    *mn = _mm512_min_epu64(*mn, _mm512_sub_epi64(x2, _mm512_set1_epi64(2)));
}

/* As f32_pass for float64: acc[0..10) holds two sets of the five digits of
 * f64_step, digit k of set s at acc[2k + s]; an all-zero range gives emin
 * one past the NaN field. */
ACCUM_TARGET static void f64_pass(enum l2_dtype t, const unsigned char *p, size_t len,
                                  const unsigned char *end, unsigned base, void *state,
                                  unsigned *emax, unsigned *emin, uint64_t *xmax)
{
    __m512i *acc = state;
    (void)t; /* float64 only */
    const __m512i vbase = _mm512_set1_epi64(base), vtop = _mm512_set1_epi64(52 + base);
    __m512i a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3], c0 = acc[4], c1 = acc[5];
    __m512i d0 = acc[6], d1 = acc[7], e0 = acc[8], e1 = acc[9];
    __m512i mx0 = _mm512_setzero_si512(), mx1 = mx0;
    __m512i mn0 = _mm512_set1_epi64(-1), mn1 = mn0;
    size_t i = 0;

    for (; i + 16 <= len; i += 16) {
        accum_prefetch(p + 8 * i, end);
        accum_prefetch(p + 8 * i + 64, end);
        __m512i x = _mm512_loadu_si512(p + 8 * i), y = _mm512_loadu_si512(p + 8 * i + 64);
        __m512i x2 = _mm512_add_epi64(x, x), y2 = _mm512_add_epi64(y, y);
        f64_range_step(x2, &mx0, &mn0);
        f64_range_step(y2, &mx1, &mn1);
        f64_step(x, x2, vbase, vtop, &a0, &b0, &c0, &d0, &e0);
        f64_step(y, y2, vbase, vtop, &a1, &b1, &c1, &d1, &e1);
    }
    for (; i < len; i += 8) {
        __mmask8 k = (__mmask8)accum_mask16(len - i < 8 ? len - i : 8);
        __m512i x = _mm512_maskz_loadu_epi64(k, p + 8 * i), x2 = _mm512_add_epi64(x, x);
        f64_range_step(x2, &mx0, &mn0);
        f64_step(x, x2, vbase, vtop, &a0, &b0, &c0, &d0, &e0);
    }
    acc[0] = a0, acc[1] = a1, acc[2] = b0, acc[3] = b1, acc[4] = c0, acc[5] = c1;
    acc[6] = d0, acc[7] = d1, acc[8] = e0, acc[9] = e1;
    uint64_t hi = _mm512_reduce_max_epu64(_mm512_max_epu64(mx0, mx1));
    uint64_t lo = _mm512_reduce_min_epu64(_mm512_min_epu64(mn0, mn1));
    *xmax = hi >> 1;
    *emax = (unsigned)(hi >> F64_X2_EXP);
    *emin = lo == UINT64_C(0xfffffffffffffffe) ? L2_FLOAT64_EALL + 1
                                               : (unsigned)((lo + 2) >> F64_X2_EXP);
}

/* Flushes the float64 digits of the window at base: bit 0 of v * v weighs
 * what bit 0 of m * m does for an element of exponent field base. */
ACCUM_TARGET static void f64_flush(struct l2_accum *a, void *state, unsigned base)
{
    __m512i *acc = state;
    unsigned shift = l2_accum_shift(base, L2_FLOAT64_FBITS, L2_FLOAT64_BIAS);

    accum_flush_lanes(a->limb, acc, 2, shift);
    accum_flush_lanes(a->limb, acc + 2, 2, shift + 52);
    accum_flush_lanes(a->limb, acc + 4, 2, shift + 53);
    accum_flush_lanes(a->limb, acc + 6, 2, shift + 105);
    accum_flush_lanes(a->limb, acc + 8, 2, shift + 104);
}

static const struct l2_accum_window_kernel f64_kernel = {
    .state_size = 10 * sizeof(__m512i),
    .min_feed = ACCUM_VECTOR_MIN,
    .block = F64_BLOCK,
    .segment = F64_SEGMENT,
    .probe = 32,
    .win = F64_WIN,
    .lanes = L2_DTYPE_FLOAT64,
    .e_nonfinite = L2_FLOAT64_EALL,
    .pass = f64_pass,
    .flush = f64_flush,
};

/* Whether this thread's MXCSR has DAZ (denormals are zero) set, as a
 * library built with -ffast-math may do for the whole process: vscalefps
 * would then read the 16-bit kernels' subnormal elements (float32
 * subnormals in their layout) as zero. */
static bool accum_daz(void)
{
    return (_mm_getcsr() & 0x40) != 0;
}

const struct l2_accum_window_kernel *l2_accum_avx512ifma_kernel(enum l2_dtype dtype)
{
    switch (dtype) {
    case L2_DTYPE_FLOAT16:
        return accum_daz() ? NULL : &f16_kernel;
    case L2_DTYPE_BFLOAT16:
        return accum_daz() ? NULL : &bf16_kernel;
    case L2_DTYPE_FLOAT32:
        return &f32_kernel;
    case L2_DTYPE_FLOAT64:
        break;
    }
    return &f64_kernel;
}

#else /* not x86-64: never chosen, as l2_accum_impl_supported says */

const struct l2_accum_window_kernel *l2_accum_avx512ifma_kernel(enum l2_dtype dtype)
{
    (void)dtype;
    return NULL;
}

#endif
