/* test_accum_norm.c -- l2_accum_norm, the correctly rounded square root of
 * the exact sum, against MPFR (tests/support/oracle_norm.c) and against
 * answers known by construction: random sums of every dtype, sums built from
 * real elements to sit on or next to a midpoint of two doubles, sums set limb
 * by limb at every scale, single elements (exhaustively for the 16-bit
 * types), the example of the issue, zero and overflow. */
#include <criterion/criterion.h>

#include <float.h>
#include <gmp.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/accum.h"
#include "tests/support/oracle.h"
#include "tests/support/oracle_norm.h"
#include "tests/support/bits.h"
#include "tests/support/core_bits.h"

CORE_BITS_RNG(0x2545f4914f6cdd1du);

/* The bits of v, a value of dtype t (checked by decoding them again). */
static uint64_t encode(enum l2_dtype t, double v)
{
    struct l2_dtype_layout l = l2_dtype_layout(t);
    double a = fabs(v);
    uint64_t u = 0, f;
    unsigned char b[8];
    int e = ilogb(a);

    if (a == 0) {
        u = 0;
    } else if (e < 1 - (int)l.bias) { /* subnormal */
        f = (uint64_t)ldexp(a, (int)l.bias - 1 + (int)l.fbits);
        u = f;
    } else {
        f = (uint64_t)ldexp(a, (int)l.fbits - e) - (UINT64_C(1) << l.fbits);
        u = (uint64_t)(e + (int)l.bias) << l.fbits | f;
    }
    if (signbit(v))
        u |= UINT64_C(1) << l.sign;
    put_bits(t, b, 0, u);
    cr_assert_eq(bits_of(l2_dtype_load_le(t, b)), bits_of(v), "%a is not a %s", v,
                 l2_dtype_name(t));
    return u;
}

/* Norm by the kernel and by the oracle of the same sum: same bits, same
 * status. */
static void check_norm(const struct l2_accum *acc, const struct oracle_sum *o, const char *what)
{
    double got = 0, want = 0;
    bool ok = oracle_sum_norm(o, &want);
    enum l2_status st = l2_accum_norm(acc, &got);

    cr_assert_eq(st, ok ? L2_OK : L2_OVERFLOW, "%s: status %d", what, (int)st);
    cr_assert_eq(bits_of(got), bits_of(want), "%s: norm %a, oracle %a", what, got, want);
}

Test(accum_norm, example_of_the_issue)
{
    const double x[3] = {1.6798169442364372, 2.2470791048068595, 1.7872387271793961};
    struct l2_accum acc;
    struct oracle_sum o;
    double sum, norm;

    l2_accum_init(&acc);
    oracle_sum_init(&o);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(l2_accum_add(&acc, x[i]), L2_OK);
        oracle_sum_add_sq(&o, x[i]);
    }
    cr_assert_eq(l2_accum_sum(&acc, &sum), L2_OK);
    cr_assert_eq(l2_accum_norm(&acc, &norm), L2_OK);
    cr_assert_eq(norm, 3.326465351891293, "%.17g", norm);
    cr_assert_eq(sqrt(sum), 3.3264653518912937); /* the old answer, one ulp off */
    check_norm(&acc, &o, "issue");
    oracle_sum_free(&o);
}

Test(accum_norm, zero_empty_and_overflow)
{
    struct l2_accum acc;
    double norm = 1;

    l2_accum_init(&acc);
    cr_assert_eq(l2_accum_norm(&acc, &norm), L2_OK);
    cr_assert_eq(bits_of(norm), bits_of(0.0));
    l2_accum_add(&acc, -0.0);
    l2_accum_add(&acc, 0.0);
    cr_assert_eq(l2_accum_norm(&acc, &norm), L2_OK);
    cr_assert_eq(bits_of(norm), bits_of(0.0));

    /* the sum overflows, as in l2_accum_sum: +inf and L2_OVERFLOW */
    l2_accum_add(&acc, DBL_MAX);
    cr_assert_eq(l2_accum_norm(&acc, &norm), L2_OVERFLOW);
    cr_assert_eq(norm, INFINITY);
    l2_accum_init(&acc);
    l2_accum_add(&acc, 0x1p512); /* 2^1024 */
    cr_assert_eq(l2_accum_norm(&acc, &norm), L2_OVERFLOW);
    /* 2^1023, and 2^1024 - 2^972 + 2^918 (rounds to a double below 2^1024) */
    l2_accum_init(&acc);
    l2_accum_add(&acc, 0x1p511);
    l2_accum_add(&acc, 0x1p511);
    cr_assert_eq(l2_accum_norm(&acc, &norm), L2_OK);
    cr_assert_eq(norm, 0x1.6a09e667f3bcdp511); /* sqrt(2), rounded, * 2^511 */
    l2_accum_init(&acc);
    for (int i = 0; i < 4; i++)
        l2_accum_add(&acc, 0x1.fffffffffffffp510);
    cr_assert_eq(l2_accum_norm(&acc, &norm), L2_OK);
    cr_assert_eq(norm, 0x1.fffffffffffffp511);
}

