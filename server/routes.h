/* routes.h -- the service's paths and methods, generated from one list.
 *
 * Each row names a route, its path, its metric label, the methods it takes
 * and whether it needs the token; lookup, the Allow header, the token check
 * and the metrics' endpoint label all come from ROUTE_LIST, so a path cannot
 * be served without being counted. A path with "{model}" is a template of
 * the Open Inference Protocol v2: the segment is a model's name (infer.h),
 * and "/versions/1" may follow it (the one version of every model). */
#ifndef SERVER_ROUTES_H
#define SERVER_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "../api/error.h"
#include "../api/infer.h"

/* The methods a route takes: ROUTE_GET means GET and HEAD. */
enum route_methods {
    ROUTE_GET,
    ROUTE_POST,
};

/* Who may call a route when a token is configured. */
enum route_access {
    ROUTE_TOKEN, /* only with the token */
    ROUTE_OPEN,  /* anyone: health probes */
};

/* id, path, metric label (bounded: one per row), methods, access. The
 * protocol's labels all begin with "v2_"; a template's path is
 * "/v2/models/{model}" and a suffix. */
#define ROUTE_LIST(X)                                                                              \
    X(ROUTE_L2_LOSS, "/l2_loss", "l2_loss", ROUTE_POST, ROUTE_TOKEN)                               \
    X(ROUTE_REGULARIZE, "/regularize", "regularize", ROUTE_POST, ROUTE_TOKEN)                      \
    X(ROUTE_MERGE, "/merge", "merge", ROUTE_POST, ROUTE_TOKEN)                                     \
    X(ROUTE_PAGE, "/", "page", ROUTE_GET, ROUTE_OPEN)                                              \
    X(ROUTE_HEALTHZ, "/healthz", "healthz", ROUTE_GET, ROUTE_OPEN)                                 \
    X(ROUTE_READYZ, "/readyz", "readyz", ROUTE_GET, ROUTE_OPEN)                                    \
    X(ROUTE_METRICS, "/metrics", "metrics", ROUTE_GET, ROUTE_TOKEN)                                \
    X(ROUTE_OPENAPI, "/openapi.yaml", "openapi", ROUTE_GET, ROUTE_TOKEN)                           \
    X(ROUTE_OPENAPI_JSON, "/openapi.json", "openapi_json", ROUTE_GET, ROUTE_TOKEN)                 \
    X(ROUTE_TRACKED, "/tracked", "tracked", ROUTE_GET, ROUTE_TOKEN)                                \
    X(ROUTE_V2_SERVER, "/v2", "v2_server", ROUTE_GET, ROUTE_TOKEN)                                 \
    X(ROUTE_V2_LIVE, "/v2/health/live", "v2_live", ROUTE_GET, ROUTE_OPEN)                          \
    X(ROUTE_V2_READY, "/v2/health/ready", "v2_ready", ROUTE_GET, ROUTE_OPEN)                       \
    X(ROUTE_V2_MODEL, "/v2/models/{model}", "v2_model", ROUTE_GET, ROUTE_TOKEN)                    \
    X(ROUTE_V2_MODEL_READY, "/v2/models/{model}/ready", "v2_model_ready", ROUTE_GET, ROUTE_TOKEN)  \
    X(ROUTE_V2_INFER, "/v2/models/{model}/infer", "v2_infer", ROUTE_POST, ROUTE_TOKEN)

enum route_id {
#define ROUTE_ENUM(id, path, label, methods, access) id,
    ROUTE_LIST(ROUTE_ENUM)
#undef ROUTE_ENUM
        ROUTE_OTHER, /* any other path: 404, metric label "other" */
    ROUTE_COUNT
};

/* Why a path has no route. */
enum route_miss {
    ROUTE_MISS_NONE,    /* it has one */
    ROUTE_MISS_PATH,    /* no row matches */
    ROUTE_MISS_MODEL,   /* a model template matches, but no model has that name */
    ROUTE_MISS_VERSION, /* the model exists, but not the version */
};

/* What a path matched. */
struct route_match {
    enum route_id route;        /* ROUTE_OTHER when nothing serves the path */
    bool v2;                    /* "/v2" or under "/v2/": errors in the protocol's form */
    enum route_miss miss;       /* why route is ROUTE_OTHER */
    enum api_infer_model model; /* a template's model, when route is one */
    const char *segment;        /* ROUTE_MISS_MODEL / _VERSION: the unknown name, in path */
    size_t segment_len;         /* its bytes */
};

/* Matches path (NUL-terminated, without the query; the caller keeps it
 * alive while m->segment is used) into *m. Paths match exactly: no
 * trailing slash, no empty segment. Cannot fail. */
void route_lookup(const char *path, struct route_match *m);

/* Writes the 404 of a path that matched nothing (m->route == ROUTE_OTHER)
 * into err: the path, the model or the version that does not exist.
 * Returns API_NOT_FOUND. */
enum api_status route_not_found(const struct route_match *m, struct api_error *err);

/* True when route takes method (GET routes take HEAD too). False for
 * ROUTE_OTHER. */
bool route_allows(enum route_id route, const char *method);

/* True when route needs the token (when one is configured). */
bool route_needs_token(enum route_id route);

/* The Allow header value of route ("GET, HEAD" or "POST"); NULL for
 * ROUTE_OTHER. Static storage. */
const char *route_allow_header(enum route_id route);

/* The bounded metric label of route ("l2_loss", ..., "other"). Static
 * storage. */
const char *route_label(enum route_id route);

#endif
