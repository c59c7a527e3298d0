/* routes.h -- the service's paths and methods, generated from one list.
 *
 * Each row names a route, its path, its metric label and the methods it
 * takes; lookup, the Allow header and the metrics' endpoint label all come
 * from ROUTE_LIST, so a path cannot be served without being counted. */
#ifndef SERVER_ROUTES_H
#define SERVER_ROUTES_H

#include <stdbool.h>

/* The methods a route takes: ROUTE_GET means GET and HEAD. */
enum route_methods {
    ROUTE_GET,
    ROUTE_POST,
};

#define ROUTE_LIST(X)                                                                              \
    X(ROUTE_L2_LOSS, "/l2_loss", "l2_loss", ROUTE_POST)                                            \
    X(ROUTE_REGULARIZE, "/regularize", "regularize", ROUTE_POST)                                   \
    X(ROUTE_HEALTHZ, "/healthz", "healthz", ROUTE_GET)                                             \
    X(ROUTE_READYZ, "/readyz", "readyz", ROUTE_GET)                                                \
    X(ROUTE_METRICS, "/metrics", "metrics", ROUTE_GET)                                             \
    X(ROUTE_OPENAPI, "/openapi.yaml", "openapi", ROUTE_GET)

enum route_id {
#define ROUTE_ENUM(id, path, label, methods) id,
    ROUTE_LIST(ROUTE_ENUM)
#undef ROUTE_ENUM
        ROUTE_OTHER, /* any other path: 404, metric label "other" */
    ROUTE_COUNT
};

/* The route serving path (NUL-terminated, without the query), or
 * ROUTE_OTHER. Paths match exactly. */
enum route_id route_lookup(const char *path);

/* True when route takes method (GET routes take HEAD too). False for
 * ROUTE_OTHER. */
bool route_allows(enum route_id route, const char *method);

/* The Allow header value of route ("GET, HEAD" or "POST"); NULL for
 * ROUTE_OTHER. Static storage. */
const char *route_allow_header(enum route_id route);

/* The bounded metric label of route ("l2_loss", ..., "other"). Static
 * storage. */
const char *route_label(enum route_id route);

#endif
