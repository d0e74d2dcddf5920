/* test_support.c - the test support library's process, polling and file helpers. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "support.h"

Test(support, run_captures_output_and_exit_code)
{
    char *out = NULL, *err = NULL;
    int status = -1;
    char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; echo \"$PT_X\"; exit 3", NULL};
    char *env[] = {"PT_X=extra", NULL};
    cr_assert_eq(pt_run(argv, env, 5000, &out, &err, &status), 0);
    cr_assert_str_eq(out, "out\nextra\n");
    cr_assert_str_eq(err, "err\n");
    cr_assert_eq(status, 3);
    free(out);
    free(err);
}

Test(support, run_extra_env_replaces_existing_key)
{
    setenv("PT_Y", "old", 1);
    char *out = NULL;
    int status = -1;
    char *argv[] = {"/bin/sh", "-c", "env | grep '^PT_Y='", NULL};
    char *env[] = {"PT_Y=new", NULL};
    cr_assert_eq(pt_run(argv, env, 5000, &out, NULL, &status), 0);
    cr_assert_str_eq(out, "PT_Y=new\n");
    free(out);
}

Test(support, run_kills_at_deadline)
{
    char *out = NULL;
    int status = -1;
    char *argv[] = {"/bin/sh", "-c", "echo started; exec sleep 30", NULL};
    long long t0 = pt_now_ms();
    cr_assert_eq(pt_run(argv, NULL, 300, &out, NULL, &status), -ETIMEDOUT);
    cr_assert_lt(pt_now_ms() - t0, 3000);
    cr_assert_eq(status, 128 + SIGKILL);
    cr_assert_str_eq(out, "started\n");
    free(out);
}

Test(support, run_and_spawn_report_exec_failure)
{
    char *argv[] = {"/nonexistent/binary", NULL};
    int status = 0;
    cr_assert_eq(pt_run(argv, NULL, 1000, NULL, NULL, &status), -ENOENT);
    cr_assert_eq(pt_spawn(argv, NULL, NULL, NULL), -ENOENT);
}

Test(support, spawn_new_group_wait_and_stop)
{
    char *dir = pt_tmpdir("pt-unit");
    cr_assert_not_null(dir);
    char out[600];
    snprintf(out, sizeof out, "%s/out", dir);
    char *argv[] = {"/bin/sh", "-c", "echo ready; exec sleep 30", NULL};
    pid_t pid = pt_spawn(argv, NULL, out, NULL);
    cr_assert_gt(pid, 0);
    cr_assert_eq(getpgid(pid), pid, "child leads its own process group");
    cr_assert(pt_wait_file(out, 5000));
    cr_assert(pt_pid_alive(pid));
    int status = 0;
    cr_assert_eq(pt_wait_pid(pid, 100, &status), -ETIMEDOUT);
    cr_assert_eq(pt_stop_pid(pid, SIGTERM, 5000), 0);
    cr_assert_not(pt_pid_alive(pid));
    cr_assert_eq(pt_rmtree(dir), 0);
    free(dir);
}

Test(support, stop_escalates_to_sigkill)
{
    char *argv[] = {"/bin/sh", "-c", "trap '' TERM; echo x; while :; do sleep 0.05; done", NULL};
    char *dir = pt_tmpdir("pt-unit");
    char out[600];
    snprintf(out, sizeof out, "%s/out", dir);
    pid_t pid = pt_spawn(argv, NULL, out, NULL);
    cr_assert_gt(pid, 0);
    cr_assert(pt_wait_file(out, 5000));
    long long t0 = pt_now_ms();
    cr_assert_eq(pt_stop_pid(pid, SIGTERM, 300), 0);
    cr_assert_geq(pt_now_ms() - t0, 300);
    cr_assert_not(pt_pid_alive(pid));
    /* The shell's sleep child may linger for up to 50 ms; it is in the group. */
    kill(-pid, SIGKILL);
    pt_rmtree(dir);
    free(dir);
}

Test(support, wait_pid_reports_exit_and_signal)
{
    char *argv[] = {"/bin/sh", "-c", "exit 7", NULL};
    pid_t pid = pt_spawn(argv, NULL, NULL, NULL);
    int status = -1;
    cr_assert_eq(pt_wait_pid(pid, 5000, &status), 0);
    cr_assert_eq(status, 7);
    char *argv2[] = {"/bin/sh", "-c", "kill -USR1 $$", NULL};
    pid = pt_spawn(argv2, NULL, NULL, NULL);
    cr_assert_eq(pt_wait_pid(pid, 5000, &status), 0);
    cr_assert_eq(status, 128 + SIGUSR1);
    cr_assert_not(pt_pid_alive(-1));
}

