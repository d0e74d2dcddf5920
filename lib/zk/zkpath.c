/* zkpath.c - znode paths of the portco layout, and claim / election node names. */
#include "zkpath.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

int pc_zkp_check_root(const char *root)
{
    if (!root || root[0] != '/')
        return -EINVAL;
    if (root[1] == '\0')
        return 0;
    const char *p = root;
    while (*p == '/') {
        const char *start = ++p;
        while (*p && *p != '/') {
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return -EINVAL;
            p++;
        }
        size_t n = (size_t)(p - start);
        if (n == 0 || n > PC_ZKP_NAME_MAX || (n == 1 && start[0] == '.') ||
            (n == 2 && start[0] == '.' && start[1] == '.'))
            return -EINVAL;
    }
    return 0;
}

int pc_zkp_check_name(const char *name)
{
    if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return -EINVAL;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++)
        if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return -EINVAL;
    return n > PC_ZKP_NAME_MAX ? -EINVAL : 0;
}

/* snprintf into buf; -ENAMETOOLONG (and "") when it does not fit. */
__attribute__((format(printf, 3, 4))) static int pc_zkp_fmt(char *buf, size_t len, const char *fmt,
                                                            ...)
{
    if (!buf || len == 0)
        return -EINVAL;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return -ENAMETOOLONG;
    }
    return 0;
}

/* The root as a prefix: "" for "/", else the root itself. */
static const char *pc_zkp_base(const char *root)
{
    return root[1] == '\0' ? "" : root;
}

static int pc_zkp_bad(char *buf, size_t len)
{
    if (buf && len > 0)
        buf[0] = '\0';
    return -EINVAL;
}

static int pc_zkp_root_sub(char *buf, size_t len, const char *root, const char *sub)
{
    if (pc_zkp_check_root(root) < 0)
        return pc_zkp_bad(buf, len);
    return pc_zkp_fmt(buf, len, "%s%s", pc_zkp_base(root), sub);
}

static int pc_zkp_root_sub_name(char *buf, size_t len, const char *root, const char *sub,
                                const char *name, const char *tail)
{
    if (pc_zkp_check_root(root) < 0 || pc_zkp_check_name(name) < 0)
        return pc_zkp_bad(buf, len);
    return pc_zkp_fmt(buf, len, "%s%s/%s%s", pc_zkp_base(root), sub, name, tail);
}

static bool pc_zkp_port_ok(int port)
{
    return port >= 1 && port <= 65535;
}

int pc_zkp_config_pools_dir(char *buf, size_t len, const char *root)
{
    return pc_zkp_root_sub(buf, len, root, "/config/pools");
}

int pc_zkp_pool_config(char *buf, size_t len, const char *root, const char *pool)
{
    return pc_zkp_root_sub_name(buf, len, root, "/config/pools", pool, "");
}

int pc_zkp_static_root(char *buf, size_t len, const char *root)
{
    return pc_zkp_root_sub(buf, len, root, "/config/static");
}

int pc_zkp_static_dir(char *buf, size_t len, const char *root, const char *pool)
{
    return pc_zkp_root_sub_name(buf, len, root, "/config/static", pool, "");
}

int pc_zkp_static_port(char *buf, size_t len, const char *root, const char *pool, int port)
{
    if (!pc_zkp_port_ok(port))
        return pc_zkp_bad(buf, len);
    char tail[16];
    snprintf(tail, sizeof(tail), "/%d", port);
    return pc_zkp_root_sub_name(buf, len, root, "/config/static", pool, tail);
}

int pc_zkp_pools_dir(char *buf, size_t len, const char *root)
{
    return pc_zkp_root_sub(buf, len, root, "/pools");
}

int pc_zkp_pool_dir(char *buf, size_t len, const char *root, const char *pool)
{
    return pc_zkp_root_sub_name(buf, len, root, "/pools", pool, "");
}

int pc_zkp_pool_hosts_dir(char *buf, size_t len, const char *root, const char *pool)
{
    return pc_zkp_root_sub_name(buf, len, root, "/pools", pool, "/hosts");
}

int pc_zkp_ports_dir(char *buf, size_t len, const char *root, const char *pool, const char *host)
{
    if (!host)
        return pc_zkp_root_sub_name(buf, len, root, "/pools", pool, "/ports");
    if (pc_zkp_check_root(root) < 0 || pc_zkp_check_name(pool) < 0 || pc_zkp_check_name(host) < 0)
        return pc_zkp_bad(buf, len);
    return pc_zkp_fmt(buf, len, "%s/pools/%s/hosts/%s/ports", pc_zkp_base(root), pool, host);
}

int pc_zkp_port_dir(char *buf, size_t len, const char *root, const char *pool, const char *host,
                    int port)
{
    if (!pc_zkp_port_ok(port))
        return pc_zkp_bad(buf, len);
    int rc = pc_zkp_ports_dir(buf, len, root, pool, host);
    if (rc < 0)
        return rc;
    size_t n = strlen(buf);
    rc = pc_zkp_fmt(buf + n, len - n, "/%d", port);
    if (rc < 0)
        buf[0] = '\0';
    return rc;
}

int pc_zkp_hosts_dir(char *buf, size_t len, const char *root)
{
    return pc_zkp_root_sub(buf, len, root, "/hosts");
}

int pc_zkp_host(char *buf, size_t len, const char *root, const char *host)
{
    return pc_zkp_root_sub_name(buf, len, root, "/hosts", host, "");
}

