/* types.h - small enums shared by config, probe, agent and CLI. */
#ifndef PC_TYPES_H
#define PC_TYPES_H

/* Transport protocols a pool or a probe covers; BOTH is TCP and UDP. */
typedef enum pc_proto { PC_PROTO_TCP = 1, PC_PROTO_UDP = 2, PC_PROTO_BOTH = 3 } pc_proto;

/* Uniqueness scope of a pool: across the cluster, or per host. */
typedef enum pc_scope { PC_SCOPE_CLUSTER = 0, PC_SCOPE_HOST = 1 } pc_scope;

/* What to do with a port that has only TIME_WAIT sockets on it. */
typedef enum pc_timewait_policy {
    PC_TIMEWAIT_REUSEADDR = 0, /* usable: servers that set SO_REUSEADDR can bind */
    PC_TIMEWAIT_AVOID = 1      /* not usable until the TIME_WAIT sockets are gone */
} pc_timewait_policy;

/* What to do with a port inside the kernel's ephemeral range and not reserved. */
typedef enum pc_ephemeral_policy {
    PC_EPHEMERAL_WARN = 0, /* usable, reported */
    PC_EPHEMERAL_AVOID = 1 /* not usable */
} pc_ephemeral_policy;

const char *pc_proto_name(pc_proto p);            /* "tcp", "udp", "both" */
int pc_proto_parse(const char *s, pc_proto *out); /* 0 or -EINVAL */
const char *pc_scope_name(pc_scope s);            /* "cluster", "host" */
int pc_scope_parse(const char *s, pc_scope *out);

#endif
