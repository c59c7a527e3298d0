/* dtype.c -- the element types l2d accepts: sizes, names, exact decoding and
 * one-step rounding of a double into a narrower IEEE type.
 *
 * Rounding works on the integer significand of the double: the target type is
 * described by its precision and exponent range, the bits below the target's
 * unit in the last place are dropped with round-half-to-even, once. */
#include "dtype.h"

#include <math.h>
#include <string.h>

/* Shape of a binary floating-point type: precision in bits (with the hidden
 * bit), exponent of the smallest normal and of the largest finite binade. */
struct dtype_info {
    const char *name;
    size_t size;
    int prec;
    int emin;
    int emax;
};

static const struct dtype_info dtype_table[L2_DTYPE_COUNT] = {
    [L2_DTYPE_FLOAT16] = {"float16", 2, 11, -14, 15},
    [L2_DTYPE_BFLOAT16] = {"bfloat16", 2, 8, -126, 127},
    [L2_DTYPE_FLOAT32] = {"float32", 4, 24, -126, 127},
    [L2_DTYPE_FLOAT64] = {"float64", 8, 53, -1022, 1023},
};

size_t l2_dtype_size(enum l2_dtype dtype)
{
    return dtype_table[dtype].size;
}

const char *l2_dtype_name(enum l2_dtype dtype)
{
    return dtype_table[dtype].name;
}

bool l2_dtype_from_name(const char *name, size_t len, enum l2_dtype *out)
{
    for (int i = 0; i < L2_DTYPE_COUNT; i++) {
        const char *n = dtype_table[i].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            *out = (enum l2_dtype)i;
            return true;
        }
    }
    return false;
}

double l2_dtype_round(enum l2_dtype dtype, double x)
{
    const struct dtype_info *t = &dtype_table[dtype];
    uint64_t bits, m;
    int be, e, ulp_e, k;
    double r;

    if (dtype == L2_DTYPE_FLOAT64 || x == 0.0 || !isfinite(x))
        return x;

    /* |x| = m * 2^e with m a 53-bit integer (or fewer bits if subnormal). */
    memcpy(&bits, &x, sizeof bits);
    be = (int)((bits >> 52) & 0x7ff);
    m = bits & ((UINT64_C(1) << 52) - 1);
    if (be == 0) {
        e = -1074;
    } else {
        m |= UINT64_C(1) << 52;
        e = be - 1075;
    }

    /* Exponent of the target's last place at the magnitude of x: floor(log2|x|)
     * is e + bitlength(m) - 1. */
    int top = e + (63 - __builtin_clzll(m));
    ulp_e = top - (t->prec - 1);
    if (ulp_e < t->emin - (t->prec - 1))
        ulp_e = t->emin - (t->prec - 1);

    k = ulp_e - e; /* bits of m below the target's last place */
    if (k <= 0) {
        r = fabs(x);
    } else if (k > 54) {
        r = 0.0; /* below half of the smallest subnormal of the target */
    } else {
        uint64_t q = m >> k;
        uint64_t rem = m - (q << k);
        uint64_t half = UINT64_C(1) << (k - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        r = ldexp((double)q, ulp_e);
    }
    if (r >= ldexp(1.0, t->emax + 1))
        r = INFINITY;
    return copysign(r, x);
}

double l2_dtype_load_le(enum l2_dtype dtype, const unsigned char *p)
{
    switch (dtype) {
    case L2_DTYPE_FLOAT16: {
        uint16_t h = (uint16_t)(p[0] | (unsigned)p[1] << 8);
        unsigned ex = (h >> 10) & 0x1f;
        unsigned frac = h & 0x3ff;
        double v;
        if (ex == 0)
            v = ldexp((double)frac, -24);
        else if (ex == 31)
            v = frac ? NAN : INFINITY;
        else
            v = ldexp((double)(frac | 0x400), (int)ex - 25);
        return (h & 0x8000) ? -v : v;
    }
    case L2_DTYPE_BFLOAT16: {
        uint32_t u = (uint32_t)(p[0] | (unsigned)p[1] << 8) << 16;
        float f;
        memcpy(&f, &u, sizeof f);
        return (double)f;
    }
    case L2_DTYPE_FLOAT32: {
        uint32_t u =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        float f;
        memcpy(&f, &u, sizeof f);
        return (double)f;
    }
    case L2_DTYPE_FLOAT64:
    default: {
        uint64_t u = 0;
        for (int i = 7; i >= 0; i--)
            u = u << 8 | p[i];
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    }
}
