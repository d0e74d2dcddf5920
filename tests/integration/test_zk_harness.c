/* test_zk_harness.c - deploy/zk/zk-harness, the pt_zk/pt_zkr helpers and network-namespace hosts.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns.h"
#include "support.h"
#include "zkread.h"

static int count_mode(pt_zk *zk, const char *mode, int skip)
{
    int count = 0;
    for (int n = 1; n <= zk->nodes; n++) {
        char m[32];
        if (n != skip && pt_zk_mode(zk, n, m, sizeof m) == 0 && strcmp(m, mode) == 0)
            count++;
    }
    return count;
}

typedef struct ensemble_wait {
    pt_zk *zk;
    int down; /* member expected down, 0 = none */
} ensemble_wait;

/* One leader, every other live member a follower. */
static bool ensemble_settled(void *arg)
{
    ensemble_wait *w = arg;
    int live = w->zk->nodes - (w->down ? 1 : 0);
    return count_mode(w->zk, "leader", w->down) == 1 &&
           count_mode(w->zk, "follower", w->down) == live - 1;
}

/* A ZooKeeper answer a client retries after: the connection was lost. */
static bool transport_error(int rc)
{
    return rc == -ETIMEDOUT || rc == -ECONNRESET;
}

#define RW_STEP(call)                                                                              \
    do {                                                                                           \
        rc = (call);                                                                               \
        if (transport_error(rc))                                                                   \
            goto out;                                                                              \
    } while (0)

/*
 * Create, read back and delete a node through a fresh session. Returns 0, or
 * the transport error that cut the session short; any other answer that is
 * not the expected one fails the test.
 */
static int read_write_once(const char *connect, const char *tag)
{
    pt_zkr *z = NULL;
    int rc = pt_zkr_connect(&z, connect, 4000, 10000);
    if (rc < 0)
        return rc;
    char root[128], child[160], parent[160];
    pt_unique_root(tag, root, sizeof root);
    snprintf(child, sizeof child, "%s/a/b", root);
    snprintf(parent, sizeof parent, "%s/a", root);
    char *data = NULL;
    int len = 0;
    struct Stat st, pst;
    char **names = NULL;
    int count = 0;
    RW_STEP(pt_zkr_create_path(z, child, "hello"));
    cr_assert_eq(rc, 0);
    RW_STEP(pt_zkr_create(z, child, "again", 0, NULL, 0));
    cr_assert_eq(rc, -EEXIST);
    RW_STEP(pt_zkr_get(z, child, &data, &len, &st));
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(data, "hello");
    cr_assert_eq(len, 5);
    cr_assert_gt(st.czxid, 0);
    free(data);
    RW_STEP(pt_zkr_children(z, parent, &names, &count, &pst));
    cr_assert_eq(rc, 0);
    cr_assert_eq(count, 1);
    cr_assert_str_eq(names[0], "b");
    cr_assert_eq(pst.numChildren, 1);
    pt_zkr_free_strings(names, count);
    RW_STEP(pt_zkr_delete(z, parent, -1));
    cr_assert_eq(rc, -ENOTEMPTY);
    RW_STEP(pt_zkr_delete_tree(z, root));
    cr_assert_eq(rc, 0);
    RW_STEP(pt_zkr_exists(z, root, NULL));
    cr_assert_eq(rc, -ENOENT);
    RW_STEP(pt_zkr_get(z, child, &data, &len, NULL));
    cr_assert_eq(rc, -ENOENT);
    rc = 0;
out:
    pt_zkr_close(z);
    return rc;
}

/*
 * The ensemble serves reads and writes. Right after a member died or came
 * back, the others may still drop a client's connection while they settle
 * (a ZooKeeper client retries then); so does this, for up to 30 s.
 */
static void check_read_write(const char *connect, const char *tag)
{
    long long end = pt_now_ms() + 30000;
    int rc, tries = 0;
    do {
        tries++;
        rc = read_write_once(connect, tag);
    } while (transport_error(rc) && pt_now_ms() < end);
    cr_assert_eq(rc, 0, "%s: no read and write through %s in %d tries (last: %s)", tag, connect,
                 tries, strerror(-rc));
}

