/* npzw.c -- a small zip writer for the .npz tests. */
#include "tests/support/npzw.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tests/support/zcompress.h"

void npzw_init(struct npzw *w)
{
    memset(w, 0, sizeof *w);
}

void npzw_free(struct npzw *w)
{
    for (size_t i = 0; i < w->ne; i++)
        free(w->e[i].name);
    free(w->e);
    free(w->b);
    npzw_init(w);
}

void npzw_bytes(struct npzw *w, const void *p, size_t len)
{
    if (w->n + len > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->n + len)
            cap *= 2;
        w->b = realloc(w->b, cap);
        cr_assert_not_null(w->b);
        w->cap = cap;
    }
    if (len > 0)
        memcpy(w->b + w->n, p, len);
    w->n += len;
}

void npzw_put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

void npzw_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void u16(struct npzw *w, uint64_t v)
{
    unsigned char b[2];
    npzw_put16(b, (uint16_t)v);
    npzw_bytes(w, b, 2);
}

static void u32(struct npzw *w, uint64_t v)
{
    unsigned char b[4];
    npzw_put32(b, (uint32_t)v);
    npzw_bytes(w, b, 4);
}

static void u64(struct npzw *w, uint64_t v)
{
    u32(w, v & 0xffffffffu);
    u32(w, v >> 32);
}

unsigned char *npzw_deflate(const void *data, size_t len, size_t *out_len)
{
    return zcompress(data, len, 6, 8, ZC_RAW, out_len);
}

void npzw_member(struct npzw *w, const char *name, size_t name_len, const void *data, size_t len,
                 const struct npzw_form *f)
{
    struct npzw_entry *e;
    unsigned char *packed = NULL;
    const void *body = data;
    size_t clen = len;
    bool desc = f->descriptor;

    cr_assert_lt(w->ne, NPZW_MAX_MEMBERS);
    if (w->e == NULL) {
        w->e = calloc(NPZW_MAX_MEMBERS, sizeof *w->e);
        cr_assert_not_null(w->e);
    }
    if (f->deflate) {
        packed = npzw_deflate(data, len, &clen);
        body = packed;
    }
    e = &w->e[w->ne++];
    e->offset = w->n;
    e->csize = clen;
    e->usize = len;
    e->crc = (uint32_t)crc32(0, data, (uInt)len);
    e->method = f->method ? f->method : f->deflate ? 8 : 0;
    e->flags = (uint16_t)(f->flags | (desc ? 8 : 0));
    e->central_ff = f->central_ff;
    e->name = malloc(name_len + 1);
    cr_assert_not_null(e->name);
    memcpy(e->name, name, name_len);
    e->name_len = name_len;

    u32(w, 0x04034b50);
    u16(w, f->zip64 ? 45 : 20);
    u16(w, e->flags);
    u16(w, e->method);
    u16(w, 0);    /* time */
    u16(w, 0x21); /* date: 1980-01-01, as numpy */
    u32(w, desc ? 0 : e->crc);
    u32(w, f->local_ff ? 0xffffffffu : desc ? 0 : clen);
    u32(w, f->local_ff ? 0xffffffffu : desc ? 0 : len);
    u16(w, name_len);
    u16(w, f->zip64 ? 20 : 0);
    npzw_bytes(w, name, name_len);
    if (f->zip64) {
        u16(w, 1);
        u16(w, 16);
        u64(w, desc ? 0 : len);
        u64(w, desc ? 0 : clen);
    }
    npzw_bytes(w, body, clen);
    if (desc) {
        if (!f->desc_nosig)
            u32(w, 0x08074b50);
        u32(w, e->crc);
        if (f->zip64) {
            u64(w, clen);
            u64(w, len);
        } else {
            u32(w, clen);
            u32(w, len);
        }
    }
    free(packed);
}

void npzw_finish(struct npzw *w, bool zip64_end, const char *comment)
{
    size_t cd = w->n, clen = comment ? strlen(comment) : 0;
    size_t z64;

    for (size_t i = 0; i < w->ne; i++) {
        const struct npzw_entry *e = &w->e[i];

        u32(w, 0x02014b50);
        u16(w, 0x0314);
        u16(w, e->central_ff ? 45 : 20);
        u16(w, e->flags);
        u16(w, e->method);
        u16(w, 0);
        u16(w, 0x21);
        u32(w, e->crc);
        u32(w, e->central_ff ? 0xffffffffu : e->csize);
        u32(w, e->central_ff ? 0xffffffffu : e->usize);
        u16(w, e->name_len);
        u16(w, e->central_ff ? 28 : 0);
        u16(w, 0); /* comment */
        u16(w, 0); /* disk */
        u16(w, 0); /* internal attributes */
        u32(w, 0x01800000);
        u32(w, e->central_ff ? 0xffffffffu : e->offset);
        npzw_bytes(w, e->name, e->name_len);
        if (e->central_ff) {
            u16(w, 1);
            u16(w, 24);
            u64(w, e->usize);
            u64(w, e->csize);
            u64(w, e->offset);
        }
    }
    z64 = w->n;
    if (zip64_end) {
        u32(w, 0x06064b50);
        u64(w, 44);
        u16(w, 0x032d);
        u16(w, 45);
        u32(w, 0);
        u32(w, 0);
        u64(w, w->ne);
        u64(w, w->ne);
        u64(w, z64 - cd);
        u64(w, cd);
        u32(w, 0x07064b50);
        u32(w, 0);
        u64(w, z64);
        u32(w, 1);
    }
    u32(w, 0x06054b50);
    u16(w, 0);
    u16(w, 0);
    u16(w, zip64_end ? 0xffff : w->ne);
    u16(w, zip64_end ? 0xffff : w->ne);
    u32(w, zip64_end ? 0xffffffffu : z64 - cd);
    u32(w, zip64_end ? 0xffffffffu : cd);
    u16(w, clen);
    npzw_bytes(w, comment, clen);
}

unsigned char *npzw_npy(const char *descr, const char *shape, const void *data, size_t data_len,
                        size_t *len)
{
    char dict[512];
    const char *q = descr[0] == '[' ? "" : "'";
    int dl = snprintf(dict, sizeof dict, "{'descr': %s%s%s, 'fortran_order': False, 'shape': %s, }",
                      q, descr, q, shape);
    size_t total, hlen;
    unsigned char *out;

    cr_assert(dl > 0 && (size_t)dl < sizeof dict);
    total = (10 + (size_t)dl + 1 + 63) / 64 * 64;
    hlen = total - 10;
    out = malloc(total + data_len + 1);
    cr_assert_not_null(out);
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    npzw_put16(out + 8, (uint16_t)hlen);
    memcpy(out + 10, dict, (size_t)dl);
    memset(out + 10 + dl, ' ', hlen - (size_t)dl - 1);
    out[total - 1] = '\n';
    if (data_len > 0)
        memcpy(out + total, data, data_len);
    *len = total + data_len;
    return out;
}
