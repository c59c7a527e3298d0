/* harness.c -- runs the real l2d binary and talks HTTP to it, for the
 * integration tests.
 *
 * Every child process started here is recorded in a small table that
 * it_teardown empties with SIGKILL, so a failed assertion never leaves a
 * server behind; PR_SET_PDEATHSIG covers a crashed test process. */
#define _GNU_SOURCE /* memmem */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "openapi_check.h"

extern char **environ;

#define IT_MAX_CHILDREN 16
#define IT_STARTUP_MS 5000
#define IT_RUN_MS 10000
#define IT_MAX_BODY (64u << 20)

struct it_child {
    pid_t pid;
    char log_path[64];
};

/* Children started by this test and not yet reaped; emptied by it_teardown. */
static struct it_child it_children[IT_MAX_CHILDREN];

int64_t it_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void it_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void it_child_add(pid_t pid, const char *log_path)
{
    for (size_t i = 0; i < IT_MAX_CHILDREN; i++) {
        if (it_children[i].pid == 0 && it_children[i].log_path[0] == '\0') {
            it_children[i].pid = pid;
            snprintf(it_children[i].log_path, sizeof it_children[i].log_path, "%s",
                     log_path ? log_path : "");
            return;
        }
    }
    kill(pid, SIGKILL);
    cr_assert_fail("harness: too many child processes");
}

static void it_child_forget(pid_t pid)
{
    for (size_t i = 0; i < IT_MAX_CHILDREN; i++) {
        if (it_children[i].pid == pid)
            it_children[i].pid = 0;
    }
}

void it_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
}

void it_teardown(void)
{
    for (size_t i = 0; i < IT_MAX_CHILDREN; i++) {
        struct it_child *c = &it_children[i];
        if (c->pid > 0) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
            c->pid = 0;
        }
        if (c->log_path[0] != '\0') {
            unlink(c->log_path);
            c->log_path[0] = '\0';
        }
    }
    curl_global_cleanup();
}

const char *it_bin(void)
{
    const char *bin = getenv("L2D_BIN");
    cr_assert(bin != NULL && bin[0] != '\0', "set L2D_BIN to the l2d binary");
    return bin;
}

static char *it_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (f == NULL)
        return strdup("");
    for (;;) {
        if (cap - len < 4096) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nbuf = realloc(buf, ncap);
            if (nbuf == NULL)
                break;
            buf = nbuf;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    if (buf == NULL)
        return strdup("");
    buf[len] = '\0';
    return buf;
}

/* In the child: drop inherited L2D_* variables, so only env applies. */
static void it_child_env(const char *const *env)
{
    for (;;) {
        char name[256];
        bool found = false;
        for (char **e = environ; *e != NULL; e++) {
            if (strncmp(*e, "L2D_", 4) == 0) {
                const char *eq = strchr(*e, '=');
                size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
                if (n < sizeof name) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                    found = true;
                    break;
                }
            }
        }
        if (!found)
            break;
        unsetenv(name);
    }
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        putenv((char *)env[i]);
}

/* Forks and execs the binary with args; stdout and stderr go to the given
 * files (opened O_WRONLY|O_TRUNC). Returns the pid. */
