/* yamldoc.c - libyaml document loading and the schema accessors the config loaders share. */
#include "yamldoc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster_file.h"
#include "names.h"

static void pc_ysyntax(pc_diags *d, const char *file, const yaml_parser_t *parser)
{
    pc_diags_add(d, PC_DIAG_YAML_SYNTAX, file, (int)parser->problem_mark.line + 1,
                 (int)parser->problem_mark.column + 1, "%s%s%s; fix the YAML syntax",
                 parser->context ? parser->context : "", parser->context ? ": " : "",
                 parser->problem ? parser->problem : "malformed YAML");
}

/*
 * First pass over the events: libyaml's scanner does work proportional to
 * the nesting depth for every token, so a deeply nested file would take
 * minutes to load. No valid file nests deeper than a few levels; stop early.
 */
static int pc_ydoc_precheck(const char *file, const char *text, size_t len, pc_diags *d)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return -ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0, depth = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            if (parser.error == YAML_MEMORY_ERROR)
                rc = -ENOMEM;
            else {
                pc_ysyntax(d, file, &parser);
                rc = PORTCO_ECONFIG;
            }
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT)
            depth++;
        else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT)
            depth--;
        if (depth > PC_YAML_MAX_DEPTH) {
            pc_diags_add(d, PC_DIAG_YAML_SYNTAX, file, (int)ev.start_mark.line + 1,
                         (int)ev.start_mark.column + 1,
                         "nesting deeper than %d levels; the configuration schema needs at "
                         "most 4",
                         PC_YAML_MAX_DEPTH);
            rc = PORTCO_ECONFIG;
        }
        yaml_event_delete(&ev);
        if (rc < 0 || t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&parser);
    return rc;
}

int pc_ydoc_load(pc_ydoc *y, const char *file, const char *text, size_t len, pc_diags *d)
{
    memset(y, 0, sizeof(*y));
    y->file = file;
    y->d = d;
    int rc = pc_ydoc_precheck(file, text, len, d);
    if (rc < 0)
        return rc;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return -ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &y->doc)) {
        if (parser.error == YAML_MEMORY_ERROR) {
            rc = -ENOMEM;
        } else {
            pc_ysyntax(d, file, &parser);
            rc = PORTCO_ECONFIG;
        }
        yaml_parser_delete(&parser);
        return rc;
    }
    y->loaded = true;
    /* A second document would be silently ignored: refuse it instead. */
    yaml_document_t more;
    if (!yaml_parser_load(&parser, &more)) {
        if (parser.error == YAML_MEMORY_ERROR)
            rc = -ENOMEM;
        else {
            pc_ysyntax(d, file, &parser);
            rc = PORTCO_ECONFIG;
        }
    } else {
        yaml_node_t *r = yaml_document_get_root_node(&more);
        if (r) {
            pc_diags_add(d, PC_DIAG_YAML_SYNTAX, file, pc_yline(r), pc_ycol(r),
                         "the file holds more than one YAML document; keep only one");
            rc = PORTCO_ECONFIG;
        }
        yaml_document_delete(&more);
    }
    yaml_parser_delete(&parser);
    if (rc < 0)
        pc_ydoc_free(y);
    return rc;
}

void pc_ydoc_free(pc_ydoc *y)
{
    if (y->loaded)
        yaml_document_delete(&y->doc);
    y->loaded = false;
}

yaml_node_t *pc_ydoc_root(pc_ydoc *y)
{
    return y->loaded ? yaml_document_get_root_node(&y->doc) : NULL;
}

int pc_yline(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 1;
}

int pc_ycol(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.column + 1 : 1;
}

void pc_yerr(pc_ydoc *y, const yaml_node_t *n, pc_diag_code code, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int w = vasprintf(&msg, fmt, ap);
    va_end(ap);
    y->errors++;
    if (w < 0) {
        if (y->d)
            y->d->oom = 1;
        return;
    }
    pc_diags_add(y->d, code, y->file, pc_yline(n), pc_ycol(n), "%s", msg);
    free(msg);
}

static const char *pc_yval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

