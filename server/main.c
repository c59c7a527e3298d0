/* main.c -- l2d's entry point: settings, the libmicrohttpd daemon, signals, drain.
 *
 * SIGTERM/SIGINT only set a flag (on whichever thread they land), which the
 * main thread polls. Main then turns the service to draining for
 * --drain-timeout seconds: /readyz and every new request answer 503
 * `draining` with Connection: close, requests in flight finish; then it stops
 * the daemon (closing the listener and whatever is left) and exits 0. A
 * second signal ends the drain at once. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "version.h"

#define CONNECTION_MEMORY_LIMIT (256 * 1024)
#define CONNECTION_MEMORY_INCREMENT (16 * 1024)
#define DRAIN_POLL_MS 20
#define WAIT_POLL_MS 100

static volatile sig_atomic_t signals_received;

static void on_signal(int sig)
{
    (void)sig;
    if (signals_received < 2)
        signals_received++;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[LOG_LINE_MAX - 16];

    (void)cls;
    vsnprintf(buf, sizeof(buf), fmt, ap);
    log_message("libmicrohttpd: %s", buf);
}

static uint64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL); /* EINTR (a signal) just ends the nap early */
}

/* The drain, after the first signal: for --drain-timeout seconds the
 * listener stays open and every new request is answered 503 `draining`
 * (load balancers probing /readyz see it before the port goes away), while
 * requests admitted before the signal run to their end. A second signal cuts
 * it short. */
static void drain(struct request_shared *shared, uint64_t drain_timeout_s)
{
    uint64_t start = monotonic_ms();
    uint64_t limit = drain_timeout_s * 1000u;
    long left;

    atomic_store(&shared->draining, true);
    while (signals_received < 2 && monotonic_ms() - start < limit)
        sleep_ms(DRAIN_POLL_MS);
    left = atomic_load(&shared->in_flight);
    if (left > 0)
        log_message("drain over: closing %ld request%s still in flight", left,
                    left == 1 ? "" : "s");
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct metrics metrics;
    struct request_shared shared;
    struct MHD_Daemon *daemon;
    const union MHD_DaemonInfo *info;
    struct sigaction sa;
    /* poll(2), not epoll: libmicrohttpd 0.9.75's epoll loop misses a client's
     * EOF that arrives with the last bytes of an incomplete request, leaving
     * the connection in CLOSE-WAIT (and its request in flight, holding up a
     * drain) until --timeout. poll sees it; it costs ~15% on /healthz at 256
     * connections and nothing measurable on compute requests. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    /* With one thread MHD wants no pool option at all (it warns even on 1). */
    struct MHD_OptionItem pool[] = {
        {MHD_OPTION_THREAD_POOL_SIZE, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    int result = 1;

    switch (config_parse(&cfg, argc, argv, stdout, stderr)) {
    case CONFIG_EXIT_OK:
        return 0;
    case CONFIG_EXIT_USAGE:
        return 2;
    case CONFIG_RUN:
        break;
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
    metrics_init(&metrics);
    request_shared_init(&shared, &cfg, &metrics);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    daemon = MHD_start_daemon(
        flags, (uint16_t)cfg.port, NULL, NULL, request_handle, &shared, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&cfg.bind_addr, MHD_OPTION_ARRAY,
        pool, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg.timeout, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg.max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY_LIMIT, MHD_OPTION_CONNECTION_MEMORY_INCREMENT,
        (size_t)CONNECTION_MEMORY_INCREMENT, MHD_OPTION_NOTIFY_COMPLETED, request_completed,
        &shared, MHD_OPTION_URI_LOG_CALLBACK, request_uri_log, &shared, MHD_OPTION_END);
    if (daemon == NULL) {
        log_message("cannot listen on %s port %llu: %s", cfg.bind, (unsigned long long)cfg.port,
                    errno != 0 ? strerror(errno) : "libmicrohttpd refused to start");
        goto out;
    }
    info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, "l2d %s listening on http://%s%s%s:%u (threads %llu)\n", L2D_VERSION,
            cfg.bind_ipv6 ? "[" : "", cfg.bind, cfg.bind_ipv6 ? "]" : "",
            info != NULL ? (unsigned)info->port : (unsigned)cfg.port,
            (unsigned long long)cfg.threads);
    fflush(stderr);

    while (signals_received == 0)
        sleep_ms(WAIT_POLL_MS);

    drain(&shared, cfg.drain_timeout);
    MHD_stop_daemon(daemon);
    result = 0;
out:
    return result;
}
