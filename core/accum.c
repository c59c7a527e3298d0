/* accum.c -- the exact sum-of-squares kernel.
 *
 * Every finite element is m * 2^e with an integer significand m, so its square
 * is the integer m^2 at bit 2e of a fixed-point number. The portable feed adds
 * m^2 as plain integers into buckets indexed by the element's exponent field
 * (several interleaved bucket arrays, so consecutive adds do not wait on each
 * other), and flushes the buckets into the wide sum before any could overflow.
 * The exponent field of NaN and infinity has its own bucket: one test per
 * block finds them. l2_accum_feed runs the fastest implementation the CPU
 * supports (accum_avx512.c, accum_avx2.c, else this one); all give the same
 * bits. Results are rounded once, from the exact integer. */
#include "accum.h"
#include "accum_impl.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

__extension__ typedef unsigned __int128 accum_u128;

/* Interleaved bucket arrays per feed: element j goes to array j % WAYS. */
#define ACCUM_WAYS 8
#define ACCUM_WAYS64 2

/* Bytes read ahead with a prefetch hint: a loop that loads 2 to 8 bytes at a
 * time otherwise waits on memory (about twice as slow on large buffers). */
#define ACCUM_PREFETCH 2048

/* Below these element counts a feed adds each square straight into the sum:
 * clearing and flushing the buckets would cost more than it saves (measured
 * break-even points; they grow with the number of buckets). */
#define ACCUM_DIRECT_F16 48
#define ACCUM_DIRECT_F32 192 /* and bfloat16 */
#define ACCUM_DIRECT_F64 768

/* Bit position, in the fixed-point sum, of bit 0 of m^2 for an element with
 * biased exponent field be, fraction width fbits and bias bias: the element
 * is m * 2^(max(be,1) - bias - fbits) (subnormals share the exponent of the
 * smallest normal, with no hidden bit). */
static inline unsigned accum_shift(unsigned be, unsigned fbits, unsigned bias)
{
    int e = (int)(be ? be : 1u) - (int)bias - (int)fbits;
    return (unsigned)(2 * e - L2_ACCUM_LSB_EXP);
}

/* limb += v << shift, with the carry carried as far as it goes. The callers
 * guarantee shift / 64 + 2 < L2_ACCUM_LIMBS and an exact sum below 2^4352. */
static void accum_add_at(uint64_t *limb, accum_u128 v, unsigned shift)
{
    unsigned i = shift >> 6, b = shift & 63;
    uint64_t lo = (uint64_t)v, hi = (uint64_t)(v >> 64);
    uint64_t w[3];
    bool carry;

    if (b == 0) {
        w[0] = lo;
        w[1] = hi;
        w[2] = 0;
    } else {
        w[0] = lo << b;
        w[1] = hi << b | lo >> (64 - b);
        w[2] = hi >> (64 - b);
    }
    carry = __builtin_add_overflow(limb[i], w[0], &limb[i]);
    for (unsigned k = 1; k < 3; k++) {
        bool c1 = __builtin_add_overflow(limb[i + k], w[k], &limb[i + k]);
        bool c2 = __builtin_add_overflow(limb[i + k], (uint64_t)carry, &limb[i + k]);
        carry = c1 || c2;
    }
    for (i += 3; carry && i < L2_ACCUM_LIMBS; i++)
        carry = ++limb[i] == 0;
}

void l2_accum_init(struct l2_accum *acc)
{
    memset(acc, 0, sizeof *acc);
}

enum l2_status l2_accum_add(struct l2_accum *acc, double x)
{
    uint64_t bits, m;
    unsigned be;

    if (!isfinite(x))
        return L2_NON_FINITE;
    memcpy(&bits, &x, sizeof bits);
    be = (unsigned)(bits >> 52) & 0x7ff;
    m = bits & ((UINT64_C(1) << 52) - 1);
    if (be)
        m |= UINT64_C(1) << 52;
    if (m)
        accum_add_at(acc->limb, (accum_u128)m * m, accum_shift(be, 52, 1023));
    acc->count++;
    return L2_OK;
}

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
    const unsigned emax = (1u << ebits) - 1;

    for (size_t j = 0; j < n; j++) {
        uint64_t u = accum_load(p + j * w, w);
        unsigned be = (unsigned)(u >> fbits) & emax;
        uint64_t m = (u & fmask) | (uint64_t)(be != 0) << fbits;
        if (be == emax) {
            if (bad_index)
                *bad_index = j;
            return L2_NON_FINITE;
        }
        if (m)
            accum_add_at(acc->limb, (accum_u128)m * m, accum_shift(be, fbits, bias));
    }
    return L2_OK;
}

