/* agentcli.c - speak portco-agent's line protocol directly, for tests. */
#include "agentcli.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "support.h"

#define PT_CALL_MS 20000 /* the asserting forms' wait for an answer */

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

int pt_cli_send(pt_cli *c, const char *line, int timeout_ms)
{
    if (c->fd < 0)
        return -EPIPE;
    return pc_frame_send_all(c->fd, line, strlen(line), -1, timeout_ms);
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

/* Read the next line, answer or event: 1 with *a parsed, 0 at EOF, or a negative code. */
static int pt_cli_read(pt_cli *c, pc_answer *a, int timeout_ms)
{
    memset(a, 0, sizeof(*a));
    if (c->fd < 0)
        return 0;
    char *line;
    size_t len;
    int rc = pc_frame_read_line(&c->in, c->fd, timeout_ms, &line, &len);
    if (rc <= 0)
        return rc;
    pc_error err;
    if (pc_answer_parse(line, len, a, &err) < 0)
        return PORTCO_EPROTO;
    return 1;
}

int pt_cli_next(pt_cli *c, pc_answer *a, int timeout_ms)
{
    long long deadline = pt_now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - pt_now_ms());
        if (left <= 0)
            return -ETIMEDOUT;
        int rc = pt_cli_read(c, a, left);
        if (rc <= 0)
            return rc;
        if (!a->is_event)
            return 1;
        pt_cli_count_event(c, a);
        pc_answer_free(a);
    }
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
    line[n + 1] = '\0';
    free(s);
    int rc = pt_cli_send(c, line, timeout_ms);
    free(line);
    if (rc < 0)
        return rc;
    rc = pt_cli_next(c, a, timeout_ms);
    if (rc == 0)
        return -EPIPE;
    if (rc < 0)
        return rc;
    if (a->has_id && a->id == id)
        return 0;
    pc_answer_free(a);
    return PORTCO_EPROTO;
}

/* The port an acquire's answer grants (its claim in *out), or its error code. */
static int pt_cli_grant_of(const pc_answer *a, portco_claim *out, char *msg, size_t mlen)
{
    if (!a->ok) {
        if (msg)
            snprintf(msg, mlen, "%s", a->message);
        return a->code;
    }
    portco_claim cl;
    if (pc_claim_from_json(json_object_get(a->root, "claim"), &cl, NULL) < 0)
        return PORTCO_EPROTO;
    if (out)
        *out = cl;
    return cl.port;
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
    rc = pt_cli_grant_of(&a, out, msg, mlen);
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

typedef struct pt_state_arg {
    pt_cli *c;
    const char *want;
} pt_state_arg;

static bool pt_cli_zk_state_is(void *arg)
{
    pt_state_arg *s = arg;
    char buf[32];
    return pt_cli_zk_state(s->c, buf, sizeof(buf)) == 0 && strcmp(buf, s->want) == 0;
}

bool pt_cli_wait_zk_state(pt_cli *c, const char *want, int timeout_ms)
{
    pt_state_arg s = {c, want};
    return pt_wait_until(pt_cli_zk_state_is, &s, timeout_ms);
}

int pt_cli_events(pt_cli *c, int timeout_ms, int until)
{
    long long deadline = pt_now_ms() + timeout_ms;
    while (c->fd >= 0 && c->conflicts + c->reasserted < until) {
        int left = (int)(deadline - pt_now_ms());
        if (left <= 0)
            break;
        pc_answer a;
        int rc = pt_cli_read(c, &a, left);
        if (rc <= 0)
            break;
        if (a.is_event)
            pt_cli_count_event(c, &a);
        pc_answer_free(&a);
    }
    return c->conflicts + c->reasserted;
}

/* ---- asserting short forms ---- */

void pt_connect(pt_cli *c, const pt_agent *ag)
{
    int rc = pt_cli_open(c, ag->sock);
    cr_assert_eq(rc, 0, "connect to %s: %s", ag->sock, strerror(-rc));
}

void pt_close(pt_cli *c)
{
    pt_cli_close(c);
}

void pt_send_raw(pt_cli *c, const char *line)
{
    int rc = pt_cli_send(c, line, 5000);
    cr_assert_eq(rc, 0, "send: %s", strerror(-rc));
}

int pt_read_answer(pt_cli *c, pc_answer *a, int timeout_ms)
{
    int rc = pt_cli_next(c, a, timeout_ms);
    cr_assert_neq(rc, PORTCO_EPROTO, "a line that is not a protocol message");
    return rc;
}

int pt_read_event(pt_cli *c, pc_answer *a, int timeout_ms)
{
    int rc = pt_cli_read(c, a, timeout_ms);
    cr_assert_neq(rc, PORTCO_EPROTO, "a line that is not a protocol message");
    if (rc == 1) {
        cr_assert(a->is_event, "expected an event, got the answer to request %lld",
                  (long long)a->id);
        pt_cli_count_event(c, a);
    }
    return rc;
}

void pt_call(pt_cli *c, json_t *req, pc_answer *a)
{
    char *s = json_dumps(req, JSON_COMPACT);
    int rc = pt_cli_call(c, req, a, PT_CALL_MS);
    cr_assert_eq(rc, 0, "no answer to %s: %s", s ? s : "?",
                 rc == PORTCO_EPROTO ? "not its answer" : strerror(-rc));
    free(s);
}

json_t *pt_acq_req(const char *pool, const char *service, int port)
{
    return json_pack("{s:s, s:s, s:s, s:i}", "op", "acquire", "pool", pool, "service", service,
                     "port", port);
}

/* The grant of an answer, which is freed. */
static int pt_grant_of(pc_answer *a, portco_claim *out)
{
    int rc = pt_cli_grant_of(a, out, NULL, 0);
    cr_assert_neq(rc, PORTCO_EPROTO, "the granted claim does not parse");
    pc_answer_free(a);
    return rc;
}

int pt_acquire(pt_cli *c, json_t *req, portco_claim *out)
{
    pc_answer a;
    pt_call(c, req, &a);
    return pt_grant_of(&a, out);
}

void pt_send_acquire(pt_cli *c, const char *pool, int port, int wait_ms)
{
    char line[256];
    snprintf(line, sizeof(line),
             "{\"v\":1,\"id\":%lld,\"op\":\"acquire\",\"pool\":\"%s\",\"service\":\"w\","
             "\"port\":%d,\"wait_ms\":%d}\n",
             (long long)c->next_id++, pool, port, wait_ms);
    pt_send_raw(c, line);
}

int pt_read_grant(pt_cli *c, int timeout_ms, portco_claim *out)
{
    pc_answer a;
    cr_assert_eq(pt_read_answer(c, &a, timeout_ms), 1, "no answer within %d ms", timeout_ms);
    return pt_grant_of(&a, out);
}

int pt_release(pt_cli *c, const char *pool, int port)
{
    pc_answer a;
    pt_call(c, json_pack("{s:s, s:s, s:i}", "op", "release", "pool", pool, "port", port), &a);
    int rc = a.ok ? 0 : a.code;
    pc_answer_free(&a);
    return rc;
}

json_int_t pt_counter(pt_cli *c, const char *name)
{
    long long v = pt_cli_counter(c, name);
    cr_assert_geq(v, 0, "status has no counter %s", name);
    return (json_int_t)v;
}
