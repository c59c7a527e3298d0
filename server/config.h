/* config.h -- the service's settings, from command-line flags and L2D_* environment
 * variables (flags win).
 *
 * Every option is one row of a table: its flag, its environment variable, its
 * range and its help line, so parsing, validation and --help cannot disagree. */
#ifndef SERVER_CONFIG_H
#define SERVER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CONFIG_BIND_MAX 64

enum config_log_format {
    CONFIG_LOG_TEXT, /* one plain line per request (the default) */
    CONFIG_LOG_JSON, /* one JSON object per line */
};

struct config {
    char bind[CONFIG_BIND_MAX];        /* numeric IPv4 or IPv6 address, as given */
    struct sockaddr_storage bind_addr; /* bind parsed, port filled in */
    bool bind_ipv6;
    uint64_t port;               /* 0..65535; 0 picks a free port */
    uint64_t threads;            /* MHD thread pool size, 1..1024 */
    uint64_t max_body_bytes;     /* request bodies above this are 413 */
    uint64_t timeout;            /* idle connection timeout, seconds (0: none) */
    uint64_t max_connections;    /* concurrent connections */
    uint64_t shutdown_delay;     /* lame-duck seconds after SIGTERM (readiness 503) */
    uint64_t drain_timeout;      /* seconds for requests in flight once the listener closes */
    uint64_t max_tracked_series; /* (model, tensor) series ?track keeps (server/tracked.h) */
    enum config_log_format log_format;
    uint64_t log_flush_ms; /* access lines buffered at most this long (0: written at once) */
    /* Paths as given (pointing into argv or the environment), NULL when unset. */
    const char *tls_cert;        /* PEM certificate: serve HTTPS (with tls_key) */
    const char *tls_key;         /* PEM private key */
    const char *auth_token_file; /* require `Authorization: Bearer <its content>` */
    const char *healthcheck_url; /* --healthcheck: probe this URL instead of serving */
};

enum config_action {
    CONFIG_RUN,         /* settings valid: start the service */
    CONFIG_EXIT_OK,     /* --help or --version was printed: exit 0 */
    CONFIG_EXIT_USAGE,  /* a bad flag, value or variable was reported: exit 2 */
    CONFIG_HEALTHCHECK, /* --healthcheck URL: probe cfg->healthcheck_url and exit */
};

/* Fills cfg from the defaults, then the L2D_* environment variables, then
 * argv. --help and --version print to out; every problem is reported as one
 * line on err ("l2d: --port: expected an integer 0..65535, got 'abc'"), as is
 * --tls-cert without --tls-key or the reverse. --healthcheck has no
 * environment variable (an image's L2D_* settings must not turn the server
 * into a probe). */
enum config_action config_parse(struct config *cfg, int argc, char **argv, FILE *out, FILE *err);

#endif
