/* status.h -- the project-wide status enum, one X-macro list.
 *
 * Each row gives the enum name, the HTTP status, the stable `code` string of
 * the problem+json body and its title. Everything that maps a status onto the
 * wire (server responses, openapi.yaml's code enum, tests) derives from it. */
#ifndef API_STATUS_H
#define API_STATUS_H

#define API_STATUS_LIST(X)                                                                         \
    X(API_OK, 200, "ok", "OK")                                                                     \
    X(API_INVALID_JSON, 400, "invalid_json", "Bad Request")                                        \
    X(API_INVALID_TENSOR, 400, "invalid_tensor", "Bad Request")                                    \
    X(API_NUMBER_OUT_OF_RANGE, 400, "number_out_of_range", "Bad Request")                          \
    X(API_NON_FINITE, 400, "non_finite", "Bad Request")                                            \
    X(API_INVALID_LENGTH, 400, "invalid_length", "Bad Request")                                    \
    X(API_INVALID_NPY, 400, "invalid_npy", "Bad Request")                                          \
    X(API_INVALID_SAFETENSORS, 400, "invalid_safetensors", "Bad Request")                          \
    X(API_INVALID_NPZ, 400, "invalid_npz", "Bad Request")                                          \
    X(API_FORMAT_MISMATCH, 400, "format_mismatch", "Bad Request")                                  \
    X(API_INVALID_ENCODING, 400, "invalid_encoding", "Bad Request")                                \
    X(API_INVALID_DTYPE, 400, "invalid_dtype", "Bad Request")                                      \
    X(API_INVALID_SCALE, 400, "invalid_scale", "Bad Request")                                      \
    X(API_INVALID_PARAMETER, 400, "invalid_parameter", "Bad Request")                              \
    X(API_INVALID_PARTIAL, 400, "invalid_partial", "Bad Request")                                  \
    X(API_RESULT_OUT_OF_RANGE, 400, "result_out_of_range", "Bad Request")                          \
    X(API_UNAUTHORIZED, 401, "unauthorized", "Unauthorized")                                       \
    X(API_NOT_FOUND, 404, "not_found", "Not Found")                                                \
    X(API_METHOD_NOT_ALLOWED, 405, "method_not_allowed", "Method Not Allowed")                     \
    X(API_PAYLOAD_TOO_LARGE, 413, "payload_too_large", "Content Too Large")                        \
    X(API_UNSUPPORTED_MEDIA_TYPE, 415, "unsupported_media_type", "Unsupported Media Type")         \
    X(API_UNSUPPORTED_ENCODING, 415, "unsupported_encoding", "Unsupported Media Type")             \
    X(API_INTERNAL_ERROR, 500, "internal_error", "Internal Server Error")                          \
    X(API_DRAINING, 503, "draining", "Service Unavailable")

enum api_status {
#define API_STATUS_ENUM(name, http, code, title) name,
    API_STATUS_LIST(API_STATUS_ENUM)
#undef API_STATUS_ENUM
        API_STATUS_COUNT
};

/* The HTTP status of st (200 for API_OK). */
int api_status_http(enum api_status st);

/* The problem+json `code` string of st ("ok" for API_OK). Static storage. */
const char *api_status_code(enum api_status st);

/* The problem+json `title` of st. Static storage. */
const char *api_status_title(enum api_status st);

#endif
