/* request.c -- one HTTP request's lifecycle on libmicrohttpd.
 *
 * State is born in the URI log callback (MHD calls it once per request,
 * before the access handler, with the raw request target), refused or
 * admitted on the handler's first call, fed upload chunks straight into the
 * api/ body (never buffered; it inflates a Content-Encoding and owns the
 * decoded offset and the first error), answered when the body ends, and
 * freed only in the completed callback. An error found mid-body stops the decoder and
 * discards the rest: libmicrohttpd 0.9.75 cannot queue an answer before the
 * whole body is received, so the error is answered at its end. */
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "../api/body.h"
#include "../api/error.h"
#include "../api/infer.h"
#include "../api/infer_response.h"
#include "../api/query.h"
#include "../api/response.h"
#include "../api/status.h"
#include "../api/text.h"
#include "log.h"
#include "openapi_blob.h"
#include "page.h"
#include "routes.h"
#include "trace.h"
#include "version.h"

#define REQUEST_ID_MAX 128
#define REQUEST_METHOD_MAX 16
#define REQUEST_GENERATED_ID_BYTES 16
#define REQUEST_ECHO_MAX 64 /* bytes of a refused header value quoted back */
#define REQUEST_HEADER_LENGTH "Inference-Header-Content-Length"
/* Seconds a client is told to wait after any 503 (a replica shutting down:
 * by then a load balancer sends the retry to another one). */
#define REQUEST_RETRY_AFTER "1"

#define REQUEST_JSON "application/json"
#define REQUEST_PROBLEM "application/problem+json"
#define REQUEST_YAML "application/yaml"
#define REQUEST_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define REQUEST_BINARY "application/octet-stream"

struct request {
    struct request_shared *shared;
    uint64_t start_ns;
    enum route_id route;
    bool v2;                    /* a /v2 path: errors as {"error": ...} (routes.h) */
    enum api_infer_model model; /* of a /v2/models/{model} route */
    bool started;               /* the access handler has run once */
    bool admitted;              /* counted in shared->in_flight */
    bool discarding;            /* err is set: drop the rest of the body */
    unsigned http_status;       /* of the queued response; 0 before one is queued */
    uint64_t received;          /* body bytes received on the wire (the body counts decoded ones) */
    struct api_body *body;
    struct api_query query;
    struct api_error err;
    struct api_infer_request infer; /* ROUTE_V2_INFER: what the body asks (infer.h) */
    char request_id[REQUEST_ID_MAX + 1];
    char trace_id[TRACE_ID_LEN + 1]; /* of a valid traceparent, else "" */
    char method[REQUEST_METHOD_MAX];
    size_t path_len; /* uri[0..path_len) is the raw path, NUL-terminated */
    size_t uri_len;
    char uri[]; /* the raw request target; its '?' is replaced by NUL */
};

static const char body_healthz[] = "{\"status\":\"ok\",\"version\":\"" L2D_VERSION "\"}";
static const char body_readyz[] = "{\"status\":\"ready\"}";
static const char body_v2_live[] = "{\"live\": true}";
static const char body_v2_ready[] = "{\"ready\": true}";
static const char body_v2_not_ready[] = "{\"ready\": false}";
/* What api_problem_encode gives for API_INTERNAL_ERROR "out of memory",
 * fixed so that it needs no allocation. */
static const char body_out_of_memory[] =
    "{\"type\": \"about:blank\", \"title\": \"Internal Server Error\", \"status\": 500, "
    "\"detail\": \"out of memory\", \"code\": \"internal_error\"}";
/* The same for a /v2 path (api_infer_error_encode's form). */
static const char body_v2_out_of_memory[] = "{\"error\": \"out of memory\"}";

/* A per-thread xorshift64* generator for request ids, seeded from
 * getrandom(2) on first use; never shared, so it needs no lock. */
static _Thread_local uint64_t id_rng_state;