static int harness_status(char *const args[], char **err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/deploy/zk/zk-harness", pt_source_dir());
    char *argv[12] = {path};
    for (int i = 0; args[i] && i < 10; i++)
        argv[i + 1] = args[i];
    int status = -1;
    cr_assert_eq(pt_run(argv, NULL, 90000, NULL, err, &status), 0, "harness %s in time", args[0]);
    return status;
}

Test(zk_harness, standalone_start_serve_stop, .timeout = 60)
{
    pt_zk zk;
    cr_assert_eq(pt_zk_start(&zk, 1), 0);
    cr_assert_eq(zk.nodes, 1);
    cr_assert(strncmp(zk.connect, "127.0.0.1:", 10) == 0, "connect %s", zk.connect);
    int port = pt_zk_node_port(&zk, 1);
    pid_t pid = pt_zk_node_pid(&zk, 1);
    cr_assert_gt(port, 0);
    cr_assert(pt_pid_alive(pid));

    char reply[4096];
    cr_assert_eq(pt_4lw("127.0.0.1", port, "ruok", reply, sizeof reply, 2000), 0);
    cr_assert_str_eq(reply, "imok");
    cr_assert_eq(pt_4lw("127.0.0.1", port, "srvr", reply, sizeof reply, 2000), 0);
    cr_assert(strstr(reply, "Mode: standalone"), "srvr: %s", reply);
    char mode[32];
    cr_assert_eq(pt_zk_mode(&zk, 1, mode, sizeof mode), 0);
    cr_assert_str_eq(mode, "standalone");
    check_read_write(zk.connect, "standalone");

    char dir[512];
    snprintf(dir, sizeof dir, "%s", zk.dir);
    cr_assert_eq(pt_zk_stop(&zk), 0);
    cr_assert_not(pt_pid_alive(pid), "server pid %d still alive after stop", (int)pid);
    cr_assert_eq(pt_4lw("127.0.0.1", port, "ruok", reply, sizeof reply, 2000), -ECONNREFUSED);
    cr_assert_eq(access(dir, F_OK), -1);
    cr_assert_eq(errno, ENOENT);
    /* Stopping again (the dir is gone) succeeds. */
    cr_assert_eq(harness_status((char *[]){"stop", "--dir", dir, NULL}, NULL), 0);
    cr_assert_eq(pt_zk_stop(&zk), 0);
}

Test(zk_harness, ensemble_failover_and_rejoin, .timeout = 150)
{
    pt_zk zk;
    cr_assert_eq(pt_zk_start(&zk, 3), 0);
    cr_assert_eq(zk.nodes, 3);
    ensemble_wait w = {&zk, 0};
    cr_assert(ensemble_settled(&w), "one leader and two followers right after start");
    pid_t pids[4] = {0};
    for (int n = 1; n <= 3; n++) {
        pids[n] = pt_zk_node_pid(&zk, n);
        cr_assert(pt_pid_alive(pids[n]));
    }
    check_read_write(zk.connect, "ens");

    /* Kill the leader: the other two elect a new one and keep serving. */
    int killed = 0;
    cr_assert_eq(pt_zk_kill(&zk, "leader", &killed), 0);
    cr_assert(killed >= 1 && killed <= 3);
    cr_assert_not(pt_pid_alive(pids[killed]));
    char mode[32];
    pt_zk_mode(&zk, killed, mode, sizeof mode);
    cr_assert_str_eq(mode, "down");
    w.down = killed;
    cr_assert(pt_wait_until(ensemble_settled, &w, 20000), "no new leader among the other two");
    check_read_write(zk.connect, "ens-after-kill");

    /* Restart it: it rejoins as a follower. */
    cr_assert_eq(pt_zk_restart(&zk, killed), 0);
    cr_assert_eq(pt_zk_mode(&zk, killed, mode, sizeof mode), 0);
    cr_assert_str_eq(mode, "follower");
    pids[killed] = pt_zk_node_pid(&zk, killed);
    w.down = 0;
    cr_assert(pt_wait_until(ensemble_settled, &w, 20000));

    /* Kill a follower and restart it. */
    int f = 0;
    cr_assert_eq(pt_zk_kill(&zk, "follower", &f), 0);
    pt_zk_mode(&zk, f, mode, sizeof mode);
    cr_assert_str_eq(mode, "down");
    cr_assert_not(pt_pid_alive(pids[f]));
    check_read_write(zk.connect, "ens-follower-down");
    cr_assert_eq(pt_zk_restart(&zk, f), 0);
    pids[f] = pt_zk_node_pid(&zk, f);
    cr_assert(pt_wait_until(ensemble_settled, &w, 20000));
    check_read_write(zk.connect, "ens-rejoined");

    cr_assert_eq(pt_zk_stop(&zk), 0);
    for (int n = 1; n <= 3; n++)
        cr_assert_not(pt_pid_alive(pids[n]), "member %d (pid %d) survived stop", n, (int)pids[n]);
}

