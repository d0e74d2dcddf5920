/* prom.h - Prometheus text exposition format (version 0.0.4) into an evbuffer. */
#ifndef PC_PROM_H
#define PC_PROM_H

#include <event2/buffer.h>
#include <stdint.h>

#define PC_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge, untyped). */
void pc_prom_header(struct evbuffer *b, const char *name, const char *type, const char *help);

/*
 * One sample line: name{k1="v1",...} value. `labels` is NULL or a
 * NULL-terminated list of key, value pairs; values are escaped (\\, \", \n).
 */
void pc_prom_sample(struct evbuffer *b, const char *name, const char *const *labels, double v);

/* Header and one unlabelled sample. */
void pc_prom_metric(struct evbuffer *b, const char *name, const char *type, const char *help,
                    double v);

#endif
