/* candidate.h - choosing the port an acquire tries next, and probing it on this host. */
#ifndef PC_CANDIDATE_H
#define PC_CANDIDATE_H

#include "acq.h"

/*
 * Run the step q was queued for (q->step, see probeq.h): take the next port
 * of the scan, or the port the request named, probe it and go on to create
 * the claim node (claims.c). q may be freed by this call.
 */
void pc_candidate_run(pc_acq *q);

/*
 * Probe q->port on this host, keeping its hold sockets in q->holds; with
 * `owners`, a refusal names the processes on the port. Returns 0, or the
 * probe's refusal (PORTCO_EUNUSABLE and others) with err set.
 */
int pc_candidate_probe(pc_acq *q, bool owners, pc_error *err);

#endif
