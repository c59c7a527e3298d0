/* test_routes.c -- path lookup (exact paths and the v2 model templates),
 * the 404 details, methods, the token rule and the bounded metric labels. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/metrics.h"
#include "server/routes.h"

static struct route_match lookup(const char *path)
{
    struct route_match m;

    memset(&m, 0xa5, sizeof m); /* nothing left over from before */
    route_lookup(path, &m);
    return m;
}

static void expect_route(const char *path, enum route_id route, bool v2)
{
    struct route_match m = lookup(path);

    cr_assert_eq(m.route, route, "%s: route %d, expected %d", path, m.route, route);
    cr_assert_eq(m.miss, ROUTE_MISS_NONE, "%s", path);
    cr_assert_eq(m.v2, v2, "%s", path);
}

static void expect_model(const char *path, enum route_id route, enum api_infer_model model)
{
    struct route_match m = lookup(path);

    expect_route(path, route, true);
    cr_assert_eq(m.model, model, "%s", path);
}

/* Every fixed path of the contract, each to its own route. */
Test(routes, fixed_paths)
{
    expect_route("/l2_loss", ROUTE_L2_LOSS, false);
    expect_route("/regularize", ROUTE_REGULARIZE, false);
    expect_route("/", ROUTE_PAGE, false);
    expect_route("/healthz", ROUTE_HEALTHZ, false);
    expect_route("/readyz", ROUTE_READYZ, false);
    expect_route("/metrics", ROUTE_METRICS, false);
    expect_route("/openapi.yaml", ROUTE_OPENAPI, false);
    expect_route("/openapi.json", ROUTE_OPENAPI_JSON, false);
    expect_route("/v2", ROUTE_V2_SERVER, true);
    expect_route("/v2/health/live", ROUTE_V2_LIVE, true);
    expect_route("/v2/health/ready", ROUTE_V2_READY, true);
}

/* /v2/models/{m}[/versions/1][/ready|/infer] for both models. */
Test(routes, model_paths)
{
    static const struct {
        const char *name;
        enum api_infer_model model;
    } models[] = {{"l2_loss", API_INFER_L2_LOSS}, {"regularize", API_INFER_REGULARIZE}};
    static const struct {
        const char *suffix;
        enum route_id route;
    } kinds[] = {
        {"", ROUTE_V2_MODEL}, {"/ready", ROUTE_V2_MODEL_READY}, {"/infer", ROUTE_V2_INFER}};
    char path[128];

    for (size_t i = 0; i < 2; i++) {
        for (size_t k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "/v2/models/%s%s", models[i].name, kinds[k].suffix);
            expect_model(path, kinds[k].route, models[i].model);
            snprintf(path, sizeof path, "/v2/models/%s/versions/1%s", models[i].name,
                     kinds[k].suffix);
            expect_model(path, kinds[k].route, models[i].model);
        }
    }
}

static void expect_miss(const char *path, bool v2, enum route_miss miss, const char *segment)
{
    struct route_match m = lookup(path);

    cr_assert_eq(m.route, ROUTE_OTHER, "%s: route %d", path, m.route);
    cr_assert_eq(m.v2, v2, "%s", path);
    cr_assert_eq(m.miss, miss, "%s: miss %d, expected %d", path, m.miss, miss);
    if (segment != NULL) {
        cr_assert_eq(m.segment_len, strlen(segment), "%s", path);
        cr_assert_eq(memcmp(m.segment, segment, m.segment_len), 0, "%s", path);
    }
}

/* Exact matching: no prefixes, no trailing slashes, no case folding; the
 * v2 flag follows the path, matched or not. */
Test(routes, unknown_paths)
{
    expect_miss("//", false, ROUTE_MISS_PATH, NULL);
    expect_miss("/index.html", false, ROUTE_MISS_PATH, NULL);
    expect_miss("", false, ROUTE_MISS_PATH, NULL);
    expect_miss("/l2_loss/", false, ROUTE_MISS_PATH, NULL);
    expect_miss("/L2_LOSS", false, ROUTE_MISS_PATH, NULL);
    expect_miss("/openapi", false, ROUTE_MISS_PATH, NULL);
    expect_miss("/v2x", false, ROUTE_MISS_PATH, NULL);
    expect_miss("/v1/models/l2_loss/infer", false, ROUTE_MISS_PATH, NULL);
    expect_miss("/v2/", true, ROUTE_MISS_PATH, NULL);
    expect_miss("/v2/health", true, ROUTE_MISS_PATH, NULL);
    expect_miss("/v2/health/live/", true, ROUTE_MISS_PATH, NULL);
    expect_miss("/v2/models", true, ROUTE_MISS_PATH, NULL);
    expect_miss("/v2/models/l2_loss/", true, ROUTE_MISS_PATH, NULL);
    expect_miss("/v2/models/l2_loss/infer/", true, ROUTE_MISS_PATH, NULL);
    expect_miss("/v2/models/l2_loss/predict", true, ROUTE_MISS_PATH, NULL);
    expect_miss("/v2/models/l2_loss/versions", true, ROUTE_MISS_PATH, NULL);
    expect_miss("/v2/models/l2_loss/versions/1/versions/1/infer", true, ROUTE_MISS_PATH, NULL);
    expect_miss("/v2/models/l2_loss/ready/infer", true, ROUTE_MISS_PATH, NULL);
    /* an unknown model under a path that is not a model route: the path */
    expect_miss("/v2/models/foo/bar", true, ROUTE_MISS_PATH, NULL);
}

