/* test_lifecycle.c -- the shutdown's phases, against the real binary.
 *
 * SIGTERM: a lame duck of --shutdown-delay seconds (readiness 503 with
 * Retry-After, everything else served with Connection: close, liveness
 * 200), then the listener closes (new connections refused) while requests
 * in flight and those on connections already open are served, then exit 0
 * as soon as none is left. SIGINT skips the lame duck; a second signal
 * exits 1 at once. Times are asserted as loose bounds only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

static struct it_server srv;

TestSuite(lifecycle, .init = it_setup, .fini = it_teardown, .timeout = 60);

/* Slack on every upper time bound: the machine may be busy. */
#define SLACK_MS 3000

static void expect_exit(int status, int code, const char *what)
{
    cr_assert(status != -1, "%s: l2d did not exit in time", what);
    cr_assert(WIFEXITED(status), "%s: l2d died of signal %d", what,
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), code, "%s: exit status %d, not %d", what, WEXITSTATUS(status),
                 code);
}

/* True when a TCP connection to 127.0.0.1:port is refused (the listener
 * is closed); false when it is accepted (then closed at once). */
static bool connect_refused(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    int err = errno;
    close(fd);
    cr_assert(rc == 0 || err == ECONNREFUSED, "connect: %s", strerror(err));
    return rc != 0;
}

/* Polls (every 20 ms, up to limit_ms after t0) until a new connection is
 * refused; returns when that was, in ms after t0. Asserts every connection
 * before lower_ms (the lame duck) was accepted. */
static int64_t wait_refused(int port, int64_t t0, int64_t lower_ms, int64_t limit_ms)
{
    for (;;) {
        int64_t before = it_now_ms() - t0;
        bool refused = connect_refused(port);
        if (refused) {
            cr_assert(before >= lower_ms, "a new connection was refused %lld ms after the signal",
                      (long long)before);
            return before;
        }
        cr_assert(before < limit_ms, "new connections still accepted %lld ms after the signal",
                  (long long)before);
        it_sleep_ms(20);
    }
}

static bool has_close(const struct it_response *r)
{
    char v[64] = "";
    return it_header(r, "Connection", v, sizeof v) && strcasecmp(v, "close") == 0;
}

/* Asserts r has Retry-After: a positive number of seconds. */
static void expect_retry_after(const struct it_response *r, const char *what)
{
    char v[64] = "";
    cr_assert(it_header(r, "Retry-After", v, sizeof v), "%s: a 503 without Retry-After", what);
    char *end = NULL;
    long s = strtol(v, &end, 10);
    cr_assert(end != v && *end == '\0' && s >= 1 && s <= 60, "%s: Retry-After: %s", what, v);
}

static void get(CURL *h, const char *target, struct it_response *r)
{
    struct it_request req = {.method = "GET", .target = target, .timeout_s = 5};
    it_http(h, srv.port, &req, r);
}

static void post_json(CURL *h, const char *target, const char *body, struct it_response *r)
{
    struct it_request req = {.method = "POST",
                             .target = target,
                             .content_type = "application/json",
                             .body = body,
                             .body_len = strlen(body),
                             .timeout_s = 5};
    it_http(h, srv.port, &req, r);
}

/* SIGTERM on an idle server, every phase in turn: during the lame duck
 * readiness is 503 with Retry-After, liveness and computations are served
 * (on new and kept-alive connections) with Connection: close; new
 * connections are accepted for the whole delay and refused after it; and
 * the process exits 0 right after, not after the 30 s drain timeout. */
