/* infer_response.h -- the Open Inference Protocol v2 bodies l2d answers:
 * an infer response (a JSON header, then the binary outputs of the binary
 * tensor data extension), the {"error": ...} body, and the server and model
 * metadata.
 *
 * The numbers are the native responses' (response.h): computed from the
 * body's exact accumulators with the same overflow rule, printed shortest
 * round-trip; strings go through the one JSON escaper (text.h). */
#ifndef API_INFER_RESPONSE_H
#define API_INFER_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "infer.h"
#include "query.h"
#include "result.h"

/* An encoded infer response. */
struct api_infer_response {
    char *body;        /* malloc'd, the caller frees it: the JSON header, then the binary
                        * outputs' bytes (little-endian FP64 / INT64) in output order */
    size_t len;        /* bytes of body */
    size_t header_len; /* bytes of the JSON header (Inference-Header-Content-Length) */
    bool binary;       /* an output is binary: the answer carries header_len in
                        * Inference-Header-Content-Length and is application/octet-stream;
                        * else len == header_len and it is application/json */
};

/* Encodes the response to req (decoded: api_body_finish returned API_OK)
 * whose body amounts to res (one tensor per input, in input order):
 * {"model_name", "model_version": "1", "id" (when the request had one),
 * "outputs": [...]} with the outputs req->wanted names, in that order, each
 * {"name", "datatype", "shape", "data": [...]} or, binary,
 * {"name", "datatype", "shape", "parameters": {"binary_data_size": N}}.
 * The loss is scaled by req->scale when req->has_scale. On success *out
 * holds the body. result_out_of_range as api_figures_total,
 * internal_error when out of memory or past API_RESPONSE_MAX; out->body is
 * then NULL. */
enum api_status api_infer_response_encode(const struct api_infer_request *req,
                                          const struct api_result *res,
                                          struct api_infer_response *out, struct api_error *err);

/* The protocol's error body {"error": "<err's detail>"} (the status's
 * title when the detail is empty; NULL err: internal_error), invalid UTF-8
 * written as U+FFFD. Returns a malloc'd string the caller frees, its length
 * in *out_len (when not NULL), or NULL when out of memory. */
char *api_infer_error_encode(const struct api_error *err, size_t *out_len);

/* The server metadata {"name": "l2d", "version": version, "extensions":
 * ["binary_tensor_data"]}. Returns a malloc'd string the caller frees, its
 * length in *out_len (when not NULL), or NULL when out of memory. */
char *api_infer_server_metadata(const char *version, size_t *out_len);

/* The metadata of model: {"name", "versions": ["1"], "platform": "l2d",
 * "inputs": [{"name": "weights", "datatype": "FP32", "shape": [-1]}],
 * "outputs": [every output of API_INFER_OUTPUT_LIST with its datatype and
 * shape [1], or [-1] when it has one value per input]}. The input is an
 * example: any names and FP16, BF16, FP32 or FP64 are taken. Returns as
 * api_infer_server_metadata. */
char *api_infer_model_metadata(enum api_infer_model model, size_t *out_len);

#endif
