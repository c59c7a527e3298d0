/* crc32.c -- CRC-32 by carry-less multiplication folding.
 *
 * The one idea (Gopal et al., "Fast CRC Computation for Generic Polynomials
 * Using PCLMULQDQ", Intel 2009): a 128-bit block of the message followed by
 * D more bits has the same CRC as the block multiplied (carry-less) by
 * x^D mod P, so blocks far apart are folded forward independently, 4 x 512
 * bits at a time with VPCLMULQDQ, and only the last 128 bits are reduced
 * (Barrett). zlib's crc32() runs at about 4 GB/s here, no faster than the
 * exact kernel, which would halve the .npz rate; this runs at about 27 GB/s
 * (bound by the 512-bit carry-less multiply, one per 2 cycles on this CPU).
 * Debian's libisal-dev (ISA-L 2.30) has one as fast (measured the same, 20
 * to 28 GB/s), but would be a new runtime dependency for ~150 lines; short
 * inputs, the tail and CPUs without PCLMULQDQ go to zlib, which the build
 * has anyway. */
#include "crc32.h"

#include <zlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC_X86 1
#include <immintrin.h>
#endif

/* Below these lengths a call goes to zlib: the folds' setup and final
 * reduction cost more than they save. */
#define CRC_MIN_PCLMUL 64
#define CRC_MIN_VPCLMUL 256

/* zlib's crc32() takes an unsigned int length. */
#define CRC_ZLIB_STEP ((size_t)1 << 30)

static uint32_t crc_zlib(uint32_t crc, const unsigned char *p, size_t len)
{
    while (len > 0) {
        size_t n = len < CRC_ZLIB_STEP ? len : CRC_ZLIB_STEP;

        crc = (uint32_t)crc32(crc, p, (uInt)n);
        p += n;
        len -= n;
    }
    return crc;
}

#ifdef CRC_X86

/* Folding constants of the bit-reflected polynomial 0xEDB88320: k(n) is
 * x^n mod P, bit-reflected over 32 bits and shifted left by one (so that a
 * 64 x 33-bit product lands where the next block's bits are). A 128-bit
 * lane moved forward by D bits multiplies its low half by k(D + 32) and its
 * high half by k(D - 32). The unit test checks every path against zlib. */
#define K_D128_LO 0x1751997d0ll /* D = 128 */
#define K_D128_HI 0x0ccaa009ell
#define K_D256_LO 0x0f1da05aall
#define K_D256_HI 0x15a546366ll
#define K_D384_LO 0x03db1ecdcll
#define K_D384_HI 0x174359406ll
#define K_D512_LO 0x154442bd4ll
#define K_D512_HI 0x1c6e41596ll
#define K_D2048_LO 0x11542778all
#define K_D2048_HI 0x1322d1430ll
#define K_64 0x163cd6124ll   /* x^64 mod P: 64 bits to 32 */
#define K_POLY 0x1db710641ll /* P, reflected */
#define K_MU 0x1f7011641ll   /* x^64 div P, reflected (Barrett) */

#define CRC_TARGET_128 __attribute__((target("pclmul,sse4.1")))
#define CRC_TARGET_512 __attribute__((target("avx512f,avx512vl,vpclmulqdq,pclmul,sse4.1")))

/* x folded forward (by the distance of k) onto data. */
CRC_TARGET_128 static inline __m128i fold_128(__m128i x, __m128i k, __m128i data)
{
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);

    return _mm_xor_si128(_mm_xor_si128(lo, hi), data);
}

/* Folds the 16-byte blocks left at p (len a multiple of 16) into x, then
 * reduces x to the 32-bit CRC register. */
