/* agent_config.h - the agent's configuration file: types, defaults, loading. */
#ifndef PC_AGENT_CONFIG_H
#define PC_AGENT_CONFIG_H

#include <stddef.h>

#include "diag.h"
#include "types.h"

#define PC_AGENT_DEFAULT_ZOOKEEPER          "127.0.0.1:2181"
#define PC_AGENT_DEFAULT_STATE_FILE         "/var/lib/portco/agent.state"
#define PC_AGENT_DEFAULT_SESSION_TIMEOUT_MS 10000
#define PC_AGENT_MIN_SESSION_TIMEOUT_MS     1000
#define PC_AGENT_MAX_SESSION_TIMEOUT_MS     600000

/* The agent's settings. Every string is owned (malloc'd) and never NULL once loaded. */
typedef struct pc_agent_config {
    char *zookeeper;        /* connect string "h:p[,h:p...][/chroot]" */
    char *host_id;          /* this host's id in ZooKeeper */
    char *socket;           /* path of the agent's Unix socket */
    char *root;             /* ZooKeeper root path */
    int session_timeout_ms; /* requested ZooKeeper session timeout */
    char **probe_addresses; /* extra addresses the probe checks (canonical literals) */
    size_t nprobe_addresses;
    pc_timewait_policy timewait;
    pc_ephemeral_policy ephemeral;
    char *state_file;     /* "" means no state file */
    char *metrics_listen; /* "" means no metrics endpoint; else "IP:PORT" */
    char *tls_cert;       /* "" means plain HTTP; else a PEM certificate file */
    char *tls_key;        /* "" or the PEM key of tls_cert */
    char *tls_client_ca;  /* "" means no client certificate asked; else a PEM CA file */
} pc_agent_config;

/*
 * Fill *c with the defaults (host_id is the machine's hostname). *c must be
 * empty or zeroed. Returns 0 or -ENOMEM (*c is then left empty).
 */
int pc_agent_config_defaults(pc_agent_config *c);

/*
 * Load an agent file over the defaults. On success returns 0 and *c owns the
 * result. On failure *c is left empty and the return is PORTCO_ECONFIG (every
 * problem is appended to d), -errno when the file cannot be read (d gets an
 * io-error entry) or -ENOMEM. d may be NULL.
 */
int pc_agent_config_load_file(const char *path, pc_agent_config *c, pc_diags *d);

/* Same, from memory; `name` is used in diagnostics. */
int pc_agent_config_load_string(const char *name, const char *text, size_t len, pc_agent_config *c,
                                pc_diags *d);

/* Free everything and leave *c zeroed. Accepts NULL. */
void pc_agent_config_free(pc_agent_config *c);

#endif