/* Finds the first element of p[0..n) whose exponent field is all ones. */
static size_t accum_find_bad(const unsigned char *p, size_t n, unsigned w, unsigned fbits,
                             unsigned ebits)
{
    const unsigned emax = (1u << ebits) - 1;
    size_t j;

    for (j = 0; j < n; j++) {
        uint64_t u = accum_load(p + j * w, w);
        if (((unsigned)(u >> fbits) & emax) == emax)
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
    enum { NB = 256, PAD = 8 };
    const unsigned emax = (1u << ebits) - 1;
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
            nonfinite |= b[k][emax];
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
                accum_add_at(acc->limb, s, accum_shift(e, fbits, bias));
        }
    }
    return L2_OK;
}

/* b[exponent field of u] += significand(u)^2 for float64 bits u. */
static inline __attribute__((always_inline)) void accum_bucket128(accum_u128 *b, uint64_t u)
{
    unsigned be = (unsigned)(u >> 52) & 0x7ff;
    uint64_t m = (u & ((UINT64_C(1) << 52) - 1)) | (uint64_t)(be != 0) << 52;
    b[be] += (accum_u128)m * m;
}

/* The bucket path for float64: 106-bit squares in 128-bit buckets, 2^22 adds
 * per block before one could overflow. */
static enum l2_status accum_feed_f64(struct l2_accum *acc, const unsigned char *p, size_t n,
                                     size_t *bad_index)
{
    enum { NB = 2048, PAD = 4 };
    const size_t block = (size_t)1 << 22;
    accum_u128 b[ACCUM_WAYS64][NB + PAD]; /* padded as in accum_feed_narrow */

    if (n < ACCUM_DIRECT_F64)
        return accum_feed_direct(acc, p, n, bad_index, 8, 52, 11, 1023);

    for (size_t base = 0; base < n; base += block) {
        size_t len = n - base < block ? n - base : block;
        const unsigned char *q = p + base * 8;
        size_t j = 0;

        memset(b, 0, sizeof b);
        for (; j + 4 <= len; j += 4) {
            const unsigned char *r = q + j * 8;
            accum_prefetch(r);
            accum_bucket128(b[0], accum_load(r, 8));
            accum_bucket128(b[1 % ACCUM_WAYS64], accum_load(r + 8, 8));
            accum_bucket128(b[2 % ACCUM_WAYS64], accum_load(r + 16, 8));
            accum_bucket128(b[3 % ACCUM_WAYS64], accum_load(r + 24, 8));
        }
        for (; j < len; j++)
            accum_bucket128(b[0], accum_load(q + j * 8, 8));

        accum_u128 nonfinite = 0;
        for (unsigned k = 0; k < ACCUM_WAYS64; k++)
            nonfinite |= b[k][NB - 1];
        if (nonfinite) {
            if (bad_index)
                *bad_index = base + accum_find_bad(q, len, 8, 52, 11);
            return L2_NON_FINITE;
        }
        for (unsigned e = 0; e < NB - 1; e++) {
            accum_u128 s = 0;
            for (unsigned k = 0; k < ACCUM_WAYS64; k++)
                s += b[k][e];
            if (s)
                accum_add_at(acc->limb, s, accum_shift(e, 52, 1023));
        }
    }
    return L2_OK;
}

void l2_accum_add_at(uint64_t *limb, uint64_t lo, uint64_t hi, unsigned shift)
{
    accum_add_at(limb, (accum_u128)hi << 64 | lo, shift);
}

enum l2_status l2_accum_feed_portable(struct l2_accum *acc, enum l2_dtype dtype,
                                      const unsigned char *p, size_t n, size_t *bad_index)
{
    enum l2_status st;

    switch (dtype) {
    case L2_DTYPE_FLOAT16:
        st = accum_feed_narrow(acc, p, n, bad_index, 2, 10, 5, 15, ACCUM_DIRECT_F16);
        break;
    case L2_DTYPE_BFLOAT16:
        st = accum_feed_narrow(acc, p, n, bad_index, 2, 7, 8, 127, ACCUM_DIRECT_F32);
        break;
    case L2_DTYPE_FLOAT32:
        st = accum_feed_narrow(acc, p, n, bad_index, 4, 23, 8, 127, ACCUM_DIRECT_F32);
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
    case L2_DTYPE_FLOAT16:
        return accum_find_bad(p, n, 2, 10, 5);
    case L2_DTYPE_BFLOAT16:
        return accum_find_bad(p, n, 2, 7, 8);
    case L2_DTYPE_FLOAT32:
        return accum_find_bad(p, n, 4, 23, 8);
    case L2_DTYPE_FLOAT64:
    default:
        return accum_find_bad(p, n, 8, 52, 11);
    }
}

