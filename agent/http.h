/* http.h - the agent's read-only HTTP(S) endpoints: /metrics, /v1/status, /v1/claims. */
#ifndef PC_AGENT_HTTP_H
#define PC_AGENT_HTTP_H

#include "agent.h"

/*
 * Start serving on a->opts.metrics_listen (nothing when it is empty), with
 * TLS when a->opts.tls_cert is set and client certificates checked against
 * a->opts.tls_client_ca when that is set. Sets a->http.
 * Returns 0, PORTCO_ECONFIG (bad address, TLS files unreadable, invalid or
 * not matching), -errno (cannot listen), -ENOMEM; err says what to fix.
 */
int pc_agent_http_start(pc_agent *a, pc_error *err);

/*
 * Stop serving: requests still waiting for ZooKeeper are answered 503 and
 * their listings forgotten; connections are closed. Safe when not started.
 */
void pc_agent_http_stop(pc_agent *a);

#endif