static uint64_t id_rng_next(void)
{
    uint64_t x = id_rng_state;

    if (x == 0) {
        struct timespec ts;
        if (getrandom(&x, sizeof(x), 0) != (ssize_t)sizeof(x)) {
            clock_gettime(CLOCK_REALTIME, &ts);
            x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)&ts;
        }
        x |= 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    id_rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void request_shared_init(struct request_shared *shared, const struct config *cfg,
                         struct metrics *metrics, const struct auth *auth)
{
    shared->cfg = cfg;
    shared->metrics = metrics;
    shared->auth = auth;
    shared->tracked = metrics->tracked;
    atomic_init(&shared->draining, false);
    atomic_init(&shared->in_flight, 0);
    drain_init(&shared->drain);
}

/* The origin form of a request target: an absolute-form target
 * (`http://authority/path?query`, scheme http or https in any case) without
 * its scheme and authority, which RFC 9112 section 3.2.2 says a server MUST
 * accept; any other target as it is. */
static const char *origin_form(const char *target)
{
    size_t skip;

    if (strncasecmp(target, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(target, "https://", 8) == 0)
        skip = 8;
    else
        return target;
    target += skip;
    return target + strcspn(target, "/?");
}

/* Right after the URI log callback, libmicrohttpd 0.9.75 splits the query
 * at each '&' into argument records allocated from the connection's pool;
 * with thousands of parameters the pool runs out and it closes the
 * connection without an answer. l2d never reads those records (it parses
 * the raw query it copies here, api_query_parse), so the '&'s of the query
 * in libmicrohttpd's own buffer (writable: its read buffer; the callback's
 * const is the API's, not the memory's) become '_' and it keeps one record.
 * The copy is taken first, so the answer sees the query as sent.
 *
 * That the buffer is writable, that the callback sees the raw target and
 * that the split comes after it are libmicrohttpd internals, checked in
 * 0.9.75 (Debian 12) only: on any other version the build stops until
 * they are checked again (connection.c, the request line's parsing) and the
 * version is added below. */
#if !defined(MHD_VERSION) || MHD_VERSION != 0x00097500
#error "blank_query_separators writes into MHD's read buffer: verified on MHD 0.9.75 only"
#endif
static void blank_query_separators(const char *uri)
{
    char *q = strchr(uri, '?');

    for (; q != NULL && *q != '\0'; q++)
        if (*q == '&')
            *q = '_';
}

void *request_uri_log(void *cls, const char *uri, struct MHD_Connection *connection)
{
    size_t len, size;
    struct request *req;

    /* Connections handed to the daemon exist only once the listener closed. */
    if (atomic_load(&((struct request_shared *)cls)->drain.listener_closed)) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (ci != NULL)
            drain_request_started(&((struct request_shared *)cls)->drain, ci->socket_context);
    }
    uri = origin_form(uri);
    len = strlen(uri);
    if (__builtin_add_overflow(sizeof(*req), len + 1, &size))
        return NULL;
    req = malloc(size);
    if (req == NULL)
        return NULL;
    memset(req, 0, sizeof(*req));
    req->shared = cls;
    req->start_ns = now_ns();
    req->route = ROUTE_OTHER;
    api_error_init(&req->err);
    memcpy(req->uri, uri, len + 1);
    req->uri_len = len;
    req->path_len = strcspn(req->uri, "?");
    req->uri[req->path_len] = '\0';
    memcpy(req->method, "-", 2);
    memcpy(req->request_id, "-", 2);
    blank_query_separators(uri);
    return req;
}

/* The client's X-Request-Id when it is 1..128 printable ASCII bytes, else a
 * fresh one of 32 hex digits. */
static void set_request_id(struct request *req, struct MHD_Connection *con)
{
    static const char hex[] = "0123456789abcdef";
    const char *id = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "X-Request-Id");

    if (id != NULL) {
        size_t len = 0;
        while (len <= REQUEST_ID_MAX && id[len] >= 0x20 && id[len] < 0x7f)
            len++;
        if (len > 0 && len <= REQUEST_ID_MAX && id[len] == '\0') {
            memcpy(req->request_id, id, len + 1);
            return;
        }
    }
    for (size_t i = 0; i < REQUEST_GENERATED_ID_BYTES; i += 8) {
        uint64_t r = id_rng_next();
        for (size_t j = 0; j < 8; j++, r >>= 8) {
            req->request_id[2 * (i + j)] = hex[(r >> 4) & 15];
            req->request_id[2 * (i + j) + 1] = hex[r & 15];
        }
    }
    req->request_id[2 * REQUEST_GENERATED_ID_BYTES] = '\0';
}

/* Counts the traceparent fields of a request (cls: a size_t). */
static enum MHD_Result count_traceparent(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
    (void)kind;
    (void)value;
    if (strcasecmp(key, "traceparent") == 0)
        (*(size_t *)cls)++;
    return MHD_YES;
}

/* The trace id of the request's traceparent field when there is exactly
 * one and it is valid (trace.h); otherwise none, as W3C Trace Context asks
 * of a field it cannot parse. */
