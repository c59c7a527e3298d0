/* fuzz_query.c -- libFuzzer harness of the query-string validator,
 * checked as fuzz_query.h says. */
#include "fuzz_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    query_check(data, size);
    return 0;
}
