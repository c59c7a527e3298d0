/* test_oracle.c -- the MPFR oracle of tests/support checked on hand-worked
 * cases, so that agreeing with it means something. */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "tests/support/oracle.h"
#include "tests/support/bits.h"
#include "tests/support/rng.h"

/* Rounds sum_i 2^e[i] (exact, any exponents) to float64. */
static bool round_pow2_sum(const long *e, size_t n, double *out)
{
    mpfr_t x, t;
    bool ok;

    mpfr_init2(x, 4000);
    mpfr_init2(t, 8);
    mpfr_set_zero(x, 1);
    for (size_t i = 0; i < n; i++) {
        mpfr_set_ui_2exp(t, 1, e[i], MPFR_RNDN);
        mpfr_add(x, x, t, MPFR_RNDN);
    }
    ok = oracle_round_double(x, out);
    mpfr_clear(t);
    mpfr_clear(x);
    return ok;
}

Test(oracle, round_double_hand_cases)
{
    double d;

    cr_assert(round_pow2_sum((long[]){-1075}, 1, &d));
    cr_assert_eq(bits_of(d), 0, "2^-1075 is a tie, to even 0");
    cr_assert(round_pow2_sum((long[]){-1075, -2000}, 2, &d));
    cr_assert_eq(d, 0x1p-1074);
    cr_assert(round_pow2_sum((long[]){-1074, -1075}, 2, &d));
    cr_assert_eq(d, 0x1p-1073, "1.5 steps: tie, to even 2");
    cr_assert(round_pow2_sum((long[]){0, -53}, 2, &d));
    cr_assert_eq(d, 1.0);
    cr_assert(round_pow2_sum((long[]){0, -53, -200}, 3, &d));
    cr_assert_eq(d, 1 + 0x1p-52);
    cr_assert(round_pow2_sum((long[]){0, -52, -53}, 3, &d));
    cr_assert_eq(d, 1 + 0x1p-51);
    cr_assert(round_pow2_sum((long[]){-1023, -1075}, 2, &d)); /* subnormal + tie */
    cr_assert_eq(d, 0x1p-1023);
    /* DBL_MAX + half an ulp = 2^1024 - 2^970 overflows; a hair less does not */
    long below[60];
    for (int i = 0; i < 54; i++)
        below[i] = 1023 - i; /* 2^1024 - 2^970 */
    cr_assert(!round_pow2_sum(below, 54, &d));
    cr_assert_eq(d, INFINITY);
    cr_assert(round_pow2_sum(below, 53, &d));
    cr_assert_eq(d, DBL_MAX);
    below[53] = 969; /* DBL_MAX + a quarter ulp */
    cr_assert(round_pow2_sum(below, 54, &d));
    cr_assert_eq(d, DBL_MAX);
}

Test(oracle, sums_and_halves)
{
    struct oracle_sum s;
    double d;

    oracle_sum_init(&s);
    cr_assert(oracle_sum_round(&s, false, &d));
    cr_assert_eq(bits_of(d), 0);
    oracle_sum_add_sq(&s, 3.0);
    oracle_sum_add_sq_times(&s, -4.0, 2);
    cr_assert(oracle_sum_round(&s, false, &d));
    cr_assert_eq(d, 41.0);
    cr_assert(oracle_sum_round(&s, true, &d));
    cr_assert_eq(d, 20.5);
    oracle_sum_free(&s);

    oracle_sum_init(&s);
    oracle_sum_add_sq(&s, 0x1p-537); /* 2^-1074; half is a tie */
    cr_assert(oracle_sum_round(&s, false, &d));
    cr_assert_eq(d, 0x1p-1074);
    cr_assert(oracle_sum_round(&s, true, &d));
    cr_assert_eq(bits_of(d), 0);
    oracle_sum_add_sq(&s, DBL_MAX);
    cr_assert(!oracle_sum_round(&s, false, &d));
    cr_assert(!oracle_sum_round(&s, true, &d));
    oracle_sum_free(&s);

    uint64_t limb[3] = {5, 0, 1}; /* 2^128 + 5, times 2^-3 */
    oracle_sum_init(&s);
    oracle_sum_set_limbs(&s, limb, 3, -3);
    cr_assert(oracle_sum_round(&s, false, &d));
    cr_assert_eq(d, 0x1p125);
    oracle_sum_free(&s);
}

Test(oracle, round_dtype_hand_cases)
{
    cr_assert_eq(oracle_round_dtype(L2_DTYPE_FLOAT16, 65519.99), 65504.0);
    cr_assert_eq(oracle_round_dtype(L2_DTYPE_FLOAT16, 65520.0), INFINITY);
    cr_assert_eq(oracle_round_dtype(L2_DTYPE_FLOAT16, -65520.0), -INFINITY);
    cr_assert_eq(oracle_round_dtype(L2_DTYPE_FLOAT16, 0x1p-25), 0.0);
    cr_assert_eq(oracle_round_dtype(L2_DTYPE_FLOAT16, 0x1p-25 + 0x1p-40), 0x1p-24);
    cr_assert_eq(oracle_round_dtype(L2_DTYPE_FLOAT16, 3 * 0x1p-25), 0x1p-23);
    cr_assert_eq(bits_of(oracle_round_dtype(L2_DTYPE_FLOAT16, -0x1p-30)), bits_of(-0.0));
    cr_assert_eq(oracle_round_dtype(L2_DTYPE_BFLOAT16, 1 + 0x1p-8 + 0x1p-30), 1 + 0x1p-7);
    cr_assert_eq(oracle_round_dtype(L2_DTYPE_BFLOAT16, 1 + 0x1p-8), 1.0);
    cr_assert_eq(oracle_round_dtype(L2_DTYPE_FLOAT32, 0x1p128 - 0x1p103), INFINITY);
    cr_assert_eq(oracle_round_dtype(L2_DTYPE_FLOAT32, 0.1), (double)0.1f);
    cr_assert_eq(oracle_round_dtype(L2_DTYPE_FLOAT32, 0x1p-150), 0.0);
    cr_assert_eq(oracle_round_dtype(L2_DTYPE_FLOAT64, 0.1), 0.1);
    cr_assert(isnan(oracle_round_dtype(L2_DTYPE_FLOAT16, NAN)));
}