static pid_t it_spawn_wrapped(const char *const *wrapper, const char *l2d, const char *const *args,
                              const char *const *env, const char *out_path, const char *err_path)
{
    const char *bin = l2d != NULL ? l2d : it_bin();
    const char *argv[64];
    size_t argc = 0;
    for (size_t i = 0; wrapper != NULL && wrapper[i] != NULL; i++) {
        cr_assert(argc < 32, "too many wrapper arguments");
        argv[argc++] = wrapper[i];
    }
    argv[argc++] = bin;
    if (wrapper != NULL && wrapper[0] != NULL)
        bin = wrapper[0];
    for (size_t i = 0; args != NULL && args[i] != NULL; i++) {
        cr_assert(argc < 63, "too many arguments");
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;

    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int in = open("/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0)
            _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        signal(SIGPIPE, SIG_DFL);
        it_child_env(env);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static pid_t it_spawn(const char *const *args, const char *const *env, const char *out_path,
                      const char *err_path)
{
    return it_spawn_wrapped(NULL, NULL, args, env, out_path, err_path);
}

/* Parses a startup line (text or JSON) into srv; false when line is not
 * one. */
static bool it_parse_startup(struct it_server *srv, const char *line, size_t len)
{
    char text[1024], bind[64], scheme[8];
    snprintf(text, sizeof text, "%.*s", (int)len, line);
    if (text[0] == '{') {
        json_error_t jerr;
        json_t *j = json_loads(text, 0, &jerr);
        if (j == NULL)
            return false;
        json_t *msg = json_object_get(j, "msg"), *url = json_object_get(j, "url");
        json_t *port = json_object_get(j, "port"), *ver = json_object_get(j, "version");
        json_t *threads = json_object_get(j, "threads");
        bool ok = json_is_string(msg) && strcmp(json_string_value(msg), "listening") == 0 &&
                  json_is_string(url) && json_is_integer(port) && json_is_string(ver) &&
                  json_is_integer(threads);
        if (ok) {
            srv->port = (int)json_integer_value(port);
            srv->threads = (int)json_integer_value(threads);
            snprintf(srv->version, sizeof srv->version, "%s", json_string_value(ver));
            srv->tls = strncmp(json_string_value(url), "https://", 8) == 0;
            srv->json_log = true;
        }
        json_decref(j);
        return ok;
    }
    int n = sscanf(text, "l2d %63s listening on %7[a-z]://%63[^:]:%d (threads %d)", srv->version,
                   scheme, bind, &srv->port, &srv->threads);
    if (n != 5)
        return false;
    srv->tls = strcmp(scheme, "https") == 0;
    return true;
}

void it_start_raw(struct it_server *srv, const char *const *args, const char *const *env)
{
    it_start_wrapped(srv, NULL, NULL, args, env);
}

void it_start_wrapped(struct it_server *srv, const char *const *wrapper, const char *bin,
                      const char *const *args, const char *const *env)
{
    memset(srv, 0, sizeof *srv);
    snprintf(srv->log_path, sizeof srv->log_path, "/tmp/l2d-it-XXXXXX");
    int fd = mkstemp(srv->log_path);
    cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
    close(fd);

    srv->pid = it_spawn_wrapped(wrapper, bin, args, env, "/dev/null", srv->log_path);
    it_child_add(srv->pid, srv->log_path);

    int64_t deadline = it_now_ms() + IT_STARTUP_MS;
    for (;;) {
        char *log = it_read_file(srv->log_path);
        const char *line = strstr(log, "listening on http");
        if (line == NULL)
            line = strstr(log, "\"msg\":\"listening\"");
        const char *nl = line ? strchr(line, '\n') : NULL;
        if (line != NULL && nl != NULL) {
            const char *start = line;
            while (start > log && start[-1] != '\n')
                start--;
            cr_assert(it_parse_startup(srv, start, (size_t)(nl - start)),
                      "unexpected startup line: %.*s", (int)(nl - start), start);
            free(log);
            return;
        }
        int status;
        if (waitpid(srv->pid, &status, WNOHANG) == srv->pid) {
            it_child_forget(srv->pid);
            cr_assert_fail("l2d exited during startup (status %d); stderr:\n%s", status, log);
        }
        if (it_now_ms() > deadline)
            cr_assert_fail("no startup line within %d ms; stderr:\n%s", IT_STARTUP_MS, log);
        free(log);
        it_sleep_ms(10);
    }
}

void it_start(struct it_server *srv, const char *const *args, const char *const *env)
{
    const char *all[48] = {"--bind", "127.0.0.1", "--port", "0"};
    size_t n = 4;
    for (size_t i = 0; args != NULL && args[i] != NULL; i++) {
        cr_assert(n < 47, "too many arguments");
        all[n++] = args[i];
    }
    all[n] = NULL;
    it_start_raw(srv, all, env);
}

int it_wait_exit(struct it_server *srv, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        int status;
        pid_t r = waitpid(srv->pid, &status, WNOHANG);
        if (r == srv->pid) {
            it_child_forget(srv->pid);
            return status;
        }
        if (r < 0 || it_now_ms() > deadline)
            return -1;
        it_sleep_ms(10);
    }
}

int it_stop(struct it_server *srv, int sig, int timeout_ms)
{
    kill(srv->pid, sig);
    int status = it_wait_exit(srv, timeout_ms);
    if (status == -1) {
        kill(srv->pid, SIGKILL);
        waitpid(srv->pid, NULL, 0);
        it_child_forget(srv->pid);
    }
    return status;
}

bool it_alive(struct it_server *srv)
{
    int status;
    return waitpid(srv->pid, &status, WNOHANG) == 0;
}

long it_vmhwm_kib(const struct it_server *srv)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)srv->pid);
    char *text = it_read_file(path);
    long kib = -1;
    const char *p = strstr(text, "VmHWM:");
    if (p != NULL) {
        char *end;
        kib = strtol(p + 6, &end, 10);
        if (end == p + 6)
            kib = -1;
    }
    free(text);
    return kib;
}

