/* agentctl.h - fault and chaos tests' helpers: run a portco-agent, talk to it without asserting. */
#ifndef PT_AGENTCTL_H
#define PT_AGENTCTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"
#include "message.h"
#include "portco.h"

/*
 * Nothing here asserts: every call returns a code, so the helpers are safe
 * in client threads of the chaos test (one pt_cli per thread).
 */

typedef struct pt_agent {
    pid_t pid;
    char host[64];
    char sock[600];
    char log[600];
    char zk[1024];
    char root[256];
    char state_file[600]; /* named in the agent file the agent is started with */
    char config[600];
    int session_ms;
} pt_agent;

/*
 * Start portco-agent for `host` talking to `zk` under `root`, its socket,
 * log, agent file and state file under dir/<host>/, and wait until its socket accepts.
 * The agent logs at debug level to its log file (appended across restarts).
 * Returns 0, -ETIMEDOUT or -errno.
 */
int pt_agent_run(pt_agent *ag, const char *dir, const char *host, const char *zk, const char *root,
                 int session_ms);

/* Start the same agent again (after a kill), same files. */
int pt_agent_restart(pt_agent *ag);

/* SIGKILL the agent (a crash): no cleanup. */
void pt_agent_crash(pt_agent *ag);

/* SIGTERM and reap (SIGKILL after 10 s). No-op when not running. */
void pt_agent_stop(pt_agent *ag);

/* 1 when the agent's log holds a sanitizer report (printed on stderr), else 0. */
int pt_agent_sanitizer_report(const pt_agent *ag);

/* Print the last tail_bytes of the agent's log on stderr (for failure reports). */
void pt_agent_dump_log(const pt_agent *ag, size_t tail_bytes);

/* A protocol connection. Events seen while reading answers are counted. */
typedef struct pt_cli {
    int fd;
    pc_linebuf in;
    int64_t next_id;
    int conflicts;  /* "conflict" events received */
    int reasserted; /* "reasserted" events received */
    char last_event[512];
    int conflict_ports[32]; /* ports named by the first conflict events */
    int nconflict_ports;
} pt_cli;

/* Connect to an agent socket. Returns 0 or -errno. */
int pt_cli_open(pt_cli *c, const char *sock);
void pt_cli_close(pt_cli *c);

/*
 * Send req (consumed; "v" and "id" added) and wait for its answer into *a
 * (free with pc_answer_free). Returns 0, -ETIMEDOUT, -EPIPE (connection
 * closed), PORTCO_EPROTO.
 */
int pt_cli_call(pt_cli *c, json_t *req, pc_answer *a, int timeout_ms);

/*
 * acquire with the given lifetime ("connection", "explicit"); port 0 for
 * any. Returns the port granted, or a negative code (the agent's error code,
 * or a transport error of pt_cli_call). out (may be NULL) gets the claim,
 * msg (may be NULL) the error message.
 */
int pt_cli_acquire(pt_cli *c, const char *pool, const char *service, int port, const char *lifetime,
                   portco_claim *out, char *msg, size_t mlen);

/* release; 0 or a negative code. */
int pt_cli_release(pt_cli *c, const char *pool, int port);

/* status: *out gets the answer object (owned). Returns 0 or a negative code. */
int pt_cli_status(pt_cli *c, json_t **out);

/* A counter of status ("conflicts", ...) or the integer field "claims"; -1 on error. */
long long pt_cli_counter(pt_cli *c, const char *name);

/* The "zookeeper" field of status into buf ("connected", ...). */
int pt_cli_zk_state(pt_cli *c, char *buf, size_t len);

/* Read events for up to timeout_ms (stops early once `until` events of any
 * kind have arrived in total). Returns the number of events counted so far. */
int pt_cli_events(pt_cli *c, int timeout_ms, int until);

#endif
