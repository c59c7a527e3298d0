/* fuzz_infer.c -- libFuzzer harness of the infer body decoder (the Open
 * Inference Protocol v2 header and its binary data), checked as
 * fuzz_infer.h says. */
#include "fuzz_infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    infer_check(data, size);
    return 0;
}
