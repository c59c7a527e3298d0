/* safetensors_decode.h -- streaming decoder for safetensors checkpoints.
 *
 * A safetensors file is an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON naming each tensor's dtype, shape and data_offsets, then the
 * tensors' bytes back to back. The header is buffered and validated as the
 * reference reader (huggingface/safetensors) validates it; the data is then
 * streamed tensor by tensor, in the order of its offsets, each float tensor
 * summed exactly in its own dtype. Memory: the header, then one small entry
 * per tensor; never the data. */
#ifndef API_SAFETENSORS_DECODE_H
#define API_SAFETENSORS_DECODE_H

#include "decoder.h"

/* Largest JSON header accepted, in bytes: 16 MiB. The reference reader
 * allows 100,000,000; real checkpoints' headers are tens of kilobytes, and
 * the header (and jansson's parse of it) is the one part of a body held in
 * memory. */
#define API_SAFETENSORS_MAX_HEADER ((uint64_t)16 << 20)

/* Most JSON values (objects, arrays, keys, strings, numbers, literals) in
 * the header. jansson's tree costs 40 to 160 bytes a value, so a 16 MiB
 * header of tiny values would cost some 350 MiB to parse; at this limit it
 * costs at most about 40 MiB. A header of API_MAX_TENSORS tensors of up to
 * 8 dimensions takes about 150,000. */
#define API_SAFETENSORS_MAX_VALUES 262144

/* The decoder of application/x-safetensors bodies (api_safetensors_ops in
 * format.h). The result is named (res->named), one entry per tensor in the
 * order of its data in the file: F16, BF16, F32 and F64 tensors summed in
 * their own dtype (api_result_add_typed), every other dtype of the
 * reference reader skipped with its code ("I64"; api_result_add_skipped).
 * res->dtype is the dtype of the summed tensors when they all share one,
 * else float64.
 *
 * Errors: a dtype query parameter is invalid_safetensors (at create, no
 * offset). Everything the reference reader refuses is invalid_safetensors
 * with `offset`: the body's length where it ends too early (inside the
 * 8-byte length, the header or the data), 0 for a header length over
 * API_SAFETENSORS_MAX_HEADER, the first bad byte for a header that is not
 * UTF-8, 8 for more than API_SAFETENSORS_MAX_VALUES JSON values, jansson's position (8 + bytes into
 * the header) for a header that is not JSON or holds a duplicate key, 8 (the header's first byte)
 * for a header whose content is wrong (not an object, an entry without dtype, shape or
 * data_offsets, an unknown dtype, offsets with a hole or an overlap, a size that does not match
 * shape and dtype, a bad __metadata__, and l2d's own limits: API_MAX_TENSORS tensors, names
 * of 1..API_MAX_NAME bytes, API_MAX_DEPTH dimensions), and the first byte after the last tensor's
 * data for trailing bytes. A NaN or infinity is non_finite with `index` the element's index within
 * its tensor and the tensor's name in the detail. */
extern const struct api_decoder_ops api_safetensors_ops;

#endif
