/* npz_decode.c -- streaming reader of NumPy .npz archives (zip: stored or deflate).
 *
 * The archive is read front to back as a sequence of zip records: each
 * local header and its member, fed through the CRC (api/crc32.c) to an .npy
 * member decoder (api/npy_decode.h), inflated on the way when deflated;
 * then the central directory, checked entry by entry against the members
 * read, and the end records. The one idea: a member's end never has to be
 * known in advance, because a stored member ends where its .npy header
 * says and a deflated one where its deflate stream does; sizes written
 * after the data (np.savez to a pipe) are then only checked. */
#include "npz_decode.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "crc32.h"
#include "format.h"
#include "npy_decode.h"
#include "text.h"

#define ZIP_LOCAL_SIG 0x04034b50u
#define ZIP_CENTRAL_SIG 0x02014b50u
#define ZIP_DESC_SIG 0x08074b50u
#define ZIP_Z64_END_SIG 0x06064b50u
#define ZIP_Z64_LOC_SIG 0x07064b50u
#define ZIP_END_SIG 0x06054b50u

/* Fixed sizes of the records, signature included. */
#define ZIP_SIG_SIZE 4
#define ZIP_LOCAL_SIZE 30
#define ZIP_CENTRAL_SIZE 46
#define ZIP_Z64_END_SIZE 56
#define ZIP_Z64_LOC_SIZE 20
#define ZIP_END_SIZE 22
#define ZIP_DESC_MAX 24      /* signature, CRC, two 64-bit sizes */
#define ZIP_Z64_END_FIXED 44 /* the zip64 end record's size field counts from byte 12 */

#define ZIP_FLAG_ENCRYPTED 0x0001u
#define ZIP_FLAG_DESCRIPTOR 0x0008u
#define ZIP_FLAG_PATCHED 0x0020u
#define ZIP_FLAG_STRONG 0x0040u
#define ZIP_FLAG_UTF8 0x0800u
#define ZIP_FLAG_MASKED 0x2000u

#define ZIP_STORED 0u
#define ZIP_DEFLATE 8u
#define ZIP_U16_MAX 0xffffu
#define ZIP_U32_MAX 0xffffffffu
#define ZIP_Z64_TAG 0x0001u
#define ZIP_Z64_MAX 28 /* uncompressed and compressed size, offset, disk */

/* Bytes decoded and then CRC'd at a time. The vector kernels read a slice
 * from memory, the CRC reads it back from L1 and meanwhile prefetches the
 * next slice, so that the CRC's arithmetic overlaps the memory's latency:
 * slices of the kernel's own block (16 KiB of float32) keep that overlap.
 * Data the kernel sums with its portable code (api_npy_member_portable)
 * costs it far more per call and the CRC far less in proportion, and a CRC
 * that does not prefetch (api_crc32_prefetches) has nothing to overlap:
 * long slices then. (BENCHMARKS.md, round four.) */
#define NPZ_SLICE ((size_t)16 << 10)
#define NPZ_SLICE_LONG ((size_t)1 << 20)
/* Bytes of a member name quoted in details. */
#define NPZ_LABEL_NAME 96
#define NPZ_LABEL_MAX (NPZ_LABEL_NAME + 32)
/* Input handed to inflate per call (its lengths are unsigned int). */
#define NPZ_INFLATE_IN ((size_t)1 << 30)

enum npz_state {
    NPZ_SIG,        /* a record's signature */
    NPZ_LOCAL,      /* the rest of a local file header */
    NPZ_NAME,       /* its name */
    NPZ_EXTRA,      /* its extra field */
    NPZ_DATA,       /* the member itself */
    NPZ_DESCRIPTOR, /* its data descriptor */
    NPZ_CENTRAL,    /* the rest of a central directory header */
    NPZ_CNAME,      /* its name */
    NPZ_CEXTRA,     /* its extra field */
    NPZ_SKIP,       /* bytes read past: comments, the zip64 end record's extension */
    NPZ_Z64_END,    /* the rest of the zip64 end of central directory record */
    NPZ_Z64_LOC,    /* the rest of the zip64 end of central directory locator */
    NPZ_END,        /* the rest of the end of central directory record */
    NPZ_DONE,       /* the archive is complete: nothing may follow */
};

/* Which records may come next. */
enum npz_part {
    PART_MEMBERS, /* a local header, the central directory or an end record */
    PART_CENTRAL, /* a central directory header or an end record */
    PART_Z64_END, /* the zip64 locator */
    PART_Z64_LOC, /* the end record */
};

/* What the archive says about a member, kept for the central directory. */
struct npz_entry {
    uint64_t offset; /* of its local header */
    uint64_t csize;  /* compressed bytes */
    uint64_t usize;  /* bytes of its .npy */
    uint32_t crc;
    uint16_t method;
    uint16_t flags;
};

/* An extra field read as it streams: only the zip64 field is kept. */
struct npz_extra {
    uint64_t left;         /* bytes of the extra field not read yet */
    unsigned char head[4]; /* tag and size of the field being read */
    size_t head_len;
    uint64_t field_left; /* its data bytes not read yet */
    bool in_field;
    bool is_z64;
    bool has_z64;
    unsigned char z64[ZIP_Z64_MAX]; /* the zip64 field's first bytes */
    size_t z64_len;                 /* its full length */
    uint64_t z64_off;               /* body offset of its data */
};

/* The member being read. */
struct npz_member {
    struct npz_entry e; /* sizes from the local header until the data ends */
    uint32_t crc_local; /* the local header's CRC (meaningless with a descriptor) */
    bool zip64;         /* the local header has a zip64 field: 64-bit descriptor sizes */
    uint64_t data_off;  /* body offset of its first data byte */
    uint64_t cdone;     /* compressed bytes read */
    uint64_t udone;     /* .npy bytes decoded */
    uint32_t crc;       /* of those */
    size_t name_len;    /* bytes of its name, ".npy" included */
    struct api_npy_decoder *npy;
    char label[NPZ_LABEL_MAX]; /* "npz member 'w.npy'" */
};

struct npz_decoder {
    struct api_result *res;
    struct api_error *err; /* this call's error record (the body's) */
    uint64_t inflated;     /* bytes inflated from every deflated member so far */
    uint64_t max_inflated; /* and the most allowed (0: no limit) */
    enum npz_state state;
    enum npz_part part;
    uint64_t pos; /* body offset of the next byte */

