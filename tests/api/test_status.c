/* test_status.c -- the status table against the API's error table (the
 * first-error-wins rule of api_error is in test_error.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "api/status.h"

/* The API contract's error table, written out independently of status.h:
 * HTTP status, code, title (the RFC 9110 reason phrase). */
static const struct {
    enum api_status st;
    int http;
    const char *code;
    const char *title;
} contract[] = {
    {API_OK, 200, "ok", "OK"},
    {API_INVALID_JSON, 400, "invalid_json", "Bad Request"},
    {API_INVALID_TENSOR, 400, "invalid_tensor", "Bad Request"},
    {API_NUMBER_OUT_OF_RANGE, 400, "number_out_of_range", "Bad Request"},
    {API_NON_FINITE, 400, "non_finite", "Bad Request"},
    {API_INVALID_LENGTH, 400, "invalid_length", "Bad Request"},
    {API_INVALID_NPY, 400, "invalid_npy", "Bad Request"},
    {API_INVALID_SAFETENSORS, 400, "invalid_safetensors", "Bad Request"},
    {API_INVALID_NPZ, 400, "invalid_npz", "Bad Request"},
    {API_FORMAT_MISMATCH, 400, "format_mismatch", "Bad Request"},
    {API_INVALID_ENCODING, 400, "invalid_encoding", "Bad Request"},
    {API_INVALID_DTYPE, 400, "invalid_dtype", "Bad Request"},
    {API_INVALID_SCALE, 400, "invalid_scale", "Bad Request"},
    {API_INVALID_PARAMETER, 400, "invalid_parameter", "Bad Request"},
    {API_INVALID_PARTIAL, 400, "invalid_partial", "Bad Request"},
    {API_RESULT_OUT_OF_RANGE, 400, "result_out_of_range", "Bad Request"},
    {API_UNAUTHORIZED, 401, "unauthorized", "Unauthorized"},
    {API_NOT_FOUND, 404, "not_found", "Not Found"},
    {API_METHOD_NOT_ALLOWED, 405, "method_not_allowed", "Method Not Allowed"},
    {API_PAYLOAD_TOO_LARGE, 413, "payload_too_large", "Content Too Large"},
    {API_UNSUPPORTED_MEDIA_TYPE, 415, "unsupported_media_type", "Unsupported Media Type"},
    {API_UNSUPPORTED_ENCODING, 415, "unsupported_encoding", "Unsupported Media Type"},
    {API_INTERNAL_ERROR, 500, "internal_error", "Internal Server Error"},
    {API_DRAINING, 503, "draining", "Service Unavailable"},
};

Test(status, every_row_matches_the_contract)
{
    size_t n = sizeof contract / sizeof contract[0];

    cr_assert_eq(n, API_STATUS_COUNT, "the contract table and status.h differ in size");
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(api_status_http(contract[i].st), contract[i].http, "%s", contract[i].code);
        cr_assert_str_eq(api_status_code(contract[i].st), contract[i].code);
        cr_assert_str_eq(api_status_title(contract[i].st), contract[i].title, "%s",
                         contract[i].code);
    }
}

Test(status, codes_are_unique)
{
    for (int i = 0; i < API_STATUS_COUNT; i++)
        for (int j = i + 1; j < API_STATUS_COUNT; j++)
            cr_assert_str_neq(api_status_code((enum api_status)i),
                              api_status_code((enum api_status)j));
}

Test(status, out_of_range_maps_to_internal_error)
{
    cr_assert_eq(api_status_http((enum api_status)API_STATUS_COUNT), 500);
    cr_assert_str_eq(api_status_code((enum api_status)(API_STATUS_COUNT + 7)), "internal_error");
    cr_assert_str_eq(api_status_title((enum api_status) - 1), "Internal Server Error");
}
