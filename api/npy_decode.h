/* npy_decode.h -- streaming decoder for NumPy .npy bodies (v1.0, 2.0, 3.0).
 *
 * Parses the magic and the header dict (descr, fortran_order, shape) as they
 * arrive, sets the result's dtype and shape from it, then streams the data
 * to the kernel, byte-swapping big-endian elements on the way. */
#ifndef API_NPY_DECODE_H
#define API_NPY_DECODE_H

#include <stddef.h>

#include "result.h"

/* Largest header accepted (numpy itself writes a few hundred bytes). */
#define API_NPY_MAX_HEADER 65536

struct api_npy_decoder;

/* A decoder into res (caller-owned, initialised with api_result_init; its
 * dtype is replaced by the header's). NULL when out of memory. */
struct api_npy_decoder *api_npy_new(struct api_result *res);

/* Feeds the next len bytes. invalid_npy (offset) for a bad magic, version or
 * header or an unsupported dtype; non_finite (index, in file order);
 * invalid_length (offset of the first extra byte) when the data runs past
 * what the header declares; internal_error when out of memory. After an
 * error every later call returns it again without reading. */
enum api_status api_npy_feed(struct api_npy_decoder *dec, const char *buf, size_t len,
                             struct api_error *err);

/* Ends the body: invalid_npy if the header is incomplete, invalid_length if
 * the data is shorter than the header declares (offset = body length). On
 * API_OK res holds the header's dtype and shape (ndim 0 for shape ()). */
enum api_status api_npy_finish(struct api_npy_decoder *dec, struct api_error *err);

/* Frees dec (not the result). dec may be NULL. */
void api_npy_free(struct api_npy_decoder *dec);

#endif