    unsigned char buf[ZIP_Z64_END_SIZE]; /* the fixed part of the record being read */
    size_t need;                         /* its size */
    size_t have;                         /* bytes of it read */
    uint64_t rec_off;                    /* its body offset */

    unsigned char name[API_NPZ_MAX_MEMBER_NAME]; /* a local header's name */
    struct npz_extra ex;
    struct npz_member m;
    struct api_result scratch; /* the member's sums and shape */

    struct npz_entry *entries; /* every member read, in order */
    size_t n_entries;
    size_t cap_entries;

    z_stream zs;
    bool zs_ready;
    unsigned char *out; /* API_NPZ_INFLATE_OUT bytes, once a member is deflated */

    size_t cidx;                         /* central directory entries read */
    uint64_t cd_start;                   /* body offset of the central directory */
    uint64_t cd_end;                     /* and of what follows it */
    bool z64_end;                        /* a zip64 end record was read */
    uint64_t z64_off;                    /* at this offset */
    uint64_t cname_pos;                  /* central name bytes compared */
    uint32_t c_csize, c_usize, c_offset; /* a central header's 32-bit fields */
    uint16_t c_disk;
    uint64_t skip_left;        /* NPZ_SKIP: bytes still to pass */
    enum npz_state after_skip; /* and the state after them */
};

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Records invalid_npz, detail printf-style, at body offset `offset`, unless
 * an error is recorded already. Returns the recorded status. */
