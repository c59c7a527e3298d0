/* fuzz_named.c -- libFuzzer harness of named-tensor JSON bodies: the
 * fuzzer's body goes inside {"tensors":{ ... }}, so that every mutation
 * exercises names (escapes, surrogates, UTF-8, duplicates, pointers) and
 * per-tensor results. Checked as fuzz_json.h says; the cut points apply to
 * the wrapped body. */
#include "fuzz_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char head[] = "{\"tensors\":{";
    static const char tail[] = "}}";
    struct fuzz_input in;
    uint8_t *wrapped;
    size_t hl = sizeof head - 1, tl = sizeof tail - 1;

    if (!fuzz_input_parse(data, size, &in))
        return 0;
    wrapped = malloc(hl + in.len + tl);
    if (wrapped == NULL)
        abort();
    memcpy(wrapped, head, hl);
    if (in.len > 0)
        memcpy(wrapped + hl, in.body, in.len);
    memcpy(wrapped + hl + in.len, tail, tl);
    in.body = wrapped;
    in.len += hl + tl;
    for (size_t i = 0; i < in.ncuts; i++) /* cuts were taken mod the unwrapped length */
        in.cuts[i] += in.cuts[i] % 3 == 0 ? 0 : in.cuts[i] % 3 == 1 ? hl : hl + tl;
    for (size_t i = 0; i < in.ncuts; i++)
        if (in.cuts[i] > in.len)
            in.cuts[i] = in.len;
    fuzz_sort_cuts(&in);
    json_check(&in);
    free(wrapped);
    return 0;
}
