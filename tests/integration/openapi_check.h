/* openapi_check.h -- checks HTTP responses against openapi.yaml.
 *
 * The integration tests pass every response they receive through
 * openapi_check_response, which looks up the operation (path + method) and
 * the declared response for the status in the JSON form of openapi.yaml
 * (built to the file named by $L2D_OPENAPI_JSON) and validates the body
 * against its schema: types, required properties, enums, items, additional
 * properties where the spec forbids them. */
#ifndef OPENAPI_CHECK_H
#define OPENAPI_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Returns true when a response with this status, Content-Type (media type
 * only or with parameters; may be NULL) and body (body_len bytes, may be
 * empty for HEAD) is what openapi.yaml declares for method + path (path
 * without the query string). Otherwise returns false and writes a one-line
 * reason into why (why_len bytes, always NUL-terminated). */
bool openapi_check_response(const char *method, const char *path, int status,
                            const char *content_type, const char *body, size_t body_len, char *why,
                            size_t why_len);

#endif
