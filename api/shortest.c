/* shortest.c -- doubles printed as Python's repr(float).
 *
 * The digits are the fewest that strtod reads back to the same bits, the
 * nearest to x among those of that length (Gay's shortest mode, which repr
 * uses), computed in integers without printf or strtod. */
#include "shortest.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "shortest_pow5.h"

/* The shortest decimal of a finite double is found as Ryu does (Ulf Adams,
 * "Ryu: fast float-to-string conversion", PLDI 2018), written here from the
 * paper: x = m2 * 2^e2 (with two extra bits, so that the halfway points to
 * its neighbours are integers too) has the rounding interval
 * [4*m2 - 1 - mm_shift, 4*m2 + 2] * 2^(e2-2); the three bounds are scaled
 * by a power of ten with one 64x128-bit product each (the 125-bit powers of
 * five of shortest_pow5.h), then digits are removed while the two ends of
 * the interval still differ, keeping the candidate nearest to x. Whether a
 * bound is exactly on a decimal (its removed digits all zero) matters only
 * for small exponents, where it is checked by divisibility. */

/* floor(log10(2^e)) for 0 <= e <= 1650, floor(log10(5^e)) for 0 <= e <=
 * 2620, and the bit length of 5^e for 0 <= e <= 3528: the usual integer
 * approximations, exact on those ranges. */
static int log10_pow2(int e)
{
    return (int)(((uint32_t)e * 78913u) >> 18);
}

static int log10_pow5(int e)
{
    return (int)(((uint32_t)e * 732923u) >> 20);
}

static int pow5_bits(int e)
{
    return (int)((((uint32_t)e * 1217359u) >> 19) + 1);
}

/* (m * mul) >> j for the 128-bit mul, j >= 64. */
static uint64_t mul_shift(uint64_t m, const uint64_t mul[2], int j)
{
    unsigned __int128 lo = (unsigned __int128)m * mul[0];
    unsigned __int128 hi = (unsigned __int128)m * mul[1];

    return (uint64_t)(((lo >> 64) + hi) >> (j - 64));
}

/* Whether 5^p divides v (v > 0). */
static bool divisible_by_pow5(uint64_t v, int p)
{
    int n = 0;

    while (v % 5 == 0) {
        v /= 5;
        n++;
    }
    return n >= p;
}

/* Drops the last decimal digit of the candidate and both bounds; returns
 * the candidate's. */
static unsigned drop_digit(uint64_t *vr, uint64_t *vp, uint64_t *vm)
{
    unsigned d = (unsigned)(*vr % 10);

    *vr /= 10;
    *vp /= 10;
    *vm /= 10;
    return d;
}

/* The shortest decimal digits*10^e10 that reads back as finite ax > 0,
 * nearest to ax among those of its length: digits in *out. */
