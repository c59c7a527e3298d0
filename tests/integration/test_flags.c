/* test_flags.c -- each command-line flag's effect on the real binary, its
 * L2D_<NAME> environment variable (the flag wins), --help and --version,
 * and exit status 2 with a message for bad values. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(flags, .init = it_setup, .fini = it_teardown, .timeout = 60);

Test(flags, help_exits_zero)
{
    const char *args[] = {"--help", NULL};
    struct it_run_result res;
    it_run(args, NULL, &res);
    cr_assert_eq(res.exit_code, 0, "--help exit %d; stderr: %s", res.exit_code, res.err);
    const char *flags[] = {"--bind",           "--port",    "--threads",
                           "--max-body-bytes", "--timeout", "--max-connections",
                           "--drain-timeout",  "--help",    "--version"};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        cr_assert(strstr(res.out, flags[i]) || strstr(res.err, flags[i]),
                  "--help does not mention %s:\n%s%s", flags[i], res.out, res.err);
    it_run_free(&res);
}

Test(flags, version_exits_zero_and_matches_server)
{
    const char *args[] = {"--version", NULL};
    struct it_run_result res;
    it_run(args, NULL, &res);
    cr_assert_eq(res.exit_code, 0, "--version exit %d; stderr: %s", res.exit_code, res.err);
    struct it_server srv;
    it_start(&srv, NULL, NULL);
    cr_assert(strlen(srv.version) > 0);
    cr_assert(strstr(res.out, srv.version) != NULL, "--version printed \"%s\", server says %s",
              res.out, srv.version);
    it_run_free(&res);

    struct it_response r;
    it_get(srv.port, "/healthz", &r);
    json_t *j = it_json(&r);
    it_expect_str(j, "version", srv.version);
    json_decref(j);
    it_response_free(&r);
}

/* Runs the binary with a bad setting (as flags, env or both) and asserts
 * exit status 2 with a message on stderr. The server would listen on an
 * ephemeral loopback port if it wrongly accepted the value. */
static void expect_refused(const char *flag, const char *value, const char *const *env)
{
    const char *args[8];
    size_t n = 0;
    args[n++] = "--bind";
    args[n++] = "127.0.0.1";
    if (flag == NULL || strcmp(flag, "--port") != 0) {
        args[n++] = "--port";
        args[n++] = "0";
    }
    if (flag != NULL)
        args[n++] = flag;
    if (value != NULL)
        args[n++] = value;
    args[n] = NULL;
    struct it_run_result res;
    it_run(args, env, &res);
    cr_assert_eq(res.exit_code, 2, "%s %s (env %s): exit %d, want 2; stderr: %s", flag ? flag : "",
                 value ? value : "", env ? env[0] : "-", res.exit_code, res.err);
    cr_assert(strlen(res.err) > 0, "%s %s: no message on stderr", flag ? flag : "",
              value ? value : "");
    it_run_free(&res);
}

Test(flags, bad_values_exit_2)
{
    expect_refused("--port", "abc", NULL);
    expect_refused("--port", "70000", NULL);
    expect_refused("--port", "-1", NULL);
    expect_refused("--port", "", NULL);
    expect_refused("--port", NULL, NULL); /* missing value */
    expect_refused("--threads", "0", NULL);
    expect_refused("--threads", "two", NULL);
    expect_refused("--max-body-bytes", "-1", NULL);
    expect_refused("--max-body-bytes", "12x", NULL);
    expect_refused("--timeout", "-5", NULL);
    expect_refused("--timeout", "soon", NULL);
    expect_refused("--max-connections", "many", NULL);
    expect_refused("--drain-timeout", "-1", NULL);
    expect_refused("--bind", "not-an-address", NULL);
    expect_refused("--no-such-flag", NULL, NULL);
    expect_refused("--log-format", "yaml", NULL);
    expect_refused("--tls-cert", "/dev/null", NULL);
}

Test(flags, bad_env_values_exit_2)
{
    const char *threads[] = {"L2D_THREADS=0", NULL};
    expect_refused(NULL, NULL, threads);
    const char *body[] = {"L2D_MAX_BODY_BYTES=-1x", NULL};
    expect_refused(NULL, NULL, body);
    const char *timeout[] = {"L2D_TIMEOUT=never", NULL};
    expect_refused(NULL, NULL, timeout);
    /* L2D_PORT is the port when no --port is given. */
    const char *port[] = {"L2D_PORT=abc", NULL};
    const char *args[] = {"--bind", "127.0.0.1", NULL};
    struct it_run_result res;
    it_run(args, port, &res);
    cr_assert_eq(res.exit_code, 2, "L2D_PORT=abc: exit %d; stderr: %s", res.exit_code, res.err);
    cr_assert(strlen(res.err) > 0);
    it_run_free(&res);
}

