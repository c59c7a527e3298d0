/* fuzz_json.c -- libFuzzer harness of the JSON tensor decoder: any body
 * (tensors, named tensors, garbage), checked as fuzz_json.h says. */
#include "fuzz_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_check_input(data, size);
    return 0;
}
