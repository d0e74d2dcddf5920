/* test_scan.c - the candidate scan of an acquire: order, passes, skips, word skipping, start
 * offset. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

/* A pool for the scan, built from text; owns what the pc_scan_pool points to. */
typedef struct pool_fixture {
    pc_rangeset ports;
    uint64_t *claimed, *inflight; /* exactly (nports + 63) / 64 words, so ASan sees overreads */
    pc_static statics[16];
    pc_scan_pool view;
} pool_fixture;

static size_t words_for(size_t nports)
{
    return (nports + 63) / 64;
}

/* Set the bits of the ports in `text` (rangeset syntax, ports of the pool). */
static void mark(pool_fixture *f, uint64_t *bits, const char *text, const char *row)
{
    pc_rangeset s = PC_RANGESET_INIT;
    cr_assert_eq(pc_rangeset_parse(&s, text, NULL), 0, "%s: bad port list '%s'", row, text);
    for (size_t k = 0; k < pc_rangeset_count(&s); k++) {
        long i = pc_rangeset_index(&f->ports, (uint32_t)pc_rangeset_nth(&s, k));
        cr_assert_geq(i, 0, "%s: port %d is not in the pool", row, pc_rangeset_nth(&s, k));
        bits[i / 64] |= (uint64_t)1 << (i % 64);
    }
    pc_rangeset_free(&s);
}

static int static_cmp(const void *x, const void *y)
{
    return (int)((const pc_static *)x)->port - (int)((const pc_static *)y)->port;
}

/* statics: "port=service,port=service". */
static void pool_init(pool_fixture *f, const char *row, const char *ports, const char *claimed,
                      const char *inflight, const char *statics, size_t cursor)
{
    memset(f, 0, sizeof(*f));
    cr_assert_eq(pc_rangeset_parse(&f->ports, ports, NULL), 0, "%s: bad pool '%s'", row, ports);
    size_t n = pc_rangeset_count(&f->ports);
    size_t words = words_for(n);
    f->claimed = words ? calloc(words, sizeof(uint64_t)) : NULL;
    f->inflight = words ? calloc(words, sizeof(uint64_t)) : NULL;
    mark(f, f->claimed, claimed, row);
    mark(f, f->inflight, inflight, row);
    size_t ns = 0;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", statics);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        cr_assert(eq && ns < 16, "%s: bad static '%s'", row, tok);
        *eq = '\0';
        f->statics[ns].port = (uint16_t)atoi(tok);
        snprintf(f->statics[ns].service, sizeof(f->statics[ns].service), "%s", eq + 1);
        ns++;
    }
    qsort(f->statics, ns, sizeof(pc_static), static_cmp);
    f->view = (pc_scan_pool){&f->ports, n, f->claimed, f->inflight, f->statics, ns, cursor};
}

static void pool_free(pool_fixture *f)
{
    pc_rangeset_free(&f->ports);
    free(f->claimed);
    free(f->inflight);
}

/* Append the ports of seq[0..n) as runs of consecutive ports: "5-9,1-4". */
static size_t put_runs(char *out, size_t len, const uint32_t *seq, size_t n)
{
    size_t at = 0;
    for (size_t i = 0; i < n && at < len; i++) {
        size_t j = i;
        while (j + 1 < n && seq[j + 1] == seq[j] + 1)
            j++;
        at += (size_t)snprintf(out + at, len - at, i == j ? "%s%u" : "%s%u-%u", i ? "," : "",
                               seq[i], seq[j]);
        i = j;
    }
    return at;
}

/*
 * Run a whole scan and write its candidates in the order visited, pass 1,
 * then '|', then pass 2, as runs of consecutive ports: "5-9,1-4|10".
 */
