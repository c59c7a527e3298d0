/* accum_impl.h -- the kernel's implementations, private to core/ and its tests.
 *
 * l2_accum_feed (accum.c) picks the fastest implementation the CPU supports
 * and is the only place that chooses: the portable code (accum_portable.c),
 * or a fixed-point window kernel (accum_avx2.c, accum_avx512.c) run by the
 * window driver (accum_window.c). Tests force each one in turn: they must
 * all give the same bits. Not part of the public contract. */
#ifndef L2_ACCUM_IMPL_H
#define L2_ACCUM_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accum.h"

enum l2_accum_impl {
    L2_ACCUM_IMPL_PORTABLE,   /* plain C: exponent buckets, any CPU */
    L2_ACCUM_IMPL_AVX2,       /* x86-64 AVX2 + F16C: fixed-point windows (float64: portable) */
    L2_ACCUM_IMPL_AVX512IFMA, /* x86-64 AVX-512 F/BW/VL + IFMA: fixed-point windows */
};

#define L2_ACCUM_IMPL_COUNT 3

/* Whether this build and this CPU can run impl. */
bool l2_accum_impl_supported(enum l2_accum_impl impl);

/* The implementation l2_accum_feed uses (chosen on first use: the fastest
 * supported one). */
enum l2_accum_impl l2_accum_impl_get(void);

/* Makes l2_accum_feed use impl from now on (for tests and benchmarks).
 * Returns false, changing nothing, when impl is not supported. */
bool l2_accum_impl_set(enum l2_accum_impl impl);

/* A short name: "portable", "avx2", "avx512ifma". */
const char *l2_accum_impl_name(enum l2_accum_impl impl);

__extension__ typedef unsigned __int128 l2_accum_u128;

/* limb += v << shift, with the carry carried as far as it goes. The callers
 * guarantee shift / 64 + 2 < L2_ACCUM_LIMBS and an exact sum below 2^4352. */
static inline void l2_accum_add_at(uint64_t *limb, l2_accum_u128 v, unsigned shift)
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

/* Bit position, in the fixed-point sum, of bit 0 of m^2 for an element with
 * exponent field be of a type with fbits fraction bits and bias bias: the
 * element is m * 2^(max(be,1) - bias - fbits) (subnormals share the exponent
 * of the smallest normal, with no hidden bit). */
static inline unsigned l2_accum_shift(unsigned be, unsigned fbits, unsigned bias)
{
    int e = (int)(be ? be : 1u) - (int)bias - (int)fbits;
    return (unsigned)(2 * e - L2_ACCUM_LSB_EXP);
}

/* The value of the bits u of an element of dtype. */
static inline double l2_accum_value(enum l2_dtype dtype, uint64_t u)
{
    unsigned char b[8];

    for (size_t i = 0; i < l2_dtype_size(dtype); i++)
        b[i] = (unsigned char)(u >> (8 * i));
    return l2_dtype_load_le(dtype, b);
}

/* acc->max_abs = max(acc->max_abs, the value of the bits u of dtype), u the
 * bits of a magnitude (sign clear). */
static inline void l2_accum_take_max(struct l2_accum *acc, enum l2_dtype dtype, uint64_t u)
{
    double x = l2_accum_value(dtype, u);

    if (x > acc->max_abs)
        acc->max_abs = x;
}

/* ---- accum_portable.c ---------------------------------------------------- */

/* l2_accum_feed by the portable code, without counting the elements. This
 * and l2_accum_window_feed stop clean: on L2_NON_FINITE, acc's sum and
 * max_abs hold exactly the elements before *bad_index (what
 * l2_accum_feed_counting builds on), and nothing else in acc changes. */
enum l2_status l2_accum_feed_portable(struct l2_accum *acc, enum l2_dtype dtype,
                                      const unsigned char *p, size_t n, size_t *bad_index);

/* Index of the first NaN or infinity among the n elements of dtype at p; n
 * when there is none. */
size_t l2_accum_first_bad(enum l2_dtype dtype, const unsigned char *p, size_t n);