bool pc_yis_null(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return n == NULL;
    const char *v = pc_yval(n);
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

static bool pc_is_bool_text(const char *v, bool *out)
{
    if (!strcasecmp(v, "true")) {
        *out = true;
        return true;
    }
    if (!strcasecmp(v, "false")) {
        *out = false;
        return true;
    }
    return false;
}

/* Parse an optionally signed decimal integer; *big is set when it has more than 18 digits. */
static bool pc_is_int_text(const char *v, long *out, bool *big)
{
    const char *p = v;
    bool neg = false;
    *big = false;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!*p)
        return false;
    long x = 0;
    int digits = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (++digits > 18)
            *big = true;
        else
            x = x * 10 + (*p - '0');
    }
    *out = neg ? -x : x;
    return true;
}

const char *pc_ykind(const yaml_node_t *n, char *buf, size_t len)
{
    if (!n)
        snprintf(buf, len, "nothing");
    else if (n->type == YAML_MAPPING_NODE)
        snprintf(buf, len, "a mapping");
    else if (n->type == YAML_SEQUENCE_NODE)
        snprintf(buf, len, "a sequence");
    else if (pc_yis_null(n))
        snprintf(buf, len, "null");
    else {
        bool b;
        long l;
        bool big;
        bool plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        const char *kind = !plain                                 ? "a string"
                           : pc_is_bool_text(pc_yval(n), &b)      ? "a boolean"
                           : pc_is_int_text(pc_yval(n), &l, &big) ? "a number"
                                                                  : "a string";
        snprintf(buf, len, "%s '%.40s%s'", kind, pc_yval(n), strlen(pc_yval(n)) > 40 ? "..." : "");
    }
    return buf;
}

static const char *pc_where(const char *where)
{
    return where && *where ? where : "top level";
}

int pc_ymap(pc_ydoc *y, yaml_node_t *map, const char *where, pc_yfield *fields, size_t n)
{
    char kind[80];
    for (size_t i = 0; i < n; i++)
        fields[i].val = fields[i].key = NULL;
    if (!map || map->type != YAML_MAPPING_NODE) {
        char keys[512] = "";
        for (size_t i = 0; i < n; i++)
            snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s%s", i ? ", " : "",
                     fields[i].name);
        pc_yerr(y, map, PC_DIAG_BAD_TYPE, "%s: expected a mapping with keys %s; got %s",
                pc_where(where), keys, pc_ykind(map, kind, sizeof(kind)));
        return -1;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&y->doc, p->value);
        if (!k || k->type != YAML_SCALAR_NODE) {
            pc_yerr(y, k, PC_DIAG_BAD_TYPE, "%s: keys must be plain words; got %s", pc_where(where),
                    pc_ykind(k, kind, sizeof(kind)));
            continue;
        }
        const char *name = pc_yval(k);
        size_t i = 0;
        while (i < n && strcmp(fields[i].name, name) != 0)
            i++;
        if (i < n) {
            if (fields[i].key) {
                pc_yerr(y, k, PC_DIAG_DUPLICATE_KEY,
                        "%s: key '%s' appears twice (first at line %d); keep only one",
                        pc_where(where), name, pc_yline(fields[i].key));
                continue;
            }
            fields[i].key = k;
            fields[i].val = v;
            continue;
        }
        char keys[512] = "";
        const char *best = NULL;
        int bestd = 3;
        for (size_t j = 0; j < n; j++) {
            snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s%s", j ? ", " : "",
                     fields[j].name);
            int dist = pc_edit_distance(name, fields[j].name);
            if (dist < bestd && (size_t)dist < strlen(fields[j].name)) {
                bestd = dist;
                best = fields[j].name;
            }
        }
        if (best)
            pc_yerr(y, k, PC_DIAG_UNKNOWN_KEY,
                    "%s: unknown key '%.60s'; did you mean '%s'? (accepted keys: %s)",
                    pc_where(where), name, best, keys);
        else
            pc_yerr(y, k, PC_DIAG_UNKNOWN_KEY, "%s: unknown key '%.60s' (accepted keys: %s)",
                    pc_where(where), name, keys);
    }
    for (size_t i = 0; i < n; i++)
        if (fields[i].required && !fields[i].key)
            pc_yerr(y, map, PC_DIAG_MISSING_KEY, "%s: missing required key '%s'", pc_where(where),
                    fields[i].name);
    return 0;
}