CRC_TARGET_128 static uint32_t reduce_128(__m128i x, const unsigned char *p, size_t len)
{
    const __m128i k128 = _mm_set_epi64x(K_D128_HI, K_D128_LO);
    const __m128i mask32 = _mm_setr_epi32(-1, 0, -1, 0);
    const __m128i k64 = _mm_set_epi64x(0, K_64);
    const __m128i poly = _mm_set_epi64x(K_MU, K_POLY);
    __m128i t;

    for (; len >= 16; p += 16, len -= 16)
        x = fold_128(x, k128, _mm_loadu_si128((const __m128i *)(const void *)p));
    /* 128 bits to 64 */
    t = _mm_clmulepi64_si128(x, k128, 0x10);
    x = _mm_xor_si128(_mm_srli_si128(x, 8), t);
    /* 64 bits to 32 */
    t = _mm_srli_si128(x, 4);
    x = _mm_clmulepi64_si128(_mm_and_si128(x, mask32), k64, 0x00);
    x = _mm_xor_si128(x, t);
    /* Barrett reduction */
    t = _mm_clmulepi64_si128(_mm_and_si128(x, mask32), poly, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), poly, 0x00);
    x = _mm_xor_si128(x, t);
    return (uint32_t)_mm_extract_epi32(x, 1);
}

/* The CRC register (zlib's crc, inverted) after len >= 64 bytes, a multiple
 * of 16, folding four 128-bit lanes. */
CRC_TARGET_128 static uint32_t fold_pclmul(uint32_t reg, const unsigned char *p, size_t len)
{
    const __m128i k512 = _mm_set_epi64x(K_D512_HI, K_D512_LO);
    const __m128i k128 = _mm_set_epi64x(K_D128_HI, K_D128_LO);
    __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));

    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)reg));
    for (p += 64, len -= 64; len >= 64; p += 64, len -= 64) {
        x0 = fold_128(x0, k512, _mm_loadu_si128((const __m128i *)(const void *)p));
        x1 = fold_128(x1, k512, _mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
        x2 = fold_128(x2, k512, _mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
        x3 = fold_128(x3, k512, _mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
    }
    x1 = fold_128(x0, k128, x1);
    x2 = fold_128(x1, k128, x2);
    x3 = fold_128(x2, k128, x3);
    return reduce_128(x3, p, len);
}

CRC_TARGET_512 static inline __m512i fold_512(__m512i x, __m512i k, __m512i data)
{
    __m512i lo = _mm512_clmulepi64_epi128(x, k, 0x00);
    __m512i hi = _mm512_clmulepi64_epi128(x, k, 0x11);

    return _mm512_ternarylogic_epi64(lo, hi, data, 0x96); /* lo ^ hi ^ data */
}

/* As fold_pclmul for len >= 256, folding four 512-bit registers (sixteen
 * 128-bit lanes) 256 bytes at a time, and prefetching the `ahead` bytes after
 * p[len) a line per line folded (the vectors' loads do not wait for them). */
CRC_TARGET_512 static uint32_t fold_vpclmul(uint32_t reg, const unsigned char *p, size_t len,
                                            size_t ahead)
{
    const char *pf = (const char *)p + len, *pf_end = pf + ahead;
    const __m512i k2048 = _mm512_set_epi64(K_D2048_HI, K_D2048_LO, K_D2048_HI, K_D2048_LO,
                                           K_D2048_HI, K_D2048_LO, K_D2048_HI, K_D2048_LO);
    const __m512i k512 = _mm512_set_epi64(K_D512_HI, K_D512_LO, K_D512_HI, K_D512_LO, K_D512_HI,
                                          K_D512_LO, K_D512_HI, K_D512_LO);
    /* lanes 0, 1, 2 of a register move 384, 256, 128 bits onto lane 3 */
    const __m512i klanes =
        _mm512_set_epi64(0, 0, K_D128_HI, K_D128_LO, K_D256_HI, K_D256_LO, K_D384_HI, K_D384_LO);
    __m512i x0 = _mm512_loadu_si512(p);
    __m512i x1 = _mm512_loadu_si512(p + 64);
    __m512i x2 = _mm512_loadu_si512(p + 128);
    __m512i x3 = _mm512_loadu_si512(p + 192);
    __m512i t;
    __m128i x;

    x0 = _mm512_xor_si512(x0, _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)reg)));
    for (p += 256, len -= 256; len >= 256; p += 256, len -= 256) {
        if (pf < pf_end) {
            _mm_prefetch(pf, _MM_HINT_T0);
            _mm_prefetch(pf + 64, _MM_HINT_T0);
            _mm_prefetch(pf + 128, _MM_HINT_T0);
            _mm_prefetch(pf + 192, _MM_HINT_T0);
            pf += 256;
        }
        x0 = fold_512(x0, k2048, _mm512_loadu_si512(p));
        x1 = fold_512(x1, k2048, _mm512_loadu_si512(p + 64));
        x2 = fold_512(x2, k2048, _mm512_loadu_si512(p + 128));
        x3 = fold_512(x3, k2048, _mm512_loadu_si512(p + 192));
    }
    x1 = fold_512(x0, k512, x1);
    x2 = fold_512(x1, k512, x2);
    x3 = fold_512(x2, k512, x3);
    for (; len >= 64; p += 64, len -= 64)
        x3 = fold_512(x3, k512, _mm512_loadu_si512(p));
    t = fold_512(x3, klanes, _mm512_setzero_si512()); /* lane 3 of t is zero */
    x = _mm_xor_si128(_mm512_extracti32x4_epi32(t, 0), _mm512_extracti32x4_epi32(t, 1));
    x = _mm_xor_si128(x, _mm512_extracti32x4_epi32(t, 2));
    x = _mm_xor_si128(x, _mm512_extracti32x4_epi32(x3, 3));
    return reduce_128(x, p, len);
}

