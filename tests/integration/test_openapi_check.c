/* test_openapi_check.c -- the OpenAPI response checker, against openapi.yaml.
 *
 * No server: hand-written responses, good ones and ones broken in one way
 * each, checked against the JSON form of the real openapi.yaml
 * ($L2D_OPENAPI_JSON, or build/openapi.json when run from the tree root). */
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>
#include <string.h>

#include <criterion/criterion.h>

#include "openapi_check.h"

static void use_built_spec(void)
{
    if (getenv("L2D_OPENAPI_JSON") == NULL)
        setenv("L2D_OPENAPI_JSON", "build/openapi.json", 1);
}

TestSuite(openapi_check, .init = use_built_spec);

#define JSON "application/json"
#define PROBLEM "application/problem+json"

/* Checks a response whose body is the string body; why gets the reason. */
static bool check(const char *method, const char *path, int status, const char *ct,
                  const char *body, char *why, size_t why_len)
{
    return openapi_check_response(method, path, status, ct, body, body ? strlen(body) : 0, why,
                                  why_len);
}

#define PASSES(method, path, status, ct, body)                                                     \
    do {                                                                                           \
        char why_[256] = "unset";                                                                  \
        cr_assert(check(method, path, status, ct, body, why_, sizeof why_), "%s", why_);           \
    } while (0)

/* Fails, and the reason mentions `needle`. */
#define FAILS(method, path, status, ct, body, needle)                                              \
    do {                                                                                           \
        char why_[256] = "";                                                                       \
        const char *body_ = (body);                                                                \
        cr_assert_not(check(method, path, status, ct, body_, why_, sizeof why_), "accepted: %s",   \
                      body_);                                                                      \
        cr_assert(strstr(why_, needle) != NULL, "reason \"%s\" does not mention \"%s\"", why_,     \
                  needle);                                                                         \
    } while (0)

#define SINGLE                                                                                     \
    "{\"loss\": 15.0, \"sum_squares\": 30.0, \"norm\": 5.477225575051661, \"count\": 4, "          \
    "\"max_abs\": 4.0, \"shape\": [2, 2], \"dtype\": \"float64\"}"

#define NAMED                                                                                      \
    "{\"loss\": 15.5, \"sum_squares\": 31.0, \"norm\": 5.5677643628300215, \"count\": 5, "         \
    "\"max_abs\": 4.0, \"dtype\": \"float64\", \"tensors\": {"                                     \
    "\"dense/kernel\": {\"loss\": 15.0, \"sum_squares\": 30.0, \"norm\": 5.477225575051661, "      \
    "\"count\": 4, \"max_abs\": 4.0, \"shape\": [2, 2]}, "                                         \
    "\"dense/bias\": {\"loss\": 0.5, \"sum_squares\": 1.0, \"norm\": 1.0, \"count\": 1, "          \
    "\"max_abs\": 1.0, \"shape\": [1]}}}"

