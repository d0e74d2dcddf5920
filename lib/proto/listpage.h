/* listpage.h - pages of the `list` answer: the claims' order, the cursor, and one page's cut. */
#ifndef PC_LISTPAGE_H
#define PC_LISTPAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "message.h"

/* pc_list_key (message.h) orders a listing. */

/* <0, 0, >0 as claim key a sorts before, equal to, after b (whole_port ignored). */
int pc_list_key_cmp(const pc_list_key *a, const pc_list_key *b);

/* True when the claim with key k comes after the cursor. */
bool pc_list_key_after(const pc_list_key *k, const pc_list_key *cursor);

/* The key of a claim object (missing fields empty or 0). Returns 0 or
 * PORTCO_EPROTO when a field has the wrong type or is too long. */
int pc_list_key_of(const json_t *claim, pc_list_key *k, pc_error *err);

/* The cursor object {"pool","port"[,"host","claim"]} (host and claim left
 * out for whole_port). New reference; NULL on ENOMEM. */
json_t *pc_list_key_to_json(const pc_list_key *k);

/* Read a cursor object. Returns 0, or `code` with err naming the field. */
int pc_list_key_from_json(const json_t *o, pc_list_key *k, int code, pc_error *err);

/* Sort an array of claim objects in place into the listing order. Returns 0 or -ENOMEM. */
int pc_list_sort(json_t *claims);

/*
 * Cut one page from `sorted` (claim objects in listing order, borrowed):
 * the claims after `after` (NULL: from the start) and not beyond `horizon`
 * (NULL: no bound; else only claims whose pool and port are at most the
 * horizon's, which is how far the claims were read), at most `limit` of
 * them, and as many as fit in `budget` bytes of compact JSON with a comma
 * after each. *page gets a new array of the page's claims. *more is set when
 * claims may follow the page: some were left out for the limit or the
 * budget, or `horizon` is set; *next is then the cursor of the next page
 * (the last claim of the page, or the horizon's whole port when the page
 * is empty). Returns 0, -ENOMEM, or PORTCO_ETOOBIG when the first claim of
 * the page alone is over `budget`.
 */
int pc_list_page(const json_t *sorted, const pc_list_key *after, const pc_list_key *horizon,
                 size_t limit, size_t budget, json_t **page, pc_list_key *next, bool *more);

#endif
