/* fuzz_raw.c -- libFuzzer harness of the raw little-endian decoder,
 * checked as fuzz_raw.h says. */
#include "fuzz_raw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    raw_check(data, size);
    return 0;
}