static void set_trace_id(struct request *req, struct MHD_Connection *con)
{
    size_t fields = 0;
    const char *value = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "traceparent");

    if (value == NULL)
        return;
    MHD_get_connection_values(con, MHD_HEADER_KIND, count_traceparent, &fields);
    if (fields == 1)
        trace_parse_traceparent(value, req->trace_id);
}

/* True when the request announces body bytes that have not been read yet. */
static bool has_body(struct MHD_Connection *con)
{
    const char *cl =
        MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te =
        MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);

    if (te != NULL)
        return true;
    return cl != NULL && strspn(cl, "0") != strlen(cl);
}

/* One response to queue. */
struct answer {
    unsigned status;
    const char *content_type;
    const char *body;
    size_t len;
    bool must_free;     /* body is malloc'd: queue() frees it, whatever happens */
    const char *hname;  /* one extra header (Allow, WWW-Authenticate), or NULL */
    const char *hvalue; /* its value */
    bool close;         /* adds `Connection: close` (unread body bytes) */
    bool page;          /* the page's headers (page.h): its policy */
};

/* Queues a's response on con. req is NULL only when there is no request
 * state (out of memory before it existed): then no X-Request-Id and the
 * connection closes. Records the status in req when queued. */
static enum MHD_Result queue(struct request *req, struct MHD_Connection *con,
                             const struct answer *a)
{
    struct MHD_Response *resp;
    enum MHD_Result result = MHD_NO;

    resp = MHD_create_response_from_buffer(
        a->len, (void *)a->body, a->must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        if (a->must_free)
            free((void *)a->body);
        goto out;
    }
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type) != MHD_YES)
        goto out_destroy;
    if (req != NULL && MHD_add_response_header(resp, "X-Request-Id", req->request_id) != MHD_YES)
        goto out_destroy;
    if (a->hname != NULL && MHD_add_response_header(resp, a->hname, a->hvalue) != MHD_YES)
        goto out_destroy;
    if (a->page && !page_add_headers(resp))
        goto out_destroy;
    if (a->status == MHD_HTTP_SERVICE_UNAVAILABLE &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, REQUEST_RETRY_AFTER) != MHD_YES)
        goto out_destroy;
    /* From SIGTERM on, every answer closes its connection, so that clients
     * and load balancers move to other replicas before the listener goes. */
    if (a->close || req == NULL || atomic_load(&req->shared->draining)) {
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)
            goto out_destroy;
    }
    result = MHD_queue_response(con, a->status, resp);
    if (result == MHD_YES && req != NULL)
        req->http_status = a->status;
out_destroy:
    MHD_destroy_response(resp);
out:
    return result;
}

/* The one answer when memory runs out anywhere: a fixed 500
 * internal_error that needs no allocation, in the /v2 form on a /v2 path.
 * req may be NULL (see queue()). */
static enum MHD_Result queue_out_of_memory(struct request *req, struct MHD_Connection *con,
                                           bool close)
{
    struct answer a = {.status = MHD_HTTP_INTERNAL_SERVER_ERROR,
                       .content_type = REQUEST_PROBLEM,
                       .body = body_out_of_memory,
                       .len = sizeof(body_out_of_memory) - 1,
                       .close = close};

    if (req != NULL)
        metrics_problem(req->shared->metrics, req->route, API_INTERNAL_ERROR);
    if (req != NULL && req->v2) {
        a.content_type = REQUEST_JSON;
        a.body = body_v2_out_of_memory;
        a.len = sizeof(body_v2_out_of_memory) - 1;
    }
    return queue(req, con, &a);
}

/* Answers err as problem+json, or on a /v2 path as the protocol's
 * {"error": ...} (application/json), with the same status and headers. */
static enum MHD_Result queue_problem(struct request *req, struct MHD_Connection *con,
                                     const struct api_error *err, bool close)
{
    struct answer a = {.status = (unsigned)api_status_http(err->status),
                       .content_type = req->v2 ? REQUEST_JSON : REQUEST_PROBLEM,
                       .must_free = true,
                       .close = close};

    metrics_problem(req->shared->metrics, req->route, err->status);
    a.body = req->v2 ? api_infer_error_encode(err, &a.len) : api_problem_encode(err, &a.len);
    if (a.body == NULL)
        return queue_out_of_memory(req, con, close);
    if (err->status == API_METHOD_NOT_ALLOWED) {
        a.hname = MHD_HTTP_HEADER_ALLOW;
        a.hvalue = route_allow_header(req->route);
    } else if (err->status == API_UNAUTHORIZED) {
        a.hname = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
        a.hvalue = "Bearer";
    }
    return queue(req, con, &a);
}

