/* cluster_file.c - loading the cluster file: pools and static assignments, each checked in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_file.h"
#include "yamldoc.h"

void pc_pool_free(pc_pool *p)
{
    if (!p)
        return;
    pc_rangeset_free(&p->ranges);
    pc_rangeset_free(&p->exclude);
    pc_rangeset_free(&p->ports);
    memset(p, 0, sizeof(*p));
}

int pc_pool_copy(pc_pool *dst, const pc_pool *src)
{
    *dst = *src;
    pc_rangeset_init(&dst->ranges);
    pc_rangeset_init(&dst->exclude);
    pc_rangeset_init(&dst->ports);
    if (pc_rangeset_copy(&dst->ranges, &src->ranges) < 0 ||
        pc_rangeset_copy(&dst->exclude, &src->exclude) < 0 ||
        pc_rangeset_copy(&dst->ports, &src->ports) < 0) {
        pc_pool_free(dst);
        return -ENOMEM;
    }
    return 0;
}

void pc_cluster_free(pc_cluster *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->npools; i++)
        pc_pool_free(&c->pools[i]);
    free(c->pools);
    free(c->statics);
    memset(c, 0, sizeof(*c));
}

const pc_pool *pc_cluster_find_pool(const pc_cluster *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->npools; i++)
        if (strcmp(c->pools[i].name, name) == 0)
            return &c->pools[i];
    return NULL;
}

const pc_static *pc_cluster_static_for(const pc_cluster *c, const char *pool, uint32_t port)
{
    for (size_t i = 0; c && pool && i < c->nstatics; i++)
        if (c->statics[i].port == port && strcmp(c->statics[i].pool, pool) == 0)
            return &c->statics[i];
    return NULL;
}

size_t pc_cluster_port_count(const pc_cluster *c)
{
    size_t n = 0;
    for (size_t i = 0; c && i < c->npools; i++)
        n += pc_rangeset_count(&c->pools[i].ports);
    return n;
}

bool pc_pools_overlap(const pc_pool *a, const pc_pool *b, uint32_t *first)
{
    if (!((unsigned)a->proto & (unsigned)b->proto))
        return false;
    if (!pc_address_is_wildcard(a->address) && !pc_address_is_wildcard(b->address)) {
        char ca[PC_ADDRESS_MAX + 1], cb[PC_ADDRESS_MAX + 1];
        if (pc_address_canon(a->address, ca, sizeof(ca)) < 0 ||
            pc_address_canon(b->address, cb, sizeof(cb)) < 0 || strcmp(ca, cb) != 0)
            return false;
    }
    return pc_rangeset_overlaps(&a->ports, &b->ports, first);
}

/* Per-pool load state: which parts parsed well enough for the cross checks. */
typedef struct pc_pool_state {
    bool ranges_ok; /* range and exclude parsed: ports is meaningful */
    bool name_ok;
} pc_pool_state;

static const char *pc_pool_label(char *buf, size_t len, size_t i, const char *name)
{
    if (name[0])
        snprintf(buf, len, "pools[%zu] (%s)", i, name);
    else
        snprintf(buf, len, "pools[%zu]", i);
    return buf;
}

