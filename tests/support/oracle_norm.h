/* oracle_norm.h -- the MPFR reference for l2_accum_norm: the square root of
 * an exact sum of squares (tests/support/oracle.h), rounded once to float64. */
#ifndef ORACLE_NORM_H
#define ORACLE_NORM_H

#include <stdbool.h>

#include "tests/support/oracle.h"

/* sqrt of the exact sum s, rounded once to float64 (nearest, ties to even,
 * subnormals kept), in *out. Returns false and sets *out = +inf when the sum
 * itself rounds beyond float64 (oracle_sum_round fails), as the kernel does. */
bool oracle_sum_norm(const struct oracle_sum *s, double *out);

#endif