/* The tie of the contract: [2^53, 2^27, 1] * 2^j sums to ((2^53 + 1) 2^j)^2,
 * halfway between 2^(53+j) and (2^53 + 2) 2^j: the even 2^(53+j). A tiny
 * element more goes up; the last element one ulp smaller goes down. At every
 * scale where the elements and the sum are float64 (the lowest is a tie in
 * the binade of 2^-1021). */
Test(accum_norm, tie_at_every_scale)
{
    for (int j = -1074; j <= 458; j++) {
        double x[4] = {ldexp(1, 53 + j), ldexp(1, 27 + j), ldexp(1, j), 0x1p-1074};
        double up = ldexp(0x1p53 + 2, j), down = ldexp(1, 53 + j), norm;
        struct l2_accum acc;

        l2_accum_init(&acc);
        cr_assert_eq(l2_accum_feed(&acc, L2_DTYPE_FLOAT64, x, 3, NULL), L2_OK);
        cr_assert_eq(l2_accum_norm(&acc, &norm), L2_OK);
        cr_assert_eq(norm, down, "j=%d: %a", j, norm);
        cr_assert_eq(l2_accum_feed(&acc, L2_DTYPE_FLOAT64, x + 3, 1, NULL), L2_OK);
        cr_assert_eq(l2_accum_norm(&acc, &norm), L2_OK);
        cr_assert_eq(norm, up, "j=%d +tiny: %a", j, norm);

        x[2] = nextafter(x[2], 0);
        l2_accum_init(&acc);
        cr_assert_eq(l2_accum_feed(&acc, L2_DTYPE_FLOAT64, x, 3, NULL), L2_OK);
        cr_assert_eq(l2_accum_norm(&acc, &norm), L2_OK);
        cr_assert_eq(norm, down, "j=%d -tiny: %a", j, norm);
    }
}

/* Three float64 elements whose squares sum to a midpoint of two doubles
 * M 2^k and (M + 1) 2^k: with M = j^2, (M 2^k)^2 + (j 2^k)^2 + (2^(k-1))^2 =
 * ((2M + 1) 2^(k-1))^2. Odd and even M, at random scales, and a hair above
 * and below. */
Test(accum_norm, random_float64_ties)
{
    struct oracle_sum o;

    oracle_sum_init(&o);
    for (int i = 0; i < 1000000; i++) {
        uint64_t j = (UINT64_C(1) << 26) + rnd() % UINT64_C(27797401); /* j^2 < 2^53 */
        uint64_t m = j * j;
        int k = -1073 + (int)(rnd() % 1532);
        double x[4] = {ldexp((double)m, k), ldexp((double)j, k), ldexp(1, k - 1), 0x1p-1074};
        double want[3] = {ldexp((double)(m + (m & 1)), k), ldexp((double)(m + 1), k),
                          ldexp((double)m, k)};
        int v = i % 3; /* 0: tie, 1: a hair above, 2: a hair below */
        struct l2_accum acc;
        double norm;

        cr_assert_lt(m, UINT64_C(1) << 53);
        if (v == 2)
            x[2] = nextafter(x[2], 0);
        l2_accum_init(&acc);
        cr_assert_eq(l2_accum_feed(&acc, L2_DTYPE_FLOAT64, x, v == 1 ? 4 : 3, NULL), L2_OK);
        cr_assert_eq(l2_accum_norm(&acc, &norm), L2_OK);
        cr_assert_eq(norm, want[v], "m=%llu k=%d case %d: %a, want %a", (unsigned long long)m, k, v,
                     norm, want[v]);
        if (i % 16 == 0) {
            mpfr_set_zero(o.v, 1);
            for (int e = 0; e < (v == 1 ? 4 : 3); e++)
                oracle_sum_add_sq(&o, x[e]);
            check_norm(&acc, &o, "float64 tie");
        }
    }
    oracle_sum_free(&o);
}

