/* yamldoc.h - a YAML document held by libyaml, with typed, position-reporting accessors. */
#ifndef PC_YAMLDOC_H
#define PC_YAMLDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "diag.h"
#include "ranges.h"

/*
 * A loaded document. Accessors report problems to `d` under `file` and
 * return -1; they only follow the schema's fixed paths, so anchors, aliases
 * (even cyclic ones) and deep nesting below them cannot make them recurse.
 */
typedef struct pc_ydoc {
    yaml_document_t doc;
    bool loaded;
    const char *file; /* borrowed */
    pc_diags *d;      /* borrowed; may be NULL */
    int errors;       /* number of problems reported through this document */
} pc_ydoc;

/* Deepest nesting of sequences and mappings accepted (the schema needs 4). */
#define PC_YAML_MAX_DEPTH 32

/*
 * Parse the first document of text. Nesting deeper than PC_YAML_MAX_DEPTH
 * and a second document are yaml-syntax errors. Returns 0 (the root may still be NULL
 * for an empty document), PORTCO_ECONFIG after a yaml-syntax diagnostic, or
 * -ENOMEM.
 */
int pc_ydoc_load(pc_ydoc *y, const char *file, const char *text, size_t len, pc_diags *d);
void pc_ydoc_free(pc_ydoc *y);

/* Root node, or NULL for an empty document. */
yaml_node_t *pc_ydoc_root(pc_ydoc *y);

/* 1-based position of a node. */
int pc_yline(const yaml_node_t *n);
int pc_ycol(const yaml_node_t *n);

/* Append a diagnostic at node n (or 1:1 when n is NULL) and count it. */
void pc_yerr(pc_ydoc *y, const yaml_node_t *n, pc_diag_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* What a node is, for messages: "a mapping", "a sequence", "null", "a string 'x'"... */
const char *pc_ykind(const yaml_node_t *n, char *buf, size_t len);

/* True for a plain null scalar ("", "~", "null"). */
bool pc_yis_null(const yaml_node_t *n);

/* One key of a schema mapping. `val` and `key` are filled by pc_ymap. */
typedef struct pc_yfield {
    const char *name;
    bool required;
    yaml_node_t *val;
    yaml_node_t *key;
} pc_yfield;

/*
 * Match the mapping `map` against `fields`: fills val for each key found,
 * reports bad-type (not a mapping, or a non-string key), unknown-key (with
 * the accepted keys and a suggestion), duplicate-key and missing-key.
 * `where` names the mapping in messages ("" for the top level). Returns 0
 * when map is a mapping (even if some keys were bad), -1 when it is not.
 */
int pc_ymap(pc_ydoc *y, yaml_node_t *map, const char *where, pc_yfield *fields, size_t n);

/*
 * Typed reads of a value at `where`. Each returns 0 and fills *out, or
 * reports and returns -1.
 * - pc_ystr: any scalar that is not a plain null; copied into buf (bad-value
 *   when longer than len-1 or containing a NUL byte).
 * - pc_ystrdup: same, malloc'd.
 * - pc_ybool: plain true/false (any case).
 * - pc_yport: an integer 1-65535 (quoted or not); range-out-of-bounds else.
 * - pc_yint: an integer in [min, max]; bad-value when outside.
 */
int pc_ystr(pc_ydoc *y, yaml_node_t *n, const char *where, char *buf, size_t len);
int pc_ystrdup(pc_ydoc *y, yaml_node_t *n, const char *where, char **out);
int pc_ybool(pc_ydoc *y, yaml_node_t *n, const char *where, bool *out);
int pc_yport(pc_ydoc *y, yaml_node_t *n, const char *where, uint32_t *out);
int pc_yint(pc_ydoc *y, yaml_node_t *n, const char *where, long min, long max, long *out);

/*
 * A set of ports: a scalar "A-B", "N" or "A-B,N,...", or a sequence of such
 * scalars. Every bad item is reported (range-invalid, range-reversed,
 * range-out-of-bounds); good items are added to s. allow_empty permits an
 * empty sequence or empty string. Returns 0 when everything was good, else -1.
 */
int pc_yranges(pc_ydoc *y, yaml_node_t *n, const char *where, bool allow_empty, pc_rangeset *s);

/* Sequence items: count and the i-th node (NULL when n is not a sequence). */
size_t pc_yseq_len(const yaml_node_t *n);
yaml_node_t *pc_yseq_item(pc_ydoc *y, const yaml_node_t *n, size_t i);

/* Read a whole file into a malloc'd buffer (at most PC_CONFIG_MAX_BYTES). Returns 0 or -errno. */
int pc_read_file(const char *path, char **buf, size_t *len);

/* pc_read_file() for a config file: on failure also adds the io-error diag
 * naming the file and the reason (and the size limit when it was hit). */
int pc_read_config_file(const char *path, char **buf, size_t *len, pc_diags *d);

#endif
