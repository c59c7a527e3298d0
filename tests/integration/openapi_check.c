/* openapi_check.c -- checks HTTP responses against the JSON form of openapi.yaml.
 *
 * Finds the declared response for (path, method, status), checks the media
 * type, and validates JSON bodies with a small JSON Schema subset: the
 * keywords openapi.yaml uses, plus their obvious neighbours. Unknown keywords
 * (description, example, ...) are ignored, as JSON Schema says. */
#include "openapi_check.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define OC_MEDIA_MAX 128 /* a media type, without parameters */
#define OC_LOC_MAX 256   /* a JSON Pointer into the body, for messages */
#define OC_DEPTH_MAX 64  /* schema nesting ($ref cycles stop here) */

/* The document, loaded once per process (test code: a cache, not state). */
static pthread_once_t oc_once = PTHREAD_ONCE_INIT;
static json_t *oc_spec;
static char oc_load_error[256];

static void oc_load(void)
{
    const char *file = getenv("L2D_OPENAPI_JSON");
    json_error_t jerr;

    if (file == NULL || file[0] == '\0') {
        snprintf(oc_load_error, sizeof oc_load_error, "L2D_OPENAPI_JSON is not set");
        return;
    }
    oc_spec = json_load_file(file, 0, &jerr);
    if (oc_spec == NULL)
        snprintf(oc_load_error, sizeof oc_load_error, "%s:%d: %s", file, jerr.line, jerr.text);
}

