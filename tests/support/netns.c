/* netns.c - network-namespace test hosts: a bridge in the root namespace, one veth per host. */
#include "netns.h"
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define IP_TIMEOUT_MS 10000
#define NETNS_LOCK    "/tmp/portco-netns.lock"

static const char *ip_bin(void)
{
    return access("/usr/sbin/ip", X_OK) == 0 ? "/usr/sbin/ip"
           : access("/sbin/ip", X_OK) == 0   ? "/sbin/ip"
                                             : "ip";
}

/* Run `ip` with the given arguments (NULL-terminated). Returns 0 or -EIO;
 * stdout goes to *out when not NULL; stderr is printed on failure unless quiet. */
static int ip_run(bool quiet, char **out, ...)
{
    char *argv[24];
    int n = 0;
    argv[n++] = (char *)ip_bin();
    va_list ap;
    va_start(ap, out);
    for (char *a = va_arg(ap, char *); a && n < 23; a = va_arg(ap, char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char *err = NULL;
    int status = -1;
    int rc = pt_run(argv, NULL, IP_TIMEOUT_MS, out, &err, &status);
    if (rc == 0 && status != 0)
        rc = -EIO;
    if (rc != 0 && !quiet) {
        fprintf(stderr, "netns:");
        for (int i = 0; argv[i]; i++)
            fprintf(stderr, " %s", argv[i]);
        fprintf(stderr, ": exit %d: %s", status, err ? err : "");
    }
    free(err);
    return rc;
}

static bool pid_gone(int pid)
{
    return pid > 0 && kill(pid, 0) < 0 && errno == ESRCH;
}

void pt_hosts_sweep(void)
{
    char *out = NULL;
    if (ip_run(true, &out, "netns", "list", NULL) == 0) {
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            char name[64];
            int pid = 0, used = 0;
            if (sscanf(line, "%63s", name) != 1 ||
                sscanf(name, "portco-t%d-%n", &pid, &used) != 1 || used == 0 || !pid_gone(pid))
                continue;
            ip_run(true, NULL, "netns", "del", name, NULL);
        }
    }
    free(out);
    out = NULL;
    if (ip_run(true, &out, "-o", "link", "show", "type", "bridge", NULL) == 0) {
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            char name[64];
            int pid = 0, used = 0;
            if (sscanf(line, "%*d: %63[^:@]", name) != 1 ||
                sscanf(name, "ptb%d%n", &pid, &used) != 1 || name[used] != '\0' || !pid_gone(pid))
                continue;
            ip_run(true, NULL, "link", "del", name, NULL);
        }
    }
    free(out);
}

bool pt_hosts_supported(void)
{
    static int cached = -1;
    if (cached < 0) {
        char name[64];
        snprintf(name, sizeof name, "portco-t%d-probe", (int)getpid());
        cached = ip_run(true, NULL, "netns", "add", name, NULL) == 0;
        if (cached)
            ip_run(true, NULL, "netns", "del", name, NULL);
    }
    return cached == 1;
}

/* Pick a /24 of 198.18.0.0/15 that no interface of the root namespace uses;
 * block k is 198.(18 + k/256).(k%256).0/24. Called under the lock file. */
static int pick_block(int pid)
{
    char *out = NULL;
    if (ip_run(false, &out, "-o", "-4", "addr", "show", NULL) != 0) {
        free(out);
        return -EIO;
    }
    int block = -EADDRNOTAVAIL;
    for (int t = 0; t < 512; t++) {
        int k = (pid + t) % 512;
        char prefix[32];
        snprintf(prefix, sizeof prefix, " 198.%d.%d.", 18 + k / 256, k % 256);
        if (!strstr(out, prefix)) {
            block = k;
            break;
        }
    }
    free(out);
    return block;
}

static int build(pt_hosts *h)
{
    char cidr[48];
    int rc = ip_run(false, NULL, "link", "add", h->bridge, "type", "bridge", NULL);
    snprintf(cidr, sizeof cidr, "%s/24", h->root_addr);
    if (!rc)
        rc = ip_run(false, NULL, "addr", "add", cidr, "dev", h->bridge, NULL);
    if (!rc)
        rc = ip_run(false, NULL, "link", "set", h->bridge, "up", NULL);
    for (int i = 0; i < h->n && !rc; i++) {
        char vroot[16], vns[16];
        snprintf(vroot, sizeof vroot, "ptv%d-%d", h->pid, i);
        snprintf(vns, sizeof vns, "ptn%d-%d", h->pid, i);
        snprintf(cidr, sizeof cidr, "%s/24", h->addr[i]);
        rc = ip_run(false, NULL, "netns", "add", h->ns[i], NULL);
        if (!rc)
            rc = ip_run(false, NULL, "link", "add", vroot, "type", "veth", "peer", "name", vns,
                        "netns", h->ns[i], NULL);
        if (!rc)
            rc = ip_run(false, NULL, "link", "set", vroot, "master", h->bridge, "up", NULL);
        if (!rc)
            rc = ip_run(false, NULL, "-n", h->ns[i], "link", "set", "lo", "up", NULL);
        if (!rc)
            rc = ip_run(false, NULL, "-n", h->ns[i], "addr", "add", cidr, "dev", vns, NULL);
        if (!rc)
            rc = ip_run(false, NULL, "-n", h->ns[i], "link", "set", vns, "up", NULL);
    }
    return rc;
}

static void teardown(pt_hosts *h)
{
    for (int i = 0; i < h->n; i++)
        ip_run(true, NULL, "netns", "del", h->ns[i], NULL);
    /* Deleting a namespace destroys its veth end and so the root-side peer. */
    ip_run(true, NULL, "link", "del", h->bridge, NULL);
}

int pt_hosts_create(int n, pt_hosts **out)
{
    if (n < 1 || n > PT_HOSTS_MAX)
        return -EINVAL;
    pt_hosts_sweep();
    pt_hosts *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->n = n;
    h->pid = (int)getpid();
    snprintf(h->bridge, sizeof h->bridge, "ptb%d", h->pid);
    /* Parallel test processes pick their /24 one at a time. */
    int lock = open(NETNS_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock >= 0)
        flock(lock, LOCK_EX);
    int block = pick_block(h->pid);
    int rc = block < 0 ? block : 0;
    if (!rc) {
        int a = 18 + block / 256, b = block % 256;
        snprintf(h->root_addr, sizeof h->root_addr, "198.%d.%d.1", a, b);
        for (int i = 0; i < n; i++) {
            snprintf(h->ns[i], sizeof h->ns[i], "portco-t%d-h%d", h->pid, i);
            snprintf(h->addr[i], sizeof h->addr[i], "198.%d.%d.%d", a, b, 11 + i);
        }
        rc = build(h);
        if (rc)
            teardown(h);
    }
    if (lock >= 0)
        close(lock); /* releases the flock */
    if (rc) {
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

char **pt_hosts_exec_argv(const pt_hosts *hosts, int i, char *const argv_in[])
{
    if (!hosts || i < 0 || i >= hosts->n)
        return NULL;
    size_t n = 0;
    while (argv_in[n])
        n++;
    char **argv = calloc(n + 5, sizeof *argv);
    if (!argv)
        return NULL;
    argv[0] = (char *)ip_bin();
    argv[1] = "netns";
    argv[2] = "exec";
    argv[3] = (char *)hosts->ns[i];
    for (size_t k = 0; k < n; k++)
        argv[4 + k] = argv_in[k];
    return argv;
}

void pt_hosts_destroy(pt_hosts *hosts)
{
    if (!hosts)
        return;
    teardown(hosts);
    free(hosts);
}
