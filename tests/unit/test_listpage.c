/* test_listpage.c - unit tests of lib/proto/listpage: the listing order, the cursor, one page's
 * cut. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listpage.h"
#include "message.h"

/*
 * The claims of the tests: pool "a" (cluster scope) owns ports 1-6 with host
 * "h" (port 4 has a port node but no owner), pool "b" (host scope) ports
 * 10-12 owned by hosts x, y, z each, and pool "c" port 7 by host "h".
 */
typedef struct pt_dir {
    const char *pool;
    const char *host; /* the owner of every port of the directory */
    int ports[8];     /* port nodes, 0-ended */
    int empty;        /* a port node without an owner, 0: none */
} pt_dir;

static const pt_dir pt_dirs[] = {
    {"b", "y", {10, 11, 12}, 0}, {"a", "h", {1, 2, 3, 4, 5, 6}, 4}, {"b", "z", {10, 11, 12}, 0},
    {"c", "h", {7}, 0},          {"b", "x", {10, 11, 12}, 0},
};
#define PT_NDIRS (sizeof(pt_dirs) / sizeof(pt_dirs[0]))

static json_t *pt_claim(const char *pool, int port, const char *host)
{
    char claim[64];
    snprintf(claim, sizeof(claim), "_c_%s%d%s-lock-0000000001", pool, port, host);
    return json_pack("{s:s, s:i, s:s, s:s, s:s}", "pool", pool, "port", port, "host", host, "claim",
                     claim, "service", "svc");
}

/* Every claim of pt_dirs, in directory order (not the listing's). */
static json_t *pt_all(void)
{
    json_t *all = json_array();
    for (size_t d = 0; d < PT_NDIRS; d++)
        for (const int *p = pt_dirs[d].ports; *p; p++)
            if (*p != pt_dirs[d].empty)
                json_array_append_new(all, pt_claim(pt_dirs[d].pool, *p, pt_dirs[d].host));
    return all;
}

static void pt_key(const json_t *c, pc_list_key *k)
{
    pc_error e;
    cr_assert_eq(pc_list_key_of(c, k, &e), 0);
}

Test(listpage, sort_orders_by_pool_port_host_claim)
{
    json_t *all = pt_all();
    cr_assert_eq(pc_list_sort(all), 0);
    cr_assert_eq(json_array_size(all), 15);
    static const char *const want[] = {"a1h",  "a2h",  "a3h",  "a5h",  "a6h",
                                       "b10x", "b10y", "b10z", "b11x", "b11y",
                                       "b11z", "b12x", "b12y", "b12z", "c7h"};
    for (size_t i = 0; i < json_array_size(all); i++) {
        pc_list_key k;
        pt_key(json_array_get(all, i), &k);
        char got[256];
        snprintf(got, sizeof(got), "%s%d%s", k.pool, k.port, k.host);
        cr_assert_str_eq(got, want[i], "claim %zu", i);
    }
    json_decref(all);
}

Test(listpage, cursor_after_a_claim_or_a_whole_port)
{
    pc_list_key cur = {.pool = "b", .port = 11, .host = "y", .claim = "q"};
    pc_list_key k = {.pool = "b", .port = 11, .host = "y", .claim = "q"};
    cr_assert_not(pc_list_key_after(&k, &cur), "a claim is not after itself");
    snprintf(k.host, sizeof(k.host), "z");
    cr_assert(pc_list_key_after(&k, &cur), "same port, later host");
    snprintf(k.host, sizeof(k.host), "x");
    cr_assert_not(pc_list_key_after(&k, &cur), "same port, earlier host");
    cur.whole_port = true;
    snprintf(k.host, sizeof(k.host), "zzz");
    cr_assert_not(pc_list_key_after(&k, &cur), "a whole-port cursor passes every host");
    k.port = 12;
    cr_assert(pc_list_key_after(&k, &cur));
    pc_list_key other = {.pool = "a", .port = 60000};
    cr_assert_not(pc_list_key_after(&other, &cur), "an earlier pool");
    snprintf(other.pool, sizeof(other.pool), "ba");
    other.port = 1;
    cr_assert(pc_list_key_after(&other, &cur), "a later pool, whatever its port");
}

