/* verdict.c - turn bind tests, sockets and kernel settings into findings and a verdict. */
#include "verdict.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* " by pid 4242 (nginx)", " (owner unknown (permission))" or "". */
static const char *pc_owner_text(const pc_sock *s, char *buf, size_t len)
{
    if (s->pid > 0)
        snprintf(buf, len, " by pid %d (%s)", (int)s->pid, s->comm);
    else if (s->owner_unreadable)
        snprintf(buf, len, " (owner unknown (permission))");
    else
        buf[0] = '\0';
    return buf;
}

static const char *pc_v6only_label(const pc_bind_test *t)
{
    if (!t->wildcard || t->family != AF_INET6)
        return "";
    return t->v6only == 1 ? " (IPv6 only)" : " (dual-stack)";
}

bool pc_bind_test_skipped(const pc_bind_test *t)
{
    return t->rc == -EAFNOSUPPORT || t->rc == -EPROTONOSUPPORT ||
           (t->wildcard && t->rc == -EADDRNOTAVAIL);
}

/* Findings for the sockets of one protocol; sets *n_tw to its TIME_WAIT count. */
static int pc_sock_findings(const pc_probe_opts *o, uint16_t port, pc_proto proto,
                            pc_probe_result *r, size_t *n_tw)
{
    const char *pn = pc_proto_name(proto);
    size_t n_other = 0;
    const pc_sock *first_other = NULL, *first_tw = NULL;
    char own[96];
    *n_tw = 0;
    for (size_t i = 0; i < r->socks.n; i++) {
        const pc_sock *s = &r->socks.v[i];
        if (s->proto != proto || s->local_port != port)
            continue;
        if (s->state == PC_SS_TIME_WAIT) {
            if (!first_tw)
                first_tw = s;
            (*n_tw)++;
        } else if (s->state == PC_SS_LISTEN) {
            if (pc_probe_add_finding(r, "listen", proto, true, "%u/%s: LISTEN on %s%s",
                                     (unsigned)port, pn, s->local,
                                     pc_owner_text(s, own, sizeof(own))) < 0)
                return -ENOMEM;
        } else {
            if (!first_other)
                first_other = s;
            n_other++;
        }
    }
    if (first_other) {
        const pc_sock *s = first_other;
        char more[48] = "", rem[PC_ADDRSTRLEN + 10];
        if (n_other > 1)
            snprintf(more, sizeof(more), " (and %zu more sockets)", n_other - 1);
        const char *st = pc_sock_state_name(proto, s->state);
        int rc;
        if (s->remote_port == 0)
            rc = pc_probe_add_finding(r, "in-use", proto, true, "%u/%s: %s on %s%s%s",
                                      (unsigned)port, pn, st, s->local,
                                      pc_owner_text(s, own, sizeof(own)), more);
        else
            rc = pc_probe_add_finding(
                r, "in-use", proto, true, "%u/%s: %s %s -> %s%s%s", (unsigned)port, pn, st,
                s->local, pc_sock_endpoint(s->remote, s->remote_port, true, rem, sizeof(rem)),
                pc_owner_text(s, own, sizeof(own)), more);
        if (rc < 0)
            return rc;
    }
    if (first_tw) {
        char rem[PC_ADDRSTRLEN + 10];
        pc_sock_endpoint(first_tw->remote, first_tw->remote_port, true, rem, sizeof(rem));
        bool avoid = o->timewait == PC_TIMEWAIT_AVOID;
        if (pc_probe_add_finding(r, "time-wait", proto, avoid,
                                 "%u/%s: %zu TIME_WAIT socket%s (e.g. %s -> %s)%s", (unsigned)port,
                                 pn, *n_tw, *n_tw == 1 ? "" : "s", first_tw->local, rem,
                                 avoid ? "; avoided by the time-wait policy"
                                       : "; a server must set SO_REUSEADDR") < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Findings for failed bind tests of one protocol not already explained. */
static int pc_bind_findings(const pc_probe_opts *o, uint16_t port, const pc_kports *k,
                            pc_proto proto, size_t n_tw, bool sockets_block, pc_probe_result *r)
{
    const char *pn = pc_proto_name(proto);
    bool v6_skipped = false;
    for (size_t i = 0; i < r->n_tests; i++) {
        const pc_bind_test *t = &r->tests[i];
        if (t->proto != proto || t->rc == 0)
            continue;
        int rc = 0;
        if (pc_bind_test_skipped(t)) {
            if (t->family == AF_INET6 && v6_skipped)
                continue;
            v6_skipped = v6_skipped || t->family == AF_INET6;
            rc = pc_probe_add_finding(r, "family-skipped", proto, false,
                                      "%u/%s: %s not available on this host; %s not tested",
                                      (unsigned)port, pn, t->family == AF_INET6 ? "IPv6" : "IPv4",
                                      t->address);
        } else if (t->rc == -EACCES && port < k->unpriv_start) {
            continue; /* reported once as "privileged" */
        } else if (t->rc == -EADDRINUSE && sockets_block) {
            continue; /* explained by the LISTEN / in-use findings */
        } else if (t->rc == -EADDRINUSE && n_tw > 0) {
            if (o->timewait == PC_TIMEWAIT_AVOID || t->rc_reuse == 0)
                continue; /* blocked by policy, or usable with SO_REUSEADDR */
            rc = pc_probe_add_finding(
                r, "time-wait", proto, true,
                "%u/%s: bind to %s fails even with SO_REUSEADDR: the TIME_WAIT sockets "
                "were left by a socket without SO_REUSEADDR",
                (unsigned)port, pn, t->address);
        } else if (t->rc == -EADDRINUSE && proto == PC_PROTO_TCP) {
            rc = pc_probe_add_finding(r, "bind-failed", proto, true,
                                      "%u/%s: bind to %s%s failed: %s (held by a socket that is "
                                      "bound but not listening, which /proc/net does not list)",
                                      (unsigned)port, pn, t->address, pc_v6only_label(t),
                                      strerror(-t->rc));
        } else {
            rc = pc_probe_add_finding(r, "bind-failed", proto, true,
                                      "%u/%s: bind to %s%s failed: %s", (unsigned)port, pn,
                                      t->address, pc_v6only_label(t), strerror(-t->rc));
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static bool pc_any_eacces(const pc_probe_result *r)
{
    for (size_t i = 0; i < r->n_tests; i++)
        if (r->tests[i].rc == -EACCES)
            return true;
    return false;
}

static int pc_port_findings(const pc_probe_opts *o, uint16_t port, const pc_kports *k,
                            pc_probe_result *r)
{
    const char *pl = pc_probe_proto_label(r->proto);
    if (port < k->unpriv_start) {
        int rc;
        if (!o->allow_privileged)
            rc = pc_probe_add_finding(r, "privileged", r->proto, true,
                                      "%u/%s: privileged port (below %u), not allowed by policy",
                                      (unsigned)port, pl, (unsigned)k->unpriv_start);
        else if (pc_any_eacces(r))
            rc = pc_probe_add_finding(r, "privileged", r->proto, true,
                                      "%u/%s: privileged port (below %u), needs "
                                      "CAP_NET_BIND_SERVICE",
                                      (unsigned)port, pl, (unsigned)k->unpriv_start);
        else
            rc = pc_probe_add_finding(r, "privileged", r->proto, false,
                                      "%u/%s: privileged port (below %u)", (unsigned)port, pl,
                                      (unsigned)k->unpriv_start);
        if (rc < 0)
            return rc;
    }
    if (pc_rangeset_contains(&k->reserved, port) &&
        pc_probe_add_finding(r, "reserved", r->proto, false,
                             "%u/%s: listed in ip_local_reserved_ports (never picked for "
                             "outgoing connections)",
                             (unsigned)port, pl) < 0)
        return -ENOMEM;
    if (pc_kports_ephemeral(k, port) &&
        pc_probe_add_finding(r, "ephemeral", r->proto, o->ephemeral == PC_EPHEMERAL_AVOID,
                             "%u/%s: inside the ephemeral range %u-%u and not reserved%s",
                             (unsigned)port, pl, (unsigned)k->eph_lo, (unsigned)k->eph_hi,
                             o->ephemeral == PC_EPHEMERAL_AVOID ? "; avoided by policy" : "") < 0)
        return -ENOMEM;
    return 0;
}

/* The note of a non-blocking finding, as it appears in the summary. */
static const char *pc_note_text(const pc_finding *f, const pc_kports *k, char *buf, size_t len)
{
    if (strcmp(f->code, "ephemeral") == 0)
        snprintf(buf, len, "inside the ephemeral range %u-%u and not reserved", (unsigned)k->eph_lo,
                 (unsigned)k->eph_hi);
    else if (strcmp(f->code, "time-wait") == 0)
        snprintf(buf, len, "TIME_WAIT sockets on the port: the server must set SO_REUSEADDR");
    else if (strcmp(f->code, "reserved") == 0)
        snprintf(buf, len, "reserved for servers in ip_local_reserved_ports");
    else if (strcmp(f->code, "privileged") == 0)
        snprintf(buf, len, "privileged port");
    else if (strcmp(f->code, "family-skipped") == 0)
        snprintf(buf, len, "IPv6 not available, not tested");
    else
        snprintf(buf, len, "%s", f->code);
    return buf;
}

int pc_probe_decide(const pc_probe_opts *o, uint16_t port, const pc_kports *k, pc_probe_result *r)
{
    static const pc_proto protos[] = {PC_PROTO_TCP, PC_PROTO_UDP};
    r->n_findings = 0;
    r->usable = false;
    r->reuseaddr_needed = false;
    r->summary[0] = '\0';
    if (!r->proto)
        r->proto = o->proto ? o->proto : PC_PROTO_TCP;
    if (!r->address[0])
        snprintf(r->address, sizeof(r->address), "%s",
                 o->address && *o->address ? o->address : "0.0.0.0");

    int rc = pc_port_findings(o, port, k, r);
    for (size_t p = 0; rc == 0 && p < 2; p++) {
        if (!(r->proto & protos[p]))
            continue;
        size_t before = r->n_findings, n_tw = 0;
        if ((rc = pc_sock_findings(o, port, protos[p], r, &n_tw)) < 0)
            break;
        bool sockets_block = false;
        for (size_t i = before; i < r->n_findings; i++)
            if (strcmp(r->findings[i].code, "time-wait") != 0)
                sockets_block = true;
        rc = pc_bind_findings(o, port, k, protos[p], n_tw, sockets_block, r);
        if (n_tw > 0 && o->timewait == PC_TIMEWAIT_REUSEADDR)
            r->reuseaddr_needed = true;
    }
    if (rc < 0)
        return rc;

    r->usable = true;
    for (size_t i = 0; i < r->n_findings; i++)
        if (r->findings[i].blocking)
            r->usable = false;
    int n =
        snprintf(r->summary, sizeof(r->summary), "%u/%s: %s on %s", (unsigned)port,
                 pc_probe_proto_label(r->proto), r->usable ? "usable" : "not usable", r->address);
    if (r->usable) {
        bool first = true;
        for (size_t i = 0; i < r->n_findings && n > 0 && (size_t)n < sizeof(r->summary); i++) {
            char note[128];
            pc_note_text(&r->findings[i], k, note, sizeof(note));
            if (strcmp(r->findings[i].code, "family-skipped") == 0)
                continue; /* a host without IPv6 is not worth a note on every port */
            n += snprintf(r->summary + n, sizeof(r->summary) - (size_t)n, "%s%s",
                          first ? " (note: " : "; ", note);
            first = false;
        }
        if (!first && n > 0 && (size_t)n < sizeof(r->summary))
            snprintf(r->summary + n, sizeof(r->summary) - (size_t)n, ")");
    }
    return 0;
}
