/* error.h -- an error as a value: status, detail and where it happened.
 *
 * Written once, at the spot that detects the problem; the first error set
 * wins and later ones are ignored (jansson's json_error_t rule). Functions
 * take an optional `struct api_error *err`: NULL means the caller only wants
 * the returned status. */
#ifndef API_ERROR_H
#define API_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define API_DETAIL_MAX 512
/* A JSON Pointer of /tensors/<name escaped>/<64 indices> fits with room. */
#define API_POINTER_MAX 4096

struct api_error {
    enum api_status status;        /* API_OK until an error is set */
    char detail[API_DETAIL_MAX];   /* human-readable, NUL-terminated */
    char pointer[API_POINTER_MAX]; /* RFC 6901 pointer (may hold U+0000) */
    size_t pointer_len;            /* bytes of pointer, without the NUL */
    bool has_pointer;              /* pointer is meaningful ("" is the root) */
    int64_t index;                 /* element index, -1 when absent */
    int64_t offset;                /* byte offset in the body, -1 when absent */
};

/* Clears err to "no error". err may be NULL. */
void api_error_init(struct api_error *err);

/* Records st with a printf-style detail, unless err already holds an error
 * or is NULL. Returns st, so that `return api_error_set(err, ...)` reads
 * naturally. A detail longer than API_DETAIL_MAX is truncated. */
enum api_status api_error_set(struct api_error *err, enum api_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* api_error_set with a va_list. */
enum api_status api_error_vset(struct api_error *err, enum api_status st, const char *fmt,
                               va_list ap) __attribute__((format(printf, 3, 0)));

/* Hands a recorded error on: copies *recorded into err unless err is NULL or
 * already holds an error (first error wins). Returns recorded->status, so a
 * decoder that keeps its first failure can answer every later call with it. */
enum api_status api_error_replay(const struct api_error *recorded, struct api_error *err);

/* Attach a location to the error just set (no-op if err is NULL or if the
 * location was already set). The pointer is copied, truncated to fit. */
void api_error_at_offset(struct api_error *err, int64_t offset);
void api_error_at_index(struct api_error *err, int64_t index);
void api_error_at_pointer(struct api_error *err, const char *pointer, size_t len);

#endif
