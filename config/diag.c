/* diag.c - the list of configuration diagnostics and its text and JSON forms. */
#include "diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    const char *text;
} pc_diag_tab[] = {
#define PC_DIAG_XX_(id, name, text) {name, text},
    PC_DIAG_CODES(PC_DIAG_XX_)
#undef PC_DIAG_XX_
};

void pc_diags_init(pc_diags *d)
{
    memset(d, 0, sizeof(*d));
}

void pc_diags_free(pc_diags *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].msg);
    }
    free(d->v);
    pc_diags_init(d);
}

const char *pc_diag_code_name(pc_diag_code code)
{
    if ((unsigned)code >= PC_DIAG_NCODES)
        return "unknown";
    return pc_diag_tab[code].name;
}

const char *pc_diag_code_text(pc_diag_code code)
{
    if ((unsigned)code >= PC_DIAG_NCODES)
        return "unknown diagnostic";
    return pc_diag_tab[code].text;
}

int pc_diag_code_from_name(const char *name)
{
    for (int i = 0; i < PC_DIAG_NCODES; i++)
        if (strcmp(pc_diag_tab[i].name, name) == 0)
            return i;
    return -1;
}

int pc_diags_add(pc_diags *d, pc_diag_code code, const char *file, int line, int col,
                 const char *fmt, ...)
{
    if (!d)
        return 0;
    if (d->n >= PC_DIAGS_MAX) {
        d->dropped++;
        return 0;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        pc_diag *v = realloc(d->v, cap * sizeof(*v));
        if (!v) {
            d->oom = 1;
            return -ENOMEM;
        }
        d->v = v;
        d->cap = cap;
    }
    pc_diag *e = &d->v[d->n];
    va_list ap;
    va_start(ap, fmt);
    int w = vasprintf(&e->msg, fmt, ap);
    va_end(ap);
    e->file = strdup(file ? file : "");
    if (w < 0 || !e->file) {
        if (w >= 0)
            free(e->msg);
        free(e->file);
        d->oom = 1;
        return -ENOMEM;
    }
    e->code = code;
    e->line = line;
    e->col = col;
    d->n++;
    return 0;
}

void pc_diags_sort_from(pc_diags *d, size_t start)
{
    /* Insertion sort: lists are short, and it keeps equal positions in discovery order. */
    for (size_t i = start + 1; d && i < d->n; i++) {
        pc_diag e = d->v[i];
        size_t j = i;
        while (j > start && (d->v[j - 1].line > e.line ||
                             (d->v[j - 1].line == e.line && d->v[j - 1].col > e.col))) {
            d->v[j] = d->v[j - 1];
            j--;
        }
        d->v[j] = e;
    }
}

size_t pc_diags_count(const pc_diags *d, pc_diag_code code)
{
    size_t n = 0;
    for (size_t i = 0; d && i < d->n; i++)
        n += d->v[i].code == code;
    return n;
}

const char *pc_diag_format(const pc_diag *e, char *buf, size_t len)
{
    if (e->line > 0)
        snprintf(buf, len, "%s:%d:%d: error[%s]: %s", e->file, e->line, e->col,
                 pc_diag_code_name(e->code), e->msg);
    else
        snprintf(buf, len, "%s: error[%s]: %s", e->file, pc_diag_code_name(e->code), e->msg);
    return buf;
}

void pc_diags_print(FILE *f, const pc_diags *d)
{
    for (size_t i = 0; d && i < d->n; i++) {
        const pc_diag *e = &d->v[i];
        /* Printed directly rather than through pc_diag_format so long messages are not cut. */
        if (e->line > 0)
            fprintf(f, "%s:%d:%d: error[%s]: %s\n", e->file, e->line, e->col,
                    pc_diag_code_name(e->code), e->msg);
        else
            fprintf(f, "%s: error[%s]: %s\n", e->file, pc_diag_code_name(e->code), e->msg);
    }
    if (d && d->dropped)
        fprintf(f, "(%zu more errors not shown)\n", d->dropped);
    if (d && d->oom)
        fprintf(f, "(some errors were lost: out of memory)\n");
}

json_t *pc_diags_to_json(const pc_diags *d)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (size_t i = 0; d && i < d->n; i++) {
        const pc_diag *e = &d->v[i];
        json_t *o = json_pack("{s:s, s:i, s:i, s:s, s:s}", "file", e->file, "line", e->line, "col",
                              e->col, "code", pc_diag_code_name(e->code), "message", e->msg);
        if (!o || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}
