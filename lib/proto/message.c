/* message.c - JSON codec of the agent protocol's requests, answers, events and claims. */
#include "message.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "listpage.h"

static const char *const pc_op_names[] = {NULL, "acquire", "release", "list", "status"};

const char *pc_op_name(pc_op op)
{
    if ((int)op < 1 || (int)op > PC_OP_STATUS)
        return NULL;
    return pc_op_names[op];
}

const char *pc_lifetime_name(portco_lifetime lt)
{
    switch (lt) {
    case PORTCO_LIFETIME_CONNECTION:
        return "connection";
    case PORTCO_LIFETIME_PID:
        return "pid";
    case PORTCO_LIFETIME_EXPLICIT:
        return "explicit";
    }
    return "connection";
}

int pc_lifetime_parse(const char *s, portco_lifetime *out)
{
    if (strcmp(s, "connection") == 0)
        *out = PORTCO_LIFETIME_CONNECTION;
    else if (strcmp(s, "pid") == 0)
        *out = PORTCO_LIFETIME_PID;
    else if (strcmp(s, "explicit") == 0)
        *out = PORTCO_LIFETIME_EXPLICIT;
    else
        return -EINVAL;
    return 0;
}

/* ---- field readers: each returns 0 (absent or valid) or a code set in err ---- */

/* Read an optional string field into buf (size n, NUL included). */
static int pc_get_str(const json_t *o, const char *key, char *buf, size_t n, bool required,
                      int code, pc_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            return pc_error_set(err, code, "field \"%s\" is required", key);
        return 0;
    }
    if (!json_is_string(v))
        return pc_error_set(err, code, "field \"%s\" must be a string", key);
    size_t len = json_string_length(v);
    if (len >= n)
        return pc_error_set(err, code, "field \"%s\" is too long (%zu bytes; at most %zu)", key,
                            len, n - 1);
    memcpy(buf, json_string_value(v), len + 1);
    return 0;
}

/* Read an optional integer field within [lo, hi]. */
static int pc_get_int(const json_t *o, const char *key, long long lo, long long hi, long long *out,
                      int code, pc_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return pc_error_set(err, code, "field \"%s\" must be an integer", key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return pc_error_set(err, code, "field \"%s\" is %lld; it must be between %lld and %lld",
                            key, x, lo, hi);
    *out = x;
    return 0;
}

static int pc_get_bool(const json_t *o, const char *key, bool *out, int code, pc_error *err)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return pc_error_set(err, code, "field \"%s\" must be true or false", key);
    *out = json_is_true(v);
    return 0;
}

/* Pool names become znode path components: letters, digits, '.', '_', '-'. */
static int pc_check_pool(const char *pool, pc_error *err)
{
    if (!pool[0])
        return pc_error_set(err, PORTCO_EBADREQ, "field \"pool\" must not be empty");
    if (strcmp(pool, ".") == 0 || strcmp(pool, "..") == 0)
        return pc_error_set(err, PORTCO_EBADREQ, "field \"pool\" must not be \".\" or \"..\"");
    for (const char *p = pool; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return pc_error_set(err, PORTCO_EBADREQ,
                                "field \"pool\" may hold only letters, digits, '.', '_' and '-'");
    }
    return 0;
}

/* Printable ASCII only: the text lands in claim data that operators read. */
static int pc_check_printable(const char *key, const char *s, bool nonempty, pc_error *err)
{
    if (nonempty && !s[0])
        return pc_error_set(err, PORTCO_EBADREQ, "field \"%s\" must not be empty", key);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            return pc_error_set(err, PORTCO_EBADREQ,
                                "field \"%s\" may hold only printable ASCII characters", key);
    return 0;
}

