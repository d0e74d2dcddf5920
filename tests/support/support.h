/* support.h - helpers for integration tests: processes, deadlines, temp dirs, ZooKeeper. */
#ifndef PT_SUPPORT_H
#define PT_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Every helper is bounded in time: nothing here waits without a deadline,
 * and processes are stopped by their own pid only.
 */

/* Directories from the test environment ($PORTCO_SOURCE_DIR etc.), never NULL. */
const char *pt_source_dir(void);
const char *pt_build_dir(void);
const char *pt_test_data(void);

/* Path of a built binary under $PORTCO_BUILD_DIR: "portco" (cli/portco),
 * "portco-agent", "portco-coordinator", or an example ("name" or
 * "example-name": examples/example-name). Writes into buf and returns it. */
const char *pt_bin(const char *name, char *buf, size_t len);

/* Make a fresh temp dir under $TMPDIR or /tmp; returns a malloc'd path. */
char *pt_tmpdir(const char *prefix);

/* Remove a tree (rm -rf semantics, no symlink following). Returns 0 or -errno. */
int pt_rmtree(const char *path);

/* Monotonic milliseconds. */
long long pt_now_ms(void);

/* Sleep a short while; only inside polling loops that have a deadline. */
void pt_nap_ms(int ms);

/*
 * Poll pred(arg) until it returns true or timeout_ms passes; starts at 5 ms
 * between tries and backs off to 100 ms. Returns the last value of pred.
 */
bool pt_wait_until(bool (*pred)(void *arg), void *arg, int timeout_ms);

/* Wait until a Unix stream socket at path accepts a connection. */
bool pt_wait_unix_socket(const char *path, int timeout_ms);

/* Wait until a file exists and is non-empty. */
bool pt_wait_file(const char *path, int timeout_ms);

/*
 * Start argv[0] (a path) with argv, in a new process group, with extra
 * environment entries ("KEY=VALUE", NULL-terminated list, may be NULL) added
 * to the current environment. stdout/stderr go to the given files (appended)
 * or, when NULL, are inherited. Returns the pid, or -errno.
 */
pid_t pt_spawn(char *const argv[], char *const extra_env[], const char *out_file,
               const char *err_file);

/*
 * Run argv to completion with a deadline, capturing stdout and stderr into
 * malloc'd NUL-terminated strings (either pointer may be NULL to discard).
 * *status gets the exit code, or 128+signal. Returns 0, or -ETIMEDOUT after
 * killing the process (by its pid) when the deadline passed, or -errno.
 */
int pt_run(char *const argv[], char *const extra_env[], int timeout_ms, char **out, char **err,
           int *status);

/* Wait for pid to exit; *status as in pt_run. Returns 0 or -ETIMEDOUT. */
int pt_wait_pid(pid_t pid, int timeout_ms, int *status);

/* Send sig to pid; if it has not exited after timeout_ms, SIGKILL it; reap it. */
int pt_stop_pid(pid_t pid, int sig, int timeout_ms);

/* True while a process with this pid exists and is not a zombie. */
bool pt_pid_alive(pid_t pid);

/* The state letter of /proc/PID/stat (R, S, T, Z...); 0 when there is no
 * such process, '?' when the line cannot be read. */
char pt_pid_state(pid_t pid);

/* A ZooKeeper started through deploy/zk/zk-harness. */
typedef struct pt_zk {
    char dir[512];     /* harness directory (data, logs, pids) */
    char connect[512]; /* "127.0.0.1:p1[,127.0.0.1:p2,...]" */
    int nodes;         /* 1 = standalone, 3 = ensemble */
} pt_zk;

/* Start a standalone server (nodes 1) or an ensemble (nodes 3) on free loopback ports.
 * Returns 0, or a negative code after printing the harness's stderr. */
int pt_zk_start(pt_zk *zk, int nodes);

/* Like pt_zk_start(), listening on `address` (an address of this host, e.g.
 * the root-side address of pt_hosts so that network namespaces reach it). */
int pt_zk_start_on(pt_zk *zk, int nodes, const char *address);

/* Pid (from the harness's pid file) and client port of member `node`, or a negative code. */
int pt_zk_node_pid(pt_zk *zk, int node);
int pt_zk_node_port(pt_zk *zk, int node);

/*
 * Send a ZooKeeper four-letter word (e.g. "ruok", "srvr") to address:port and
 * read the answer into buf (NUL-terminated, truncated to len - 1) until the
 * server closes. Returns 0, -ETIMEDOUT, or -errno (e.g. -ECONNREFUSED).
 */
int pt_4lw(const char *address, int port, const char *cmd, char *buf, size_t len, int timeout_ms);

/* Stop every server of zk by pid and remove its directory; a stopped zk is a no-op. */
int pt_zk_stop(pt_zk *zk);

/* Kill one member with SIGKILL: which is "leader", "follower" or a node
 * number "1".."3". Sets *node to the member killed. Returns 0, -EINVAL for a
 * bad `which`, or -EIO. */
int pt_zk_kill(pt_zk *zk, const char *which, int *node);

/* Start member `node` again and wait until it serves. */
int pt_zk_restart(pt_zk *zk, int node);

/* The mode a member reports ("leader", "follower", "standalone") or "down". */
int pt_zk_mode(pt_zk *zk, int node, char *buf, size_t len);

/*
 * Connect string of the shared standalone server of the ctest "zk" fixture,
 * read from $PORTCO_TEST_ZK_DIR/connect; NULL when there is none.
 */
const char *pt_zk_shared(void);

/* A ZooKeeper root path unique to this test process and call, e.g. "/t-<tag>-<pid>-<n>". */
void pt_unique_root(const char *tag, char *buf, size_t len);

/* A TCP port on 127.0.0.1 that was free when asked (bind :0, then close). */
int pt_free_port(void);

/* True when a TCP socket can bind 0.0.0.0:port now (without SO_REUSEADDR). */
bool pt_port_bindable(int port);

/*
 * The first of n consecutive ports that are all bindable now, drawn at random
 * from 20000-29999: below the kernel's ephemeral range, and apart from the
 * ports deploy/zk/zk-harness gives its servers (6000-8999). Returns
 * -EADDRNOTAVAIL when 400 draws found no such run.
 */
int pt_port_run(int n);

/*
 * GET `path` from 127.0.0.1:port over HTTP/1.0 (5 s for each send and
 * receive) and copy the body into buf (NUL-terminated, truncated to
 * len - 1). Returns the status code, -EPROTO for an answer that is not
 * HTTP, or -errno.
 */
int pt_http_get(int port, const char *path, char *body, size_t len);

/* A pt_wait_until() predicate: GET / on 127.0.0.1:*(int *)port answers 200. */
bool pt_http_serves(void *port);

/* Read a small file into buf (NUL-terminated, trailing newlines and blanks
 * stripped). Returns the length, or -errno. */
int pt_read_file(const char *path, char *buf, size_t len);

#endif
