/* decode.c -- drives one format's decoder over a chunked body. */
#include "tests/support/decode.h"

enum api_status decode_chunked(const struct api_decoder_ops *ops,
                               const struct api_decode_opts *opts, const void *b, size_t n,
                               enum chunking how, uint64_t seed, size_t small,
                               struct api_result *res, struct api_error *err)
{
    const unsigned char *p = b;
    void *dec = NULL;
    enum api_status st;
    size_t at = 0;

    api_result_init(res, L2_DTYPE_FLOAT64);
    res->count_nonfinite = opts->count_nonfinite;
    res->keep_exact = true; /* every tensor's exact state, for the tests to inspect */
    api_error_init(err);
    st = ops->create(res, opts, &dec, err);
    while (st == API_OK && at < n) {
        size_t len = chunks_len(how, &seed, n - at, small);

        if (len > 0)
            st = ops->feed(dec, p + at, len, at, err);
        at += len;
    }
    if (st == API_OK)
        st = ops->finish(dec, n, err);
    ops->destroy(dec);
    return st;
}