static enum MHD_Result serve_get(struct request *req, struct MHD_Connection *con, bool close)
{
    struct answer a = {.status = MHD_HTTP_OK, .close = close};
    struct metrics_process proc;

    switch (req->route) {
    case ROUTE_HEALTHZ:
        a.content_type = REQUEST_JSON;
        a.body = body_healthz;
        a.len = sizeof(body_healthz) - 1;
        break;
    case ROUTE_READYZ:
        a.content_type = REQUEST_JSON;
        a.body = body_readyz;
        a.len = sizeof(body_readyz) - 1;
        break;
    case ROUTE_METRICS:
        a.content_type = REQUEST_METRICS;
        a.body = metrics_render(req->shared->metrics, metrics_process_read(&proc) ? &proc : NULL,
                                &a.len);
        a.must_free = true;
        break;
    case ROUTE_TRACKED:
        a.content_type = REQUEST_JSON;
        a.body = tracked_render_json(req->shared->tracked, &a.len);
        a.must_free = true;
        break;
    case ROUTE_PAGE:
        a.content_type = PAGE_CONTENT_TYPE;
        a.body = page_html(&a.len);
        a.page = true;
        break;
    case ROUTE_OPENAPI:
        a.content_type = REQUEST_YAML;
        a.body = openapi_blob_start;
        a.len = (size_t)(openapi_blob_end - openapi_blob_start);
        break;
    case ROUTE_OPENAPI_JSON:
        a.content_type = REQUEST_JSON;
        a.body = openapi_json_start;
        a.len = (size_t)(openapi_json_end - openapi_json_start);
        break;
    case ROUTE_V2_SERVER:
        a.content_type = REQUEST_JSON;
        a.body = api_infer_server_metadata(L2D_VERSION, &a.len);
        a.must_free = true;
        break;
    case ROUTE_V2_LIVE:
        a.content_type = REQUEST_JSON;
        a.body = body_v2_live;
        a.len = sizeof(body_v2_live) - 1;
        break;
    case ROUTE_V2_READY:
    case ROUTE_V2_MODEL_READY:
        a.content_type = REQUEST_JSON;
        a.body = body_v2_ready;
        a.len = sizeof(body_v2_ready) - 1;
        if (atomic_load(&req->shared->draining)) {
            a.status = MHD_HTTP_SERVICE_UNAVAILABLE;
            a.body = body_v2_not_ready;
            a.len = sizeof(body_v2_not_ready) - 1;
        }
        break;
    case ROUTE_V2_MODEL:
        a.content_type = REQUEST_JSON;
        a.body = api_infer_model_metadata(req->model, &a.len);
        a.must_free = true;
        break;
    default:
        break;
    }
    if (a.body == NULL)
        return queue_out_of_memory(req, con, close);
    return queue(req, con, &a);
}

/* Refuses the request with req->err. libmicrohttpd 0.9.75 closes the
 * connection after any response queued on the handler's first call, so
 * without unread body bytes the answer waits for the second call (keeping
 * the connection alive); with them it goes now, before 100-continue. */
static enum MHD_Result refuse(struct request *req, struct MHD_Connection *con, bool body_unread)
{
    if (body_unread)
        return queue_problem(req, con, &req->err, true);
    req->discarding = true;
    return MHD_YES;
}

struct encoding_scan {
    enum api_encoding enc;
    struct api_error *err;
    bool ok;
};

static enum MHD_Result encoding_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct encoding_scan *scan = cls;

    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_ENCODING) != 0)
        return MHD_YES;
    scan->ok = api_encoding_parse(value, &scan->enc, scan->err) == API_OK;
    return scan->ok ? MHD_YES : MHD_NO;
}

/* The coding of every Content-Encoding field of the request together
 * (a field may be repeated; RFC 9110 5.3). False, with err set, for a
 * coding l2d does not decode. */
static bool content_encoding(struct MHD_Connection *con, enum api_encoding *enc,
                             struct api_error *err)
{
    struct encoding_scan scan = {API_ENCODING_IDENTITY, err, true};

    MHD_get_connection_values(con, MHD_HEADER_KIND, encoding_field, &scan);
    *enc = scan.enc;
    return scan.ok;
}

/* False, with err set to payload_too_large, when the request's
 * Content-Length is past --max-body-bytes: refused before a byte is read. */
