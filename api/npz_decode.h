/* npz_decode.h -- streaming reader of NumPy .npz archives.
 *
 * What np.savez (stored) and np.savez_compressed (deflate) write, also to a
 * pipe (sizes in data descriptors after the data), read front to back as
 * it arrives: every member NAME.npy is the tensor NAME, an .npy decoded by
 * api/npy_decode.c; the central directory and end records are checked
 * against the members read. */
#ifndef API_NPZ_DECODE_H
#define API_NPZ_DECODE_H

#include "decoder.h"

/* Bytes of inflated output handed on per pass (one buffer per request). */
#define API_NPZ_INFLATE_OUT 65536

/* Longest member name: a tensor name (API_MAX_NAME bytes) and ".npy". */
#define API_NPZ_MAX_MEMBER_NAME (API_MAX_NAME + 4)

/* The decoder of application/x-npz and application/zip bodies (api_npz_ops
 * in format.h). The result is a named one (res->named): one entry per
 * member in archive order, summed (api_result_add_typed, the member's own
 * dtype and shape) for float members <f2 <f4 <f8 >f2 >f4 >f8 (and =),
 * skipped (api_result_add_skipped with the file's dtype code, "<i8") for
 * every other dtype. res->dtype is the summed members' dtype when they all
 * share one, else float64.
 *
 * Errors: a dtype query parameter, and every container problem, are
 * invalid_npz with the body offset of the field at fault (of the byte where
 * the body ended, for a truncated archive): not a zip, an unexpected record
 * signature, encryption or other unsupported flags, a compression method
 * other than stored (0) and deflate (8), a member name that is not
 * NAME.npy, not UTF-8 (ASCII without flag bit 11), holds U+0000, or repeats
 * one, more than API_MAX_TENSORS members, corrupt deflate data (located at
 * the member's data), a CRC-32 or size that does not match the data (local
 * header, data descriptor or central directory), a central directory or
 * end record that does not list exactly the members read (same order,
 * names, offsets, CRCs, sizes, count), multi-disk archives, and any byte
 * after the end record. A member's own .npy problems are invalid_npy /
 * invalid_length as for an .npy body (api/npy_decode.h), non_finite with
 * the element's index within the member; their details name the member.
 * Memory: an inflate window and output buffer, one .npy header at a time,
 * and 32 bytes per member. */

#endif