unsigned l2_accum_window_base(unsigned emax, unsigned emin, unsigned win)
{
    unsigned base = emax > win - 1 ? emax - (win - 2) : 1;
    return base > emin ? emin : base;
}

/* Blocks in the first portable run after a block no window fits; runs
 * double while such blocks go on (such data tends to), up to the maximum. */
#define ACCUM_RUN_MIN 4
#define ACCUM_RUN_MAX 64

/* Each block is squared in the current window while its range is found, in
 * one pass that streams from memory; a block that does not fit (rare in
 * real data) is squared again, from L1, in a window fitted to it, or, when
 * no window fits (subnormals, or too wide a range), given to the portable
 * code with a run of the blocks that follow it. */
enum l2_status l2_accum_window_feed(const struct l2_accum_window_kernel *k, struct l2_accum *a,
                                    enum l2_dtype dtype, const unsigned char *p, size_t n,
                                    size_t *bad_index)
{
    const size_t w = l2_dtype_size(dtype);
    const unsigned char *end = p + n * w;
    _Alignas(64) unsigned char acc[L2_ACCUM_WINDOW_STATE_MAX];
    _Alignas(64) unsigned char trial[L2_ACCUM_WINDOW_STATE_MAX];
    unsigned base, emax, emin;
    size_t at, len, bad = 0;
    size_t since = 0;           /* elements added since the last flush */
    size_t run = ACCUM_RUN_MIN; /* blocks in the next portable run */

    memset(acc, 0, k->state_size);
    memset(trial, 0, k->state_size);
    /* a first guess from the first elements (a base is >= 1) */
    k->pass(dtype, p, n < k->probe ? n : k->probe, end, 1, trial, &emax, &emin);
    base = l2_accum_window_base(emax, emin - 1 < k->e_nonfinite ? emin : 1, k->win);
    for (at = 0; at < n; at += len) {
        const unsigned char *q = p + at * w;

        len = n - at < k->block ? n - at : k->block;
        if (since + len > k->segment) {
            k->flush(a, acc, base);
            since = 0;
        }
        memcpy(trial, acc, k->state_size);
        k->pass(dtype, q, len, end, base, trial, &emax, &emin);
        if (emax == k->e_nonfinite) {
            bad = l2_accum_first_bad(dtype, q, len);
            goto out_non_finite;
        }
        if (emin == k->e_nonfinite + 1 || (emin >= base && emax <= base + k->win)) {
            memcpy(acc, trial, k->state_size);
            since += len;
            run = ACCUM_RUN_MIN;
            continue;
        }
        if (emin == 0 || emax - emin > k->win) {
            len = n - at < run * k->block ? n - at : run * k->block;
            run = run < ACCUM_RUN_MAX ? 2 * run : ACCUM_RUN_MAX;
            if (l2_accum_feed_portable(a, dtype, q, len, &bad) != L2_OK)
                goto out_non_finite;
            continue;
        }
        k->flush(a, acc, base);
        base = l2_accum_window_base(emax, emin, k->win);
        k->pass(dtype, q, len, end, base, acc, &emax, &emin);
        since = len;
        run = ACCUM_RUN_MIN;
    }
    k->flush(a, acc, base);
    return L2_OK;

out_non_finite: /* at element bad of the block or run at element at */
    if (bad_index)
        *bad_index = at + bad;
    return L2_NON_FINITE;
}

/* The implementation in use, or -1 before the first choice. A cache of what
 * the CPU supports (tests may switch it), atomic because feeds run on many
 * threads. */
static _Atomic int accum_impl = -1;

bool l2_accum_impl_supported(enum l2_accum_impl impl)
{
    switch (impl) {
    case L2_ACCUM_IMPL_PORTABLE:
        return true;
    case L2_ACCUM_IMPL_AVX2:
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    {
        /* F16C by CPUID: not every compiler's __builtin_cpu_supports knows it */
        unsigned a, b, c, d;
        return __builtin_cpu_supports("avx2") && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
    }
#else
        return false;
#endif
    case L2_ACCUM_IMPL_AVX512IFMA:
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512ifma");
#else
        return false;
#endif
    }
    return false;
}

enum l2_accum_impl l2_accum_impl_get(void)
{
    int impl = atomic_load_explicit(&accum_impl, memory_order_relaxed);

    if (impl < 0) {
        impl = L2_ACCUM_IMPL_COUNT - 1; /* the fastest first */
        while (!l2_accum_impl_supported((enum l2_accum_impl)impl))
            impl--;
        atomic_store_explicit(&accum_impl, impl, memory_order_relaxed);
    }
    return (enum l2_accum_impl)impl;
}

