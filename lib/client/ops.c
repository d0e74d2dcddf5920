/* ops.c - libportco's requests: acquire, release, list and status, checked before they are sent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

#define PC_KNOWN_FLAGS (PORTCO_ACQ_SOCKET | PORTCO_ACQ_LISTEN | PORTCO_ACQ_V6ONLY)

/* Check a name field: required or not, at most max-1 bytes. */
static int pc_check_name(const char *what, const char *s, size_t max, bool required, pc_error *err)
{
    if (!s || !s[0]) {
        if (required)
            return pc_error_set(err, PORTCO_EBADREQ, "%s is required", what);
        return 0;
    }
    if (strlen(s) >= max)
        return pc_error_set(err, PORTCO_EBADREQ, "%s is longer than %zu bytes", what, max - 1);
    return 0;
}

/* Validate the options and turn them into a request object (new reference). */
static int pc_acquire_request(const portco_acquire_opts *o, json_t **out, pc_error *err)
{
    int rc;
    if (!o)
        return pc_error_set(err, PORTCO_EBADREQ, "acquire options are required");
    if ((rc = pc_check_name("pool", o->pool, PC_POOL_MAX, true, err)) ||
        (rc = pc_check_name("service", o->service, PC_SERVICE_MAX, true, err)) ||
        (rc = pc_check_name("instance", o->instance, PC_INSTANCE_MAX, false, err)))
        return rc;
    if (o->wait_ms < -1)
        return pc_error_set(err, PORTCO_EBADREQ,
                            "wait_ms must be -1 (forever), 0 (no wait) or a positive time");
    if (o->wait_ms != 0 && o->port == 0)
        return pc_error_set(err, PORTCO_EBADREQ,
                            "wait_ms applies to a given port only; set port, or wait_ms 0");
    if (o->lifetime != PORTCO_LIFETIME_CONNECTION && o->lifetime != PORTCO_LIFETIME_PID &&
        o->lifetime != PORTCO_LIFETIME_EXPLICIT)
        return pc_error_set(err, PORTCO_EBADREQ, "unknown lifetime %d", (int)o->lifetime);
    if (o->lifetime == PORTCO_LIFETIME_PID && o->hold_pid <= 0)
        return pc_error_set(err, PORTCO_EBADREQ,
                            "lifetime PORTCO_LIFETIME_PID needs hold_pid, the process to watch");
    if (o->lifetime != PORTCO_LIFETIME_PID && o->hold_pid != 0)
        return pc_error_set(err, PORTCO_EBADREQ,
                            "hold_pid is only meaningful with lifetime PORTCO_LIFETIME_PID");
    if (o->flags & ~PC_KNOWN_FLAGS)
        return pc_error_set(err, PORTCO_EBADREQ, "unknown flags 0x%x", o->flags & ~PC_KNOWN_FLAGS);
    if ((o->flags & (PORTCO_ACQ_LISTEN | PORTCO_ACQ_V6ONLY)) && !(o->flags & PORTCO_ACQ_SOCKET))
        return pc_error_set(err, PORTCO_EBADREQ,
                            "PORTCO_ACQ_LISTEN and PORTCO_ACQ_V6ONLY need PORTCO_ACQ_SOCKET");
    if (o->backlog < 0)
        return pc_error_set(err, PORTCO_EBADREQ, "backlog must be >= 0 (0: SOMAXCONN)");
    for (size_t i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]); i++)
        if (o->reserved[i] != 0)
            return pc_error_set(err, PORTCO_EBADREQ,
                                "portco_acquire_opts.reserved must be zero: zero the whole "
                                "struct (= {0}) before setting its fields");

    pc_request req;
    memset(&req, 0, sizeof(req));
    req.op = PC_OP_ACQUIRE;
    pc_acquire_req *a = &req.acquire;
    strcpy(a->pool, o->pool);
    strcpy(a->service, o->service);
    if (o->instance)
        strcpy(a->instance, o->instance);
    a->port = o->port;
    a->wait_ms = o->port ? o->wait_ms : 0;
    a->lifetime = o->lifetime;
    a->hold_pid = o->hold_pid;
    a->socket = (o->flags & PORTCO_ACQ_SOCKET) != 0;
    a->listen = (o->flags & PORTCO_ACQ_LISTEN) != 0;
    a->v6only = (o->flags & PORTCO_ACQ_V6ONLY) != 0;
    a->backlog = o->backlog;
    *out = pc_request_to_json(&req);
    if (!*out)
        return pc_error_set(err, -ENOMEM, "out of memory building the request");
    return 0;
}

/* Ask the agent to drop a claim that this library could not hand to the caller. */
static void pc_acquire_undo(portco_client *c, const portco_claim *cl)
{
    portco_status st;
    int rc = portco_release_claim(c, cl, &st);
    if (rc != 0) {
        pthread_mutex_lock(&c->mu);
        pc_client_log(c, PORTCO_LOG_ERROR,
                      "could not release port %u of pool %s after a failed "
                      "acquire: %s",
                      (unsigned)cl->port, cl->pool, st.message);
        pthread_mutex_unlock(&c->mu);
    }
}