static enum api_status npz_fail(struct npz_decoder *z, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum api_status npz_fail(struct npz_decoder *z, uint64_t offset, const char *fmt, ...)
{
    va_list ap;

    if (z->err->status != API_OK)
        return z->err->status;
    va_start(ap, fmt);
    api_error_vset(z->err, API_INVALID_NPZ, fmt, ap);
    va_end(ap);
    api_error_at_offset(z->err, (int64_t)offset);
    return API_INVALID_NPZ;
}

/* Sets the member's label, "npz member 'NAME'", the name (valid UTF-8) cut
 * at a character boundary after NPZ_LABEL_NAME bytes. */
static void set_label(struct npz_decoder *z)
{
    size_t n = 0;

    while (n < z->m.name_len) {
        size_t c = api_text_utf8_len((const char *)z->name + n, z->m.name_len - n);

        if (n + c > NPZ_LABEL_NAME)
            break;
        n += c;
    }
    snprintf(z->m.label, sizeof z->m.label, "npz member '%.*s%s'", (int)n, (const char *)z->name,
             n < z->m.name_len ? "..." : "");
}

/* Moves bytes from *p into buf until it holds `need`; true when it does. */
static bool collect(struct npz_decoder *z, const unsigned char **p, size_t *len)
{
    size_t take = z->need - z->have;

    if (take > *len)
        take = *len;
    memcpy(z->buf + z->have, *p, take);
    z->have += take;
    z->pos += take;
    *p += take;
    *len -= take;
    return z->have == z->need;
}

/* Starts reading a fixed record of `size` bytes whose signature is in buf. */
static void expect_record(struct npz_decoder *z, enum npz_state state, size_t size)
{
    z->state = state;
    z->need = size;
}

/* Passes n bytes, then goes on in state `after` (at once when n is 0). */
static void skip_then(struct npz_decoder *z, uint64_t n, enum npz_state after)
{
    z->skip_left = n;
    z->after_skip = after;
    z->state = n > 0 ? NPZ_SKIP : after;
    z->need = ZIP_SIG_SIZE;
    z->have = 0;
    if (after == NPZ_SIG)
        z->rec_off = z->pos + n;
}

static void next_record(struct npz_decoder *z)
{
    skip_then(z, 0, NPZ_SIG);
}

/* ---- extra fields ------------------------------------------------------- */

static void extra_start(struct npz_decoder *z, uint64_t len)
{
    memset(&z->ex, 0, sizeof z->ex);
    z->ex.left = len;
}

/* Reads extra-field bytes (complete when z->ex.left is 0), keeping the
 * zip64 field. Fields must lie within the extra field; fewer than 4 bytes
 * left at a field boundary are padding and skipped, as Python's zipfile
 * reads them. */
static enum api_status extra_feed(struct npz_decoder *z, const unsigned char **p, size_t *len)
{
    struct npz_extra *x = &z->ex;

    while (*len > 0 && x->left > 0) {
        size_t take;

        if (!x->in_field && x->head_len == 0 && x->left < 4) {
            take = *len < x->left ? *len : (size_t)x->left;
        } else if (!x->in_field) {
            take = 4 - x->head_len;
            take = take < *len ? take : *len;
            memcpy(x->head + x->head_len, *p, take);
            x->head_len += take;
        } else {
            take = *len < x->field_left ? *len : (size_t)x->field_left;
            if (x->is_z64 && x->z64_len < ZIP_Z64_MAX) {
                size_t keep = ZIP_Z64_MAX - x->z64_len < take ? ZIP_Z64_MAX - x->z64_len : take;

                memcpy(x->z64 + x->z64_len, *p, keep);
            }
            if (x->is_z64)
                x->z64_len += take;
            x->field_left -= take;
        }
        x->left -= take;
        z->pos += take;
        *p += take;
        *len -= take;
        if (!x->in_field && x->head_len == 4) {
            uint16_t tag = le16(x->head), size = le16(x->head + 2);

            x->head_len = 0;
            if (size > x->left)
                return npz_fail(z, z->pos - 4,
                                "extra field 0x%04x of %u bytes runs past the end of the "
                                "header's extra data (%" PRIu64 " bytes left)",
                                tag, size, x->left);
            if (tag == ZIP_Z64_TAG && x->has_z64)
                return npz_fail(z, z->pos - 4, "a header has two zip64 extra fields");
            x->is_z64 = tag == ZIP_Z64_TAG;
            x->has_z64 = x->has_z64 || x->is_z64;
            x->z64_off = z->pos;
            x->field_left = size;
            x->in_field = true;
        }
        if (x->in_field && x->field_left == 0) {
            x->in_field = false;
            x->is_z64 = false;
        }
    }
    return API_OK;
}

/* Takes the next 64-bit value of the zip64 field into *v when field is the
 * 32-bit sentinel (the fields that are there, in order: sizes, offset);
 * false when the zip64 field is missing or too short. */
static bool z64_take(const struct npz_extra *x, uint64_t field, uint64_t sentinel, size_t *at,
                     uint64_t *v)
{
    if (field != sentinel) {
        *v = field;
        return true;
    }
    if (!x->has_z64 || x->z64_len < *at + 8 || *at + 8 > ZIP_Z64_MAX)
        return false;
    *v = le64(x->z64 + *at);
    *at += 8;
    return true;
}

/* ---- local headers ------------------------------------------------------ */

/* The fixed part of a local header is in buf. */
static enum api_status on_local(struct npz_decoder *z)
{
    uint16_t name_len = le16(z->buf + 26);

    if (z->n_entries >= API_MAX_TENSORS)
        return npz_fail(z, z->rec_off, "the archive has more than %d members", API_MAX_TENSORS);
    if (name_len == 0)
        return npz_fail(z, z->rec_off + 26, "member %zu has an empty name", z->n_entries);
    if (name_len > API_NPZ_MAX_MEMBER_NAME)
        return npz_fail(z, z->rec_off + 26,
                        "member %zu has a name of %u bytes, longer than %d (a tensor name of at "
                        "most %d bytes and '.npy')",
                        z->n_entries, name_len, API_NPZ_MAX_MEMBER_NAME, API_MAX_NAME);
    memset(&z->m, 0, sizeof z->m);
    z->m.e.offset = z->rec_off;
    z->m.e.flags = le16(z->buf + 6);
    z->m.e.method = le16(z->buf + 8);
    z->m.crc_local = le32(z->buf + 14);
    z->m.e.csize = le32(z->buf + 18);
    z->m.e.usize = le32(z->buf + 22);
    z->m.name_len = name_len;
    z->state = NPZ_NAME;
    z->have = 0;
    return API_OK;
}

/* The name is UTF-8 (ASCII unless flag bit 11 says UTF-8: zip's other
 * names are CP437, which l2d does not translate) without U+0000. */
static enum api_status check_name_text(struct npz_decoder *z)
{
    const unsigned char *s = z->name;
    size_t len = z->m.name_len, i = 0;
    bool utf8 = (z->m.e.flags & ZIP_FLAG_UTF8) != 0;
    char shown[48];

    while (i < len) {
        size_t c = api_text_utf8_len((const char *)s + i, len - i);

        if (s[i] != 0 && c != 0 && (c == 1 || utf8)) {
            i += c;
            continue;
        }
        api_text_echo(shown, sizeof shown, (const char *)s, len, 40, API_TEXT_ECHO_MASK);
        if (s[i] == 0)
            return npz_fail(z, z->rec_off + ZIP_LOCAL_SIZE + i,
                            "member %zu's name '%s' holds a NUL byte", z->n_entries, shown);
        return npz_fail(z, z->rec_off + ZIP_LOCAL_SIZE + i,
                        utf8 ? "member %zu's name '%s' is not valid UTF-8"
                             : "member %zu's name '%s' is not ASCII and its UTF-8 flag "
                               "(bit 11) is not set: l2d reads names as UTF-8 only",
                        z->n_entries, shown);
    }
    return API_OK;
}

/* A compression method's name, for details. */
static const char *method_name(unsigned m)
{
    switch (m) {
    case 1:
        return "shrink";
    case 6:
        return "implode";
    case 9:
        return "deflate64";
    case 12:
        return "bzip2";
    case 14:
        return "LZMA";
    case 93:
        return "zstd";
    case 95:
        return "xz";
    case 98:
        return "PPMd";
    case 99:
        return "AES encryption";
    default:
        return "unknown";
    }
}

/* The whole name is in z->name: checks it and the header's flags and
 * method, in that order. */
static enum api_status on_name(struct npz_decoder *z)
{
    struct npz_member *m = &z->m;
    uint16_t bad_flags = ZIP_FLAG_ENCRYPTED | ZIP_FLAG_PATCHED | ZIP_FLAG_STRONG | ZIP_FLAG_MASKED;
    uint64_t name_off = z->rec_off + ZIP_LOCAL_SIZE;

    if (check_name_text(z) != API_OK)
        return z->err->status;
    set_label(z);
    if (m->e.flags & bad_flags)
        return npz_fail(z, z->rec_off + 6,
                        "%s is %s (general purpose flags 0x%04x): l2d reads archives as np.savez "
                        "writes them",
                        m->label,
                        m->e.flags & (ZIP_FLAG_ENCRYPTED | ZIP_FLAG_STRONG) ? "encrypted"
                                                                            : "patched or masked",
                        m->e.flags);
    if (m->e.method != ZIP_STORED && m->e.method != ZIP_DEFLATE)
        return npz_fail(z, z->rec_off + 8,
                        "%s uses compression method %u (%s): l2d reads stored (0) and deflate (8), "
                        "what np.savez and np.savez_compressed write",
                        m->label, m->e.method, method_name(m->e.method));
    if (m->name_len <= 4 || memcmp(z->name + m->name_len - 4, ".npy", 4) != 0)
        return npz_fail(z, name_off,
                        "%s is not named NAME.npy: every member of an .npz is the .npy file of "
                        "the tensor NAME",
                        m->label);
    if (api_result_check_name(z->res, (const char *)z->name, m->name_len - 4, NULL) != API_OK)
        return npz_fail(z, name_off, "duplicate %s: each tensor name may appear once", m->label);
    extra_start(z, le16(z->buf + 28));
    z->state = NPZ_EXTRA;
    return API_OK;
}

/* ---- members ------------------------------------------------------------ */

static enum api_status data_end(struct npz_decoder *z);
static enum api_status consume(struct npz_decoder *z, const unsigned char *p, size_t len);

/* Makes the inflate state (once per request) or resets it. */
static enum api_status inflate_start(struct npz_decoder *z)
{
    if (z->out == NULL) {
        z->out = malloc(API_NPZ_INFLATE_OUT);
        if (z->out == NULL)
            return api_error_set(z->err, API_INTERNAL_ERROR, "out of memory for inflate");
    }
    if (z->zs_ready)
        return inflateReset(&z->zs) == Z_OK
                   ? API_OK
                   : api_error_set(z->err, API_INTERNAL_ERROR, "inflateReset failed");
    memset(&z->zs, 0, sizeof z->zs);
    if (inflateInit2(&z->zs, -MAX_WBITS) != Z_OK) /* raw deflate, as zip has it */
        return api_error_set(z->err, API_INTERNAL_ERROR, "out of memory for inflate");
    z->zs_ready = true;
    return API_OK;
}

/* The local header's extra field is read: settles the member's sizes and
 * starts its data. With a data descriptor (flag bit 3) the local sizes and
 * CRC are not used: the descriptor and the central directory are checked. */
static enum api_status on_local_extra(struct npz_decoder *z)
{
    struct npz_member *m = &z->m;
    struct api_npy_member where;
    size_t at = 0;
    uint64_t usize, csize;

    m->zip64 = z->ex.has_z64;
    if (!(m->e.flags & ZIP_FLAG_DESCRIPTOR)) {
        /* the local zip64 field holds both sizes: uncompressed, then compressed */
        if ((m->e.usize == ZIP_U32_MAX || m->e.csize == ZIP_U32_MAX) &&
            (!z->ex.has_z64 || z->ex.z64_len < 16))
            return npz_fail(z, z->rec_off + 18,
                            "%s has 32-bit sizes 0xffffffff but no zip64 extra field with both "
                            "sizes",
                            m->label);
        if (!z64_take(&z->ex, m->e.usize, ZIP_U32_MAX, &at, &usize))
            return API_INTERNAL_ERROR; /* unreachable: checked above */
        at = 8;
        if (!z64_take(&z->ex, m->e.csize, ZIP_U32_MAX, &at, &csize))
            return API_INTERNAL_ERROR;
        m->e.usize = usize;
        m->e.csize = csize;
        if (m->e.method == ZIP_STORED && csize != usize)
            return npz_fail(z, z->rec_off + 18,
                            "stored %s has a compressed size of %" PRIu64
                            " bytes but an uncompressed size of %" PRIu64,
                            m->label, csize, usize);
        if (m->e.method == ZIP_DEFLATE && csize == 0)
            return npz_fail(z, z->rec_off + 18, "deflated %s has no compressed data", m->label);
    }
    m->data_off = z->pos;
    where.label = m->label;
    where.base = m->data_off;
    where.inflated = m->e.method == ZIP_DEFLATE;
    api_result_init(&z->scratch, L2_DTYPE_FLOAT64);
    z->scratch.count_nonfinite = z->res->count_nonfinite;
    if (api_npy_member_new(&z->scratch, &where, &m->npy, z->err) != API_OK ||
        (m->e.method == ZIP_DEFLATE && inflate_start(z) != API_OK))
        return z->err->status;
    z->state = NPZ_DATA;
    if (!(m->e.flags & ZIP_FLAG_DESCRIPTOR) && m->e.csize == 0)
        return data_end(z); /* stored and empty: not an .npy, as its decoder says */
    return API_OK;
}

/* n decoded (.npy) bytes of the member: decoded and CRC'd a slice at a
 * time (the CRC after the decoder: a mismatch is only known at the
 * member's end, and an error found in the data comes first anyway). */
static enum api_status feed_plain(struct npz_decoder *z, const unsigned char *p, size_t n)
{
    while (n > 0) {
        bool overlap = api_crc32_prefetches() && !api_npy_member_portable(z->m.npy);
        size_t slice = overlap ? NPZ_SLICE : NPZ_SLICE_LONG;
        size_t s = n < slice ? n : slice;
        size_t ahead = overlap ? (n - s < slice ? n - s : slice) : 0;

        if (api_npy_ops.feed(z->m.npy, p, s, z->m.udone, z->err) != API_OK)
            return z->err->status;
        z->m.crc = api_crc32_ahead(z->m.crc, p, s, ahead);
        z->m.udone += s;
        p += s;
        n -= s;
    }
    return API_OK;
}

/* Stored data: up to the local header's size, or (with a data descriptor)
 * as much as the .npy decoder still wants. */
static enum api_status feed_stored(struct npz_decoder *z, const unsigned char **p, size_t *len)
{
    struct npz_member *m = &z->m;
    bool desc = (m->e.flags & ZIP_FLAG_DESCRIPTOR) != 0;
    uint64_t room = desc ? api_npy_member_wants(m->npy) : m->e.csize - m->cdone;
    size_t take = *len < room ? *len : (size_t)room;

    if (feed_plain(z, *p, take) != API_OK)
        return z->err->status;
    m->cdone += take;
    z->pos += take;
    *p += take;
    *len -= take;
    if (desc && api_npy_member_wants(m->npy) == UINT64_MAX)
        return npz_fail(z, m->e.offset + 6,
                        "%s is stored with a data descriptor (no size before its data) and its "
                        ".npy header gives no data size (an object or structured dtype): its end "
                        "cannot be found",
                        m->label);
    if (desc ? api_npy_member_wants(m->npy) == 0 : m->cdone == m->e.csize)
        return data_end(z);
    return API_OK;
}

/* Deflated data: inflated into z->out and handed on, up to the end of the
 * deflate stream (which must be the local header's compressed size, when
 * it gives one). Output decoded before a corruption is handed on first, so
 * that an element error in it wins. */
static enum api_status feed_deflated(struct npz_decoder *z, const unsigned char **p, size_t *len)
{
    struct npz_member *m = &z->m;
    bool desc = (m->e.flags & ZIP_FLAG_DESCRIPTOR) != 0;
    uint64_t room = desc ? UINT64_MAX : m->e.csize - m->cdone;
    size_t in = *len < room ? *len : (size_t)room;
    int ret;

    if (in > NPZ_INFLATE_IN)
        in = NPZ_INFLATE_IN;
    z->zs.next_in = (unsigned char *)(uintptr_t)*p; /* zlib does not write it */
    z->zs.avail_in = (uInt)in;
    do {
        z->zs.next_out = z->out;
        z->zs.avail_out = API_NPZ_INFLATE_OUT;
        ret = inflate(&z->zs, Z_NO_FLUSH);
        z->inflated += API_NPZ_INFLATE_OUT - z->zs.avail_out;
        if (z->max_inflated != 0 && z->inflated > z->max_inflated)
            return api_error_set(z->err, API_PAYLOAD_TOO_LARGE,
                                 "the deflated members of the .npz inflate to more than the "
                                 "limit of %" PRIu64 " bytes",
                                 z->max_inflated);
        if (feed_plain(z, z->out, API_NPZ_INFLATE_OUT - z->zs.avail_out) != API_OK)
            return z->err->status;
        if (ret == Z_DATA_ERROR)
            return npz_fail(z, m->data_off, "%s: corrupt deflate data (%s)", m->label,
                            z->zs.msg != NULL ? z->zs.msg : "zlib gave no detail");
        if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) /* out of memory */
            return api_error_set(z->err, API_INTERNAL_ERROR, "inflate failed (%d)", ret);
    } while (ret == Z_OK && (z->zs.avail_in > 0 || z->zs.avail_out == 0));
    in -= z->zs.avail_in;
    m->cdone += in;
    z->pos += in;
    *p += in;
    *len -= in;
    if (ret == Z_STREAM_END) {
        if (!desc && m->cdone != m->e.csize)
            return npz_fail(z, z->pos,
                            "the deflate stream of %s ends after %" PRIu64
                            " bytes, before the %" PRIu64 " its local header gives",
                            m->label, m->cdone, m->e.csize);
        return data_end(z);
    }
    if (!desc && m->cdone == m->e.csize)
        return npz_fail(z, z->pos,
                        "the %" PRIu64 " compressed bytes of %s end inside its deflate stream",
                        m->e.csize, m->label);
    return API_OK;
}

