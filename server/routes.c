/* routes.c -- the service's paths and methods, generated from one list.
 *
 * The tables below are expanded from ROUTE_LIST; there are few enough routes
 * that a linear scan with strcmp is the fastest lookup. */
#include "routes.h"

#include <string.h>

struct route_row {
    const char *path;
    const char *label;
    enum route_methods methods;
};

static const struct route_row rows[ROUTE_COUNT] = {
#define ROUTE_ROW(id, path, label, methods) [id] = {path, label, methods},
    ROUTE_LIST(ROUTE_ROW)
#undef ROUTE_ROW
        [ROUTE_OTHER] = {NULL, "other", ROUTE_GET},
};

enum route_id route_lookup(const char *path)
{
    for (int i = 0; i < ROUTE_OTHER; i++) {
        if (strcmp(rows[i].path, path) == 0)
            return (enum route_id)i;
    }
    return ROUTE_OTHER;
}

bool route_allows(enum route_id route, const char *method)
{
    if (route >= ROUTE_OTHER)
        return false;
    if (rows[route].methods == ROUTE_POST)
        return strcmp(method, "POST") == 0;
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

const char *route_allow_header(enum route_id route)
{
    if (route >= ROUTE_OTHER)
        return NULL;
    return rows[route].methods == ROUTE_POST ? "POST" : "GET, HEAD";
}

const char *route_label(enum route_id route)
{
    if (route > ROUTE_OTHER)
        route = ROUTE_OTHER;
    return rows[route].label;
}