int portco_acquire(portco_client *c, const portco_acquire_opts *opts, portco_claim *out,
                   portco_status *st)
{
    pc_error err = {0};
    if (out) {
        memset(out, 0, sizeof(*out));
        out->fd = -1;
    }
    if (!c || !out) {
        pc_error_set(&err, PORTCO_EBADREQ, "portco_acquire: client and out are required");
        return pc_client_status(st, &err);
    }
    json_t *req;
    if (pc_acquire_request(opts, &req, &err) != 0)
        return pc_client_status(st, &err);
    pc_answer a;
    int fd;
    int rc = pc_client_call(c, req, opts->port ? opts->wait_ms : 0, &a, &fd, &err);
    json_decref(req);
    if (rc != 0)
        return pc_client_status(st, &err);
    if (!a.ok) {
        pc_error_set(&err, a.code, "%s", a.message);
    } else if (pc_claim_from_json(json_object_get(a.root, "claim"), out, &err) != 0 ||
               out->port == 0) {
        char why[sizeof(err.msg)];
        snprintf(why, sizeof(why), "%s", err.code ? err.msg : "it has no port");
        pc_error_set(&err, PORTCO_EPROTO, "the agent's claim is malformed: %s", why);
        if (fd >= 0)
            close(fd);
        fd = -1;
        if (out->port && out->pool[0])
            pc_acquire_undo(c, out);
    } else if ((opts->flags & PORTCO_ACQ_SOCKET) && fd < 0) {
        pc_error_set(&err, PORTCO_EPROTO,
                     "the agent granted port %u of pool %s without the socket that was asked "
                     "for; the claim was released",
                     (unsigned)out->port, out->pool);
        pc_acquire_undo(c, out);
    } else if (!(opts->flags & PORTCO_ACQ_SOCKET) && fd >= 0) {
        close(fd); /* not asked for: do not leak it */
        fd = -1;
    }
    pc_answer_free(&a);
    if (err.code != 0) {
        portco_claim empty = {.fd = -1};
        *out = empty;
        return pc_client_status(st, &err);
    }
    out->fd = fd;
    return pc_client_status(st, &err);
}

/* release, of whichever claim holds the port when `claim` is NULL. */
static int pc_release(portco_client *c, const char *pool, uint16_t port, const char *claim,
                      portco_status *st)
{
    pc_error err = {0};
    if (!c) {
        pc_error_set(&err, PORTCO_EBADREQ, "portco_release: client is required");
        return pc_client_status(st, &err);
    }
    if (pc_check_name("pool", pool, PC_POOL_MAX, true, &err) != 0)
        return pc_client_status(st, &err);
    if (port == 0) {
        pc_error_set(&err, PORTCO_EBADREQ, "port must be 1-65535");
        return pc_client_status(st, &err);
    }
    json_t *req = json_pack("{s:s, s:s, s:i}", "op", "release", "pool", pool, "port", (int)port);
    if (req && claim && json_object_set_new(req, "claim", json_string(claim)) != 0) {
        json_decref(req);
        req = NULL;
    }
    if (!req) {
        pc_error_set(&err, PORTCO_EBADREQ, "pool or claim name is not valid UTF-8");
        return pc_client_status(st, &err);
    }
    pc_answer a;
    int fd;
    int rc = pc_client_call(c, req, 0, &a, &fd, &err);
    json_decref(req);
    if (rc != 0)
        return pc_client_status(st, &err);
    if (fd >= 0)
        close(fd);
    if (!a.ok)
        pc_error_set(&err, a.code, "%s", a.message);
    pc_answer_free(&a);
    return pc_client_status(st, &err);
}

int portco_release(portco_client *c, const char *pool, uint16_t port, portco_status *st)
{
    return pc_release(c, pool, port, NULL, st);
}

int portco_release_claim(portco_client *c, const portco_claim *claim, portco_status *st)
{
    if (!claim || !claim->claim[0]) {
        pc_error err = {0};
        pc_error_set(&err, PORTCO_EBADREQ, "portco_release_claim: a granted claim is required");
        return pc_client_status(st, &err);
    }
    return pc_release(c, claim->pool, claim->port, claim->claim, st);
}

/* Claims asked for per page; the agent sends fewer when they do not fit in one message. */
#define PC_LIST_PAGE 1000

/* Append the claims of one page's answer to *cl (*n of *cap used). */
static int pc_list_take(const json_t *arr, portco_claim **cl, size_t *n, size_t *cap, pc_error *err)
{
    size_t cnt = json_array_size(arr);
    if (*n + cnt > *cap) {
        size_t want = *cap ? *cap : 64;
        while (want < *n + cnt)
            want *= 2;
        portco_claim *p = realloc(*cl, want * sizeof(*p));
        if (!p)
            return pc_error_set(err, -ENOMEM, "out of memory for %zu claims", *n + cnt);
        *cl = p;
        *cap = want;
    }
    for (size_t i = 0; i < cnt; i++) {
        pc_error ce = {0};
        if (pc_claim_from_json(json_array_get(arr, i), &(*cl)[*n], &ce) != 0)
            return pc_error_set(err, PORTCO_EPROTO, "claim %zu of the list: %s", *n, ce.msg);
        (*n)++;
    }
    return 0;
}

