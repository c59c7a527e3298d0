/* test_trace.c -- the trace id of a W3C traceparent: valid fields give it,
 * every kind of invalid one is ignored. */
#include <criterion/criterion.h>
#include <string.h>

#include "server/trace.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define PID "00f067aa0ba902b7"

Test(trace, valid_fields_give_the_trace_id)
{
    const char *valid[] = {
        "00-" TID "-" PID "-01", "00-" TID "-" PID "-00",
        "01-" TID "-" PID "-09",           /* a later version, same length */
        "cc-" TID "-" PID "-01-what-ever", /* a later version with more fields */
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        char id[TRACE_ID_LEN + 1] = "";
        cr_assert(trace_parse_traceparent(valid[i], id), "%s", valid[i]);
        cr_assert_str_eq(id, TID, "%s", valid[i]);
    }
}

Test(trace, invalid_fields_are_ignored)
{
    const char *invalid[] = {
        "",
        "00",
        "00-" TID "-" PID "-0",                           /* short */
        "00-" TID "-" PID "-01-",                         /* version 00 has no more */
        "00-" TID "-" PID "-011",                         /* too long */
        "01-" TID "-" PID "-01x",                         /* later version: '-' next */
        "ff-" TID "-" PID "-01",                          /* forbidden version */
        "0g-" TID "-" PID "-01",                          /* not hex */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" PID "-01", /* uppercase */
        "00-00000000000000000000000000000000-" PID "-01", /* zero trace id */
        "00-" TID "-0000000000000000-01",                 /* zero parent id */
        "00-" TID "-" PID "-0z",                          /* flags not hex */
        "00_" TID "-" PID "-01",                          /* separators */
        "00-" TID "_" PID "-01",
        "00-" TID "-" PID "_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-" PID "0-01", /* misplaced '-' */
        " 00-" TID "-" PID "-01",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        char id[TRACE_ID_LEN + 1] = "unchanged";
        cr_assert_not(trace_parse_traceparent(invalid[i], id), "%s", invalid[i]);
        cr_assert_str_eq(id, "unchanged", "%s", invalid[i]);
    }
}