static bool length_fits(struct request *req, struct MHD_Connection *con)
{
    uint64_t limit = req->shared->cfg->max_body_bytes;
    const char *length =
        MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end = NULL;
    unsigned long long n;

    if (length == NULL)
        return true;
    n = strtoull(length, &end, 10);
    if (end != length && *end == '\0' && n > limit) {
        api_error_set(&req->err, API_PAYLOAD_TOO_LARGE,
                      "the body of %llu bytes exceeds the limit of %llu bytes", n,
                      (unsigned long long)limit);
        return false;
    }
    return true;
}

/* The format of a /merge body: JSON (or no Content-Type), whatever the
 * Content-Type's parameters; false, with err set to unsupported_media_type,
 * for any other. */
static bool merge_content_type(struct request *req, const char *ct, enum api_format *format)
{
    char shown[API_TEXT_ECHO_SIZE(REQUEST_ECHO_MAX)];
    enum api_format typed;

    if (api_content_type_parse(ct, &typed, NULL) == API_OK && typed == API_FORMAT_JSON) {
        *format = API_FORMAT_MERGE;
        return true;
    }
    api_text_echo(shown, sizeof shown, ct, strlen(ct), REQUEST_ECHO_MAX, API_TEXT_ECHO_MASK);
    api_error_set(&req->err, API_UNSUPPORTED_MEDIA_TYPE,
                  "unsupported Content-Type '%s': send a /merge body as " REQUEST_JSON, shown);
    return false;
}

/* Validates a compute request (or a /merge) before its body: query,
 * Content-Type, size, then the decoder's own checks as it is created.
 * Refusals go through refuse(). */
static enum MHD_Result start_upload(struct request *req, struct MHD_Connection *con,
                                    bool body_unread)
{
    const struct config *cfg = req->shared->cfg;
    enum api_endpoint endpoint = req->route == ROUTE_REGULARIZE ? API_ENDPOINT_REGULARIZE
                                 : req->route == ROUTE_MERGE    ? API_ENDPOINT_MERGE
                                                                : API_ENDPOINT_L2_LOSS;
    const char *query = NULL;
    size_t query_len = 0;
    const char *content_type;
    enum api_format format;
    enum api_encoding encoding;
    struct api_decode_opts opts;

    if (req->path_len < req->uri_len) {
        query = req->uri + req->path_len + 1;
        query_len = req->uri_len - req->path_len - 1;
    }
    if (api_query_parse(endpoint, query, query_len, &req->query, &req->err) != API_OK)
        return refuse(req, con, body_unread);

    content_type = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (endpoint == API_ENDPOINT_MERGE
            ? !merge_content_type(req, content_type, &format)
            : api_content_type_parse(content_type, &format, &req->err) != API_OK)
        return refuse(req, con, body_unread);
    if (!content_encoding(con, &encoding, &req->err))
        return refuse(req, con, body_unread);

    /* 413 before the body's own checks (API.md: ... 415 -> 413 -> body):
     * api_body_new refuses a dtype that does not fit the format. */
    if (!length_fits(req, con))
        return refuse(req, con, body_unread);

    memset(&opts, 0, sizeof opts);
    opts.dtype = req->query.dtype;
    opts.has_dtype = req->query.has_dtype;
    opts.count_nonfinite = req->query.count_nonfinite;
    if (api_body_new(format, &opts, encoding, cfg->max_body_bytes, &req->body, &req->err) != API_OK)
        return refuse(req, con, body_unread);
    api_body_want_partial(req->body, req->query.partial);
    return MHD_YES;
}

struct header_scan {
    const char *name;
    const char *value; /* the first field's */
    unsigned count;    /* fields named name */
};

static enum MHD_Result header_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct header_scan *scan = cls;

    (void)kind;
    if (strcasecmp(key, scan->name) == 0 && scan->count++ == 0)
        scan->value = value;
    return MHD_YES;
}

/* Reads Inference-Header-Content-Length: absent (*has = false), or one
 * field of decimal digits that fits in 64 bits. Anything else -- a sign,
 * a space, another base, an empty or repeated field -- is invalid_parameter
 * (false, err set). */