static void scan_all(const pc_scan_pool *p, const char *service, char *out, size_t len,
                     const char *row)
{
    uint32_t seq[2][512];
    size_t n[2] = {0, 0};
    pc_scan s;
    pc_scan_begin(p, &s);
    for (;;) {
        bool second = false;
        uint16_t port = pc_scan_next(p, &s, service, &second);
        if (port == 0)
            break;
        cr_assert(!(n[1] && !second), "%s: port %u from pass 1 after pass 2", row, port);
        cr_assert_lt(n[second], 512, "%s: the scan does not end", row);
        seq[second][n[second]++] = port;
    }
    bool second = false;
    cr_assert_eq(pc_scan_next(p, &s, service, &second), 0, "%s: a finished scan goes on", row);
    size_t at = put_runs(out, len, seq[0], n[0]);
    at += (size_t)snprintf(out + at, len - at, "|");
    put_runs(out + at, len - at, seq[1], n[1]);
}

typedef struct scan_row {
    char name[64];
    char ports[32];    /* the pool's claimable ports (ranges minus excludes) */
    char claimed[32];  /* ports the cache shows claimed */
    char inflight[32]; /* ports in flight on this agent */
    char statics[64];  /* "port=service,..." */
    size_t cursor;
    char service[16];
    char want[96]; /* candidates as scan_all writes them */
} scan_row;

static scan_row scan_rows[] = {
    {"empty pool", "", "", "", "", 0, "me", "|"},
    {"fresh pool from its first index", "1000-1009", "", "", "", 0, "me", "1000-1009|"},
    {"cursor in the middle wraps around", "1000-1009", "", "", "", 7, "me", "1007-1009,1000-1006|"},
    {"cursor past the end is taken modulo", "1000-1009", "", "", "", 13, "me",
     "1003-1009,1000-1002|"},
    {"cursor on the last index", "1000-1009", "", "", "", 9, "me", "1009,1000-1008|"},
    {"claimed ports come in pass 2", "1000-1009", "1002,1005", "", "", 0, "me",
     "1000-1001,1003-1004,1006-1009|1002,1005"},
    {"pass 2 starts at the cursor too", "1000-1009", "1002,1008", "", "", 5, "me",
     "1005-1007,1009,1000-1001,1003-1004|1008,1002"},
    {"in flight ports are skipped in both passes", "1000-1009", "1005-1006", "1001,1005", "", 0,
     "me", "1000,1002-1004,1007-1009|1006"},
    {"full pool: every port in pass 2", "1-200", "1-200", "", "", 0, "me", "|1-200"},
    {"full pool, all in flight: no candidate", "1-200", "1-100", "1-200", "", 0, "me", "|"},
    {"70 ports: claimed first word skipped", "1-70", "1-64", "", "", 0, "me", "65-70|1-64"},
    {"70 ports: cursor at the second word", "1-70", "", "", "", 64, "me", "65-70,1-64|"},
    {"70 ports: unclaimed tail is not in pass 2", "1-70", "1-64", "", "", 64, "me", "65-70|1-64"},
    {"130 ports: two claimed words and a tail", "1-130", "1-128", "", "", 0, "me", "129-130|1-128"},
    {"130 ports: last port only free", "1-130", "1-129", "", "", 0, "me", "130|1-129"},
    {"wrap-around skips a whole claimed word", "1-128", "1-64", "", "", 64, "me", "65-128|1-64"},
    {"word skipping starts only at a word edge", "1-128", "1-4,6-128", "", "", 10, "me",
     "5|11-128,1-4,6-10"},
    {"100 ports: partial last word is scanned port by port", "1-100", "1-50,52-100", "", "", 50,
     "me", "51|52-100,1-50"},
    {"statics of others at word edges are skipped", "1-130", "", "", "64=x,65=x,128=x,129=x", 0,
     "me", "1-63,66-127,130|"},
    {"own static at a word edge is a candidate", "1-130", "", "", "64=me,65=x", 0, "me",
     "1-64,66-130|"},
    {"claimed static of another service is skipped in pass 2", "1-10", "3-4", "", "3=x", 0, "me",
     "1-2,5-10|4"},
    {"excludes: indexes jump over the gap", "1000-1009,1020-1030", "", "", "", 9, "me",
     "1009,1020-1030,1000-1008|"},
    {"excludes: claimed port after the gap", "1000-1009,1020-1030", "1020", "", "", 0, "me",
     "1000-1009,1021-1030|1020"},
    {"single port pool, claimed", "4242", "4242", "", "", 3, "me", "|4242"},
    {"64 ports exactly, all claimed", "1-64", "1-64", "", "", 0, "me", "|1-64"},
    {"64 ports exactly, cursor 63", "1-64", "", "", "", 63, "me", "64,1-63|"},
};

