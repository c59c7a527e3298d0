/* oip.h -- Open Inference Protocol v2 infer bodies built byte for byte as
 * the two Python clients that l2d must serve build them, so that the unit
 * tests (api_body) and the integration tests (libcurl) send what
 * tritonclient.http and kserve's InferenceRESTClient really send.
 *
 * Read from the clients' sources (triton-inference-server/client,
 * src/python/library/tritonclient/http/_utils.py _get_inference_request and
 * _infer_input.py InferInput.set_data_from_numpy/_get_tensor, _client.py
 * infer; kserve/kserve python/kserve/kserve/protocol/infer_type.py
 * InferRequest.to_rest and inference_client.py InferenceRESTClient.infer):
 *  - tritonclient serialises with python-rapidjson (`import rapidjson as
 *    json`), kserve with orjson: both compact, no spaces. OIP_SPACED gives
 *    what Python's json.dumps writes (", " and ": "), as a hand-written
 *    client or the description does; both must be accepted.
 *  - tritonclient: {"id"? , "inputs", "outputs"?, "parameters"?}; an input
 *    is {"name", "shape", "datatype", "parameters"?, "data"?}; binary data
 *    (the default) is parameters.binary_data_size and no data; with no
 *    requested outputs, parameters.binary_data_output = true comes first in
 *    the request's parameters, custom parameters after it. The
 *    Inference-Header-Content-Length header only when binary data follows,
 *    counting the JSON before compression; no Content-Type;
 *    Content-Encoding gzip (gzip.compress) or deflate (zlib.compress).
 *    BF16 only as binary: float32 values cut to their upper 16 bits
 *    (tritonclient.utils.serialize_bf16_tensor).
 *  - kserve: {"id" (a uuid4), "model_name", "inputs", "outputs"?,
 *    "parameters"?}; numpy data as a flat list of Python floats
 *    (ndarray.item() of each element: float32 widened to float64); raw
 *    bytes make binary_data_size inputs, the header and Content-Type
 *    application/octet-stream; a JSON-only request has no Content-Type.
 * The integration tests link none of tests/support's .c files, so
 * tests/integration/test_v2_oip.c compiles this module for them. */
#ifndef TEST_OIP_H
#define TEST_OIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing byte buffer; allocation failure aborts (tests only). */
struct oip_buf {
    unsigned char *data;
    size_t len, cap;
};

void oip_buf_init(struct oip_buf *b);
void oip_buf_free(struct oip_buf *b);
void oip_buf_put(struct oip_buf *b, const void *p, size_t n);
void oip_buf_puts(struct oip_buf *b, const char *s);
void oip_buf_printf(struct oip_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How the client's JSON library separates items and keys. */
enum oip_style {
    OIP_COMPACT, /* python-rapidjson, orjson: "," and ":" */
    OIP_SPACED,  /* Python's json.dumps: ", " and ": " */
};

/* x as Python's repr(float) prints it (shortest round trip, "1.0",
 * "1e-05", "1e+16", "inf" never: x must be finite). */
void oip_put_pyfloat(struct oip_buf *b, double x);

/* One input as the client's numpy array holds it. */
struct oip_tensor {
    const char *name;
    const char *datatype; /* "FP16", "BF16", "FP32", "FP64" */
    size_t ndim;
    const int64_t *shape;
    const void *values; /* count elements, native little-endian: float16 bits
                         * (uint16_t) for FP16, float for FP32 and BF16 (numpy
                         * holds bf16 as float32), double for FP64 */
    size_t count;
    bool binary; /* set_data_from_numpy(binary_data=...) / raw bytes */
};

/* A requested output: binary -1 sends no parameters, else
 * parameters.binary_data = false/true. */
struct oip_output {
    const char *name;
    int binary;
};

/* A request parameter, its value already JSON text ("0.01", "\"count\""). */
struct oip_param {
    const char *key;
    const char *json;
};

/* One client call. */
struct oip_call {
    const struct oip_tensor *inputs;
    size_t n_inputs;
    const struct oip_output *outputs;
    size_t n_outputs;
    const char *id;         /* tritonclient request_id (NULL/"": none); kserve:
                             * NULL makes a uuid4 from id_seed */
    uint64_t id_seed;       /* kserve's uuid4, reproducible */
    const char *model_name; /* kserve's "model_name" */
    const struct oip_param *params;
    size_t n_params;
    const char *compression; /* tritonclient: NULL, "gzip" or "deflate" */
    enum oip_style style;
};

/* An infer body and the headers the client sends with it. */
struct oip_body {
    struct oip_buf buf;           /* the bytes on the wire (compressed if so) */
    bool has_header_length;       /* Inference-Header-Content-Length sent */
    size_t header_length;         /* its value: the JSON's bytes */
    const char *content_type;     /* NULL: no Content-Type header */
    const char *content_encoding; /* NULL: none */
};

/* The body tritonclient.http's InferenceServerClient.infer sends. */
void oip_triton(const struct oip_call *c, struct oip_body *out);

/* The body kserve's InferenceRESTClient(protocol v2).infer sends for an
 * InferRequest built from the inputs (binary ones as raw data). */
void oip_kserve(const struct oip_call *c, struct oip_body *out);

/* The header lines (Inference-Header-Content-Length, Content-Encoding)
 * of out, NULL-terminated, in lines[0..3) with their text in storage;
 * Content-Type is out->content_type. */
void oip_header_lines(const struct oip_body *out, char storage[2][96], const char *lines[3]);

void oip_body_free(struct oip_body *out);

/* src[0..n) as Python's gzip.compress (level 9, mtime 0, OS 255) or
 * zlib.compress (level 6) writes it. */
void oip_gzip(const void *src, size_t n, struct oip_buf *out);
void oip_zlib(const void *src, size_t n, struct oip_buf *out);

/* IEEE half and bfloat16 bits of a float (round to nearest even; bfloat16
 * cut, as serialize_bf16_tensor does, by oip_bf16_trunc). */
uint16_t oip_f16(float x);
uint16_t oip_bf16_trunc(float x);

#endif