/* A model route's shape with an unknown model or version. */
Test(routes, unknown_models_and_versions)
{
    expect_miss("/v2/models/foo", true, ROUTE_MISS_MODEL, "foo");
    expect_miss("/v2/models/foo/infer", true, ROUTE_MISS_MODEL, "foo");
    expect_miss("/v2/models/L2_LOSS/ready", true, ROUTE_MISS_MODEL, "L2_LOSS");
    expect_miss("/v2/models/l2_loss2/infer", true, ROUTE_MISS_MODEL, "l2_loss2");
    expect_miss("/v2/models/", true, ROUTE_MISS_MODEL, "");
    expect_miss("/v2/models//infer", true, ROUTE_MISS_MODEL, "");
    expect_miss("/v2/models/foo/versions/1/infer", true, ROUTE_MISS_MODEL, "foo");
    expect_miss("/v2/models/l2_loss/versions/2", true, ROUTE_MISS_VERSION, "2");
    expect_miss("/v2/models/l2_loss/versions/11/infer", true, ROUTE_MISS_VERSION, "11");
    expect_miss("/v2/models/regularize/versions/01/ready", true, ROUTE_MISS_VERSION, "01");
    expect_miss("/v2/models/regularize/versions//infer", true, ROUTE_MISS_VERSION, "");
}

static void expect_404(const char *path, const char *detail)
{
    struct route_match m = lookup(path);
    struct api_error err;

    api_error_init(&err);
    cr_assert_eq(route_not_found(&m, &err), API_NOT_FOUND);
    cr_assert_eq(err.status, API_NOT_FOUND);
    cr_assert_str_eq(err.detail, detail);
}

Test(routes, not_found_details)
{
    char path[256], detail[512];

    expect_404("/nope", "no such path; see /openapi.yaml");
    expect_404("/v2/nope", "no such path; see /openapi.yaml");
    expect_404("/v2/models/foo/infer", "no model 'foo': the models are l2_loss, regularize");
    expect_404("/v2/models/l2_loss/versions/2/infer",
               "model l2_loss has no version '2': its one version is 1");
    /* what the client wrote is echoed printable and bounded */
    expect_404("/v2/models/a\\b\x01\xff", "no model 'a\\x5cb\\x01\\xff': the models are "
                                          "l2_loss, regularize");
    memset(path, 0, sizeof path);
    memcpy(path, "/v2/models/", 11);
    memset(path + 11, 'm', 100);
    snprintf(detail, sizeof detail, "no model '%.64s...': the models are l2_loss, regularize",
             path + 11);
    expect_404(path, detail);
}

Test(routes, methods_and_allow)
{
    static const enum route_id gets[] = {ROUTE_HEALTHZ,        ROUTE_READYZ,       ROUTE_METRICS,
                                         ROUTE_OPENAPI,        ROUTE_OPENAPI_JSON, ROUTE_V2_SERVER,
                                         ROUTE_V2_LIVE,        ROUTE_V2_READY,     ROUTE_V2_MODEL,
                                         ROUTE_V2_MODEL_READY, ROUTE_TRACKED,      ROUTE_PAGE};
    static const enum route_id posts[] = {ROUTE_L2_LOSS, ROUTE_REGULARIZE, ROUTE_MERGE,
                                          ROUTE_V2_INFER};

    for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++) {
        cr_assert(route_allows(gets[i], "GET"));
        cr_assert(route_allows(gets[i], "HEAD"));
        cr_assert_not(route_allows(gets[i], "POST"));
        cr_assert_not(route_allows(gets[i], "get"));
        cr_assert_str_eq(route_allow_header(gets[i]), "GET, HEAD");
    }
    for (size_t i = 0; i < sizeof posts / sizeof posts[0]; i++) {
        cr_assert(route_allows(posts[i], "POST"));
        cr_assert_not(route_allows(posts[i], "GET"));
        cr_assert_not(route_allows(posts[i], "HEAD"));
        cr_assert_not(route_allows(posts[i], "PUT"));
        cr_assert_str_eq(route_allow_header(posts[i]), "POST");
    }
    cr_assert_eq(sizeof gets / sizeof gets[0] + sizeof posts / sizeof posts[0], ROUTE_OTHER,
                 "every route is listed above");
    cr_assert_not(route_allows(ROUTE_OTHER, "GET"));
    cr_assert_null(route_allow_header(ROUTE_OTHER));
}