Test(openapi_check, good_results_pass)
{
    PASSES("POST", "/l2_loss", 200, JSON, SINGLE);
    PASSES("POST", "/l2_loss", 200, "Application/JSON; charset=utf-8", SINGLE);
    PASSES("POST", "/l2_loss", 200, JSON, NAMED);
    PASSES("POST", "/l2_loss", 200, JSON,
           "{\"loss\": 0.0, \"sum_squares\": 0.0, \"norm\": 0.0, \"count\": 1, "
           "\"max_abs\": 0.0, \"shape\": [], \"dtype\": \"float32\"}");
    PASSES("POST", "/l2_loss", 200, JSON,
           "{\"loss\": 0.0, \"sum_squares\": 0.0, \"norm\": 0.0, \"count\": 0, "
           "\"max_abs\": 0.0, \"dtype\": \"float64\", \"tensors\": {}}");
    PASSES("POST", "/regularize", 200, JSON,
           "{\"loss\": 0.15, \"sum_squares\": 30.0, \"norm\": 5.477225575051661, \"count\": 4, "
           "\"max_abs\": 4.0, \"shape\": [2, 2], \"dtype\": \"float64\", \"scale\": 0.01}");
    PASSES("POST", "/regularize", 200, JSON,
           "{\"loss\": 0.0, \"sum_squares\": 30.0, \"norm\": 5.477225575051661, \"count\": 4, "
           "\"max_abs\": 4.0, \"shape\": [2, 2], \"dtype\": \"float64\", \"scale\": 0.0, "
           "\"disabled\": true}");
    /* a checkpoint: per-tensor dtypes, no shared top-level dtype, skipped */
    PASSES("POST", "/l2_loss", 200, JSON,
           "{\"loss\": 2.5, \"sum_squares\": 5.0, \"norm\": 2.23606797749979, \"count\": 2, "
           "\"max_abs\": 2.0, \"tensors\": {\"a\": {\"loss\": 0.5, \"sum_squares\": 1.0, "
           "\"norm\": 1.0, \"count\": 1, \"max_abs\": 1.0, \"shape\": [1], \"dtype\": "
           "\"float16\"}, \"b\": {\"loss\": 2.0, \"sum_squares\": 4.0, \"norm\": 2.0, "
           "\"count\": 1, \"max_abs\": 2.0, \"shape\": [], \"dtype\": \"float32\"}}, "
           "\"skipped\": {\"step\": \"I64\"}}");
    /* nonfinite=count */
    PASSES("POST", "/l2_loss", 200, JSON,
           "{\"loss\": 0.5, \"sum_squares\": 1.0, \"norm\": 1.0, \"count\": 3, "
           "\"max_abs\": 1.0, \"nan_count\": 1, \"inf_count\": 1, \"shape\": [3], "
           "\"dtype\": \"float32\"}");
}

Test(openapi_check, good_problems_pass)
{
    PASSES("POST", "/regularize", 400, PROBLEM,
           "{\"type\": \"about:blank\", \"title\": \"Bad Request\", \"status\": 400, "
           "\"code\": \"invalid_scale\", \"detail\": \"scale cannot be an integer: 1\"}");
    PASSES("POST", "/l2_loss", 400, PROBLEM,
           "{\"type\": \"about:blank\", \"title\": \"Bad Request\", \"status\": 400, "
           "\"code\": \"invalid_tensor\", \"detail\": \"x\", \"pointer\": \"/tensors/a~1b/3\"}");
    PASSES("POST", "/l2_loss", 413, PROBLEM,
           "{\"type\": \"about:blank\", \"title\": \"Content Too Large\", \"status\": 413, "
           "\"code\": \"payload_too_large\", \"detail\": \"x\"}");
    PASSES("GET", "/readyz", 503, PROBLEM,
           "{\"type\": \"about:blank\", \"title\": \"Service Unavailable\", \"status\": 503, "
           "\"code\": \"draining\", \"detail\": \"x\"}");
}

Test(openapi_check, missing_required_field_fails)
{
    FAILS("POST", "/l2_loss", 200, JSON,
          "{\"loss\": 15.0, \"sum_squares\": 30.0, \"count\": 4, \"shape\": [2, 2], "
          "\"dtype\": \"float64\"}",
          "oneOf");
    FAILS("GET", "/healthz", 200, JSON, "{\"status\": \"ok\"}", "\"version\" is missing");
    FAILS("POST", "/l2_loss", 400, PROBLEM,
          "{\"type\": \"about:blank\", \"title\": \"Bad Request\", \"status\": 400, "
          "\"code\": \"invalid_json\"}",
          "\"detail\" is missing");
    /* /regularize must echo the scale. */
    FAILS("POST", "/regularize", 200, JSON, SINGLE, "oneOf");
}

Test(openapi_check, wrong_type_fails)
{
    FAILS("GET", "/healthz", 200, JSON, "{\"status\": \"ok\", \"version\": 1}", "/version");
    FAILS("POST", "/l2_loss", 400, PROBLEM,
          "{\"type\": \"about:blank\", \"title\": \"Bad Request\", \"status\": \"400\", "
          "\"code\": \"invalid_json\", \"detail\": \"x\"}",
          "/status: wrong type");
    /* An integer must not be printed with a fraction. */
    FAILS("POST", "/l2_loss", 400, PROBLEM,
          "{\"type\": \"about:blank\", \"title\": \"Bad Request\", \"status\": 400, "
          "\"code\": \"invalid_json\", \"detail\": \"x\", \"offset\": 3.0}",
          "/offset: wrong type");
    FAILS("GET", "/healthz", 200, JSON, "[\"ok\"]", "wrong type");
}

