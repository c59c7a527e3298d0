/* oracle.h -- an exact reference for the kernel, built on GNU MPFR.
 *
 * Sums of squares are kept as MPFR numbers wide enough to be exact for any
 * float64 inputs, and rounded to float64 (or to a narrower dtype) by logic
 * that shares nothing with core/: MPFR's own rounding to a precision, or
 * mpfr_rint at the subnormal position. Tests of any module may use it. */
#ifndef ORACLE_H
#define ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpfr.h>

#include "core/dtype.h"

/* Precision of an exact sum: squares of float64 span 2^-2148 .. 2^2048, and
 * counts up to 2^150 still fit. */
#define ORACLE_SUM_PREC 4400

/* An exact sum of squares. oracle_sum_init / oracle_sum_free pair. */
struct oracle_sum {
    mpfr_t v;
};

void oracle_sum_init(struct oracle_sum *s);
void oracle_sum_free(struct oracle_sum *s);

/* s += x*x exactly; x must be finite. */
void oracle_sum_add_sq(struct oracle_sum *s, double x);

/* s += k * x*x exactly; x must be finite. */
void oracle_sum_add_sq_times(struct oracle_sum *s, double x, unsigned long k);

/* s = the little-endian n-limb integer at limb times 2^lsb_exp, exactly (to
 * check the kernel's rounding on sums built bit by bit). */
void oracle_sum_set_limbs(struct oracle_sum *s, const uint64_t *limb, size_t n, long lsb_exp);

/* The exact sum (half = false) or the exact sum / 2 (half = true), rounded
 * once to float64, nearest, ties to even, subnormals kept. Returns false and
 * sets *out = +inf when the rounded value is 2^1024 or more. */
bool oracle_sum_round(const struct oracle_sum *s, bool half, double *out);

/* Rounds an exact MPFR number (any precision, any exponent) to float64 as
 * above. Returns false and sets *out = +-inf when it overflows. */
bool oracle_round_double(mpfr_srcptr x, double *out);

/* x rounded once to the nearest value of dtype (ties to even, subnormals of
 * that type, +-inf beyond its range, NaN kept), by MPFR. */
double oracle_round_dtype(enum l2_dtype dtype, double x);

#endif