ParameterizedTestParameters(scan, table)
{
    return cr_make_param_array(scan_row, scan_rows, sizeof(scan_rows) / sizeof(scan_rows[0]));
}

ParameterizedTest(scan_row *r, scan, table)
{
    pool_fixture f;
    pool_init(&f, r->name, r->ports, r->claimed, r->inflight, r->statics, r->cursor);
    char got[512];
    scan_all(&f.view, r->service, got, sizeof(got), r->name);
    cr_expect_str_eq(got, r->want, "%s: got %s, want %s", r->name, got, r->want);
    pool_free(&f);
}

/* The bitmaps are read at each call: a port that goes in flight after the scan began is skipped. */
Test(scan, reads_the_bitmaps_at_each_call)
{
    pool_fixture f;
    pool_init(&f, "live", "1-10", "", "", "", 0);
    pc_scan s;
    bool second = false;
    pc_scan_begin(&f.view, &s);
    cr_assert_eq(pc_scan_next(&f.view, &s, "me", &second), 1);
    f.inflight[0] |= 1u << 1; /* port 2 */
    f.claimed[0] |= 1u << 2;  /* port 3: comes in pass 2 */
    cr_assert_eq(pc_scan_next(&f.view, &s, "me", &second), 4);
    cr_assert_not(second);
    pool_free(&f);
}

/* A port-by-port scan: what the word skipping must be equivalent to. */
static size_t reference_scan(const pc_scan_pool *p, const char *service, uint32_t *out)
{
    size_t n = 0;
    size_t start = p->nports ? p->cursor % p->nports : 0;
    for (int pass = 1; pass <= 2; pass++) {
        for (size_t k = 0; k < p->nports; k++) {
            size_t i = (start + k) % p->nports;
            bool claimed = (p->claimed[i / 64] >> (i % 64)) & 1u;
            bool inflight = (p->inflight[i / 64] >> (i % 64)) & 1u;
            if (inflight || claimed != (pass == 2))
                continue;
            int port = pc_rangeset_nth(p->ports, i);
            const char *owner = pc_scan_static_owner(p->statics, p->nstatics, (uint16_t)port);
            if (owner && strcmp(owner, service) != 0)
                continue;
            out[n++] = (uint32_t)port | (pass == 2 ? 0x10000u : 0);
        }
    }
    return n;
}

static uint64_t rnd_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* A word that is all ones, all zeros or random bits: whole-word skips happen often. */
static uint64_t rnd_word(uint64_t *x)
{
    switch (rnd_next(x) % 3) {
    case 0:
        return 0;
    case 1:
        return UINT64_MAX;
    default:
        return rnd_next(x) & rnd_next(x);
    }
}

