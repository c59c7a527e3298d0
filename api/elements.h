/* elements.h -- a byte stream of fixed-size elements, fed to the kernel,
 * and the application/octet-stream format (api_raw_ops) built on it.
 *
 * Raw, .npy, npz and safetensors data are elements of one dtype back to
 * back. This hands whole elements to l2_accum_feed straight from the
 * caller's chunk, completes an element split across chunks in an 8-byte
 * carry, byte-swaps big-endian data in blocks, and counts elements so that
 * a NaN or infinity is reported with its index in the whole stream (or,
 * under ?nonfinite=count, counted and left out of the sums). */
#ifndef API_ELEMENTS_H
#define API_ELEMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/accum.h"
#include "decoder.h"
#include "error.h"

/* Bytes of big-endian data swapped per call to the kernel, whose per-call
 * cost wants big calls. */
#define API_ELEMENTS_SWAP_BLOCK 65536

struct api_elements {
    struct l2_accum *acc; /* where the squares go; not owned */
    enum l2_dtype dtype;
    size_t elem_size;              /* bytes per element */
    const char *what;              /* "the float32 body": names the stream in details */
    unsigned char *swapped;        /* API_ELEMENTS_SWAP_BLOCK bytes when big-endian, owned */
    struct l2_accum_stream stream; /* the kernel's state from call to call */
    unsigned char carry[8];        /* the first bytes of a split element */
    size_t carry_len;              /* < elem_size */
    uint64_t count;                /* whole elements fed */
    bool count_nonfinite; /* ?nonfinite=count: NaN/Inf counted, not an error; set after init */
};

/* Sets up s to feed dtype elements into acc. what (kept, not copied) names
 * the stream in error details. big_endian streams need a swap buffer:
 * returns API_INTERNAL_ERROR (recorded in err) when it cannot be allocated. */
enum api_status api_elements_init(struct api_elements *s, struct l2_accum *acc, enum l2_dtype dtype,
                                  bool big_endian, const char *what, struct api_error *err);

/* Feeds len bytes at p. non_finite, with the element's index in the whole
 * stream, is recorded in err on a NaN or infinity, unless s->count_nonfinite
 * is set: such elements are then counted in the accumulator's nan_count or
 * inf_count and left out of its sums. */
enum api_status api_elements_feed(struct api_elements *s, const unsigned char *p, size_t len,
                                  struct api_error *err);

/* Frees what s owns. s may be NULL. */
void api_elements_free(struct api_elements *s);

/* The decoder of application/octet-stream bodies (api_raw_ops in format.h):
 * a dtype query parameter is required (invalid_dtype); non_finite with its
 * index; invalid_length (offset of the partial element) when the body is
 * not a whole number of elements; format_mismatch (offset 0) when it starts
 * with the .npy magic or a whole safetensors header (api/sniff.h). The
 * result's shape is [count]. */

#endif