static int pc_parse_acquire(const json_t *o, pc_acquire_req *a, pc_error *err)
{
    const int E = PORTCO_EBADREQ;
    long long port = 0, wait = 0, pid = 0, backlog = 0;
    char lifetime[16] = "connection";
    int rc;
    a->lifetime = PORTCO_LIFETIME_CONNECTION;
    if ((rc = pc_get_str(o, "pool", a->pool, sizeof(a->pool), true, E, err)) ||
        (rc = pc_check_pool(a->pool, err)) ||
        (rc = pc_get_str(o, "service", a->service, sizeof(a->service), true, E, err)) ||
        (rc = pc_check_printable("service", a->service, true, err)) ||
        (rc = pc_get_str(o, "instance", a->instance, sizeof(a->instance), false, E, err)) ||
        (rc = pc_check_printable("instance", a->instance, false, err)) ||
        (rc = pc_get_int(o, "port", 0, 65535, &port, E, err)) ||
        (rc = pc_get_int(o, "wait_ms", -1, INT32_MAX, &wait, E, err)) ||
        (rc = pc_get_int(o, "hold_pid", 0, INT32_MAX, &pid, E, err)) ||
        (rc = pc_get_int(o, "backlog", 0, 65535, &backlog, E, err)) ||
        (rc = pc_get_bool(o, "socket", &a->socket, E, err)) ||
        (rc = pc_get_bool(o, "listen", &a->listen, E, err)) ||
        (rc = pc_get_bool(o, "v6only", &a->v6only, E, err)))
        return rc;
    const json_t *lt = json_object_get(o, "lifetime");
    if (lt) {
        if (!json_is_string(lt) || json_string_length(lt) >= sizeof(lifetime))
            return pc_error_set(
                err, E, "field \"lifetime\" must be \"connection\", \"pid\" or \"explicit\"");
        snprintf(lifetime, sizeof(lifetime), "%s", json_string_value(lt));
        if (pc_lifetime_parse(lifetime, &a->lifetime) < 0)
            return pc_error_set(
                err, E, "field \"lifetime\" must be \"connection\", \"pid\" or \"explicit\"");
    }
    a->port = (int)port;
    a->wait_ms = (int)wait;
    a->hold_pid = (pid_t)pid;
    a->backlog = (int)backlog;
    if (a->lifetime == PORTCO_LIFETIME_PID && a->hold_pid <= 0)
        return pc_error_set(err, E, "lifetime \"pid\" needs \"hold_pid\": the pid to follow");
    if (a->lifetime != PORTCO_LIFETIME_PID && a->hold_pid != 0)
        return pc_error_set(err, E, "\"hold_pid\" is only valid with lifetime \"pid\"");
    if (a->wait_ms != 0 && a->port == 0)
        return pc_error_set(err, E, "\"wait_ms\" is only valid with a specific \"port\"");
    if (a->listen && !a->socket)
        return pc_error_set(err, E, "\"listen\" is only valid with \"socket\": true");
    return 0;
}