char *it_server_log(const struct it_server *srv)
{
    return it_read_file(srv->log_path);
}

void it_run(const char *const *args, const char *const *env, struct it_run_result *res)
{
    char out_path[] = "/tmp/l2d-it-out-XXXXXX";
    char err_path[] = "/tmp/l2d-it-err-XXXXXX";
    int fo = mkstemp(out_path);
    int fe = mkstemp(err_path);
    cr_assert(fo >= 0 && fe >= 0, "mkstemp: %s", strerror(errno));
    close(fo);
    close(fe);

    pid_t pid = it_spawn(args, env, out_path, err_path);
    it_child_add(pid, NULL);
    struct it_server tmp = {.pid = pid};
    int status = it_wait_exit(&tmp, IT_RUN_MS);
    res->out = it_read_file(out_path);
    res->err = it_read_file(err_path);
    unlink(out_path);
    unlink(err_path);
    cr_assert(status != -1, "l2d did not exit within %d ms; stderr:\n%s", IT_RUN_MS, res->err);
    res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void it_run_free(struct it_run_result *res)
{
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
}

int it_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
    socklen_t alen = sizeof a;
    cr_assert(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* --- HTTP through libcurl ------------------------------------------------ */

struct it_buf {
    char **data;
    size_t *len;
    size_t cap;
    bool overflow;
};

static bool it_buf_append(struct it_buf *b, const char *src, size_t n)
{
    size_t need;
    if (__builtin_add_overflow(*b->len, n, &need) || need + 1 > IT_MAX_BODY) {
        b->overflow = true;
        return false;
    }
    if (need + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 1024;
        while (ncap < need + 1)
            ncap *= 2;
        char *nd = realloc(*b->data, ncap);
        if (nd == NULL) {
            b->overflow = true;
            return false;
        }
        *b->data = nd;
        b->cap = ncap;
    }
    memcpy(*b->data + *b->len, src, n);
    *b->len = need;
    (*b->data)[need] = '\0';
    return true;
}

static size_t it_on_body(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    size_t n = size * nmemb;
    return it_buf_append(ctx, ptr, n) ? n : 0;
}

static size_t it_on_header(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    struct it_buf *b = ctx;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
        *b->len = 0; /* a new response (after 100 Continue): keep the last */
    return it_buf_append(b, ptr, n) ? n : 0;
}

CURLcode it_perform(CURL *easy, int port, const struct it_request *req, struct it_response *res)
{
    memset(res, 0, sizeof *res);
    res->body = calloc(1, 1);
    res->headers = calloc(1, 1);
    CURL *h = easy;
    if (h == NULL)
        h = curl_easy_init();
    else
        curl_easy_reset(h);
    if (h == NULL || res->body == NULL || res->headers == NULL)
        return CURLE_OUT_OF_MEMORY;

    struct it_buf body = {&res->body, &res->body_len, 1, false};
    struct it_buf hdrs = {&res->headers, &res->headers_len, 1, false};
    struct curl_slist *list = NULL;
    char url[512];
    char ct[300];
    const char *method = req->method ? req->method : "GET";

    snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", req->cainfo != NULL ? "https" : "http", port,
             req->target);
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (req->cainfo != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, req->cainfo);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, req->timeout_s > 0 ? req->timeout_s : IT_REQUEST_TIMEOUT);
    if (req->expect_100_ms > 0)
        curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, req->expect_100_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, it_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, it_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hdrs);

    bool has_body = req->body != NULL || req->read_fn != NULL;
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "POST") == 0 || has_body) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (req->read_fn != NULL) {
            curl_easy_setopt(h, CURLOPT_READFUNCTION, req->read_fn);
            curl_easy_setopt(h, CURLOPT_READDATA, req->read_ctx);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->read_size);
            if (req->read_size < 0)
                list = curl_slist_append(list, "Transfer-Encoding: chunked");
        } else {
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        }
        /* No Content-Type at all unless one is asked for. */
        if (req->content_type != NULL)
            snprintf(ct, sizeof ct, "Content-Type: %s", req->content_type);
        else
            snprintf(ct, sizeof ct, "Content-Type:");
        list = curl_slist_append(list, ct);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++)
        list = curl_slist_append(list, req->headers[i]);
    if (list != NULL)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);

    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
    char *got_ct = NULL;
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &got_ct) == CURLE_OK && got_ct != NULL)
        snprintf(res->content_type, sizeof res->content_type, "%s", got_ct);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &res->connects);
    if (rc == CURLE_OK && (body.overflow || hdrs.overflow))
        rc = CURLE_OUT_OF_MEMORY;

    curl_slist_free_all(list);
    if (easy == NULL)
        curl_easy_cleanup(h);
    return rc;
}

