/* presence.h - the agent's EPHEMERAL presence node <root>/hosts/<host>. */
#ifndef PC_PRESENCE_H
#define PC_PRESENCE_H

#include "agent.h"

/*
 * Create <root>/hosts/<host> (EPHEMERAL, JSON: version, pid, addresses,
 * started) for the current session, creating <root>/hosts when missing. A
 * node left by an earlier session of this host (not yet expired) is
 * replaced. Call after every new session; failures are logged.
 */
void pc_presence_publish(pc_agent *a);

#endif
