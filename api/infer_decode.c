/* PLACEHOLDER ON BRANCH infer-base ONLY: replaced by the real decoder before merge. */
#include "infer.h"
static enum api_status c(struct api_result *res, const struct api_decode_opts *o, void **out, struct api_error *err)
{ (void)res; (void)o; *out = NULL; return api_error_set(err, API_INTERNAL_ERROR, "infer decoder not yet written"); }
static enum api_status f(void *d, const unsigned char *b, size_t l, uint64_t o, struct api_error *e) { (void)d;(void)b;(void)l;(void)o;(void)e; return API_OK; }
static enum api_status fi(void *d, uint64_t l, struct api_error *e) { (void)d;(void)l;(void)e; return API_OK; }
static void de(void *d) { (void)d; }
const struct api_decoder_ops api_infer_ops = {c, f, fi, de};
