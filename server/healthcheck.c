/* healthcheck.c -- `l2d --healthcheck URL`: a probe for container HEALTHCHECKs.
 *
 * One deadline bounds the whole probe: a non-blocking connect, the request
 * written and the status line read are each polled against the time left,
 * so a server that accepts and never answers still ends the probe in
 * HEALTHCHECK_TIMEOUT_MS. */
#include "healthcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEALTHCHECK_REQUEST_MAX (HEALTHCHECK_PATH_MAX + HEALTHCHECK_HOST_MAX + 128)
#define HEALTHCHECK_RESPONSE_MAX 1024

static bool copy_part(char *dst, size_t cap, const char *s, size_t len)
{
    if (len == 0 || len >= cap)
        return false;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return true;
}

bool healthcheck_parse_url(const char *url, struct healthcheck_url *out, char *why, size_t why_len)
{
    const char *p, *host, *host_end, *port = NULL, *path;
    size_t port_len = 0;
    unsigned long n;
    char *end = NULL;

    memset(out, 0, sizeof(*out));
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(why, why_len, "expected a URL http://HOST:PORT/PATH, got '%s'", url);
        return false;
    }
    for (p = url; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#') {
            snprintf(why, why_len, "the URL holds a space, control byte, non-ASCII byte or '#'");
            return false;
        }
    }
    host = url + 7;
    path = host + strcspn(host, "/?");
    if (memchr(host, '@', (size_t)(path - host)) != NULL) {
        snprintf(why, why_len, "user information in the URL is not supported");
        return false;
    }
    if (*host == '[') {
        host_end = memchr(host, ']', (size_t)(path - host));
        if (host_end == NULL) {
            snprintf(why, why_len, "unterminated IPv6 address in the URL");
            return false;
        }
        host++;
        out->ipv6_literal = true;
        p = host_end + 1;
    } else {
        host_end = memchr(host, ':', (size_t)(path - host));
        if (host_end == NULL)
            host_end = path;
        p = host_end;
    }
    if (!copy_part(out->host, sizeof(out->host), host, (size_t)(host_end - host))) {
        snprintf(why, why_len, "the URL's host is empty or too long");
        return false;
    }
    if (p < path) {
        if (*p != ':') {
            snprintf(why, why_len, "unexpected bytes after the URL's host");
            return false;
        }
        port = p + 1;
        port_len = (size_t)(path - port);
    }
    if (port != NULL) {
        if (port_len == 0 || port_len > 5 || strspn(port, "0123456789") < port_len) {
            snprintf(why, why_len, "the URL's port is not a number 1..65535");
            return false;
        }
        n = strtoul(port, &end, 10);
        if (end != port + port_len || n < 1 || n > 65535) {
            snprintf(why, why_len, "the URL's port is not a number 1..65535");
            return false;
        }
        memcpy(out->port, port, port_len);
        out->port[port_len] = '\0';
    } else {
        memcpy(out->port, "80", 3);
    }
    if (*path == '\0') {
        memcpy(out->path, "/", 2);
    } else if (*path == '?') {
        if (strlen(path) + 2 > sizeof(out->path)) {
            snprintf(why, why_len, "the URL's path is too long");
            return false;
        }
        out->path[0] = '/';
        memcpy(out->path + 1, path, strlen(path) + 1);
    } else if (!copy_part(out->path, sizeof(out->path), path, strlen(path))) {
        snprintf(why, why_len, "the URL's path is too long");
        return false;
    }
    return true;
}

int healthcheck_parse_status(const char *data, size_t len)
{
    const char *eol = memchr(data, '\n', len);
    int code = 0;

    if (eol == NULL || len < 12 || memcmp(data, "HTTP/1.", 7) != 0)
        return -1;
    if ((data[7] != '0' && data[7] != '1') || data[8] != ' ')
        return -1;
    for (size_t i = 9; i < 12; i++) {
        if (data[i] < '0' || data[i] > '9')
            return -1;
        code = code * 10 + (data[i] - '0');
    }
    if (data + 12 != eol && data[12] != ' ' && data[12] != '\r')
        return -1;
    return code;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline; true when they came. */
static bool wait_for(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int64_t left = deadline - now_ms();
        int r;

        if (left <= 0)
            return false;
        r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        return r > 0;
    }
}

