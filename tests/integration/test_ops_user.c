/* test_ops_user.c -- the service runs as an unprivileged user: when the
 * tests run as root, the binary is started under setpriv as nobody
 * (65534) and must serve; otherwise it simply runs as the test's user. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(ops_user, .init = it_setup, .fini = it_teardown, .timeout = 60);

/* The real and effective uid of pid, from /proc. */
static void proc_uids(pid_t pid, long *ruid, long *euid)
{
    char path[64], cmd[128];
    char *out = NULL;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    snprintf(cmd, sizeof cmd, "grep '^Uid:' %s", path);
    cr_assert_eq(it_sh(cmd, &out), 0);
    cr_assert_eq(sscanf(out, "Uid: %ld %ld", ruid, euid), 2, "%s", out);
    free(out);
}

Test(ops_user, serves_without_root)
{
    struct it_server srv;
    struct it_response r;
    const char *args[] = {"--bind", "127.0.0.1", "--port", "0", NULL};
    long ruid, euid;

    if (geteuid() == 0) {
        cr_assert(it_have("setpriv"), "running as root and setpriv (util-linux) is missing");
        const char *wrapper[] = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 NULL};
        char setpriv[256];
        char *out = NULL;
        cr_assert_eq(it_sh("command -v setpriv", &out), 0);
        snprintf(setpriv, sizeof setpriv, "%.*s", (int)strcspn(out, "\n"), out);
        free(out);
        wrapper[0] = setpriv;
        it_start_wrapped(&srv, wrapper, NULL, args, NULL);
        proc_uids(srv.pid, &ruid, &euid);
        cr_assert_eq(ruid, 65534);
        cr_assert_eq(euid, 65534);
    } else {
        it_start_raw(&srv, args, NULL);
        proc_uids(srv.pid, &ruid, &euid);
        cr_assert(ruid != 0 && euid != 0);
    }
    it_get(srv.port, "/healthz", &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    it_post(srv.port, "/l2_loss", "application/json", "[3, 4]", 6, &r);
    cr_assert_eq(r.status, 200);
    json_t *j = it_json(&r);
    it_expect_result(j, 12.5, 25.0, 2);
    json_decref(j);
    it_response_free(&r);
    it_get(srv.port, "/metrics", &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "process_open_fds") != NULL, "no process metrics as nobody");
    it_response_free(&r);
}