static void shortest_decimal(double ax, uint64_t *out, int *e10_out)
{
    uint64_t bits, frac, m2, mv, vr, vp, vm;
    int biased, e2, e10, removed = 0;
    bool even, mm_shift, vm_zeros = false, vr_zeros = false;
    unsigned last = 0;

    memcpy(&bits, &ax, sizeof bits);
    frac = bits & ((UINT64_C(1) << 52) - 1);
    biased = (int)(bits >> 52);
    if (biased == 0) {
        m2 = frac;
        e2 = 1 - 1023 - 52 - 2;
    } else {
        m2 = frac | UINT64_C(1) << 52;
        e2 = biased - 1023 - 52 - 2;
    }
    even = (m2 & 1) == 0; /* the interval's ends read back as ax (round to even) */
    mv = 4 * m2;
    mm_shift = frac != 0 || biased <= 1; /* the lower neighbour is as far as the upper */

    if (e2 >= 0) {
        int q = log10_pow2(e2) - (e2 > 3);
        int j = -e2 + q + POW5_INV_BITS + pow5_bits(q) - 1;
        e10 = q;
        vr = mul_shift(mv, pow5_inv[q], j);
        vp = mul_shift(mv + 2, pow5_inv[q], j);
        vm = mul_shift(mv - 1 - mm_shift, pow5_inv[q], j);
        if (q <= 21) { /* the bounds may be exact multiples of 10^q */
            if (mv % 5 == 0)
                vr_zeros = divisible_by_pow5(mv, q);
            else if (even)
                vm_zeros = divisible_by_pow5(mv - 1 - mm_shift, q);
            else
                vp -= divisible_by_pow5(mv + 2, q);
        }
    } else {
        int q = log10_pow5(-e2) - (-e2 > 1);
        int i = -e2 - q;
        int j = q - (pow5_bits(i) - POW5_BITS);
        e10 = q + e2;
        vr = mul_shift(mv, pow5[i], j);
        vp = mul_shift(mv + 2, pow5[i], j);
        vm = mul_shift(mv - 1 - mm_shift, pow5[i], j);
        if (q <= 1) {
            vr_zeros = true;
            if (even)
                vm_zeros = mm_shift;
            else
                vp--;
        } else if (q < 63) {
            vr_zeros = (mv & ((UINT64_C(1) << q) - 1)) == 0;
        }
    }

    /* The last digit removed decides the rounding. Where a bound sits on a
     * decimal (rare), the digits removed from vr and vm must also be known
     * to be all zero, and the lower bound, when it is admissible, loses its
     * trailing zeros too. */
    if (vm_zeros || vr_zeros) {
        while (vp / 10 > vm / 10 || (vm_zeros && vm % 10 == 0)) {
            vm_zeros &= vm % 10 == 0;
            vr_zeros &= last == 0;
            last = drop_digit(&vr, &vp, &vm);
            removed++;
        }
        if (vr_zeros && last == 5 && vr % 2 == 0)
            last = 4; /* exactly halfway: round to even */
        *out = vr + ((vr == vm && (!even || !vm_zeros)) || last >= 5);
    } else {
        while (vp / 10 > vm / 10) {
            last = drop_digit(&vr, &vp, &vm);
            removed++;
        }
        *out = vr + (vr == vm || last >= 5);
    }
    *e10_out = e10 + removed;
}

/* The shortest significant digits (no trailing zeros) of finite ax > 0 that
 * strtod reads back as ax, the nearest to ax among those of that length,
 * and its decimal exponent: ax ~ d.ddd x 10^exp10. Returns the digit
 * count. */
static int shortest_digits(double ax, char digits[17], int *exp10)
{
    uint64_t v;
    int e10, n = 0;
    char rev[20];

    shortest_decimal(ax, &v, &e10);
    while (v % 10 == 0) { /* Ryu may keep zeros the interval did not remove */
        v /= 10;
        e10++;
    }
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (int i = 0; i < n; i++)
        digits[i] = rev[n - 1 - i];
    *exp10 = e10 + n - 1;
    return n;
}

size_t api_shortest_repr(double x, char buf[API_SHORTEST_MAX])
{
    char digits[17];
    size_t n = 0;
    int nd, e, i;

    if (isnan(x)) {
        memcpy(buf, "nan", 4);
        return 3;
    }
    if (signbit(x))
        buf[n++] = '-';
    if (isinf(x)) {
        memcpy(buf + n, "inf", 4);
        return n + 3;
    }
    if (x == 0.0) {
        memcpy(buf + n, "0.0", 4);
        return n + 3;
    }
    nd = shortest_digits(fabs(x), digits, &e);
    if (e >= -4 && e < 16) { /* repr's fixed notation */
        if (e >= 0) {
            for (i = 0; i <= e; i++)
                buf[n++] = i < nd ? digits[i] : '0';
            buf[n++] = '.';
            if (nd > e + 1) {
                for (i = e + 1; i < nd; i++)
                    buf[n++] = digits[i];
            } else {
                buf[n++] = '0';
            }
        } else {
            buf[n++] = '0';
            buf[n++] = '.';
            for (i = 0; i < -e - 1; i++)
                buf[n++] = '0';
            for (i = 0; i < nd; i++)
                buf[n++] = digits[i];
        }
        buf[n] = '\0';
    } else { /* scientific: d[.ddd]e+XX, at least two exponent digits */
        buf[n++] = digits[0];
        if (nd > 1) {
            buf[n++] = '.';
            for (i = 1; i < nd; i++)
                buf[n++] = digits[i];
        }
        n += (size_t)snprintf(buf + n, API_SHORTEST_MAX - n, "e%c%02d", e < 0 ? '-' : '+',
                              e < 0 ? -e : e);
    }
    return n;
}
