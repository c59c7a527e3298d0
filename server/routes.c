/* routes.c -- the service's paths and methods, generated from one list.
 *
 * The tables below are expanded from ROUTE_LIST; there are few enough routes
 * that a linear scan is the fastest lookup: the plain rows first, each
 * compared only when its length (known at compile time) is the path's,
 * then, for a path under ROUTE_TEMPLATE_HEAD's "/v2/models/", the template
 * rows. A template row's path is ROUTE_TEMPLATE_HEAD ("/v2/models/{model}")
 * and its suffix: the model's segment and an optional "/versions/V" are cut
 * out of the path once, and what is left must be a row's suffix. */
#include "routes.h"

#include <string.h>

#include "../api/text.h"

#define ROUTE_MODELS "/v2/models/"
#define ROUTE_MODEL_SLOT "{model}"
/* How every template row's path begins (routes.h). */
#define ROUTE_TEMPLATE_HEAD ROUTE_MODELS ROUTE_MODEL_SLOT
#define ROUTE_VERSIONS "/versions/"
#define ROUTE_VERSION "1"
#define ROUTE_ECHO_MAX 64 /* bytes of an unknown model or version quoted back */

struct route_row {
    const char *path;
    size_t len; /* of path */
    const char *label;
    enum route_methods methods;
    enum route_access access;
};

static const struct route_row rows[ROUTE_COUNT] = {
#define ROUTE_ROW(id, path, label, methods, access)                                                \
    [id] = {path, sizeof(path) - 1, label, methods, access},
    ROUTE_LIST(ROUTE_ROW)
#undef ROUTE_ROW
        [ROUTE_OTHER] = {NULL, 0, "other", ROUTE_GET, ROUTE_TOKEN},
};

/* "l2_loss, regularize, ": the 404 detail prints it without its last two
 * bytes. */
#define ROUTE_MODEL_NAME(name, text) text ", "
static const char model_names[] = API_INFER_MODEL_LIST(ROUTE_MODEL_NAME);
#undef ROUTE_MODEL_NAME

static bool starts_with(const char *s, const char *prefix, size_t len)
{
    return strncmp(s, prefix, len) == 0;
}

/* Whether row r is a template: its path begins with ROUTE_TEMPLATE_HEAD. */
static bool row_is_template(const struct route_row *r)
{
    return r->len >= strlen(ROUTE_TEMPLATE_HEAD) &&
           memcmp(r->path, ROUTE_TEMPLATE_HEAD, strlen(ROUTE_TEMPLATE_HEAD)) == 0;
}

/* path (under ROUTE_MODELS) against the template rows: the model's
 * segment and an optional "/versions/V" cut out once, what is left must be
 * a row's suffix; then the model and version are checked. */
static void match_templates(const char *path, struct route_match *m)
{
    const char *model = path + strlen(ROUTE_MODELS), *rest, *version = NULL;
    size_t model_len, version_len = 0;

    model_len = strcspn(model, "/");
    rest = model + model_len;
    if (starts_with(rest, ROUTE_VERSIONS, strlen(ROUTE_VERSIONS))) {
        version = rest + strlen(ROUTE_VERSIONS);
        version_len = strcspn(version, "/");
        rest = version + version_len;
    }
    for (int i = 0; i < ROUTE_OTHER; i++) {
        if (!row_is_template(&rows[i]) ||
            strcmp(rest, rows[i].path + strlen(ROUTE_TEMPLATE_HEAD)) != 0)
            continue;
        if (!api_infer_model_lookup(model, model_len, &m->model)) {
            m->miss = ROUTE_MISS_MODEL;
            m->segment = model;
            m->segment_len = model_len;
        } else if (version != NULL && (version_len != strlen(ROUTE_VERSION) ||
                                       !starts_with(version, ROUTE_VERSION, 1))) {
            m->miss = ROUTE_MISS_VERSION;
            m->segment = version;
            m->segment_len = version_len;
        } else {
            m->miss = ROUTE_MISS_NONE;
            m->route = (enum route_id)i;
        }
        return;
    }
}

void route_lookup(const char *path, struct route_match *m)
{
    size_t len = strlen(path);

    memset(m, 0, sizeof *m);
    m->route = ROUTE_OTHER;
    m->miss = ROUTE_MISS_PATH;
    m->v2 = strcmp(path, "/v2") == 0 || starts_with(path, "/v2/", 4);
    /* A plain row matches only its own path (a path that spells a template
     * row's, "{model}" and all, is read as the template's below). */
    for (int i = 0; i < ROUTE_OTHER; i++) {
        if (rows[i].len == len && memcmp(rows[i].path, path, len) == 0 &&
            !row_is_template(&rows[i])) {
            m->miss = ROUTE_MISS_NONE;
            m->route = (enum route_id)i;
            return;
        }
    }
    if (starts_with(path, ROUTE_MODELS, strlen(ROUTE_MODELS)))
        match_templates(path, m);
}

enum api_status route_not_found(const struct route_match *m, struct api_error *err)
{
    char shown[API_TEXT_ECHO_SIZE(ROUTE_ECHO_MAX)];

    if (m->miss == ROUTE_MISS_MODEL || m->miss == ROUTE_MISS_VERSION)
        api_text_echo(shown, sizeof shown, m->segment, m->segment_len, ROUTE_ECHO_MAX,
                      API_TEXT_ECHO_HEX);
    if (m->miss == ROUTE_MISS_MODEL)
        return api_error_set(err, API_NOT_FOUND, "no model '%s': the models are %.*s", shown,
                             (int)(sizeof model_names - 3), model_names);
    if (m->miss == ROUTE_MISS_VERSION)
        return api_error_set(err, API_NOT_FOUND,
                             "model %s has no version '%s': its one version is " ROUTE_VERSION,
                             api_infer_model_name(m->model), shown);
    return api_error_set(err, API_NOT_FOUND, "no such path; see /openapi.yaml");
}

bool route_allows(enum route_id route, const char *method)
{
    if (route >= ROUTE_OTHER)
        return false;
    if (rows[route].methods == ROUTE_POST)
        return strcmp(method, "POST") == 0;
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

bool route_needs_token(enum route_id route)
{
    if (route > ROUTE_OTHER)
        route = ROUTE_OTHER;
    return rows[route].access == ROUTE_TOKEN;
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