static void pc_load_pool(pc_ydoc *y, yaml_node_t *n, size_t idx, pc_pool *p, pc_pool_state *st)
{
    char where[128], w[192];
    enum { F_NAME, F_RANGE, F_PROTO, F_SCOPE, F_ADDRESS, F_EXCLUDE, F_PRIV, F_N };
    pc_yfield f[F_N] = {
        [F_NAME] = {"name", true, NULL, NULL},
        [F_RANGE] = {"range", true, NULL, NULL},
        [F_PROTO] = {"proto", false, NULL, NULL},
        [F_SCOPE] = {"scope", false, NULL, NULL},
        [F_ADDRESS] = {"address", false, NULL, NULL},
        [F_EXCLUDE] = {"exclude", false, NULL, NULL},
        [F_PRIV] = {"allow_privileged", false, NULL, NULL},
    };
    memset(p, 0, sizeof(*p));
    p->proto = PC_PROTO_TCP;
    p->scope = PC_SCOPE_CLUSTER;
    snprintf(p->address, sizeof(p->address), "0.0.0.0");
    p->line = pc_yline(n);
    p->col = pc_ycol(n);
    memset(st, 0, sizeof(*st));

    /* Peek at the name first, so that every message about this pool can show it. */
    if (n && n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top;
             q++) {
            yaml_node_t *k = yaml_document_get_node(&y->doc, q->key);
            yaml_node_t *v = yaml_document_get_node(&y->doc, q->value);
            if (!k || k->type != YAML_SCALAR_NODE || strcmp((char *)k->data.scalar.value, "name"))
                continue;
            if (v && v->type == YAML_SCALAR_NODE && !pc_yis_null(v) &&
                strlen((char *)v->data.scalar.value) == v->data.scalar.length)
                snprintf(p->name, sizeof(p->name), "%s", (char *)v->data.scalar.value);
            break;
        }
    }
    pc_pool_label(where, sizeof(where), idx, p->name);
    p->name[0] = '\0';
    if (pc_ymap(y, n, where, f, F_N) < 0)
        return;

    if (f[F_NAME].val) {
        char name[256];
        snprintf(w, sizeof(w), "%s.name", where);
        if (pc_ystr(y, f[F_NAME].val, w, name, sizeof(name)) == 0) {
            if (!pc_pool_name_valid(name))
                pc_yerr(y, f[F_NAME].val, PC_DIAG_BAD_NAME,
                        "%s: '%.80s' cannot be a pool name; use 1-63 characters of "
                        "A-Z a-z 0-9 . _ - (not '.' or '..')",
                        w, name);
            else {
                snprintf(p->name, sizeof(p->name), "%.63s", name);
                st->name_ok = true;
            }
        }
    }
    bool ranges_ok = false, exclude_ok = true;
    if (f[F_RANGE].val) {
        snprintf(w, sizeof(w), "%s.range", where);
        ranges_ok = pc_yranges(y, f[F_RANGE].val, w, false, &p->ranges) == 0;
    }
    if (f[F_EXCLUDE].val && !pc_yis_null(f[F_EXCLUDE].val)) {
        snprintf(w, sizeof(w), "%s.exclude", where);
        exclude_ok = pc_yranges(y, f[F_EXCLUDE].val, w, true, &p->exclude) == 0;
    }
    if (f[F_PROTO].val) {
        char v[16];
        snprintf(w, sizeof(w), "%s.proto", where);
        if (pc_ystr(y, f[F_PROTO].val, w, v, sizeof(v)) == 0 && pc_proto_parse(v, &p->proto) < 0)
            pc_yerr(y, f[F_PROTO].val, PC_DIAG_BAD_VALUE,
                    "%s: '%s' is not a protocol; use tcp, udp or both", w, v);
    }
    if (f[F_SCOPE].val) {
        char v[16];
        snprintf(w, sizeof(w), "%s.scope", where);
        if (pc_ystr(y, f[F_SCOPE].val, w, v, sizeof(v)) == 0 && pc_scope_parse(v, &p->scope) < 0)
            pc_yerr(y, f[F_SCOPE].val, PC_DIAG_BAD_VALUE,
                    "%s: '%s' is not a scope; use cluster (unique across hosts) or host "
                    "(unique per host)",
                    w, v);
    }
    if (f[F_ADDRESS].val) {
        char v[128];
        snprintf(w, sizeof(w), "%s.address", where);
        if (pc_ystr(y, f[F_ADDRESS].val, w, v, sizeof(v)) == 0 &&
            pc_address_canon(v, p->address, sizeof(p->address)) < 0)
            pc_yerr(y, f[F_ADDRESS].val, PC_DIAG_BAD_ADDRESS,
                    "%s: '%.60s' is not an IPv4 or IPv6 literal; write e.g. 0.0.0.0, 10.0.0.5, "
                    ":: or ::1 (no brackets, no host names)",
                    w, v);
    }
    if (f[F_PRIV].val) {
        snprintf(w, sizeof(w), "%s.allow_privileged", where);
        pc_ybool(y, f[F_PRIV].val, w, &p->allow_privileged);
    }
    if (!ranges_ok || !exclude_ok)
        return;
    if (pc_rangeset_copy(&p->ports, &p->ranges) < 0 ||
        pc_rangeset_subtract(&p->ports, &p->exclude) < 0) {
        if (y->d)
            y->d->oom = 1;
        y->errors++;
        return;
    }
    st->ranges_ok = true;
    if (p->ports.n == 0) {
        char r[128], x[128];
        pc_yerr(y, f[F_RANGE].val, PC_DIAG_POOL_EMPTY,
                "%s: no port is left: range %s minus exclude %s is empty; shrink the exclude "
                "list or widen the range",
                where, pc_rangeset_format(&p->ranges, r, sizeof(r)),
                pc_rangeset_format(&p->exclude, x, sizeof(x)));
    } else if (!p->allow_privileged && p->ports.v[0].lo < 1024) {
        pc_yerr(y, f[F_RANGE].val, PC_DIAG_PRIVILEGED_PORT,
                "%s.range: port %u is below 1024 (privileged); add 'allow_privileged: true' to "
                "the pool or exclude the ports below 1024",
                where, p->ports.v[0].lo);
    }
}

