/* main.c -- l2d's entry point: settings, the libmicrohttpd daemon, signals, shutdown.
 *
 * Every file (token, TLS pair) is read before listening, so a bad one is
 * exit 2 like a bad flag. SIGTERM and SIGINT are blocked in every thread
 * and taken by the main thread alone with sigtimedwait(2), which then runs
 * the shutdown's phases in order (see shut_down()). `--healthcheck URL`
 * runs the probe instead of the service. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "auth.h"
#include "config.h"
#include "healthcheck.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "tls.h"
#include "version.h"

/* Per-connection memory pool: headers, then the read buffer that upload
 * chunks come from. libmicrohttpd 0.9.75 zeroes the whole pool between two
 * requests on a kept-alive connection, so its size is paid on every small
 * request, while a large one gives uploads larger chunks: 64 KiB weighs
 * the two (figures in BENCHMARKS.md). */
#define CONNECTION_MEMORY_LIMIT (64 * 1024)
#define CONNECTION_MEMORY_INCREMENT (16 * 1024)
#define DRAIN_POLL_MS 20
#define WAIT_FOREVER UINT64_MAX
#define URL_MAX 128

/* SIGPIPE is ignored (a client gone mid-answer); SIGTERM and SIGINT get
 * their default action back and are blocked in this thread and in every
 * thread it starts later, and their set is left in set for wait_signal(). */
static void block_signals(sigset_t *set)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* A parent may have left them ignored (a shell's background job does):
     * an ignored signal can be discarded however it is blocked (valgrind
     * does so), and wait_signal() would never see it. */
    sa.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[LOG_LINE_MAX - 16];

    (void)cls;
    vsnprintf(buf, sizeof(buf), fmt, ap);
    log_message(LOG_WARN, "libmicrohttpd: %s", buf);
}

static uint64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits for a signal of set until the monotonic time deadline_ms
 * (WAIT_FOREVER: no deadline); returns it, or 0 when the time ran out. */
static int wait_signal(const sigset_t *set, uint64_t deadline_ms)
{
    for (;;) {
        uint64_t now = monotonic_ms();
        uint64_t left = deadline_ms > now ? deadline_ms - now : 0;
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
        int sig =
            deadline_ms == WAIT_FOREVER ? sigwaitinfo(set, NULL) : sigtimedwait(set, NULL, &ts);

        if (sig > 0)
            return sig;
        if (errno != EINTR) /* EAGAIN: the time ran out */
            return 0;
    }
}

/* A second signal during the shutdown: the process ends now, status 1,
 * cutting whatever is still in flight. */
static _Noreturn void exit_at_once(int sig)
{
    log_message(LOG_WARN, "%s again: exiting at once", sig == SIGINT ? "SIGINT" : "SIGTERM");
    _exit(1);
}

/* Accepts the connections waiting in the accept queue of the quiesced
 * listener (at most DRAIN_BACKLOG_MAX) and hands each to the daemon, which
 * serves it as any other (with Connection: close, as it is shutting down);
 * the drain waits for each until its first request has started or it has
 * closed (drain_backlog_handed). A connection MHD refuses (past
 * --max-connections) is closed by MHD_add_connection itself. */
static void take_backlog(struct MHD_Daemon *daemon, MHD_socket listener,
                         struct request_shared *shared)
{
    int flags = fcntl(listener, F_GETFL);

    if (flags < 0 || fcntl(listener, F_SETFL, flags | O_NONBLOCK) < 0)
        return;
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        int fd = accept(listener, (struct sockaddr *)&addr, &len);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN: the queue is empty */
        }
        if (!drain_backlog_handed(&shared->drain, fd)) {
            close(fd); /* past DRAIN_BACKLOG_MAX: refused, as by the closed listener */
            return;
        }
        if (MHD_add_connection(daemon, fd, (const struct sockaddr *)&addr, len) != MHD_YES) {
            drain_backlog_refused(&shared->drain, fd);
            log_message(LOG_WARN, "a connection waiting at shutdown could not be served");
        }
    }
}

