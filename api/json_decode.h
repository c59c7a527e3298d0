/* json_decode.h -- streaming decoder for JSON tensor bodies.
 *
 * Accepts a tensor (a number or a rectangular nested array of numbers) or
 * {"tensors": {"name": <tensor>, ...}}, fed in byte chunks of any size, split
 * anywhere. Numbers are rounded to the nearest float64 (correctly, as strtod)
 * and then to the dtype; their squares go into exact accumulators as they are
 * read. Memory is bounded by nesting depth and token length (a number or a
 * name), never by the size of the body.
 *
 * Limits: a tensor nests at most API_MAX_DEPTH arrays (the two objects of a
 * named body do not count); a number token is at most API_JSON_MAX_NUMBER
 * bytes (a longer one is invalid_tensor at its pointer); names follow
 * api_result_add_tensor. Elements that are not numbers (strings, objects,
 * true/false/null) are refused at their first byte. */
#ifndef API_JSON_DECODE_H
#define API_JSON_DECODE_H

#include <stddef.h>

#include "decoder.h"
#include "result.h"

#define API_JSON_MAX_NUMBER 4096 /* bytes of one number token */

struct api_json_decoder;

/* A decoder that fills res (initialised by the caller with
 * api_result_init(res, dtype), and owned by the caller; it must outlive the
 * decoder). Returns NULL when out of memory. */
struct api_json_decoder *api_json_new(struct api_result *res);

/* Feeds the next len bytes of the body. Returns API_OK, or the first error
 * (invalid_json with offset, invalid_tensor / number_out_of_range with
 * pointer, internal_error); after an error every later call returns it
 * again without reading. */
enum api_status api_json_feed(struct api_json_decoder *dec, const char *buf, size_t len,
                              struct api_error *err);

/* Ends the body: a truncated value is invalid_json (offset = body length).
 * On API_OK the result is complete: for a single tensor res->ndim and
 * res->shape hold its shape (ndim 0 for a scalar). */
enum api_status api_json_finish(struct api_json_decoder *dec, struct api_error *err);

/* Frees dec (not the result). dec may be NULL. */
void api_json_free(struct api_json_decoder *dec);

#endif