Test(flags, threads_in_startup_line)
{
    struct it_server srv;
    const char *args[] = {"--threads", "3", NULL};
    it_start(&srv, args, NULL);
    cr_assert_eq(srv.threads, 3, "startup line says threads %d", srv.threads);
    struct it_response r;
    it_get(srv.port, "/healthz", &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);

    struct it_server one;
    const char *args1[] = {"--threads", "1", NULL};
    it_start(&one, args1, NULL);
    cr_assert_eq(one.threads, 1);
}

static void post_size(int port, size_t len, long want)
{
    char *b = malloc(len + 1);
    cr_assert(b != NULL);
    memset(b, ' ', len);
    b[0] = '[';
    b[1] = '3';
    b[len - 1] = ']';
    struct it_response r;
    it_post(port, "/l2_loss", "application/json", b, len, &r);
    cr_assert_eq(r.status, want, "%zu-byte body: %ld, want %ld (%s)", len, r.status, want, r.body);
    if (want == 200) {
        json_t *j = it_json(&r);
        it_expect_real(j, "loss", 4.5);
        json_decref(j);
    } else {
        json_decref(it_expect_problem(&r, 413, "payload_too_large"));
    }
    it_response_free(&r);
    free(b);
}

Test(flags, max_body_bytes)
{
    struct it_server srv;
    const char *args[] = {"--max-body-bytes", "1000", NULL};
    it_start(&srv, args, NULL);
    post_size(srv.port, 1000, 200);
    post_size(srv.port, 1001, 413);
    post_size(srv.port, 999, 200);
    post_size(srv.port, 5000, 413);
}

/* A chunked body of exactly the limit passes; one byte more is refused. */
static void post_chunked_size(int port, size_t len, long want)
{
    char *b = malloc(len + 1);
    cr_assert(b != NULL);
    memset(b, ' ', len);
    b[0] = '[';
    b[1] = '3';
    b[len - 1] = ']';
    struct it_chunks src = {b, len, 0, 97, 0};
    struct it_request req = {.method = "POST",
                             .target = "/l2_loss",
                             .content_type = "application/json",
                             .read_fn = it_read_chunks,
                             .read_ctx = &src,
                             .read_size = -1};
    struct it_response r;
    it_http(NULL, port, &req, &r);
    cr_assert_eq(r.status, want, "chunked %zu-byte body: %ld, want %ld (%s)", len, r.status, want,
                 r.body);
    if (want != 200)
        json_decref(it_expect_problem(&r, 413, "payload_too_large"));
    it_response_free(&r);
    free(b);
}

Test(flags, max_body_bytes_chunked)
{
    struct it_server srv;
    const char *args[] = {"--max-body-bytes", "1000", NULL};
    it_start(&srv, args, NULL);
    post_chunked_size(srv.port, 1000, 200);
    post_chunked_size(srv.port, 1001, 413);
    post_chunked_size(srv.port, 20000, 413);
    post_chunked_size(srv.port, 10, 200);
}

Test(flags, env_max_body_bytes_and_flag_wins)
{
    struct it_server srv;
    const char *env[] = {"L2D_MAX_BODY_BYTES=1000", NULL};
    it_start(&srv, NULL, env);
    post_size(srv.port, 1000, 200);
    post_size(srv.port, 1001, 413);

    struct it_server srv2;
    const char *args[] = {"--max-body-bytes", "2000", NULL};
    it_start(&srv2, args, env);
    post_size(srv2.port, 1500, 200);
    post_size(srv2.port, 2001, 413);
}

