/* names.c - checks of pool, service and host names, ZooKeeper roots and IP literals. */
#include "names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cluster_file.h"

static bool pc_node_name_valid(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool pc_pool_name_valid(const char *s)
{
    return pc_node_name_valid(s, PC_POOL_NAME_MAX);
}

bool pc_host_id_valid(const char *s)
{
    return pc_node_name_valid(s, PC_HOST_ID_MAX);
}

bool pc_service_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PC_SERVICE_NAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '/')
            return false;
    }
    return true;
}

bool pc_root_valid(const char *s, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    size_t n = strlen(s);
    if (n == 0 || s[0] != '/') {
        *why = "it must be an absolute path starting with '/'";
        return false;
    }
    if (n == 1) {
        *why = "'/' itself cannot be used; name a node such as /portco";
        return false;
    }
    if (n > PC_ROOT_MAX) {
        *why = "it is longer than 200 characters";
        return false;
    }
    if (s[n - 1] == '/') {
        *why = "remove the trailing '/'";
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f) {
            *why = "it may only contain printable ASCII characters without blanks";
            return false;
        }
    }
    const char *p = s;
    while (*p == '/') {
        const char *q = strchr(p + 1, '/');
        size_t len = q ? (size_t)(q - p - 1) : strlen(p + 1);
        if (len == 0) {
            *why = "it contains an empty component ('//')";
            return false;
        }
        if ((len == 1 && p[1] == '.') || (len == 2 && p[1] == '.' && p[2] == '.')) {
            *why = "it contains a '.' or '..' component";
            return false;
        }
        if (!q)
            break;
        p = q;
    }
    if (strcmp(s, "/zookeeper") == 0 || strncmp(s, "/zookeeper/", 11) == 0) {
        *why = "/zookeeper is reserved by ZooKeeper itself";
        return false;
    }
    return true;
}

int pc_address_canon(const char *s, char *canon, size_t len)
{
    unsigned char buf[sizeof(struct in6_addr)];
    char tmp[INET6_ADDRSTRLEN];
    int af;
    if (inet_pton(AF_INET, s, buf) == 1)
        af = AF_INET;
    else if (inet_pton(AF_INET6, s, buf) == 1)
        af = AF_INET6;
    else
        return -EINVAL;
    if (!inet_ntop(af, buf, tmp, sizeof(tmp)))
        return -EINVAL;
    if (canon && len)
        snprintf(canon, len, "%s", tmp);
    return 0;
}

bool pc_address_is_wildcard(const char *s)
{
    char c[INET6_ADDRSTRLEN];
    if (pc_address_canon(s, c, sizeof(c)) < 0)
        return false;
    return strcmp(c, "0.0.0.0") == 0 || strcmp(c, "::") == 0;
}

int pc_edit_distance(const char *a, const char *b)
{
    /* Optimal string alignment: insertions, deletions, substitutions and adjacent swaps. */
    size_t na = strlen(a), nb = strlen(b);
    if (na > 64 || nb > 64)
        return 100;
    int d[65][65];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[na][nb];
}

bool pc_hostport_valid(const char *s, size_t len)
{
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] == ':')
            colon = s + i;
    if (!colon || colon == s || colon + 1 == s + len)
        return false;
    long port = 0;
    for (const char *p = colon + 1; p < s + len; p++) {
        if (*p < '0' || *p > '9' || port > 65535)
            return false;
        port = port * 10 + (*p - '0');
    }
    if (port < 1 || port > 65535)
        return false;
    for (const char *p = s; p < colon; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == ',' || *p == '/')
            return false;
    return true;
}

bool pc_connect_valid(const char *s, const char **why)
{
    const char *slash = strchr(s, '/');
    const char *end = slash ? slash : s + strlen(s);
    if (slash && !pc_root_valid(slash, NULL)) {
        *why = "the chroot suffix must be an absolute path without a trailing '/'";
        return false;
    }
    if (end == s) {
        *why = "no server given";
        return false;
    }
    const char *p = s;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        if (!pc_hostport_valid(p, (size_t)(e - p))) {
            *why = "each server must be HOST:PORT with a port 1-65535";
            return false;
        }
        if (!comma)
            return true;
        p = comma + 1;
    }
}
