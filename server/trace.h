/* trace.h -- the trace id of a W3C Trace Context `traceparent` header.
 *
 * Only the trace id is kept (for the access log); a header that does not
 * follow the recommendation (https://www.w3.org/TR/trace-context/) is
 * ignored, as the recommendation asks, never refused. */
#ifndef SERVER_TRACE_H
#define SERVER_TRACE_H

#include <stdbool.h>

#define TRACE_ID_LEN 32 /* lowercase hex digits */

/* Parses value, one traceparent field's value (surrounding whitespace
 * already removed): `VV-<32 hex trace id>-<16 hex parent id>-FF`, lowercase
 * hex, version not ff, neither id all zeros; version 00 exactly that long,
 * a later version possibly followed by `-` and more. On success writes the
 * trace id and a NUL into id and returns true; otherwise returns false and
 * leaves id as it was. */
bool trace_parse_traceparent(const char *value, char id[TRACE_ID_LEN + 1]);

#endif
