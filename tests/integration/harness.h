/* harness.h -- runs the real l2d binary and talks HTTP to it, for the
 * integration tests.
 *
 * A server is started with `--bind 127.0.0.1 --port 0`, its stderr going to a
 * temp file that is polled for the startup line; every server is killed in
 * the test's .fini (it_teardown), and PR_SET_PDEATHSIG reaps it if the test
 * process dies. Requests go through libcurl to 127.0.0.1 only, each bounded
 * by a timeout, and every response is checked against openapi.yaml. */
#ifndef IT_HARNESS_H
#define IT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>
#include <jansson.h>

/* Upper bound, in seconds, of any single HTTP request a test makes. */
#define IT_REQUEST_TIMEOUT 30L

/* A running l2d process. */
struct it_server {
    pid_t pid;
    int port;
    int threads;
    char version[64];
    char log_path[64]; /* the file its stderr goes to */
    bool tls;          /* the startup line said https:// */
    bool json_log;     /* the startup line was a JSON object */
};

/* The result of running the binary to its exit (it_run). */
struct it_run_result {
    int exit_code; /* -1 when it did not exit normally */
    char *out;     /* stdout, NUL-terminated, malloc'd */
    char *err;     /* stderr, NUL-terminated, malloc'd */
};

/* One request. target is the path with its query string. content_type NULL
 * sends no Content-Type at all. A body is either body/body_len or, when
 * read_fn is set, read_fn/read_ctx with read_size bytes (-1: chunked). */
struct it_request {
    const char *method;
    const char *target;
    const char *content_type;
    const void *body;
    size_t body_len;
    const char *const *headers; /* extra header lines, NULL-terminated, or NULL */
    size_t (*read_fn)(char *buf, size_t size, size_t nitems, void *ctx);
    void *read_ctx;
    long long read_size;
    long timeout_s;     /* whole-request timeout; 0: IT_REQUEST_TIMEOUT */
    long expect_100_ms; /* wait for 100 Continue; 0: curl's default */
    const char *cainfo; /* set: https://, verifying the server against this PEM file */
};

struct it_response {
    long status;
    char *body;
    size_t body_len;
    char *headers; /* the final header block, raw */
    size_t headers_len;
    char content_type[256];
    long connects; /* new connections this transfer made */
};

/* Per-test setup and teardown (Criterion .init/.fini): curl's global state,
 * and killing every server started since. */
void it_setup(void);
void it_teardown(void);

/* The path of the binary ($L2D_BIN); asserts it is set. */
const char *it_bin(void);

/* Starts l2d with `--bind 127.0.0.1 --port 0` followed by args (NULL-terminated,
 * may be NULL) and env ("NAME=VALUE", NULL-terminated, may be NULL), waits
 * for the startup line and fills srv. Asserts on failure. */
void it_start(struct it_server *srv, const char *const *args, const char *const *env);

/* As it_start, with exactly args (no --bind/--port added). The startup line
 * is either the text one (`l2d V listening on http[s]://HOST:PORT (threads
 * N)`) or, with --log-format json, an object with "msg":"listening",
 * "port", "url", "version" and "threads". */
void it_start_raw(struct it_server *srv, const char *const *args, const char *const *env);

/* As it_start_raw, but runs wrapper[0] with wrapper[1..] (NULL-terminated,
 * e.g. {"/usr/bin/setpriv", "--reuid=65534", ..., NULL}), then bin (the
 * binary to run, NULL: it_bin()), then args. */
void it_start_wrapped(struct it_server *srv, const char *const *wrapper, const char *bin,
                      const char *const *args, const char *const *env);

/* Sends sig to srv and waits up to timeout_ms for it to exit; returns its
 * wait status, or -1 when it was still running (it is then killed). */
int it_stop(struct it_server *srv, int sig, int timeout_ms);

/* Waits up to timeout_ms for srv to exit; wait status, or -1 if it has not. */
int it_wait_exit(struct it_server *srv, int timeout_ms);

/* True while srv's process exists (not yet reaped). */
bool it_alive(struct it_server *srv);

/* Peak resident set (VmHWM) of srv, in KiB, or -1. */
long it_vmhwm_kib(const struct it_server *srv);

/* The server's stderr so far, malloc'd, NUL-terminated. */
char *it_server_log(const struct it_server *srv);

/* Runs the binary with args and env until it exits (bounded); asserts it
 * exits. The caller frees with it_run_free. */
void it_run(const char *const *args, const char *const *env, struct it_run_result *res);
void it_run_free(struct it_run_result *res);

/* A port on 127.0.0.1 that was free a moment ago. */
int it_free_port(void);

/* Performs req against port without any assertion (safe from any thread).
 * easy may be NULL (a fresh handle) or a handle to reuse (keep-alive).
 * Returns the curl result; res is filled either way, free with
 * it_response_free. */
CURLcode it_perform(CURL *easy, int port, const struct it_request *req, struct it_response *res);

/* it_perform, asserting the transfer succeeded and that the response is what
 * openapi.yaml declares (main test thread only). */
void it_http(CURL *easy, int port, const struct it_request *req, struct it_response *res);

/* Asserts res is what openapi.yaml declares for method + target. */
void it_check_openapi(const char *method, const char *target, const struct it_response *res);

void it_response_free(struct it_response *res);

/* Shorthands over it_http with a fresh handle. */
void it_get(int port, const char *target, struct it_response *res);
void it_post(int port, const char *target, const char *content_type, const void *body,
             size_t body_len, struct it_response *res);

/* The value of header name in res (case-insensitive), copied to buf; false
 * when absent. */