void it_check_openapi(const char *method, const char *target, const struct it_response *res)
{
    char path[512];
    size_t n = strcspn(target, "?");
    cr_assert(n < sizeof path, "target too long");
    memcpy(path, target, n);
    path[n] = '\0';
    char why[512] = "";
    bool ok = openapi_check_response(method, path, (int)res->status,
                                     res->content_type[0] ? res->content_type : NULL, res->body,
                                     res->body_len, why, sizeof why);
    cr_assert(ok, "response does not match openapi.yaml: %s %s -> %ld %s: %s\nbody: %.400s", method,
              target, res->status, res->content_type, why, res->body);
}

void it_http(CURL *easy, int port, const struct it_request *req, struct it_response *res)
{
    const char *method = req->method ? req->method : "GET";
    CURLcode rc = it_perform(easy, port, req, res);
    cr_assert(rc == CURLE_OK, "%s %s: curl: %s", method, req->target, curl_easy_strerror(rc));
    it_check_openapi(method, req->target, res);
}

void it_response_free(struct it_response *res)
{
    free(res->body);
    free(res->headers);
    res->body = res->headers = NULL;
}

void it_get(int port, const char *target, struct it_response *res)
{
    struct it_request req = {.method = "GET", .target = target};
    it_http(NULL, port, &req, res);
}

void it_post(int port, const char *target, const char *content_type, const void *body,
             size_t body_len, struct it_response *res)
{
    struct it_request req = {.method = "POST",
                             .target = target,
                             .content_type = content_type,
                             .body = body ? body : "",
                             .body_len = body_len};
    it_http(NULL, port, &req, res);
}

bool it_header(const struct it_response *res, const char *name, char *buf, size_t len)
{
    size_t nlen = strlen(name);
    const char *p = res->headers;
    while (p != NULL && *p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t llen = eol ? (size_t)(eol - p) : strlen(p);
        if (llen > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            const char *end = p + llen;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
                end--;
            snprintf(buf, len, "%.*s", (int)(end - v), v);
            return true;
        }
        p = eol ? eol + 1 : NULL;
    }
    return false;
}

