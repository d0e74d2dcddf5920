/* procnet.c - parse /proc/net/{tcp,tcp6,udp,udp6} into pc_sock records. */
#include "procnet.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void pc_sockvec_init(pc_sockvec *sv)
{
    sv->v = NULL;
    sv->n = sv->cap = 0;
}

void pc_sockvec_free(pc_sockvec *sv)
{
    free(sv->v);
    pc_sockvec_init(sv);
}

int pc_sockvec_push(pc_sockvec *sv, const pc_sock *s)
{
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 8;
        pc_sock *v = realloc(sv->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        sv->v = v;
        sv->cap = cap;
    }
    sv->v[sv->n++] = *s;
    return 0;
}

const char *pc_sock_state_name(pc_proto proto, pc_sock_state st)
{
    static const char *const names[] = {
        "UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",    "TIME_WAIT",
        "CLOSE",   "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV",
    };
    if (proto == PC_PROTO_UDP && st == PC_SS_CLOSE)
        return "UNCONN";
    if ((unsigned)st < sizeof(names) / sizeof(names[0]))
        return names[st];
    return "UNKNOWN";
}

/*
 * Decode "HEX:PORT" as the kernel prints it. The address is the raw memory
 * of the address words printed with %08X, so each 32-bit word is in host
 * byte order: copying the parsed word back into memory restores the
 * network-order bytes on the host that wrote the file.
 */
static int pc_decode_endpoint(const char *tok, bool v6, char *addr, size_t addrlen, uint16_t *port,
                              bool *any)
{
    const char *colon = strchr(tok, ':');
    size_t hexlen = v6 ? 32 : 8;
    if (!colon || (size_t)(colon - tok) != hexlen || strchr(colon + 1, ':'))
        return -EINVAL;
    unsigned char bytes[16];
    for (size_t w = 0; w < hexlen / 8; w++) {
        char word[9];
        memcpy(word, tok + 8 * w, 8);
        word[8] = '\0';
        for (int i = 0; i < 8; i++)
            if (!isxdigit((unsigned char)word[i]))
                return -EINVAL;
        uint32_t val = (uint32_t)strtoul(word, NULL, 16);
        memcpy(bytes + 4 * w, &val, 4);
    }
    const char *p = colon + 1;
    size_t plen = strlen(p);
    if (plen == 0 || plen > 4)
        return -EINVAL;
    for (size_t i = 0; i < plen; i++)
        if (!isxdigit((unsigned char)p[i]))
            return -EINVAL;
    *port = (uint16_t)strtoul(p, NULL, 16);
    return pc_sock_addr_text(v6, bytes, addr, addrlen, any);
}

int pc_sock_addr_text(bool v6, const void *bytes, char *out, size_t len, bool *any)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char zero[16];
    const unsigned char *b = bytes;
    const void *src = b;
    int af = AF_INET;
    if (v6) {
        if (memcmp(b, mapped, 12) == 0)
            src = b + 12; /* ::ffff:a.b.c.d is shown as a.b.c.d */
        else
            af = AF_INET6;
    }
    if (!inet_ntop(af, src, out, (socklen_t)len))
        return -EINVAL;
    *any = memcmp(b, zero, v6 ? 16 : 4) == 0;
    return 0;
}

/* Parse one data line. Returns 1 when a socket was produced, 0 for a skipped
 * (header/blank) line, -EINVAL for a malformed one. */
static int pc_parse_line(char *line, pc_procnet_kind kind, pc_sock *s)
{
    char *tok[12];
    int nt = 0;
    char *save = NULL;
    if (strstr(line, "local_address"))
        return 0;
    for (char *t = strtok_r(line, " \t\r\n", &save); t && nt < 12;
         t = strtok_r(NULL, " \t\r\n", &save))
        tok[nt++] = t;
    if (nt == 0)
        return 0;
    if (nt < 10)
        return -EINVAL;
    size_t sl = strlen(tok[0]);
    if (sl < 2 || tok[0][sl - 1] != ':')
        return -EINVAL;

    bool v6 = kind == PC_PROCNET_TCP6 || kind == PC_PROCNET_UDP6;
    memset(s, 0, sizeof(*s));
    s->proto = (kind == PC_PROCNET_TCP || kind == PC_PROCNET_TCP6) ? PC_PROTO_TCP : PC_PROTO_UDP;
    s->family = v6 ? AF_INET6 : AF_INET;
    bool rany;
    if (pc_decode_endpoint(tok[1], v6, s->local, sizeof(s->local), &s->local_port, &s->local_any) <
            0 ||
        pc_decode_endpoint(tok[2], v6, s->remote, sizeof(s->remote), &s->remote_port, &rany) < 0)
        return -EINVAL;

    char *end;
    errno = 0;
    unsigned long st = strtoul(tok[3], &end, 16);
    if (*end || st == 0 || st > PC_SS_NEW_SYN_RECV)
        return -EINVAL;
    s->state = (pc_sock_state)st;
    unsigned long uid = strtoul(tok[7], &end, 10);
    if (*end || errno || uid > (uid_t)-1)
        return -EINVAL;
    s->uid = (uid_t)uid;
    unsigned long ino = strtoul(tok[9], &end, 10);
    if (*end || errno)
        return -EINVAL;
    s->inode = ino;
    return 1;
}