Test(flags, env_port_and_flag_wins)
{
    char e[32];
    int p1 = it_free_port();
    snprintf(e, sizeof e, "L2D_PORT=%d", p1);
    const char *env[] = {e, NULL};
    const char *args[] = {"--bind", "127.0.0.1", NULL};
    struct it_server srv;
    it_start_raw(&srv, args, env);
    cr_assert_eq(srv.port, p1, "L2D_PORT=%d, but listening on %d", p1, srv.port);
    struct it_response r;
    it_get(p1, "/healthz", &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    cr_assert_eq(it_stop(&srv, SIGKILL, 5000) != -1, 1);

    int p2 = it_free_port();
    char pflag[16];
    snprintf(pflag, sizeof pflag, "%d", p2);
    const char *args2[] = {"--bind", "127.0.0.1", "--port", pflag, NULL};
    it_start_raw(&srv, args2, env);
    cr_assert_eq(srv.port, p2, "--port %d with L2D_PORT=%d: listening on %d", p2, p1, srv.port);
    it_get(p2, "/healthz", &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
}

Test(flags, env_threads)
{
    const char *env[] = {"L2D_THREADS=2", NULL};
    struct it_server srv;
    it_start(&srv, NULL, env);
    cr_assert_eq(srv.threads, 2);
    const char *args[] = {"--threads", "1", NULL};
    struct it_server srv2;
    it_start(&srv2, args, env);
    cr_assert_eq(srv2.threads, 1, "--threads 1 with L2D_THREADS=2: %d", srv2.threads);
}

Test(flags, timeout_closes_idle_connections, .timeout = 30)
{
    struct it_server srv;
    const char *args[] = {"--timeout", "1", NULL};
    it_start(&srv, args, NULL);

    int silent = it_connect(srv.port);
    int partial = it_connect(srv.port);
    const char *head = "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    cr_assert(it_send_all(partial, head, strlen(head)));
    int body = it_connect(srv.port);
    const char *req = "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      "application/json\r\nContent-Length: 100\r\n\r\n[1, 2";
    cr_assert(it_send_all(body, req, strlen(req)));

    /* Timeout 1 s; 8 s of slack for a loaded machine. */
    cr_assert(it_wait_closed(silent, 9000), "a silent connection was not closed");
    cr_assert(it_wait_closed(partial, 9000), "a connection with partial headers was not closed");
    cr_assert(it_wait_closed(body, 9000), "a connection with a stalled body was not closed");
    close(silent);
    close(partial);
    close(body);

    struct it_response r;
    it_get(srv.port, "/healthz", &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
}

Test(flags, max_connections, .timeout = 30)
{
    struct it_server srv;
    const char *args[] = {"--max-connections", "2", NULL};
    it_start(&srv, args, NULL);

    /* Two connections with an unfinished request each hold both slots. */
    const char *head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    int a = it_connect(srv.port);
    int b = it_connect(srv.port);
    cr_assert(it_send_all(a, head, strlen(head)));
    cr_assert(it_send_all(b, head, strlen(head)));
    it_sleep_ms(300);

    /* A third: refused (closed) or left waiting, never answered now. */
    int c = it_connect(srv.port);
    const char *full = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    it_send_all(c, full, strlen(full));
    char buf[2048];
    bool closed;
    size_t n = it_recv_until(c, buf, sizeof buf, "\r\n\r\n", 1500, &closed);
    cr_assert(strstr(buf, "200 OK") == NULL && strstr(buf, " 200 ") == NULL,
              "a third connection was served over --max-connections 2 (%zu bytes: %.100s)", n, buf);
    close(c);

    /* Finishing the two frees their slots; the server goes on serving. */
    cr_assert(it_send_all(a, "Connection: close\r\n\r\n", 21));
    cr_assert(it_send_all(b, "Connection: close\r\n\r\n", 21));
    n = it_recv_until(a, buf, sizeof buf, "\r\n\r\n", 5000, &closed);
    cr_assert(strstr(buf, " 200 ") != NULL, "held connection a: %.200s", buf);
    n = it_recv_until(b, buf, sizeof buf, "\r\n\r\n", 5000, &closed);
    cr_assert(strstr(buf, " 200 ") != NULL, "held connection b: %.200s", buf);
    close(a);
    close(b);

    struct it_response r;
    for (int i = 0; i < 5; i++) {
        it_get(srv.port, "/healthz", &r);
        cr_assert_eq(r.status, 200, "after the limit: %ld", r.status);
        it_response_free(&r);
    }
}

Test(flags, drain_timeout_bounds_shutdown, .timeout = 30)
{
    struct it_server srv;
    const char *args[] = {"--drain-timeout", "1", NULL};
    it_start(&srv, args, NULL);
    struct it_response r;
    it_get(srv.port, "/healthz", &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);

    /* A connection that never finishes its request must not hold the exit
     * beyond the drain timeout (generous slack). */
    int stuck = it_connect(srv.port);
    const char *req = "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      "application/json\r\nContent-Length: 1000\r\n\r\n[1, 2";
    cr_assert(it_send_all(stuck, req, strlen(req)));
    it_sleep_ms(100);

    /* 8 s: well past 1 s, and short of the 10 s default drain. */
    int status = it_stop(&srv, SIGTERM, 8000);
    close(stuck);
    cr_assert(status != -1, "l2d --drain-timeout 1 did not exit within 8 s of SIGTERM");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
}

/* Clients that vanish (mid-body, mid-headers, after junk) give their slot
 * back: with --max-connections 2, ten of them in a row leave room to serve. */
Test(flags, vanished_clients_free_their_connection_slots, .timeout = 60)
{
    struct it_server srv;
    const char *args[] = {"--max-connections", "2", NULL};
    it_start(&srv, args, NULL);
    const char *sends[] = {
        ("POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
         "Content-Length: 1000000\r\n\r\n[1, 2, 3, "),
        "GET /healthz HTTP/1.1\r\nHost: 127.0",
        "",
        "\r\n\r\n\r\n",
    };
    for (int k = 0; k < 10; k++) {
        int fd = it_connect(srv.port);
        const char *s = sends[k % 4];
        it_send_all(fd, s, strlen(s));
        if (k % 2 == 1) {
            struct linger lg = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(fd);
    }
    struct it_response r;
    for (int i = 0; i < 3; i++) {
        struct it_request req = {.method = "GET", .target = "/healthz", .timeout_s = 10};
        CURLcode rc = it_perform(NULL, srv.port, &req, &r);
        cr_assert_eq(rc, CURLE_OK, "request %d after vanished clients: %s", i,
                     curl_easy_strerror(rc));
        it_check_openapi("GET", "/healthz", &r);
        cr_assert_eq(r.status, 200);
        it_response_free(&r);
    }
}
