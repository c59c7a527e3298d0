/* oracle_norm.c -- the MPFR reference for the correctly rounded norm.
 *
 * mpfr_sqrt gives r = sqrt(s) rounded toward zero to P >= 54 bits and says
 * whether that was exact. If not, sqrt(s) lies strictly between r and the next
 * P-bit number, and no rounding boundary of float64 (a number of at most 54
 * bits) lies strictly between them, so sqrt(s) rounds as r + half a P-bit ulp
 * does: an exact P+1-bit number that oracle_round_double rounds. */
#include "oracle_norm.h"

#include <math.h>

#define ORACLE_NORM_PREC 128

bool oracle_sum_norm(const struct oracle_sum *s, double *out)
{
    mpfr_t r, t;
    double sum;
    bool ok;

    if (!oracle_sum_round(s, false, &sum)) {
        *out = INFINITY;
        return false;
    }
    mpfr_init2(r, ORACLE_NORM_PREC);
    mpfr_init2(t, ORACLE_NORM_PREC + 1);
    if (mpfr_sqrt(r, s->v, MPFR_RNDZ) != 0) {
        mpfr_set(t, r, MPFR_RNDN); /* exact */
        mpfr_nextabove(t);         /* r + half an ulp of r */
    } else {
        mpfr_set(t, r, MPFR_RNDN);
    }
    ok = oracle_round_double(t, out);
    mpfr_clear(t);
    mpfr_clear(r);
    return ok;
}
