/* agent.c - clocks, the claims holding sockets, and the way from a watcher back to its agent. */
#include "agent.h"

#include <time.h>

int64_t pc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t pc_agent_holding(const pc_agent *a)
{
    size_t n = 0;
    const pc_hold *h;
    TAILQ_FOREACH(h, &a->holds, link)
    {
        if (h->holds.n > 0)
            n++;
    }
    return n;
}

int64_t pc_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pc_agent *pc_agent_of(zhandle_t *zh)
{
    return pc_zk_owner(zh);
}
