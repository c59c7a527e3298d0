/* partial.h -- the exact state of a computation as a short URL-safe string.
 *
 * A partial is "l2p1." and the base64url (no padding) of a small binary
 * record: a version byte, the used range of the exact accumulator's limbs,
 * the counts, max_abs and a CRC-32 of all of it. Decoding checks every field
 * (version, range, trimming, counts, max_abs and the sum against each other,
 * the checksum), so a partial that decodes is one that l2d could have made,
 * and merging decoded partials (l2_accum_merge) gives, bit for bit, the
 * state of one request holding all their elements. */
#ifndef API_PARTIAL_H
#define API_PARTIAL_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/accum.h"
#include "error.h"

#define API_PARTIAL_PREFIX "l2p1."
#define API_PARTIAL_PREFIX_LEN 5
#define API_PARTIAL_VERSION 1
/* Bytes of the binary record: 4 of header, 32 of counts and max_abs, up to
 * every limb, 4 of CRC. */
#define API_PARTIAL_RECORD_MAX (4 + 32 + 8 * L2_ACCUM_LIMBS + 4)
/* Characters of the longest partial, without a NUL (784). */
#define API_PARTIAL_TEXT_MAX (API_PARTIAL_PREFIX_LEN + (API_PARTIAL_RECORD_MAX * 4 + 2) / 3)

/* Writes acc's partial into out (at least API_PARTIAL_TEXT_MAX + 1 bytes),
 * NUL-terminated; returns its length. acc must be a state l2d made (from
 * elements, merges or decoded partials). Cannot fail. */
size_t api_partial_encode(const struct l2_accum *acc, char *out);

/* Decodes the len bytes at s into *acc. API_INVALID_PARTIAL, with a detail
 * saying what is wrong (not a partial, truncated, another version,
 * checksum, inconsistent fields), when s is not a partial that
 * api_partial_encode could have written; *acc is then unspecified. The
 * error has no location: the caller adds it. */
enum api_status api_partial_decode(const char *s, size_t len, struct l2_accum *acc,
                                   struct api_error *err);

/* dst += src as l2_accum_merge does, unless a count would pass 2^64 - 1:
 * then false and dst is unchanged. */
bool api_partial_merge(struct l2_accum *dst, const struct l2_accum *src);

#endif
