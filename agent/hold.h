/* hold.h - the local probe for a claim, its hold sockets, and the check for a listening claimant.
 */
#ifndef PC_HOLD_H
#define PC_HOLD_H

#include "agent.h"

void pc_holdset_init(pc_holdset *hs);

/* Close every socket of the set. */
void pc_holdset_close(pc_holdset *hs);

/*
 * Run the local probe (lib/probe) on `port` for pool `p`: its protocol(s),
 * its address, the agent's TIME_WAIT / ephemeral policies. When usable,
 * returns 0 with the hold sockets in *hs. When not, returns PORTCO_EUNUSABLE
 * with err->msg giving the probe's reason; `owners` asks the probe to name
 * the processes involved (costly: only for a port the client asked for).
 * Other failures: -errno.
 */
int pc_hold_probe(pc_agent *a, const pc_apool *p, uint16_t port, bool owners, pc_holdset *hs,
                  pc_error *err);

/*
 * Shape the set's primary socket as the client asked, right after the probe
 * and before the claim node is created: with `v6only` an IPv6 socket is
 * re-bound with IPV6_V6ONLY (no effect on IPv4); with `listen` a TCP socket
 * listens (backlog 0: SOMAXCONN; UDP sockets are left alone). A listening
 * socket shuts out every other bind, SO_REUSEADDR or not, while the claim is
 * being made; a bound one does not. Returns 0 or a negative code with err set.
 */
int pc_holdset_prepare(pc_holdset *hs, bool listen, bool v6only, int backlog, pc_error *err);

/*
 * Take the set's primary socket (shaped by pc_holdset_prepare()) for handing
 * over to the client. Returns the descriptor (owned by the caller) or a
 * negative code with err set.
 */
int pc_holdset_handover(pc_holdset *hs, pc_error *err);

/*
 * Arm or disarm the timer that reads /proc/net while some claim still holds
 * sockets: once the claimant is seen using the port (a TCP listener or a UDP
 * socket that is not the agent's own), the claim's hold sockets are closed.
 */
void pc_hold_poll_update(pc_agent *a);

#endif
