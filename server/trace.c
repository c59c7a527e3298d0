/* trace.c -- the trace id of a W3C Trace Context `traceparent` header.
 *
 * The field is fixed-width: version (2), trace id (32), parent id (16) and
 * flags (2), joined by '-', so each part is checked at its offset. */
#include "trace.h"

#include <stddef.h>
#include <string.h>

#define TRACE_VERSION_LEN 2
#define TRACE_PARENT_LEN 16
#define TRACE_FLAGS_LEN 2
/* "00-" trace "-" parent "-" flags */
#define TRACE_FIELD_LEN                                                                            \
    (TRACE_VERSION_LEN + 1 + TRACE_ID_LEN + 1 + TRACE_PARENT_LEN + 1 + TRACE_FLAGS_LEN)

/* True when s[0..len) is lowercase hex digits, and, with nonzero, not all '0'. */
static bool lower_hex(const char *s, size_t len, bool nonzero)
{
    bool any = false;

    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
        any |= s[i] != '0';
    }
    return any || !nonzero;
}

bool trace_parse_traceparent(const char *value, char id[TRACE_ID_LEN + 1])
{
    const char *trace = value + TRACE_VERSION_LEN + 1;
    const char *parent = trace + TRACE_ID_LEN + 1;
    const char *flags = parent + TRACE_PARENT_LEN + 1;
    size_t len = strnlen(value, TRACE_FIELD_LEN + 1);

    if (len < TRACE_FIELD_LEN)
        return false;
    if (!lower_hex(value, TRACE_VERSION_LEN, false) || memcmp(value, "ff", 2) == 0)
        return false;
    /* Version 00 is exactly this long; a later one may add fields after a '-'. */
    if (len > TRACE_FIELD_LEN && (memcmp(value, "00", 2) == 0 || value[TRACE_FIELD_LEN] != '-'))
        return false;
    if (trace[-1] != '-' || parent[-1] != '-' || flags[-1] != '-')
        return false;
    if (!lower_hex(trace, TRACE_ID_LEN, true) || !lower_hex(parent, TRACE_PARENT_LEN, true) ||
        !lower_hex(flags, TRACE_FLAGS_LEN, false))
        return false;
    memcpy(id, trace, TRACE_ID_LEN);
    id[TRACE_ID_LEN] = '\0';
    return true;
}