/* The shutdown after the first signal sig, in three phases:
 * - lame duck (SIGTERM only, --shutdown-delay seconds): everything is
 *   served, with Connection: close, but readiness answers 503, so that load
 *   balancers take the replica out while requests still arrive;
 * - the listener closes (new connections are refused) and the requests in
 *   flight, and those arriving on connections already open, are served
 *   for at most --drain-timeout seconds, ending as soon as none is left;
 * - the daemon stops.
 * A second signal in any phase exits at once (exit_at_once()). Returns
 * the listening socket taken from the daemon (to close after
 * MHD_stop_daemon), or MHD_INVALID_SOCKET. */
static MHD_socket shut_down(struct MHD_Daemon *daemon, struct request_shared *shared,
                            const sigset_t *set, int sig)
{
    const struct config *cfg = shared->cfg;
    uint64_t delay = sig == SIGTERM ? cfg->shutdown_delay : 0;
    uint64_t start, limit = cfg->drain_timeout * 1000u;
    MHD_socket listener;
    long left;
    int again;

    atomic_store(&shared->draining, true);
    log_message(LOG_INFO,
                "shutting down on %s: readiness 503 for %llu s, then drain for at most %llu s "
                "(a second signal exits at once)",
                sig == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)delay,
                (unsigned long long)cfg->drain_timeout);
    if (delay > 0 && (again = wait_signal(set, monotonic_ms() + delay * 1000u)) != 0)
        exit_at_once(again);

    /* MHD stops polling the socket; the connections already in its accept
     * queue are handed to MHD to be served (closing the socket would reset
     * them, and a proxy that has sent a request on one cannot always send
     * it again); then shutdown(2) takes the socket out of LISTEN, so a new
     * connection is refused instead of waiting in the backlog. */
    listener = MHD_quiesce_daemon(daemon);
    drain_listener_closed(&shared->drain);
    if (listener != MHD_INVALID_SOCKET) {
        take_backlog(daemon, listener, shared);
        shutdown(listener, SHUT_RDWR);
    }
    left = atomic_load(&shared->in_flight);
    log_message(LOG_INFO, "listener closed; %ld request%s in flight", left, left == 1 ? "" : "s");
    /* The drain is over when two looks, DRAIN_POLL_MS apart, find nothing
     * to wait for: a request the daemon was reading off its socket at the
     * first look is in flight by the second. */
    start = monotonic_ms();
    for (int quiet = 0; monotonic_ms() - start < limit;) {
        if (atomic_load(&shared->in_flight) > 0 || drain_waiting(&shared->drain) > 0)
            quiet = 0;
        else if (++quiet == 2)
            break;
        if ((again = wait_signal(set, monotonic_ms() + DRAIN_POLL_MS)) != 0)
            exit_at_once(again);
    }
    left = atomic_load(&shared->in_flight);
    if (left > 0)
        log_message(LOG_WARN, "drain over: closing %ld request%s still in flight", left,
                    left == 1 ? "" : "s");
    return listener;
}