/* The member is complete and checked: its tensor goes into the result and
 * its entry into the list the central directory must match. */
static enum api_status member_done(struct npz_decoder *z)
{
    struct npz_member *m = &z->m;
    const char *skipped = api_npy_member_skipped(m->npy);
    const char *name = (const char *)z->name;
    size_t len = m->name_len - 4;
    enum api_status st;

    if (z->n_entries == z->cap_entries) {
        size_t cap = z->cap_entries ? z->cap_entries * 2 : 16;
        size_t bytes;
        struct npz_entry *grown;

        if (cap > API_MAX_TENSORS)
            cap = API_MAX_TENSORS;
        if (__builtin_mul_overflow(cap, sizeof *grown, &bytes) ||
            (grown = realloc(z->entries, bytes)) == NULL)
            return api_error_set(z->err, API_INTERNAL_ERROR, "out of memory for .npz members");
        z->entries = grown;
        z->cap_entries = cap;
    }
    if (skipped != NULL) {
        st = api_result_add_skipped(z->res, name, len, skipped, z->err);
    } else {
        st = api_result_add_typed(z->res, name, len, z->scratch.dtype, &z->scratch.total,
                                  z->scratch.ndim, z->scratch.shape, z->err);
    }
    if (st != API_OK)
        return st;
    z->entries[z->n_entries++] = m->e;
    api_npy_ops.destroy(m->npy);
    m->npy = NULL;
    next_record(z);
    return API_OK;
}

