/* ranges.c - port range set arithmetic. */
#include "ranges.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pc_rangeset_init(pc_rangeset *s)
{
    s->v = NULL;
    s->n = s->cap = 0;
}

void pc_rangeset_free(pc_rangeset *s)
{
    free(s->v);
    pc_rangeset_init(s);
}

void pc_rangeset_clear(pc_rangeset *s)
{
    s->n = 0;
}

static int pc_rangeset_reserve(pc_rangeset *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap * 2 : 8;
    while (cap < need)
        cap *= 2;
    pc_range *v = realloc(s->v, cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    s->v = v;
    s->cap = cap;
    return 0;
}

int pc_rangeset_add(pc_rangeset *s, uint32_t lo, uint32_t hi)
{
    if (lo > hi || hi > 65535)
        return -EINVAL;
    /* First range that could touch [lo, hi]: the first whose hi + 1 >= lo. */
    size_t i = 0;
    while (i < s->n && s->v[i].hi + 1 < lo)
        i++;
    size_t j = i;
    while (j < s->n && s->v[j].lo <= hi + 1) {
        if (s->v[j].lo < lo)
            lo = s->v[j].lo;
        if (s->v[j].hi > hi)
            hi = s->v[j].hi;
        j++;
    }
    if (i == j) {
        if (pc_rangeset_reserve(s, s->n + 1) < 0)
            return -ENOMEM;
        memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(pc_range));
        s->n++;
    } else if (j - i > 1) {
        memmove(&s->v[i + 1], &s->v[j], (s->n - j) * sizeof(pc_range));
        s->n -= j - i - 1;
    }
    s->v[i].lo = lo;
    s->v[i].hi = hi;
    return 0;
}

int pc_rangeset_add_set(pc_rangeset *s, const pc_rangeset *o)
{
    for (size_t i = 0; i < o->n; i++) {
        int rc = pc_rangeset_add(s, o->v[i].lo, o->v[i].hi);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int pc_rangeset_copy(pc_rangeset *s, const pc_rangeset *o)
{
    if (pc_rangeset_reserve(s, o->n) < 0)
        return -ENOMEM;
    if (o->n)
        memcpy(s->v, o->v, o->n * sizeof(pc_range));
    s->n = o->n;
    return 0;
}

int pc_rangeset_subtract(pc_rangeset *s, const pc_rangeset *o)
{
    pc_rangeset out = PC_RANGESET_INIT;
    size_t j = 0;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t lo = s->v[i].lo, hi = s->v[i].hi;
        while (j < o->n && o->v[j].hi < lo)
            j++;
        size_t k = j;
        while (lo <= hi && k < o->n && o->v[k].lo <= hi) {
            if (o->v[k].lo > lo && pc_rangeset_add(&out, lo, o->v[k].lo - 1) < 0)
                goto oom;
            if (o->v[k].hi >= hi) {
                lo = hi + 1;
                break;
            }
            lo = o->v[k].hi + 1;
            k++;
        }
        if (lo <= hi && pc_rangeset_add(&out, lo, hi) < 0)
            goto oom;
    }
    free(s->v);
    *s = out;
    return 0;
oom:
    pc_rangeset_free(&out);
    return -ENOMEM;
}

bool pc_rangeset_contains(const pc_rangeset *s, uint32_t port)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].hi < port)
            lo = mid + 1;
        else if (s->v[mid].lo > port)
            hi = mid;
        else
            return true;
    }
    return false;
}

size_t pc_rangeset_count(const pc_rangeset *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->v[i].hi - s->v[i].lo + 1;
    return n;
}

int pc_rangeset_nth(const pc_rangeset *s, size_t idx)
{
    for (size_t i = 0; i < s->n; i++) {
        size_t len = s->v[i].hi - s->v[i].lo + 1;
        if (idx < len)
            return (int)(s->v[i].lo + idx);
        idx -= len;
    }
    return -1;
}

long pc_rangeset_index(const pc_rangeset *s, uint32_t port)
{
    long base = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (port < s->v[i].lo)
            return -1;
        if (port <= s->v[i].hi)
            return base + (long)(port - s->v[i].lo);
        base += (long)(s->v[i].hi - s->v[i].lo + 1);
    }
    return -1;
}

bool pc_rangeset_overlaps(const pc_rangeset *a, const pc_rangeset *b, uint32_t *first)
{
    size_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        uint32_t lo = a->v[i].lo > b->v[j].lo ? a->v[i].lo : b->v[j].lo;
        uint32_t hi = a->v[i].hi < b->v[j].hi ? a->v[i].hi : b->v[j].hi;
        if (lo <= hi) {
            if (first)
                *first = lo;
            return true;
        }
        if (a->v[i].hi < b->v[j].hi)
            i++;
        else
            j++;
    }
    return false;
}

static int pc_parse_port(const char *p, const char *end, uint32_t *out)
{
    if (p == end)
        return -EINVAL;
    uint32_t v = 0;
    for (; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        v = v * 10 + (uint32_t)(*p - '0');
        if (v > 65535)
            return -ERANGE;
    }
    *out = v;
    return 0;
}

static int pc_range_parse_span(const char *p, const char *end, pc_range *out, pc_error *err)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    int len = (int)(end - p);
    const char *dash = memchr(p, '-', (size_t)(end - p));
    uint32_t lo, hi;
    int rc = pc_parse_port(p, dash ? dash : end, &lo);
    if (rc == 0)
        rc = dash ? pc_parse_port(dash + 1, end, &hi) : (hi = lo, 0);
    if (rc == -ERANGE)
        return pc_error_set(err, -EINVAL, "'%.*s': ports must be between 1 and 65535", len, p);
    if (rc < 0)
        return pc_error_set(err, -EINVAL, "'%.*s': expected a port N or a range A-B", len, p);
    if (lo > hi)
        return pc_error_set(err, -EINVAL,
                            "'%.*s': range is reversed; write the lower port first (%u-%u)", len, p,
                            hi, lo);
    out->lo = lo;
    out->hi = hi;
    return 0;
}

int pc_range_parse(const char *text, pc_range *out, pc_error *err)
{
    return pc_range_parse_span(text, text + strlen(text), out, err);
}

int pc_rangeset_parse(pc_rangeset *s, const char *text, pc_error *err)
{
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        pc_range r;
        int rc = pc_range_parse_span(p, end, &r, err);
        if (rc < 0)
            return rc;
        if (pc_rangeset_add(s, r.lo, r.hi) < 0)
            return pc_error_set(err, -ENOMEM, "out of memory");
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

const char *pc_rangeset_format(const pc_rangeset *s, char *buf, size_t len)
{
    size_t off = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < s->n && off < len; i++) {
        int w;
        if (s->v[i].lo == s->v[i].hi)
            w = snprintf(buf + off, len - off, "%s%u", i ? "," : "", s->v[i].lo);
        else
            w = snprintf(buf + off, len - off, "%s%u-%u", i ? "," : "", s->v[i].lo, s->v[i].hi);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    return buf;
}
