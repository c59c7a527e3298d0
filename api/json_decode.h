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
 * api_result_add_tensor.
 *
 * Errors: invalid_json with the offset of the first byte that cannot be
 * JSON (the body length when it ends too early); invalid_tensor or
 * number_out_of_range with the JSON Pointer of the element. Literals are
 * matched byte by byte: a broken true/false/null is invalid_json, a whole
 * one where a number belongs invalid_tensor. Strings and objects are
 * refused as elements at their first byte. NaN, Infinity and -Infinity
 * (not JSON, but what Python writes) are invalid_json at their first byte,
 * unless opts->count_nonfinite asks to count them as elements. */
#ifndef API_JSON_DECODE_H
#define API_JSON_DECODE_H

#include "decoder.h"

#define API_JSON_MAX_NUMBER 4096 /* bytes of one number token */

/* The JSON body decoder (api/decoder.h). create takes res's dtype from
 * opts->dtype when opts->has_dtype (res keeps the caller's float64
 * otherwise) and never refuses opts; feed and finish report errors as
 * above, into the err they are given; after an error every later call
 * returns it again without reading. */
extern const struct api_decoder_ops api_json_ops;

#endif
