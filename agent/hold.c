/* hold.c - probe a candidate port, keep its hold sockets, notice when the claimant listens. */
#include "hold.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claims.h"
#include "log.h"
#include "probe.h"
#include "sockdiag.h"

/* How often /proc/net is read while claims still hold sockets. */
#define PC_HOLD_POLL_MS 500

void pc_holdset_init(pc_holdset *hs)
{
    memset(hs, 0, sizeof(*hs));
    for (int i = 0; i < PC_HOLD_MAX_FDS; i++)
        hs->fd[i] = -1;
    hs->primary = -1;
}

void pc_holdset_close(pc_holdset *hs)
{
    for (int i = 0; i < hs->n; i++)
        if (hs->fd[i] >= 0)
            close(hs->fd[i]);
    pc_holdset_init(hs);
}

int pc_hold_probe(pc_agent *a, const pc_apool *p, uint16_t port, bool owners, pc_holdset *hs,
                  pc_error *err)
{
    pc_probe_opts o;
    memset(&o, 0, sizeof(o));
    o.proto = p->def.proto;
    o.address = p->def.address;
    o.timewait = a->opts.timewait;
    o.ephemeral = a->opts.ephemeral;
    o.allow_privileged = p->def.allow_privileged;
    o.extra_addrs = (const char *const *)a->opts.probe_addresses;
    o.n_extra = a->opts.nprobe_addresses;
    o.hold = true;
    o.owners = owners ? PC_OWNERS_ON_FAILURE : PC_OWNERS_NEVER;
    o.scan_on_failure_only = true;
    int64_t now = pc_now_ms();
    if (a->kports_at_ms == 0 || now - a->kports_at_ms >= 1000) {
        pc_kports fresh;
        pc_kports_init(&fresh);
        int krc = pc_kports_read(NULL, &fresh, err);
        if (krc < 0) {
            pc_kports_free(&fresh);
            return krc;
        }
        pc_kports_free(&a->kports);
        a->kports = fresh;
        a->kports_at_ms = now;
    }
    o.kports = &a->kports;
    pc_probe_result r;
    pc_probe_result_init(&r);
    int rc = pc_probe(&o, port, &r, err);
    if (rc < 0) {
        pc_probe_result_free(&r);
        return rc;
    }
    if (!r.usable) {
        /* The summary, then every blocking finding: the reason says what to fix. */
        char why[480];
        size_t off = (size_t)snprintf(why, sizeof(why), "%s", r.summary);
        for (size_t i = 0; i < r.n_findings && off < sizeof(why); i++)
            if (r.findings[i].blocking)
                off += (size_t)snprintf(why + off, sizeof(why) - off, "; %s [%s]",
                                        r.findings[i].message, r.findings[i].code);
        rc = pc_error_set(err, PORTCO_EUNUSABLE, "%s", why);
        pc_probe_result_free(&r);
        return rc;
    }
    int tcp = -1, udp = -1;
    pc_probe_take_holds(&r, &tcp, &udp);
    pc_probe_result_free(&r);
    pc_holdset_close(hs);
    if (tcp >= 0)
        hs->fd[hs->n++] = tcp;
    if (udp >= 0)
        hs->fd[hs->n++] = udp;
    hs->primary = hs->n > 0 ? 0 : -1;
    return 0;
}

/*
 * IPV6_V6ONLY cannot change once a socket is bound: bind a replacement with
 * the option set on the same address while the old one still holds the port
 * (both carry SO_REUSEADDR and neither listens, so Linux allows it), then
 * close the old one. A socket that is not IPv6 is left alone.
 */
static int pc_hold_rebind_v6only(int *fdp, pc_error *err)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(*fdp, (struct sockaddr *)&ss, &sl) < 0)
        return pc_error_set(err, -errno, "getsockname: %s", strerror(errno));
    if (ss.ss_family != AF_INET6)
        return 0;
    int type = 0;
    socklen_t tl = sizeof(type);
    if (getsockopt(*fdp, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
        return pc_error_set(err, -errno, "getsockopt(SO_TYPE): %s", strerror(errno));
    int fd = socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return pc_error_set(err, -errno, "socket: %s", strerror(errno));
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        int e = errno;
        close(fd);
        return pc_error_set(err, -e, "cannot rebind the port with IPV6_V6ONLY: %s", strerror(e));
    }
    close(*fdp);
    *fdp = fd;
    return 0;
}