Test(scan, word_skipping_visits_what_a_port_by_port_scan_visits)
{
    static const size_t sizes[] = {1, 2, 63, 64, 65, 127, 128, 129, 191, 192, 193, 300};
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    uint32_t *want = malloc(2 * 300 * sizeof(uint32_t));
    for (int round = 0; round < 600; round++) {
        size_t n = sizes[round % (sizeof(sizes) / sizeof(sizes[0]))];
        char ports[32];
        snprintf(ports, sizeof(ports), "2000-%zu", 2000 + n - 1);
        pool_fixture f;
        pool_init(&f, "random", ports, "", "", "", (size_t)(rnd_next(&x) % (2 * n)));
        for (size_t w = 0; w < words_for(n); w++) {
            f.claimed[w] = rnd_word(&x);
            f.inflight[w] = rnd_word(&x) & rnd_word(&x);
        }
        /* Clear the bits past the pool's end in the last word, as the agent's bitmaps are. */
        if (n % 64) {
            f.claimed[n / 64] &= ((uint64_t)1 << (n % 64)) - 1;
            f.inflight[n / 64] &= ((uint64_t)1 << (n % 64)) - 1;
        }
        f.statics[0] = (pc_static){.port = (uint16_t)(2000 + rnd_next(&x) % n), .service = "x"};
        f.view.nstatics = round % 2;
        size_t nwant = reference_scan(&f.view, "me", want);
        pc_scan s;
        pc_scan_begin(&f.view, &s);
        size_t got = 0;
        for (;;) {
            bool second = false;
            uint16_t port = pc_scan_next(&f.view, &s, "me", &second);
            if (!port)
                break;
            cr_assert_lt(got, nwant, "round %d (%zu ports, cursor %zu): extra port %u", round, n,
                         f.view.cursor, port);
            uint32_t v = port | (second ? 0x10000u : 0);
            cr_assert_eq(v, want[got],
                         "round %d (%zu ports, cursor %zu): candidate %zu is %#x, "
                         "want %#x",
                         round, n, f.view.cursor, got, v, want[got]);
            got++;
        }
        cr_assert_eq(got, nwant, "round %d (%zu ports, cursor %zu): %zu candidates, want %zu",
                     round, n, f.view.cursor, got, nwant);
        pool_free(&f);
    }
    free(want);
}

Test(scan, static_owner_finds_ports_at_both_ends)
{
    pc_static st[] = {
        {.port = 10, .service = "a"}, {.port = 20, .service = "b"}, {.port = 30, .service = "c"}};
    cr_assert_str_eq(pc_scan_static_owner(st, 3, 10), "a");
    cr_assert_str_eq(pc_scan_static_owner(st, 3, 20), "b");
    cr_assert_str_eq(pc_scan_static_owner(st, 3, 30), "c");
    cr_assert_null(pc_scan_static_owner(st, 3, 9));
    cr_assert_null(pc_scan_static_owner(st, 3, 25));
    cr_assert_null(pc_scan_static_owner(st, 3, 31));
    cr_assert_null(pc_scan_static_owner(NULL, 0, 10));
}

Test(scan, first_cursor_is_a_fixed_hash_of_host_and_pool)
{
    /* Pinned: a change moves every agent's first candidates. */
    cr_assert_eq(pc_scan_first_cursor("host-a", "web", 1000), 490);
    cr_assert_eq(pc_scan_first_cursor("host-b", "web", 1000), 891);
    cr_assert_eq(pc_scan_first_cursor("host-a", "web", 0), 0);
    cr_assert_eq(pc_scan_first_cursor("host-a", "web", 1), 0);
    /* The separator counts: "a" + "/" + "bc" differs from "ab" + "/" + "c". */
    cr_assert_neq(pc_scan_first_cursor("a", "bc", 1000003),
                  pc_scan_first_cursor("ab", "c", 1000003));
}

Test(scan, first_cursors_of_many_hosts_spread_over_the_pool)
{
    enum { HOSTS = 64, PORTS = 1000 };
    bool seen[PORTS] = {false};
    int distinct = 0;
    for (int h = 0; h < HOSTS; h++) {
        char host[32];
        snprintf(host, sizeof(host), "node-%02d", h);
        size_t c = pc_scan_first_cursor(host, "web", PORTS);
        cr_assert_lt(c, PORTS, "%s: cursor %zu out of range", host, c);
        distinct += !seen[c];
        seen[c] = true;
    }
    /* 64 uniform draws from 1000 collide about twice on average. */
    cr_assert_geq(distinct, HOSTS - 8, "only %d distinct first cursors for %d hosts", distinct,
                  HOSTS);
}
