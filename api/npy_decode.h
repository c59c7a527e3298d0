/* npy_decode.h -- streaming decoder for NumPy .npy bodies (v1.0, 2.0, 3.0).
 *
 * Parses the magic and the header dict (descr, fortran_order, shape) as they
 * arrive, sets the result's dtype and shape from it, then streams the data
 * to the kernel, byte-swapping big-endian elements on the way. The same
 * decoder reads each member of an .npz archive (api/npz_decode.c). */
#ifndef API_NPY_DECODE_H
#define API_NPY_DECODE_H

#include "decoder.h"

/* The first bytes of every .npy file. */
#define API_NPY_MAGIC "\x93NUMPY"
#define API_NPY_MAGIC_LEN 6

/* Largest header accepted (numpy itself writes a few hundred bytes). */
#define API_NPY_MAX_HEADER 65536

/* The decoder of application/x-npy bodies (api_npy_ops in format.h): a
 * dtype query parameter is invalid_npy; invalid_npy (offset) for a bad
 * magic, version or header or an unsupported dtype; non_finite (index, in
 * file order); invalid_length (offset) when the data is longer or shorter
 * than the header declares. The result gets the header's dtype and shape
 * (ndim 0 for shape ()). */

struct api_npy_decoder;

/* Where an .npz member is, for its error details and offsets. */
struct api_npy_member {
    const char *label; /* "npz member 'w.npy'": opens every detail and names the array in
                          non_finite ones; kept, not copied */
    uint64_t base;     /* body offset of the member's first byte (its data's start) */
    bool inflated;     /* the member was deflated: its errors are located at base, and the
                          detail gives the byte within the inflated member */
};

/* A decoder of one .npz member, driven by api_npy_ops.feed/finish/destroy
 * with positions counted from the member's first byte (finish gets the
 * member's length). It decodes as an .npy body does, into res (initialised
 * by the caller, outliving the decoder: the member's dtype, shape and sums),
 * with the same errors, their details opened by m->label, except that a
 * dtype the kernel does not sum is no error: any numpy dtype ('<i8', '|b1',
 * '<c8', '<U5', '<M8[ns]', '|O', structured lists, '<f16', ...) passes as
 * far as its header, and its data are skipped (api_npy_member_skipped).
 * API_INTERNAL_ERROR when out of memory; *out is NULL on failure. */
enum api_status api_npy_member_new(struct api_result *res, const struct api_npy_member *m,
                                   struct api_npy_decoder **out, struct api_error *err);

/* How many bytes dec can take before it must be asked again: before its
 * header is parsed, what completes the next part of the preamble or
 * header; then the data bytes still to come (0: the member is complete),
 * or UINT64_MAX when the header does not give the data's size (a pickled
 * object array '|O' or a structured dtype, skipped to the member's end). */
uint64_t api_npy_member_wants(const struct api_npy_decoder *dec);

/* Once the header is parsed: NULL when the member's elements are summed
 * into res, else the file's dtype code of a skipped member ("<i8", printable
 * ASCII, at most ~100 bytes), owned by dec. */
const char *api_npy_member_skipped(const struct api_npy_decoder *dec);

/* True when the member's elements are going to the kernel's portable code
 * (l2_accum_stream_portable), which wants long calls: the caller then feeds
 * dec in long slices. */
bool api_npy_member_portable(const struct api_npy_decoder *dec);

#endif
