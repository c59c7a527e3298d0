/* fuzz_shortest.c -- libFuzzer harness of the shortest-digits printer: the
 * first 8 bytes are a double's bits (zero-padded), and api_shortest_repr
 * must print exactly what the MPFR reference (tests/support/shortest_ref.c)
 * prints, within API_SHORTEST_MAX. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/shortest.h"
#include "tests/support/shortest_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mpfr_t work;
    static int ready;
    uint64_t bits = 0;
    double x;
    char got[API_SHORTEST_MAX], want[SHORTEST_REF_MAX];
    size_t n;

    if (!ready) {
        mpfr_init2(work, 64);
        ready = 1;
    }
    memcpy(&bits, data, size < 8 ? size : 8);
    memcpy(&x, &bits, sizeof x);
    n = api_shortest_repr(x, got);
    shortest_ref_repr(x, want, work);
    if (n >= API_SHORTEST_MAX || n != strlen(got) || strcmp(got, want) != 0)
        abort();
    return 0;
}
