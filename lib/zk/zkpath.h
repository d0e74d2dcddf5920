/* zkpath.h - znode paths of the portco layout, and claim / election node names. */
#ifndef PC_ZKPATH_H
#define PC_ZKPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Layout (docs/architecture.md), <root> is configurable, default "/portco":
 *
 *   <root>/config/pools/<pool>                  pool JSON
 *   <root>/config/static/<pool>/<port>          {"service": S}
 *   <root>/pools/<pool>/ports/<port>/<claim>    claims, cluster scope
 *   <root>/pools/<pool>/hosts/<host>/ports/<port>/<claim>   claims, host scope
 *   <root>/hosts/<host>                         agent presence
 *   <root>/services/<service>/<id>              service registration
 *   <root>/coordinator/election/n_<seq>         election candidates
 *   <root>/coordinator/leader                   current leader
 *
 * Every builder writes a NUL-terminated path into buf[len] and returns 0,
 * -EINVAL for bad input, or -ENAMETOOLONG when buf is too small (buf then
 * holds an empty string). A root is "/" or an absolute path without a
 * trailing slash, empty components, "." or ".."; a name (pool, host,
 * service, id) is a non-empty string without '/', control characters,
 * "." or "..", at most PC_ZKP_NAME_MAX bytes. Ports are 1..65535.
 */

#define PC_ZKP_DEFAULT_ROOT "/portco"
#define PC_ZKP_NAME_MAX     255
/* Enough for every path built here from a root and names of sane length. */
#define PC_ZKP_PATH_MAX 1024

/* 0 when root is a valid root (see above), else -EINVAL. */
int pc_zkp_check_root(const char *root);
/* 0 when name is a valid single path component (see above), else -EINVAL. */
int pc_zkp_check_name(const char *name);

int pc_zkp_config_pools_dir(char *buf, size_t len, const char *root);
int pc_zkp_pool_config(char *buf, size_t len, const char *root, const char *pool);
int pc_zkp_static_root(char *buf, size_t len, const char *root);
int pc_zkp_static_dir(char *buf, size_t len, const char *root, const char *pool);
int pc_zkp_static_port(char *buf, size_t len, const char *root, const char *pool, int port);

/* <root>/pools and <root>/pools/<pool>. */
int pc_zkp_pools_dir(char *buf, size_t len, const char *root);
int pc_zkp_pool_dir(char *buf, size_t len, const char *root, const char *pool);
/* <root>/pools/<pool>/hosts: parent of the host-scope claim trees. */
int pc_zkp_pool_hosts_dir(char *buf, size_t len, const char *root, const char *pool);
/*
 * Directory of a pool's port nodes: host NULL -> cluster scope
 * <root>/pools/<pool>/ports; host given -> <root>/pools/<pool>/hosts/<host>/ports.
 */
int pc_zkp_ports_dir(char *buf, size_t len, const char *root, const char *pool, const char *host);
/* Claim directory of one port: <ports dir>/<port>. */
int pc_zkp_port_dir(char *buf, size_t len, const char *root, const char *pool, const char *host,
                    int port);

int pc_zkp_hosts_dir(char *buf, size_t len, const char *root);
int pc_zkp_host(char *buf, size_t len, const char *root, const char *host);
int pc_zkp_service(char *buf, size_t len, const char *root, const char *service,
                   const char *id); /* id NULL -> the service's directory */

int pc_zkp_coordinator_dir(char *buf, size_t len, const char *root);
int pc_zkp_election_dir(char *buf, size_t len, const char *root);
/* <root>/coordinator/election/n_ : the path to create EPHEMERAL_SEQUENTIAL. */
int pc_zkp_election_prefix(char *buf, size_t len, const char *root);
int pc_zkp_leader(char *buf, size_t len, const char *root);

/* dir + "/" + child (dir "/" gives "/child"). child must be a valid name. */
int pc_zkp_join(char *buf, size_t len, const char *dir, const char *child);

/* ---- claim node names ---- */

#define PC_ZKP_UUID_LEN   36 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */
#define PC_ZKP_SEQ_DIGITS 10

/*
 * A fresh random (version 4) UUID in lowercase, from getrandom(2).
 * out must hold PC_ZKP_UUID_LEN + 1 bytes. Returns 0 or -errno.
 */
int pc_zkp_new_uuid(char *out, size_t len);

/*
 * The name to create a claim under (the server appends the sequence):
 * "_c_<uuid>-lock-" (Apache Curator's protected-lock prefix). uuid must be
 * 1..64 characters of [0-9a-zA-Z-]. Returns 0, -EINVAL, -ENAMETOOLONG.
 */
int pc_zkp_claim_prefix(char *buf, size_t len, const char *uuid);

/* <port dir>/_c_<uuid>-lock- in one go. */
int pc_zkp_claim_path(char *buf, size_t len, const char *port_dir, const char *uuid);

typedef struct pc_claim_name {
    char uuid[65]; /* the <uuid> of "_c_<uuid>-lock-"; "" for foreign names */
    int64_t seq;   /* the 10-digit sequence, the only ordering key */
    bool portco;   /* name has the "_c_<uuid>-lock-" form */
} pc_claim_name;

/*
 * Parse a child name of a port's claim directory. Accepted: any name that
 * ends in "lock-" followed by exactly 10 digits, where "lock-" is at the
 * start of the name or follows a '-' (Curator's "lock-" and
 * "_c_<id>-lock-", kazoo with extra_lock_patterns ["-lock-"]). Returns 0
 * with *out filled (out may be NULL), or -EINVAL for any other name: those
 * are not lock participants and must be ignored.
 */
int pc_zkp_claim_parse(const char *name, pc_claim_name *out);

/* True when the claim name carries this uuid ("_c_<uuid>-lock-NNNNNNNNNN"). */
bool pc_zkp_claim_is_ours(const char *name, const char *uuid);

/*
 * Parse an election candidate name "n_<10 digits>" into *seq.
 * Returns 0 or -EINVAL.
 */
int pc_zkp_election_parse(const char *name, int64_t *seq);

/*
 * Order a set of sequential children by sequence. `parse` is
 * pc_zkp_claim_seq or pc_zkp_election_seq; names it rejects are skipped.
 * pc_zkp_lowest: index of the lowest-sequence name, -1 when none is valid.
 * pc_zkp_predecessor: index of the valid name with the greatest sequence
 * below `seq`, -1 when there is none (`seq` is then the lowest).
 */
typedef int (*pc_zkp_seq_fn)(const char *name, int64_t *seq);
int pc_zkp_claim_seq(const char *name, int64_t *seq);
int pc_zkp_election_seq(const char *name, int64_t *seq);
int pc_zkp_lowest(char *const *names, int count, pc_zkp_seq_fn parse);
int pc_zkp_predecessor(char *const *names, int count, pc_zkp_seq_fn parse, int64_t seq);

#endif
