/* failalloc.c -- an LD_PRELOAD shim that makes one chosen allocation fail,
 * for the allocation-failure test (test_failalloc.c).
 *
 * It wraps malloc, calloc, realloc, aligned_alloc, posix_memalign and
 * memalign around the next definitions (glibc's). A control block shared
 * with the test through a file mapped MAP_SHARED ($FAILALLOC_CTL) holds the
 * knobs: while `armed` is set, every allocation made by a thread other than
 * the main one (the libmicrohttpd workers) is counted, and the one whose
 * count equals `fail_at` returns NULL with ENOMEM. The block also counts
 * live allocations of the whole process (every allocation that returned a
 * pointer, minus every free of one), which the test compares at rest to
 * find leaks. Without $FAILALLOC_CTL the shim only forwards. */
#define _GNU_SOURCE /* RTLD_NEXT */
#include "failalloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* dlsym may allocate before the real functions are known: such requests
 * are served from this arena and never freed. */
#define FAILALLOC_BOOT_BYTES 8192

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static void *(*real_aligned_alloc)(size_t, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

static _Alignas(max_align_t) unsigned char boot_arena[FAILALLOC_BOOT_BYTES];
static size_t boot_used;
static bool resolving;
static struct failalloc_ctl *ctl;

static void resolve(void)
{
    if (real_malloc != NULL || resolving)
        return;
    resolving = true;
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    real_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    resolving = false;
}

static void *boot_alloc(size_t size)
{
    size_t need = (size + 15) & ~(size_t)15;

    if (need < size || need > FAILALLOC_BOOT_BYTES - boot_used)
        return NULL;
    boot_used += need;
    return boot_arena + boot_used - need;
}

static bool from_boot(const void *p)
{
    const unsigned char *c = p;
    return c >= boot_arena && c < boot_arena + FAILALLOC_BOOT_BYTES;
}

__attribute__((constructor)) static void failalloc_init(void)
{
    const char *path = getenv("FAILALLOC_CTL");
    void *map;
    int fd;

    resolve();
    if (path == NULL || path[0] == '\0')
        return;
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    map = mmap(NULL, sizeof(struct failalloc_ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map != MAP_FAILED)
        ctl = map;
}

/* True when this allocation is the one to fail. */
static bool should_fail(void)
{
    uint64_t n;

    if (ctl == NULL || !__atomic_load_n(&ctl->armed, __ATOMIC_ACQUIRE) || gettid() == getpid())
        return false;
    n = __atomic_add_fetch(&ctl->count, 1, __ATOMIC_ACQ_REL);
    if (n != __atomic_load_n(&ctl->fail_at, __ATOMIC_ACQUIRE))
        return false;
    __atomic_add_fetch(&ctl->injected, 1, __ATOMIC_ACQ_REL);
    return true;
}

static void live_add(int64_t delta)
{
    if (ctl != NULL)
        __atomic_add_fetch(&ctl->live, delta, __ATOMIC_ACQ_REL);
}

void *malloc(size_t size)
{
    void *p;

    resolve();
    if (real_malloc == NULL)
        return boot_alloc(size);
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    p = real_malloc(size);
    if (p != NULL)
        live_add(1);
    return p;
}

void *calloc(size_t n, size_t size)
{
    void *p;

    resolve();
    if (real_calloc == NULL) {
        size_t total;
        if (__builtin_mul_overflow(n, size, &total))
            return NULL;
        return boot_alloc(total); /* static storage: already zero */
    }
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    p = real_calloc(n, size);
    if (p != NULL)
        live_add(1);
    return p;
}

void *realloc(void *old, size_t size)
{
    void *p;

    resolve();
    if (old != NULL && from_boot(old)) {
        /* Rare: a boot block grown later; copy what it can hold. */
        size_t room = (size_t)(boot_arena + FAILALLOC_BOOT_BYTES - (unsigned char *)old);
        p = malloc(size);
        if (p != NULL)
            memcpy(p, old, size < room ? size : room);
        return p;
    }
    if (real_realloc == NULL)
        return NULL;
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    p = real_realloc(old, size);
    if (old == NULL && p != NULL)
        live_add(1);
    else if (old != NULL && size == 0 && p == NULL)
        live_add(-1); /* glibc frees old and returns NULL */
    return p;
}

void free(void *p)
{
    if (p == NULL || from_boot(p))
        return;
    resolve();
    live_add(-1);
    real_free(p);
}

void *aligned_alloc(size_t align, size_t size)
{
    void *p;

    resolve();
    if (real_aligned_alloc == NULL)
        return NULL;
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    p = real_aligned_alloc(align, size);
    if (p != NULL)
        live_add(1);
    return p;
}

void *memalign(size_t align, size_t size)
{
    void *p;

    resolve();
    if (real_memalign == NULL)
        return NULL;
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    p = real_memalign(align, size);
    if (p != NULL)
        live_add(1);
    return p;
}

int posix_memalign(void **out, size_t align, size_t size)
{
    int rc;

    resolve();
    if (real_posix_memalign == NULL)
        return ENOMEM;
    if (should_fail())
        return ENOMEM;
    rc = real_posix_memalign(out, align, size);
    if (rc == 0)
        live_add(1);
    return rc;
}