bool api_crc32_supported(enum api_crc32_impl impl)
{
    switch (impl) {
    case API_CRC32_ZLIB:
        return true;
    case API_CRC32_PCLMUL:
        return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
    case API_CRC32_VPCLMUL:
        return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1") &&
               __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("vpclmulqdq");
    default:
        return false;
    }
}

/* api_crc32_with, the VPCLMULQDQ folds prefetching `ahead` bytes. */
static uint32_t crc_with(enum api_crc32_impl impl, uint32_t crc, const void *p, size_t len,
                         size_t ahead)
{
    const unsigned char *b = p;
    size_t n = len & ~(size_t)15; /* the folds take whole 16-byte blocks */

    if (impl == API_CRC32_VPCLMUL && len >= CRC_MIN_VPCLMUL)
        crc = ~fold_vpclmul(~crc, b, n, ahead + (len - n));
    else if (impl != API_CRC32_ZLIB && len >= CRC_MIN_PCLMUL)
        crc = ~fold_pclmul(~crc, b, n);
    else
        n = 0;
    return crc_zlib(crc, b + n, len - n);
}

uint32_t api_crc32_with(enum api_crc32_impl impl, uint32_t crc, const void *p, size_t len)
{
    return crc_with(impl, crc, p, len, 0);
}

#else /* not x86-64: zlib only */

bool api_crc32_supported(enum api_crc32_impl impl)
{
    return impl == API_CRC32_ZLIB;
}

static uint32_t crc_with(enum api_crc32_impl impl, uint32_t crc, const void *p, size_t len,
                         size_t ahead)
{
    (void)impl;
    (void)ahead;
    return crc_zlib(crc, p, len);
}

uint32_t api_crc32_with(enum api_crc32_impl impl, uint32_t crc, const void *p, size_t len)
{
    return crc_with(impl, crc, p, len, 0);
}

#endif

enum api_crc32_impl api_crc32_best(void)
{
    if (api_crc32_supported(API_CRC32_VPCLMUL))
        return API_CRC32_VPCLMUL;
    if (api_crc32_supported(API_CRC32_PCLMUL))
        return API_CRC32_PCLMUL;
    return API_CRC32_ZLIB;
}

uint32_t api_crc32_ahead(uint32_t crc, const void *p, size_t len, size_t ahead)
{
    if (len < CRC_MIN_PCLMUL) /* p may be NULL when len is 0 */
        return len > 0 ? crc_zlib(crc, p, len) : crc;
    return crc_with(api_crc32_best(), crc, p, len, ahead);
}

bool api_crc32_prefetches(void)
{
    return api_crc32_best() == API_CRC32_VPCLMUL;
}

uint32_t api_crc32(uint32_t crc, const void *p, size_t len)
{
    return api_crc32_ahead(crc, p, len, 0);
}

const char *api_crc32_name(enum api_crc32_impl impl)
{
    static const char *const names[API_CRC32_IMPL_COUNT] = {"zlib", "pclmul", "vpclmul"};

    return (unsigned)impl < API_CRC32_IMPL_COUNT ? names[impl] : "unknown";
}
