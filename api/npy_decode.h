/* npy_decode.h -- streaming decoder for NumPy .npy bodies (v1.0, 2.0, 3.0).
 *
 * Parses the magic and the header dict (descr, fortran_order, shape) as they
 * arrive, sets the result's dtype and shape from it, then streams the data
 * to the kernel, byte-swapping big-endian elements on the way. */
#ifndef API_NPY_DECODE_H
#define API_NPY_DECODE_H

#include "decoder.h"

/* Largest header accepted (numpy itself writes a few hundred bytes). */
#define API_NPY_MAX_HEADER 65536

/* The decoder of application/x-npy bodies (api_npy_ops in format.h): a
 * dtype query parameter is invalid_npy; invalid_npy (offset) for a bad
 * magic, version or header or an unsupported dtype; non_finite (index, in
 * file order); invalid_length (offset) when the data is longer or shorter
 * than the header declares. The result gets the header's dtype and shape
 * (ndim 0 for shape ()). */

#endif
