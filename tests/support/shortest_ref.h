/* shortest_ref.h -- a reference for api/shortest.c: Python's repr(float)
 * computed the slow, obvious way, on GNU MPFR and strtod.
 *
 * For p digits it takes the two p-digit decimals around x (MPFR's
 * directed conversions) and keeps those strtod reads back as x: the
 * correctly rounded one when it reads back, else the other; the fewest p
 * with one is found by bisection over 1 to 17. It shares nothing with the printer under test (no
 * powers of five, no integer digit extraction), so the two agreeing on a value is evidence for
 * both. Tests, the fuzz harness and the long proof run use it.
 */
#ifndef SHORTEST_REF_H
#define SHORTEST_REF_H

#include <stddef.h>

#include <mpfr.h>

/* Bytes a reference output needs, NUL included. */
#define SHORTEST_REF_MAX 40

/* Writes repr(x) into buf (NUL-terminated) and returns its length. work is
 * an MPFR number of at least 64 bits' precision that the caller owns
 * (initialised once, reused: this function allocates nothing else). */
size_t shortest_ref_repr(double x, char buf[SHORTEST_REF_MAX], mpfr_t work);

#endif