/* LeakSanitizer's documented hook (used only in sanitizer builds): GnuTLS
 * 3.7 leaks the certificate it was parsing when a PEM certificate block
 * does not decode (inside MHD_start_daemon's TLS setup); l2d then exits 2
 * at once. Suppressed by the allocating GnuTLS functions only, so leaks in
 * l2d's own code are still reported. Not prefixed: the name is the
 * sanitizer runtime's. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:gnutls_x509_crt_init\nleak:gnutls_subject_alt_names_init\n";
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct metrics metrics;
    struct tracked *tracked;
    struct auth auth;
    struct request_shared shared;
    char why[512];
    char url[URL_MAX];
    struct tls tls;
    struct MHD_Daemon *daemon;
    sigset_t signals;
    MHD_socket listener;
    const union MHD_DaemonInfo *info;
    /* poll(2), not epoll: libmicrohttpd 0.9.75's epoll loop misses a client's
     * EOF that arrives with the last bytes of an incomplete request, leaving
     * the connection in CLOSE-WAIT (and its request in flight, holding up a
     * drain) until --timeout. poll sees it, at a cost given in BENCHMARKS.md. */
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    /* With one thread MHD wants no pool option at all (it warns even on 1). */
    struct MHD_OptionItem pool[] = {
        {MHD_OPTION_THREAD_POOL_SIZE, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    /* Without TLS the first entry ends the list. */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    unsigned port;
    int result = 1;

    switch (config_parse(&cfg, argc, argv, stdout, stderr)) {
    case CONFIG_EXIT_OK:
        return 0;
    case CONFIG_EXIT_USAGE:
        return 2;
    case CONFIG_HEALTHCHECK:
        return healthcheck_run(cfg.healthcheck_url, stderr);
    case CONFIG_RUN:
        break;
    }
    log_set_format(cfg.log_format == CONFIG_LOG_JSON ? LOG_JSON : LOG_TEXT);
    block_signals(&signals); /* a signal during startup waits for wait_signal() */
    /* After block_signals: the flusher thread inherits the blocked set. */
    if (!log_buffer_start(STDERR_FILENO, (unsigned)cfg.log_flush_ms))
        log_message(LOG_WARN, "cannot start the log flusher: access lines are written at once");
    metrics_init(&metrics);
    tracked = tracked_new(cfg.max_tracked_series);
    if (tracked == NULL) {
        log_message(LOG_ERROR, "out of memory");
        log_buffer_stop();
        return 1;
    }
    metrics_set_tracked(&metrics, tracked);
    auth_init(&auth);
    tls_init(&tls);
    request_shared_init(&shared, &cfg, &metrics, &auth);
    if (cfg.auth_token_file != NULL && !auth_load(&auth, cfg.auth_token_file, why, sizeof(why))) {
        log_message(LOG_ERROR, "--auth-token-file: %s", why);
        result = 2;
        goto out;
    }
    if (cfg.tls_cert != NULL) {
        if (!tls_load(&tls, cfg.tls_cert, cfg.tls_key, on_mhd_log)) {
            result = 2;
            goto out;
        }
        flags |= MHD_USE_TLS;
        tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, tls.cert};
        tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, tls.key};
    }
    if (cfg.bind_ipv6) {
        ((struct sockaddr_in6 *)&cfg.bind_addr)->sin6_port = htons((uint16_t)cfg.port);
        flags |= MHD_USE_IPv6;
    } else {
        ((struct sockaddr_in *)&cfg.bind_addr)->sin_port = htons((uint16_t)cfg.port);
    }

    if (cfg.threads > 1)
        pool[0].value = (intptr_t)cfg.threads;
    else
        pool[0].option = MHD_OPTION_END;

    daemon = MHD_start_daemon(
        flags, (uint16_t)cfg.port, NULL, NULL, request_handle, &shared, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&cfg.bind_addr, MHD_OPTION_ARRAY,
        pool, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg.timeout,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg.max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY_LIMIT,
        MHD_OPTION_CONNECTION_MEMORY_INCREMENT, (size_t)CONNECTION_MEMORY_INCREMENT,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, &shared, MHD_OPTION_URI_LOG_CALLBACK,
        request_uri_log, &shared, MHD_OPTION_NOTIFY_CONNECTION, request_connection_notify, &shared,
        MHD_OPTION_END);
    if (daemon == NULL) {
        log_message(LOG_ERROR, "cannot listen on %s port %llu: %s", cfg.bind,
                    (unsigned long long)cfg.port,
                    errno != 0 ? strerror(errno) : "libmicrohttpd refused to start");
        goto out;
    }
    info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    port = info != NULL ? (unsigned)info->port : (unsigned)cfg.port;
    snprintf(url, sizeof(url), "%s://%s%s%s:%u", tls.cert != NULL ? "https" : "http",
             cfg.bind_ipv6 ? "[" : "", cfg.bind, cfg.bind_ipv6 ? "]" : "", port);
    log_listening(L2D_VERSION, url, port, cfg.threads, tls.cert != NULL, auth.enabled);

    listener = shut_down(daemon, &shared, &signals, wait_signal(&signals, WAIT_FOREVER));
    MHD_stop_daemon(daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    log_message(LOG_INFO, "stopped"); /* after every buffered access line */
    result = 0;
out:
    log_buffer_stop();
    tls_free(&tls);
    auth_free(&auth);
    tracked_free(tracked);
    return result;
}
