/* format.h -- the body formats l2d reads, one X-macro list.
 *
 * Each row: enum name, metric label, decoder ops (defined in the format's own
 * file), media type and an alias media type (NULL for none). The format enum,
 * the Content-Type table, the 415 detail and the metric labels derive from it.
 * API_FORMAT_ROUTED_LIST holds the formats that the request's path picks
 * instead of its Content-Type (the inference protocol's infer body): they
 * share the enum, the ops and the labels, not the Content-Type table. The
 * /merge body (api/merge_decode.h) is one of them: always JSON. */
#ifndef API_FORMAT_H
#define API_FORMAT_H

#include "decoder.h"
#include "error.h"

#define API_FORMAT_LIST(X)                                                                         \
    X(API_FORMAT_JSON, "json", api_json_ops, "application/json", NULL)                             \
    X(API_FORMAT_RAW, "raw", api_raw_ops, "application/octet-stream", NULL)                        \
    X(API_FORMAT_NPY, "npy", api_npy_ops, "application/x-npy", NULL)                               \
    X(API_FORMAT_SAFETENSORS, "safetensors", api_safetensors_ops, "application/x-safetensors",     \
      NULL)                                                                                        \
    X(API_FORMAT_NPZ, "npz", api_npz_ops, "application/x-npz", "application/zip")

#define API_FORMAT_ROUTED_LIST(X)                                                                  \
    X(API_FORMAT_INFER, "infer", api_infer_ops)                                                    \
    X(API_FORMAT_MERGE, "merge", api_merge_ops)

enum api_format {
#define API_FORMAT_ENUM(name, label, ops, type, alias) name,
    API_FORMAT_LIST(API_FORMAT_ENUM)
#undef API_FORMAT_ENUM
        API_FORMAT_TYPED_COUNT, /* formats chosen by Content-Type come before */
    API_FORMAT_BEFORE_ROUTED = API_FORMAT_TYPED_COUNT - 1,
#define API_FORMAT_ROUTED_ENUM(name, label, ops) name,
    API_FORMAT_ROUTED_LIST(API_FORMAT_ROUTED_ENUM)
#undef API_FORMAT_ROUTED_ENUM
        API_FORMAT_COUNT
};

#define API_FORMAT_OPS_DECL(name, label, ops, ...) extern const struct api_decoder_ops ops;
API_FORMAT_LIST(API_FORMAT_OPS_DECL)
API_FORMAT_ROUTED_LIST(API_FORMAT_OPS_DECL)
#undef API_FORMAT_OPS_DECL

/* The metric label of fmt ("json", "raw", ...). Static storage. */
const char *api_format_label(enum api_format fmt);

/* The decoder operations of fmt. */
const struct api_decoder_ops *api_format_ops(enum api_format fmt);

/* Parses a Content-Type header value (NULL when absent, which means JSON):
 * media type case-insensitive, parameters ignored, a format's media type or
 * its alias. API_UNSUPPORTED_MEDIA_TYPE, with a detail naming the accepted
 * types, for anything else (*out is then left alone). */
enum api_status api_content_type_parse(const char *content_type, enum api_format *out,
                                       struct api_error *err);

#endif