int pc_holdset_prepare(pc_holdset *hs, bool listen_now, bool v6only, int backlog, pc_error *err)
{
    if (hs->primary < 0 || hs->fd[hs->primary] < 0)
        return pc_error_set(err, PORTCO_EINTERNAL, "no bound socket is held for this port");
    if (v6only) {
        int rc = pc_hold_rebind_v6only(&hs->fd[hs->primary], err);
        if (rc < 0)
            return rc;
    }
    int fd = hs->fd[hs->primary], type = 0;
    socklen_t tl = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
        return pc_error_set(err, -errno, "getsockopt(SO_TYPE): %s", strerror(errno));
    if (listen_now && type == SOCK_STREAM && listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0)
        return pc_error_set(err, -errno, "listen: %s", strerror(errno));
    return 0;
}

int pc_holdset_handover(pc_holdset *hs, pc_error *err)
{
    if (hs->primary < 0 || hs->fd[hs->primary] < 0)
        return pc_error_set(err, PORTCO_EINTERNAL, "no bound socket is held for this port");
    int fd = hs->fd[hs->primary];
    /* The client gets the socket; the agent keeps no copy of it. */
    for (int i = hs->primary; i + 1 < hs->n; i++)
        hs->fd[i] = hs->fd[i + 1];
    hs->n--;
    hs->fd[hs->n] = -1;
    hs->primary = -1;
    return fd;
}

/* ------------------------------------------------------------------------ */
/* is the claimant using its port yet?                                      */

static bool pc_fd_is_ours(const pc_holdset *hs, unsigned long inode)
{
    for (int i = 0; i < hs->n; i++) {
        struct stat st;
        if (hs->fd[i] >= 0 && fstat(hs->fd[i], &st) == 0 && (unsigned long)st.st_ino == inode)
            return true;
    }
    return false;
}

static void pc_hold_poll_cb(evutil_socket_t fd, short what, void *arg)
{
    pc_agent *a = arg;
    pc_sockvec sv = PC_SOCKVEC_INIT;
    pc_error err;
    /* Only listeners and bound UDP sockets matter here: the kernel lists
     * just those through sock_diag, where /proc/net lists every connection
     * and TIME_WAIT of the host (8-25 ms a read on a busy host). */
    if (pc_sockdiag_bound(PC_PROTO_BOTH, 0, &sv, &err) < 0) {
        pc_debug("sock_diag: %s; reading /proc/net instead", err.msg);
        pc_sockvec_free(&sv);
        if (pc_procnet_scan(NULL, PC_PROTO_BOTH, 0, &sv, &err) < 0) {
            pc_debug("cannot read /proc/net: %s", err.msg);
            pc_sockvec_free(&sv);
            pc_hold_poll_update(a);
            return;
        }
    }
    pc_hold *h;
    TAILQ_FOREACH(h, &a->holds, link)
    {
        if (h->holds.n == 0)
            continue;
        for (size_t i = 0; i < sv.n; i++) {
            const pc_sock *s = &sv.v[i];
            if (s->local_port != h->port || !(s->proto & h->pool->def.proto))
                continue;
            bool used =
                s->proto == PC_PROTO_TCP ? s->state == PC_SS_LISTEN : s->state == PC_SS_CLOSE;
            if (used && s->inode && !pc_fd_is_ours(&h->holds, s->inode)) {
                pc_debug("%s:%u is in use by its claimant; hold released", h->pool->name, h->port);
                pc_holdset_close(&h->holds);
                break;
            }
        }
    }
    pc_sockvec_free(&sv);
    pc_hold_poll_update(a);
}

void pc_hold_poll_update(pc_agent *a)
{
    bool need = false;
    pc_hold *h;
    TAILQ_FOREACH(h, &a->holds, link)
    {
        if (h->holds.n > 0)
            need = true;
    }
    if (!a->listen_poll_ev) {
        if (!need)
            return;
        a->listen_poll_ev = evtimer_new(a->base, pc_hold_poll_cb, a);
        if (!a->listen_poll_ev)
            return;
    }
    if (!need) {
        evtimer_del(a->listen_poll_ev);
        return;
    }
    if (!evtimer_pending(a->listen_poll_ev, NULL)) {
        struct timeval tv = {0, PC_HOLD_POLL_MS * 1000};
        evtimer_add(a->listen_poll_ev, &tv);
    }
}