/* --- JSON expectations ---------------------------------------------------- */

json_t *it_json(const struct it_response *res)
{
    json_error_t jerr;
    json_t *j = json_loadb(res->body, res->body_len, JSON_DECODE_ANY, &jerr);
    cr_assert(j != NULL, "body is not JSON (%s at %d): %.400s", jerr.text, jerr.position,
              res->body);
    cr_assert(json_is_object(j), "body is not a JSON object: %.400s", res->body);
    return j;
}

void it_expect_real(const json_t *obj, const char *key, double want)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(v != NULL, "missing \"%s\"", key);
    cr_assert(json_is_real(v), "\"%s\" is not a JSON real (type %d)", key, (int)json_typeof(v));
    double got = json_real_value(v);
    uint64_t a, b;
    memcpy(&a, &got, sizeof a);
    memcpy(&b, &want, sizeof b);
    cr_assert(a == b, "\"%s\": got %.17g (0x%016llx), want %.17g (0x%016llx)", key, got,
              (unsigned long long)a, want, (unsigned long long)b);
}

void it_expect_int(const json_t *obj, const char *key, long long want)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(v != NULL, "missing \"%s\"", key);
    cr_assert(json_is_integer(v), "\"%s\" is not a JSON integer", key);
    cr_assert(json_integer_value(v) == want, "\"%s\": got %lld, want %lld", key,
              (long long)json_integer_value(v), want);
}

void it_expect_str(const json_t *obj, const char *key, const char *want)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(v != NULL, "missing \"%s\"", key);
    cr_assert(json_is_string(v), "\"%s\" is not a string", key);
    cr_assert_str_eq(json_string_value(v), want, "\"%s\": got \"%s\", want \"%s\"", key,
                     json_string_value(v), want);
}

void it_expect_shape(const json_t *obj, const long long *dims, size_t n)
{
    json_t *s = json_object_get(obj, "shape");
    cr_assert(json_is_array(s), "\"shape\" is not an array");
    cr_assert(json_array_size(s) == n, "shape has %zu dimensions, want %zu", json_array_size(s), n);
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(s, i);
        cr_assert(json_is_integer(d), "shape[%zu] is not an integer", i);
        cr_assert(json_integer_value(d) == dims[i], "shape[%zu]: got %lld, want %lld", i,
                  (long long)json_integer_value(d), dims[i]);
    }
}

void it_expect_result(const json_t *obj, double loss, double sum_squares, long long count)
{
    it_expect_real(obj, "loss", loss);
    it_expect_real(obj, "sum_squares", sum_squares);
    it_expect_real(obj, "norm", sqrt(sum_squares));
    it_expect_int(obj, "count", count);
}

void it_expect_number_text(const struct it_response *res, const char *key, const char *want)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(res->body, pat);
    cr_assert(p != NULL, "no \"%s\" in %.400s", key, res->body);
    p += strlen(pat);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    cr_assert(*p == ':', "no ':' after \"%s\"", key);
    p++;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    size_t n = strspn(p, "0123456789+-.eE");
    cr_assert(n == strlen(want) && strncmp(p, want, n) == 0, "\"%s\" printed as %.*s, want %s", key,
              (int)n, p, want);
}

json_t *it_expect_problem(const struct it_response *res, long status, const char *code)
{
    cr_assert(res->status == status, "status %ld, want %ld (%s); body: %.400s", res->status, status,
              code, res->body);
    cr_assert(strncasecmp(res->content_type, "application/problem+json", 24) == 0,
              "Content-Type \"%s\", want application/problem+json", res->content_type);
    json_t *j = it_json(res);
    cr_assert(json_is_string(json_object_get(j, "type")), "no \"type\" in %s", res->body);
    cr_assert(json_is_string(json_object_get(j, "title")), "no \"title\" in %s", res->body);
    json_t *d = json_object_get(j, "detail");
    cr_assert(json_is_string(d) && json_string_length(d) > 0, "no \"detail\" in %s", res->body);
    it_expect_int(j, "status", status);
    it_expect_str(j, "code", code);
    return j;
}