/* The member's data has ended: its .npy must be complete, and its CRC and
 * sizes those of the local header, or of the data descriptor that follows. */
static enum api_status data_end(struct npz_decoder *z)
{
    struct npz_member *m = &z->m;

    if (api_npy_ops.finish(m->npy, m->udone, z->err) != API_OK)
        return z->err->status;
    if (m->e.flags & ZIP_FLAG_DESCRIPTOR) {
        m->e.csize = m->cdone;
        m->e.usize = m->udone;
        m->e.crc = m->crc;
        z->state = NPZ_DESCRIPTOR;
        z->need = ZIP_DESC_MAX;
        z->have = 0;
        z->rec_off = z->pos;
        return API_OK;
    }
    if (m->udone != m->e.usize)
        return npz_fail(z, m->e.offset + 22,
                        "%s inflates to %" PRIu64 " bytes, but its local header says %" PRIu64,
                        m->label, m->udone, m->e.usize);
    if (m->crc != m->crc_local)
        return npz_fail(z, m->e.offset + 14,
                        "CRC-32 mismatch in %s: the local header says 0x%08" PRIx32
                        ", the data's is 0x%08" PRIx32,
                        m->label, m->crc_local, m->crc);
    m->e.crc = m->crc;
    return member_done(z);
}

/* The length of the data descriptor at buf[0..have) that gives the
 * member's CRC and sizes (with or without its signature, 32- or 64-bit
 * sizes: 64-bit first when the local header had a zip64 field), 0 when
 * none of them does. */
static size_t descriptor_len(const struct npz_decoder *z)
{
    const struct npz_member *m = &z->m;
    const unsigned char *b = z->buf;

    for (unsigned form = 0; form < 4; form++) {
        size_t sig = form < 2 ? 4 : 0;
        bool wide = (form % 2 == 0) == m->zip64;
        size_t len = sig + (wide ? 20 : 12);
        uint64_t cs, us;

        if (len > z->have || (sig > 0 && le32(b) != ZIP_DESC_SIG))
            continue;
        cs = wide ? le64(b + sig + 4) : le32(b + sig + 4);
        us = wide ? le64(b + sig + 12) : le32(b + sig + 8);
        if (le32(b + sig) == m->crc && cs == m->cdone && us == m->udone)
            return len;
    }
    return 0;
}

/* ZIP_DESC_MAX bytes from the descriptor's start are in buf: the
 * descriptor, then the start of the next record, which is read again. */
static enum api_status on_descriptor(struct npz_decoder *z)
{
    struct npz_member *m = &z->m;
    unsigned char rest[ZIP_DESC_MAX];
    size_t len = descriptor_len(z);
    size_t sig = le32(z->buf) == ZIP_DESC_SIG ? 4 : 0;

    if (len == 0 && le32(z->buf + sig) != m->crc)
        return npz_fail(z, z->rec_off + sig,
                        "CRC-32 mismatch in %s: the data descriptor says 0x%08" PRIx32
                        ", the data's is 0x%08" PRIx32,
                        m->label, le32(z->buf + sig), m->crc);
    if (len == 0)
        return npz_fail(z, z->rec_off + sig + 4,
                        "the data descriptor of %s does not give its sizes (%" PRIu64
                        " compressed, %" PRIu64 " uncompressed bytes)",
                        m->label, m->cdone, m->udone);
    uint64_t desc_off = z->rec_off;

