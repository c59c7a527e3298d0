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

enum l2_dtype {
    L2_DTYPE_FLOAT16,
    L2_DTYPE_BFLOAT16,
    L2_DTYPE_FLOAT32,
    L2_DTYPE_FLOAT64,
};

#define L2_DTYPE_COUNT 4

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