static bool header_length(struct request *req, struct MHD_Connection *con, bool *has, uint64_t *len)
{
    struct header_scan scan = {REQUEST_HEADER_LENGTH, NULL, 0};
    char shown[API_TEXT_ECHO_SIZE(REQUEST_ECHO_MAX)];
    const char *p;
    uint64_t n = 0;

    /* Most requests have none: one lookup says so; the fields are counted
     * only when there is one. */
    if (MHD_lookup_connection_value(con, MHD_HEADER_KIND, REQUEST_HEADER_LENGTH) != NULL)
        MHD_get_connection_values(con, MHD_HEADER_KIND, header_field, &scan);
    *has = scan.count != 0;
    *len = 0;
    if (scan.count == 0)
        return true;
    if (scan.count > 1) {
        api_error_set(&req->err, API_INVALID_PARAMETER,
                      REQUEST_HEADER_LENGTH " is sent %u times: send it once", scan.count);
        return false;
    }
    for (p = scan.value; *p >= '0' && *p <= '9'; p++) {
        if (__builtin_mul_overflow(n, 10u, &n) ||
            __builtin_add_overflow(n, (uint64_t)(*p - '0'), &n))
            break;
    }
    if (p == scan.value || *p != '\0') {
        api_text_echo(shown, sizeof shown, scan.value, strlen(scan.value), REQUEST_ECHO_MAX,
                      API_TEXT_ECHO_HEX);
        api_error_set(&req->err, API_INVALID_PARAMETER,
                      REQUEST_HEADER_LENGTH " '%s' is not a number of bytes (decimal digits, "
                                            "at most 18446744073709551615)",
                      shown);
        return false;
    }
    *len = n;
    return true;
}

/* An infer request's Content-Type: none, application/json or
 * application/octet-stream, parameters ignored; the body is read as the
 * protocol's whichever it is (clients send the same bytes under all three).
 * False, with err set to unsupported_media_type, for any other. */
static bool infer_content_type(struct request *req, struct MHD_Connection *con)
{
    const char *ct =
        MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    char shown[API_TEXT_ECHO_SIZE(REQUEST_ECHO_MAX)];
    enum api_format format;

    if (api_content_type_parse(ct, &format, NULL) == API_OK &&
        (format == API_FORMAT_JSON || format == API_FORMAT_RAW))
        return true;
    api_text_echo(shown, sizeof shown, ct, strlen(ct), REQUEST_ECHO_MAX, API_TEXT_ECHO_MASK);
    api_error_set(&req->err, API_UNSUPPORTED_MEDIA_TYPE,
                  "unsupported Content-Type '%s': send an infer request as " REQUEST_JSON
                  " or " REQUEST_BINARY " (or with no Content-Type)",
                  shown);
    return false;
}

/* Validates an infer request before its body, in the native endpoints'
 * order: its parameter (Inference-Header-Content-Length, 400), then
 * Content-Type (415), Content-Encoding (415), Content-Length (413); then
 * makes the body, whose decoder fills req->infer. Refusals go through
 * refuse(). The query string is ignored, as the protocol's clients expect. */
static enum MHD_Result start_infer(struct request *req, struct MHD_Connection *con,
                                   bool body_unread)
{
    struct api_decode_opts opts;
    enum api_encoding encoding;
    uint64_t hdr_len;
    bool has_hdr;

    if (!header_length(req, con, &has_hdr, &hdr_len) || !infer_content_type(req, con) ||
        !content_encoding(con, &encoding, &req->err) || !length_fits(req, con))
        return refuse(req, con, body_unread);
    api_infer_request_init(&req->infer, req->model, has_hdr, hdr_len);
    memset(&opts, 0, sizeof opts);
    opts.infer = &req->infer;
    if (api_body_new(API_FORMAT_INFER, &opts, encoding, req->shared->cfg->max_body_bytes,
                     &req->body, &req->err) != API_OK)
        return refuse(req, con, body_unread);
    return MHD_YES;
}