Test(listpage, cursor_json_round_trip)
{
    pc_list_key k = {.pool = "web", .port = 20001, .host = "h1", .claim = "_c_x-lock-0000000001"};
    pc_error e;
    for (int whole = 0; whole < 2; whole++) {
        k.whole_port = whole;
        json_t *j = pc_list_key_to_json(&k);
        cr_assert_not_null(j);
        cr_assert_eq(json_object_get(j, "host") == NULL, whole != 0);
        pc_list_key back;
        cr_assert_eq(pc_list_key_from_json(j, &back, PORTCO_EBADREQ, &e), 0, "%s", e.msg);
        cr_assert_eq(back.whole_port, k.whole_port);
        cr_assert_str_eq(back.pool, "web");
        cr_assert_eq(back.port, 20001);
        if (!whole)
            cr_assert_eq(pc_list_key_cmp(&back, &k), 0);
        json_decref(j);
    }
    static const char *const bad[] = {
        "[]",
        "{\"port\":1}",
        "{\"pool\":\"a\"}",
        "{\"pool\":1,\"port\":1}",
        "{\"pool\":\"a\",\"port\":70000}",
        "{\"pool\":\"a\",\"port\":1,\"host\":5}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        cr_assert_eq(pc_list_key_from_json(j, &k, PORTCO_EBADREQ, &e), PORTCO_EBADREQ, "%s",
                     bad[i]);
        json_decref(j);
    }
}

/* Compact size of a claim plus its comma: what a page's budget counts. */
static size_t pt_size(const json_t *c)
{
    return json_dumpb(c, NULL, 0, JSON_COMPACT) + 1;
}

/* Page through `sorted` with (limit, budget) and check every claim comes once, in order. */
static void pt_page_all(const json_t *sorted, size_t limit, size_t budget)
{
    pc_list_key cur, *after = NULL;
    size_t got = 0, pages = 0;
    bool more = true;
    while (more) {
        json_t *page;
        pc_list_key next;
        int rc = pc_list_page(sorted, after, NULL, limit, budget, &page, &next, &more);
        cr_assert_eq(rc, 0, "limit %zu budget %zu: %d", limit, budget, rc);
        cr_assert_leq(json_array_size(page), limit);
        size_t used = 0;
        for (size_t i = 0; i < json_array_size(page); i++) {
            json_t *c = json_array_get(page, i);
            cr_assert(json_equal(c, json_array_get(sorted, got)), "limit %zu budget %zu: claim %zu",
                      limit, budget, got);
            used += pt_size(c);
            got++;
        }
        cr_assert_leq(used, budget);
        cr_assert(more || got == json_array_size(sorted));
        cr_assert(json_array_size(page) > 0 || !more, "a page without a horizon makes progress");
        json_decref(page);
        cur = next;
        after = &cur;
        cr_assert_lt(++pages, 100);
    }
    cr_assert_eq(got, json_array_size(sorted), "limit %zu budget %zu", limit, budget);
}

Test(listpage, pages_of_every_size_lose_nothing_mid_port_or_mid_pool)
{
    json_t *all = pt_all();
    cr_assert_eq(pc_list_sort(all), 0);
    size_t one = pt_size(json_array_get(all, 0));
    for (size_t limit = 1; limit <= 16; limit++) {
        pt_page_all(all, limit, 1 << 20);
        pt_page_all(all, limit, 2 * one + one / 2); /* the budget cuts first */
    }
    json_decref(all);
}

Test(listpage, a_claim_over_the_budget_is_refused)
{
    json_t *all = pt_all();
    json_t *page;
    pc_list_key next;
    bool more;
    cr_assert_eq(pc_list_page(all, NULL, NULL, 10, 10, &page, &next, &more), PORTCO_ETOOBIG);
    cr_assert_null(page);
    json_decref(all);
}

/*
 * The agent's walk for one page: per directory only the first `walk` port
 * nodes after the cursor are read (empty ones count); when any directory is
 * cut, the horizon is the lowest last-read (pool, port). Returns the claims
 * read (unsorted) and sets *cut and *horizon.
 */
