/* decode.h -- drives one format's decoder (api/decoder.h) over a body cut
 * into chunks, as api/body.c does, so decoder tests need no body. */
#ifndef TEST_DECODE_H
#define TEST_DECODE_H

#include "api/decoder.h"
#include "tests/support/chunks.h"

/* Initialises res (float64) and err, decodes b[0..n) with ops and opts in
 * chunks cut per `how` (chunks_len with seed and small), passing each
 * chunk's body offset and the body length as body.c does, and stops at the
 * first error. Every tensor keeps its exact state (res->keep_exact).
 * Returns the decoder's status; res must be freed by the caller. */
enum api_status decode_chunked(const struct api_decoder_ops *ops,
                               const struct api_decode_opts *opts, const void *b, size_t n,
                               enum chunking how, uint64_t seed, size_t small,
                               struct api_result *res, struct api_error *err);

#endif
