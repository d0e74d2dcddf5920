/* evloop.h - run a test's libevent loop until a condition holds. */
#ifndef PT_EVLOOP_H
#define PT_EVLOOP_H

#include <event2/event.h>
#include <stdbool.h>

/*
 * Dispatch `base` in slices of 20 ms until pred(arg) is true or timeout_ms
 * has passed. Returns pred(arg).
 */
bool pt_loop_until(struct event_base *base, bool (*pred)(void *arg), void *arg, int timeout_ms);

#endif
