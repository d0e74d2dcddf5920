/* verdict.h - turn bind tests, sockets and kernel settings into findings and a verdict. */
#ifndef PC_VERDICT_H
#define PC_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "probe.h"

/*
 * The verdict alone: from r->tests and r->socks already filled
 * and the kernel settings `k`, replace r's findings, usable,
 * reuseaddr_needed and summary. Pure: no system calls. Returns 0 or -ENOMEM.
 */
int pc_probe_decide(const pc_probe_opts *opts, uint16_t port, const pc_kports *k,
                    pc_probe_result *r);

/* True when a bind test failed only because the host lacks that address family
 * (no IPv6, or no such wildcard): such a test is skipped, not a failure. */
bool pc_bind_test_skipped(const pc_bind_test *t);

#endif
