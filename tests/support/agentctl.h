/* agentctl.h - run portco-agent processes for tests, without asserting. */
#ifndef PT_AGENTCTL_H
#define PT_AGENTCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Nothing here asserts: every call returns a code, so these are safe in the
 * client threads of the chaos test. fixture.h has the asserting forms that
 * Criterion tests use (pt_start_agent(), pt_stop_agent()).
 */

/* One portco-agent process and the files it was started with. */
typedef struct pt_agent {
    pid_t pid; /* 0 when not running */
    char host[64];
    char sock[108];       /* sun_path: a longer path cannot be connected to */
    char log[600];        /* its stdout and stderr, appended across restarts */
    char state_file[600]; /* kept across restarts: a restart resumes its session */
    char zk[1024];
    char root[256];
    int session_ms;
} pt_agent;

/*
 * Start portco-agent for `host` talking to `zk` under `root` with a session
 * timeout of session_ms, its socket, log and state file under dir/<host>/
 * (made when missing), logging at debug level; wait until its socket
 * accepts. Returns 0, -ETIMEDOUT (the agent was stopped again), or -errno.
 */
int pt_agent_run(pt_agent *ag, const char *dir, const char *host, const char *zk, const char *root,
                 int session_ms);

/* Start the same agent again (after a kill), same files. */
int pt_agent_restart(pt_agent *ag);

/*
 * Wait until the agent's status says it is connected to ZooKeeper and, when
 * need_pools is set, has read the pools published so far ("ready").
 * Returns 0, -ETIMEDOUT, or the error of the last status call.
 */
int pt_agent_wait_ready(const pt_agent *ag, bool need_pools, int timeout_ms);

/* SIGKILL the agent (a crash): no cleanup. */
void pt_agent_crash(pt_agent *ag);

/*
 * SIGTERM the agent and reap it, with SIGKILL after 10 s. Returns its exit
 * status as pt_wait_pid() reports it (0 for a clean stop, which under ASan
 * also means no leak was reported; 128+signal), -ETIMEDOUT when it had to
 * be killed, or 0 when it was not running.
 */
int pt_agent_stop(pt_agent *ag);

/* 1 when the agent's log holds a sanitizer report (printed on stderr), else 0. */
int pt_agent_sanitizer_report(const pt_agent *ag);

/* Print the last tail_bytes of the agent's log on stderr (for failure reports). */
void pt_agent_dump_log(const pt_agent *ag, size_t tail_bytes);

#endif