/* ---- sums of real elements of any dtype next to a midpoint -------------- */

/* Elements of a sum, as values with multiplicities. */
struct terms {
    double x[4096];
    unsigned long times[4096];
    size_t n, count;
};

/* Writes T (in units of 2^(2 L2_ACCUM_LSB_EXP / 2) = 2^-2148) as a sum of
 * squares of dtype t, greedily: each time the largest value of t whose square
 * is at most what is left. Returns false if that takes too many elements. */
static bool decompose(enum l2_dtype t, const mpz_t target, struct terms *out)
{
    struct l2_dtype_layout l = l2_dtype_layout(t);
    const int p = (int)l.fbits + 1, tiny = 1074 - ((int)l.bias - 1 + (int)l.fbits);
    mpz_t r, y, xmax;
    bool ok = true;

    mpz_inits(r, y, xmax, NULL);
    mpz_set(r, target);
    /* the largest finite value in units of 2^-1074 */
    mpz_set_ui(xmax, 1);
    mpz_mul_2exp(xmax, xmax, (mp_bitcnt_t)p);
    mpz_sub_ui(xmax, xmax, 1);
    mpz_mul_2exp(xmax, xmax, (mp_bitcnt_t)((int)l.bias - (int)l.fbits + 1074));
    out->n = out->count = 0;
    while (mpz_sgn(r) > 0) {
        long ex;
        mpz_sqrt(y, r);
        int step = (int)mpz_sizeinbase(y, 2) - p;
        if (step < tiny)
            step = tiny;
        mpz_fdiv_q_2exp(y, y, (mp_bitcnt_t)step);
        mpz_mul_2exp(y, y, (mp_bitcnt_t)step);
        if (mpz_cmp(y, xmax) > 0)
            mpz_set(y, xmax);
        cr_assert(mpz_sgn(y) > 0);
        double d = mpz_get_d_2exp(&ex, y); /* exact: y has at most p bits */
        double x = ldexp(d, (int)ex - 1074);
        mpz_mul(y, y, y);
        mpz_sub(r, r, y);
        if (out->n && out->x[out->n - 1] == x) {
            out->times[out->n - 1]++;
        } else if (out->n < 4096) {
            out->x[out->n] = x;
            out->times[out->n++] = 1;
        } else {
            ok = false;
            break;
        }
        if (++out->count > 100000) {
            ok = false;
            break;
        }
    }
    mpz_clears(r, y, xmax, NULL);
    return ok;
}

/* Feeds the terms as elements of t (shuffled within a buffer, signs random)
 * into a fresh acc, and into the oracle. */
static void feed_terms(enum l2_dtype t, const struct terms *tm, struct l2_accum *acc,
                       struct oracle_sum *o)
{
    size_t w = l2_dtype_size(t), at = 0;
    unsigned char *buf = malloc(tm->count * w);

    cr_assert_not_null(buf);
    mpfr_set_zero(o->v, 1);
    for (size_t i = 0; i < tm->n; i++) {
        oracle_sum_add_sq_times(o, tm->x[i], tm->times[i]);
        for (unsigned long k = 0; k < tm->times[i]; k++)
            put_bits(t, buf, at++, encode(t, rnd() & 1 ? -tm->x[i] : tm->x[i]));
    }
    for (size_t i = at; i > 1; i--) { /* order does not matter: shuffle */
        size_t j = rnd() % i;
        unsigned char tmp[8];
        memcpy(tmp, buf + (i - 1) * w, w);
        memcpy(buf + (i - 1) * w, buf + j * w, w);
        memcpy(buf + j * w, tmp, w);
    }
    l2_accum_init(acc);
    cr_assert_eq(l2_accum_feed(acc, t, buf, at, NULL), L2_OK);
    free(buf);
}

