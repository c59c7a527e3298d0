/* fuzz_encoding.c -- libFuzzer harness of gzip / deflate request bodies,
 * checked as fuzz_encoding.h says. */
#include "fuzz_encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    encoding_check(data, size);
    return 0;
}
