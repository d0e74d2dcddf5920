/* sockdiag.c - the host's bound sockets by state, asked of the kernel through NETLINK_SOCK_DIAG. */
#include "sockdiag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdalign.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long one dump may make us wait for the kernel's next part. */
#define PC_SOCKDIAG_WAIT_MS 1000

/* Read one dump's answer, appending its sockets. Returns 0 or -errno. */
static int pc_sockdiag_read(int nl, uint32_t seq, pc_proto proto, uint16_t port, pc_sockvec *out)
{
    alignas(struct nlmsghdr) char buf[32768];
    for (;;) {
        ssize_t n = recv(nl, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = nl, .events = POLLIN};
            int pr = poll(&p, 1, PC_SOCKDIAG_WAIT_MS);
            if (pr < 0 && errno != EINTR)
                return -errno;
            if (pr == 0)
                return -ETIMEDOUT;
            continue;
        }
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EPROTO;
        size_t left = (size_t)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left);
             h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_seq != seq)
                continue;
            if (h->nlmsg_type == NLMSG_DONE)
                return 0;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                return e->error ? e->error : -EPROTO;
            }
            if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
                h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
                continue;
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            uint16_t lport = ntohs(m->id.idiag_sport);
            if (port && lport != port)
                continue;
            pc_sock s;
            memset(&s, 0, sizeof(s));
            s.proto = proto;
            s.family = m->idiag_family;
            s.local_port = lport;
            s.remote_port = ntohs(m->id.idiag_dport);
            bool v6 = m->idiag_family == AF_INET6, remote_any;
            pc_sock_addr_text(v6, m->id.idiag_src, s.local, sizeof(s.local), &s.local_any);
            pc_sock_addr_text(v6, m->id.idiag_dst, s.remote, sizeof(s.remote), &remote_any);
            s.state = (pc_sock_state)m->idiag_state;
            s.uid = m->idiag_uid;
            s.inode = m->idiag_inode;
            if (pc_sockvec_push(out, &s) < 0)
                return -ENOMEM;
        }
    }
}

/* One dump: family x protocol, sockets in `states`. Returns 0 or -errno. */
static int pc_sockdiag_dump(int nl, uint32_t seq, int family, pc_proto proto, uint32_t states,
                            uint16_t port, pc_sockvec *out)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
    } msg;
    memset(&msg, 0, sizeof(msg));
    msg.nlh.nlmsg_len = sizeof(msg);
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.nlh.nlmsg_seq = seq;
    msg.req.sdiag_family = (uint8_t)family;
    msg.req.sdiag_protocol = proto == PC_PROTO_TCP ? IPPROTO_TCP : IPPROTO_UDP;
    msg.req.idiag_states = states;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t sent;
    do
        sent = sendto(nl, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel));
    while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return -errno;
    return pc_sockdiag_read(nl, seq, proto, port, out);
}

int pc_sockdiag_bound(pc_proto proto, uint16_t port, pc_sockvec *out, pc_error *err)
{
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        return pc_error_set(err, -errno, "netlink sock_diag socket: %s", strerror(errno));
    static const struct {
        pc_proto proto;
        int family;
        uint32_t states;
    } dumps[] = {
        {PC_PROTO_TCP, AF_INET, 1u << PC_SS_LISTEN},
        {PC_PROTO_TCP, AF_INET6, 1u << PC_SS_LISTEN},
        {PC_PROTO_UDP, AF_INET, 1u << PC_SS_CLOSE},
        {PC_PROTO_UDP, AF_INET6, 1u << PC_SS_CLOSE},
    };
    int rc = 0;
    uint32_t seq = 0;
    for (size_t i = 0; i < sizeof(dumps) / sizeof(dumps[0]) && rc == 0; i++) {
        if (!(proto & dumps[i].proto))
            continue;
        rc = pc_sockdiag_dump(nl, ++seq, dumps[i].family, dumps[i].proto, dumps[i].states, port,
                              out);
        /* A host without IPv6 has no such sockets to list. */
        if (dumps[i].family == AF_INET6 && (rc == -EAFNOSUPPORT || rc == -ENOENT))
            rc = 0;
    }
    close(nl);
    if (rc < 0)
        return pc_error_set(err, rc, "netlink sock_diag dump: %s", strerror(-rc));
    return 0;
}
