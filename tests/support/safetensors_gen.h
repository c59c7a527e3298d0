/* safetensors_gen.h -- safetensors files for the tests, written as the
 * reference writer (huggingface/safetensors `serialize`) writes them:
 * tensors sorted by dtype alignment, largest first, then by name (bytes);
 * data_offsets back to back from 0; a compact JSON header with
 * __metadata__ first when there is one, padded with spaces to a multiple
 * of 8 bytes; the 8-byte little-endian header length in front. */
#ifndef TEST_SAFETENSORS_GEN_H
#define TEST_SAFETENSORS_GEN_H

#include <stddef.h>
#include <stdint.h>

#define STGEN_MAX_DIMS 8

/* One tensor to write; data holds exactly the bytes its shape and dtype
 * take, little-endian (data may be NULL when that is 0). */
struct stgen_tensor {
    const char *name;  /* UTF-8, NUL-terminated */
    const char *dtype; /* the file's code: "F32", "BF16", "I64", ... */
    unsigned ndim;
    uint64_t shape[STGEN_MAX_DIMS];
    const void *data;
    size_t data_len;
};

/* Bits per element of a reference dtype code (4 for F4, 6 for F6_*), or 0
 * for an unknown code. */
unsigned stgen_dtype_bits(const char *dtype);

/* The reference writer's rank of a dtype (its declaration order, which is
 * increasing alignment); -1 for an unknown code. */
int stgen_dtype_rank(const char *dtype);

/* Writes the n tensors t (not reordered in place) as a file, with
 * __metadata__ from meta (key, value, key, value, ..., NULL; or NULL for
 * none). Returns a malloc'd buffer of *len bytes; *header_len (may be NULL)
 * receives N, the padded JSON header's length. Aborts when out of memory. */
unsigned char *stgen_write(const struct stgen_tensor *t, size_t n, const char *const *meta,
                           size_t *len, size_t *header_len);

/* A file from a header given as text (used as is: no padding) and data:
 * the 8-byte length of header, header, data. For malformed files. Returns
 * a malloc'd buffer of *len bytes. */
unsigned char *stgen_raw(const char *header, size_t header_len, const void *data, size_t data_len,
                         size_t *len);

#endif