static bool fail(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes a reason into why (when there is room) and returns false. */
static bool fail(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && why_len > 0) {
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* Follows a local "#/a/b~1c" reference (RFC 6901 escapes); NULL if absent. */
static json_t *resolve_pointer(const char *ref)
{
    char tok[OC_LOC_MAX];
    json_t *node = oc_spec;

    if (strncmp(ref, "#/", 2) != 0)
        return NULL;
    for (const char *p = ref + 1; *p == '/' && node != NULL;) {
        size_t n = 0;
        for (p++; *p != '\0' && *p != '/'; p++) {
            char c = *p;
            if (c == '~' && (p[1] == '0' || p[1] == '1'))
                c = *++p == '0' ? '~' : '/';
            if (n + 1 >= sizeof tok)
                return NULL;
            tok[n++] = c;
        }
        tok[n] = '\0';
        node = json_object_get(node, tok);
    }
    return node;
}

/* node, or what its "$ref" points at (followed up to OC_DEPTH_MAX times). */
static json_t *deref(json_t *node)
{
    for (int i = 0; i < OC_DEPTH_MAX && node != NULL; i++) {
        const char *ref = json_string_value(json_object_get(node, "$ref"));
        if (ref == NULL)
            return node;
        node = resolve_pointer(ref);
    }
    return NULL;
}

static bool type_matches(const char *type, const json_t *v)
{
    if (strcmp(type, "object") == 0)
        return json_is_object(v);
    if (strcmp(type, "array") == 0)
        return json_is_array(v);
    if (strcmp(type, "string") == 0)
        return json_is_string(v);
    if (strcmp(type, "number") == 0)
        return json_is_number(v);
    /* Stricter than JSON Schema on purpose: 4.0 is not an integer here, as
     * the server must print counts and statuses without a fraction. */
    if (strcmp(type, "integer") == 0)
        return json_is_integer(v);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(type, "null") == 0)
        return json_is_null(v);
    return false;
}

/* Code points in a UTF-8 string (jansson has validated it). */
static size_t utf8_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static bool validate(json_t *schema, json_t *v, const char *loc, int depth, char *why,
                     size_t why_len);

/* How many schemas of the array `list` v matches. */
static size_t count_matches(json_t *list, json_t *v, const char *loc, int depth)
{
    size_t i, n = 0;
    json_t *sub;
    char scratch[8];

    json_array_foreach(list, i, sub) n += validate(sub, v, loc, depth + 1, scratch, sizeof scratch);
    return n;
}

static bool validate_object(json_t *schema, json_t *v, const char *loc, int depth, char *why,
                            size_t why_len)
{
    json_t *props = json_object_get(schema, "properties");
    json_t *extra = json_object_get(schema, "additionalProperties");
    json_t *req = json_object_get(schema, "required");
    json_t *lim, *item, *sub;
    const char *key;
    size_t i;
    char child[OC_LOC_MAX];

    json_array_foreach(req, i, item)
    {
        const char *name = json_string_value(item);
        if (name != NULL && json_object_get(v, name) == NULL)
            return fail(why, why_len, "%s: required property \"%s\" is missing", loc, name);
    }
    if ((lim = json_object_get(schema, "maxProperties")) != NULL &&
        json_object_size(v) > (size_t)json_integer_value(lim))
        return fail(why, why_len, "%s: more than %" JSON_INTEGER_FORMAT " properties", loc,
                    json_integer_value(lim));
    json_object_foreach(v, key, item)
    {
        snprintf(child, sizeof child, "%s/%s", loc, key);
        sub = json_object_get(props, key);
        if (sub == NULL && json_is_false(extra))
            return fail(why, why_len, "%s: property not allowed (additionalProperties: false)",
                        child);
        if (sub == NULL && json_is_object(extra))
            sub = extra;
        if (sub != NULL && !validate(sub, item, child, depth + 1, why, why_len))
            return false;
    }
    return true;
}

static bool validate_array(json_t *schema, json_t *v, const char *loc, int depth, char *why,
                           size_t why_len)
{
    json_t *items = json_object_get(schema, "items");
    json_t *lim, *item;
    size_t i;
    char child[OC_LOC_MAX];

    if ((lim = json_object_get(schema, "minItems")) != NULL &&
        json_array_size(v) < (size_t)json_integer_value(lim))
        return fail(why, why_len, "%s: fewer than %" JSON_INTEGER_FORMAT " items", loc,
                    json_integer_value(lim));
    if ((lim = json_object_get(schema, "maxItems")) != NULL &&
        json_array_size(v) > (size_t)json_integer_value(lim))
        return fail(why, why_len, "%s: more than %" JSON_INTEGER_FORMAT " items", loc,
                    json_integer_value(lim));
    if (items == NULL)
        return true;
    json_array_foreach(v, i, item)
    {
        snprintf(child, sizeof child, "%s/%zu", loc, i);
        if (!validate(items, item, child, depth + 1, why, why_len))
            return false;
    }
    return true;
}

/* Does v satisfy schema? loc is v's JSON Pointer in the body. */
static bool validate(json_t *schema, json_t *v, const char *loc, int depth, char *why,
                     size_t why_len)
{
    json_t *type, *kw, *sub;
    size_t i, n;

    if (depth > OC_DEPTH_MAX)
        return fail(why, why_len, "%s: schema nested too deep", loc);
    if (json_is_boolean(schema)) /* JSON Schema's true / false */
        return json_is_true(schema) ? true : fail(why, why_len, "%s: schema is false", loc);
    if ((kw = json_object_get(schema, "$ref")) != NULL) {
        sub = resolve_pointer(json_string_value(kw) ? json_string_value(kw) : "");
        if (sub == NULL)
            return fail(why, why_len, "%s: unresolved $ref %s", loc, json_string_value(kw));
        if (!validate(sub, v, loc, depth + 1, why, why_len))
            return false;
    }
    if ((type = json_object_get(schema, "type")) != NULL) {
        bool ok = false;
        if (json_is_string(type))
            ok = type_matches(json_string_value(type), v);
        json_array_foreach(type, i, sub) ok = ok || type_matches(json_string_value(sub), v);
        if (!ok)
            return fail(why, why_len, "%s: wrong type (want %s)", loc,
                        json_is_string(type) ? json_string_value(type) : "one of a type array");
    }
    if ((kw = json_object_get(schema, "const")) != NULL && !json_equal(kw, v))
        return fail(why, why_len, "%s: not the const value", loc);
    if ((kw = json_object_get(schema, "enum")) != NULL) {
        bool found = false;
        json_array_foreach(kw, i, sub) found = found || json_equal(sub, v);
        if (!found)
            return fail(why, why_len, "%s: %s is not in the enum", loc,
                        json_is_string(v) ? json_string_value(v) : "value");
    }
    if (json_is_number(v)) {
        double x = json_number_value(v);
        if ((kw = json_object_get(schema, "minimum")) != NULL && x < json_number_value(kw))
            return fail(why, why_len, "%s: %g is below the minimum %g", loc, x,
                        json_number_value(kw));
        if ((kw = json_object_get(schema, "maximum")) != NULL && x > json_number_value(kw))
            return fail(why, why_len, "%s: %g is above the maximum %g", loc, x,
                        json_number_value(kw));
    }
    if (json_is_string(v)) {
        size_t len = utf8_length(json_string_value(v), json_string_length(v));
        if ((kw = json_object_get(schema, "minLength")) != NULL &&
            len < (size_t)json_integer_value(kw))
            return fail(why, why_len, "%s: string shorter than %" JSON_INTEGER_FORMAT, loc,
                        json_integer_value(kw));
        if ((kw = json_object_get(schema, "maxLength")) != NULL &&
            len > (size_t)json_integer_value(kw))
            return fail(why, why_len, "%s: string longer than %" JSON_INTEGER_FORMAT, loc,
                        json_integer_value(kw));
    }
    if (json_is_object(v) && !validate_object(schema, v, loc, depth, why, why_len))
        return false;
    if (json_is_array(v) && !validate_array(schema, v, loc, depth, why, why_len))
        return false;
    json_array_foreach(json_object_get(schema, "allOf"), i, sub)
    {
        if (!validate(sub, v, loc, depth + 1, why, why_len))
            return false;
    }
    if ((kw = json_object_get(schema, "anyOf")) != NULL && count_matches(kw, v, loc, depth) == 0)
        return fail(why, why_len, "%s: matches none of anyOf", loc);
    if ((kw = json_object_get(schema, "oneOf")) != NULL &&
        (n = count_matches(kw, v, loc, depth)) != 1)
        return fail(why, why_len, "%s: matches %zu of oneOf's schemas, not exactly one", loc, n);
    return true;
}

/* Copies the media type of a Content-Type value (no parameters, no
 * surrounding blanks, lower case) into out; false if it does not fit. */
static bool media_type(const char *ct, char out[OC_MEDIA_MAX])
{
    size_t n = 0;

    while (*ct == ' ' || *ct == '\t')
        ct++;
    for (; *ct != '\0' && *ct != ';'; ct++) {
        if (n + 1 >= OC_MEDIA_MAX)
            return false;
        out[n++] = (char)tolower((unsigned char)*ct);
    }
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
        n--;
    out[n] = '\0';
    return true;
}

static bool is_json_media(const char *mt)
{
    size_t n = strlen(mt);
    return strcmp(mt, "application/json") == 0 || (n > 5 && strcmp(mt + n - 5, "+json") == 0);
}

/* Is m (lower case) a method field of a Path Item Object? */
static bool is_http_method(const char *m)
{
    static const char *const methods[] = {"get",     "put",  "post",  "delete",
                                          "options", "head", "patch", "trace"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (strcmp(m, methods[i]) == 0)
            return true;
    }
    return false;
}

/* The Responses Object for method on path: the operation's, or the
 * document's x-l2d-unmatched answers for unknown paths and methods. HEAD
 * is answered as GET. */
static json_t *find_responses(const char *method, const char *path, char *why, size_t why_len)
{
    json_t *unmatched = json_object_get(oc_spec, "x-l2d-unmatched");
    json_t *item = deref(json_object_get(json_object_get(oc_spec, "paths"), path));
    json_t *op = NULL, *responses;
    char m[16];
    size_t i;

    for (i = 0; method[i] != '\0' && i + 1 < sizeof m; i++)
        m[i] = (char)tolower((unsigned char)method[i]);
    m[i] = '\0';
    if (strcmp(m, "head") == 0)
        memcpy(m, "get", 4);
    if (item != NULL && method[i] == '\0' && is_http_method(m))
        op = deref(json_object_get(item, m));
    if (op != NULL)
        responses = json_object_get(op, "responses");
    else if (item != NULL)
        responses = json_object_get(unmatched, "unknownMethod");
    else
        responses = json_object_get(unmatched, "unknownPath");
    if (responses == NULL)
        fail(why, why_len, "%s %s is not in openapi.yaml", method, path);
    return deref(responses);
}

bool openapi_check_response(const char *method, const char *path, int status,
                            const char *content_type, const char *body, size_t body_len, char *why,
                            size_t why_len)
{
    bool head = strcasecmp(method, "HEAD") == 0;
    json_t *responses, *resp, *content, *media = NULL, *schema, *doc;
    const char *key;
    char code[16], mt[OC_MEDIA_MAX], declared[OC_MEDIA_MAX];
    json_error_t jerr;
    bool ok;

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    pthread_once(&oc_once, oc_load);
    if (oc_spec == NULL)
        return fail(why, why_len, "cannot load the OpenAPI JSON: %s", oc_load_error);
    if ((responses = find_responses(method, path, why, why_len)) == NULL)
        return false;

    snprintf(code, sizeof code, "%d", status);
    resp = json_object_get(responses, code);
    if (resp == NULL && status >= 100 && status <= 599) {
        snprintf(code, sizeof code, "%dXX", status / 100);
        resp = json_object_get(responses, code);
    }
    if (resp == NULL)
        resp = json_object_get(responses, "default");
    if ((resp = deref(resp)) == NULL)
        return fail(why, why_len, "status %d is not declared for %s %s", status, method, path);

    content = json_object_get(resp, "content");
    if (json_object_size(content) == 0) {
        if (body_len != 0)
            return fail(why, why_len, "status %d declares no body, got %zu bytes", status,
                        body_len);
        return true;
    }
    if (content_type == NULL)
        return head && body_len == 0 ? true : fail(why, why_len, "no Content-Type");
    if (!media_type(content_type, mt))
        return fail(why, why_len, "Content-Type too long");
    json_object_foreach(content, key, schema)
    {
        if (media_type(key, declared) && strcmp(declared, mt) == 0)
            media = schema;
    }
    if (media == NULL)
        return fail(why, why_len, "Content-Type %s is not declared for status %d", mt, status);
    if (head)
        return body_len == 0 ? true : fail(why, why_len, "HEAD response with a body");
    if (!is_json_media(mt) || (schema = json_object_get(media, "schema")) == NULL)
        return true;

    doc = json_loadb(body != NULL ? body : "", body_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                     &jerr);
    if (doc == NULL)
        return fail(why, why_len, "body is not JSON: %s at byte %d", jerr.text, jerr.position);
    ok = validate(schema, doc, "", 0, why, why_len);
    json_decref(doc);
    return ok;
}
