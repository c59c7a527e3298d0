/* npy_frame.h -- how the fuzz references (fuzz_npy.h, fuzz_npz.h) read an
 * .npy file's framing, independently of api/npy_decode.c (its elements:
 * fuzz_load of fuzz_common.h). */
#ifndef FUZZ_NPY_FRAME_H
#define FUZZ_NPY_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The file's framing as the reference reads it. */
struct npy_frame {
    size_t data; /* offset of the first data byte */
    bool swap;   /* big-endian elements */
};

/* Reads the magic, version and header length, and the descr's byte-order
 * character. False when the framing is not there (then the decoder must not
 * have got as far as the data). */
static bool npy_frame(const uint8_t *b, size_t len, struct npy_frame *f)
{
    static const char key1[] = "'descr'", key2[] = "\"descr\"";
    size_t hdr_start, hlen, i;
    const uint8_t *h;

    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return false;
    if (b[6] == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        hdr_start = 10;
    } else if (b[6] == 2 || b[6] == 3) {
        if (len < 12)
            return false;
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        hdr_start = 12;
    } else {
        return false;
    }
    if (hlen > len - hdr_start)
        return false;
    h = b + hdr_start;
    f->data = hdr_start + hlen;
    /* The key is the first quoted "descr": a value never contains it (no
     * escapes, and descr, fortran_order and shape are the only keys). */
    for (i = 0; i + 7 <= hlen; i++)
        if (memcmp(h + i, key1, 7) == 0 || memcmp(h + i, key2, 7) == 0)
            break;
    if (i + 7 > hlen)
        return false;
    i += 7;
    while (i < hlen && (h[i] == ' ' || h[i] == ':' || h[i] == '\t' || h[i] == '\n' ||
                        h[i] == '\r' || h[i] == '\f'))
        i++;
    if (i + 1 >= hlen || (h[i] != '\'' && h[i] != '"'))
        return false;
    f->swap = h[i + 1] == '>';
    return true;
}

#endif
