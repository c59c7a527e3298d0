/* fuzz_safetensors.c -- libFuzzer harness of the safetensors decoder,
 * checked as fuzz_safetensors.h says. */
#include "fuzz_safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    safetensors_check(data, size);
    return 0;
}
