/* dtype.h -- the element types l2d accepts and exact conversions between them.
 *
 * Every supported type (float16, bfloat16, float32, float64) is a subset of
 * float64, so an element is always carried as a double once decoded. Rounding
 * a double into a narrower type is done in one step (never through float32),
 * so the result is the nearest value of that type, ties to even. */
#ifndef L2_DTYPE_H
#define L2_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The one list of element types, in enum order: X(ID, name, bytes, exponent
 * bits, fraction bits). Each is an IEEE binary format: the fraction in the low
 * bits, the exponent field above it, the sign on top. The enum, the names, the
 * sizes and every bit layout below come from it. */
#define L2_DTYPE_LIST(X)                                                                           \
    X(FLOAT16, "float16", 2, 5, 10)                                                                \
    X(BFLOAT16, "bfloat16", 2, 8, 7)                                                               \
    X(FLOAT32, "float32", 4, 8, 23)                                                                \
    X(FLOAT64, "float64", 8, 11, 52)

enum l2_dtype {
#define L2_DTYPE_ENUM(id, name, bytes, ebits, fbits) L2_DTYPE_##id,
    L2_DTYPE_LIST(L2_DTYPE_ENUM)
#undef L2_DTYPE_ENUM
};

#define L2_DTYPE_COUNT 4

/* Bit layouts as integer constants, for kernels that specialize on them:
 * L2_<ID>_BYTES, _EBITS (exponent field width), _FBITS (fraction width, the
 * hidden bit excluded), _BIAS (a normal value is 1.f * 2^(field - bias)),
 * _EALL (the all-ones field of NaN and infinity), _SIGN (bit of the sign). */
enum {
#define L2_DTYPE_LAYOUT(id, name, bytes, ebits, fbits)                                             \
    L2_##id##_BYTES = (bytes), L2_##id##_EBITS = (ebits), L2_##id##_FBITS = (fbits),               \
    L2_##id##_BIAS = (1 << ((ebits)-1)) - 1, L2_##id##_EALL = (1 << (ebits)) - 1,                  \
    L2_##id##_SIGN = (ebits) + (fbits),
    L2_DTYPE_LIST(L2_DTYPE_LAYOUT)
#undef L2_DTYPE_LAYOUT
};

/* The same layout for a dtype known only at run time. */
struct l2_dtype_layout {
    unsigned bytes, ebits, fbits, bias, eall, sign;
};

/* The bit layout of dtype (constant-folded when dtype is a constant). */
static inline struct l2_dtype_layout l2_dtype_layout(enum l2_dtype dtype)
{
    switch (dtype) {
#define L2_DTYPE_CASE(id, name, bytes, ebits, fbits)                                               \
    case L2_DTYPE_##id:                                                                            \
        return (struct l2_dtype_layout){L2_##id##_BYTES, L2_##id##_EBITS, L2_##id##_FBITS,         \
                                        L2_##id##_BIAS,  L2_##id##_EALL,  L2_##id##_SIGN};
        L2_DTYPE_LIST(L2_DTYPE_CASE)
#undef L2_DTYPE_CASE
    }
    return (struct l2_dtype_layout){L2_FLOAT64_BYTES, L2_FLOAT64_EBITS, L2_FLOAT64_FBITS,
                                    L2_FLOAT64_BIAS,  L2_FLOAT64_EALL,  L2_FLOAT64_SIGN};
}

/* Bytes per element of dtype (2, 2, 4 or 8). */
size_t l2_dtype_size(enum l2_dtype dtype);

/* The API name of dtype: "float16", "bfloat16", "float32", "float64". */
const char *l2_dtype_name(enum l2_dtype dtype);

/* Looks up an API name of len bytes (not NUL-terminated). Returns false and
 * leaves *out alone when name is not one of the four. */
bool l2_dtype_from_name(const char *name, size_t len, enum l2_dtype *out);

/* Rounds x to the nearest value of dtype (ties to even, subnormals kept),
 * returned as a double. A value beyond the type's range becomes +-inf, as
 * IEEE rounding does; NaN stays NaN. FLOAT64 returns x unchanged. */
double l2_dtype_round(enum l2_dtype dtype, double x);

/* Decodes one little-endian element of dtype at p (any alignment) to the
 * double it denotes, exactly. */
double l2_dtype_load_le(enum l2_dtype dtype, const unsigned char *p);

#endif
