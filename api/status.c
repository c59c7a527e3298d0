/* status.c -- lookups over the API_STATUS_LIST X-macro table. */
#include "status.h"

struct status_row {
    int http;
    const char *code;
    const char *title;
};

static const struct status_row rows[API_STATUS_COUNT] = {
#define API_STATUS_ROW(name, http, code, title) [name] = {http, code, title},
    API_STATUS_LIST(API_STATUS_ROW)
#undef API_STATUS_ROW
};

static const struct status_row *row_of(enum api_status st)
{
    if ((unsigned)st >= API_STATUS_COUNT)
        st = API_INTERNAL_ERROR;
    return &rows[st];
}

int api_status_http(enum api_status st)
{
    return row_of(st)->http;
}

const char *api_status_code(enum api_status st)
{
    return row_of(st)->code;
}

const char *api_status_title(enum api_status st)
{
    return row_of(st)->title;
}
