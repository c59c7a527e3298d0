/* config.c -- the service's settings, from command-line flags and L2D_* environment
 * variables (flags win).
 *
 * One table lists every valued option with its range; environment variables
 * are read first and flags override them, each value checked with an end
 * pointer and its range before it is accepted. */
#include "config.h"
#include "tracked.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "version.h"

#define CONFIG_THREADS_MAX 1024
#define CONFIG_CONNECTIONS_MAX 1000000
#define CONFIG_SECONDS_MAX 86400
#define CONFIG_DEFAULT_MAX_BODY 268435456u
#define CONFIG_DEFAULT_CONNECTIONS 1024
#define CONFIG_ENV_MAX 64

enum option_kind {
    OPTION_ADDRESS,    /* the bind address */
    OPTION_UINT,       /* a decimal integer in [min, max] */
    OPTION_PATH,       /* a non-empty string kept as given (a file path, a URL) */
    OPTION_LOG_FORMAT, /* "text" or "json" */
};

struct option_def {
    const char *name; /* flag without the leading "--" */
    enum option_kind kind;
    size_t offset; /* of the uint64_t (OPTION_UINT) or const char * (OPTION_PATH) field */
    uint64_t min, max;
    const char *arg;  /* the value's name in --help */
    const char *help; /* one line */
    bool flag_only;   /* no L2D_<NAME> environment variable */
};

static const struct option_def options[] = {
    {"bind", OPTION_ADDRESS, 0, 0, 0, "ADDR", "IPv4 or IPv6 address to listen on (127.0.0.1)",
     false},
    {"port", OPTION_UINT, offsetof(struct config, port), 0, 65535, "N",
     "TCP port (8080); 0 picks a free port", false},
    {"threads", OPTION_UINT, offsetof(struct config, threads), 1, CONFIG_THREADS_MAX, "N",
     "worker threads (number of online cores)", false},
    {"max-body-bytes", OPTION_UINT, offsetof(struct config, max_body_bytes), 0, INT64_MAX, "N",
     "largest request body accepted (268435456)", false},
    {"timeout", OPTION_UINT, offsetof(struct config, timeout), 0, CONFIG_SECONDS_MAX, "SECONDS",
     "close connections idle this long; 0 never (30)", false},
    {"max-connections", OPTION_UINT, offsetof(struct config, max_connections), 1,
     CONFIG_CONNECTIONS_MAX, "N", "concurrent connections (1024)", false},
    {"shutdown-delay", OPTION_UINT, offsetof(struct config, shutdown_delay), 0, CONFIG_SECONDS_MAX,
     "SECONDS", "after SIGTERM, serve this long with /readyz 503 (5)", false},
    {"drain-timeout", OPTION_UINT, offsetof(struct config, drain_timeout), 0, CONFIG_SECONDS_MAX,
     "SECONDS", "then wait at most this long for requests in flight (10)", false},
    {"max-tracked-series", OPTION_UINT, offsetof(struct config, max_tracked_series), 0, 10000000,
     "N", "(model, tensor) series ?track=MODEL keeps for /metrics and /tracked (10000)", false},
    {"log-format", OPTION_LOG_FORMAT, 0, 0, 0, "FORMAT",
     "log lines as 'text' (default) or 'json' (one object per line)", false},
    {"log-flush-ms", OPTION_UINT, offsetof(struct config, log_flush_ms), 0, 10000, "MS",
     "write access lines in batches at most this old; 0 each at once (100)", false},
    {"tls-cert", OPTION_PATH, offsetof(struct config, tls_cert), 0, 0, "FILE",
     "PEM certificate (chain): serve HTTPS; needs --tls-key", false},
    {"tls-key", OPTION_PATH, offsetof(struct config, tls_key), 0, 0, "FILE",
     "PEM private key of --tls-cert", false},
    {"auth-token-file", OPTION_PATH, offsetof(struct config, auth_token_file), 0, 0, "FILE",
     "require 'Authorization: Bearer <token>', token = the file's content", false},
    {"healthcheck", OPTION_PATH, offsetof(struct config, healthcheck_url), 0, 0, "URL",
     "GET http://HOST:PORT/PATH; exit 0 on 200, else 1 (no env)", true},
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

static void print_usage(FILE *out)
{
    fputs("usage: l2d [OPTION]...\n"
          "       l2d --healthcheck http://HOST:PORT/PATH\n"
          "Serves exact TensorFlow L2 losses over HTTP (POST /l2_loss, POST /regularize).\n\n",
          out);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s %s", options[i].name, options[i].arg);
        fprintf(out, "  %-28s %s\n", left, options[i].help);
    }
    fputs("  --help                       print this help and exit\n"
          "  --version                    print the version and exit\n\n"
          "Each option but --healthcheck can also be set with an environment variable\n"
          "L2D_<NAME>, "
          "e.g. L2D_MAX_BODY_BYTES=1048576; flags win over the environment.\n",
          out);
}

/* Parses a decimal integer in [min, max]: digits only, no sign or spaces. */
static bool parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return false;
    if (v < min || v > max)
        return false;
    *out = (uint64_t)v;
    return true;
}