Test(openapi_check, wrong_type_inside_a_result_fails)
{
    char why[256];
    /* count as a float, a shape entry as a string, a loss as a string */
    cr_assert_not(check("POST", "/l2_loss", 200, JSON,
                        "{\"loss\": 15.0, \"sum_squares\": 30.0, \"norm\": 5.0, \"count\": 4.0, "
                        "\"shape\": [2, 2], \"dtype\": \"float64\"}",
                        why, sizeof why));
    cr_assert_not(check("POST", "/l2_loss", 200, JSON,
                        "{\"loss\": 15.0, \"sum_squares\": 30.0, \"norm\": 5.0, \"count\": 4, "
                        "\"shape\": [2, \"2\"], \"dtype\": \"float64\"}",
                        why, sizeof why));
    cr_assert_not(check("POST", "/l2_loss", 200, JSON,
                        "{\"loss\": \"15.0\", \"sum_squares\": 30.0, \"norm\": 5.0, \"count\": 4, "
                        "\"shape\": [2, 2], \"dtype\": \"float64\"}",
                        why, sizeof why));
    cr_assert_not(check("POST", "/l2_loss", 200, JSON,
                        "{\"loss\": 15.0, \"sum_squares\": 30.0, \"norm\": 5.0, \"count\": -4, "
                        "\"shape\": [2, 2], \"dtype\": \"float64\"}",
                        why, sizeof why));
}

Test(openapi_check, code_not_in_enum_fails)
{
    FAILS("POST", "/l2_loss", 400, PROBLEM,
          "{\"type\": \"about:blank\", \"title\": \"Bad Request\", \"status\": 400, "
          "\"code\": \"bogus\", \"detail\": \"x\"}",
          "bogus is not in the enum");
    /* A real code, but not one a 400 carries. */
    FAILS("POST", "/l2_loss", 400, PROBLEM,
          "{\"type\": \"about:blank\", \"title\": \"Bad Request\", \"status\": 400, "
          "\"code\": \"draining\", \"detail\": \"x\"}",
          "draining is not in the enum");
    FAILS("POST", "/l2_loss", 200, JSON,
          "{\"loss\": 15.0, \"sum_squares\": 30.0, \"norm\": 5.0, \"count\": 4, "
          "\"shape\": [2, 2], \"dtype\": \"float128\"}",
          "oneOf");
    FAILS("GET", "/readyz", 503, PROBLEM,
          "{\"type\": \"about:blank\", \"title\": \"Service Unavailable\", \"status\": 503, "
          "\"code\": \"internal_error\", \"detail\": \"x\"}",
          "/code: not the const value");
    FAILS("POST", "/regularize", 200, JSON,
          "{\"loss\": 0.0, \"sum_squares\": 1.0, \"norm\": 1.0, \"count\": 1, \"shape\": [1], "
          "\"dtype\": \"float64\", \"scale\": 0.0, \"disabled\": false}",
          "oneOf");
}

Test(openapi_check, undeclared_status_fails)
{
    FAILS("POST", "/l2_loss", 418, PROBLEM, "{}", "status 418 is not declared");
    FAILS("POST", "/l2_loss", 201, JSON, SINGLE, "status 201 is not declared");
    FAILS("GET", "/healthz", 400, PROBLEM, "{}", "status 400 is not declared");
    FAILS("GET", "/no/such/path", 200, JSON, "{}", "status 200 is not declared");
}

