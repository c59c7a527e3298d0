/* infer.h -- Open Inference Protocol v2 infer requests (KServe, Triton),
 * with the binary tensor data extension.
 *
 * An infer body is a JSON header -- {"id"?, "parameters"?, "inputs": [...],
 * "outputs"?: [...]}, keys in any order, keys l2d does not know ignored --
 * followed, when the request has an Inference-Header-Content-Length, by the
 * binary data of the inputs that carry parameters.binary_data_size, back to
 * back in input order. It is decoded as it streams (api_infer_ops, the
 * API_FORMAT_INFER row of format.h): the `data` of an input goes through
 * the JSON tensor decoder (json_decode.h) and binary data through the
 * element stream (elements.h) straight into the accumulators, so memory does
 * not grow with the tensors. Every other value of the header (a name, a
 * shape, a parameter) is small and bounded by API_INFER_MAX_VALUE bytes.
 *
 * The decoded inputs are the body's api_result: one typed tensor per
 * input, named by it, in input order (so the totals, per-input sums,
 * l2d_elements_total and the exactness of the native endpoints carry
 * over). What else the request says (id, parameters, outputs) is written
 * into the struct api_infer_request the caller passes in
 * api_decode_opts.infer. */
#ifndef API_INFER_H
#define API_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decoder.h"
#include "query.h"

/* Bytes of one header value other than an input's `data` (a name, a
 * shape, an id, a parameter, an ignored key's value). */
#define API_INFER_MAX_VALUE 65536

/* The two models l2d serves. */
#define API_INFER_MODEL_LIST(X)                                                                    \
    X(API_INFER_L2_LOSS, "l2_loss")                                                                \
    X(API_INFER_REGULARIZE, "regularize")

enum api_infer_model {
#define API_INFER_MODEL_ENUM(name, text) name,
    API_INFER_MODEL_LIST(API_INFER_MODEL_ENUM)
#undef API_INFER_MODEL_ENUM
        API_INFER_MODEL_COUNT
};

/* The outputs a request may ask for: enum name, output name, datatype
 * ("FP64", "INT64" or "BYTES"), and whether it has one value per input
 * (shape [n_inputs]) or one value (shape [1]). When the request names no
 * outputs, all are sent but the non-finite counts, which are sent only
 * under parameters.nonfinite = "count", and the partials (api/partial.h),
 * sent only under parameters.partial = true. A BYTES element is a JSON
 * string, or in binary a 4-byte little-endian length and the bytes. */
#define API_INFER_OUTPUT_LIST(X)                                                                   \
    X(API_INFER_OUT_LOSS, "loss", "FP64", false)                                                   \
    X(API_INFER_OUT_SUM_SQUARES, "sum_squares", "FP64", false)                                     \
    X(API_INFER_OUT_NORM, "norm", "FP64", false)                                                   \
    X(API_INFER_OUT_MAX_ABS, "max_abs", "FP64", false)                                             \
    X(API_INFER_OUT_COUNT, "count", "INT64", false)                                                \
    X(API_INFER_OUT_NAN_COUNT, "nan_count", "INT64", false)                                        \
    X(API_INFER_OUT_INF_COUNT, "inf_count", "INT64", false)                                        \
    X(API_INFER_OUT_INPUT_LOSS, "input_loss", "FP64", true)                                        \
    X(API_INFER_OUT_INPUT_SUM_SQUARES, "input_sum_squares", "FP64", true)                          \
    X(API_INFER_OUT_INPUT_NORM, "input_norm", "FP64", true)                                        \
    X(API_INFER_OUT_PARTIAL, "partial", "BYTES", false)                                            \
    X(API_INFER_OUT_INPUT_PARTIAL, "input_partial", "BYTES", true)

enum api_infer_output {
#define API_INFER_OUTPUT_ENUM(name, text, datatype, per_input) name,
    API_INFER_OUTPUT_LIST(API_INFER_OUTPUT_ENUM)
#undef API_INFER_OUTPUT_ENUM
        API_INFER_OUT_COUNT_
};

/* One output the request asked for. */
struct api_infer_wanted {
    enum api_infer_output which;
    bool binary; /* send it as binary data (its parameters.binary_data, else
                  * the request's binary_data_output) */
};

