/* accum_impl.h -- the kernel's implementations, private to core/ and its tests.
 *
 * l2_accum_feed picks the fastest implementation the CPU supports, once. The
 * tests force each one in turn (they must all give the same bits), and the
 * vector file calls back into accum.c for the wide sum and the rare inputs it
 * leaves to the portable code. Not part of the public contract. */
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

/* limb += (hi * 2^64 + lo) << shift, exactly; shift / 64 + 2 < L2_ACCUM_LIMBS. */
void l2_accum_add_at(uint64_t *limb, uint64_t lo, uint64_t hi, unsigned shift);

/* l2_accum_feed by the portable code, without counting the elements. */
enum l2_status l2_accum_feed_portable(struct l2_accum *acc, enum l2_dtype dtype,
                                      const unsigned char *p, size_t n, size_t *bad_index);

/* l2_accum_feed by AVX2 or by AVX-512 IFMA, without counting; only on a CPU
 * for which l2_accum_impl_supported holds. */
enum l2_status l2_accum_feed_avx2(struct l2_accum *acc, enum l2_dtype dtype, const unsigned char *p,
                                  size_t n, size_t *bad_index);
enum l2_status l2_accum_feed_avx512ifma(struct l2_accum *acc, enum l2_dtype dtype,
                                        const unsigned char *p, size_t n, size_t *bad_index);

/* Index of the first NaN or infinity among the n elements of dtype at p; n
 * when there is none. */
size_t l2_accum_first_bad(enum l2_dtype dtype, const unsigned char *p, size_t n);

/* The base exponent field of a fixed-point window of win + 1 exponents for a
 * block whose nonzero elements have fields in [emin, emax], emin >= 1 and
 * emax - emin <= win: two binades of room above emax when emin allows, as
 * the next blocks may reach higher; never below 1. */
unsigned l2_accum_window_base(unsigned emax, unsigned emin, unsigned win);

/* Bytes of lane accumulators a window kernel may keep (ten 512-bit vectors). */
#define L2_ACCUM_WINDOW_STATE_MAX 640

/* A fixed-point window kernel (accum_avx2.c, accum_avx512.c): how a block of
 * elements is squared into integer lane accumulators within a window of
 * exponents, and how those lanes go into the exact sum. The blocking, the
 * choice of windows, the fallback to the portable code and the NaN search
 * are the same for all of them: l2_accum_window_feed. */
struct l2_accum_window_kernel {
    size_t state_size;    /* bytes of lane accumulators, <= L2_ACCUM_WINDOW_STATE_MAX */
    size_t block;         /* elements per pass */
    size_t segment;       /* elements a window's lanes take before a flush */
    size_t probe;         /* elements of the first pass, which guesses the window */
    unsigned win;         /* exponent fields past the base that a window holds */
    unsigned e_nonfinite; /* exponent field of NaN and infinity (255, 2047) */
    /* Squares len elements of dtype at p into state (64-byte aligned) within
     * the window at base, and reports their exponent fields' range in
     * emax/emin (emin = e_nonfinite + 1 when all are zero). end is the end of
     * the feed, which read-ahead must not pass. */
    void (*pass)(enum l2_dtype dtype, const unsigned char *p, size_t len, const unsigned char *end,
                 unsigned base, void *state, unsigned *emax, unsigned *emin);
    /* Adds state, for the window at base, into acc's sum and zeroes it. */
    void (*flush)(struct l2_accum *acc, void *state, unsigned base);
};

/* l2_accum_feed of n >= 1 elements through kernel k, without counting. */
enum l2_status l2_accum_window_feed(const struct l2_accum_window_kernel *k, struct l2_accum *acc,
                                    enum l2_dtype dtype, const unsigned char *p, size_t n,
                                    size_t *bad_index);

#endif