Test(openapi_check, extra_property_fails)
{
    FAILS("POST", "/l2_loss", 200, JSON,
          "{\"loss\": 15.0, \"sum_squares\": 30.0, \"norm\": 5.0, \"count\": 4, "
          "\"shape\": [2, 2], \"dtype\": \"float64\", \"extra\": 1}",
          "oneOf");
    FAILS("GET", "/readyz", 200, JSON, "{\"status\": \"ready\", \"since\": 3}",
          "/since: property not allowed");
    FAILS("POST", "/l2_loss", 400, PROBLEM,
          "{\"type\": \"about:blank\", \"title\": \"Bad Request\", \"status\": 400, "
          "\"code\": \"invalid_json\", \"detail\": \"x\", \"hint\": \"y\"}",
          "/hint: property not allowed");
    /* Named totals have no shape. */
    FAILS("POST", "/l2_loss", 200, JSON,
          "{\"loss\": 0.0, \"sum_squares\": 0.0, \"norm\": 0.0, \"count\": 0, "
          "\"shape\": [], \"dtype\": \"float64\", \"tensors\": {}}",
          "oneOf");
}

Test(openapi_check, media_type_must_be_declared)
{
    FAILS("POST", "/l2_loss", 200, "text/html", SINGLE, "text/html is not declared");
    FAILS("POST", "/l2_loss", 400, JSON,
          "{\"type\": \"about:blank\", \"title\": \"Bad Request\", \"status\": 400, "
          "\"code\": \"invalid_json\", \"detail\": \"x\"}",
          "application/json is not declared");
    FAILS("POST", "/l2_loss", 200, NULL, SINGLE, "no Content-Type");
    FAILS("POST", "/l2_loss", 200, JSON, "{\"loss\": ", "not JSON");
    FAILS("GET", "/readyz", 200, JSON, "{\"status\": \"ready\", \"status\": \"ready\"}",
          "duplicate");
}

Test(openapi_check, non_json_bodies_check_the_media_type_only)
{
    PASSES("GET", "/metrics", 200, "text/plain; version=0.0.4",
           "# TYPE l2d_requests_total counter\nl2d_requests_total{endpoint=\"/healthz\","
           "code=\"200\"} 1\n");
    PASSES("GET", "/openapi.yaml", 200, "application/yaml", "openapi: 3.1.0\n");
    FAILS("GET", "/openapi.yaml", 200, "text/yaml", "openapi: 3.1.0\n", "not declared");
}

Test(openapi_check, head_is_get_without_a_body)
{
    PASSES("HEAD", "/healthz", 200, JSON, "");
    PASSES("HEAD", "/metrics", 200, "text/plain; version=0.0.4", "");
    PASSES("HEAD", "/readyz", 503, PROBLEM, "");
    FAILS("HEAD", "/healthz", 200, JSON, "{\"status\": \"ok\", \"version\": \"0.1.0\"}",
          "HEAD response with a body");
    FAILS("HEAD", "/healthz", 200, "text/html", "", "not declared");
}

Test(openapi_check, unknown_paths_and_methods)
{
    PASSES("GET", "/nope", 404, PROBLEM,
           "{\"type\": \"about:blank\", \"title\": \"Not Found\", \"status\": 404, "
           "\"code\": \"not_found\", \"detail\": \"no such path: /nope\"}");
    PASSES("GET", "/l2_loss", 405, PROBLEM,
           "{\"type\": \"about:blank\", \"title\": \"Method Not Allowed\", \"status\": 405, "
           "\"code\": \"method_not_allowed\", \"detail\": \"x\"}");
    PASSES("DELETE", "/healthz", 405, PROBLEM,
           "{\"type\": \"about:blank\", \"title\": \"Method Not Allowed\", \"status\": 405, "
           "\"code\": \"method_not_allowed\", \"detail\": \"x\"}");
    FAILS("GET", "/nope", 404, PROBLEM,
          "{\"type\": \"about:blank\", \"title\": \"Not Found\", \"status\": 404, "
          "\"code\": \"method_not_allowed\", \"detail\": \"x\"}",
          "/code: not the const value");
    FAILS("POST", "/healthz", 200, JSON, "{\"status\": \"ok\", \"version\": \"0.1.0\"}",
          "status 200 is not declared");
    /* A Path Item field that is not a method is not an operation. */
    FAILS("PARAMETERS", "/l2_loss", 200, JSON, SINGLE, "status 200 is not declared");
}