/* Result exponents E (floor(log2 norm)) to try per dtype: where a sum of
 * few elements of the type reaches, and both where exact ties are possible
 * and where they are not (the type's smallest square is too coarse, or the
 * result lies below 2^-1021). */
static int random_exponent(enum l2_dtype t)
{
    switch (t) {
    case L2_DTYPE_FLOAT16:
        return 3 + (int)(rnd() % 16);
    case L2_DTYPE_BFLOAT16:
        return -100 + (int)(rnd() % 231);
    case L2_DTYPE_FLOAT32:
        return -120 + (int)(rnd() % 251);
    default:
        return -1074 + (int)(rnd() % 1585);
    }
}

/* For every dtype: a random midpoint mid = (M + 1/2) 2^k of two doubles, and
 * the sums of squares of real elements nearest mid^2 on each side (and mid^2
 * itself when the type can make it): the kernel must round them to M 2^k,
 * (M + 1) 2^k, or the even one of them. */
Test(accum_norm, next_to_midpoints_every_dtype)
{
    struct terms *tm = malloc(sizeof *tm);
    struct oracle_sum o;
    mpz_t mid4, g, q, t4;
    long ties = 0;

    cr_assert_not_null(tm);
    oracle_sum_init(&o);
    mpz_inits(mid4, g, q, t4, NULL);
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        struct l2_dtype_layout l = l2_dtype_layout(t);
        int tiny = 1074 - ((int)l.bias - 1 + (int)l.fbits); /* smallest value, in units */

        for (int i = 0; i < 3000; i++) {
            int e = random_exponent(t), k;
            uint64_t m;
            if (e >= -1022) {
                k = e - 52 + 1074; /* grid step 2^k units of 2^-1074 */
                m = (UINT64_C(1) << 52) | (rnd() >> 12);
            } else {
                k = 0;
                m = (UINT64_C(1) << (e + 1074)) | (rnd() & ((UINT64_C(1) << (e + 1074)) - 1));
            }
            /* 4 mid^2 = (2M + 1)^2 4^k, and the type's smallest square g */
            mpz_set_ui(mid4, m);
            mpz_mul_2exp(mid4, mid4, 1);
            mpz_add_ui(mid4, mid4, 1);
            mpz_mul(mid4, mid4, mid4);
            mpz_mul_2exp(mid4, mid4, (mp_bitcnt_t)(2 * k));
            mpz_set_ui(g, 1);
            mpz_mul_2exp(g, g, (mp_bitcnt_t)(2 * tiny));
            mpz_mul_2exp(q, g, 2);
            mpz_fdiv_q(q, mid4, q);
            mpz_mul(q, q, g); /* the largest multiple of g at or below mid^2 */
            mpz_mul_2exp(t4, q, 2);
            bool exact = mpz_cmp(t4, mid4) == 0;
            if (exact)
                mpz_sub(q, q, g);
            for (int v = 0; v < (exact ? 3 : 2); v++, mpz_add(q, q, g)) {
                struct l2_accum acc;
                double norm;
                mpz_mul_2exp(t4, q, 2);
                int c = mpz_cmp(t4, mid4);
                uint64_t want_m = c < 0 ? m : c > 0 ? m + 1 : m + (m & 1);
                double want = ldexp((double)want_m, k - 1074);
                if (mpz_sgn(q) <= 0 || !decompose(t, q, tm))
                    continue;
                feed_terms(t, tm, &acc, &o);
                cr_assert_eq(l2_accum_norm(&acc, &norm), L2_OK);
                cr_assert_eq(norm, want, "%s E=%d M=%llu side %d: %a, want %a", l2_dtype_name(t), e,
                             (unsigned long long)m, c, norm, want);
                check_norm(&acc, &o, l2_dtype_name(t));
                ties += c == 0;
            }
        }
    }
    cr_assert_gt(ties, 1000); /* exact ties were among them */
    mpz_clears(mid4, g, q, t4, NULL);
    oracle_sum_free(&o);
    free(tm);
}

/* ---- random sums --------------------------------------------------------- */