int pc_ystr(pc_ydoc *y, yaml_node_t *n, const char *where, char *buf, size_t len)
{
    char kind[80];
    if (!n || n->type != YAML_SCALAR_NODE || pc_yis_null(n)) {
        pc_yerr(y, n, PC_DIAG_BAD_TYPE, "%s: expected a string; got %s", where,
                pc_ykind(n, kind, sizeof(kind)));
        return -1;
    }
    if (strlen(pc_yval(n)) != n->data.scalar.length) {
        pc_yerr(y, n, PC_DIAG_BAD_VALUE, "%s: the value contains a NUL character", where);
        return -1;
    }
    if (n->data.scalar.length >= len) {
        pc_yerr(y, n, PC_DIAG_BAD_VALUE, "%s: the value is too long (at most %zu characters)",
                where, len - 1);
        return -1;
    }
    memcpy(buf, pc_yval(n), n->data.scalar.length + 1);
    return 0;
}

int pc_ystrdup(pc_ydoc *y, yaml_node_t *n, const char *where, char **out)
{
    char buf[4096];
    if (pc_ystr(y, n, where, buf, sizeof(buf)) < 0)
        return -1;
    char *s = strdup(buf);
    if (!s) {
        if (y->d)
            y->d->oom = 1;
        y->errors++;
        return -1;
    }
    free(*out);
    *out = s;
    return 0;
}

int pc_ybool(pc_ydoc *y, yaml_node_t *n, const char *where, bool *out)
{
    char kind[80];
    if (n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        pc_is_bool_text(pc_yval(n), out))
        return 0;
    pc_yerr(y, n, PC_DIAG_BAD_TYPE, "%s: expected true or false; got %s", where,
            pc_ykind(n, kind, sizeof(kind)));
    return -1;
}

