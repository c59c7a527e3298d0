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

/* One tensor value inside a larger JSON document (an inference request's
 * input `data`), read as the body decoder reads a tensor body: a number or
 * a rectangular nested array, the same rounding, limits and errors, its
 * JSON Pointers under `pointer` (e.g. "/inputs/0/data", at most
 * API_MAX_NAME bytes kept). Feed it from the value's first byte; it stops
 * right after the value's last one, so what follows belongs to the
 * document. */
struct api_json_value;

/* A reader of one value of dtype; count_nonfinite as opts->count_nonfinite.
 * internal_error when out of memory (*out is then NULL). */
enum api_status api_json_value_new(enum l2_dtype dtype, bool count_nonfinite, const char *pointer,
                                   struct api_json_value **out, struct api_error *err);

/* Feeds len bytes at body offset `offset`; *used is how many belong to the
 * value (all of them until it ends). After the value's end or an error,
 * reads nothing and returns the same status. */
enum api_status api_json_value_feed(struct api_json_value *v, const unsigned char *buf, size_t len,
                                    uint64_t offset, size_t *used, struct api_error *err);

/* True when a NaN, Infinity or -Infinity token was counted (count_nonfinite),
 * with the body offset of the first in *off and its text in *token. */
bool api_json_value_nonfinite(const struct api_json_value *v, uint64_t *off, const char **token);

/* Records the invalid_json error of a NaN/Infinity token (token: its text)
 * at body offset off; `how` completes "or ... to count NaN and
 * infinities" (how the request can ask to count them). */
enum api_status api_json_nonfinite_error(struct api_error *err, uint64_t off, const char *token,
                                         const char *how);

/* True once the value is complete (and valid). A number is complete only
 * when the byte after it has been fed. */
bool api_json_value_done(const struct api_json_value *v);

/* The value read so far: total (the exact accumulator), ndim and shape
 * once done. */
const struct api_result *api_json_value_result(const struct api_json_value *v);

/* Frees v. v may be NULL. */
void api_json_value_free(struct api_json_value *v);

#endif
