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
#define DTYPE_ROW(id, name, bytes, ebits, fbits)                                                   \
    [L2_DTYPE_##                                                                                   \
        id] = {name, L2_##id##_BYTES, L2_##id##_FBITS + 1, 1 - L2_##id##_BIAS, L2_##id##_BIAS},
    L2_DTYPE_LIST(DTYPE_ROW)
#undef DTYPE_ROW
};

#define DTYPE_ROWS(id, name, bytes, ebits, fbits) +1
_Static_assert(0 L2_DTYPE_LIST(DTYPE_ROWS) == L2_DTYPE_COUNT,
               "L2_DTYPE_COUNT is the list's length");
#undef DTYPE_ROWS

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
    be = (int)((bits >> L2_FLOAT64_FBITS) & L2_FLOAT64_EALL);
    m = bits & ((UINT64_C(1) << L2_FLOAT64_FBITS) - 1);
    if (be) /* subnormals share the exponent of the smallest normals */
        m |= UINT64_C(1) << L2_FLOAT64_FBITS;
    e = (be ? be : 1) - L2_FLOAT64_BIAS - L2_FLOAT64_FBITS;

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
        unsigned ex = (h >> L2_FLOAT16_FBITS) & L2_FLOAT16_EALL;
        unsigned frac = h & ((1u << L2_FLOAT16_FBITS) - 1);
        double v;
        if (ex == L2_FLOAT16_EALL)
            v = frac ? NAN : INFINITY;
        else if (ex == 0)
            v = ldexp((double)frac, 1 - L2_FLOAT16_BIAS - L2_FLOAT16_FBITS);
        else
            v = ldexp((double)(frac | 1u << L2_FLOAT16_FBITS),
                      (int)ex - L2_FLOAT16_BIAS - L2_FLOAT16_FBITS);
        return (h >> L2_FLOAT16_SIGN) ? -v : v;
    }
    case L2_DTYPE_BFLOAT16: {
        /* the top half of a float32 */
        uint32_t u = (uint32_t)(p[0] | (unsigned)p[1] << 8)
                     << 8 * (L2_FLOAT32_BYTES - L2_BFLOAT16_BYTES);
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
