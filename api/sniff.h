/* sniff.h -- recognizes a checkpoint or array file from a body's first
 * bytes, so that a file sent as raw values is refused (format_mismatch)
 * instead of summed as if its header were numbers.
 *
 * A pure function over the bytes seen so far: the caller holds them back
 * until the verdict is in, at most 8 + API_SAFETENSORS_MAX_HEADER bytes. */
#ifndef API_SNIFF_H
#define API_SNIFF_H

#include <stdbool.h>
#include <stddef.h>

enum api_sniff_verdict {
    API_SNIFF_NONE,        /* not a file l2d knows: the bytes are data */
    API_SNIFF_MORE,        /* undecided: hold the bytes until *need of them */
    API_SNIFF_NPY,         /* starts with the .npy magic \x93NUMPY */
    API_SNIFF_SAFETENSORS, /* starts with a well-formed safetensors header */
};

/* The verdict on a body that starts with head[0..len) (every byte seen so
 * far; the body may be longer). On API_SNIFF_MORE, *need is the number of
 * first bytes the next call wants to see. At the end of a shorter body,
 * call once more with all its bytes: MORE then means NONE. */
enum api_sniff_verdict api_sniff(const unsigned char *head, size_t len, size_t *need);

/* The media type a verdict's file is sent with ("application/x-npy"), or
 * NULL for NONE and MORE. */
const char *api_sniff_media_type(enum api_sniff_verdict v);

#endif
