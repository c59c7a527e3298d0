/* response.h -- JSON response and problem+json bodies.
 *
 * Every double is printed in the shortest form that reads back to the same
 * bits, laid out as Python's repr does (0.1, 15.0, 1e-05, 1e+16): see
 * shortest.h. */
#ifndef API_RESPONSE_H
#define API_RESPONSE_H

#include <stddef.h>

#include "query.h"
#include "result.h"

/* Hard limit on a success body; API_MAX_TENSORS entries with the longest
 * names and shapes stay far below it. */
#define API_RESPONSE_MAX ((size_t)256 << 20)

/* The numbers of one result object, the total or one tensor, as the answers of both protocols give
 * them. */
struct api_figures {
    double loss;        /* l2 loss; with a scale, scale x l2 loss rounded once (0.0 disabled) */
    double sum_squares; /* the exact sum rounded once */
    double norm;        /* its square root, rounded once from the exact sum */
    double max_abs;
    uint64_t count;
    uint64_t nan_count, inf_count;
};

/* The figures of res's totals, with scale (NULL: none, the l2 loss).
 * result_out_of_range when sum_squares or scale x l2 loss overflows
 * float64 (*out is then partly written). */
enum api_status api_figures_total(const struct api_result *res, const struct api_scale *scale,
                                  struct api_figures *out, struct api_error *err);

/* The figures of one tensor t of a result, as api_figures_total. */
enum api_status api_figures_tensor(const struct api_tensor *t, const struct api_scale *scale,
                                   struct api_figures *out, struct api_error *err);

/* Encodes the success body for res, on one line with ", " and ": " between
 * items (as API.md's examples). scale is NULL for /l2_loss. On success
 * *out is a malloc'd NUL-terminated string the caller frees, *out_len its
 * length. result_out_of_range when sum_squares or scale*loss overflows,
 * internal_error when out of memory (or past API_RESPONSE_MAX); *out is
 * then NULL. */
enum api_status api_response_encode(const struct api_result *res, const struct api_scale *scale,
                                    char **out, size_t *out_len, struct api_error *err);

/* Encodes err as an RFC 9457 problem+json body (type, title, status, detail,
 * code, and pointer/index/offset where set; NULL err: internal_error), bytes
 * of detail or pointer that are not valid UTF-8 written as U+FFFD. Returns
 * a malloc'd string the caller frees (length in *out_len when out_len is not
 * NULL), or NULL when out of memory. */
char *api_problem_encode(const struct api_error *err, size_t *out_len);

#endif
