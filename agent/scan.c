/* scan.c - the candidate scan of one acquire, over a pool's bitmaps and static assignments. */
#include "scan.h"

#include <string.h>

void pc_scan_begin(const pc_scan_pool *p, pc_scan *s)
{
    s->start = p->nports ? p->cursor % p->nports : 0;
    s->examined = 0;
    s->pass = 1;
}

uint16_t pc_scan_next(const pc_scan_pool *p, pc_scan *s, const char *service, bool *second_pass)
{
    while (s->pass <= 2 && p->nports) {
        if (s->examined >= p->nports) {
            s->pass++;
            s->examined = 0;
            continue;
        }
        size_t i = (s->start + s->examined) % p->nports;
        size_t w = i / 64;
        /* A word whose ports are all excluded for this pass is skipped at once. */
        uint64_t skip = p->inflight[w] | (s->pass == 1 ? p->claimed[w] : ~p->claimed[w]);
        if (skip == UINT64_MAX && i % 64 == 0 && s->examined + 64 <= p->nports &&
            i + 64 <= p->nports) {
            s->examined += 64;
            continue;
        }
        s->examined++;
        if ((skip >> (i % 64)) & 1u)
            continue;
        int port = pc_rangeset_nth(p->ports, i);
        if (port <= 0)
            continue;
        const char *owner = pc_scan_static_owner(p->statics, p->nstatics, (uint16_t)port);
        if (owner && strcmp(owner, service) != 0)
            continue;
        *second_pass = s->pass == 2;
        return (uint16_t)port;
    }
    s->pass = 3;
    return 0;
}

const char *pc_scan_static_owner(const pc_static *statics, size_t n, uint16_t port)
{
    size_t lo = 0, hi = n; /* the port, if present, is in statics[lo, hi) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (statics[mid].port == port)
            return statics[mid].service;
        if (statics[mid].port < port)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t pc_scan_first_cursor(const char *host_id, const char *pool, size_t nports)
{
    /* FNV-1a steps, from an offset basis that is not the standard one
     * (14695981039346656037): any fixed basis spreads as well, and changing
     * it would move every agent's first cursor. */
    uint64_t h = 1469598103934665603ULL;
    const char *parts[] = {host_id, "/", pool};
    for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++)
        for (const unsigned char *c = (const unsigned char *)parts[k]; *c; c++)
            h = (h ^ *c) * 1099511628211ULL;
    return nports ? (size_t)(h % nports) : 0;
}