    if (member_done(z) != API_OK)
        return z->err->status;
    memcpy(rest, z->buf + len, ZIP_DESC_MAX - len);
    z->pos = desc_off + len;
    z->rec_off = z->pos;
    return consume(z, rest, ZIP_DESC_MAX - len);
}

/* ---- central directory -------------------------------------------------- */

/* The fixed part of a central directory header is in buf: entry cidx must
 * describe member cidx (the same order as the members). */
static enum api_status on_central(struct npz_decoder *z)
{
    const unsigned char *b = z->buf;
    const struct npz_entry *e;
    const struct api_tensor *t;
    uint16_t name_len = le16(b + 28);

    if (z->cidx >= z->n_entries)
        return npz_fail(z, z->rec_off,
                        "central directory entry %zu has no member: the archive has %zu", z->cidx,
                        z->n_entries);
    e = &z->entries[z->cidx];
    t = &z->res->tensors[z->cidx];
    if (le16(b + 10) != e->method)
        return npz_fail(z, z->rec_off + 10,
                        "central directory entry %zu gives compression method %u, member %zu "
                        "has %u",
                        z->cidx, le16(b + 10), z->cidx, e->method);
    if ((le16(b + 8) ^ e->flags) & (ZIP_FLAG_ENCRYPTED | ZIP_FLAG_UTF8))
        return npz_fail(z, z->rec_off + 8,
                        "central directory entry %zu has flags 0x%04x, member %zu has 0x%04x",
                        z->cidx, le16(b + 8), z->cidx, e->flags);
    if (le32(b + 16) != e->crc)
        return npz_fail(z, z->rec_off + 16,
                        "CRC-32 mismatch in central directory entry %zu: 0x%08" PRIx32
                        ", member %zu's data has 0x%08" PRIx32,
                        z->cidx, le32(b + 16), z->cidx, e->crc);
    if (name_len != t->name_len + 4)
        return npz_fail(z, z->rec_off + 28,
                        "central directory entry %zu names a member of %u bytes, member %zu is "
                        "%zu bytes",
                        z->cidx, name_len, z->cidx, t->name_len + 4);
    z->c_csize = le32(b + 20);
    z->c_usize = le32(b + 24);
    z->c_disk = le16(b + 34);
    z->c_offset = le32(b + 42);
    z->cname_pos = 0;
    z->state = NPZ_CNAME;
    return API_OK;
}

/* Compares the central name with member cidx's, byte by byte. */
static enum api_status feed_cname(struct npz_decoder *z, const unsigned char **p, size_t *len)
{
    const struct api_tensor *t = &z->res->tensors[z->cidx];
    uint64_t total = t->name_len + 4;

    while (*len > 0 && z->cname_pos < total) {
        unsigned char want = z->cname_pos < t->name_len
                                 ? (unsigned char)t->name[z->cname_pos]
                                 : (unsigned char)".npy"[z->cname_pos - t->name_len];

        if (**p != want)
            return npz_fail(z, z->pos,
                            "central directory entry %zu does not name member %zu ('%.*s%s.npy'): "
                            "the entries must list the members in order",
                            z->cidx, z->cidx, t->name_len > 64 ? 64 : (int)t->name_len, t->name,
                            t->name_len > 64 ? "..." : "");
        z->cname_pos++;
        z->pos++;
        (*p)++;
        (*len)--;
    }
    if (z->cname_pos == total) {
        extra_start(z, le16(z->buf + 30));
        z->state = NPZ_CEXTRA;
    }
    return API_OK;
}

/* The central header's extra field is read: its sizes and offset (from
 * the zip64 field where the 32-bit ones are 0xffffffff) must be member
 * cidx's; its comment is skipped. */
static enum api_status on_central_extra(struct npz_decoder *z)
{
    const struct npz_entry *e = &z->entries[z->cidx];
    const struct npz_extra *x = &z->ex;
    uint64_t usize, csize, offset, disk = z->c_disk;
    size_t at = 0;

    if (!z64_take(x, z->c_usize, ZIP_U32_MAX, &at, &usize) ||
        !z64_take(x, z->c_csize, ZIP_U32_MAX, &at, &csize) ||
        !z64_take(x, z->c_offset, ZIP_U32_MAX, &at, &offset))
        return npz_fail(z, x->has_z64 ? x->z64_off : z->rec_off + 20,
                        "central directory entry %zu has a 32-bit field 0xffffffff and no zip64 "
                        "value for it",
                        z->cidx);
    if (disk == ZIP_U16_MAX && x->has_z64 && x->z64_len >= at + 4 && at + 4 <= ZIP_Z64_MAX)
        disk = le32(x->z64 + at);
    if (csize != e->csize || usize != e->usize)
        return npz_fail(z, z->rec_off + 20,
                        "central directory entry %zu gives sizes %" PRIu64 " compressed, %" PRIu64
                        " uncompressed; member %zu has %" PRIu64 " and %" PRIu64,
                        z->cidx, csize, usize, z->cidx, e->csize, e->usize);
    if (offset != e->offset)
        return npz_fail(z, z->rec_off + 42,
                        "central directory entry %zu puts its member at byte %" PRIu64
                        ", member %zu is at byte %" PRIu64,
                        z->cidx, offset, z->cidx, e->offset);
    if (disk != 0)
        return npz_fail(z, z->rec_off + 34,
                        "central directory entry %zu is on disk %" PRIu64
                        ": multi-disk archives are not read",
                        z->cidx, disk);
    z->cidx++;
    skip_then(z, le16(z->buf + 32), NPZ_SIG);
    return API_OK;
}

/* ---- end records -------------------------------------------------------- */

/* The central directory has ended at rec_off: it must list every member. */
static enum api_status central_end(struct npz_decoder *z)
{
    if (z->part == PART_MEMBERS)
        z->cd_start = z->rec_off;
    z->cd_end = z->rec_off;
    if (z->cidx != z->n_entries)
        return npz_fail(z, z->rec_off,
                        "the central directory lists %zu entries, the archive has %zu members",
                        z->cidx, z->n_entries);
    return API_OK;
}

/* The fixed part of the zip64 end of central directory record is in buf. */
static enum api_status on_z64_end(struct npz_decoder *z)
{
    const unsigned char *b = z->buf;
    uint64_t size = le64(b + 4);

