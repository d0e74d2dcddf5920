/* listpage.c - the order of a listing, its cursor, and the cut of one page. */
#include "listpage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pc_list_key_cmp(const pc_list_key *a, const pc_list_key *b)
{
    int c = strcmp(a->pool, b->pool);
    if (c)
        return c;
    if (a->port != b->port)
        return a->port < b->port ? -1 : 1;
    if ((c = strcmp(a->host, b->host)))
        return c;
    return strcmp(a->claim, b->claim);
}

bool pc_list_key_after(const pc_list_key *k, const pc_list_key *cursor)
{
    int c = strcmp(k->pool, cursor->pool);
    if (c)
        return c > 0;
    if (k->port != cursor->port)
        return k->port > cursor->port;
    if (cursor->whole_port)
        return false;
    return pc_list_key_cmp(k, cursor) > 0;
}

/* Copy an optional string field; `code` when it is not a string or too long. */
static int pc_key_str(const json_t *o, const char *key, char *buf, size_t n, int code,
                      pc_error *err)
{
    const json_t *v = json_object_get(o, key);
    buf[0] = '\0';
    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= n)
        return pc_error_set(err, code, "field \"%s\" must be a string of at most %zu bytes", key,
                            n - 1);
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int pc_key_read(const json_t *o, pc_list_key *k, int code, pc_error *err)
{
    memset(k, 0, sizeof(*k));
    if (!json_is_object(o))
        return pc_error_set(err, code, "a cursor or claim must be a JSON object");
    const json_t *port = json_object_get(o, "port");
    if (port && (!json_is_integer(port) || json_integer_value(port) < 0 ||
                 json_integer_value(port) > 65535))
        return pc_error_set(err, code, "field \"port\" must be an integer 0-65535");
    k->port = port ? (int)json_integer_value(port) : 0;
    int rc;
    if ((rc = pc_key_str(o, "pool", k->pool, sizeof(k->pool), code, err)) ||
        (rc = pc_key_str(o, "host", k->host, sizeof(k->host), code, err)) ||
        (rc = pc_key_str(o, "claim", k->claim, sizeof(k->claim), code, err)))
        return rc;
    return 0;
}

int pc_list_key_of(const json_t *claim, pc_list_key *k, pc_error *err)
{
    return pc_key_read(claim, k, PORTCO_EPROTO, err);
}

json_t *pc_list_key_to_json(const pc_list_key *k)
{
    if (k->whole_port)
        return json_pack("{s:s, s:i}", "pool", k->pool, "port", k->port);
    return json_pack("{s:s, s:i, s:s, s:s}", "pool", k->pool, "port", k->port, "host", k->host,
                     "claim", k->claim);
}

int pc_list_key_from_json(const json_t *o, pc_list_key *k, int code, pc_error *err)
{
    int rc = pc_key_read(o, k, code, err);
    if (rc)
        return rc;
    if (!json_object_get(o, "pool") || !json_object_get(o, "port"))
        return pc_error_set(err, code, "a cursor needs \"pool\" and \"port\"");
    k->whole_port = !json_object_get(o, "host") && !json_object_get(o, "claim");
    return 0;
}

/* A claim object and its key, for sorting. */
typedef struct pc_keyed {
    pc_list_key k;
    json_t *claim;
} pc_keyed;

static int pc_keyed_cmp(const void *x, const void *y)
{
    return pc_list_key_cmp(&((const pc_keyed *)x)->k, &((const pc_keyed *)y)->k);
}

int pc_list_sort(json_t *claims)
{
    size_t n = json_array_size(claims);
    if (n < 2)
        return 0;
    pc_keyed *v = calloc(n, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        v[i].claim = json_incref(json_array_get(claims, i));
        pc_error e;
        if (pc_list_key_of(v[i].claim, &v[i].k, &e) != 0)
            memset(&v[i].k, 0, sizeof(v[i].k)); /* malformed: sorts first */
    }
    qsort(v, n, sizeof(*v), pc_keyed_cmp);
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (json_array_set_new(claims, i, v[i].claim) != 0)
            rc = -ENOMEM;
    free(v);
    return rc;
}

int pc_list_page(const json_t *sorted, const pc_list_key *after, const pc_list_key *horizon,
                 size_t limit, size_t budget, json_t **page, pc_list_key *next, bool *more)
{
    *page = json_array();
    *more = false;
    if (!*page)
        return -ENOMEM;
    size_t used = 0;
    bool cut = false;
    pc_list_key last = {0};
    size_t i;
    const json_t *c;
    json_array_foreach(sorted, i, c)
    {
        pc_list_key k;
        pc_error e;
        if (pc_list_key_of(c, &k, &e) != 0)
            memset(&k, 0, sizeof(k));
        if (after && !pc_list_key_after(&k, after))
            continue;
        if (horizon) {
            int d = strcmp(k.pool, horizon->pool);
            if (d > 0 || (d == 0 && k.port > horizon->port))
                break;
        }
        size_t sz = json_dumpb(c, NULL, 0, JSON_COMPACT) + 1;
        if (json_array_size(*page) == limit || used + sz > budget) {
            if (json_array_size(*page) == 0) {
                json_decref(*page);
                *page = NULL;
                return PORTCO_ETOOBIG;
            }
            cut = true;
            break;
        }
        if (json_array_append(*page, (json_t *)c) != 0) {
            json_decref(*page);
            *page = NULL;
            return -ENOMEM;
        }
        used += sz;
        last = k;
    }
    if (cut || horizon) {
        *more = true;
        if (json_array_size(*page) > 0) {
            *next = last;
        } else {
            *next = *horizon;
            next->whole_port = true;
        }
    }
    return 0;
}