static void pc_check_pools(pc_ydoc *y, pc_cluster *c, const pc_pool_state *st)
{
    char wa[128], wb[128];
    for (size_t j = 0; j < c->npools; j++) {
        const pc_pool *b = &c->pools[j];
        for (size_t i = 0; i < j; i++) {
            const pc_pool *a = &c->pools[i];
            if (st[i].name_ok && st[j].name_ok && strcmp(a->name, b->name) == 0) {
                pc_diags_add(y->d, PC_DIAG_POOL_DUPLICATE, y->file, b->line, b->col,
                             "%s: the name '%s' is already used by pools[%zu] at line %d; pool "
                             "names must be unique",
                             pc_pool_label(wb, sizeof(wb), j, b->name), b->name, i, a->line);
                y->errors++;
                continue;
            }
            uint32_t port;
            if (st[i].ranges_ok && st[j].ranges_ok && pc_pools_overlap(a, b, &port)) {
                pc_diags_add(y->d, PC_DIAG_POOL_OVERLAP, y->file, b->line, b->col,
                             "%s and %s (line %d) share port %u on overlapping addresses (%s, "
                             "%s) and protocols; make the ranges disjoint or bind the pools to "
                             "different specific addresses",
                             pc_pool_label(wb, sizeof(wb), j, b->name),
                             pc_pool_label(wa, sizeof(wa), i, a->name), a->line, port, b->address,
                             a->address);
                y->errors++;
            }
        }
    }
}

static void pc_load_statics(pc_ydoc *y, yaml_node_t *seq, pc_cluster *c, const pc_pool_state *st)
{
    char kind[80], where[64], w[96];
    if (!seq || pc_yis_null(seq))
        return;
    if (seq->type != YAML_SEQUENCE_NODE) {
        pc_yerr(y, seq, PC_DIAG_BAD_TYPE,
                "static: expected a list of {pool, port, service} mappings; got %s",
                pc_ykind(seq, kind, sizeof(kind)));
        return;
    }
    size_t n = pc_yseq_len(seq);
    if (n > PC_CLUSTER_MAX_STATICS) {
        pc_yerr(y, seq, PC_DIAG_BAD_VALUE, "static: %zu assignments are more than the %d supported",
                n, PC_CLUSTER_MAX_STATICS);
        return;
    }
    c->statics = calloc(n ? n : 1, sizeof(*c->statics));
    if (!c->statics) {
        y->errors++;
        if (y->d)
            y->d->oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = pc_yseq_item(y, seq, i);
        pc_yfield f[] = {
            {"pool", true, NULL, NULL}, {"port", true, NULL, NULL}, {"service", true, NULL, NULL}};
        snprintf(where, sizeof(where), "static[%zu]", i);
        int before = y->errors;
        if (pc_ymap(y, it, where, f, 3) < 0)
            continue;
        pc_static s = {.line = pc_yline(it), .col = pc_ycol(it)};
        char pool[256] = "", service[512] = "";
        uint32_t port = 0;
        bool pool_ok = false, port_ok = false;
        if (f[0].val) {
            snprintf(w, sizeof(w), "%s.pool", where);
            pool_ok = pc_ystr(y, f[0].val, w, pool, sizeof(pool)) == 0;
        }
        if (f[1].val) {
            snprintf(w, sizeof(w), "%s.port", where);
            port_ok = pc_yport(y, f[1].val, w, &port) == 0;
        }
        if (f[2].val) {
            snprintf(w, sizeof(w), "%s.service", where);
            if (pc_ystr(y, f[2].val, w, service, sizeof(service)) == 0 &&
                !pc_service_name_valid(service))
                pc_yerr(y, f[2].val, PC_DIAG_BAD_NAME,
                        "%s: '%.80s' cannot be a service name; use 1-127 printable characters "
                        "without '/' or blanks (not '.' or '..')",
                        w, service);
        }
        const pc_pool *p = NULL;
        size_t pi = 0;
        if (pool_ok) {
            for (pi = 0; pi < c->npools; pi++)
                if (st[pi].name_ok && strcmp(c->pools[pi].name, pool) == 0)
                    break;
            p = pi < c->npools ? &c->pools[pi] : NULL;
            if (!p) {
                char names[512] = "";
                for (size_t k = 0; k < c->npools; k++)
                    if (st[k].name_ok)
                        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                                 names[0] ? ", " : "", c->pools[k].name);
                pc_yerr(y, f[0].val, PC_DIAG_STATIC_UNKNOWN_POOL,
                        "%s.pool: no pool is named '%.80s'; defined pools: %s", where, pool,
                        names[0] ? names : "(none)");
            }
        }
        if (p && port_ok && st[pi].ranges_ok) {
            char r[128];
            if (!pc_rangeset_contains(&p->ranges, port))
                pc_yerr(y, f[1].val, PC_DIAG_STATIC_OUTSIDE_POOL,
                        "%s.port: %u is not in pool %s (range %s); pick a port of the pool or "
                        "widen its range",
                        where, port, p->name, pc_rangeset_format(&p->ranges, r, sizeof(r)));
            else if (pc_rangeset_contains(&p->exclude, port))
                pc_yerr(y, f[1].val, PC_DIAG_STATIC_EXCLUDED,
                        "%s.port: %u is in the exclude list of pool %s; remove it from exclude "
                        "or pick another port",
                        where, port, p->name);
        }
        if (pool_ok && port_ok) {
            const pc_static *dup = pc_cluster_static_for(c, pool, port);
            if (dup)
                pc_yerr(y, it, PC_DIAG_STATIC_DUPLICATE,
                        "%s: port %u of pool %s is already assigned to '%s' at line %d; a port "
                        "has one static owner",
                        where, port, pool, dup->service, dup->line);
        }
        if (y->errors != before)
            continue;
        snprintf(s.pool, sizeof(s.pool), "%.63s", pool);
        snprintf(s.service, sizeof(s.service), "%.127s", service);
        s.port = (uint16_t)port;
        c->statics[c->nstatics++] = s;
    }
}

