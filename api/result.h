/* result.h -- what a decoded body amounts to: exact sums, counts, shapes.
 *
 * Decoders fill a struct api_result as elements stream past; the response
 * encoder reads it. It holds one exact accumulator for the whole body and,
 * for named tensors, one entry per tensor (its rounded sums, count, shape
 * and exact state, for partials), so its size grows with the number of
 * tensors, never with their elements. The number of tensors is capped by API_MAX_TENSORS. */
#ifndef API_RESULT_H
#define API_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/accum.h"
#include "error.h"

#define API_MAX_DEPTH 64      /* JSON nesting and .npy dimensions */
#define API_MAX_NAME 1024     /* bytes of UTF-8 in a tensor name */
#define API_MAX_TENSORS 10000 /* named tensors in one body */

struct api_tensor {
    char *name;      /* UTF-8, NUL-terminated, owned by the result */
    size_t name_len; /* bytes, without the NUL (names may hold U+0000) */
    char *skipped;   /* not summed: the file's own dtype code ("I64", "<i8"), owned; else NULL */
    enum l2_dtype dtype; /* of the elements summed (not meaningful when skipped) */
    double sum_squares;  /* exact sum rounded once; +inf if it overflowed */
    double half_sum;     /* exact sum / 2 rounded once (tf.nn.l2_loss); +inf likewise */
    double norm;         /* sqrt of the exact sum, rounded once; +inf if the sum overflowed */
    double max_abs;      /* largest |element| summed; 0.0 when none */
    uint64_t count;      /* elements, non-finite ones counted under nonfinite=count included */
    uint64_t nan_count;  /* NaN elements left out under nonfinite=count */
    uint64_t inf_count;  /* infinite elements left out under nonfinite=count */
    unsigned ndim;
    uint64_t *shape;        /* ndim entries, owned by the result (NULL when ndim is 0) */
    struct l2_accum *exact; /* the exact state the figures above are rounded from, owned;
                             * kept only when the result's keep_exact is set (else NULL) */
    void *mem; /* the one allocation exact, shape, name and skipped live in (result.c's) */
};

struct api_result {
    enum l2_dtype dtype;
    bool named;            /* {"tensors": {...}} body, or a checkpoint */
    bool typed;            /* a checkpoint: each tensor has its own dtype */
    bool count_nonfinite;  /* nonfinite=count: NaN/Inf counted, answers show the counts */
    bool want_partial;     /* ?partial=true: answers carry each object's partial (partial.h) */
    bool keep_exact;       /* each tensor keeps its exact state (exact): set with want_partial
                            * before any tensor is added, or by a decoder that learns it late */
    bool merged;           /* a /merge of partials: no shape, no dtype, counts always shown */
    struct l2_accum total; /* exact, over every element of the body */
    unsigned ndim;         /* single tensor: its shape */
    uint64_t shape[API_MAX_DEPTH];
    struct api_tensor *tensors; /* named: in the order sent */
    size_t n_tensors;
    size_t cap_tensors;
    void *names_index; /* private to result.c: duplicate-name lookup */
};

/* Sets res to an empty single-tensor result of dtype. Cannot fail. */
void api_result_init(struct api_result *res, enum l2_dtype dtype);

/* Appends a named tensor: copies name (len bytes) and shape, rounds acc's
 * sum and half sum, and merges acc into res->total. Returns API_INVALID_TENSOR for an
 * empty, over-long or duplicate name or past API_MAX_TENSORS (with the
 * tensor's JSON Pointer), API_INTERNAL_ERROR when out of memory; res is
 * unchanged on failure. */
enum api_status api_result_add_tensor(struct api_result *res, const char *name, size_t len,
                                      const struct l2_accum *acc, unsigned ndim,
                                      const uint64_t *shape, struct api_error *err);

/* api_result_add_tensor for a tensor of its own dtype (checkpoint formats,
 * where each tensor has one). */
enum api_status api_result_add_typed(struct api_result *res, const char *name, size_t len,
                                     enum l2_dtype dtype, const struct l2_accum *acc, unsigned ndim,
                                     const uint64_t *shape, struct api_error *err);

/* Sets the sums and counts of tensor i, added with an empty accumulator
 * before its elements were read (an inference request's binary input, read
 * after the inputs that follow it), from acc, and merges acc into the
 * total. Cannot fail. */
void api_result_set_sums(struct api_result *res, size_t i, const struct l2_accum *acc);

/* Records a tensor that is not summed (an integer, bool, fp8 or complex
 * tensor of a checkpoint) with the file's own dtype code (NUL-terminated,
 * copied). Its name counts for duplicates and API_MAX_TENSORS like a summed
 * one. The same errors as api_result_add_tensor. */
enum api_status api_result_add_skipped(struct api_result *res, const char *name, size_t len,
                                       const char *file_dtype, struct api_error *err);

/* The dtype every summed (not skipped) tensor shares, in *out; false when
 * there is none (no summed tensor, or several dtypes). */
bool api_result_common_dtype(const struct api_result *res, enum l2_dtype *out);

/* Sets res->dtype of a checkpoint's result to its tensors' common dtype,
 * float64 when they have none. */
void api_result_settle_dtype(struct api_result *res);

/* Checks, before its tensor is read, that a tensor called name (len bytes)
 * could be added: the same errors as api_result_add_tensor except out of
 * memory. Returns API_OK or API_INVALID_TENSOR. */
enum api_status api_result_check_name(const struct api_result *res, const char *name, size_t len,
                                      struct api_error *err);

/* Appends to the pointer text dst[*pos..cap) the reference token tok (len
 * bytes) escaped per RFC 6901 ("~" as "~0", "/" as "~1"), preceded by "/".
 * Returns false, leaving dst NUL-terminated and truncated, when it does not
 * fit; *pos is advanced past what was written. cap must be at least 1. */
bool api_result_pointer_append(char *dst, size_t cap, size_t *pos, const char *tok, size_t len);

/* Frees what res owns and leaves it empty (same dtype). res may be NULL. */
void api_result_free(struct api_result *res);

#endif