bool l2_accum_impl_set(enum l2_accum_impl impl)
{
    if (!l2_accum_impl_supported(impl))
        return false;
    atomic_store_explicit(&accum_impl, (int)impl, memory_order_relaxed);
    return true;
}

const char *l2_accum_impl_name(enum l2_accum_impl impl)
{
    switch (impl) {
    case L2_ACCUM_IMPL_AVX2:
        return "avx2";
    case L2_ACCUM_IMPL_AVX512IFMA:
        return "avx512ifma";
    case L2_ACCUM_IMPL_PORTABLE:
    default:
        return "portable";
    }
}

enum l2_status l2_accum_feed(struct l2_accum *acc, enum l2_dtype dtype, const void *data, size_t n,
                             size_t *bad_index)
{
    enum l2_status st;

    switch (l2_accum_impl_get()) {
    case L2_ACCUM_IMPL_AVX512IFMA:
        st = l2_accum_feed_avx512ifma(acc, dtype, data, n, bad_index);
        break;
    case L2_ACCUM_IMPL_AVX2:
        st = l2_accum_feed_avx2(acc, dtype, data, n, bad_index);
        break;
    case L2_ACCUM_IMPL_PORTABLE:
    default:
        st = l2_accum_feed_portable(acc, dtype, data, n, bad_index);
        break;
    }
    if (st == L2_OK)
        acc->count += n;
    return st;
}

void l2_accum_merge(struct l2_accum *dst, const struct l2_accum *src)
{
    bool carry = false;

    for (unsigned i = 0; i < L2_ACCUM_LIMBS; i++) {
        bool c1 = __builtin_add_overflow(dst->limb[i], src->limb[i], &dst->limb[i]);
        bool c2 = __builtin_add_overflow(dst->limb[i], (uint64_t)carry, &dst->limb[i]);
        carry = c1 || c2;
    }
    dst->count += src->count;
}

/* Bit i of the fixed-point sum (0 beyond either end). */
static uint64_t accum_bit(const struct l2_accum *acc, int i)
{
    if (i < 0 || i >= 64 * L2_ACCUM_LIMBS)
        return 0;
    return acc->limb[i >> 6] >> (i & 63) & 1;
}

/* Bits [lo, lo + 64) of the fixed-point sum, lo >= 0. */
static uint64_t accum_bits64(const struct l2_accum *acc, int lo)
{
    int i = lo >> 6, b = lo & 63;
    uint64_t r = i < L2_ACCUM_LIMBS ? acc->limb[i] >> b : 0;

    if (b && i + 1 < L2_ACCUM_LIMBS)
        r |= acc->limb[i + 1] << (64 - b);
    return r;
}

/* Whether any bit below bit i is set. */
static bool accum_any_below(const struct l2_accum *acc, int i)
{
    int k;

    if (i <= 0)
        return false;
    for (k = 0; k < (i >> 6); k++)
        if (acc->limb[k])
            return true;
    return (i & 63) && (acc->limb[k] & ((UINT64_C(1) << (i & 63)) - 1));
}

/* Rounds the sum times 2^-extra to float64 once: top 53 bits (fewer in the
 * subnormal range), half to even with a sticky bit. */
static enum l2_status accum_round(const struct l2_accum *acc, int extra, double *out)
{
    const int scale = L2_ACCUM_LSB_EXP - extra; /* weight of bit 0 */
    int top = -1;
    int ulp, q;
    uint64_t m;

    for (int i = L2_ACCUM_LIMBS - 1; i >= 0; i--) {
        if (acc->limb[i]) {
            top = 64 * i + 63 - __builtin_clzll(acc->limb[i]);
            break;
        }
    }
    if (top < 0) {
        *out = 0.0;
        return L2_OK;
    }
    ulp = top + scale - 52;
    if (ulp < -1074)
        ulp = -1074;
    q = ulp - scale; /* index of the result's last place; >= 1074 */
    m = accum_bits64(acc, q) & ((UINT64_C(1) << 54) - 1);
    if (accum_bit(acc, q - 1) && ((m & 1) || accum_any_below(acc, q - 1)))
        m++;
    if (m && ulp + (64 - __builtin_clzll(m)) > 1024) {
        *out = INFINITY;
        return L2_OVERFLOW;
    }
    *out = ldexp((double)m, ulp);
    return L2_OK;
}

enum l2_status l2_accum_sum(const struct l2_accum *acc, double *out)
{
    return accum_round(acc, 0, out);
}

enum l2_status l2_accum_half(const struct l2_accum *acc, double *out)
{
    return accum_round(acc, 1, out);
}
