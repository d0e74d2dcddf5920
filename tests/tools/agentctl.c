/* agentctl.c - run portco-agent processes and speak its protocol, for fault and chaos tests. */
#include "agentctl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "support.h"

#define PT_AGENT_START_MS 15000

static int pt_agent_spawn(pt_agent *ag)
{
    char bin[600], sess[32];
    pt_bin("portco-agent", bin, sizeof(bin));
    snprintf(sess, sizeof(sess), "%d", ag->session_ms);
    char *argv[] = {bin,      "--config",    ag->config, "--zk",     ag->zk,   "--root",
                    ag->root, "--host-id",   ag->host,   "--socket", ag->sock, "--session-timeout",
                    sess,     "--log-level", "debug",    NULL};
    ag->pid = pt_spawn(argv, NULL, NULL, ag->log);
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
            (int)sizeof(ag->state_file) ||
        snprintf(ag->config, sizeof(ag->config), "%s/agent.yaml", hdir) >= (int)sizeof(ag->config))
        return -ENAMETOOLONG;
    FILE *f = fopen(ag->config, "w");
    if (!f)
        return -errno;
    fprintf(f, "state_file: \"%s\"\n", ag->state_file);
    fclose(f);
    return pt_agent_spawn(ag);
}

int pt_agent_restart(pt_agent *ag)
{
    pt_agent_stop(ag);
    return pt_agent_spawn(ag);
}

void pt_agent_crash(pt_agent *ag)
{
    if (ag->pid > 0)
        pt_stop_pid(ag->pid, SIGKILL, 5000);
    ag->pid = 0;
}

void pt_agent_stop(pt_agent *ag)
{
    if (ag->pid > 0)
        pt_stop_pid(ag->pid, SIGTERM, 10000);
    ag->pid = 0;
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

int pt_cli_open(pt_cli *c, const char *sock)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(sock);
    if (n >= sizeof(sa.sun_path)) {
        close(c->fd);
        c->fd = -1;
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, sock, n + 1);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = -errno;
        close(c->fd);
        c->fd = -1;
        return e;
    }
    pc_linebuf_init(&c->in, 0, 4);
    c->next_id = 1;
    return 0;
}

void pt_cli_close(pt_cli *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        pc_linebuf_free(&c->in);
    }
    c->fd = -1;
}

static void pt_cli_count_event(pt_cli *c, const pc_answer *a)
{
    if (strcmp(a->event, "conflict") == 0) {
        c->conflicts++;
        json_t *port = json_object_get(json_object_get(a->root, "claim"), "port");
        if (c->nconflict_ports < 32)
            c->conflict_ports[c->nconflict_ports++] = (int)json_integer_value(port);
    } else if (strcmp(a->event, "reasserted") == 0) {
        c->reasserted++;
    }
    if (snprintf(c->last_event, sizeof(c->last_event), "%s: %.400s", a->event, a->message) < 0)
        c->last_event[0] = '\0';
}

/* Read the next line: 1 with *a parsed, 0 at EOF, or a negative code. */
static int pt_cli_read(pt_cli *c, pc_answer *a, int timeout_ms)
{
    char *line;
    size_t len;
    int rc = pc_frame_read_line(&c->in, c->fd, timeout_ms, &line, &len);
    if (rc <= 0)
        return rc;
    int fd;
    while ((fd = pc_linebuf_take_fd(&c->in)) >= 0)
        close(fd);
    pc_error err;
    if (pc_answer_parse(line, len, a, &err) < 0)
        return PORTCO_EPROTO;
    return 1;
}