int pc_request_parse(const char *line, size_t len, pc_request *req, pc_error *err)
{
    const int E = PORTCO_EBADREQ;
    memset(req, 0, sizeof(*req));
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return pc_error_set(err, E, "request is not valid JSON: %s (column %d)", jerr.text,
                            jerr.column);
    int rc = 0;
    if (!json_is_object(o)) {
        rc = pc_error_set(err, E, "a request must be a JSON object");
        goto out;
    }
    const json_t *id = json_object_get(o, "id");
    if (json_is_integer(id)) {
        req->id = json_integer_value(id);
        req->has_id = true;
    }
    const json_t *v = json_object_get(o, "v");
    if (!v) {
        rc = pc_error_set(err, E, "field \"v\" is required (the protocol version, 1)");
        goto out;
    }
    if (!json_is_integer(v)) {
        rc = pc_error_set(err, E, "field \"v\" must be an integer");
        goto out;
    }
    if (json_integer_value(v) != PC_PROTO_VERSION) {
        rc = pc_error_set(err, PORTCO_EVERSION,
                          "protocol version %lld is not supported; this agent speaks version %d",
                          (long long)json_integer_value(v), PC_PROTO_VERSION);
        goto out;
    }
    if (!id) {
        rc = pc_error_set(err, E, "field \"id\" is required (an integer chosen by the client)");
        goto out;
    }
    if (!req->has_id) {
        rc = pc_error_set(err, E, "field \"id\" must be an integer");
        goto out;
    }
    const json_t *op = json_object_get(o, "op");
    if (!op) {
        rc = pc_error_set(err, E, "field \"op\" is required");
        goto out;
    }
    if (!json_is_string(op)) {
        rc = pc_error_set(err, E, "field \"op\" must be a string");
        goto out;
    }
    const char *ops = json_string_value(op);
    for (int i = PC_OP_ACQUIRE; i <= PC_OP_STATUS; i++)
        if (strcmp(ops, pc_op_names[i]) == 0)
            req->op = (pc_op)i;
    long long port = 0;
    switch (req->op) {
    case PC_OP_ACQUIRE:
        rc = pc_parse_acquire(o, &req->acquire, err);
        break;
    case PC_OP_RELEASE:
        if ((rc = pc_get_str(o, "pool", req->pool, sizeof(req->pool), true, E, err)) ||
            (rc = pc_check_pool(req->pool, err)))
            break;
        if (!json_object_get(o, "port")) {
            rc = pc_error_set(err, E, "field \"port\" is required");
            break;
        }
        if ((rc = pc_get_int(o, "port", 1, 65535, &port, E, err)))
            break;
        req->port = (int)port;
        if ((rc = pc_get_str(o, "claim", req->claim, sizeof(req->claim), false, E, err)) == 0)
            rc = pc_check_printable("claim", req->claim, false, err);
        break;
    case PC_OP_LIST:
        if ((rc = pc_get_str(o, "pool", req->pool, sizeof(req->pool), false, E, err)))
            break;
        if (json_object_get(o, "pool") && (rc = pc_check_pool(req->pool, err)))
            break;
        if ((rc = pc_get_int(o, "limit", 1, PC_LIST_LIMIT_MAX, &port, E, err)))
            break;
        req->limit = (int)port;
        if (json_object_get(o, "after")) {
            rc = pc_list_key_from_json(json_object_get(o, "after"), &req->after, E, err);
            req->has_after = rc == 0;
            if (rc == 0 && !req->limit)
                rc = pc_error_set(err, E, "\"after\" needs \"limit\": the size of the page");
        }
        break;
    case PC_OP_STATUS:
        break;
    default:
        rc = pc_error_set(err, E, "unknown op \"%.64s\"; expected acquire, release, list or status",
                          ops);
        break;
    }
out:
    json_decref(o);
    return rc;
}