Test(openapi_check, reason_is_always_terminated)
{
    char why[6];
    memset(why, 'x', sizeof why);
    cr_assert_not(check("POST", "/l2_loss", 418, PROBLEM, "{}", why, sizeof why));
    cr_assert_eq(why[sizeof why - 1], '\0');
    cr_assert_eq(strlen(why), sizeof why - 1);
    cr_assert(check("POST", "/l2_loss", 200, JSON, SINGLE, why, sizeof why));
    cr_assert_str_eq(why, "");
    cr_assert_not(check("POST", "/l2_loss", 418, PROBLEM, "{}", NULL, 0));
}

/* Schema keywords the real document does not exercise, on a small document
 * of its own. Criterion runs each test in its own process, so this suite's
 * document is the one the checker loads (once) in these tests. */
static const char schema_doc[] =
    "{\"openapi\": \"3.1.0\", \"paths\": {\"/t\": {\"get\": {\"responses\": {"
    "\"200\": {\"description\": \"\", \"content\": {\"application/json\": {\"schema\": "
    "{\"$ref\": \"#/components/schemas/a~1b\"}}}},"
    "\"4XX\": {\"description\": \"\", \"content\": {\"application/json\": {\"schema\": "
    "{\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"string\", \"minLength\": 2}]}}}},"
    "\"default\": {\"description\": \"\", \"content\": {\"application/json\": {\"schema\": "
    "{\"type\": \"object\", \"properties\": {\"no\": false}, "
    "\"additionalProperties\": {\"type\": \"boolean\"}}}}}}}}},"
    "\"components\": {\"schemas\": {"
    "\"a/b\": {\"$ref\": \"#/components/schemas/T\"},"
    "\"T\": {\"type\": [\"number\", \"array\"], \"minItems\": 1, "
    "\"items\": {\"$ref\": \"#/components/schemas/T\"}, "
    "\"oneOf\": [{\"type\": \"number\", \"maximum\": 10}, {\"type\": \"number\", \"minimum\": 5}, "
    "{\"type\": \"array\"}]}}}}";

static char schema_path[] = "/tmp/l2d-openapi-check-XXXXXX";

static void use_schema_doc(void)
{
    int fd = mkstemp(schema_path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, schema_doc, sizeof schema_doc - 1), (ssize_t)(sizeof schema_doc - 1));
    close(fd);
    setenv("L2D_OPENAPI_JSON", schema_path, 1);
}

static void drop_schema_doc(void)
{
    unlink(schema_path);
}

TestSuite(openapi_schema, .init = use_schema_doc, .fini = drop_schema_doc);

Test(openapi_schema, type_arrays_items_and_refs)
{
    PASSES("GET", "/t", 200, JSON, "3");
    PASSES("GET", "/t", 200, JSON, "[[1, 2], [3, 4]]");
    FAILS("GET", "/t", 200, JSON, "\"3\"", "wrong type");
    FAILS("GET", "/t", 200, JSON, "[[1, 2], [3, true]]", "/1/1: wrong type");
    FAILS("GET", "/t", 200, JSON, "[[1], []]", "/1: fewer than 1 items");
}

Test(openapi_schema, one_of_needs_exactly_one_any_of_at_least_one)
{
    /* 7 is both <= 10 and >= 5: two of oneOf's schemas. */
    FAILS("GET", "/t", 200, JSON, "7", "matches 2 of oneOf");
    PASSES("GET", "/t", 200, JSON, "11");
    PASSES("GET", "/t", 404, JSON, "3");
    PASSES("GET", "/t", 404, JSON, "\"ab\"");
    FAILS("GET", "/t", 404, JSON, "\"a\"", "none of anyOf");
    /* minLength counts characters: "é" is two bytes but one character. */
    FAILS("GET", "/t", 404, JSON, "\"\u00e9\"", "none of anyOf");
    FAILS("GET", "/t", 404, JSON, "3.5", "none of anyOf");
}

Test(openapi_schema, default_response_false_schema_and_additional_schema)
{
    PASSES("GET", "/t", 500, JSON, "{\"x\": true}");
    FAILS("GET", "/t", 500, JSON, "{\"x\": 1}", "/x: wrong type");
    FAILS("GET", "/t", 500, JSON, "{\"no\": true}", "/no: schema is false");
}
