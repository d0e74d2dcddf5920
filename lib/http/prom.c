/* prom.c - Prometheus text exposition format (version 0.0.4) into an evbuffer. */
#include "prom.h"

#include <math.h>
#include <stddef.h>

void pc_prom_header(struct evbuffer *b, const char *name, const char *type, const char *help)
{
    /* HELP text escapes only backslash and newline; ours has neither. */
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void pc_prom_label_value(struct evbuffer *b, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\')
            evbuffer_add(b, "\\\\", 2);
        else if (*p == '"')
            evbuffer_add(b, "\\\"", 2);
        else if (*p == '\n')
            evbuffer_add(b, "\\n", 2);
        else
            evbuffer_add(b, p, 1);
    }
}

void pc_prom_sample(struct evbuffer *b, const char *name, const char *const *labels, double v)
{
    evbuffer_add_printf(b, "%s", name);
    if (labels && labels[0]) {
        evbuffer_add(b, "{", 1);
        for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
            evbuffer_add_printf(b, "%s%s=\"", i ? "," : "", labels[i]);
            pc_prom_label_value(b, labels[i + 1]);
            evbuffer_add(b, "\"", 1);
        }
        evbuffer_add(b, "}", 1);
    }
    if (isnan(v))
        evbuffer_add_printf(b, " NaN\n");
    else if (isinf(v))
        evbuffer_add_printf(b, " %s\n", v > 0 ? "+Inf" : "-Inf");
    else
        evbuffer_add_printf(b, " %.15g\n", v);
}

void pc_prom_metric(struct evbuffer *b, const char *name, const char *type, const char *help,
                    double v)
{
    pc_prom_header(b, name, type, help);
    pc_prom_sample(b, name, NULL, v);
}
