/* error.c -- first-error-wins recording of api_error values. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void api_error_init(struct api_error *err)
{
    if (err == NULL)
        return;
    err->status = API_OK;
    err->detail[0] = '\0';
    err->pointer[0] = '\0';
    err->pointer_len = 0;
    err->has_pointer = false;
    err->index = -1;
    err->offset = -1;
}

enum api_status api_error_vset(struct api_error *err, enum api_status st, const char *fmt,
                               va_list ap)
{
    if (err == NULL || err->status != API_OK || st == API_OK)
        return st;
    api_error_init(err);
    err->status = st;
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    return st;
}

enum api_status api_error_set(struct api_error *err, enum api_status st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    api_error_vset(err, st, fmt, ap);
    va_end(ap);
    return st;
}

enum api_status api_error_replay(const struct api_error *recorded, struct api_error *err)
{
    if (err != NULL && err->status == API_OK)
        *err = *recorded;
    return recorded->status;
}

void api_error_at_offset(struct api_error *err, int64_t offset)
{
    if (err != NULL && err->offset < 0)
        err->offset = offset;
}

void api_error_at_index(struct api_error *err, int64_t index)
{
    if (err != NULL && err->index < 0)
        err->index = index;
}

void api_error_at_pointer(struct api_error *err, const char *pointer, size_t len)
{
    if (err == NULL || err->has_pointer)
        return;
    if (len >= sizeof err->pointer)
        len = sizeof err->pointer - 1;
    memcpy(err->pointer, pointer, len);
    err->pointer[len] = '\0';
    err->pointer_len = len;
    err->has_pointer = true;
}
