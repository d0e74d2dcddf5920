/* ranges.h - sets of port numbers kept as sorted, disjoint, merged ranges. */
#ifndef PC_RANGES_H
#define PC_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct pc_range {
    uint32_t lo, hi; /* inclusive; 0..65535 */
} pc_range;

/* Invariant: v[i].hi + 1 < v[i+1].lo for every i (sorted, disjoint, not adjacent). */
typedef struct pc_rangeset {
    pc_range *v;
    size_t n, cap;
} pc_rangeset;

/* An initialiser on one line: clang-format would spread it over four. */
/* clang-format off */
#define PC_RANGESET_INIT {NULL, 0, 0}
/* clang-format on */

void pc_rangeset_init(pc_rangeset *s);
void pc_rangeset_free(pc_rangeset *s);
void pc_rangeset_clear(pc_rangeset *s);

/* Add [lo, hi]; merges with neighbours. Returns 0, -EINVAL (lo > hi or hi > 65535), -ENOMEM. */
int pc_rangeset_add(pc_rangeset *s, uint32_t lo, uint32_t hi);

/* Add every range of `o`. Returns 0 or -ENOMEM. */
int pc_rangeset_add_set(pc_rangeset *s, const pc_rangeset *o);

/* Remove every port of `o` from `s`. Returns 0 or -ENOMEM. */
int pc_rangeset_subtract(pc_rangeset *s, const pc_rangeset *o);

/* Copy `o` into `s` (replacing its content). Returns 0 or -ENOMEM. */
int pc_rangeset_copy(pc_rangeset *s, const pc_rangeset *o);

bool pc_rangeset_contains(const pc_rangeset *s, uint32_t port);

/* Number of ports in the set. */
size_t pc_rangeset_count(const pc_rangeset *s);

/* The idx-th port in ascending order (0-based), or -1 when idx >= count. */
int pc_rangeset_nth(const pc_rangeset *s, size_t idx);

/* Position of `port` among the set's ports (inverse of nth), or -1 when absent. */
long pc_rangeset_index(const pc_rangeset *s, uint32_t port);

/* True when the sets share a port; the lowest shared port goes to *first if not NULL. */
bool pc_rangeset_overlaps(const pc_rangeset *a, const pc_rangeset *b, uint32_t *first);

/*
 * Parse a list of ports and ranges, "80,443,30000-30999", as in
 * ip_local_reserved_ports; blanks around items are ignored, an empty string is
 * the empty set. Adds to `s`. Returns 0, or -EINVAL with err saying which item.
 */
int pc_rangeset_parse(pc_rangeset *s, const char *text, pc_error *err);

/* Parse one item, "N" or "A-B". Returns 0 or -EINVAL (err says why). */
int pc_range_parse(const char *text, pc_range *out, pc_error *err);

/* Write "a-b,c" into buf (truncating); returns buf. */
const char *pc_rangeset_format(const pc_rangeset *s, char *buf, size_t len);

#endif
