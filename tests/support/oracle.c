/* oracle.c -- the MPFR exact reference for sums of squares and roundings.
 *
 * Rounding to a binary type with precision p, smallest normal exponent emin
 * and largest binade emax: below 2^emin the result is an integer multiple of
 * 2^(emin-p+1), so x is scaled and rounded to an integer by mpfr_rint (ties to
 * even); above, MPFR rounds to p bits. Either result at or beyond 2^(emax+1)
 * is an overflow. */
#include "oracle.h"

#include <math.h>
#include <stdlib.h>

void oracle_sum_init(struct oracle_sum *s)
{
    mpfr_init2(s->v, ORACLE_SUM_PREC);
    mpfr_set_zero(s->v, 1);
}

void oracle_sum_free(struct oracle_sum *s)
{
    mpfr_clear(s->v);
}

void oracle_sum_add_sq_times(struct oracle_sum *s, double x, unsigned long k)
{
    mpfr_t t;
    int inex;

    mpfr_init2(t, 200);
    inex = mpfr_set_d(t, x, MPFR_RNDN);
    inex |= mpfr_sqr(t, t, MPFR_RNDN);
    inex |= mpfr_mul_ui(t, t, k, MPFR_RNDN);
    inex |= mpfr_add(s->v, s->v, t, MPFR_RNDN);
    mpfr_clear(t);
    if (inex)
        abort(); /* the oracle itself would be wrong */
}

void oracle_sum_add_sq(struct oracle_sum *s, double x)
{
    oracle_sum_add_sq_times(s, x, 1);
}

void oracle_sum_set_limbs(struct oracle_sum *s, const uint64_t *limb, size_t n, long lsb_exp)
{
    mpz_t z;

    mpz_init(z);
    mpz_import(z, n, -1, sizeof limb[0], 0, 0, limb);
    if (mpfr_set_z_2exp(s->v, z, lsb_exp, MPFR_RNDN))
        abort(); /* wider than ORACLE_SUM_PREC */
    mpz_clear(z);
}

/* Rounds x to precision prec with exponent range [emin, emax] (of the form
 * 1.f * 2^e). Returns false on overflow, with *out = +-inf. */
static bool oracle_round_fmt(mpfr_srcptr x, int prec, int emin, int emax, double *out)
{
    mpfr_t r, lim;
    bool ok = true;

    if (mpfr_nan_p(x)) {
        *out = NAN;
        return true;
    }
    if (mpfr_inf_p(x)) {
        *out = mpfr_sgn(x) > 0 ? INFINITY : -INFINITY;
        return false;
    }
    if (mpfr_zero_p(x)) {
        *out = mpfr_signbit(x) ? -0.0 : 0.0;
        return true;
    }
    mpfr_init2(r, mpfr_get_prec(x) + 64);
    mpfr_init2(lim, 64);
    mpfr_set_ui_2exp(lim, 1, emin, MPFR_RNDN);
    if (mpfr_cmpabs(x, lim) < 0) {
        /* subnormal range: an integer number of 2^(emin - prec + 1) */
        mpfr_mul_2si(r, x, prec - 1 - emin, MPFR_RNDN); /* exact */
        mpfr_rint(r, r, MPFR_RNDN);
        mpfr_mul_2si(r, r, emin - prec + 1, MPFR_RNDN);
    } else {
        mpfr_set_prec(r, prec);
        mpfr_set(r, x, MPFR_RNDN);
    }
    mpfr_set_ui_2exp(lim, 1, emax + 1, MPFR_RNDN);
    if (mpfr_cmpabs(r, lim) >= 0) {
        *out = mpfr_signbit(x) ? -INFINITY : INFINITY;
        ok = false;
    } else if (mpfr_zero_p(r)) {
        *out = mpfr_signbit(x) ? -0.0 : 0.0;
    } else {
        *out = mpfr_get_d(r, MPFR_RNDN); /* exact: r has <= 53 bits in range */
    }
    mpfr_clear(lim);
    mpfr_clear(r);
    return ok;
}

bool oracle_round_double(mpfr_srcptr x, double *out)
{
    return oracle_round_fmt(x, 53, -1022, 1023, out);
}

bool oracle_sum_round(const struct oracle_sum *s, bool half, double *out)
{
    mpfr_t t;
    bool ok;

    mpfr_init2(t, ORACLE_SUM_PREC);
    mpfr_div_2ui(t, s->v, half ? 1 : 0, MPFR_RNDN); /* exact */
    ok = oracle_round_fmt(t, 53, -1022, 1023, out);
    mpfr_clear(t);
    return ok;
}

double oracle_round_dtype(enum l2_dtype dtype, double x)
{
    mpfr_t t;
    double r;

    mpfr_init2(t, 53);
    mpfr_set_d(t, x, MPFR_RNDN);
    switch (dtype) {
    case L2_DTYPE_FLOAT16:
        oracle_round_fmt(t, 11, -14, 15, &r);
        break;
    case L2_DTYPE_BFLOAT16:
        oracle_round_fmt(t, 8, -126, 127, &r);
        break;
    case L2_DTYPE_FLOAT32:
        oracle_round_fmt(t, 24, -126, 127, &r);
        break;
    case L2_DTYPE_FLOAT64:
    default:
        r = x;
        break;
    }
    mpfr_clear(t);
    return r;
}
