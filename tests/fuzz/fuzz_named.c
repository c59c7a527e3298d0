/* fuzz_named.c -- libFuzzer harness of named-tensor JSON bodies: the
 * fuzzer's body goes inside {"tensors":{ ... }}, so that every mutation
 * exercises names (escapes, surrogates, UTF-8, duplicates, pointers) and
 * per-tensor results. Checked as fuzz_json.h says (named_check_input). */
#include "fuzz_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    named_check_input(data, size);
    return 0;
}
