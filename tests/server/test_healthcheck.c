/* test_healthcheck.c -- the --healthcheck URL parser and status-line reader,
 * and the probe against a socket that answers or stays silent. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/healthcheck.h"

Test(healthcheck, parses_urls)
{
    struct healthcheck_url u;
    char why[256];

    cr_assert(healthcheck_parse_url("http://127.0.0.1:8080/healthz", &u, why, sizeof why), "%s",
              why);
    cr_assert_str_eq(u.host, "127.0.0.1");
    cr_assert_str_eq(u.port, "8080");
    cr_assert_str_eq(u.path, "/healthz");
    cr_assert_not(u.ipv6_literal);

    cr_assert(healthcheck_parse_url("http://localhost", &u, why, sizeof why), "%s", why);
    cr_assert_str_eq(u.host, "localhost");
    cr_assert_str_eq(u.port, "80");
    cr_assert_str_eq(u.path, "/");

    cr_assert(healthcheck_parse_url("http://[::1]:9000/readyz?x=1", &u, why, sizeof why), "%s",
              why);
    cr_assert_str_eq(u.host, "::1");
    cr_assert_str_eq(u.port, "9000");
    cr_assert_str_eq(u.path, "/readyz?x=1");
    cr_assert(u.ipv6_literal);

    cr_assert(healthcheck_parse_url("http://h:1?q", &u, why, sizeof why), "%s", why);
    cr_assert_str_eq(u.path, "/?q");
}

Test(healthcheck, refuses_bad_urls)
{
    struct healthcheck_url u;
    char why[256];
    const char *bad[] = {
        "https://127.0.0.1:8080/healthz",
        "127.0.0.1:8080/healthz",
        "http://",
        "http://:8080/",
        "http://127.0.0.1:/",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:65536/",
        "http://127.0.0.1:80a/",
        "http://127.0.0.1:8080/a b",
        "http://127.0.0.1:8080/x#frag",
        "http://user@127.0.0.1:8080/",
        "http://[::1/",
        "http://[::1]x/",
        "http://127.0.0.1:8080/\r\nX: y",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        cr_assert_not(healthcheck_parse_url(bad[i], &u, why, sizeof why), "accepted %s", bad[i]);
        cr_assert(why[0] != '\0', "no reason for %s", bad[i]);
    }
}

Test(healthcheck, parses_status_lines)
{
    cr_assert_eq(healthcheck_parse_status("HTTP/1.1 200 OK\r\n", 17), 200);
    cr_assert_eq(healthcheck_parse_status("HTTP/1.0 503 Service Unavailable\r\n", 34), 503);
    cr_assert_eq(healthcheck_parse_status("HTTP/1.1 200\r\n", 14), 200);
    cr_assert_eq(healthcheck_parse_status("HTTP/1.1 200 OK", 15), -1); /* incomplete */
    cr_assert_eq(healthcheck_parse_status("HTTP/2 200 OK\r\n", 15), -1);
    cr_assert_eq(healthcheck_parse_status("SSH-2.0-OpenSSH\r\n", 17), -1);
    cr_assert_eq(healthcheck_parse_status("HTTP/1.1 2x0 OK\r\n", 17), -1);
    cr_assert_eq(healthcheck_parse_status("HTTP/1.1 2000 OK\r\n", 18), -1);
}

/* A one-shot server: accepts one connection, reads the request, sends
 * answer (NULL: says nothing and holds the connection until the client
 * closes it). */
struct one_shot {
    int listener;
    const char *answer;
    char request[1024];
};

static void *serve_once(void *arg)
{
    struct one_shot *s = arg;
    int fd = accept(s->listener, NULL, NULL);
    if (fd < 0)
        return NULL;
    ssize_t n = recv(fd, s->request, sizeof s->request - 1, 0);
    if (n > 0)
        s->request[n] = '\0';
    if (s->answer != NULL)
        send(fd, s->answer, strlen(s->answer), MSG_NOSIGNAL);
    else
        while (recv(fd, s->request, sizeof s->request - 1, 0) > 0)
            ; /* hold on until the probe gives up and closes */
    close(fd);
    return NULL;
}

static int probe(const char *answer, struct one_shot *s, const char *path)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof a;
    pthread_t t;
    char url[128];
    int rc;
    FILE *err = fopen("/dev/null", "w");

    memset(s, 0, sizeof *s);
    s->answer = answer;
    s->listener = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(s->listener, (struct sockaddr *)&a, sizeof a) == 0);
    cr_assert(listen(s->listener, 1) == 0);
    cr_assert(getsockname(s->listener, (struct sockaddr *)&a, &alen) == 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", ntohs(a.sin_port), path);
    pthread_create(&t, NULL, serve_once, s);
    rc = healthcheck_run(url, err);
    pthread_join(t, NULL);
    close(s->listener);
    fclose(err);
    return rc;
}

Test(healthcheck, probe_exit_codes)
{
    struct one_shot s;
    cr_assert_eq(probe("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &s, "/healthz"), 0);
    cr_assert(strncmp(s.request, "GET /healthz HTTP/1.1\r\n", 23) == 0, "%s", s.request);
    cr_assert(strstr(s.request, "\r\nHost: 127.0.0.1:") != NULL, "%s", s.request);
    cr_assert_eq(probe("HTTP/1.1 503 Service Unavailable\r\n\r\n", &s, "/readyz"), 1);
    cr_assert_eq(probe("garbage\r\n", &s, "/"), 1);
    cr_assert_eq(probe("", &s, "/"), 1); /* closed without a status line */
}

Test(healthcheck, probe_gives_up_on_a_silent_server)
{
    struct one_shot s;
    cr_assert_eq(probe(NULL, &s, "/healthz"), 1);
}
