/* dtype_names.c -- the dtype names clients use, mapped to the four dtypes. */
#include "dtype_names.h"

#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    enum l2_dtype dtype;
} names[] = {
    {"float16", L2_DTYPE_FLOAT16}, {"f2", L2_DTYPE_FLOAT16},      {"<f2", L2_DTYPE_FLOAT16},
    {"half", L2_DTYPE_FLOAT16},    {"fp16", L2_DTYPE_FLOAT16},    {"bfloat16", L2_DTYPE_BFLOAT16},
    {"bf16", L2_DTYPE_BFLOAT16},   {"float32", L2_DTYPE_FLOAT32}, {"f4", L2_DTYPE_FLOAT32},
    {"<f4", L2_DTYPE_FLOAT32},     {"float", L2_DTYPE_FLOAT32},   {"fp32", L2_DTYPE_FLOAT32},
    {"float64", L2_DTYPE_FLOAT64}, {"f8", L2_DTYPE_FLOAT64},      {"<f8", L2_DTYPE_FLOAT64},
    {"double", L2_DTYPE_FLOAT64},  {"fp64", L2_DTYPE_FLOAT64},
};

bool api_dtype_lookup(const char *name, size_t len, enum l2_dtype *out)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == len && strncasecmp(name, names[i].name, len) == 0) {
            *out = names[i].dtype;
            return true;
        }
    }
    return false;
}