    if (size < ZIP_Z64_END_FIXED)
        return npz_fail(z, z->rec_off + 4, "the zip64 end record's size %" PRIu64 " is below 44",
                        size);
    if (le32(b + 16) != 0 || le32(b + 20) != 0)
        return npz_fail(z, z->rec_off + 16, "multi-disk archives are not read");
    if (le64(b + 24) != z->n_entries || le64(b + 32) != z->n_entries)
        return npz_fail(z, z->rec_off + 24,
                        "the zip64 end record counts %" PRIu64 " entries, the archive has %zu "
                        "members",
                        le64(b + 32), z->n_entries);
    if (le64(b + 40) != z->cd_end - z->cd_start)
        return npz_fail(z, z->rec_off + 40,
                        "the zip64 end record gives a central directory of %" PRIu64
                        " bytes, it has %" PRIu64,
                        le64(b + 40), z->cd_end - z->cd_start);
    if (le64(b + 48) != z->cd_start)
        return npz_fail(z, z->rec_off + 48,
                        "the zip64 end record puts the central directory at byte %" PRIu64
                        ", it is at byte %" PRIu64,
                        le64(b + 48), z->cd_start);
    z->z64_end = true;
    z->z64_off = z->rec_off;
    z->part = PART_Z64_END;
    skip_then(z, size - ZIP_Z64_END_FIXED, NPZ_SIG);
    return API_OK;
}

/* The zip64 end of central directory locator is in buf. */
static enum api_status on_z64_loc(struct npz_decoder *z)
{
    const unsigned char *b = z->buf;

    if (le32(b + 4) != 0 || le32(b + 16) > 1)
        return npz_fail(z, z->rec_off + 4, "multi-disk archives are not read");
    if (le64(b + 8) != z->z64_off)
        return npz_fail(z, z->rec_off + 8,
                        "the zip64 locator puts the zip64 end record at byte %" PRIu64
                        ", it is at byte %" PRIu64,
                        le64(b + 8), z->z64_off);
    z->part = PART_Z64_LOC;
    next_record(z);
    return API_OK;
}

/* True when an end record field holds want, or (after a zip64 end record)
 * its all-ones sentinel. */
static bool end_field(uint64_t field, uint64_t want, uint64_t sentinel, bool z64)
{
    return field == want || (z64 && field == sentinel);
}

/* The fixed part of the end of central directory record is in buf; its
 * comment is skipped, and then nothing may follow. */
static enum api_status on_end(struct npz_decoder *z)
{
    const unsigned char *b = z->buf;
    bool z64 = z->z64_end;

    if (!end_field(le16(b + 4), 0, ZIP_U16_MAX, z64) ||
        !end_field(le16(b + 6), 0, ZIP_U16_MAX, z64))
        return npz_fail(z, z->rec_off + 4, "multi-disk archives are not read");
    if (!end_field(le16(b + 8), z->n_entries, ZIP_U16_MAX, z64) ||
        !end_field(le16(b + 10), z->n_entries, ZIP_U16_MAX, z64))
        return npz_fail(z, z->rec_off + 10,
                        "the end record counts %u entries, the archive has %zu members",
                        le16(b + 10), z->n_entries);
    if (!end_field(le32(b + 12), z->cd_end - z->cd_start, ZIP_U32_MAX, z64))
        return npz_fail(z, z->rec_off + 12,
                        "the end record gives a central directory of %" PRIu32
                        " bytes, it has %" PRIu64,
                        le32(b + 12), z->cd_end - z->cd_start);
    if (!end_field(le32(b + 16), z->cd_start, ZIP_U32_MAX, z64))
        return npz_fail(z, z->rec_off + 16,
                        "the end record puts the central directory at byte %" PRIu32
                        ", it is at byte %" PRIu64,
                        le32(b + 16), z->cd_start);
    skip_then(z, le16(b + 20), NPZ_DONE);
    return API_OK;
}

/* A record's signature is in buf: the records that may come next. */
static enum api_status on_signature(struct npz_decoder *z)
{
    uint32_t sig = le32(z->buf);
    bool central = z->part == PART_MEMBERS || z->part == PART_CENTRAL;

    if (z->part == PART_MEMBERS && sig == ZIP_LOCAL_SIG) {
        expect_record(z, NPZ_LOCAL, ZIP_LOCAL_SIZE);
    } else if (central && sig == ZIP_CENTRAL_SIG) {
        if (z->part == PART_MEMBERS)
            z->cd_start = z->rec_off;
        z->part = PART_CENTRAL;
        expect_record(z, NPZ_CENTRAL, ZIP_CENTRAL_SIZE);
    } else if (central && (sig == ZIP_Z64_END_SIG || sig == ZIP_END_SIG)) {
        if (central_end(z) != API_OK)
            return z->err->status;
        if (sig == ZIP_Z64_END_SIG)
            expect_record(z, NPZ_Z64_END, ZIP_Z64_END_SIZE);
        else
            expect_record(z, NPZ_END, ZIP_END_SIZE);
    } else if (z->part == PART_Z64_END && sig == ZIP_Z64_LOC_SIG) {
        expect_record(z, NPZ_Z64_LOC, ZIP_Z64_LOC_SIZE);
    } else if (z->part == PART_Z64_LOC && sig == ZIP_END_SIG) {
        expect_record(z, NPZ_END, ZIP_END_SIZE);
    } else if (z->rec_off == 0) {
        return npz_fail(z, 0,
                        "not an .npz (zip) archive: it must begin with PK\\3\\4 (a member) or "
                        "PK\\5\\6 (no members), not 0x%08" PRIx32,
                        sig);
    } else {
        static const char *const expected[4] = {
            "a member (PK\\3\\4), the central directory (PK\\1\\2) or the end record (PK\\5\\6)",
            "a central directory header (PK\\1\\2) or the end record (PK\\5\\6)",
            "the zip64 end locator (PK\\6\\7)", "the end record (PK\\5\\6)"};

        return npz_fail(z, z->rec_off, "expected %s at byte %" PRIu64 ", found 0x%08" PRIx32,
                        expected[z->part], z->rec_off, sig);
    }
    return API_OK;
}

/* ---- the stream --------------------------------------------------------- */

/* Reads len bytes at body offset z->pos, record by record. */
static enum api_status consume(struct npz_decoder *z, const unsigned char *p, size_t len)
{
    enum api_status st = API_OK;