/* Only the health probes and the page (which holds no data and asks for
 * the token itself) are open; every other route (model readiness
 * included) needs the token when one is configured. */
Test(routes, token_rule)
{
    for (int r = 0; r < ROUTE_COUNT; r++) {
        bool open = r == ROUTE_PAGE || r == ROUTE_HEALTHZ || r == ROUTE_READYZ ||
                    r == ROUTE_V2_LIVE || r == ROUTE_V2_READY;
        cr_assert_eq(route_needs_token((enum route_id)r), !open, "route %d (%s)", r,
                     route_label((enum route_id)r));
    }
}

/* Labels: one per route, unique, short, [a-z0-9_], the protocol's
 * prefixed "v2_"; anything out of range is "other". */
Test(routes, labels_bounded_and_unique)
{
    for (int r = 0; r < ROUTE_COUNT; r++) {
        const char *label = route_label((enum route_id)r);

        cr_assert_not_null(label);
        cr_assert(strlen(label) > 0 && strlen(label) <= 32, "%s", label);
        cr_assert_eq(strspn(label, "abcdefghijklmnopqrstuvwxyz0123456789_"), strlen(label), "%s",
                     label);
        for (int s = 0; s < r; s++)
            cr_assert_str_neq(label, route_label((enum route_id)s), "label %s twice", label);
        cr_assert_eq(strncmp(label, "v2_", 3) == 0, r >= ROUTE_V2_SERVER && r <= ROUTE_V2_INFER,
                     "%s", label);
    }
    cr_assert_str_eq(route_label(ROUTE_OTHER), "other");
    cr_assert_str_eq(route_label((enum route_id)(ROUTE_COUNT + 5)), "other");
    cr_assert_str_eq(route_label(ROUTE_V2_INFER), "v2_infer");
}

/* Each route's label appears in the duration histogram once the route has
 * answered, and not before (an idle /metrics does not grow with the
 * routes). */
Test(routes, labels_in_metrics)
{
    struct metrics m;
    char line[160];
    size_t len;
    char *t;

    metrics_init(&m);
    t = metrics_render(&m, NULL, &len);
    cr_assert_not_null(t);
    cr_assert_null(strstr(t, "l2d_request_duration_seconds_count{"), "%s", t);
    free(t);
    for (int r = 0; r < ROUTE_COUNT; r++)
        metrics_observe(&m, (enum route_id)r, 200, 1000);
    t = metrics_render(&m, NULL, &len);
    cr_assert_not_null(t);
    for (int r = 0; r < ROUTE_COUNT; r++) {
        snprintf(line, sizeof line, "\nl2d_request_duration_seconds_count{endpoint=\"%s\"} 1\n",
                 route_label((enum route_id)r));
        cr_assert_not_null(strstr(t, line), "no %s", line);
        snprintf(line, sizeof line, "\nl2d_requests_total{endpoint=\"%s\",code=\"200\"} 1\n",
                 route_label((enum route_id)r));
        cr_assert_not_null(strstr(t, line), "no %s", line);
    }
    free(t);
}

/* The plain rows are matched by their whole path (compared only when the
 * lengths agree), the templates after them: a path of a plain row's length
 * that differs in a byte is no route, and a path that spells a template
 * row's text is that template with the model "{model}", which does not
 * exist. */
Test(routes, plain_rows_then_templates)
{
    expect_miss("/l2_losS", false, ROUTE_MISS_PATH, NULL);
    expect_miss("/healthy", false, ROUTE_MISS_PATH, NULL);
    expect_miss("/v2/health/livE", true, ROUTE_MISS_PATH, NULL);
    expect_miss("/v2/models/{model}", true, ROUTE_MISS_MODEL, "{model}");
    expect_miss("/v2/models/{model}/infer", true, ROUTE_MISS_MODEL, "{model}");
    expect_miss("/v2/models/{model}/ready", true, ROUTE_MISS_MODEL, "{model}");
    expect_miss("/{model}", false, ROUTE_MISS_PATH, NULL);
    expect_model("/v2/models/l2_loss/infer", ROUTE_V2_INFER, API_INFER_L2_LOSS);
}

/* routes.h's rule that the matcher relies on: every row whose path holds
 * "{model}" begins with "/v2/models/{model}" (a row that did not would be
 * taken for a plain path and never match a model). */
Test(routes, every_template_row_begins_with_the_model_slot)
{
    static const char *const paths[] = {
#define ROUTE_PATH(id, path, label, methods, access) path,
        ROUTE_LIST(ROUTE_PATH)
#undef ROUTE_PATH
    };
    int templates = 0;

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (strstr(paths[i], "{model}") == NULL)
            continue;
        templates++;
        cr_assert_eq(strncmp(paths[i], "/v2/models/{model}", 18), 0, "%s", paths[i]);
    }
    cr_assert_eq(templates, 3);
}
