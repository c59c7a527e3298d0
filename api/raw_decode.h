/* raw_decode.h -- streaming decoder for raw little-endian tensor bodies.
 *
 * The body is elements of one dtype back to back. Whole elements in a chunk
 * go straight to the kernel; an element split across chunks is held in a
 * few bytes of carry. */
#ifndef API_RAW_DECODE_H
#define API_RAW_DECODE_H

#include <stddef.h>

#include "result.h"

struct api_raw_decoder;

/* A decoder of res->dtype elements into res (caller-owned, initialised with
 * api_result_init, outliving the decoder). NULL when out of memory. */
struct api_raw_decoder *api_raw_new(struct api_result *res);

/* Feeds the next len bytes. non_finite (with index) on a NaN or infinity;
 * after an error, every later call returns it again. */
enum api_status api_raw_feed(struct api_raw_decoder *dec, const char *buf, size_t len,
                             struct api_error *err);

/* Ends the body: invalid_length (offset = the start of the partial element)
 * if it was not a whole number of elements. Sets res->ndim = 1,
 * res->shape[0] = count. */
enum api_status api_raw_finish(struct api_raw_decoder *dec, struct api_error *err);

/* Frees dec (not the result). dec may be NULL. */
void api_raw_free(struct api_raw_decoder *dec);

#endif