json_t *pc_request_to_json(const pc_request *req)
{
    const char *op = pc_op_name(req->op);
    if (!op)
        return NULL;
    json_t *o =
        json_pack("{s:i, s:I, s:s}", "v", PC_PROTO_VERSION, "id", (json_int_t)req->id, "op", op);
    if (!o)
        return NULL;
    int rc = 0;
    const pc_acquire_req *a = &req->acquire;
    switch (req->op) {
    case PC_OP_ACQUIRE:
        rc |= json_object_set_new(o, "pool", json_string(a->pool));
        rc |= json_object_set_new(o, "service", json_string(a->service));
        rc |= json_object_set_new(o, "instance", json_string(a->instance));
        rc |= json_object_set_new(o, "port", json_integer(a->port));
        rc |= json_object_set_new(o, "wait_ms", json_integer(a->wait_ms));
        rc |= json_object_set_new(o, "lifetime", json_string(pc_lifetime_name(a->lifetime)));
        rc |= json_object_set_new(o, "hold_pid", json_integer(a->hold_pid));
        rc |= json_object_set_new(o, "socket", json_boolean(a->socket));
        rc |= json_object_set_new(o, "listen", json_boolean(a->listen));
        rc |= json_object_set_new(o, "backlog", json_integer(a->backlog));
        rc |= json_object_set_new(o, "v6only", json_boolean(a->v6only));
        break;
    case PC_OP_RELEASE:
        rc |= json_object_set_new(o, "pool", json_string(req->pool));
        rc |= json_object_set_new(o, "port", json_integer(req->port));
        if (req->claim[0])
            rc |= json_object_set_new(o, "claim", json_string(req->claim));
        break;
    case PC_OP_LIST:
        if (req->pool[0])
            rc |= json_object_set_new(o, "pool", json_string(req->pool));
        if (req->limit)
            rc |= json_object_set_new(o, "limit", json_integer(req->limit));
        if (req->has_after) {
            json_t *after = pc_list_key_to_json(&req->after);
            rc |= after ? json_object_set_new(o, "after", after) : -1;
        }
        break;
    case PC_OP_STATUS:
        break;
    }
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int pc_json_line(const json_t *msg, char **out, size_t *len)
{
    char *s = json_dumps(msg, JSON_COMPACT);
    if (!s)
        return -ENOMEM;
    size_t n = strlen(s);
    if (n + 1 > PC_PROTO_MAX_LINE) {
        free(s);
        return PORTCO_ETOOBIG;
    }
    char *b = realloc(s, n + 2);
    if (!b) {
        free(s);
        return -ENOMEM;
    }
    b[n] = '\n';
    b[n + 1] = '\0';
    *out = b;
    *len = n + 1;
    return 0;
}

json_t *pc_answer_ok(int64_t id)
{
    return json_pack("{s:i, s:I, s:b}", "v", PC_PROTO_VERSION, "id", (json_int_t)id, "ok", 1);
}

json_t *pc_answer_error(int64_t id, bool has_id, int code, const char *msg)
{
    json_t *e = json_pack("{s:s, s:s}", "code", portco_err_name(code), "message",
                          msg ? msg : portco_strerror(code));
    if (!e)
        return NULL;
    json_t *idv = has_id ? json_integer(id) : json_null();
    return json_pack("{s:i, s:o, s:b, s:o}", "v", PC_PROTO_VERSION, "id", idv, "ok", 0, "error", e);
}

json_t *pc_event_new(const char *name, json_t *claim, const char *msg)
{
    return json_pack("{s:i, s:s, s:o, s:s}", "v", PC_PROTO_VERSION, "event", name, "claim", claim,
                     "message", msg ? msg : "");
}

json_t *pc_claim_to_json(const portco_claim *c, int lifetime, long long uid)
{
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "pool",
                          c->pool, "port", (int)c->port, "proto", c->proto, "address", c->address,
                          "host", c->host, "service", c->service, "instance", c->instance, "claim",
                          c->claim, "czxid", (json_int_t)c->czxid, "pid", (json_int_t)c->pid,
                          "since_ms", (json_int_t)c->since_ms);
    if (!o)
        return NULL;
    int rc = 0;
    if (uid >= 0)
        rc |= json_object_set_new(o, "uid", json_integer(uid));
    if (lifetime >= 0)
        rc |= json_object_set_new(o, "lifetime",
                                  json_string(pc_lifetime_name((portco_lifetime)lifetime)));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int pc_claim_from_json(const json_t *o, portco_claim *c, pc_error *err)
{
    const int E = PORTCO_EPROTO;
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    if (!json_is_object(o))
        return pc_error_set(err, E, "a claim must be a JSON object");
    long long port = 0, czxid = 0, pid = 0, since = 0;
    int rc;
    if ((rc = pc_get_str(o, "pool", c->pool, sizeof(c->pool), false, E, err)) ||
        (rc = pc_get_str(o, "proto", c->proto, sizeof(c->proto), false, E, err)) ||
        (rc = pc_get_str(o, "address", c->address, sizeof(c->address), false, E, err)) ||
        (rc = pc_get_str(o, "host", c->host, sizeof(c->host), false, E, err)) ||
        (rc = pc_get_str(o, "service", c->service, sizeof(c->service), false, E, err)) ||
        (rc = pc_get_str(o, "instance", c->instance, sizeof(c->instance), false, E, err)) ||
        (rc = pc_get_str(o, "claim", c->claim, sizeof(c->claim), false, E, err)) ||
        (rc = pc_get_int(o, "port", 0, 65535, &port, E, err)) ||
        (rc = pc_get_int(o, "czxid", INT64_MIN, INT64_MAX, &czxid, E, err)) ||
        (rc = pc_get_int(o, "pid", 0, INT32_MAX, &pid, E, err)) ||
        (rc = pc_get_int(o, "since_ms", INT64_MIN, INT64_MAX, &since, E, err)))
        return rc;
    c->port = (uint16_t)port;
    c->czxid = czxid;
    c->pid = (pid_t)pid;
    c->since_ms = since;
    return 0;
}

int pc_answer_parse(const char *line, size_t len, pc_answer *a, pc_error *err)
{
    const int E = PORTCO_EPROTO;
    memset(a, 0, sizeof(*a));
    json_error_t jerr;
    json_t *o = json_loadb(line, len, 0, &jerr);
    if (!o)
        return pc_error_set(err, E, "agent sent invalid JSON: %s", jerr.text);
    int rc = 0;
    if (!json_is_object(o)) {
        rc = pc_error_set(err, E, "agent sent a message that is not a JSON object");
        goto fail;
    }
    const json_t *v = json_object_get(o, "v");
    if (!json_is_integer(v)) {
        rc = pc_error_set(err, E, "agent message has no integer \"v\"");
        goto fail;
    }
    if (json_integer_value(v) != PC_PROTO_VERSION) {
        rc = pc_error_set(err, PORTCO_EVERSION, "agent speaks protocol version %lld, not %d",
                          (long long)json_integer_value(v), PC_PROTO_VERSION);
        goto fail;
    }
    const json_t *ev = json_object_get(o, "event");
    if (ev) {
        if (!json_is_string(ev) || json_string_length(ev) >= sizeof(a->event)) {
            rc = pc_error_set(err, E, "agent event has a bad \"event\" name");
            goto fail;
        }
        a->is_event = true;
        snprintf(a->event, sizeof(a->event), "%s", json_string_value(ev));
        const json_t *m = json_object_get(o, "message");
        if (json_is_string(m))
            snprintf(a->message, sizeof(a->message), "%s", json_string_value(m));
        a->root = o;
        return 0;
    }
    const json_t *id = json_object_get(o, "id");
    if (json_is_integer(id)) {
        a->has_id = true;
        a->id = json_integer_value(id);
    } else if (!json_is_null(id)) {
        rc = pc_error_set(err, E, "agent answer has no integer \"id\"");
        goto fail;
    }
    const json_t *ok = json_object_get(o, "ok");
    if (!json_is_boolean(ok)) {
        rc = pc_error_set(err, E, "agent answer has no boolean \"ok\"");
        goto fail;
    }
    a->ok = json_is_true(ok);
    a->fd = json_is_true(json_object_get(o, "fd"));
    if (!a->ok) {
        const json_t *e = json_object_get(o, "error");
        const json_t *code = json_object_get(e, "code");
        const json_t *msg = json_object_get(e, "message");
        if (!json_is_object(e) || !json_is_string(code)) {
            rc = pc_error_set(err, E, "agent error answer has no \"error.code\"");
            goto fail;
        }
        /* An unknown name, or "OK" in an error, is a code this side cannot act on. */
        if (portco_err_from_name(json_string_value(code), &a->code) != 0 || a->code == 0)
            a->code = PORTCO_EPROTO;
        snprintf(a->message, sizeof(a->message), "%s",
                 json_is_string(msg) ? json_string_value(msg) : portco_strerror(a->code));
    }
    a->root = o;
    return 0;
fail:
    json_decref(o);
    memset(a, 0, sizeof(*a));
    return rc;
}

void pc_answer_free(pc_answer *a)
{
    if (!a)
        return;
    json_decref(a->root);
    a->root = NULL;
}
