/* server.h - the agent's listening Unix socket. */
#ifndef PC_SERVER_H
#define PC_SERVER_H

#include "agent.h"

/* Longest socket path handled (sun_path is shorter; see pc_server_start). */
#define PATH_MAX_SOCK 4096

/*
 * Create the directory of a->opts.socket when missing, replace a stale
 * socket file (one nothing answers on), bind the socket with mode 0666 and
 * start accepting clients on the loop. Returns 0 or -errno (err says why:
 * path too long, another agent serving it, not a socket, permissions).
 */
int pc_server_start(pc_agent *a, pc_error *err);

/* Stop accepting and remove the socket file. Idempotent. */
void pc_server_stop(pc_agent *a);

#endif
