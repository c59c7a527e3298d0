/* fuzz_npy.c -- libFuzzer harness of the .npy decoder, checked as
 * fuzz_npy.h says. */
#include "fuzz_npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    npy_check(data, size);
    return 0;
}