/* The handler's first call: headers are in, no body byte has been read. */
static enum MHD_Result start(struct request *req, struct MHD_Connection *con, const char *url,
                             const char *method)
{
    struct request_shared *shared = req->shared;
    size_t mlen = strlen(method);
    bool body_unread = has_body(con);
    struct route_match match;

    req->started = true;
    if (mlen >= sizeof(req->method))
        mlen = sizeof(req->method) - 1;
    memcpy(req->method, method, mlen);
    req->method[mlen] = '\0';
    set_request_id(req, con);
    set_trace_id(req, con);
    url = origin_form(url);
    route_lookup(url, &match);
    req->route = match.route;
    req->v2 = match.v2;
    req->model = match.model;

    /* Every started request counts, so a drain that ends can say how many
     * it cut. */
    atomic_fetch_add(&shared->in_flight, 1);
    metrics_in_flight_add(shared->metrics, 1);
    req->admitted = true;
    /* Shutting down, /readyz alone turns 503 (the protocol's readiness
     * routes say {"ready": false}, serve_get); everything else is served. */
    if (atomic_load(&shared->draining) && req->route == ROUTE_READYZ &&
        route_allows(req->route, method)) {
        api_error_set(&req->err, API_DRAINING, "the server is shutting down");
        return refuse(req, con, body_unread);
    }
    if (req->route == ROUTE_OTHER) {
        route_not_found(&match, &req->err);
        return refuse(req, con, body_unread);
    }
    if (!route_allows(req->route, method)) {
        api_error_set(&req->err, API_METHOD_NOT_ALLOWED, "%s is not allowed on %s (allowed: %s)",
                      req->method, url, route_allow_header(req->route));
        return refuse(req, con, body_unread);
    }
    if (route_needs_token(req->route) &&
        !auth_check(shared->auth, MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                              MHD_HTTP_HEADER_AUTHORIZATION))) {
        api_error_set(&req->err, API_UNAUTHORIZED,
                      "this service needs an Authorization: Bearer token");
        return refuse(req, con, body_unread);
    }
    if (req->route == ROUTE_L2_LOSS || req->route == ROUTE_REGULARIZE || req->route == ROUTE_MERGE)
        return start_upload(req, con, body_unread);
    if (req->route == ROUTE_V2_INFER)
        return start_infer(req, con, body_unread);
    /* A GET with a body is answered at once; otherwise on the next call. */
    return body_unread ? serve_get(req, con, true) : MHD_YES;
}

/* One upload chunk: fed to the decoder unless an error already stopped it. */
static void consume(struct request *req, const char *data, size_t len)
{
    uint64_t limit = req->shared->cfg->max_body_bytes;

    req->received += len;
    if (req->discarding || req->body == NULL)
        return;
    if (req->received > limit) {
        api_error_set(&req->err, API_PAYLOAD_TOO_LARGE, "the body exceeds the limit of %llu bytes",
                      (unsigned long long)limit);
        req->discarding = true;
        return;
    }
    if (api_body_feed(req->body, data, len) != API_OK)
        req->discarding = true;
}

/* An infer body has ended well: the protocol's response, JSON or (with a
 * binary output) the JSON header and the binary data, whose header length
 * goes in Inference-Header-Content-Length. */
static enum MHD_Result finish_infer(struct request *req, struct MHD_Connection *con)
{
    struct api_infer_response resp;
    char header_len[24];

    /* Encoded as if every series will be recorded; a result is recorded
     * only once its answer is (a refused one, result_out_of_range, is not),
     * and encoded again in the rare case the series cap drops some. */
    if (req->infer.track_len != 0)
        req->infer.tracked = API_INFER_TRACKED_ALL;
    if (api_infer_response_encode(&req->infer, api_body_result(req->body), &resp, &req->err) !=
        API_OK)
        return queue_problem(req, con, &req->err, false);
    if (req->infer.track_len != 0 &&
        tracked_record(req->shared->tracked, req->infer.track, req->infer.track_len,
                       api_body_result(req->body), (int64_t)time(NULL)) != TRACKED_ALL) {
        free(resp.body);
        req->infer.tracked = API_INFER_TRACKED_PARTIAL;
        if (api_infer_response_encode(&req->infer, api_body_result(req->body), &resp, &req->err) !=
            API_OK)
            return queue_problem(req, con, &req->err, false);
    }
    if (!resp.binary)
        return queue(req, con,
                     &(struct answer){.status = MHD_HTTP_OK,
                                      .content_type = REQUEST_JSON,
                                      .body = resp.body,
                                      .len = resp.len,
                                      .must_free = true});
    snprintf(header_len, sizeof header_len, "%zu", resp.header_len);
    return queue(req, con,
                 &(struct answer){.status = MHD_HTTP_OK,
                                  .content_type = REQUEST_BINARY,
                                  .body = resp.body,
                                  .len = resp.len,
                                  .must_free = true,
                                  .hname = REQUEST_HEADER_LENGTH,
                                  .hvalue = header_len});
}

/* Records the result under ?track=MODEL and appends "tracked": true (or
 * "partial") to the answer out (*len bytes, a JSON object). False when out
 * of memory (*out is then freed). */
static bool add_tracked(struct request *req, char **out, size_t *len)
{
    static const char all[] = ", \"tracked\": true}", partial[] = ", \"tracked\": \"partial\"}";
    enum tracked_outcome o =
        tracked_record(req->shared->tracked, req->query.track, req->query.track_len,
                       api_body_result(req->body), (int64_t)time(NULL));
    const char *tail = o == TRACKED_ALL ? all : partial;
    size_t n = o == TRACKED_ALL ? sizeof all - 1 : sizeof partial - 1;
    char *grown = realloc(*out, *len - 1 + n + 1);

    if (grown == NULL) {
        free(*out);
        *out = NULL;
        return false;
    }
    memcpy(grown + *len - 1, tail, n + 1); /* over the closing brace */
    *out = grown;
    *len = *len - 1 + n;
    return true;
}

