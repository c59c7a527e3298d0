/* test_format.c -- the format list (api/format.h): every row has a label,
 * a decoder and a media type; Content-Type picks a format, case-insensitive
 * and with parameters ignored, and anything else is 415 with a detail that
 * names every accepted type. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/format.h"

Test(format, content_types_accepted)
{
    static const struct {
        const char *ct;
        enum api_format fmt;
    } ok[] = {
        {NULL, API_FORMAT_JSON},
        {"application/json", API_FORMAT_JSON},
        {"APPLICATION/JSON", API_FORMAT_JSON},
        {"Application/Json; charset=utf-8", API_FORMAT_JSON},
        {"  application/json ;charset=UTF-8 ", API_FORMAT_JSON},
        {"\tapplication/json\t", API_FORMAT_JSON},
        {"application/octet-stream", API_FORMAT_RAW},
        {"Application/Octet-Stream", API_FORMAT_RAW},
        {"application/octet-stream; foo=bar; baz=1", API_FORMAT_RAW},
        {"application/x-npy", API_FORMAT_NPY},
        {"APPLICATION/X-NPY;", API_FORMAT_NPY},
        {"application/x-safetensors", API_FORMAT_SAFETENSORS},
        {"APPLICATION/X-SAFETENSORS; a=b", API_FORMAT_SAFETENSORS},
        {"application/x-npz", API_FORMAT_NPZ},
        {"Application/Zip; x=1", API_FORMAT_NPZ},
    };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        enum api_format fmt = (enum api_format)99;
        struct api_error err;

        api_error_init(&err);
        cr_assert_eq(api_content_type_parse(ok[i].ct, &fmt, &err), API_OK, "'%s'",
                     ok[i].ct ? ok[i].ct : "(null)");
        cr_assert_eq(fmt, ok[i].fmt, "'%s'", ok[i].ct ? ok[i].ct : "(null)");
        cr_assert_eq(err.status, API_OK);
    }
}

Test(format, content_types_refused_with_415_detail)
{
    static const char *const bad[] = {
        "",
        "   ",
        "; charset=utf-8",
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/jsonx",
        "application/json-seq",
        "application",
        "application/ json",
        "application/octet-stream2",
        "multipart/form-data; boundary=x",
        "text/json",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum api_format fmt = (enum api_format)99;
        struct api_error err;

        api_error_init(&err);
        cr_assert_eq(api_content_type_parse(bad[i], &fmt, &err), API_UNSUPPORTED_MEDIA_TYPE, "'%s'",
                     bad[i]);
        cr_assert_eq(err.status, API_UNSUPPORTED_MEDIA_TYPE);
        cr_assert_eq(api_status_http(err.status), 415);
        cr_assert_eq(fmt, (enum api_format)99, "out is left alone");
        cr_assert_not_null(strstr(err.detail, "application/json"), "%s", err.detail);
        cr_assert_not_null(strstr(err.detail, "application/octet-stream"), "%s", err.detail);
        cr_assert_not_null(strstr(err.detail, "application/x-npy"), "%s", err.detail);
        cr_assert_not_null(strstr(err.detail, "application/x-safetensors"), "%s", err.detail);
        cr_assert_not_null(strstr(err.detail, "application/x-npz"), "%s", err.detail);
    }

    struct api_error err;
    enum api_format fmt;
    api_error_init(&err);
    api_content_type_parse("application/x-www-form-urlencoded", &fmt, &err);
    cr_assert_str_eq(err.detail,
                     "unsupported Content-Type 'application/x-www-form-urlencoded': send one of "
                     "application/json, application/octet-stream, application/x-npy, "
                     "application/x-safetensors, application/x-npz");

    /* Non-ASCII is not echoed raw, and a long value is cut. */
    char long_ct[300];
    memset(long_ct, 'a', sizeof long_ct - 1);
    long_ct[sizeof long_ct - 1] = '\0';
    long_ct[3] = '\xc3';
    api_error_init(&err);
    cr_assert_eq(api_content_type_parse(long_ct, &fmt, &err), API_UNSUPPORTED_MEDIA_TYPE);
    cr_assert_not_null(strstr(err.detail, "'aaa?aaaa"));
    cr_assert_not_null(strstr(err.detail, "aaa...'"));
    cr_assert_lt(strlen(err.detail), 300);
    for (const char *p = err.detail; *p != '\0'; p++)
        cr_assert(*p >= 0x20 && *p < 0x7f);

    /* NULL err is allowed. */
    cr_assert_eq(api_content_type_parse("text/plain", &fmt, NULL), API_UNSUPPORTED_MEDIA_TYPE);
}

/* Every format in the list has a label and a decoder; the formats chosen
 * by Content-Type come first, the routed ones (the infer body) after. */
Test(format, format_list)
{
    static const char *const labels[] = {"json", "raw",   "npy",  "safetensors",
                                         "npz",  "infer", "merge"};

    cr_assert_eq(API_FORMAT_COUNT, sizeof labels / sizeof labels[0]);
    cr_assert_eq(API_FORMAT_TYPED_COUNT, 5);
    cr_assert_eq(API_FORMAT_INFER, API_FORMAT_TYPED_COUNT);
    for (int f = 0; f < API_FORMAT_COUNT; f++) {
        const struct api_decoder_ops *ops = api_format_ops((enum api_format)f);

        cr_assert_str_eq(api_format_label((enum api_format)f), labels[f]);
        cr_assert(ops->create && ops->feed && ops->finish && ops->destroy);
    }
    cr_assert_str_eq(api_format_label(API_FORMAT_COUNT), "unknown");
}

/* No Content-Type picks the routed infer format, not even its label. */
Test(format, routed_format_not_by_content_type)
{
    static const char *const cts[] = {"infer", "application/infer", "application/x-infer"};
    for (size_t i = 0; i < sizeof cts / sizeof cts[0]; i++) {
        enum api_format fmt = (enum api_format)99;
        cr_assert_eq(api_content_type_parse(cts[i], &fmt, NULL), API_UNSUPPORTED_MEDIA_TYPE);
        cr_assert_eq(fmt, (enum api_format)99);
    }
}
