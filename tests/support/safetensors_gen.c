/* safetensors_gen.c -- safetensors files written as the reference writer
 * writes them, for the tests. */
#include "tests/support/safetensors_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference's Dtype enum, in its declaration order, with bit widths. */
static const struct {
    const char *code;
    unsigned bits;
} dtypes[] = {
    {"BOOL", 8},        {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
    {"I8", 8},          {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
    {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16},    {"BF16", 16},
    {"I32", 32},        {"U32", 32},    {"F32", 32},    {"C64", 64},    {"F64", 64},
    {"I64", 64},        {"U64", 64},
};

#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

int stgen_dtype_rank(const char *dtype)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (strcmp(dtypes[i].code, dtype) == 0)
            return (int)i;
    return -1;
}

unsigned stgen_dtype_bits(const char *dtype)
{
    int r = stgen_dtype_rank(dtype);

    return r < 0 ? 0 : dtypes[r].bits;
}

/* A growing text buffer; aborts when out of memory. */
struct sbuf {
    char *s;
    size_t len, cap;
};

static void put(struct sbuf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->s = realloc(b->s, cap);
        if (b->s == NULL)
            abort();
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void puts_(struct sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* A JSON string as serde_json writes it: '"' and '\' escaped, control
 * characters as \b \t \n \f \r or \u00xx, everything else as is. */
static void put_json_string(struct sbuf *b, const char *s)
{
    puts_(b, "\"");
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(b, esc, 2);
        } else if (c < 0x20) {
            const char *named = c == '\b'   ? "\\b"
                                : c == '\t' ? "\\t"
                                : c == '\n' ? "\\n"
                                : c == '\f' ? "\\f"
                                : c == '\r' ? "\\r"
                                            : NULL;
            if (named != NULL) {
                puts_(b, named);
            } else {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                puts_(b, esc);
            }
        } else {
            put(b, s, 1);
        }
    }
    puts_(b, "\"");
}

/* The writer's order: dtype rank descending, then name ascending (bytes). */
static int writer_order(const void *a, const void *b)
{
    const struct stgen_tensor *x = a, *y = b;
    int rx = stgen_dtype_rank(x->dtype), ry = stgen_dtype_rank(y->dtype);

    if (rx != ry)
        return ry - rx;
    return strcmp(x->name, y->name);
}

unsigned char *stgen_write(const struct stgen_tensor *t, size_t n, const char *const *meta,
                           size_t *len, size_t *header_len)
{
    struct sbuf h = {NULL, 0, 0};
    struct stgen_tensor *sorted = malloc((n > 0 ? n : 1) * sizeof *sorted);
    uint64_t offset = 0;
    size_t data_len = 0, at;
    unsigned char *out;
    char num[64];

    if (sorted == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        sorted[i] = t[i];
        data_len += t[i].data_len;
    }
    qsort(sorted, n, sizeof *sorted, writer_order);
    puts_(&h, "{");
    if (meta != NULL) {
        puts_(&h, "\"__metadata__\":{");
        for (size_t k = 0; meta[k] != NULL; k += 2) {
            if (k > 0)
                puts_(&h, ",");
            put_json_string(&h, meta[k]);
            puts_(&h, ":");
            put_json_string(&h, meta[k + 1]);
        }
        puts_(&h, "}");
    }
    for (size_t i = 0; i < n; i++) {
        const struct stgen_tensor *x = &sorted[i];

        if (i > 0 || meta != NULL)
            puts_(&h, ",");
        put_json_string(&h, x->name);
        puts_(&h, ":{\"dtype\":");
        put_json_string(&h, x->dtype);
        puts_(&h, ",\"shape\":[");
        for (unsigned d = 0; d < x->ndim; d++) {
            snprintf(num, sizeof num, "%s%llu", d > 0 ? "," : "", (unsigned long long)x->shape[d]);
            puts_(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                 (unsigned long long)(offset + x->data_len));
        puts_(&h, num);
        offset += x->data_len;
    }
    puts_(&h, "}");
    while (h.len % 8 != 0)
        puts_(&h, " ");

    *len = 8 + h.len + data_len;
    out = malloc(*len);
    if (out == NULL)
        abort();
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    memcpy(out + 8, h.s, h.len);
    at = 8 + h.len;
    for (size_t i = 0; i < n; i++) {
        const struct stgen_tensor *x = &sorted[i];

        if (x->data_len > 0)
            memcpy(out + at, x->data, x->data_len);
        at += x->data_len;
    }
    if (header_len != NULL)
        *header_len = h.len;
    free(h.s);
    free(sorted);
    return out;
}

unsigned char *stgen_raw(const char *header, size_t header_len, const void *data, size_t data_len,
                         size_t *len)
{
    unsigned char *out = malloc(8 + header_len + data_len);

    if (out == NULL)
        abort();
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    memcpy(out + 8, header, header_len);
    if (data_len > 0)
        memcpy(out + 8 + header_len, data, data_len);
    *len = 8 + header_len + data_len;
    return out;
}
