/* dtype_names.h -- every name a client may give a dtype, and the canonical
 * one answers print.
 *
 * Case-insensitive: the API names (float16, bfloat16, float32, float64),
 * numpy's codes (f2, f4, f8, <f2, <f4, <f8), the C and PyTorch words (half,
 * float, double), bf16, and the Open Inference Protocol's FP16, BF16, FP32,
 * FP64. */
#ifndef API_DTYPE_NAMES_H
#define API_DTYPE_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/dtype.h"

/* The names accepted, for details and docs: a static string. */
#define API_DTYPE_NAMES_ACCEPTED                                                                   \
    "float16, bfloat16, float32, float64 (aliases: f2 f4 f8 <f2 <f4 <f8 half float double bf16 "   \
    "FP16 BF16 FP32 FP64)"

/* Looks up name (len bytes, not NUL-terminated). Returns false and leaves
 * *out alone when it names no dtype l2d sums. */
bool api_dtype_lookup(const char *name, size_t len, enum l2_dtype *out);

#endif
