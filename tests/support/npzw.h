/* npzw.h -- a small zip writer for the .npz tests: every form a zip reader
 * meets (stored or deflated members, data descriptors with or without a
 * signature and 32- or 64-bit sizes, zip64 extra fields and end records,
 * comments), written independently of api/npz_decode.c, plus the .npy
 * bytes to put in it. Memory is malloc'd; assertions on failure. */
#ifndef TEST_NPZW_H
#define TEST_NPZW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NPZW_MAX_MEMBERS 10100

/* How one member is written. All false / 0: stored, sizes in the local
 * header, no zip64 field, as np.savez without force_zip64. */
struct npzw_form {
    bool deflate;    /* method 8 (zlib raw deflate), else stored */
    bool descriptor; /* flag bit 3: zero CRC and sizes locally, a descriptor after the data */
    bool desc_nosig; /* ... without its PK\7\8 signature */
    bool zip64;      /* a zip64 extra field in the local header (and 64-bit descriptor sizes) */
    bool local_ff;   /* with zip64: local 32-bit sizes 0xffffffff */
    bool central_ff; /* central sizes and offset 0xffffffff, values in a zip64 field */
    uint16_t flags;  /* more general purpose flags (bit 11: UTF-8 name) */
    uint16_t method; /* when not 0: the method number written (data still stored) */
};

struct npzw_entry {
    uint64_t offset, csize, usize;
    uint32_t crc;
    uint16_t method, flags;
    bool central_ff;
    char *name;
    size_t name_len;
};

struct npzw {
    unsigned char *b;
    size_t n, cap;
    struct npzw_entry *e;
    size_t ne;
};

void npzw_init(struct npzw *w);
void npzw_free(struct npzw *w);

/* Appends raw bytes (for corrupt archives). */
void npzw_bytes(struct npzw *w, const void *p, size_t len);

/* Appends a member name (name_len bytes) holding data (its .npy bytes). */
void npzw_member(struct npzw *w, const char *name, size_t name_len, const void *data, size_t len,
                 const struct npzw_form *form);

/* Appends the central directory for every member, the zip64 end record and
 * locator when zip64_end, and the end record with comment (may be NULL). */
void npzw_finish(struct npzw *w, bool zip64_end, const char *comment);

/* An .npy file (version 1.0) as numpy writes it: header for descr (quoted,
 * unless it is a list literal "[...]") and shape text (e.g. "(2, 3)"),
 * padded to 64 bytes, then data. malloc'd; *len gets its length. */
unsigned char *npzw_npy(const char *descr, const char *shape, const void *data, size_t data_len,
                        size_t *len);

/* Raw deflate (zlib, level 6) of data: malloc'd, *out_len its length. */
unsigned char *npzw_deflate(const void *data, size_t len, size_t *out_len);

/* Little-endian stores, for patching archives in place. */
void npzw_put16(unsigned char *p, uint16_t v);
void npzw_put32(unsigned char *p, uint32_t v);

#endif
