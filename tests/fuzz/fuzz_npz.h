/* fuzz_npz.h -- the .npz harness body (fuzz_npz.c; replayed by the unit tests).
 *
 * Input: the header of fuzz_common.h (its dtype bits are unused: a dtype
 * parameter is refused with an .npz body), then the archive. It is decoded
 * whole by the .npz format's ops, in the fuzzer's pieces through api_body,
 * and byte by byte; all three must agree. When the decoder accepts the
 * archive, a slow reference that shares nothing with api/npz_decode.c reads
 * it the way unzip does (end record first, then the central directory, each
 * member's bytes from its local header, deflated ones inflated in one call,
 * CRC-32 by zlib) and sums every float member element by element with
 * l2_dtype_load_le and l2_accum_add: the same members in the same order,
 * the same names, and the same sums bit for bit. */
#ifndef FUZZ_NPZ_H
#define FUZZ_NPZ_H

#include <zlib.h>

#include "api/npz_decode.h"
#include "fuzz_common.h"
#include "npy_frame.h"

static uint64_t npz_rd(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* Where the reference finds the central directory. */
struct npz_ref_dir {
    uint64_t cd; /* offset of the first entry */
    uint64_t count;
};

/* The end record (the last 22 bytes and its comment) and, when it holds
 * 0xffff / 0xffffffff, the zip64 end record its locator points at. */
static bool npz_ref_end(const uint8_t *b, size_t len, struct npz_ref_dir *d)
{
    size_t e;

    if (len < 22)
        return false;
    for (e = len - 22;; e--) {
        if (npz_rd(b + e, 4) == 0x06054b50 && e + 22 + npz_rd(b + e + 20, 2) == len)
            break;
        if (e == 0)
            return false;
    }
    d->count = npz_rd(b + e + 10, 2);
    d->cd = npz_rd(b + e + 16, 4);
    if (d->count == 0xffff || d->cd == 0xffffffffu) {
        uint64_t z;

        if (e < 20 || npz_rd(b + e - 20, 4) != 0x07064b50)
            return false;
        z = npz_rd(b + e - 20 + 8, 8);
        if (z > len - 56 || npz_rd(b + z, 4) != 0x06064b50)
            return false;
        d->count = npz_rd(b + z + 32, 8);
        d->cd = npz_rd(b + z + 48, 8);
    }
    return d->cd <= len;
}

/* One central entry at *at: the member's name, method, CRC and data. */
struct npz_ref_member {
    const uint8_t *name;
    size_t name_len;
    unsigned method;
    uint32_t crc;
    const uint8_t *data;
    uint64_t csize, usize;
};

static bool npz_ref_entry(const uint8_t *b, size_t len, uint64_t *at, struct npz_ref_member *m)
{
    const uint8_t *c = b + *at;
    uint64_t nl, xl, cl, off, x, loc;

    if (*at > len || len - *at < 46 || npz_rd(c, 4) != 0x02014b50)
        return false;
    nl = npz_rd(c + 28, 2);
    xl = npz_rd(c + 30, 2);
    cl = npz_rd(c + 32, 2);
    if (len - *at < 46 + nl + xl + cl)
        return false;
    m->method = (unsigned)npz_rd(c + 10, 2);
    m->crc = (uint32_t)npz_rd(c + 16, 4);
    m->csize = npz_rd(c + 20, 4);
    m->usize = npz_rd(c + 24, 4);
    off = npz_rd(c + 42, 4);
    m->name = c + 46;
    m->name_len = nl;
    /* the zip64 field: the 0xffffffff values, in order */
    for (x = 0; x + 4 <= xl;) {
        const uint8_t *f = c + 46 + nl + x;
        uint64_t tag = npz_rd(f, 2), sz = npz_rd(f + 2, 2), k = 4;

        if (tag == 1) {
            uint64_t *vals[3] = {&m->usize, &m->csize, &off};
            for (int i = 0; i < 3; i++) {
                if (*vals[i] != 0xffffffffu)
                    continue;
                if (k + 8 > 4 + sz)
                    return false;
                *vals[i] = npz_rd(f + k, 8);
                k += 8;
            }
        }
        x += 4 + sz;
    }
    if (off > len || len - off < 30 || npz_rd(b + off, 4) != 0x04034b50)
        return false;
    loc = off + 30 + npz_rd(b + off + 26, 2) + npz_rd(b + off + 28, 2);
    if (loc > len || len - loc < m->csize)
        return false;
    m->data = b + loc;
    *at += 46 + nl + xl + cl;
    return true;
}

/* The member's .npy bytes in *out (malloc'd; *out_len): stored as they are,
 * deflated inflated in one call. */
static bool npz_ref_bytes(const struct npz_ref_member *m, uint8_t **out, size_t *out_len)
{
    z_stream zs;
    int ret;

    *out = malloc(m->usize > 0 ? (size_t)m->usize : 1);
    FUZZ_CHECK(*out != NULL, "reference: out of memory");
    *out_len = (size_t)m->usize;
    if (m->method == 0) {
        if (m->csize != m->usize)
            return false;
        memcpy(*out, m->data, (size_t)m->usize);
        return true;
    }
    memset(&zs, 0, sizeof zs);
    FUZZ_CHECK(inflateInit2(&zs, -MAX_WBITS) == Z_OK, "reference: inflateInit2");
    zs.next_in = (uint8_t *)(uintptr_t)m->data;
    zs.avail_in = (uInt)m->csize;
    zs.next_out = *out;
    zs.avail_out = (uInt)m->usize;
    ret = inflate(&zs, Z_FINISH);
    inflateEnd(&zs);
    return ret == Z_STREAM_END && zs.avail_in == 0 && zs.avail_out == 0;
}

/* Sums the float .npy at b (the framing of fuzz_npy.h) into acc; false when
 * its descr is not a summed float (the decoder must have skipped it). */
static bool npz_ref_sum(const uint8_t *b, size_t len, const struct api_tensor *t,
                        struct l2_accum *acc)
{
    struct npy_frame f;
    size_t size;

    if (t->skipped != NULL)
        return false;
    FUZZ_CHECK(npy_frame(b, len, &f), "reference: member '%s' has no .npy framing", t->name);
    size = l2_dtype_size(t->dtype);
    FUZZ_CHECK((len - f.data) % size == 0, "reference: '%s' has a partial element", t->name);
    for (size_t i = f.data; i < len; i += size) {
        double x = fuzz_load(t->dtype, b + i, f.swap);

        FUZZ_CHECK(l2_accum_add(acc, x) == L2_OK, "reference: '%s': %a not finite", t->name, x);
    }
    return true;
}

static void npz_ref_archive(const struct fuzz_input *in, const struct api_result *res)
{
    struct npz_ref_dir d;
    uint64_t at;
    struct l2_accum total;

    FUZZ_CHECK(npz_ref_end(in->body, in->len, &d), "reference: no end record in an accepted npz");
    FUZZ_CHECK(res->named, "reference: npz result not named");
    FUZZ_CHECK(d.count == res->n_tensors, "reference: %llu entries, %zu tensors",
               (unsigned long long)d.count, res->n_tensors);
    l2_accum_init(&total);
    at = d.cd;
    for (size_t i = 0; i < res->n_tensors; i++) {
        const struct api_tensor *t = &res->tensors[i];
        struct npz_ref_member m;
        struct l2_accum acc;
        uint8_t *npy;
        size_t len;
        double s;

        FUZZ_CHECK(npz_ref_entry(in->body, in->len, &at, &m), "reference: entry %zu unreadable", i);
        FUZZ_CHECK(m.name_len == t->name_len + 4 && memcmp(m.name, t->name, t->name_len) == 0 &&
                       memcmp(m.name + t->name_len, ".npy", 4) == 0,
                   "reference: entry %zu is not '%s.npy'", i, t->name);
        FUZZ_CHECK(npz_ref_bytes(&m, &npy, &len), "reference: '%s' does not inflate", t->name);
        FUZZ_CHECK((uint32_t)crc32(0, npy, (uInt)len) == m.crc, "reference: '%s' CRC differs",
                   t->name);
        l2_accum_init(&acc);
        if (npz_ref_sum(npy, len, t, &acc)) {
            l2_accum_sum(&acc, &s);
            FUZZ_CHECK(fuzz_bits(s) == fuzz_bits(t->sum_squares) && acc.count == t->count,
                       "reference: '%s' sum %a count %llu, decoder %a %llu", t->name, s,
                       (unsigned long long)acc.count, t->sum_squares, (unsigned long long)t->count);
            l2_accum_merge(&total, &acc);
        }
        free(npy);
    }
    fuzz_same_accum("reference total", &total, &res->total);
}

/* The outcome of the whole run: an accepted archive as the reference reads
 * it, with UTF-8 names; any error with a location. */
static void npz_reference(const struct fuzz_input *in, enum api_status st,
                          const struct api_error *err, const struct api_result *res)
{
    if (st == API_OK) {
        npz_ref_archive(in, res);
        for (size_t i = 0; i < res->n_tensors; i++)
            FUZZ_CHECK(fuzz_utf8_valid((const unsigned char *)res->tensors[i].name,
                                       res->tensors[i].name_len),
                       "tensor %zu's name is not UTF-8", i);
    }
    FUZZ_CHECK(st == API_OK || err->offset >= 0 || err->index >= 0, "error without a location: %s",
               err->detail);
}

static const struct fuzz_format npz_format = {"npz", API_FORMAT_NPZ, &api_npz_ops, NULL,
                                              npz_reference};

/* Checks one input; aborts on a broken invariant. */
static void npz_check(const uint8_t *data, size_t size)
{
    struct fuzz_input in;

    if (!fuzz_input_parse(data, size, &in))
        return;
    in.has_dtype = false;
    fuzz_check_format(&npz_format, &in, (unsigned)data[0] >> 3);
}

#endif