/* Longest id echoed, in bytes (a longer one is invalid_parameter). */
#define API_INFER_MAX_ID 1024

/* What ?track did, for the answer's parameters.tracked. */
enum api_infer_tracked {
    API_INFER_TRACKED_NONE,    /* no parameters.track: no parameters.tracked */
    API_INFER_TRACKED_ALL,     /* "tracked": true */
    API_INFER_TRACKED_PARTIAL, /* "tracked": "partial" (series cap reached) */
};

struct api_infer_request {
    /* In: set by api_infer_request_init before the body is decoded. */
    enum api_infer_model model;
    bool has_header_length; /* Inference-Header-Content-Length was sent */
    uint64_t header_length; /* its value: bytes of the JSON header */

    /* Out: complete once api_body_finish returned API_OK. */
    bool has_id;
    size_t id_len;
    char id[API_INFER_MAX_ID + 1]; /* the request's "id", UTF-8, NUL-terminated */
    bool has_scale;                /* always true for API_INFER_REGULARIZE on success */
    struct api_scale scale;        /* parameters.scale, validated as /regularize's */
    bool count_nonfinite;          /* parameters.nonfinite = "count" */
    bool binary_data_output;       /* parameters.binary_data_output = true */
    bool partial;                  /* parameters.partial = true */
    char track[API_TRACK_MAX + 1]; /* parameters.track, validated as ?track; "" when absent */
    size_t track_len;
    /* In, set by the caller before api_infer_response_encode: what recording
     * the result under track did (answered as parameters.tracked). */
    enum api_infer_tracked tracked;
    size_t n_wanted; /* outputs asked for, in the order asked */
    struct api_infer_wanted wanted[API_INFER_OUT_COUNT_];
};

/* Sets r up for a request to model; header_length is the
 * Inference-Header-Content-Length when has_header_length. Cannot fail;
 * r owns nothing, so it needs no free. When the request names no outputs
 * the decoder fills `wanted` with the defaults (see API_INFER_OUTPUT_LIST),
 * in list order, binary per binary_data_output. */
void api_infer_request_init(struct api_infer_request *r, enum api_infer_model model,
                            bool has_header_length, uint64_t header_length);

/* The name of model ("l2_loss", "regularize"). Static storage. */
const char *api_infer_model_name(enum api_infer_model model);

/* The model named name (len bytes); false when there is none. */
bool api_infer_model_lookup(const char *name, size_t len, enum api_infer_model *out);

/* An output's name, datatype and whether it has one value per input. */
const char *api_infer_output_name(enum api_infer_output out);
const char *api_infer_output_datatype(enum api_infer_output out);
bool api_infer_output_per_input(enum api_infer_output out);

/* The infer body decoder (api/decoder.h). create needs opts->infer (an
 * initialised request, which it fills) and refuses a dtype
 * (invalid_parameter); opts->count_nonfinite is ignored (the request's
 * parameters.nonfinite decides). Errors carry a detail that names the
 * input (`inputs[2] "dense/bias"`) or key and, for JSON, the byte offset:
 *   invalid_json       the header is not JSON, is cut short, or has bytes
 *                      after its value (within the header length);
 *   invalid_tensor     a missing or mistyped key (inputs, name, shape,
 *                      datatype), an element count that is not the shape's
 *                      product, data and binary_data_size both or neither,
 *                      a duplicate input name or key, a bad data element;
 *   invalid_dtype      a datatype other than FP16, BF16, FP32, FP64;
 *   number_out_of_range, non_finite   as the native endpoints;
 *   invalid_length     binary_data_size not the shape's product times the
 *                      element size; a body shorter or longer than the
 *                      header and the binary data it announces; a header
 *                      length past the body;
 *   invalid_scale      parameters.scale missing (regularize), malformed,
 *                      an integer literal, negative, not finite;
 *   invalid_parameter  scale on l2_loss, a bad nonfinite, partial or
 *                      binary_data_output, an unknown or repeated output,
 *                      an id that is not a string or is too long,
 *                      binary_data_size without Inference-Header-Content-Length;
 *   payload_too_large  a header value past API_INFER_MAX_VALUE. */
extern const struct api_decoder_ops api_infer_ops;

#endif