/* Random finite bits of t: any exponent field (1 in 4), or within +-10
 * binades of 1.0, with 1 in 16 subnormal. */
static uint64_t random_finite(enum l2_dtype t)
{
    struct l2_dtype_layout l = l2_dtype_layout(t);
    uint64_t f = rnd() & ((UINT64_C(1) << l.fbits) - 1), s = rnd() & 1, e;

    switch (rnd() % 16) {
    case 0:
        e = 0;
        break;
    case 1:
    case 2:
    case 3:
    case 4:
        e = rnd() % l.eall;
        break;
    default:
        e = l.bias - 10 + rnd() % 21;
        break;
    }
    return s << l.sign | e << l.fbits | f;
}

/* A million random sums of 1 to 8 elements of t against MPFR; returns how
 * often the root of the rounded sum was wrong. */
static long random_sums(enum l2_dtype t)
{
    struct oracle_sum o;
    unsigned char buf[64];
    size_t w = l2_dtype_size(t);
    long naive_wrong = 0;

    oracle_sum_init(&o);
    for (int i = 0; i < 1000000; i++) {
        size_t n = 1 + rnd() % 8;
        struct l2_accum acc;
        double norm, sum, want;
        bool ok;
        mpfr_set_zero(o.v, 1);
        for (size_t k = 0; k < n; k++) {
            put_bits(t, buf, k, random_finite(t));
            oracle_sum_add_sq(&o, l2_dtype_load_le(t, buf + k * w));
        }
        l2_accum_init(&acc);
        cr_assert_eq(l2_accum_feed(&acc, t, buf, n, NULL), L2_OK);
        ok = oracle_sum_norm(&o, &want);
        cr_assert_eq(l2_accum_norm(&acc, &norm), ok ? L2_OK : L2_OVERFLOW);
        cr_assert_eq(bits_of(norm), bits_of(want), "%s n=%zu: %a, oracle %a", l2_dtype_name(t), n,
                     norm, want);
        l2_accum_sum(&acc, &sum);
        naive_wrong += ok && sqrt(sum) != norm;
    }
    oracle_sum_free(&o);
    return naive_wrong;
}

Test(accum_norm, random_sums_float16)
{
    random_sums(L2_DTYPE_FLOAT16);
}

Test(accum_norm, random_sums_bfloat16)
{
    random_sums(L2_DTYPE_BFLOAT16);
}

Test(accum_norm, random_sums_float32)
{
    random_sums(L2_DTYPE_FLOAT32);
}

/* Here the root of the rounded sum is wrong on many: the test sees the old
 * bug. */
Test(accum_norm, random_sums_float64)
{
    cr_assert_gt(random_sums(L2_DTYPE_FLOAT64), 10000);
}

/* ---- sums set limb by limb ------------------------------------------------ */

static void set_limbs(struct l2_accum *acc, const mpz_t n)
{
    size_t count = 0;

    l2_accum_init(acc);
    cr_assert_leq(mpz_sizeinbase(n, 2), 64 * L2_ACCUM_LIMBS);
    mpz_export(acc->limb, &count, -1, sizeof acc->limb[0], 0, 0, n);
}

/* Every grid step 2^k of the result from the finest (k = 0, no ties) to the
 * largest sums that fit: N = (2M + 1)^2 4^(k-1) (a tie), and one unit of
 * 2^-2148 above and below; for k = 0 the integers on each side of
 * (2M + 1)^2 / 4. Also random N of every length. */
