/* accum_round.c -- reading results from the exact sum: rounded once.
 *
 * The sum is the integer N of the limbs times 2^L2_ACCUM_LSB_EXP. The sum and
 * its half round N's top bits with a sticky bit; the norm finds the nearest
 * double to sqrt(N) by comparing N, exactly, with the squares of midpoints. */
#include "accum.h"
#include "accum_impl.h"

#include <math.h>

_Static_assert(L2_ACCUM_LSB_EXP % 2 == 0, "sqrt(N * 2^LSB_EXP) = sqrt(N) * 2^(LSB_EXP / 2)");

/* Index of the top set bit of the sum, -1 when it is zero. */
static int accum_top(const struct l2_accum *acc)
{
    for (int i = L2_ACCUM_LIMBS - 1; i >= 0; i--)
        if (acc->limb[i])
            return 64 * i + 63 - __builtin_clzll(acc->limb[i]);
    return -1;
}

/* Bit i of the fixed-point sum (0 beyond either end). */
static uint64_t accum_bit(const struct l2_accum *acc, int i)
{
    if (i < 0 || i >= 64 * L2_ACCUM_LIMBS)
        return 0;
    return acc->limb[i >> 6] >> (i & 63) & 1;
}

/* Bits [lo, lo + 64) of the fixed-point sum, lo >= 0. */
static uint64_t accum_bits64(const struct l2_accum *acc, int lo)
{
    int i = lo >> 6, b = lo & 63;
    uint64_t r = i < L2_ACCUM_LIMBS ? acc->limb[i] >> b : 0;

    if (b && i + 1 < L2_ACCUM_LIMBS)
        r |= acc->limb[i + 1] << (64 - b);
    return r;
}

/* Whether any bit below bit i is set. */
static bool accum_any_below(const struct l2_accum *acc, int i)
{
    int k;

    if (i <= 0)
        return false;
    for (k = 0; k < (i >> 6); k++)
        if (acc->limb[k])
            return true;
    return (i & 63) && (acc->limb[k] & ((UINT64_C(1) << (i & 63)) - 1));
}

/* Rounds the sum times 2^-extra to float64 once: top 53 bits (fewer in the
 * subnormal range), half to even with a sticky bit. */
static enum l2_status accum_round(const struct l2_accum *acc, int extra, double *out)
{
    const int scale = L2_ACCUM_LSB_EXP - extra; /* weight of bit 0 */
    int top = accum_top(acc);
    int ulp, q;
    uint64_t m;

    if (top < 0) {
        *out = 0.0;
        return L2_OK;
    }
    ulp = top + scale - 52;
    if (ulp < -1074)
        ulp = -1074;
    q = ulp - scale; /* index of the result's last place; >= 1074 */
    m = accum_bits64(acc, q) & ((UINT64_C(1) << 54) - 1);
    if (accum_bit(acc, q - 1) && ((m & 1) || accum_any_below(acc, q - 1)))
        m++;
    if (m && ulp + (64 - __builtin_clzll(m)) > 1024) {
        *out = INFINITY;
        return L2_OVERFLOW;
    }
    *out = ldexp((double)m, ulp);
    return L2_OK;
}

enum l2_status l2_accum_sum(const struct l2_accum *acc, double *out)
{
    return accum_round(acc, 0, out);
}

enum l2_status l2_accum_half(const struct l2_accum *acc, double *out)
{
    return accum_round(acc, 1, out);
}

/* The sign (-1, 0, 1) of N - v * 2^s, exactly; s >= -2, v < 2^126, top the
 * index of N's top bit. */
static int accum_cmp(const struct l2_accum *acc, int top, l2_accum_u128 v, int s)
{
    l2_accum_u128 w;
    bool frac = false; /* v * 2^s has a fraction below 1 */

    if (s < 0) {
        frac = (v & ((1u << -s) - 1)) != 0;
        v >>= -s;
        s = 0;
    }
    if (top >= s + 128)
        return 1;
    w = (l2_accum_u128)accum_bits64(acc, s + 64) << 64 | accum_bits64(acc, s);
    if (w != v)
        return w > v ? 1 : -1;
    if (accum_any_below(acc, s))
        return 1;
    return frac ? -1 : 0;
}

/* sqrt(N) = sqrt(N) * 2^(LSB_EXP / 2) in units u = 2^-1074, the step of
 * float64's finest grid. With E = floor(log2 sqrt(N)) = floor(top / 2), the
 * result's grid has step 2^k, k = max(0, E - 52), and the answer is M * 2^k
 * for the integer M nearest sqrt(N) / 2^k (M <= 2^53, so M * 2^k is a double,
 * and M's parity is the parity of its last significand bit). M is right when
 * (M - 1/2)^2 4^k <= N <= (M + 1/2)^2 4^k, that is when N lies between the
 * integers (2M - 1)^2 4^(k-1) and (2M + 1)^2 4^(k-1) (four times both when
 * k = 0); each is a 110-bit number shifted, compared with N exactly.
 *
 * N equal to a bound is a tie (the root is a midpoint of two doubles). It
 * cannot happen for k = 0, where 4N is even and (2M + 1)^2 odd, but it does
 * above 2^-1021: [2^53, 2^27, 1] has the exact sum 2^106 + 2^54 + 1 = (2^53 +
 * 1)^2, whose root lies halfway between 2^53 and 2^53 + 2. Ties go to even.
 *
 * The first M comes from the root of N's top 64 bits, within a few units of
 * the answer (the rounded sum would not do: below 2^-1022 it has lost the
 * bits the root keeps). */
enum l2_status l2_accum_norm(const struct l2_accum *acc, double *out)
{
    int top = accum_top(acc), e, k;
    enum l2_status st;
    uint64_t m;
    double sum;

    st = accum_round(acc, 0, &sum);
    if (st != L2_OK || top < 0) {
        *out = sum; /* +inf on overflow, 0.0 for an empty sum */
        return st;
    }
    k = top / 2 > 52 ? top / 2 - 52 : 0;
    e = top > 63 ? (top - 62) & ~1 : 0; /* even, N >> e has 63 or 64 bits */
    m = (uint64_t)llround(ldexp(sqrt((double)accum_bits64(acc, e)), e / 2 - k));
    if (m < 1)
        m = 1;
    if (m > UINT64_C(1) << 53)
        m = UINT64_C(1) << 53;
    for (;;) {
        l2_accum_u128 up = 2 * (l2_accum_u128)m + 1, lo = up - 2;
        int c = accum_cmp(acc, top, up * up, 2 * k - 2);

        if (c > 0) {
            m++;
            continue;
        }
        if (c == 0) { /* halfway to m + 1 */
            m += m & 1;
            break;
        }
        c = accum_cmp(acc, top, lo * lo, 2 * k - 2);
        if (c < 0) {
            m--;
            continue;
        }
        if (c == 0) /* halfway to m - 1 */
            m -= m & 1;
        break;
    }
    *out = ldexp((double)m, k + L2_ACCUM_LSB_EXP / 2);
    return L2_OK;
}
