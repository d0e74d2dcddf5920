/* diag.h - configuration diagnostics: every error in a file, with a stable code and position. */
#ifndef PC_DIAG_H
#define PC_DIAG_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Stable diagnostic codes. The second column is the machine-readable name
 * printed as `error[CODE]` and in JSON; it never changes once released.
 * config/README.md explains each one. This list is the only definition.
 */
#define PC_DIAG_CODES(XX)                                                                          \
    XX(IO, "io-error", "the file cannot be read")                                                  \
    XX(YAML_SYNTAX, "yaml-syntax", "the file is not well-formed YAML")                             \
    XX(BAD_TYPE, "bad-type", "a value has the wrong YAML type")                                    \
    XX(UNKNOWN_KEY, "unknown-key", "a mapping has a key the schema does not know")                 \
    XX(MISSING_KEY, "missing-key", "a required key is absent")                                     \
    XX(DUPLICATE_KEY, "duplicate-key", "a key appears twice in one mapping")                       \
    XX(BAD_VALUE, "bad-value", "a value is not one of the accepted ones")                          \
    XX(BAD_NAME, "bad-name", "a pool, service or host name cannot be used")                        \
    XX(BAD_ADDRESS, "bad-address", "an address is not an IP literal")                              \
    XX(BAD_ROOT, "bad-root", "the ZooKeeper root is not a usable absolute path")                   \
    XX(RANGE_INVALID, "range-invalid", "a port range is not N or A-B")                             \
    XX(RANGE_REVERSED, "range-reversed", "a port range has its ends swapped")                      \
    XX(RANGE_OUT_OF_BOUNDS, "range-out-of-bounds", "a port is outside 1-65535")                    \
    XX(POOL_DUPLICATE, "pool-duplicate", "two pools have the same name")                           \
    XX(POOL_OVERLAP, "pool-overlap", "two pools share a port on overlapping addresses")            \
    XX(POOL_EMPTY, "pool-empty", "a pool has no port left after its excludes")                     \
    XX(PRIVILEGED_PORT, "privileged-port", "a pool has ports below 1024 without consent")          \
    XX(STATIC_UNKNOWN_POOL, "static-unknown-pool", "a static assignment names no pool")            \
    XX(STATIC_OUTSIDE_POOL, "static-outside-pool", "a static port is not in its pool")             \
    XX(STATIC_EXCLUDED, "static-excluded", "a static port is in its pool's exclude list")          \
    XX(STATIC_DUPLICATE, "static-duplicate", "a port is statically assigned twice")

typedef enum pc_diag_code {
#define PC_DIAG_XX_(id, name, text) PC_DIAG_##id,
    PC_DIAG_CODES(PC_DIAG_XX_)
#undef PC_DIAG_XX_
        PC_DIAG_NCODES
} pc_diag_code;

/* One error. Strings are owned by the entry. line and col are 1-based; 0 when unknown. */
typedef struct pc_diag {
    pc_diag_code code;
    char *file;
    int line;
    int col;
    char *msg;
} pc_diag;

/* Most entries a list keeps; later ones are only counted, so junk input stays cheap. */
#define PC_DIAGS_MAX 1000

/* A growing list of diagnostics, in the order they were found (or sorted by position). */
typedef struct pc_diags {
    pc_diag *v;
    size_t n, cap;
    size_t dropped; /* entries beyond PC_DIAGS_MAX, counted but not stored */
    int oom;        /* set when an entry could not be stored for lack of memory */
} pc_diags;

#define PC_DIAGS_INIT                                                                              \
    {                                                                                              \
        NULL, 0, 0, 0, 0                                                                           \
    }

void pc_diags_init(pc_diags *d);

/* Free every entry and reset the list. Accepts NULL. */
void pc_diags_free(pc_diags *d);

/* Stable name ("range-reversed") and one-line description of a code. Never NULL. */
const char *pc_diag_code_name(pc_diag_code code);
const char *pc_diag_code_text(pc_diag_code code);

/* Code of a stable name, or -1 when unknown. */
int pc_diag_code_from_name(const char *name);

/*
 * Append an entry (file is copied; may be NULL). Accepts d == NULL (drops it).
 * Beyond PC_DIAGS_MAX entries only d->dropped grows. Returns 0, or -ENOMEM
 * (d->oom is set and the entry is lost).
 */
int pc_diags_add(pc_diags *d, pc_diag_code code, const char *file, int line, int col,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Stable-sort the entries from index `start` on by line, then column. */
void pc_diags_sort_from(pc_diags *d, size_t start);

/* Number of entries with `code`. */
size_t pc_diags_count(const pc_diags *d, pc_diag_code code);

/* Write "FILE:LINE:COL: error[CODE]: MESSAGE" into buf (truncating); returns buf. */
const char *pc_diag_format(const pc_diag *e, char *buf, size_t len);

/* Print every entry, one line each, in the format above, then a count of dropped ones. */
void pc_diags_print(FILE *f, const pc_diags *d);

/*
 * The entries as a new JSON array of {"file","line","col","code","message"}
 * objects (a new reference), or NULL when out of memory.
 */
json_t *pc_diags_to_json(const pc_diags *d);

#endif