Test(zk_harness, usage_and_failure_paths, .timeout = 60)
{
    char *dir = pt_tmpdir("portco-zkh");
    cr_assert_not_null(dir);
    char nodes[600];
    snprintf(nodes, sizeof nodes, "%s/nodes", dir);
    FILE *f = fopen(nodes, "w");
    cr_assert_not_null(f);
    fputs("3\n", f);
    fclose(f);

    cr_assert_eq(harness_status((char *[]){NULL}, NULL), 2);
    cr_assert_eq(harness_status((char *[]){"frobnicate", NULL}, NULL), 2);
    cr_assert_eq(harness_status((char *[]){"kill", "--dir", dir, "--node", "7", NULL}, NULL), 2);
    cr_assert_eq(harness_status((char *[]){"kill", "--dir", dir, "--node", "x", NULL}, NULL), 2);
    cr_assert_eq(harness_status((char *[]){"kill", "--dir", dir, NULL}, NULL), 2);
    cr_assert_eq(
        harness_status((char *[]){"kill", "--dir", dir, "--node", "1", "--signal", "HUP", NULL},
                       NULL),
        2);
    cr_assert_eq(harness_status((char *[]){"start", "--dir", dir, "--nodes", "2", NULL}, NULL), 2);
    cr_assert_eq(harness_status((char *[]){"start", "--dir", NULL}, NULL), 2);
    /* A valid member that is not running is a failure, not a usage error. */
    cr_assert_eq(harness_status((char *[]){"kill", "--dir", dir, "--node", "1", NULL}, NULL), 1);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/absent", dir);
    cr_assert_neq(harness_status((char *[]){"kill", "--dir", missing, "--node", "1", NULL}, NULL),
                  0);
    cr_assert_neq(harness_status((char *[]){"status", "--dir", missing, NULL}, NULL), 0);
    cr_assert_eq(harness_status((char *[]){"stop", "--dir", missing, NULL}, NULL), 0);

    /* 192.0.2.1 (TEST-NET-1) is not an address of this host. */
    long long t0 = pt_now_ms();
    char *err = NULL;
    char zkdir[600];
    snprintf(zkdir, sizeof zkdir, "%s/zk", dir);
    int st =
        harness_status((char *[]){"start", "--dir", zkdir, "--address", "192.0.2.1", NULL}, &err);
    cr_assert_eq(st, 1);
    cr_assert(strstr(err, "192.0.2.1") && strstr(err, "cannot"), "stderr: %s", err);
    cr_assert_lt(pt_now_ms() - t0, 60000);
    free(err);
    pt_zk zk;
    cr_assert_neq(pt_zk_start_on(&zk, 1, "192.0.2.1"), 0);

    /* Nothing listens: pt_zkr gives up at its deadline (1 s), not before.
     * The upper bound only catches a wait that ignores the deadline: a
     * loaded machine may wake the caller seconds late. */
    int port = pt_free_port();
    char connect[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", port);
    pt_zkr *z = (pt_zkr *)&port;
    t0 = pt_now_ms();
    cr_assert_eq(pt_zkr_connect(&z, connect, 2000, 1000), -ETIMEDOUT);
    long long took = pt_now_ms() - t0;
    cr_assert_geq(took, 1000);
    cr_assert_lt(took, 1000 + 10000);
    cr_assert_null(z);

    cr_assert_eq(pt_rmtree(dir), 0);
    free(dir);
}

/* Every call of the test-side client against the shared server, with the
 * codes of its failure paths. */
Test(zk_harness, zkread_calls_and_their_codes, .timeout = 60)
{
    const char *shared = pt_zk_shared();
    cr_assert_not_null(shared, "no shared ZooKeeper: run through ctest (fixture zk)");
    pt_zkr *z;
    cr_assert_eq(pt_zkr_connect(&z, shared, 10000, 10000), 0);
    cr_assert_neq(pt_zkr_session_id(z), 0);
    char root[128], dir[256], path[300], created[400];
    pt_unique_root("zkread", root, sizeof root);
    snprintf(dir, sizeof dir, "%s/s/t", root);
    cr_assert_eq(pt_zkr_create_path(z, dir, NULL), 0);
    cr_assert_eq(pt_zkr_create_path(z, dir, "ignored"), 0, "an existing node is not an error");
    snprintf(path, sizeof path, "%s/n_", dir);
    cr_assert_eq(pt_zkr_create(z, path, "v1", ZOO_SEQUENCE, created, sizeof created), 0);
    cr_assert_eq(strncmp(created, path, strlen(path)), 0, "created %s", created);
    cr_assert_eq(strlen(created), strlen(path) + 10, "a 10-digit sequence: %s", created);
    char tiny[8];
    cr_assert_eq(pt_zkr_create(z, path, NULL, ZOO_SEQUENCE, tiny, sizeof tiny), -ENAMETOOLONG);

    char *data = NULL;
    int len = -1;
    struct Stat st;
    cr_assert_eq(pt_zkr_get(z, created, &data, &len, &st), 0);
    cr_assert_str_eq(data, "v1");
    cr_assert_eq(len, 2);
    cr_assert_eq(st.ephemeralOwner, 0);
    free(data);
    cr_assert_eq(pt_zkr_get(z, dir, &data, &len, NULL), 0);
    cr_assert_str_eq(data, "", "a node without data reads as \"\"");
    cr_assert_eq(len, 0);
    free(data);
    cr_assert_eq(pt_zkr_nchildren(z, dir), 2);

    snprintf(path, sizeof path, "%s/eph", dir);
    cr_assert_eq(pt_zkr_create(z, path, "e", ZOO_EPHEMERAL, NULL, 0), 0);
    cr_assert_eq(pt_zkr_exists(z, path, &st), 0);
    cr_assert_eq(st.ephemeralOwner, pt_zkr_session_id(z));
    snprintf(path, sizeof path, "%s/eph/below", dir);
    cr_assert_eq(pt_zkr_create(z, path, NULL, 0, NULL, 0), -ENOTDIR);

    cr_assert_eq(pt_zkr_create(z, dir, NULL, 0, NULL, 0), -EEXIST);
    cr_assert_eq(pt_zkr_delete(z, dir, -1), -ENOTEMPTY);
    cr_assert_eq(pt_zkr_delete(z, created, 99), -ESTALE, "version 0, not 99");
    cr_assert_eq(pt_zkr_get(z, "/no/such/node/here", &data, &len, NULL), -ENOENT);
    cr_assert_null(data);
    cr_assert_eq(pt_zkr_exists(z, "/no/such/node/here", NULL), -ENOENT);
    cr_assert_eq(pt_zkr_nchildren(z, "/no/such/node/here"), -ENOENT);
    cr_assert_eq(pt_zkr_get(z, "relative", &data, &len, NULL), -EINVAL);
    cr_assert_eq(pt_zkr_create_path(z, "relative", NULL), -EINVAL);

    cr_assert_eq(pt_zkr_delete_tree(z, root), 0);
    cr_assert_eq(pt_zkr_exists(z, root, NULL), -ENOENT);
    cr_assert_eq(pt_zkr_delete_tree(z, root), 0, "a missing tree is not an error");
    pt_zkr_close(z);
}

/* A python3 one-liner run inside a namespace; prints what it did. */
static const char *PY_LISTEN = "import socket,sys,time\n"
                               "s=socket.socket()\n"
                               "s.bind(('0.0.0.0',int(sys.argv[1])))\n"
                               "s.listen()\n"
                               "print('listening',flush=True)\n"
                               "time.sleep(60)\n";
static const char *PY_BIND = "import socket,sys\n"
                             "s=socket.socket()\n"
                             "try:\n"
                             "    s.bind(('0.0.0.0',int(sys.argv[1])))\n"
                             "except OSError as e:\n"
                             "    print('bind failed',e.errno); sys.exit(1)\n"
                             "print('bound')\n";
static const char *PY_RUOK =
    "import socket,sys\n"
    "s=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=5)\n"
    "s.sendall(b'ruok')\n"
    "print(s.recv(16).decode())\n";

static int run_in(pt_hosts *h, int i, char *const argv[], char **out)
{
    char **nargv = pt_hosts_exec_argv(h, i, argv);
    cr_assert_not_null(nargv);
    int status = -1;
    int rc = pt_run(nargv, NULL, 15000, out, NULL, &status);
    free(nargv);
    cr_assert_eq(rc, 0);
    return status;
}

Test(zk_harness, netns_hosts_separate_sockets_and_reach_zk, .timeout = 90)
{
    if (!pt_hosts_supported())
        cr_skip("network namespaces are not available to this process");
    pt_hosts *h = NULL;
    cr_assert_eq(pt_hosts_create(2, &h), 0);
    cr_assert_eq(h->n, 2);
    cr_assert(strncmp(h->root_addr, "198.1", 5) == 0, "root address %s", h->root_addr);

    int p = pt_free_port();
    char port[16];
    snprintf(port, sizeof port, "%d", p);
    char *tmp = pt_tmpdir("portco-netns");
    char readyf[600];
    snprintf(readyf, sizeof readyf, "%s/listener.out", tmp);
    char **largv =
        pt_hosts_exec_argv(h, 0, (char *[]){"python3", "-c", (char *)PY_LISTEN, port, NULL});
    pid_t lpid = pt_spawn(largv, NULL, readyf, NULL);
    free(largv);
    cr_assert_gt(lpid, 0);
    cr_assert(pt_wait_file(readyf, 10000), "listener in host 0 did not start");

    char *out = NULL;
    /* Same namespace: the listener makes the bind fail (the listener is real). */
    cr_assert_eq(run_in(h, 0, (char *[]){"python3", "-c", (char *)PY_BIND, port, NULL}, &out), 1,
                 "host 0: %s", out);
    free(out);
    /* Other namespace: its own socket table, the bind succeeds. */
    cr_assert_eq(run_in(h, 1, (char *[]){"python3", "-c", (char *)PY_BIND, port, NULL}, &out), 0,
                 "host 1: %s", out);
    cr_assert(strstr(out, "bound"));
    free(out);

    /* A ZooKeeper on the root-side address is reachable from host 1. */
    pt_zk zk;
    cr_assert_eq(pt_zk_start_on(&zk, 1, h->root_addr), 0);
    char zport[16];
    snprintf(zport, sizeof zport, "%d", pt_zk_node_port(&zk, 1));
    cr_assert_eq(
        run_in(h, 1, (char *[]){"python3", "-c", (char *)PY_RUOK, h->root_addr, zport, NULL}, &out),
        0);
    cr_assert(strstr(out, "imok"), "host 1 got: %s", out);
    free(out);
    /* And from the root namespace through the C client. */
    check_read_write(zk.connect, "netns");

    cr_assert_eq(pt_zk_stop(&zk), 0);
    cr_assert_eq(pt_stop_pid(lpid, SIGTERM, 5000), 0);
    cr_assert_not(pt_pid_alive(lpid));
    pt_hosts_destroy(h);
    pt_rmtree(tmp);
    free(tmp);
}