static bool after_three(void *arg)
{
    int *n = arg;
    return ++*n >= 3;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

Test(support, wait_until_polls_with_deadline)
{
    int n = 0;
    cr_assert(pt_wait_until(after_three, &n, 2000));
    cr_assert_eq(n, 3);
    /* It gives up at its deadline, not before. The upper bound only catches
     * a wait that ignores the deadline: a loaded machine may wake the caller
     * seconds late, so it says nothing about speed. */
    long long t0 = pt_now_ms();
    cr_assert_not(pt_wait_until(never, NULL, 200));
    long long took = pt_now_ms() - t0;
    cr_assert(took >= 200 && took < 200 + 10000, "took %lld ms", took);
}

Test(support, wait_file_and_unix_socket)
{
    char *dir = pt_tmpdir("pt-unit");
    char path[600];
    snprintf(path, sizeof path, "%s/f", dir);
    cr_assert_not(pt_wait_file(path, 50));
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    cr_assert_not(pt_wait_file(path, 50), "an empty file is not ready");
    cr_assert_eq(write(fd, "x", 1), 1);
    close(fd);
    cr_assert(pt_wait_file(path, 50));

    char sock[600];
    snprintf(sock, sizeof sock, "%s/s", dir);
    cr_assert_not(pt_wait_unix_socket(sock, 50));
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    cr_assert_lt(strlen(sock), sizeof sa.sun_path);
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(l, 4), 0);
    cr_assert(pt_wait_unix_socket(sock, 1000));
    close(l);
    cr_assert_eq(pt_rmtree(dir), 0);
    free(dir);
}

Test(support, rmtree_removes_nested_and_not_symlink_targets)
{
    char *dir = pt_tmpdir("pt-unit");
    char *keep = pt_tmpdir("pt-keep");
    char p[700];
    snprintf(p, sizeof p, "%s/a/b/c", dir);
    char mk[800];
    snprintf(mk, sizeof mk, "%s/a", dir);
    cr_assert_eq(mkdir(mk, 0755), 0);
    snprintf(mk, sizeof mk, "%s/a/b", dir);
    cr_assert_eq(mkdir(mk, 0755), 0);
    FILE *f = fopen(p, "w");
    fputs("x", f);
    fclose(f);
    char kf[700];
    snprintf(kf, sizeof kf, "%s/precious", keep);
    f = fopen(kf, "w");
    fputs("y", f);
    fclose(f);
    snprintf(mk, sizeof mk, "%s/a/link", dir);
    cr_assert_eq(symlink(keep, mk), 0);
    cr_assert_eq(pt_rmtree(dir), 0);
    cr_assert_eq(access(dir, F_OK), -1);
    cr_assert_eq(access(kf, F_OK), 0, "symlink target survives");
    cr_assert_eq(pt_rmtree(dir), 0, "absent tree is fine");
    cr_assert_eq(pt_rmtree(keep), 0);
    free(dir);
    free(keep);
}

Test(support, names_ports_and_paths)
{
    char a[64], b[64];
    pt_unique_root("tag", a, sizeof a);
    pt_unique_root("tag", b, sizeof b);
    cr_assert_str_neq(a, b);
    char want[32];
    snprintf(want, sizeof want, "/t-tag-%d-", (int)getpid());
    cr_assert(strncmp(a, want, strlen(want)) == 0, "%s", a);
    int port = pt_free_port();
    cr_assert(port > 0 && port < 65536);
    setenv("PORTCO_BUILD_DIR", "/b", 1);
    char buf[256];
    cr_assert_str_eq(pt_bin("portco", buf, sizeof buf), "/b/cli/portco");
    cr_assert_str_eq(pt_bin("portco-agent", buf, sizeof buf), "/b/agent/portco-agent");
    cr_assert_str_eq(pt_bin("portco-coordinator", buf, sizeof buf),
                     "/b/coordinator/portco-coordinator");
    cr_assert_str_eq(pt_bin("acquire", buf, sizeof buf), "/b/examples/example-acquire");
    cr_assert_str_eq(pt_bin("example-acquire", buf, sizeof buf), "/b/examples/example-acquire");
}