    while (st == API_OK && len > 0) {
        switch (z->state) {
        case NPZ_SIG:
            st = collect(z, &p, &len) ? on_signature(z) : API_OK;
            break;
        case NPZ_LOCAL:
            st = collect(z, &p, &len) ? on_local(z) : API_OK;
            break;
        case NPZ_NAME: {
            size_t take = z->m.name_len - z->have < len ? z->m.name_len - z->have : len;

            memcpy(z->name + z->have, p, take);
            z->have += take;
            z->pos += take;
            p += take;
            len -= take;
            st = z->have == z->m.name_len ? on_name(z) : API_OK;
            break;
        }
        case NPZ_EXTRA:
            st = extra_feed(z, &p, &len);
            if (st == API_OK && z->ex.left == 0)
                st = on_local_extra(z);
            break;
        case NPZ_DATA:
            st =
                z->m.e.method == ZIP_STORED ? feed_stored(z, &p, &len) : feed_deflated(z, &p, &len);
            break;
        case NPZ_DESCRIPTOR:
            st = collect(z, &p, &len) ? on_descriptor(z) : API_OK;
            break;
        case NPZ_CENTRAL:
            st = collect(z, &p, &len) ? on_central(z) : API_OK;
            break;
        case NPZ_CNAME:
            st = feed_cname(z, &p, &len);
            break;
        case NPZ_CEXTRA:
            st = extra_feed(z, &p, &len);
            if (st == API_OK && z->ex.left == 0)
                st = on_central_extra(z);
            break;
        case NPZ_SKIP: {
            size_t take = z->skip_left < len ? (size_t)z->skip_left : len;

            z->skip_left -= take;
            z->pos += take;
            p += take;
            len -= take;
            if (z->skip_left == 0)
                skip_then(z, 0, z->after_skip);
            break;
        }
        case NPZ_Z64_END:
            st = collect(z, &p, &len) ? on_z64_end(z) : API_OK;
            break;
        case NPZ_Z64_LOC:
            st = collect(z, &p, &len) ? on_z64_loc(z) : API_OK;
            break;
        case NPZ_END:
            st = collect(z, &p, &len) ? on_end(z) : API_OK;
            break;
        case NPZ_DONE:
            st = npz_fail(z, z->pos,
                          "trailing bytes after the end record: the archive ends at byte %" PRIu64,
                          z->pos);
            break;
        }
    }
    return st;
}

static enum api_status npz_create(struct api_result *res, const struct api_decode_opts *opts,
                                  void **out, struct api_error *err)
{
    struct npz_decoder *z;

    *out = NULL;
    if (opts->has_dtype)
        return api_error_set(err, API_INVALID_NPZ,
                             "each .npz member's dtype comes from its .npy header; remove the "
                             "dtype query parameter");
    z = calloc(1, sizeof *z);
    if (z == NULL)
        return api_error_set(err, API_INTERNAL_ERROR, "out of memory for the body decoder");
    z->res = res;
    z->max_inflated = opts->max_inflated;
    res->named = true;
    api_result_init(&z->scratch, L2_DTYPE_FLOAT64);
    next_record(z);
    *out = z;
    return API_OK;
}

static enum api_status npz_feed(void *d, const unsigned char *buf, size_t len, uint64_t offset,
                                struct api_error *err)
{
    struct npz_decoder *z = d;

    z->err = err;
    z->pos = offset;
    return consume(z, buf, len);
}

/* Where a truncated archive ended, for the detail. */
static void where_truncated(const struct npz_decoder *z, char *out, size_t cap)
{
    switch (z->state) {
    case NPZ_SIG:
        snprintf(out, cap, "%s",
                 z->part == PART_MEMBERS   ? "before its central directory and end record"
                 : z->part == PART_CENTRAL ? "inside its central directory"
                 : z->part == PART_Z64_END ? "before its zip64 end locator"
                                           : "before its end record");
        break;
    case NPZ_LOCAL:
    case NPZ_NAME:
    case NPZ_EXTRA:
        snprintf(out, cap, "inside the local header of member %zu", z->n_entries);
        break;
    case NPZ_DATA:
        snprintf(out, cap, "inside the data of %s", z->m.label);
        break;
    case NPZ_DESCRIPTOR:
        snprintf(out, cap, "%s the data descriptor of %s",
                 descriptor_len(z) > 0 ? "after" : "inside", z->m.label);
        break;
    case NPZ_CENTRAL:
    case NPZ_CNAME:
    case NPZ_CEXTRA:
        snprintf(out, cap, "inside central directory entry %zu", z->cidx);
        break;
    case NPZ_SKIP:
        snprintf(out, cap, "%s",
                 z->after_skip == NPZ_DONE ? "inside the archive comment"
                 : z->part == PART_CENTRAL ? "inside a central directory comment"
                                           : "inside the zip64 end record");
        break;
    case NPZ_Z64_END:
        snprintf(out, cap, "inside the zip64 end record");
        break;
    case NPZ_Z64_LOC:
        snprintf(out, cap, "inside the zip64 end locator");
        break;
    default:
        snprintf(out, cap, "inside the end record");
        break;
    }
}

static enum api_status npz_finish(void *d, uint64_t length, struct api_error *err)
{
    struct npz_decoder *z = d;
    char where[NPZ_LABEL_MAX + 64];

    z->err = err;
    z->pos = length;
    if (z->state == NPZ_DONE) {
        api_result_settle_dtype(z->res);
        return API_OK;
    }
    if (length == 0)
        return npz_fail(z, 0,
                        "the body is empty: an .npz is a zip archive (at least its 22-byte end "
                        "record)");
    where_truncated(z, where, sizeof where);
    return npz_fail(z, length, "the archive is truncated: it ends at byte %" PRIu64 ", %s", length,
                    where);
}

static void npz_destroy(void *d)
{
    struct npz_decoder *z = d;

    if (z == NULL)
        return;
    api_npy_ops.destroy(z->m.npy);
    if (z->zs_ready)
        inflateEnd(&z->zs);
    free(z->out);
    free(z->entries);
    api_result_free(&z->scratch);
    free(z);
}

const struct api_decoder_ops api_npz_ops = {npz_create, npz_feed, npz_finish, npz_destroy};
