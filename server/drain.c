/* drain.c -- the connections the shutdown's drain waits for (see drain.h).
 *
 * Open connections are a doubly linked list under a mutex: a connection is
 * linked when it opens and unlinked when it closes, so the cost is per
 * connection, not per request. drain_waiting asks the kernel (FIONREAD) how
 * many bytes wait in each socket, under the same lock, and the daemon
 * unlinks a connection (drain_connection_closed) before it closes the
 * socket, so the descriptor asked about is never reused. */
#include "drain.h"

#include <stdlib.h>
#include <sys/ioctl.h>

struct drain_conn {
    struct drain_conn *prev, *next;
    int fd;
    atomic_bool backlog_handed; /* counted in backlog_pending */
};

void drain_init(struct drain *d)
{
    atomic_init(&d->listener_closed, false);
    atomic_init(&d->backlog_n, 0);
    atomic_init(&d->backlog_pending, 0);
    for (size_t i = 0; i < DRAIN_BACKLOG_MAX; i++)
        atomic_init(&d->backlog_fd[i], -1);
    pthread_mutex_init(&d->lock, NULL);
    d->open = NULL;
}

void drain_listener_closed(struct drain *d)
{
    atomic_store(&d->listener_closed, true);
}

bool drain_backlog_handed(struct drain *d, int fd)
{
    size_t n = atomic_load(&d->backlog_n);

    if (n >= DRAIN_BACKLOG_MAX)
        return false;
    atomic_store(&d->backlog_fd[n], fd);
    atomic_fetch_add(&d->backlog_pending, 1);
    atomic_store(&d->backlog_n, n + 1); /* only main writes */
    return true;
}

/* Whether fd is a handed socket not yet seen; marks it seen. */
static bool backlog_claim(struct drain *d, int fd)
{
    size_t n = atomic_load(&d->backlog_n);

    for (size_t i = 0; i < n; i++) {
        int want = fd;
        if (fd >= 0 && atomic_compare_exchange_strong(&d->backlog_fd[i], &want, -1))
            return true;
    }
    return false;
}

void drain_backlog_refused(struct drain *d, int fd)
{
    if (backlog_claim(d, fd))
        atomic_fetch_sub(&d->backlog_pending, 1);
}

void drain_connection_started(struct drain *d, struct MHD_Connection *connection,
                              void **socket_context)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = ci != NULL ? ci->connect_fd : -1;
    struct drain_conn *c = malloc(sizeof *c);
    /* One main handed from the closed listener's queue is waited for until
     * its first request (without memory for its state, not). */
    bool handed = atomic_load(&d->listener_closed) && backlog_claim(d, fd);

    *socket_context = c;
    if (c == NULL) {
        if (handed)
            atomic_fetch_sub(&d->backlog_pending, 1);
        return;
    }
    c->fd = fd;
    atomic_init(&c->backlog_handed, handed);
    c->prev = NULL;
    pthread_mutex_lock(&d->lock);
    c->next = d->open;
    if (d->open != NULL)
        d->open->prev = c;
    d->open = c;
    pthread_mutex_unlock(&d->lock);
}

void drain_request_started(struct drain *d, void *ctx)
{
    struct drain_conn *c = ctx;

    if (c != NULL && atomic_load(&c->backlog_handed) && atomic_exchange(&c->backlog_handed, false))
        atomic_fetch_sub(&d->backlog_pending, 1);
}

void drain_connection_closed(struct drain *d, void **socket_context)
{
    struct drain_conn *c = *socket_context;

    if (c == NULL)
        return;
    drain_request_started(d, c);
    pthread_mutex_lock(&d->lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        d->open = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&d->lock);
    free(c);
    *socket_context = NULL;
}

long drain_waiting(struct drain *d)
{
    long n = atomic_load(&d->backlog_pending);

    pthread_mutex_lock(&d->lock);
    for (const struct drain_conn *c = d->open; c != NULL; c = c->next) {
        int bytes = 0;
        if (ioctl(c->fd, FIONREAD, &bytes) == 0 && bytes > 0)
            n++;
    }
    pthread_mutex_unlock(&d->lock);
    return n;
}
