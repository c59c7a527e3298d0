/* fuzz_npz.c -- libFuzzer harness of the .npz decoder, checked as
 * fuzz_npz.h says. */
#include "fuzz_npz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    npz_check(data, size);
    return 0;
}