int pc_yint(pc_ydoc *y, yaml_node_t *n, const char *where, long min, long max, long *out)
{
    char kind[80];
    long v;
    bool big;
    if (!n || n->type != YAML_SCALAR_NODE || !pc_is_int_text(pc_yval(n), &v, &big)) {
        pc_yerr(y, n, PC_DIAG_BAD_TYPE, "%s: expected an integer; got %s", where,
                pc_ykind(n, kind, sizeof(kind)));
        return -1;
    }
    if (big || v < min || v > max) {
        pc_yerr(y, n, PC_DIAG_BAD_VALUE, "%s: %.40s is out of range; use %ld to %ld", where,
                pc_yval(n), min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int pc_yport(pc_ydoc *y, yaml_node_t *n, const char *where, uint32_t *out)
{
    char kind[80];
    long v;
    bool big;
    if (!n || n->type != YAML_SCALAR_NODE || !pc_is_int_text(pc_yval(n), &v, &big)) {
        pc_yerr(y, n, PC_DIAG_BAD_TYPE, "%s: expected a port number; got %s", where,
                pc_ykind(n, kind, sizeof(kind)));
        return -1;
    }
    if (big || v < 1 || v > 65535) {
        pc_yerr(y, n, PC_DIAG_RANGE_OUT_OF_BOUNDS,
                "%s: port %.40s is out of bounds; ports are 1 to 65535", where, pc_yval(n));
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* Parse a decimal port of [p, end); 0 ok, 1 not a number, 2 out of 1-65535. */
static int pc_port_span(const char *p, const char *end, uint32_t *out)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (p == end)
        return 1;
    uint64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return 1;
        if (v <= 65535)
            v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < 1 || v > 65535)
        return 2;
    *out = (uint32_t)v;
    return 0;
}

/* One comma-separated scalar of ranges. */
static int pc_yranges_scalar(pc_ydoc *y, yaml_node_t *n, const char *where, bool allow_empty,
                             pc_rangeset *s)
{
    const char *text = pc_yval(n);
    if (strlen(text) != n->data.scalar.length) {
        pc_yerr(y, n, PC_DIAG_RANGE_INVALID, "%s: the value contains a NUL character", where);
        return -1;
    }
    const char *q = text;
    while (*q == ' ' || *q == '\t')
        q++;
    if (!*q || pc_yis_null(n)) {
        if (allow_empty)
            return 0;
        pc_yerr(y, n, PC_DIAG_RANGE_INVALID,
                "%s: no ports given; write a port N or a range A-B (e.g. 20000-20999)", where);
        return -1;
    }
    int bad = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        int len = (int)(end - p);
        /* A leading '-' is a sign (and so invalid), not the separator of a range. */
        const char *first = p;
        while (first < end && (*first == ' ' || *first == '\t'))
            first++;
        const char *dash = first < end ? memchr(first + 1, '-', (size_t)(end - first - 1)) : NULL;
        uint32_t lo = 0, hi = 0;
        int r1 = pc_port_span(p, dash ? dash : end, &lo);
        int r2 = dash ? pc_port_span(dash + 1, end, &hi) : (hi = lo, r1);
        if (r1 == 1 || r2 == 1) {
            pc_yerr(y, n, PC_DIAG_RANGE_INVALID,
                    "%s: '%.*s' is not a port range; write N or A-B with ports 1-65535 "
                    "(e.g. 20000-20999)",
                    where, len > 60 ? 60 : len, p);
            bad = 1;
        } else if (r1 == 2 || r2 == 2) {
            pc_yerr(y, n, PC_DIAG_RANGE_OUT_OF_BOUNDS,
                    "%s: '%.*s' is out of bounds; ports are 1 to 65535", where, len > 60 ? 60 : len,
                    p);
            bad = 1;
        } else if (lo > hi) {
            pc_yerr(y, n, PC_DIAG_RANGE_REVERSED,
                    "%s: '%.*s' is reversed; write the lower port first: %u-%u", where, len, p, hi,
                    lo);
            bad = 1;
        } else if (pc_rangeset_add(s, lo, hi) < 0) {
            if (y->d)
                y->d->oom = 1;
            y->errors++;
            return -1;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return bad ? -1 : 0;
}

int pc_yranges(pc_ydoc *y, yaml_node_t *n, const char *where, bool allow_empty, pc_rangeset *s)
{
    char kind[80];
    if (n && n->type == YAML_SCALAR_NODE)
        return pc_yranges_scalar(y, n, where, allow_empty, s);
    if (!n || n->type != YAML_SEQUENCE_NODE) {
        pc_yerr(y, n, PC_DIAG_BAD_TYPE,
                "%s: expected a port range (\"A-B\", \"N\") or a list of them; got %s", where,
                pc_ykind(n, kind, sizeof(kind)));
        return -1;
    }
    size_t len = pc_yseq_len(n);
    if (len == 0 && !allow_empty) {
        pc_yerr(y, n, PC_DIAG_RANGE_INVALID,
                "%s: the list is empty; give at least one port N or range A-B", where);
        return -1;
    }
    int bad = 0;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *it = pc_yseq_item(y, n, i);
        char w[256];
        snprintf(w, sizeof(w), "%s[%zu]", where, i);
        if (!it || it->type != YAML_SCALAR_NODE || pc_yis_null(it)) {
            pc_yerr(y, it, PC_DIAG_BAD_TYPE, "%s: expected a port N or range A-B; got %s", w,
                    pc_ykind(it, kind, sizeof(kind)));
            bad = 1;
            continue;
        }
        if (pc_yranges_scalar(y, it, w, false, s) < 0)
            bad = 1;
    }
    return bad ? -1 : 0;
}

size_t pc_yseq_len(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SEQUENCE_NODE)
        return 0;
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

yaml_node_t *pc_yseq_item(pc_ydoc *y, const yaml_node_t *n, size_t i)
{
    if (i >= pc_yseq_len(n))
        return NULL;
    return yaml_document_get_node(&y->doc, n->data.sequence.items.start[i]);
}

int pc_read_file(const char *path, char **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    if (cap > PC_CONFIG_MAX_BYTES + 1)
        cap = PC_CONFIG_MAX_BYTES + 1;
    char *b = malloc(cap + 1);
    if (!b) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            if (cap > PC_CONFIG_MAX_BYTES) {
                free(b);
                close(fd);
                return -EFBIG;
            }
            size_t ncap = cap * 2 > PC_CONFIG_MAX_BYTES + 1 ? PC_CONFIG_MAX_BYTES + 1 : cap * 2;
            char *nb = realloc(b, ncap + 1);
            if (!nb) {
                free(b);
                close(fd);
                return -ENOMEM;
            }
            b = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(b);
            close(fd);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n > PC_CONFIG_MAX_BYTES) {
        free(b);
        return -EFBIG;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

int pc_read_config_file(const char *path, char **buf, size_t *len, pc_diags *d)
{
    int rc = pc_read_file(path, buf, len);
    if (rc < 0)
        pc_diags_add(d, PC_DIAG_IO, path, 0, 0, "cannot read the file: %s%s", strerror(-rc),
                     rc == -EFBIG ? " (the limit is 4 MiB)" : "");
    return rc;
}