static json_t *pt_walk(const pc_list_key *after, int walk, bool *cut, pc_list_key *horizon)
{
    json_t *read = json_array();
    *cut = false;
    for (size_t d = 0; d < PT_NDIRS; d++) {
        const pt_dir *dir = &pt_dirs[d];
        int n = 0;
        for (const int *p = dir->ports; *p; p++) {
            pc_list_key portk = {.port = *p};
            snprintf(portk.pool, sizeof(portk.pool), "%s", dir->pool);
            snprintf(portk.host, sizeof(portk.host), "%s", dir->host);
            snprintf(portk.claim, sizeof(portk.claim), "~"); /* after any claim of the port */
            if (after && !pc_list_key_after(&portk, after))
                continue;
            if (n == walk) {
                pc_list_key h = {.port = p[-1]};
                snprintf(h.pool, sizeof(h.pool), "%s", dir->pool);
                if (!*cut || pc_list_key_cmp(&h, horizon) < 0)
                    *horizon = h;
                *cut = true;
                break;
            }
            n++;
            if (*p != dir->empty)
                json_array_append_new(read, pt_claim(dir->pool, *p, dir->host));
        }
    }
    return read;
}

Test(listpage, pages_of_a_cut_walk_lose_nothing_and_always_advance)
{
    json_t *all = pt_all();
    cr_assert_eq(pc_list_sort(all), 0);
    for (int walk = 1; walk <= 7; walk++)
        for (size_t limit = 1; limit <= 5; limit++) {
            pc_list_key cur, *after = NULL;
            size_t got = 0;
            bool more = true;
            for (int pages = 0; more; pages++) {
                cr_assert_lt(pages, 200, "walk %d limit %zu does not end", walk, limit);
                bool cut;
                pc_list_key horizon;
                json_t *read = pt_walk(after, walk, &cut, &horizon);
                cr_assert_eq(pc_list_sort(read), 0);
                json_t *page;
                pc_list_key next;
                cr_assert_eq(pc_list_page(read, after, cut ? &horizon : NULL, limit, 1 << 20, &page,
                                          &next, &more),
                             0);
                for (size_t i = 0; i < json_array_size(page); i++, got++)
                    cr_assert(json_equal(json_array_get(page, i), json_array_get(all, got)),
                              "walk %d limit %zu: claim %zu", walk, limit, got);
                if (more && after)
                    cr_assert(pc_list_key_cmp(after, &next) != 0 ||
                                  after->whole_port != next.whole_port,
                              "the cursor advances");
                json_decref(page);
                json_decref(read);
                cur = next;
                after = &cur;
            }
            cr_assert_eq(got, json_array_size(all), "walk %d limit %zu", walk, limit);
        }
    json_decref(all);
}

Test(listpage, list_request_limit_and_after)
{
    pc_request r;
    pc_error e;
    const char *ok = "{\"v\":1,\"id\":7,\"op\":\"list\",\"pool\":\"b\",\"limit\":50,"
                     "\"after\":{\"pool\":\"b\",\"port\":11,\"host\":\"y\",\"claim\":\"q\"}}";
    cr_assert_eq(pc_request_parse(ok, strlen(ok), &r, &e), 0, "%s", e.msg);
    cr_assert_eq(r.limit, 50);
    cr_assert(r.has_after);
    cr_assert_eq(r.after.port, 11);
    cr_assert_str_eq(r.after.host, "y");
    cr_assert_not(r.after.whole_port);
    json_t *j = pc_request_to_json(&r);
    char *s = json_dumps(j, JSON_COMPACT);
    pc_request back;
    cr_assert_eq(pc_request_parse(s, strlen(s), &back, &e), 0, "%s", e.msg);
    cr_assert_eq(back.limit, 50);
    cr_assert_eq(pc_list_key_cmp(&back.after, &r.after), 0);
    free(s);
    json_decref(j);

    const char *plain = "{\"v\":1,\"id\":8,\"op\":\"list\"}";
    cr_assert_eq(pc_request_parse(plain, strlen(plain), &r, &e), 0);
    cr_assert_eq(r.limit, 0, "no limit: the single answer");
    cr_assert_not(r.has_after);

    static const char *const bad[] = {
        "{\"v\":1,\"id\":9,\"op\":\"list\",\"limit\":0}",
        "{\"v\":1,\"id\":9,\"op\":\"list\",\"limit\":10001}",
        "{\"v\":1,\"id\":9,\"op\":\"list\",\"limit\":\"5\"}",
        "{\"v\":1,\"id\":9,\"op\":\"list\",\"after\":{\"pool\":\"a\",\"port\":1}}",
        "{\"v\":1,\"id\":9,\"op\":\"list\",\"limit\":5,\"after\":\"a:1\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(pc_request_parse(bad[i], strlen(bad[i]), &r, &e), PORTCO_EBADREQ, "%s",
                     bad[i]);
        cr_assert_eq(r.id, 9);
    }
}