/* --- .npy files -------------------------------------------------------- */

unsigned char *it_npy(int version, const char *descr, const char *shape, const void *data,
                      size_t data_len, size_t *out_len)
{
    char dict[512];
    int dn = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                      descr, shape);
    cr_assert(dn > 0 && (size_t)dn < sizeof dict - 80);
    size_t prefix = version == 1 ? 10 : 12;
    size_t hlen = (size_t)dn + 1; /* with the final '\n' */
    size_t total = prefix + hlen;
    size_t pad = (64 - total % 64) % 64;
    hlen += pad;
    size_t len = prefix + hlen + data_len;
    unsigned char *buf = malloc(len ? len : 1);
    cr_assert(buf != NULL);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)version;
    buf[7] = 0;
    if (version == 1) {
        buf[8] = (unsigned char)(hlen & 0xff);
        buf[9] = (unsigned char)(hlen >> 8);
    } else {
        for (int i = 0; i < 4; i++)
            buf[8 + i] = (unsigned char)((hlen >> (8 * i)) & 0xff);
    }
    memcpy(buf + prefix, dict, (size_t)dn);
    memset(buf + prefix + dn, ' ', pad);
    buf[prefix + hlen - 1] = '\n';
    if (data_len > 0)
        memcpy(buf + prefix + hlen, data, data_len);
    *out_len = len;
    return buf;
}

size_t it_read_chunks(char *buf, size_t size, size_t nitems, void *ctx)
{
    struct it_chunks *c = ctx;
    size_t n = size * nitems;
    size_t step = c->step ? c->step : 1;
    if (c->rng != 0) {
        c->rng = c->rng * 6364136223846793005ull + 1442695040888963407ull;
        step = 1 + (size_t)((c->rng >> 33) % step);
    }
    if (n > step)
        n = step;
    if (n > c->len - c->pos)
        n = c->len - c->pos;
    memcpy(buf, c->data + c->pos, n);
    c->pos += n;
    return n;
}

/* --- raw sockets ---------------------------------------------------------- */

int it_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    cr_assert(rc == 0, "connect to 127.0.0.1:%d: %s", port, strerror(errno));
    return fd;
}

bool it_send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

size_t it_recv_until(int fd, char *buf, size_t cap, const char *stop, int timeout_ms, bool *closed)
{
    size_t len = 0;
    int64_t deadline = it_now_ms() + timeout_ms;
    *closed = false;
    buf[0] = '\0';
    while (len + 1 < cap) {
        if (stop != NULL && strstr(buf, stop) != NULL)
            break;
        int64_t left = deadline - it_now_ms();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *closed = true;
            break;
        }
        len += (size_t)n;
        buf[len] = '\0';
    }
    return len;
}

bool it_wait_closed(int fd, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    char buf[4096];
    for (;;) {
        int64_t left = deadline - it_now_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return false;
        if (r < 0)
            return true;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return true;
    }
}

void it_raw_exchange(int port, const char *text, struct it_response *res)
{
    char buf[16384];
    bool closed = false;
    int fd = it_connect(port);

    cr_assert(it_send_all(fd, text, strlen(text)), "send failed");
    size_t n = it_recv_until(fd, buf, sizeof buf, NULL, 10000, &closed);
    close(fd);
    cr_assert(it_parse_response(buf, n, res), "no complete answer: %.300s", buf);
}

