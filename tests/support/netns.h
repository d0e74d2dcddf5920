/* netns.h - network-namespace "hosts" for tests that need separate socket tables. */
#ifndef PT_NETNS_H
#define PT_NETNS_H

#include <stdbool.h>

#define PT_HOSTS_MAX 8

/*
 * n namespaces, each with `lo` up and one veth whose root-side end is a port
 * of a bridge in the root namespace. Addresses come from the benchmarking
 * range 198.18.0.0/15: one /24 per pt_hosts, the bridge holds .1 (root_addr:
 * where a ZooKeeper listens so that every host reaches it) and host i holds
 * .(11+i). Hosts reach each other and root_addr; there is no route anywhere
 * else. Every name carries the creating process's pid:
 *   namespace "portco-t<pid>-h<i>", bridge "ptb<pid>", veth "ptv<pid>-<i>"
 *   (root side) / "ptn<pid>-<i>" (namespace side).
 */
typedef struct pt_hosts {
    int n;
    int pid;
    char bridge[16];
    char root_addr[32];
    char ns[PT_HOSTS_MAX][32];
    char addr[PT_HOSTS_MAX][32];
} pt_hosts;

/* True when this process may create network namespaces (tried once, cached). */
bool pt_hosts_supported(void);

/*
 * Create n hosts (1..PT_HOSTS_MAX). First sweeps leftovers of test processes
 * that no longer exist (only names of the forms above whose pid is dead).
 * *out is set on success; on failure everything created is removed. Returns
 * 0, -EINVAL, -ENOMEM, -EADDRNOTAVAIL (no free /24 left), or -EIO (an `ip`
 * command failed; its stderr is printed).
 */
int pt_hosts_create(int n, pt_hosts **out);

/*
 * argv running argv_in inside host i: {"ip", "netns", "exec", ns, argv_in...,
 * NULL}. `ip netns exec` execs the command, so the pid pt_spawn returns is
 * the command's own. The array is malloc'd (free() it); its strings are
 * borrowed from hosts and argv_in. NULL on a bad index or no memory.
 */
char **pt_hosts_exec_argv(const pt_hosts *hosts, int i, char *const argv_in[]);

/* Delete the namespaces and the bridge, and free. Accepts NULL. Processes
 * still inside a namespace keep it alive; stop them first. */
void pt_hosts_destroy(pt_hosts *hosts);

/* Remove leftovers of dead test processes (done by pt_hosts_create too). */
void pt_hosts_sweep(void);

#endif