int pt_cli_call(pt_cli *c, json_t *req, pc_answer *a, int timeout_ms)
{
    memset(a, 0, sizeof(*a));
    if (c->fd < 0) {
        json_decref(req);
        return -EPIPE;
    }
    int64_t id = c->next_id++;
    json_object_set_new(req, "v", json_integer(1));
    json_object_set_new(req, "id", json_integer(id));
    char *s = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!s)
        return -ENOMEM;
    size_t n = strlen(s);
    char *line = malloc(n + 2);
    if (!line) {
        free(s);
        return -ENOMEM;
    }
    memcpy(line, s, n);
    line[n] = '\n';
    free(s);
    int rc = pc_frame_send_all(c->fd, line, n + 1, -1, timeout_ms);
    free(line);
    if (rc < 0)
        return rc;
    long long deadline = pt_now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - pt_now_ms());
        if (left <= 0)
            return -ETIMEDOUT;
        rc = pt_cli_read(c, a, left);
        if (rc == 0)
            return -EPIPE;
        if (rc < 0)
            return rc;
        if (a->is_event) {
            pt_cli_count_event(c, a);
            pc_answer_free(a);
            continue;
        }
        if (a->has_id && a->id == id)
            return 0;
        pc_answer_free(a);
        return PORTCO_EPROTO;
    }
}

int pt_cli_acquire(pt_cli *c, const char *pool, const char *service, int port, const char *lifetime,
                   portco_claim *out, char *msg, size_t mlen)
{
    json_t *req = json_pack("{s:s, s:s, s:s, s:i, s:s}", "op", "acquire", "pool", pool, "service",
                            service, "port", port, "lifetime", lifetime ? lifetime : "connection");
    pc_answer a;
    int rc = pt_cli_call(c, req, &a, 30000);
    if (rc < 0) {
        if (msg)
            snprintf(msg, mlen, "transport: %s", strerror(-rc));
        return rc;
    }
    if (a.ok) {
        portco_claim cl;
        if (pc_claim_from_json(json_object_get(a.root, "claim"), &cl, NULL) < 0) {
            pc_answer_free(&a);
            return PORTCO_EPROTO;
        }
        if (out)
            *out = cl;
        rc = cl.port;
    } else {
        rc = a.code;
        if (msg)
            snprintf(msg, mlen, "%s", a.message);
    }
    pc_answer_free(&a);
    return rc;
}

int pt_cli_release(pt_cli *c, const char *pool, int port)
{
    pc_answer a;
    int rc = pt_cli_call(
        c, json_pack("{s:s, s:s, s:i}", "op", "release", "pool", pool, "port", port), &a, 30000);
    if (rc < 0)
        return rc;
    rc = a.ok ? 0 : a.code;
    pc_answer_free(&a);
    return rc;
}

int pt_cli_status(pt_cli *c, json_t **out)
{
    pc_answer a;
    int rc = pt_cli_call(c, json_pack("{s:s}", "op", "status"), &a, 10000);
    if (rc < 0)
        return rc;
    rc = a.ok ? 0 : a.code;
    if (rc == 0)
        *out = json_incref(a.root);
    pc_answer_free(&a);
    return rc;
}

long long pt_cli_counter(pt_cli *c, const char *name)
{
    json_t *st = NULL;
    if (pt_cli_status(c, &st) < 0)
        return -1;
    json_t *v = json_object_get(json_object_get(st, "counters"), name);
    if (!v)
        v = json_object_get(st, name);
    long long r = json_is_integer(v) ? (long long)json_integer_value(v) : -1;
    json_decref(st);
    return r;
}

int pt_cli_zk_state(pt_cli *c, char *buf, size_t len)
{
    json_t *st = NULL;
    int rc = pt_cli_status(c, &st);
    if (rc < 0)
        return rc;
    const char *z = json_string_value(json_object_get(st, "zookeeper"));
    snprintf(buf, len, "%s", z ? z : "?");
    json_decref(st);
    return 0;
}

int pt_cli_events(pt_cli *c, int timeout_ms, int until)
{
    long long deadline = pt_now_ms() + timeout_ms;
    while (c->fd >= 0 && c->conflicts + c->reasserted < until) {
        int left = (int)(deadline - pt_now_ms());
        if (left <= 0)
            break;
        pc_answer a;
        memset(&a, 0, sizeof(a));
        int rc = pt_cli_read(c, &a, left);
        if (rc <= 0)
            break;
        if (a.is_event)
            pt_cli_count_event(c, &a);
        pc_answer_free(&a);
    }
    return c->conflicts + c->reasserted;
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