/* A connected non-blocking socket to one of addrs, or -1. */
static int connect_any(const struct addrinfo *addrs, int64_t deadline, char *why, size_t why_len)
{
    for (const struct addrinfo *a = addrs; a != NULL; a = a->ai_next) {
        int fd =
            socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        int soerr = 0;
        socklen_t slen = sizeof(soerr);

        if (fd < 0) {
            snprintf(why, why_len, "socket: %s", strerror(errno));
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            return fd;
        if (errno != EINPROGRESS) {
            snprintf(why, why_len, "connect: %s", strerror(errno));
        } else if (!wait_for(fd, POLLOUT, deadline)) {
            snprintf(why, why_len, "connect: timed out");
        } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0 || soerr != 0) {
            snprintf(why, why_len, "connect: %s", strerror(soerr != 0 ? soerr : errno));
        } else {
            return fd;
        }
        close(fd);
    }
    return -1;
}

int healthcheck_run(const char *url, FILE *err)
{
    struct healthcheck_url u;
    struct addrinfo hints, *addrs = NULL;
    char why[HEALTHCHECK_HOST_MAX + 128] = "no address";
    char request[HEALTHCHECK_REQUEST_MAX];
    char response[HEALTHCHECK_RESPONSE_MAX];
    size_t sent = 0, got = 0;
    int64_t deadline = now_ms() + HEALTHCHECK_TIMEOUT_MS;
    int fd = -1, rc, req_len, status = -1, result = 1;

    if (!healthcheck_parse_url(url, &u, why, sizeof(why)))
        goto out;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(u.host, u.port, &hints, &addrs);
    if (rc != 0) {
        snprintf(why, sizeof(why), "cannot resolve '%s': %s", u.host, gai_strerror(rc));
        goto out;
    }
    fd = connect_any(addrs, deadline, why, sizeof(why));
    if (fd < 0)
        goto out_free;
    req_len =
        snprintf(request, sizeof(request),
                 "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: l2d-healthcheck\r\n"
                 "Connection: close\r\n\r\n",
                 u.path, u.ipv6_literal ? "[" : "", u.host, u.ipv6_literal ? "]" : "", u.port);
    if (req_len < 0 || (size_t)req_len >= sizeof(request)) {
        snprintf(why, sizeof(why), "the URL is too long");
        goto out_close;
    }
    while (sent < (size_t)req_len) {
        ssize_t n = send(fd, request + sent, (size_t)req_len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            snprintf(why, sizeof(why), "send: %s", strerror(errno));
            goto out_close;
        } else if (n < 0 && errno == EAGAIN && !wait_for(fd, POLLOUT, deadline)) {
            snprintf(why, sizeof(why), "send: timed out");
            goto out_close;
        }
    }
    while (status < 0) {
        ssize_t n;
        if (got + 1 >= sizeof(response)) {
            snprintf(why, sizeof(why), "no HTTP status line in the answer");
            goto out_close;
        }
        if (!wait_for(fd, POLLIN, deadline)) {
            snprintf(why, sizeof(why), "no answer within %d ms", HEALTHCHECK_TIMEOUT_MS);
            goto out_close;
        }
        n = recv(fd, response + got, sizeof(response) - 1 - got, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            snprintf(why, sizeof(why), "the connection closed before an HTTP status line");
            goto out_close;
        }
        got += (size_t)n;
        status = healthcheck_parse_status(response, got);
        if (status < 0 && memchr(response, '\n', got) != NULL) {
            snprintf(why, sizeof(why), "the answer is not HTTP");
            goto out_close;
        }
    }
    if (status == 200)
        result = 0;
    else
        snprintf(why, sizeof(why), "status %d", status);
out_close:
    close(fd);
out_free:
    freeaddrinfo(addrs);
out:
    if (result != 0)
        fprintf(err, "l2d: healthcheck %s: %s\n", url, why);
    return result;
}
