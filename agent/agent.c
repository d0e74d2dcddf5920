/* agent.c - clocks, the claims holding sockets, the way from a watcher back to its agent, and
 * making and freeing events. */
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

struct event *pc_event_start(struct event_base *base, evutil_socket_t fd, short what,
                             event_callback_fn cb, void *arg)
{
    struct event *ev = event_new(base, fd, what, cb, arg);
    if (ev && event_add(ev, NULL) < 0) {
        event_free(ev);
        ev = NULL;
    }
    return ev;
}

void pc_event_clear(struct event **ev)
{
    if (*ev)
        event_free(*ev);
    *ev = NULL;
}
