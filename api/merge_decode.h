/* merge_decode.h -- streaming decoder of /merge bodies: lists of partials.
 *
 * The body is JSON, {"partials": ["l2p1....", ...]} (flat) or
 * {"partials": {"NAME": ["l2p1....", ...], ...}} (named). Each partial is
 * decoded (api/partial.h) and merged the moment its closing quote arrives,
 * so memory grows with the number of names, never with the number of
 * partials. The result is a merged api_result: the flat total, or one
 * tensor per name in the order sent, with no shape or dtype. */
#ifndef API_MERGE_DECODE_H
#define API_MERGE_DECODE_H

#include "decoder.h"

/* Most partials in one body, over all names: payload_too_large past it. */
#define API_MERGE_MAX_PARTIALS 100000

/* The decoder of /merge bodies (api_merge_ops in format.h; a dtype or
 * nonfinite option is not taken: the server's query check refuses them).
 * Errors: invalid_json (offset) for a body that is not JSON or is
 * truncated; invalid_partial (pointer, e.g. /partials/3 or
 * /partials/dense~1bias/0) for a missing or unknown key, a list entry that
 * is not a string, or a string that is not a valid partial; invalid_tensor
 * (pointer) for an empty, over-long or duplicate name or past
 * API_MAX_TENSORS names; payload_too_large past API_MERGE_MAX_PARTIALS;
 * result_out_of_range when the merged count passes 2^64 - 1. */

#endif