/* The body has ended: answer the error found on the way, or the result. */
static enum MHD_Result finish(struct request *req, struct MHD_Connection *con)
{
    const struct api_scale *scale = NULL;
    char *out = NULL;
    size_t len = 0;

    if (req->err.status != API_OK)
        return queue_problem(req, con, &req->err, false);
    if (req->body == NULL)
        return serve_get(req, con, false);
    if (api_body_finish(req->body) != API_OK)
        return queue_problem(req, con, api_body_error(req->body), false);
    if (req->route == ROUTE_V2_INFER)
        return finish_infer(req, con);
    if (req->query.has_scale) /* /regularize always; /merge when sent */
        scale = &req->query.scale;
    if (api_response_encode(api_body_result(req->body), scale, &out, &len, &req->err) != API_OK)
        return queue_problem(req, con, &req->err, false);
    if (req->query.track_len != 0 && !add_tracked(req, &out, &len))
        return queue_out_of_memory(req, con, false);
    return queue(req, con,
                 &(struct answer){.status = MHD_HTTP_OK,
                                  .content_type = REQUEST_JSON,
                                  .body = out,
                                  .len = len,
                                  .must_free = true});
}

enum MHD_Result request_handle(void *cls, struct MHD_Connection *connection, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **req_cls)
{
    struct request *req = *req_cls;

    (void)cls;
    (void)version;
    if (req == NULL) /* request_uri_log ran out of memory: no state to answer with */
        return queue_out_of_memory(NULL, connection, true);
    if (!req->started)
        return start(req, connection, url, method);
    if (req->http_status != 0) {
        /* Already answered: libmicrohttpd discards whatever still arrives. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        consume(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return finish(req, connection);
}

/* Counts the elements body decoded in l2d_elements_total, under each
 * tensor's own dtype for a checkpoint; returns them all. A /merge decodes
 * no elements: its partials were counted when they were computed. */
static uint64_t count_elements(struct metrics *m, const struct api_body *body)
{
    const struct api_result *res = api_body_result(body);
    enum api_format format = api_body_format(body);

    if (res->merged)
        return 0;

    if (!res->typed) {
        if (res->total.count != 0)
            metrics_add_elements(m, res->dtype, format, res->total.count);
        return res->total.count;
    }
    for (size_t i = 0; i < res->n_tensors; i++) {
        const struct api_tensor *t = &res->tensors[i];

        if (t->skipped == NULL && t->count != 0)
            metrics_add_elements(m, t->dtype, format, t->count);
    }
    return res->total.count;
}

void request_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                       enum MHD_RequestTerminationCode toe)
{
    struct request_shared *shared = cls;
    struct request *req = *req_cls;
    struct log_access_entry entry;
    uint64_t elapsed, elements = 0;

    (void)connection;
    (void)toe;
    if (req == NULL)
        return;
    elapsed = now_ns() - req->start_ns;
    if (req->http_status != 0)
        metrics_observe(shared->metrics, req->route, (int)req->http_status, elapsed);
    if (req->received != 0)
        metrics_add_body_bytes(shared->metrics, req->received);
    if (req->body != NULL)
        elements = count_elements(shared->metrics, req->body);
    entry.request_id = req->request_id;
    entry.method = req->method;
    entry.path = req->uri;
    entry.status = (int)req->http_status;
    entry.body_bytes = req->received;
    entry.elements = elements;
    entry.duration_ns = elapsed;
    entry.trace_id = req->trace_id[0] != '\0' ? req->trace_id : NULL;
    log_access(&entry);
    if (req->admitted) {
        atomic_fetch_sub(&shared->in_flight, 1);
        metrics_in_flight_add(shared->metrics, -1);
    }
    api_body_free(req->body);
    free(req);
    *req_cls = NULL;
}

void request_connection_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
                               enum MHD_ConnectionNotificationCode toe)
{
    struct request_shared *shared = cls;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        metrics_connections_add(shared->metrics, 1);
        drain_connection_started(&shared->drain, connection, socket_context);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        metrics_connections_add(shared->metrics, -1);
        drain_connection_closed(&shared->drain, socket_context);
    }
}
