/* evloop.c - run a test's libevent loop until a condition holds. */
#include "evloop.h"

#include "support.h"

bool pt_loop_until(struct event_base *base, bool (*pred)(void *arg), void *arg, int timeout_ms)
{
    long long end = pt_now_ms() + timeout_ms;
    while (!pred(arg) && pt_now_ms() < end) {
        struct timeval tv = {0, 20000};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
    return pred(arg);
}
