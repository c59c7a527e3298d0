/* fuzz_json.c -- libFuzzer harness of the JSON tensor decoder: any body
 * (tensors, named tensors, garbage), checked as fuzz_json.h says. */
#include "fuzz_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in;

    if (fuzz_input_parse(data, size, &in))
        json_check(&in);
    return 0;
}
