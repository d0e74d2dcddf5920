/* state.h - the agent's state file: its ZooKeeper session and its claims, kept across restarts. */
#ifndef PC_STATE_H
#define PC_STATE_H

#include "agent.h"

/*
 * The file (opts.state_file; "" turns it off) is JSON:
 *   {"v":1,"host":H,"root":R,"session":"0x…","passwd":"<hex>","saved_ms":T,
 *    "claims":[{"pool","port","path","uuid","czxid","since_ms","service",
 *               "instance","pid","uid","lifetime","hold_pid"},…]}
 * It is rewritten (temp file, fsync, rename, fsync of the directory) on the
 * loop after every change of the session or of the held claims; changes
 * made within one loop iteration share one write.
 *
 * On start, a file written by this host id under this root gives the
 * session to re-attach to and the claims to take back. Re-attached (the
 * server still had the session): each claim whose claimant still lives
 * (explicit claims; pid claims whose process runs) is held again with its
 * node unchanged; the others, and any claim node of the session that the
 * file does not list (a create in flight at the crash), are deleted.
 * Not re-attached (the session expired): the living claimants' claims are
 * re-asserted through the claim protocol, as after an expiry.
 */

/* Read the file. Returns 0 (nothing to restore, or *resume filled and
 * true returned through *have). A malformed file is logged and ignored. */
int pc_state_load(pc_agent *a, clientid_t *resume, bool *have);

/* The session is connected and the pools are loaded: take back the claims
 * of the file (once). */
void pc_state_restore(pc_agent *a);

/* Schedule a write of the file. */
void pc_state_dirty(pc_agent *a);

/* Write now (a claim that outlives its connection, and at shutdown). */
void pc_state_flush(pc_agent *a);

/* Free what pc_state_load kept. */
void pc_state_free(pc_agent *a);

#endif