int pc_zkp_service(char *buf, size_t len, const char *root, const char *service, const char *id)
{
    if (!id)
        return pc_zkp_root_sub_name(buf, len, root, "/services", service, "");
    if (pc_zkp_check_root(root) < 0 || pc_zkp_check_name(service) < 0 || pc_zkp_check_name(id) < 0)
        return pc_zkp_bad(buf, len);
    return pc_zkp_fmt(buf, len, "%s/services/%s/%s", pc_zkp_base(root), service, id);
}

int pc_zkp_coordinator_dir(char *buf, size_t len, const char *root)
{
    return pc_zkp_root_sub(buf, len, root, "/coordinator");
}

int pc_zkp_election_dir(char *buf, size_t len, const char *root)
{
    return pc_zkp_root_sub(buf, len, root, "/coordinator/election");
}

int pc_zkp_election_prefix(char *buf, size_t len, const char *root)
{
    return pc_zkp_root_sub(buf, len, root, "/coordinator/election/n_");
}

int pc_zkp_leader(char *buf, size_t len, const char *root)
{
    return pc_zkp_root_sub(buf, len, root, "/coordinator/leader");
}

int pc_zkp_join(char *buf, size_t len, const char *dir, const char *child)
{
    if (pc_zkp_check_root(dir) < 0 || pc_zkp_check_name(child) < 0)
        return pc_zkp_bad(buf, len);
    return pc_zkp_fmt(buf, len, "%s/%s", pc_zkp_base(dir), child);
}

/* ---- claim names ---- */

int pc_zkp_new_uuid(char *out, size_t len)
{
    if (!out || len < PC_ZKP_UUID_LEN + 1)
        return -EINVAL;
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

static bool pc_zkp_uuid_ok(const char *uuid, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)uuid[i]) && uuid[i] != '-')
            return false;
    return true;
}

int pc_zkp_claim_prefix(char *buf, size_t len, const char *uuid)
{
    if (!uuid || !pc_zkp_uuid_ok(uuid, strlen(uuid)))
        return pc_zkp_bad(buf, len);
    return pc_zkp_fmt(buf, len, "_c_%s-lock-", uuid);
}

int pc_zkp_claim_path(char *buf, size_t len, const char *port_dir, const char *uuid)
{
    char name[96];
    int rc = pc_zkp_claim_prefix(name, sizeof(name), uuid);
    if (rc < 0)
        return pc_zkp_bad(buf, len);
    return pc_zkp_join(buf, len, port_dir, name);
}

/* Parse exactly PC_ZKP_SEQ_DIGITS digits at s (which must end there). */
static int pc_zkp_digits(const char *s, int64_t *seq)
{
    int64_t v = 0;
    int i = 0;
    for (; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= PC_ZKP_SEQ_DIGITS)
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (i != PC_ZKP_SEQ_DIGITS)
        return -EINVAL;
    if (seq)
        *seq = v;
    return 0;
}

int pc_zkp_claim_parse(const char *name, pc_claim_name *out)
{
    static const char lock[] = "lock-";
    const size_t ll = sizeof(lock) - 1;
    if (!name)
        return -EINVAL;
    size_t n = strlen(name);
    if (n < ll + PC_ZKP_SEQ_DIGITS)
        return -EINVAL;
    size_t at = n - PC_ZKP_SEQ_DIGITS - ll; /* where "lock-" must be */
    if (memcmp(name + at, lock, ll) != 0 || (at > 0 && name[at - 1] != '-'))
        return -EINVAL;
    int64_t seq;
    if (pc_zkp_digits(name + n - PC_ZKP_SEQ_DIGITS, &seq) < 0)
        return -EINVAL;
    if (out) {
        memset(out, 0, sizeof(*out));
        out->seq = seq;
        /* "_c_" + uuid + "-" + "lock-": the uuid spans [3, at - 1). */
        if (at > 4 && strncmp(name, "_c_", 3) == 0 && pc_zkp_uuid_ok(name + 3, at - 4)) {
            memcpy(out->uuid, name + 3, at - 4);
            out->uuid[at - 4] = '\0';
            out->portco = true;
        }
    }
    return 0;
}

bool pc_zkp_claim_is_ours(const char *name, const char *uuid)
{
    pc_claim_name c;
    return uuid && pc_zkp_claim_parse(name, &c) == 0 && c.portco && strcmp(c.uuid, uuid) == 0;
}

int pc_zkp_election_parse(const char *name, int64_t *seq)
{
    if (!name || strncmp(name, "n_", 2) != 0)
        return -EINVAL;
    return pc_zkp_digits(name + 2, seq);
}

int pc_zkp_claim_seq(const char *name, int64_t *seq)
{
    pc_claim_name c;
    int rc = pc_zkp_claim_parse(name, &c);
    if (rc == 0 && seq)
        *seq = c.seq;
    return rc;
}

int pc_zkp_election_seq(const char *name, int64_t *seq)
{
    return pc_zkp_election_parse(name, seq);
}

int pc_zkp_lowest(char *const *names, int count, pc_zkp_seq_fn parse)
{
    int best = -1;
    int64_t best_seq = 0;
    for (int i = 0; i < count; i++) {
        int64_t s;
        if (parse(names[i], &s) < 0)
            continue;
        if (best < 0 || s < best_seq) {
            best = i;
            best_seq = s;
        }
    }
    return best;
}

int pc_zkp_predecessor(char *const *names, int count, pc_zkp_seq_fn parse, int64_t seq)
{
    int best = -1;
    int64_t best_seq = 0;
    for (int i = 0; i < count; i++) {
        int64_t s;
        if (parse(names[i], &s) < 0 || s >= seq)
            continue;
        if (best < 0 || s > best_seq) {
            best = i;
            best_seq = s;
        }
    }
    return best;
}
