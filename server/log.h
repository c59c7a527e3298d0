/* log.h -- the access log and service messages, one whole line per write.
 *
 * Each line is formatted into a bounded buffer and written with a single
 * write(2) to stderr, so lines from concurrent threads never interleave. */
#ifndef SERVER_LOG_H
#define SERVER_LOG_H

#include <stdint.h>

#define LOG_LINE_MAX 2048

struct log_access_entry {
    const char *request_id; /* printable ASCII; spaces are escaped like the path's */
    const char *method;
    const char *path;    /* raw request path; unprintable bytes are escaped */
    int status;          /* HTTP status sent, 0 when none was */
    uint64_t body_bytes; /* request body bytes received */
    uint64_t duration_ns;
};

/* Writes one access log line:
 * `2026-01-02T03:04:05.678Z <request-id> <method> <path> <status> <bytes> <ms>ms` */
void log_access(const struct log_access_entry *e);

/* Writes "l2d: <message>\n" (printf-style), truncated to LOG_LINE_MAX. */
void log_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