Test(accum_norm, limbs_at_every_scale)
{
    struct oracle_sum o;
    mpz_t n, mid4;
    struct l2_accum acc;

    oracle_sum_init(&o);
    mpz_inits(n, mid4, NULL);
    for (int k = 0; k <= 1534; k++) {
        for (int r = 0; r < 20; r++) {
            uint64_t m = k ? (UINT64_C(1) << 52) | (rnd() >> 12) : 1 + (rnd() >> 12);
            mpz_set_ui(mid4, m);
            mpz_mul_2exp(mid4, mid4, 1);
            mpz_add_ui(mid4, mid4, 1);
            mpz_mul(mid4, mid4, mid4);
            mpz_mul_2exp(mid4, mid4, (mp_bitcnt_t)(2 * k)); /* 4 mid^2 */
            mpz_fdiv_q_2exp(n, mid4, 2);
            mpz_sub_ui(n, n, 1);
            for (int v = 0; v < 3; v++, mpz_add_ui(n, n, 1)) {
                double norm, want;
                mpz_t n4;
                mpz_init(n4);
                mpz_mul_2exp(n4, n, 2);
                int c = mpz_cmp(n4, mid4);
                mpz_clear(n4);
                uint64_t want_m = c < 0 ? m : c > 0 ? m + 1 : m + (m & 1);
                set_limbs(&acc, n);
                enum l2_status st = l2_accum_norm(&acc, &norm);
                if (k >= 1533) { /* sums near 2^1024 and beyond: the oracle says */
                    oracle_sum_set_limbs(&o, acc.limb, L2_ACCUM_LIMBS, L2_ACCUM_LSB_EXP);
                    check_norm(&acc, &o, "limbs near overflow");
                    continue;
                }
                want = ldexp((double)want_m, k - 1074);
                cr_assert_eq(st, L2_OK);
                cr_assert_eq(norm, want, "k=%d M=%llu side %d: %a, want %a", k,
                             (unsigned long long)m, c, norm, want);
                if (r == 0) {
                    oracle_sum_set_limbs(&o, acc.limb, L2_ACCUM_LIMBS, L2_ACCUM_LSB_EXP);
                    check_norm(&acc, &o, "limbs");
                }
            }
        }
    }
    for (int i = 0; i < 1000000; i++) {
        unsigned bits = 1 + (unsigned)(rnd() % 3200);
        l2_accum_init(&acc);
        for (unsigned b = 0; b < bits; b += 64)
            acc.limb[b / 64] = rnd();
        if (bits % 64)
            acc.limb[bits / 64] &= (UINT64_C(1) << (bits % 64)) - 1;
        if (rnd() % 4 == 0) /* long runs of ones or zeros below the top */
            for (unsigned b = 0; b + 64 < bits; b += 64)
                acc.limb[b / 64] = rnd() & 1 ? UINT64_MAX : 0;
        oracle_sum_set_limbs(&o, acc.limb, L2_ACCUM_LIMBS, L2_ACCUM_LSB_EXP);
        check_norm(&acc, &o, "random limbs");
    }
    mpz_clears(n, mid4, NULL);
    oracle_sum_free(&o);
}

/* ---- single elements --------------------------------------------------- */

/* The norm of one element is its magnitude and of four copies twice that,
 * for every float16 and bfloat16 and a million float32 and float64 (whose
 * squares overflow above 2^512: then L2_OVERFLOW, as the sum). */
Test(accum_norm, single_elements_exactly)
{
    for (int ti = 0; ti < 4; ti++) {
        enum l2_dtype t = all_types[ti];
        size_t w = l2_dtype_size(t);
        long n = w == 2 ? 65536 : 1000000;
        for (long i = 0; i < n; i++) {
            uint64_t u = w == 2 ? (uint64_t)i : rnd();
            unsigned char buf[32];
            struct l2_accum acc;
            double x, norm, sum;
            if (w == 4)
                u &= 0xffffffff;
            put_bits(t, buf, 0, u);
            x = fabs(l2_dtype_load_le(t, buf));
            if (!isfinite(x))
                continue;
            l2_accum_init(&acc);
            cr_assert_eq(l2_accum_feed(&acc, t, buf, 1, NULL), L2_OK);
            enum l2_status st = l2_accum_norm(&acc, &norm);
            cr_assert_eq(st, l2_accum_sum(&acc, &sum));
            if (st != L2_OK)
                continue;
            cr_assert_eq(norm, x, "%s %a: %a", l2_dtype_name(t), x, norm);
            for (int k = 1; k < 4; k++)
                put_bits(t, buf, (size_t)k, u);
            l2_accum_init(&acc);
            cr_assert_eq(l2_accum_feed(&acc, t, buf, 4, NULL), L2_OK);
            if (l2_accum_norm(&acc, &norm) == L2_OK)
                cr_assert_eq(norm, 2 * x, "%s 4 x %a: %a", l2_dtype_name(t), x, norm);
        }
    }
}
