/* agentctl.c - start, restart, crash and stop portco-agent processes for tests. */
#include "agentctl.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentcli.h"
#include "support.h"

#define PT_AGENT_START_MS 15000
#define PT_AGENT_STOP_MS  10000

static int pt_agent_spawn(pt_agent *ag)
{
    char bin[600], sess[32];
    pt_bin("portco-agent", bin, sizeof(bin));
    snprintf(sess, sizeof(sess), "%d", ag->session_ms);
    char *argv[] = {bin,      "--zk",         ag->zk,         "--root",
                    ag->root, "--host-id",    ag->host,       "--socket",
                    ag->sock, "--state-file", ag->state_file, "--session-timeout",
                    sess,     "--log-level",  "debug",        NULL};
    ag->pid = pt_spawn(argv, NULL, ag->log, ag->log);
    if (ag->pid < 0) {
        int rc = ag->pid;
        ag->pid = 0;
        return rc;
    }
    if (!pt_wait_unix_socket(ag->sock, PT_AGENT_START_MS)) {
        pt_agent_stop(ag);
        return -ETIMEDOUT;
    }
    return 0;
}

int pt_agent_run(pt_agent *ag, const char *dir, const char *host, const char *zk, const char *root,
                 int session_ms)
{
    memset(ag, 0, sizeof(*ag));
    snprintf(ag->host, sizeof(ag->host), "%s", host);
    snprintf(ag->zk, sizeof(ag->zk), "%s", zk);
    snprintf(ag->root, sizeof(ag->root), "%s", root);
    ag->session_ms = session_ms;
    char hdir[400];
    if (snprintf(hdir, sizeof(hdir), "%s/%s", dir, host) >= (int)sizeof(hdir))
        return -ENAMETOOLONG;
    if (mkdir(hdir, 0700) < 0 && errno != EEXIST)
        return -errno;
    if (snprintf(ag->sock, sizeof(ag->sock), "%s/agent.sock", hdir) >= (int)sizeof(ag->sock) ||
        snprintf(ag->log, sizeof(ag->log), "%s/agent.log", hdir) >= (int)sizeof(ag->log) ||
        snprintf(ag->state_file, sizeof(ag->state_file), "%s/agent.state", hdir) >=
            (int)sizeof(ag->state_file))
        return -ENAMETOOLONG;
    return pt_agent_spawn(ag);
}

int pt_agent_restart(pt_agent *ag)
{
    pt_agent_stop(ag);
    return pt_agent_spawn(ag);
}

int pt_agent_wait_ready(const pt_agent *ag, bool need_pools, int timeout_ms)
{
    pt_cli c;
    int rc = pt_cli_open(&c, ag->sock);
    if (rc < 0)
        return rc;
    long long deadline = pt_now_ms() + timeout_ms;
    for (;;) {
        json_t *st = NULL;
        rc = pt_cli_status(&c, &st);
        if (rc == 0) {
            const char *zk = json_string_value(json_object_get(st, "zookeeper"));
            bool ok = zk && strcmp(zk, "connected") == 0 &&
                      (!need_pools || json_is_true(json_object_get(st, "ready")));
            json_decref(st);
            if (!ok)
                rc = -ETIMEDOUT;
        }
        if (rc == 0 || pt_now_ms() >= deadline)
            break;
        pt_nap_ms(20);
    }
    pt_cli_close(&c);
    return rc;
}

void pt_agent_crash(pt_agent *ag)
{
    if (ag->pid > 0)
        pt_stop_pid(ag->pid, SIGKILL, 5000);
    ag->pid = 0;
}

int pt_agent_stop(pt_agent *ag)
{
    if (ag->pid <= 0)
        return 0;
    int st = 0;
    int rc = 0;
    if (kill(ag->pid, SIGTERM) < 0 && errno != ESRCH)
        rc = -errno;
    else if (pt_wait_pid(ag->pid, PT_AGENT_STOP_MS, &st) < 0)
        rc = -ETIMEDOUT;
    if (rc < 0)
        pt_stop_pid(ag->pid, SIGKILL, 5000);
    ag->pid = 0;
    return rc < 0 ? rc : st;
}

int pt_agent_sanitizer_report(const pt_agent *ag)
{
    FILE *f = ag->log[0] ? fopen(ag->log, "r") : NULL;
    if (!f)
        return 0;
    char line[4096];
    int bad = 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error:")) {
            if (!bad)
                fprintf(stderr, "---- sanitizer report in %s ----\n", ag->log);
            bad = 1;
            fputs(line, stderr);
        }
    fclose(f);
    return bad;
}

void pt_agent_dump_log(const pt_agent *ag, size_t tail_bytes)
{
    FILE *f = fopen(ag->log, "r");
    if (!f)
        return;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        long from = size > (long)tail_bytes ? size - (long)tail_bytes : 0;
        fseek(f, from, SEEK_SET);
    }
    fprintf(stderr, "---- %s (tail) ----\n", ag->log);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, stderr);
    fprintf(stderr, "---- end of %s ----\n", ag->log);
    fclose(f);
}
