/* query.h -- the query string of the compute endpoints, validated.
 *
 * Parses the raw query (after '?', still percent-encoded, '+' meaning a
 * space), refuses unknown and repeated parameters, and validates `scale` as
 * tf.contrib.layers.l2_regularizer does, with TensorFlow's messages. */
#ifndef API_QUERY_H
#define API_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/dtype.h"
#include "error.h"

enum api_endpoint {
    API_ENDPOINT_L2_LOSS,    /* POST /l2_loss: dtype, nonfinite, partial */
    API_ENDPOINT_REGULARIZE, /* POST /regularize: scale (required), dtype, nonfinite, partial */
    API_ENDPOINT_MERGE,      /* POST /merge: scale (optional), partial */
};

/* Longest model name of ?track=MODEL. */
#define API_TRACK_MAX 128

struct api_scale {
    double value;  /* finite, >= 0 */
    bool disabled; /* the scale was 0.0 or -0.0 */
};

struct api_query {
    bool has_dtype;
    enum l2_dtype dtype; /* float64 when !has_dtype */
    bool has_scale;      /* always true for REGULARIZE on success */
    struct api_scale scale;
    bool count_nonfinite;          /* nonfinite=count (default reject) */
    bool partial;                  /* partial=true (default false): answers carry partials */
    char track[API_TRACK_MAX + 1]; /* track=MODEL, decoded, NUL-terminated; "" when absent */
    size_t track_len;
};

/* Parses query (len bytes, may be NULL/0) for endpoint into *out. Errors:
 * invalid_parameter (unknown, repeated, or scale on /l2_loss, dtype or
 * nonfinite on /merge, or bad percent-encoding), invalid_scale,
 * invalid_dtype, invalid_parameter (a nonfinite other than reject or count,
 * a partial other than true or false); checked in that order. dtype takes
 * every name of api/dtype_names.h. /merge's scale is optional and validated
 * as /regularize's. */
enum api_status api_query_parse(enum api_endpoint endpoint, const char *query, size_t len,
                                struct api_query *out, struct api_error *err);

/* Validates scale text s (len bytes, already decoded) as the scale
 * parameter is validated: the same grammar, limits and TensorFlow messages
 * (invalid_scale). For the inference protocol's parameters.scale. */
enum api_status api_scale_parse(const char *s, size_t len, struct api_scale *out,
                                struct api_error *err);

/* Validates a model name for ?track=MODEL (what names the parameter in the
 * detail: "track", "parameters.track"): 1 to API_TRACK_MAX bytes of
 * [A-Za-z0-9_.:/-], else invalid_parameter. s holds at least min(len,
 * API_TRACK_MAX + 1) bytes (a longer name is refused unread). Copies it
 * NUL-terminated into out, its length in *out_len. */
enum api_status api_track_parse(const char *s, size_t len, const char *what,
                                char out[API_TRACK_MAX + 1], size_t *out_len,
                                struct api_error *err);

#endif
