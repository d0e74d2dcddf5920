/* grant.h - turning an operation that owns its port into a held claim, and answering it. */
#ifndef PC_GRANT_H
#define PC_GRANT_H

#include "acq.h"

/*
 * q owns its port (its claim node is the lowest) and has passed the probe:
 * make the held claim (pc_hold, in a->holds), arm its pid watch, hand over
 * the bound socket when asked, write the state file and answer. When the
 * client is gone, or any of this fails, the node is withdrawn instead and
 * the client (if any) gets the error. q is freed either way.
 */
void pc_acq_grant(pc_acq *q);

#endif