static bool parse_address(struct config *cfg, const char *s)
{
    size_t len = strlen(s);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&cfg->bind_addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&cfg->bind_addr;

    if (len == 0 || len >= CONFIG_BIND_MAX)
        return false;
    memset(&cfg->bind_addr, 0, sizeof(cfg->bind_addr));
    if (inet_pton(AF_INET, s, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        cfg->bind_ipv6 = false;
    } else if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        cfg->bind_ipv6 = true;
    } else {
        return false;
    }
    memcpy(cfg->bind, s, len + 1);
    return true;
}

/* Applies value to option; source names it in the message ("--port" or
 * "L2D_PORT"). */
static bool apply(struct config *cfg, const struct option_def *opt, const char *source,
                  const char *value, FILE *err)
{
    if (opt->kind == OPTION_ADDRESS) {
        if (parse_address(cfg, value))
            return true;
        fprintf(err, "l2d: %s: expected an IPv4 or IPv6 address, got '%s'\n", source, value);
        return false;
    }
    if (opt->kind == OPTION_PATH) {
        if (value[0] != '\0') {
            *(const char **)((char *)cfg + opt->offset) = value;
            return true;
        }
        fprintf(err, "l2d: %s: expected a non-empty value\n", source);
        return false;
    }
    if (opt->kind == OPTION_LOG_FORMAT) {
        if (strcmp(value, "text") == 0) {
            cfg->log_format = CONFIG_LOG_TEXT;
            return true;
        }
        if (strcmp(value, "json") == 0) {
            cfg->log_format = CONFIG_LOG_JSON;
            return true;
        }
        fprintf(err, "l2d: %s: expected 'text' or 'json', got '%s'\n", source, value);
        return false;
    }
    if (parse_uint(value, opt->min, opt->max, (uint64_t *)((char *)cfg + opt->offset)))
        return true;
    fprintf(err, "l2d: %s: expected an integer %llu..%llu, got '%s'\n", source,
            (unsigned long long)opt->min, (unsigned long long)opt->max, value);
    return false;
}

static void set_defaults(struct config *cfg)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    memset(cfg, 0, sizeof(*cfg));
    parse_address(cfg, "127.0.0.1");
    cfg->port = 8080;
    cfg->threads = cores < 1                    ? 1
                   : cores > CONFIG_THREADS_MAX ? CONFIG_THREADS_MAX
                                                : (uint64_t)cores;
    cfg->max_body_bytes = CONFIG_DEFAULT_MAX_BODY;
    cfg->timeout = 30;
    cfg->max_connections = CONFIG_DEFAULT_CONNECTIONS;
    cfg->shutdown_delay = 5;
    cfg->drain_timeout = 10;
    cfg->log_flush_ms = 100;
    cfg->max_tracked_series = TRACKED_DEFAULT_MAX_SERIES;
}

static const struct option_def *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (strlen(options[i].name) == len && memcmp(options[i].name, name, len) == 0)
            return &options[i];
    }
    return NULL;
}

/* Names option i's environment variable: "max-body-bytes" -> "L2D_MAX_BODY_BYTES".
 * Option names are lowercase letters and '-'. */
static void env_name(size_t i, char env[CONFIG_ENV_MAX])
{
    size_t n = 4;

    memcpy(env, "L2D_", 4);
    for (const char *p = options[i].name; *p != '\0' && n + 1 < CONFIG_ENV_MAX; p++)
        env[n++] = *p == '-' ? '_' : (char)(*p - 'a' + 'A');
    env[n] = '\0';
}

enum config_action config_parse(struct config *cfg, int argc, char **argv, FILE *out, FILE *err)
{
    const char *flag_values[OPTION_COUNT] = {NULL};

    set_defaults(cfg);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *name, *eq;
        const struct option_def *opt;
        size_t len;

        if (strcmp(arg, "--help") == 0) {
            print_usage(out);
            return CONFIG_EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            fprintf(out, "l2d %s\n", L2D_VERSION);
            return CONFIG_EXIT_OK;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            fprintf(err, "l2d: unexpected argument '%s' (see --help)\n", arg);
            return CONFIG_EXIT_USAGE;
        }
        name = arg + 2;
        eq = strchr(name, '=');
        len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        opt = find_option(name, len);
        if (opt == NULL) {
            fprintf(err, "l2d: unknown option '%.*s' (see --help)\n", (int)(len + 2), arg);
            return CONFIG_EXIT_USAGE;
        }
        if (eq != NULL) {
            flag_values[opt - options] = eq + 1;
        } else if (i + 1 < argc) {
            flag_values[opt - options] = argv[++i];
        } else {
            fprintf(err, "l2d: --%s: missing value\n", opt->name);
            return CONFIG_EXIT_USAGE;
        }
    }

    /* Flags win: a variable is read only for options no flag set. */
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char source[CONFIG_ENV_MAX];
        const char *value = flag_values[i];

        if (value != NULL) {
            snprintf(source, sizeof(source), "--%s", options[i].name);
        } else if (!options[i].flag_only) {
            env_name(i, source);
            value = getenv(source);
        }
        if (value != NULL && !apply(cfg, &options[i], source, value, err))
            return CONFIG_EXIT_USAGE;
    }
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        fprintf(err, "l2d: --tls-cert and --tls-key go together (got only %s)\n",
                cfg->tls_cert != NULL ? "--tls-cert" : "--tls-key");
        return CONFIG_EXIT_USAGE;
    }
    if (cfg->healthcheck_url != NULL)
        return CONFIG_HEALTHCHECK;
    return CONFIG_RUN;
}
