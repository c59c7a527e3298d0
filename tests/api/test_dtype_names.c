/* test_dtype_names.c -- every accepted dtype name, in any case, and names
 * that are refused. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <string.h>

#include "api/dtype_names.h"

Test(dtype_names, every_alias_in_every_case)
{
    static const struct {
        const char *name;
        enum l2_dtype dtype;
    } ok[] = {
        {"float16", L2_DTYPE_FLOAT16}, {"f2", L2_DTYPE_FLOAT16},
        {"<f2", L2_DTYPE_FLOAT16},     {"half", L2_DTYPE_FLOAT16},
        {"FP16", L2_DTYPE_FLOAT16},    {"bfloat16", L2_DTYPE_BFLOAT16},
        {"bf16", L2_DTYPE_BFLOAT16},   {"BF16", L2_DTYPE_BFLOAT16},
        {"float32", L2_DTYPE_FLOAT32}, {"f4", L2_DTYPE_FLOAT32},
        {"<f4", L2_DTYPE_FLOAT32},     {"float", L2_DTYPE_FLOAT32},
        {"FP32", L2_DTYPE_FLOAT32},    {"float64", L2_DTYPE_FLOAT64},
        {"f8", L2_DTYPE_FLOAT64},      {"<f8", L2_DTYPE_FLOAT64},
        {"double", L2_DTYPE_FLOAT64},  {"FP64", L2_DTYPE_FLOAT64},
        {"Float32", L2_DTYPE_FLOAT32}, {"BFloat16", L2_DTYPE_BFLOAT16},
        {"F4", L2_DTYPE_FLOAT32},
    };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char up[16], low[16];
        size_t n = strlen(ok[i].name);
        enum l2_dtype dt = (enum l2_dtype)99;

        for (size_t k = 0; k <= n; k++) {
            up[k] = (char)toupper((unsigned char)ok[i].name[k]);
            low[k] = (char)tolower((unsigned char)ok[i].name[k]);
        }
        cr_assert(api_dtype_lookup(ok[i].name, n, &dt), "%s", ok[i].name);
        cr_assert_eq(dt, ok[i].dtype, "%s", ok[i].name);
        cr_assert(api_dtype_lookup(up, n, &dt) && dt == ok[i].dtype, "%s", up);
        cr_assert(api_dtype_lookup(low, n, &dt) && dt == ok[i].dtype, "%s", low);
    }
}

Test(dtype_names, refused)
{
    static const char *const bad[] = {"",       "float8", ">f4", "f16",     "float32 ", "int32",
                                      "<i8",    "fp8",    "f",   "bfloat",  "float6",   "FP",
                                      "float1", "=f4",    "|f4", "double64"};
    enum l2_dtype dt = (enum l2_dtype)99;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(api_dtype_lookup(bad[i], strlen(bad[i]), &dt), "%s", bad[i]);
    cr_assert_eq(dt, (enum l2_dtype)99, "out is left alone");
    /* the length bounds the name: "f4" inside "f44" */
    cr_assert(api_dtype_lookup("f44", 2, &dt) && dt == L2_DTYPE_FLOAT32);
}