Test(lifecycle, sigterm_phases_on_an_idle_server)
{
    const char *args[] = {"--shutdown-delay", "3", "--drain-timeout", "30", NULL};
    it_start(&srv, args, NULL);
    CURL *kept = curl_easy_init();
    struct it_response r;
    get(kept, "/readyz", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_not(has_close(&r), "Connection: close before any signal");
    it_response_free(&r);

    int64_t t0 = it_now_ms();
    cr_assert(kill(srv.pid, SIGTERM) == 0);
    it_sleep_ms(200);

    get(NULL, "/readyz", &r);
    json_decref(it_expect_problem(&r, 503, "draining"));
    expect_retry_after(&r, "/readyz");
    cr_assert(has_close(&r), "/readyz in the lame duck without Connection: close");
    it_response_free(&r);

    get(NULL, "/v2/health/ready", &r);
    cr_assert_eq(r.status, 503, "/v2/health/ready in the lame duck: %ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    cr_assert(json_is_false(json_object_get(j, "ready")), "%s", r.body);
    json_decref(j);
    expect_retry_after(&r, "/v2/health/ready");
    it_response_free(&r);

    const char *live[] = {"/healthz", "/v2/health/live"};
    for (size_t i = 0; i < 2; i++) {
        get(NULL, live[i], &r);
        cr_assert_eq(r.status, 200, "%s in the lame duck: %ld %s", live[i], r.status, r.body);
        cr_assert(has_close(&r), "%s in the lame duck without Connection: close", live[i]);
        it_response_free(&r);
    }

    /* A computation on the connection kept alive from before the signal. */
    post_json(kept, "/l2_loss", "[3, 4]", &r);
    cr_assert_eq(r.status, 200, "/l2_loss in the lame duck: %ld %s", r.status, r.body);
    cr_assert(has_close(&r), "/l2_loss in the lame duck without Connection: close");
    j = it_json(&r);
    it_expect_result(j, 12.5, 25.0, 2);
    json_decref(j);
    it_response_free(&r);
    curl_easy_cleanup(kept);
    int64_t served = it_now_ms() - t0;
    cr_assert(served < 3000, "the lame-duck requests took until %lld ms: inconclusive",
              (long long)served);

    int64_t refused = wait_refused(srv.port, t0, 3000, 3000 + SLACK_MS);
    int status = it_wait_exit(&srv, 3000 + SLACK_MS - (int)(it_now_ms() - t0));
    int64_t exited = it_now_ms() - t0;
    fprintf(stderr, "[lifecycle] SIGTERM, delay 3 s: refused at %lld ms, exited at %lld ms\n",
            (long long)refused, (long long)exited);
    expect_exit(status, 0, "SIGTERM when idle");
    cr_assert(exited >= 3000, "exited %lld ms after SIGTERM, inside the 3 s lame duck",
              (long long)exited);
}

/* SIGINT: no lame duck, and an idle server exits at once; so does SIGTERM
 * with --shutdown-delay 0 (here from its environment variable). */
Test(lifecycle, sigint_and_zero_delay_exit_at_once_when_idle)
{
    const char *args[] = {"--shutdown-delay", "30", "--drain-timeout", "30", NULL};
    it_start(&srv, args, NULL);
    int64_t t0 = it_now_ms();
    int status = it_stop(&srv, SIGINT, SLACK_MS);
    fprintf(stderr, "[lifecycle] SIGINT, idle: exited at %lld ms\n", (long long)(it_now_ms() - t0));
    expect_exit(status, 0, "SIGINT with --shutdown-delay 30");

    const char *env[] = {"L2D_SHUTDOWN_DELAY=0", "L2D_DRAIN_TIMEOUT=30", NULL};
    it_start(&srv, NULL, env);
    t0 = it_now_ms();
    status = it_stop(&srv, SIGTERM, SLACK_MS);
    fprintf(stderr, "[lifecycle] SIGTERM, L2D_SHUTDOWN_DELAY=0, idle: exited at %lld ms\n",
            (long long)(it_now_ms() - t0));
    expect_exit(status, 0, "SIGTERM with L2D_SHUTDOWN_DELAY=0");
}

/* A second signal in the lame duck exits at once with status 1. */
Test(lifecycle, second_signal_in_the_lame_duck_exits_1)
{
    const char *args[] = {"--shutdown-delay", "30", NULL};
    it_start(&srv, args, NULL);
    cr_assert(kill(srv.pid, SIGTERM) == 0);
    it_sleep_ms(300);
    struct it_response r;
    get(NULL, "/healthz", &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    cr_assert(it_alive(&srv), "l2d exited inside a 30 s lame duck");
    int64_t t0 = it_now_ms();
    int status = it_stop(&srv, SIGTERM, SLACK_MS);
    fprintf(stderr, "[lifecycle] second SIGTERM in the lame duck: exited at %lld ms\n",
            (long long)(it_now_ms() - t0));
    expect_exit(status, 1, "second SIGTERM");
}

/* Starts a request whose body never ends (headers and "[1, 2" of 9 bytes
 * announced): it stays in flight and holds the drain. */
static int stuck_request(void)
{
    int fd = it_connect(srv.port);
    const char head[] = "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Content-Type: application/json\r\nContent-Length: 9\r\n\r\n[1, 2";
    cr_assert(it_send_all(fd, head, sizeof head - 1));
    return fd;
}

/* A second signal (SIGTERM after SIGINT) while a request holds the drain
 * exits at once with status 1. */
Test(lifecycle, second_signal_in_the_drain_exits_1)
{
    const char *args[] = {"--drain-timeout", "30", NULL};
    it_start(&srv, args, NULL);
    int fd = stuck_request();
    it_sleep_ms(200);
    cr_assert(kill(srv.pid, SIGINT) == 0);
    (void)wait_refused(srv.port, it_now_ms(), 0, SLACK_MS);
    it_sleep_ms(300);
    cr_assert(it_alive(&srv), "l2d exited with a request in flight and 30 s of drain left");
    int64_t t0 = it_now_ms();
    int status = it_stop(&srv, SIGTERM, SLACK_MS);
    fprintf(stderr, "[lifecycle] SIGTERM in the drain after SIGINT: exited at %lld ms\n",
            (long long)(it_now_ms() - t0));
    expect_exit(status, 1, "SIGTERM after SIGINT");
    close(fd);
}

/* Reads one whole answer on fd, which the server closes after it. */
static void read_closing_answer(int fd, struct it_response *r, const char *what)
{
    static char buf[16384];
    bool closed = false;
    size_t n = it_recv_until(fd, buf, sizeof buf, "\x01", 10000, &closed);
    cr_assert(closed, "%s: the connection stayed open after the answer", what);
    cr_assert(it_parse_response(buf, n, r), "%s: no whole answer: %s", what, buf);
    cr_assert(has_close(r), "%s: no Connection: close", what);
}

/* Once the listener has closed, a request in flight ends with its right
 * answer, a request on a connection opened before the signal is served
 * (Connection: close), and the process exits 0 as soon as both are done,
 * long before its 30 s drain timeout. */
Test(lifecycle, drain_serves_open_connections_then_exits)
{
    const char *args[] = {"--shutdown-delay", "1", "--drain-timeout", "30", NULL};
    it_start(&srv, args, NULL);
    int stuck = stuck_request();

    int open = it_connect(srv.port);
    const char hello[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    cr_assert(it_send_all(open, hello, sizeof hello - 1));
    char buf[4096];
    bool closed = false;
    it_recv_until(open, buf, sizeof buf, "\"}", 5000, &closed);
    cr_assert(strstr(buf, " 200 ") != NULL && !closed, "keep-alive /healthz: %s", buf);

    int64_t t0 = it_now_ms();
    cr_assert(kill(srv.pid, SIGTERM) == 0);
    int64_t refused = wait_refused(srv.port, t0, 1000, 1000 + SLACK_MS);

    const char compute[] = "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Type: application/json\r\nContent-Length: 6\r\n\r\n[3, 4]";
    cr_assert(it_send_all(open, compute, sizeof compute - 1));
    struct it_response r;
    read_closing_answer(open, &r, "a request on a connection opened before the signal");
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_result(j, 12.5, 25.0, 2);
    json_decref(j);
    it_response_free(&r);
    close(open);
    cr_assert(it_alive(&srv), "l2d exited with a request in flight");

    cr_assert(it_send_all(stuck, ", 3]", 4));
    read_closing_answer(stuck, &r, "the request in flight");
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    j = it_json(&r);
    it_expect_result(j, 7.0, 14.0, 3);
    json_decref(j);
    it_response_free(&r);
    close(stuck);
    int64_t answered = it_now_ms() - t0;

    int status = it_wait_exit(&srv, SLACK_MS);
    fprintf(stderr,
            "[lifecycle] drain: refused at %lld ms, last answer at %lld ms, exited at %lld ms\n",
            (long long)refused, (long long)answered, (long long)(it_now_ms() - t0));
    expect_exit(status, 0, "after the drain");
}

/* The request both shutdown-queue tests send, and what they expect of each
 * client fd (number i) after the signal: an answer of [3, 4], then the
 * connection closed by the exit. */
static const char queued_req[] =
    "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Type: application/json\r\nContent-Length: 6\r\n\r\n[3, 4]";

static void expect_answered_then_closed(int fd, int i)
{
    static char buf[16384];
    bool closed = false;
    size_t n = it_recv_until(fd, buf, sizeof buf, "\x01", 10000, &closed);
    struct it_response r;

    cr_assert(closed, "client %d: the connection stayed open", i);
    cr_assert(it_parse_response(buf, n, &r), "client %d: no whole answer: %s", i, buf);
    cr_assert_eq(r.status, 200, "client %d: %ld %s", i, r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_result(j, 12.5, 25.0, 2);
    json_decref(j);
    it_response_free(&r);
    close(fd);
}

/* Connections still in the listener's accept queue when it closes are
 * served, not reset: with the server stopped (SIGSTOP), 100 clients connect
 * and send a whole request, which the kernel queues; SIGINT (no lame duck)
 * and SIGCONT: every one of them gets its answer and the process exits 0. */
Test(lifecycle, accept_queue_served_at_close)
{
    enum { CLIENTS = 100 };
    const char *args[] = {"--threads", "1", "--drain-timeout", "20", NULL};
    int fds[CLIENTS];

    it_start(&srv, args, NULL);
    cr_assert(kill(srv.pid, SIGSTOP) == 0);
    for (int i = 0; i < CLIENTS; i++) {
        fds[i] = it_connect(srv.port);
        cr_assert(it_send_all(fds[i], queued_req, sizeof queued_req - 1));
    }
    cr_assert(kill(srv.pid, SIGINT) == 0);
    cr_assert(kill(srv.pid, SIGCONT) == 0);
    /* The daemon may answer the first few before main has taken the
     * signal: those need not carry Connection: close, but every one is
     * answered, and every connection is closed by the exit. */
    for (int i = 0; i < CLIENTS; i++)
        expect_answered_then_closed(fds[i], i);
    int status = it_wait_exit(&srv, SLACK_MS);
    expect_exit(status, 0, "after serving the accept queue");
}

/* A request that arrives on a kept-alive connection just as the shutdown
 * begins is served: with the server stopped (SIGSTOP), 50 clients that have
 * each had one answer send a second request, which waits in their sockets;
 * SIGINT and SIGCONT: nothing is in flight when main looks, but the drain
 * waits for the bytes in the sockets, and every client gets its answer. */
Test(lifecycle, request_waiting_on_open_connection_served_at_close)
{
    enum { CLIENTS = 50 };
    const char *args[] = {"--threads", "1", "--drain-timeout", "20", NULL};
    int fds[CLIENTS];
    char buf[4096];
    bool closed;

    it_start(&srv, args, NULL);
    for (int i = 0; i < CLIENTS; i++) {
        fds[i] = it_connect(srv.port);
        cr_assert(it_send_all(fds[i], queued_req, sizeof queued_req - 1));
        it_recv_until(fds[i], buf, sizeof buf, "\"float64\"}", 5000, &closed);
        cr_assert(strstr(buf, " 200 ") != NULL && !closed, "client %d, first answer: %s", i, buf);
    }
    cr_assert(kill(srv.pid, SIGSTOP) == 0);
    for (int i = 0; i < CLIENTS; i++)
        cr_assert(it_send_all(fds[i], queued_req, sizeof queued_req - 1));
    cr_assert(kill(srv.pid, SIGINT) == 0);
    cr_assert(kill(srv.pid, SIGCONT) == 0);
    for (int i = 0; i < CLIENTS; i++)
        expect_answered_then_closed(fds[i], i);
    int status = it_wait_exit(&srv, SLACK_MS);
    expect_exit(status, 0, "after serving the requests waiting on open connections");
}

/* Whether sig is in the SigIgn mask of /proc/PID/status. */
static bool signal_ignored(pid_t pid, int sig)
{
    char path[64], line[256];
    unsigned long long mask = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "SigIgn: %llx", &mask) == 1)
            break;
    fclose(f);
    return (mask >> (sig - 1)) & 1;
}

/* Started with SIGINT and SIGTERM ignored (as a shell's background job is),
 * l2d takes both back: neither is ignored, and SIGINT stops it, status 0. */
Test(lifecycle, signals_ignored_by_the_parent_are_taken_back)
{
    const char *const wrapper[] = {"/bin/sh", "-c", "trap '' INT TERM; exec \"$@\"", "sh", NULL};
    const char *args[] = {"--shutdown-delay", "0", NULL};

    it_start_wrapped(&srv, wrapper, NULL, args, NULL);
    cr_assert_not(signal_ignored(srv.pid, SIGINT), "SIGINT is still ignored");
    cr_assert_not(signal_ignored(srv.pid, SIGTERM), "SIGTERM is still ignored");
    int status = it_stop(&srv, SIGINT, SLACK_MS);
    expect_exit(status, 0, "SIGINT after starting with it ignored");
}