int pc_procnet_parse(FILE *f, pc_procnet_kind kind, uint16_t port, pc_sockvec *out, pc_error *err)
{
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    long lineno = 0, badline = 0;
    while (getline(&line, &cap, f) >= 0) {
        pc_sock s;
        lineno++;
        int r = pc_parse_line(line, kind, &s);
        if (r < 0) {
            if (!badline)
                badline = lineno;
            continue;
        }
        if (r == 0 || (port && s.local_port != port))
            continue;
        if (pc_sockvec_push(out, &s) < 0) {
            rc = pc_error_set(err, -ENOMEM, "out of memory reading /proc/net");
            break;
        }
    }
    free(line);
    if (rc == 0 && badline)
        rc = pc_error_set(err, -EBADMSG, "line %ld: malformed /proc/net socket line", badline);
    return rc;
}

int pc_procnet_parse_buf(const char *buf, size_t len, pc_procnet_kind kind, uint16_t port,
                         pc_sockvec *out, pc_error *err)
{
    if (len == 0)
        return 0;
    FILE *f = fmemopen((void *)buf, len, "r");
    if (!f)
        return pc_error_set(err, -errno, "fmemopen: %s", strerror(errno));
    int rc = pc_procnet_parse(f, kind, port, out, err);
    fclose(f);
    return rc;
}

int pc_procnet_scan(const char *procroot, pc_proto proto, uint16_t port, pc_sockvec *out,
                    pc_error *err)
{
    static const struct {
        const char *name;
        pc_procnet_kind kind;
        pc_proto proto;
    } files[] = {
        {"tcp", PC_PROCNET_TCP, PC_PROTO_TCP},
        {"tcp6", PC_PROCNET_TCP6, PC_PROTO_TCP},
        {"udp", PC_PROCNET_UDP, PC_PROTO_UDP},
        {"udp6", PC_PROCNET_UDP6, PC_PROTO_UDP},
    };
    if (!procroot)
        procroot = "/proc";
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (!(proto & files[i].proto))
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/net/%s", procroot, files[i].name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return pc_error_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
        }
        FILE *f = fdopen(fd, "r");
        if (!f) {
            int e = errno;
            close(fd);
            return pc_error_set(err, -e, "cannot read %s: %s", path, strerror(e));
        }
        int rc = pc_procnet_parse(f, files[i].kind, port, out, NULL);
        fclose(f);
        if (rc == -ENOMEM)
            return pc_error_set(err, rc, "out of memory reading %s", path);
    }
    return 0;
}

const char *pc_sock_endpoint(const char *addr, uint16_t port, bool remote, char *buf, size_t len)
{
    bool v6 = strchr(addr, ':') != NULL;
    if (remote && port == 0)
        snprintf(buf, len, v6 ? "[%s]:*" : "%s:*", addr);
    else
        snprintf(buf, len, v6 ? "[%s]:%u" : "%s:%u", addr, (unsigned)port);
    return buf;
}

const char *pc_sock_format(const pc_sock *s, char *buf, size_t len)
{
    char l[PC_ADDRSTRLEN + 10], r[PC_ADDRSTRLEN + 10], owner[64];
    pc_sock_endpoint(s->local, s->local_port, false, l, sizeof(l));
    pc_sock_endpoint(s->remote, s->remote_port, true, r, sizeof(r));
    if (s->pid > 0)
        snprintf(owner, sizeof(owner), "pid=%d (%s)", (int)s->pid, s->comm);
    else if (s->owner_unreadable)
        snprintf(owner, sizeof(owner), "owner unknown (permission)");
    else if (s->inode == 0)
        snprintf(owner, sizeof(owner), "-");
    else
        snprintf(owner, sizeof(owner), "owner unknown");
    snprintf(buf, len, "%-4s %-12s %-28s %-28s %s", pc_proto_name(s->proto),
             pc_sock_state_name(s->proto, s->state), l, r, owner);
    return buf;
}
