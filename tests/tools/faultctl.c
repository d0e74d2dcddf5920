/* faultctl.c - test-side control of portco-faultproxy: start, command, stop. */
#include "faultctl.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "support.h"

#define PT_PROXY_START_MS 10000
#define PT_PROXY_CMD_MS   5000

int pt_proxy_start(pt_proxy *p, const char *dir, const char *upstream)
{
    memset(p, 0, sizeof(*p));
    static int seq;
    char bin[600], ports[600], out[600];
    int n = seq++;
    snprintf(bin, sizeof(bin), "%s/tests/tools/portco-faultproxy", pt_build_dir());
    snprintf(p->ctl, sizeof(p->ctl), "%s/proxy%d.ctl", dir, n);
    snprintf(ports, sizeof(ports), "%s/proxy%d.ports", dir, n);
    snprintf(out, sizeof(out), "%s/proxy%d.log", dir, n);
    char *argv[32];
    int k = 0;
    argv[k++] = bin;
    char ups[1024];
    snprintf(ups, sizeof(ups), "%s", upstream);
    for (char *save = NULL, *tok = strtok_r(ups, ",", &save); tok && k < 24;
         tok = strtok_r(NULL, ",", &save)) {
        argv[k++] = "--upstream";
        argv[k++] = tok;
    }
    argv[k++] = "--control";
    argv[k++] = p->ctl;
    argv[k++] = "--ports-file";
    argv[k++] = ports;
    argv[k] = NULL;
    p->pid = pt_spawn(argv, NULL, out, out);
    if (p->pid < 0) {
        int rc = p->pid;
        p->pid = 0;
        return rc;
    }
    if (!pt_wait_file(ports, PT_PROXY_START_MS) ||
        !pt_wait_unix_socket(p->ctl, PT_PROXY_START_MS)) {
        pt_proxy_stop(p);
        return -ETIMEDOUT;
    }
    char line[512];
    int rc = pt_read_file(ports, line, sizeof(line));
    if (rc <= 0) {
        pt_proxy_stop(p);
        return rc < 0 ? rc : -EIO;
    }
    size_t off = 0;
    for (char *save = NULL, *tok = strtok_r(line, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
        off += (size_t)snprintf(p->connect + off, sizeof(p->connect) - off, "%s127.0.0.1:%s",
                                off ? "," : "", tok);
    return 0;
}

int pt_proxy_cmd(pt_proxy *p, const char *cmd, char *ans, size_t len)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t plen = strlen(p->ctl);
    if (plen >= sizeof(sa.sun_path)) {
        close(fd);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, p->ctl, plen + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    char line[300];
    int n = snprintf(line, sizeof(line), "%s\n", cmd);
    if (write(fd, line, (size_t)n) != n) {
        close(fd);
        return -EIO;
    }
    char buf[512];
    size_t got = 0;
    long long deadline = pt_now_ms() + PT_PROXY_CMD_MS;
    int rc = -ETIMEDOUT;
    while (pt_now_ms() < deadline && got < sizeof(buf) - 1) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (r <= 0) {
            rc = -EIO;
            break;
        }
        got += (size_t)r;
        buf[got] = '\0';
        char *nl = strchr(buf, '\n');
        if (nl) {
            *nl = '\0';
            rc = strncmp(buf, "ok", 2) == 0 ? 0 : -EIO;
            break;
        }
    }
    close(fd);
    if (ans && len) {
        buf[got < sizeof(buf) ? got : sizeof(buf) - 1] = '\0';
        snprintf(ans, len, "%s", buf);
    }
    return rc;
}

long long pt_proxy_stat(pt_proxy *p, const char *name)
{
    char ans[512], key[64];
    if (pt_proxy_cmd(p, "stats", ans, sizeof(ans)) < 0)
        return -1;
    snprintf(key, sizeof(key), " %s=", name);
    char *at = strstr(ans, key);
    return at ? atoll(at + strlen(key)) : -1;
}

void pt_proxy_stop(pt_proxy *p)
{
    if (p->pid > 0)
        pt_stop_pid(p->pid, SIGTERM, 5000);
    p->pid = 0;
}
