/* format.c -- the body formats: their table, generated from API_FORMAT_LIST,
 * and the Content-Type that picks one. */
#include "format.h"

#include <string.h>
#include <strings.h>

#include "text.h"

#define CT_ECHO_MAX 64 /* bytes of an unsupported media type quoted back */

static const struct {
    const char *label;
    const struct api_decoder_ops *ops;
    const char *type;
    const char *alias;
} formats[API_FORMAT_COUNT] = {
#define API_FORMAT_ROW(name, label, ops, type, alias) [name] = {label, &ops, type, alias},
    API_FORMAT_LIST(API_FORMAT_ROW)
#undef API_FORMAT_ROW
#define API_FORMAT_ROUTED_ROW(name, label, ops) [name] = {label, &ops, NULL, NULL},
        API_FORMAT_ROUTED_LIST(API_FORMAT_ROUTED_ROW)
#undef API_FORMAT_ROUTED_ROW
};

/* "application/json, application/octet-stream, ..., ": the 415 detail
 * prints it without its last two bytes. */
#define API_FORMAT_NAMES(name, label, ops, type, alias) type ", "
static const char accepted_types[] = API_FORMAT_LIST(API_FORMAT_NAMES);
#undef API_FORMAT_NAMES

const char *api_format_label(enum api_format fmt)
{
    return (unsigned)fmt < API_FORMAT_COUNT ? formats[fmt].label : "unknown";
}

const struct api_decoder_ops *api_format_ops(enum api_format fmt)
{
    return formats[fmt].ops;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool type_is(const char *name, const char *s, size_t len)
{
    return name != NULL && strlen(name) == len && strncasecmp(s, name, len) == 0;
}

enum api_status api_content_type_parse(const char *content_type, enum api_format *out,
                                       struct api_error *err)
{
    const char *start;
    const char *end;
    size_t len;
    size_t i;
    char shown[CT_ECHO_MAX + 4];

    if (content_type == NULL) {
        *out = API_FORMAT_JSON;
        return API_OK;
    }
    start = content_type;
    while (is_space(*start))
        start++;
    end = start;
    while (*end != '\0' && *end != ';')
        end++;
    while (end > start && is_space(end[-1]))
        end--;
    len = (size_t)(end - start);
    for (i = 0; i < API_FORMAT_TYPED_COUNT; i++) {
        if (type_is(formats[i].type, start, len) || type_is(formats[i].alias, start, len)) {
            *out = (enum api_format)i;
            return API_OK;
        }
    }
    api_text_echo(shown, sizeof shown, start, len, CT_ECHO_MAX, API_TEXT_ECHO_MASK);
    /* the list ends in ", ": print all but those two bytes */
    return api_error_set(err, API_UNSUPPORTED_MEDIA_TYPE,
                         "unsupported Content-Type '%s': send one of %.*s", shown,
                         (int)(sizeof accepted_types - 3), accepted_types);
}