static int pc_cluster_from_doc(pc_ydoc *y, pc_cluster *c)
{
    char kind[80];
    yaml_node_t *root = pc_ydoc_root(y);
    enum { F_ROOT, F_POOLS, F_STATIC, F_N };
    pc_yfield f[F_N] = {
        {"root", false, NULL, NULL}, {"pools", true, NULL, NULL}, {"static", false, NULL, NULL}};
    snprintf(c->root, sizeof(c->root), "%s", PC_DEFAULT_ROOT);
    if (!root) {
        pc_yerr(y, NULL, PC_DIAG_BAD_TYPE,
                "the file is empty; expected a mapping with keys root, pools, static");
        return -1;
    }
    if (pc_ymap(y, root, "", f, F_N) < 0)
        return -1;
    if (f[F_ROOT].val) {
        char r[512];
        const char *why;
        if (pc_ystr(y, f[F_ROOT].val, "root", r, sizeof(r)) == 0) {
            if (!pc_root_valid(r, &why))
                pc_yerr(y, f[F_ROOT].val, PC_DIAG_BAD_ROOT,
                        "root: '%.80s' is not a usable ZooKeeper path: %s (e.g. /portco)", r, why);
            else
                snprintf(c->root, sizeof(c->root), "%.200s", r);
        }
    }
    yaml_node_t *pools = f[F_POOLS].val;
    pc_pool_state *st = NULL;
    if (pools && !pc_yis_null(pools) && pools->type != YAML_SEQUENCE_NODE) {
        pc_yerr(y, pools, PC_DIAG_BAD_TYPE, "pools: expected a list of pool mappings; got %s",
                pc_ykind(pools, kind, sizeof(kind)));
    } else if (pools && pc_yseq_len(pools) > PC_CLUSTER_MAX_POOLS) {
        pc_yerr(y, pools, PC_DIAG_BAD_VALUE, "pools: %zu pools are more than the %d supported",
                pc_yseq_len(pools), PC_CLUSTER_MAX_POOLS);
    } else if (pools) {
        size_t n = pc_yseq_len(pools);
        c->pools = calloc(n ? n : 1, sizeof(*c->pools));
        st = calloc(n ? n : 1, sizeof(*st));
        if (!c->pools || !st) {
            free(st);
            return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            pc_load_pool(y, pc_yseq_item(y, pools, i), i, &c->pools[i], &st[i]);
            c->npools++;
        }
        pc_check_pools(y, c, st);
    }
    pc_load_statics(y, f[F_STATIC].val, c, st);
    free(st);
    if (y->d && y->d->oom)
        return -ENOMEM;
    return y->errors ? -1 : 0;
}

int pc_cluster_load_string(const char *name, const char *text, size_t len, pc_cluster *out,
                           pc_diags *d)
{
    pc_diags local = PC_DIAGS_INIT;
    pc_diags *dd = d ? d : &local;
    memset(out, 0, sizeof(*out));
    size_t first = dd->n;
    pc_ydoc y;
    int rc = pc_ydoc_load(&y, name, text, len, dd);
    if (rc == 0) {
        rc = pc_cluster_from_doc(&y, out);
        if (rc == -1)
            rc = PORTCO_ECONFIG;
    }
    pc_ydoc_free(&y);
    pc_diags_sort_from(dd, first);
    if (rc < 0)
        pc_cluster_free(out);
    pc_diags_free(&local);
    return rc;
}

int pc_cluster_load_file(const char *path, pc_cluster *out, pc_diags *d)
{
    char *buf;
    size_t len;
    memset(out, 0, sizeof(*out));
    int rc = pc_read_config_file(path, &buf, &len, d);
    if (rc < 0)
        return rc;
    rc = pc_cluster_load_string(path, buf, len, out, d);
    free(buf);
    return rc;
}
