/* kports.c - read the kernel's ephemeral range, reserved ports and privileged limit. */
#include "kports.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pc_kports_init(pc_kports *k)
{
    k->have_ephemeral = false;
    k->eph_lo = k->eph_hi = 0;
    pc_rangeset_init(&k->reserved);
    k->unpriv_start = 1024;
}

void pc_kports_free(pc_kports *k)
{
    pc_rangeset_free(&k->reserved);
}

/* Read a small /proc file into buf. Returns bytes read, -ENOENT, or -errno. */
static int pc_read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got < len - 1) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (int)got;
}

static int pc_parse_port_num(const char **p, unsigned long *out)
{
    char *end;
    while (**p == ' ' || **p == '\t')
        (*p)++;
    if (**p < '0' || **p > '9')
        return -EINVAL;
    errno = 0;
    *out = strtoul(*p, &end, 10);
    if (errno || *out > 65535)
        return -EINVAL;
    *p = end;
    return 0;
}

int pc_kports_parse_range(const char *text, uint16_t *lo, uint16_t *hi, pc_error *err)
{
    const char *p = text;
    unsigned long a, b;
    if (pc_parse_port_num(&p, &a) < 0 || pc_parse_port_num(&p, &b) < 0)
        return pc_error_set(err, -EINVAL, "port range '%s': expected two ports 1-65535", text);
    p += strspn(p, " \t\r\n");
    if (*p)
        return pc_error_set(err, -EINVAL, "port range '%s': trailing text", text);
    if (a == 0 || a > b)
        return pc_error_set(err, -EINVAL, "port range '%s': need 1 <= low <= high", text);
    *lo = (uint16_t)a;
    *hi = (uint16_t)b;
    return 0;
}

int pc_kports_read(const char *procroot, pc_kports *k, pc_error *err)
{
    char path[512], buf[8192];
    int n;
    if (!procroot)
        procroot = "/proc";

    snprintf(path, sizeof(path), "%s/sys/net/ipv4/ip_local_port_range", procroot);
    n = pc_read_small(path, buf, sizeof(buf));
    if (n >= 0) {
        int rc = pc_kports_parse_range(buf, &k->eph_lo, &k->eph_hi, err);
        if (rc < 0)
            return rc;
        k->have_ephemeral = true;
    } else if (n != -ENOENT) {
        return pc_error_set(err, n, "cannot read %s: %s", path, strerror(-n));
    }

    snprintf(path, sizeof(path), "%s/sys/net/ipv4/ip_local_reserved_ports", procroot);
    n = pc_read_small(path, buf, sizeof(buf));
    if (n >= 0) {
        buf[strcspn(buf, "\r\n")] = '\0';
        pc_rangeset_clear(&k->reserved);
        int rc = pc_rangeset_parse(&k->reserved, buf, err);
        if (rc < 0)
            return rc;
    } else if (n != -ENOENT) {
        return pc_error_set(err, n, "cannot read %s: %s", path, strerror(-n));
    }

    snprintf(path, sizeof(path), "%s/sys/net/ipv4/ip_unprivileged_port_start", procroot);
    n = pc_read_small(path, buf, sizeof(buf));
    if (n >= 0) {
        const char *p = buf;
        unsigned long v;
        if (pc_parse_port_num(&p, &v) < 0)
            return pc_error_set(err, -EINVAL, "%s: not a port number", path);
        k->unpriv_start = (uint16_t)v;
    } else if (n != -ENOENT) {
        return pc_error_set(err, n, "cannot read %s: %s", path, strerror(-n));
    }
    return 0;
}

bool pc_kports_ephemeral(const pc_kports *k, uint16_t port)
{
    return k->have_ephemeral && port >= k->eph_lo && port <= k->eph_hi &&
           !pc_rangeset_contains(&k->reserved, port);
}
