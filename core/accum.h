/* accum.h -- an exact accumulator of sums of squares.
 *
 * struct l2_accum holds sum(x*x) over every element fed to it as an exact
 * fixed-point integer wide enough for any float64 square (down to the square
 * of the smallest subnormal, 2^-2148) times any 64-bit count. Nothing is
 * rounded until a result is read, and then only once, so the answer never
 * depends on the order, the count or the block sizes of the elements. Beside
 * it: the count, the largest magnitude, and the NaN and infinity counts. */
#ifndef L2_ACCUM_H
#define L2_ACCUM_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

/* The kernel's own small status enum; api/ maps it onto the wire. */
enum l2_status {
    L2_OK = 0,
    L2_NON_FINITE, /* a NaN or infinity was fed */
    L2_OVERFLOW,   /* the rounded result is beyond the float64 range */
};

/* Bit weight of limb[0] bit 0 is 2^L2_ACCUM_LSB_EXP. */
#define L2_ACCUM_LSB_EXP (-2148)
#define L2_ACCUM_LIMBS 68

/* Plain data on caller storage: copy it, keep it in arrays, no _free. */
struct l2_accum {
    uint64_t limb[L2_ACCUM_LIMBS]; /* little-endian limbs of the exact sum */
    uint64_t count;                /* elements fed, finite or not */
    uint64_t nan_count;            /* NaN elements counted (not in the sum), of count */
    uint64_t inf_count;            /* +-infinity elements counted (not in the sum), of count */
    double max_abs;                /* largest |x| of the finite elements; 0.0 when none */
};

/* Sets acc to the empty sum: all zero, max_abs 0.0. Cannot fail. */
void l2_accum_init(struct l2_accum *acc);

/* Adds x*x exactly, counts one element and takes |x| into max_abs. x must be
 * finite (the caller has checked it, e.g. after l2_dtype_round); a
 * non-finite x is not added and returns L2_NON_FINITE. */
enum l2_status l2_accum_add(struct l2_accum *acc, double x);

/* Adds the squares of n little-endian elements of dtype stored back to back
 * at data (any alignment), counts them and takes their largest magnitude
 * into max_abs, in one pass over the data. This is the fast path for raw and
 * .npy bodies; any split of a stream into calls gives the same result.
 * On a NaN or infinity returns L2_NON_FINITE with *bad_index set to the
 * index, within this call, of the first such element; acc then holds an
 * unspecified partial sum and must be discarded. bad_index may be NULL. */
enum l2_status l2_accum_feed(struct l2_accum *acc, enum l2_dtype dtype, const void *data, size_t n,
                             size_t *bad_index);

/* What the vector kernels learned of a stream's exponents, carried from one
 * l2_accum_feed_stream call to the next: a stream whose blocks no window
 * fits (random bit patterns, spreads wider than a window) then goes on to
 * the portable code without first trying, and throwing away, a vector pass
 * over a block at the start of every call, so that it costs the same split
 * into small calls as in one. Only the speed depends on it, never the
 * result. Zero it before a stream's first call; one stream, one dtype. */
struct l2_accum_stream {
    uint64_t portable_left; /* elements for the portable code before a window is tried again */
    unsigned run;           /* blocks in the next portable run; 0: the shortest */
};

/* l2_accum_feed for one call of a stream, with that stream's state s. */
enum l2_status l2_accum_feed_stream(struct l2_accum *acc, struct l2_accum_stream *s,
                                    enum l2_dtype dtype, const void *data, size_t n,
                                    size_t *bad_index);

/* True when the stream's last call left it on the portable code (its blocks
 * fit no vector window), or the implementation in use has no vector kernel
 * for dtype: the portable code's cost per call wants long calls. */
bool l2_accum_stream_portable(const struct l2_accum_stream *s, enum l2_dtype dtype);

/* As l2_accum_feed, but a NaN or infinity is not an error: it is counted in
 * count and in nan_count or inf_count, and left out of the sum and max_abs;
 * the finite elements are taken as l2_accum_feed takes them (the same bits,
 * however the stream is split). Cannot fail. On data without NaN or
 * infinity it runs at l2_accum_feed's speed. For ?nonfinite=count. */
void l2_accum_feed_counting(struct l2_accum *acc, enum l2_dtype dtype, const void *data, size_t n);

/* Counts x, a NaN or an infinity (the JSON tokens NaN, Infinity, -Infinity
 * under ?nonfinite=count), in count and in nan_count or inf_count, without
 * adding it to the sum or max_abs. A finite x is taken as l2_accum_add takes
 * it. */
void l2_accum_add_nonfinite(struct l2_accum *acc, double x);

/* dst += src, exactly: sums and all counts added, max_abs the larger. A
 * dst that has taken no element (count 0) holds the empty sum, as every
 * accumulator does before its first element: it gets src's sum as is. */
void l2_accum_merge(struct l2_accum *dst, const struct l2_accum *src);

/* The exact sum rounded once to float64 (nearest, ties to even) in *out.
 * Returns L2_OVERFLOW (and *out = +inf) when that rounding overflows. */
enum l2_status l2_accum_sum(const struct l2_accum *acc, double *out);

/* The exact sum divided by two, rounded once, in *out (tf.nn.l2_loss).
 * Returns L2_OVERFLOW (and *out = +inf) when that rounding overflows. */
enum l2_status l2_accum_half(const struct l2_accum *acc, double *out);

/* The square root of the exact sum, correctly rounded once to float64
 * (nearest, ties to even) in *out: not sqrt() of the rounded sum, which can be
 * one ulp off, or more below 2^-1022. Ties happen: the exact sum of [2^53,
 * 2^27, 1] is (2^53 + 1)^2, and its root 2^53 + 1 lies halfway between two
 * doubles (2^53 wins). An empty or all-zero sum gives +0.0. Returns
 * L2_OVERFLOW (and *out = +inf) exactly when l2_accum_sum does, although the
 * root itself would fit: a norm is only reported beside its sum. */
enum l2_status l2_accum_norm(const struct l2_accum *acc, double *out);

#endif