bool it_parse_response(const char *raw, size_t len, struct it_response *res)
{
    memset(res, 0, sizeof *res);
    const char *p = raw, *end = raw + len;
    const char *hend;
    for (;;) {
        hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (hend == NULL || end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0)
            return false;
        long status = strtol(p + 9, NULL, 10);
        if (status >= 200 || status < 100) {
            res->status = status;
            break;
        }
        p = hend + 4; /* skip 1xx */
    }
    res->headers = strndup(p, (size_t)(hend + 4 - p));
    res->headers_len = (size_t)(hend + 4 - p);
    it_header(res, "Content-Type", res->content_type, sizeof res->content_type);
    const char *b = hend + 4;
    char te[64] = "", cl[32] = "";
    it_header(res, "Transfer-Encoding", te, sizeof te);
    bool chunked = strcasecmp(te, "chunked") == 0;
    size_t cap = (size_t)(end - b) + 1;
    res->body = malloc(cap);
    if (res->body == NULL)
        return false;
    if (chunked) {
        size_t n = 0;
        for (;;) {
            char *e;
            unsigned long sz = strtoul(b, &e, 16);
            const char *crlf = memmem(b, (size_t)(end - b), "\r\n", 2);
            if (crlf == NULL || e == b)
                return false;
            b = crlf + 2;
            if (sz == 0)
                break;
            if ((size_t)(end - b) < sz + 2)
                return false;
            memcpy(res->body + n, b, sz);
            n += sz;
            b += sz + 2;
        }
        res->body_len = n;
    } else if (it_header(res, "Content-Length", cl, sizeof cl)) {
        size_t want = (size_t)strtoull(cl, NULL, 10);
        if ((size_t)(end - b) < want)
            return false;
        memcpy(res->body, b, want);
        res->body_len = want;
    } else {
        res->body_len = (size_t)(end - b);
        memcpy(res->body, b, res->body_len);
    }
    res->body[res->body_len] = '\0';
    return true;
}

/* --- operations tests ----------------------------------------------------- */

void it_tmpdir(char dir[64])
{
    snprintf(dir, 64, "/tmp/l2d-ops-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
}

char *it_write_file(const char *dir, const char *name, const char *content)
{
    char *path = malloc(256);
    cr_assert(path != NULL);
    snprintf(path, 256, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL, "%s: %s", path, strerror(errno));
    fputs(content, f);
    cr_assert(fclose(f) == 0);
    return path;
}

void it_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int it_sh(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL, "popen %s", cmd);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    cr_assert(buf != NULL);
    for (;;) {
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert(buf != NULL);
        }
        size_t n = fread(buf + len, 1, cap - len - 1, p);
        if (n == 0)
            break;
        len += n;
    }
    buf[len] = '\0';
    int status = pclose(p);
    if (out != NULL)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void it_make_cert(const char *dir, const char *prefix)
{
    char cmd[1024];
    char *out = NULL;
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -days 1 -keyout %s/%s-key.pem "
             "-out %s/%s-cert.pem 2>&1",
             dir, prefix, dir, prefix);
    int rc = it_sh(cmd, &out);
    cr_assert_eq(rc, 0, "openssl failed (%d): %s", rc, out);
    free(out);
}

bool it_have(const char *program)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", program);
    return it_sh(cmd, NULL) == 0;
}

char *it_wait_log(const struct it_server *srv, const char *needle, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        char *log = it_server_log(srv);
        if (strstr(log, needle) != NULL)
            return log;
        free(log);
        if (it_now_ms() > deadline)
            return NULL;
        it_sleep_ms(10);
    }
}

size_t it_read_segments(char *buf, size_t size, size_t nitems, void *ctx)
{
    struct it_segments *s = ctx;
    size_t n = size * nitems, done = 0;

    while (done < n && s->at < s->nseg) {
        struct it_segment *g = &s->seg[s->at];
        uint64_t left = g->len - s->off;
        size_t k = n - done;
        size_t in_pat = (size_t)(s->off % g->plen);

        if (k > left)
            k = (size_t)left;
        if (k > g->plen - in_pat)
            k = g->plen - in_pat;
        memcpy(buf + done, g->pattern + in_pat, k);
        done += k;
        s->off += k;
        if (s->off == g->len) {
            s->at++;
            s->off = 0;
        }
    }
    s->sent += done;
    return done;
}

double it_metrics_sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}