/*
 * Ask for one page: the claims after `after` (NULL: from the start). Appends
 * them to *cl and sets *next to the next page's cursor (new reference), NULL
 * after the last page. Returns 0 or a code set in err.
 */
static int pc_list_page_call(portco_client *c, const char *pool, const json_t *after,
                             portco_claim **cl, size_t *n, size_t *cap, json_t **next,
                             pc_error *err)
{
    *next = NULL;
    json_t *req = json_pack("{s:s, s:i}", "op", "list", "limit", PC_LIST_PAGE);
    if (!req)
        return pc_error_set(err, -ENOMEM, "out of memory building the request");
    if (pool && pool[0] && json_object_set_new(req, "pool", json_string(pool)) != 0) {
        json_decref(req);
        return pc_error_set(err, PORTCO_EBADREQ, "pool name is not valid UTF-8");
    }
    if (after && json_object_set(req, "after", (json_t *)after) != 0) {
        json_decref(req);
        return pc_error_set(err, -ENOMEM, "out of memory building the request");
    }
    pc_answer a;
    int fd;
    int rc = pc_client_call(c, req, 0, &a, &fd, err);
    json_decref(req);
    if (rc != 0)
        return rc;
    if (fd >= 0)
        close(fd);
    const json_t *arr = json_object_get(a.root, "claims");
    const json_t *nx = json_object_get(a.root, "next");
    if (!a.ok)
        rc = pc_error_set(err, a.code, "%s", a.message);
    else if (!json_is_array(arr))
        rc = pc_error_set(err, PORTCO_EPROTO, "the agent's list answer has no \"claims\" array");
    else if (nx && (!json_is_object(nx) || json_equal((json_t *)nx, (json_t *)after)))
        rc = pc_error_set(err, PORTCO_EPROTO,
                          "the agent's list answer has a \"next\" cursor that does not advance");
    else
        rc = pc_list_take(arr, cl, n, cap, err);
    if (rc == 0 && nx)
        *next = json_incref((json_t *)nx);
    pc_answer_free(&a);
    return rc;
}

int portco_list(portco_client *c, const char *pool, portco_claim **out, size_t *n,
                portco_status *st)
{
    pc_error err = {0};
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!c || !out || !n) {
        pc_error_set(&err, PORTCO_EBADREQ, "portco_list: client, out and n are required");
        return pc_client_status(st, &err);
    }
    if (pc_check_name("pool", pool, PC_POOL_MAX, false, &err) != 0)
        return pc_client_status(st, &err);
    /* Page after page, each bounded by the client's timeout; an agent that
     * does not know pages answers every claim at once, without "next". */
    portco_claim *cl = NULL;
    size_t cnt = 0, cap = 0;
    json_t *after = NULL;
    int rc;
    do {
        json_t *next;
        rc = pc_list_page_call(c, pool, after, &cl, &cnt, &cap, &next, &err);
        json_decref(after);
        after = next;
    } while (rc == 0 && after);
    json_decref(after);
    if (rc == 0 && cnt > 0) {
        *out = cl;
        *n = cnt;
    } else {
        free(cl);
    }
    return pc_client_status(st, &err);
}

void portco_list_free(portco_claim *list)
{
    free(list);
}

int portco_agent_status(portco_client *c, char **json, portco_status *st)
{
    pc_error err = {0};
    if (json)
        *json = NULL;
    if (!c || !json) {
        pc_error_set(&err, PORTCO_EBADREQ, "portco_agent_status: client and json are required");
        return pc_client_status(st, &err);
    }
    json_t *req = json_pack("{s:s}", "op", "status");
    if (!req) {
        pc_error_set(&err, -ENOMEM, "out of memory building the request");
        return pc_client_status(st, &err);
    }
    pc_answer a;
    int fd;
    int rc = pc_client_call(c, req, 0, &a, &fd, &err);
    json_decref(req);
    if (rc != 0)
        return pc_client_status(st, &err);
    if (fd >= 0)
        close(fd);
    if (!a.ok) {
        pc_error_set(&err, a.code, "%s", a.message);
    } else {
        /* The agent's view without the envelope of the answer. */
        json_object_del(a.root, "v");
        json_object_del(a.root, "id");
        json_object_del(a.root, "ok");
        json_object_del(a.root, "fd");
        /* Into a buffer of the library's malloc: jansson's allocator may be
         * the application's (json_set_alloc_funcs). */
        size_t n = json_dumpb(a.root, NULL, 0, JSON_COMPACT);
        char *text = n ? malloc(n + 1) : NULL;
        if (text && json_dumpb(a.root, text, n, JSON_COMPACT) == n) {
            text[n] = '\0';
            *json = text;
        } else {
            free(text);
            pc_error_set(&err, -ENOMEM, "out of memory for the agent's status");
        }
    }
    pc_answer_free(&a);
    return pc_client_status(st, &err);
}

void portco_agent_status_free(char *json)
{
    free(json);
}