bool it_header(const struct it_response *res, const char *name, char *buf, size_t len);

/* Parses res's body as a JSON object; asserts it is one. Caller json_decrefs. */
json_t *it_json(const struct it_response *res);

/* Asserts obj[key] is a JSON real equal to want bit for bit. */
void it_expect_real(const json_t *obj, const char *key, double want);

/* Asserts obj[key] is a JSON integer equal to want. */
void it_expect_int(const json_t *obj, const char *key, long long want);

/* Asserts obj[key] is a string equal to want. */
void it_expect_str(const json_t *obj, const char *key, const char *want);

/* Asserts obj["shape"] is the array dims[0..n). */
void it_expect_shape(const json_t *obj, const long long *dims, size_t n);

/* Asserts the result object obj has loss, sum_squares, norm (= sqrt of
 * sum_squares: callers pass sums exact in float64, where the root of the
 * exact sum and of sum_squares agree) and count as given. */
void it_expect_result(const json_t *obj, double loss, double sum_squares, long long count);

/* Asserts the text after the first `"key":` in body (whitespace skipped) is
 * exactly the number text want, e.g. "15.0". */
void it_expect_number_text(const struct it_response *res, const char *key, const char *want);

/* Asserts res is a problem+json error with this status and code and the
 * fields type, title, status, detail, code; returns the parsed body (caller
 * json_decrefs). */
json_t *it_expect_problem(const struct it_response *res, long status, const char *code);

/* Builds a .npy file (format version 1, 2 or 3) with the given descr (e.g.
 * "<f4") and shape text (e.g. "(2, 2)") around data. Returns a malloc'd
 * buffer and its length in *out_len. */
unsigned char *it_npy(int version, const char *descr, const char *shape, const void *data,
                      size_t data_len, size_t *out_len);

/* A body handed to curl piece by piece (an it_request read_fn/read_ctx):
 * each call gives at most step bytes, or, when rng is non-zero, a
 * pseudo-random 1..step bytes drawn from it. */
struct it_chunks {
    const char *data;
    size_t len, pos, step;
    uint64_t rng;
};
size_t it_read_chunks(char *buf, size_t size, size_t nitems, void *ctx);

/* A large body handed to curl from a few small buffers (an it_request
 * read_fn/read_ctx): segments one after the other, each a pattern of plen
 * bytes repeated (and cut) to len bytes. Zero the struct, fill seg, nseg
 * and total (the sum of the lengths); sent counts the bytes handed out. */
struct it_segment {
    const unsigned char *pattern;
    size_t plen;
    uint64_t len;
};

struct it_segments {
    struct it_segment seg[8];
    size_t nseg;
    size_t at;    /* current segment */
    uint64_t off; /* bytes of it sent */
    uint64_t sent, total;
};
size_t it_read_segments(char *buf, size_t size, size_t nitems, void *ctx);

/* Raw sockets to 127.0.0.1:port, with send/receive timeouts of 10 s. */
int it_connect(int port);
bool it_send_all(int fd, const void *buf, size_t len);

/* Reads into buf (NUL-terminated, cap bytes) until stop appears, the peer
 * closes, or timeout_ms passes. Returns the bytes read; *closed is set when
 * the peer closed or reset the connection. */
size_t it_recv_until(int fd, char *buf, size_t cap, const char *stop, int timeout_ms, bool *closed);

/* Waits up to timeout_ms for the peer to close fd, discarding what arrives;
 * true when it closed (EOF or reset). */
bool it_wait_closed(int fd, int timeout_ms);

/* Sends text, a whole request (one that asks for Connection: close, or that
 * the server refuses before its body), on a new connection, reads until
 * the server closes it (10 s at most) and parses the answer into res;
 * asserts there is one. Free res with it_response_free. */
void it_raw_exchange(int port, const char *text, struct it_response *res);

/* Parses the first complete HTTP response in raw[0..len) (after any 1xx
 * responses) into res, decoding a chunked body; false when it is not a
 * complete response. Free res with it_response_free. */
bool it_parse_response(const char *raw, size_t len, struct it_response *res);

/* Milliseconds on a monotonic clock. */
int64_t it_now_ms(void);

/* Sleeps ms milliseconds. */
void it_sleep_ms(int ms);

/* --- operations tests: temp files, certificates, logs, shell ------------- */

/* A fresh temp directory (mkdtemp under /tmp), path in dir[64]. */
void it_tmpdir(char dir[64]);

/* Writes content to dir/name and returns the path (malloc'd). */
char *it_write_file(const char *dir, const char *name, const char *content);

/* Removes dir and the files in it (one level). */
void it_rmdir(const char *dir);

/* Makes a self-signed certificate for 127.0.0.1 and its key with openssl
 * into dir/prefix-cert.pem and dir/prefix-key.pem; asserts it worked. */
void it_make_cert(const char *dir, const char *prefix);

/* True when program is an executable on $PATH. */
bool it_have(const char *program);

/* Waits up to timeout_ms for needle in srv's log; returns the log
 * (malloc'd) when found, NULL otherwise. */
char *it_wait_log(const struct it_server *srv, const char *needle, int timeout_ms);

/* Runs sh -c cmd, stdout into a malloc'd string (*out may be NULL); returns
 * the exit status (-1 when it did not exit normally). */
int it_sh(const char *cmd, char **out);

/* In a Prometheus text exposition, the value of the sample line that starts
 * with series (name and labels, exactly) followed by a space, or -1 when
 * there is none. */
double it_metrics_sample(const char *text, const char *series);

#endif
