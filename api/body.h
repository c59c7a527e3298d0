/* body.h -- one streaming body decoder over the three wire formats.
 *
 * The server picks the format from Content-Type (api_content_type_parse),
 * then feeds every upload chunk here and reads the result at the end. */
#ifndef API_BODY_H
#define API_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"

enum api_format {
    API_FORMAT_JSON, /* application/json, or no Content-Type */
    API_FORMAT_RAW,  /* application/octet-stream */
    API_FORMAT_NPY,  /* application/x-npy */
};

struct api_body;

/* Parses a Content-Type header value (NULL when absent): media type
 * case-insensitive, parameters ignored. API_UNSUPPORTED_MEDIA_TYPE, with a
 * detail naming the accepted types, for anything else. */
enum api_status api_content_type_parse(const char *content_type, enum api_format *out,
                                       struct api_error *err);

/* A decoder for fmt. has_dtype/dtype come from the query: JSON defaults to
 * float64, raw requires a dtype (invalid_dtype), .npy forbids one
 * (invalid_npy). On success *out owns a new decoder (free it with
 * api_body_free); internal_error when out of memory. On failure *out is
 * NULL. */
enum api_status api_body_new(enum api_format fmt, bool has_dtype, enum l2_dtype dtype,
                             struct api_body **out, struct api_error *err);

/* Feeds the next chunk (an empty one, buf possibly NULL, reads nothing);
 * errors as the format's decoder reports them. After an error every later
 * call, api_body_finish included, returns it again without reading. */
enum api_status api_body_feed(struct api_body *body, const char *buf, size_t len,
                              struct api_error *err);

/* Ends the body. Returns API_OK when the whole body was valid. */
enum api_status api_body_finish(struct api_body *body, struct api_error *err);

/* The result so far (complete after api_body_finish returned API_OK). */
const struct api_result *api_body_result(const struct api_body *body);

/* Bytes fed so far (counting chunks fed after an error too). */
uint64_t api_body_bytes(const struct api_body *body);

/* Frees the decoder and the result it owns. body may be NULL. */
void api_body_free(struct api_body *body);

#endif
