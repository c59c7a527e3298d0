/* body.h -- one request body, decoded as it streams, whatever its format.
 *
 * The server picks the format from Content-Type (api_content_type_parse in
 * format.h), makes a body with the query's decoding options, feeds every
 * upload chunk and reads the result at the end. The body is the one owner of the decoded
 * offset and of the first error: the format's decoder (api/format.h) writes
 * its error, with its position, straight into the body's record. */
#ifndef API_BODY_H
#define API_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decoder.h"
#include "encoding.h"
#include "format.h"

struct api_body;

/* A body of format fmt, sent with Content-Encoding enc (inflated before
 * the format's decoder sees it), decoded with opts, refused with
 * payload_too_large past max_bytes decoded bytes (and past max_bytes
 * inflated by the format itself: opts->max_inflated is replaced by
 * max_bytes). The format checks opts (a raw body needs a
 * dtype, an .npy body refuses one): that error, or internal_error when out
 * of memory, is written to err and *out is NULL. On success *out owns a new
 * body; free it with api_body_free. */
enum api_status api_body_new(enum api_format fmt, const struct api_decode_opts *opts,
                             enum api_encoding enc, uint64_t max_bytes, struct api_body **out,
                             struct api_error *err);

/* Feeds the next chunk (len may be 0, buf then possibly NULL). Returns the
 * body's first error, recorded in api_body_error; after one, later chunks
 * are not decoded and the same status is returned. */
enum api_status api_body_feed(struct api_body *body, const void *buf, size_t len);

/* Ends the body. Returns API_OK when the whole body was valid, else its
 * first error (api_body_error). */
enum api_status api_body_finish(struct api_body *body);

/* The first error (status API_OK while there is none). */
const struct api_error *api_body_error(const struct api_body *body);

/* The result so far (complete after api_body_finish returned API_OK). */
const struct api_result *api_body_result(const struct api_body *body);

/* Whether the answer carries partials (?partial=true): sets the result's
 * want_partial. Cannot fail. */
void api_body_want_partial(struct api_body *body, bool partial);

/* The format the body was made for. */
enum api_format api_body_format(const struct api_body *body);

/* Frees the body, its decoder and its result. body may be NULL. */
void api_body_free(struct api_body *body);

#endif
