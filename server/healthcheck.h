/* healthcheck.h -- `l2d --healthcheck URL`: a probe for container HEALTHCHECKs.
 *
 * GETs an http:// URL with plain sockets (no TLS, no libcurl) and reports
 * whether it answered 200, all within a fixed time budget, so an image
 * needs nothing but the l2d binary to check itself. */
#ifndef SERVER_HEALTHCHECK_H
#define SERVER_HEALTHCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define HEALTHCHECK_TIMEOUT_MS 3000
#define HEALTHCHECK_HOST_MAX 256
#define HEALTHCHECK_PATH_MAX 1024

struct healthcheck_url {
    char host[HEALTHCHECK_HOST_MAX]; /* without IPv6 brackets */
    char port[6];                    /* decimal 1..65535 */
    char path[HEALTHCHECK_PATH_MAX]; /* starts with '/' */
    bool ipv6_literal;
};

/* Parses `http://HOST[:PORT][/PATH]` (PORT defaults to 80, PATH to "/";
 * HOST a name, an IPv4 address or a bracketed IPv6 address). False, with a
 * reason in why, for anything else (https, user info, fragments, control
 * bytes or spaces, over-long parts). */
bool healthcheck_parse_url(const char *url, struct healthcheck_url *out, char *why, size_t why_len);

/* Extracts the status code from the start of an HTTP/1.x response
 * (`HTTP/1.1 200 OK\r\n…`); -1 when data[0..len) does not begin with a
 * complete status line. */
int healthcheck_parse_status(const char *data, size_t len);

/* Runs the probe of url: returns 0 when it answered 200 within
 * HEALTHCHECK_TIMEOUT_MS, 1 otherwise, with one line on err saying why. */
int healthcheck_run(const char *url, FILE *err);

#endif