/* Adds the squares of the finite elements among the n of dtype at p (and
 * takes them into max_abs) one by one, and counts the NaN and infinities in
 * nan_count and inf_count (nothing in count). */
void l2_accum_feed_mixed(struct l2_accum *acc, enum l2_dtype dtype, const unsigned char *p,
                         size_t n);

/* Counts the NaN and infinities at the start of the n elements of dtype at p,
 * up to the first finite one, into acc's nan_count and inf_count (not
 * count); returns how many there were. */
size_t l2_accum_count_nonfinite(struct l2_accum *acc, enum l2_dtype dtype, const unsigned char *p,
                                size_t n);

/* ---- accum_window.c: the driver of the vector kernels -------------------- */

/* Bytes of lane accumulators a window kernel may keep (ten 512-bit vectors). */
#define L2_ACCUM_WINDOW_STATE_MAX 640

/* A fixed-point window kernel (accum_avx2.c, accum_avx512.c): how a block of
 * elements is squared into integer lane accumulators within a window of
 * exponents, and how those lanes go into the exact sum. The blocking, the
 * choice of windows, the fallback to the portable code and the NaN search
 * are the same for all of them: l2_accum_window_feed. */
struct l2_accum_window_kernel {
    size_t state_size;    /* bytes of lane accumulators, <= L2_ACCUM_WINDOW_STATE_MAX */
    size_t min_feed;      /* shorter feeds go to the portable code */
    size_t block;         /* elements per pass */
    size_t segment;       /* elements a window's lanes take before a flush */
    size_t probe;         /* elements of the first pass, which guesses the window */
    unsigned win;         /* exponent fields past the base that a window holds */
    enum l2_dtype lanes;  /* format of the reported bits: the dtype, or float32 widened to */
    unsigned e_nonfinite; /* exponent field of NaN and infinity in the lanes' format */
    /* Squares len elements of dtype at p into state (64-byte aligned) within
     * the window at base, and reports their exponent fields' range in
     * emax/emin (emin = e_nonfinite + 1 when all are zero) and their largest
     * magnitude, as bits of the lanes' format, in *xmax. end is the end of
     * the feed, which read-ahead must not pass. */
    void (*pass)(enum l2_dtype dtype, const unsigned char *p, size_t len, const unsigned char *end,
                 unsigned base, void *state, unsigned *emax, unsigned *emin, uint64_t *xmax);
    /* Adds state, for the window at base, into acc's sum and zeroes it. */
    void (*flush)(struct l2_accum *acc, void *state, unsigned base);
};

/* The base exponent field of a fixed-point window of win + 1 exponents for a
 * block whose nonzero elements have fields in [emin, emax], emin >= 1 and
 * emax - emin <= win: two binades of room above emax when emin allows, as
 * the next blocks may reach higher; never below 1. */
unsigned l2_accum_window_base(unsigned emax, unsigned emin, unsigned win);

/* l2_accum_feed of n >= 1 elements through kernel k, without counting; stops
 * clean, as l2_accum_feed_portable. s: the stream's state, taken and
 * updated (NULL: a stream of this one call). */
enum l2_status l2_accum_window_feed(const struct l2_accum_window_kernel *k, struct l2_accum *acc,
                                    struct l2_accum_stream *s, enum l2_dtype dtype,
                                    const unsigned char *p, size_t n, size_t *bad_index);

/* ---- accum_avx2.c, accum_avx512.c ----------------------------------------- */

/* The window kernel of that implementation for dtype, or NULL when it has
 * none (dtype left to the portable code, or a build for another CPU, or for
 * AVX-512's 16-bit kernels a thread whose MXCSR treats denormals as zero).
 * Only for a CPU on which l2_accum_impl_supported holds. */
const struct l2_accum_window_kernel *l2_accum_avx2_kernel(enum l2_dtype dtype);
const struct l2_accum_window_kernel *l2_accum_avx512ifma_kernel(enum l2_dtype dtype);

#endif
