/* faultproxy.c - portco-faultproxy: a TCP proxy for tests that cuts, blocks, stalls and delays. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/*
 * One listener per upstream ("--upstream HOST:PORT", repeatable) on an
 * ephemeral loopback port; every accepted connection is relayed to its
 * upstream. The listening ports are written, comma-separated in upstream
 * order, to --ports-file (atomically) and the matching connect string is
 * printed on stdout. Faults are commanded through a Unix stream socket
 * (--control PATH), one command per line, one answer line each
 * ("ok ..." or "err ..."):
 *
 *   cut                close every relayed connection now (RST both ways)
 *   block | unblock    refuse new connections (accept, then RST) or stop refusing
 *   blackhole | unblackhole
 *                      stop relaying in both directions (a silent partition);
 *                      connections stay open, data is discarded
 *   cut-after N [MS]   once N more client-to-server bytes have been relayed
 *                      (all connections together), stop relaying answers and
 *                      cut everything MS ms later (default 200): a request
 *                      reaches the server but its answer is lost
 *   cut-on-chunk N [MS]
 *                      like cut-after, fired by the first single client-to-server
 *                      chunk of at least N bytes (a large request such as a
 *                      create with data, not the pings before it)
 *   delay MS           hold each relayed chunk MS ms before passing it on
 *   hold-after-read PATH [watch]
 *                      once a client sends a read of PATH (getData, exists or
 *                      getChildren: the path followed by the watch flag, false
 *                      or with "watch" true, found within one relayed chunk),
 *                      keep every later server-to-client byte in the proxy
 *                      until "release" or a cut: the read has reached the
 *                      server, its answer waits here
 *   release            pass the held answers on, and stop holding
 *   random MIN MAX     cut everything at random moments, MIN..MAX ms apart
 *   random off
 *   stats              "ok conns=.. accepted=.. refused=.. cuts=.. c2s=.. s2c=.. holds=..
 *                      answers=.. held=.. unsent=.." (holds: times a hold-after-read
 *                      fired; answers: answers seen to the read that fired the
 *                      last one; held: bytes held now; unsent: bytes relayed to
 *                      clients that their sockets have not taken yet)
 *   ping               "ok"
 *
 * SIGTERM or SIGINT end the proxy. Test tooling: loopback only, no limits
 * beyond what a test needs.
 */

#define FP_MAX_UP 8

typedef struct fp_proxy fp_proxy;
typedef struct fp_conn fp_conn;

/* A chunk of relayed data waiting for its delay to pass. */
typedef struct fp_chunk {
    struct evbuffer *buf;
    long long due_ms;
    bool to_server;
    TAILQ_ENTRY(fp_chunk) link;
} fp_chunk;
TAILQ_HEAD(fp_chunk_list, fp_chunk);

struct fp_conn {
    fp_proxy *px;
    struct bufferevent *cli, *srv;
    /* Server-to-client frames, walked to find the answer to a held read:
     * the frame header (length, xid) read so far, and body bytes to skip. */
    unsigned char hdr[8];
    size_t hdr_n;
    uint32_t skip;
    size_t s2c_seen; /* bytes at the front of srv's input already walked */
    struct fp_chunk_list chunks;
    struct event *delay_ev;
    TAILQ_ENTRY(fp_conn) link;
};
TAILQ_HEAD(fp_conn_list, fp_conn);

typedef struct fp_ctl {
    fp_proxy *px;
    struct bufferevent *bev;
    TAILQ_ENTRY(fp_ctl) link;
} fp_ctl;
TAILQ_HEAD(fp_ctl_list, fp_ctl);

struct fp_proxy {
    struct event_base *base;
    struct sockaddr_in up[FP_MAX_UP];
    struct evconnlistener *lis[FP_MAX_UP];
    int lport[FP_MAX_UP];
    int nup;
    struct evconnlistener *ctl_lis;
    struct fp_conn_list conns;
    struct fp_ctl_list ctls;
    int nconns;
    bool blocked, blackhole, muted;
    long long cut_after; /* bytes left before an armed cut-after fires; -1 unarmed */
    int cut_after_ms;
    bool cut_on_chunk;    /* cut_after is a chunk size, not a running count */
    struct event *cut_ev; /* the delayed cut of cut-after */
    int delay_ms;
    int rnd_min, rnd_max; /* random cuts when rnd_max > 0 */
    struct event *rnd_ev;
    unsigned char hold_pat[600]; /* armed hold-after-read: length, path, watch flag */
    size_t hold_len;             /* bytes of hold_pat; 0 when not armed */
    bool holding;                /* server-to-client data stays in the proxy */
    uint32_t hold_xid;           /* xid of the read that started the hold */
    unsigned long long accepted, refused, cuts, c2s, s2c, holds, answers;
};

static long long fp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fp_rst(struct bufferevent *bev)
{
    if (!bev)
        return;
    int fd = (int)bufferevent_getfd(bev);
    if (fd >= 0) {
        struct linger l = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    bufferevent_free(bev);
}

static void fp_conn_free(fp_conn *c)
{
    fp_proxy *px = c->px;
    TAILQ_REMOVE(&px->conns, c, link);
    px->nconns--;
    fp_chunk *k;
    while ((k = TAILQ_FIRST(&c->chunks))) {
        TAILQ_REMOVE(&c->chunks, k, link);
        evbuffer_free(k->buf);
        free(k);
    }
    if (c->delay_ev)
        event_free(c->delay_ev);
    fp_rst(c->cli);
    fp_rst(c->srv);
    free(c);
}

static int fp_cut_all(fp_proxy *px)
{
    int n = 0;
    fp_conn *c;
    while ((c = TAILQ_FIRST(&px->conns))) {
        fp_conn_free(c);
        n++;
    }
    if (n)
        px->cuts++;
    px->muted = false;
    px->holding = false;
    return n;
}

static void fp_delay_arm(fp_conn *c)
{
    fp_chunk *k = TAILQ_FIRST(&c->chunks);
    if (!k)
        return;
    long long wait = k->due_ms - fp_now_ms();
    if (wait < 0)
        wait = 0;
    struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
    evtimer_add(c->delay_ev, &tv);
}

static void fp_delay_cb(evutil_socket_t fd, short what, void *arg)
{
    fp_conn *c = arg;
    long long now = fp_now_ms();
    fp_chunk *k;
    while ((k = TAILQ_FIRST(&c->chunks)) && k->due_ms <= now) {
        TAILQ_REMOVE(&c->chunks, k, link);
        struct bufferevent *to = k->to_server ? c->srv : c->cli;
        bool drop = c->px->blackhole || (!k->to_server && c->px->muted);
        if (!drop)
            bufferevent_write_buffer(to, k->buf);
        evbuffer_free(k->buf);
        free(k);
    }
    fp_delay_arm(c);
}

static void fp_cut_timer(evutil_socket_t fd, short what, void *arg)
{
    fp_cut_all(arg);
}

static uint32_t fp_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Walk server-to-client bytes frame by frame (a big-endian length, then the
 * reply header, which starts with the request's xid) and count the answers
 * to the read that started the hold. The first frame of a connection (the
 * session's handshake) has no xid; its first field is taken for one, which
 * is harmless: it is the protocol version, 0, and the client's xids are not.
 */
static void fp_frames_walk(fp_conn *c, const unsigned char *p, size_t n)
{
    while (n > 0) {
        if (c->skip > 0) {
            size_t k = c->skip < n ? c->skip : n;
            c->skip -= (uint32_t)k;
            p += k;
            n -= k;
            continue;
        }
        size_t k = sizeof(c->hdr) - c->hdr_n < n ? sizeof(c->hdr) - c->hdr_n : n;
        memcpy(c->hdr + c->hdr_n, p, k);
        c->hdr_n += k;
        p += k;
        n -= k;
        if (c->hdr_n == sizeof(c->hdr)) {
            uint32_t len = fp_be32(c->hdr);
            if (c->px->holds && fp_be32(c->hdr + 4) == c->px->hold_xid)
                c->px->answers++;
            c->skip = len >= 4 ? len - 4 : 0;
            c->hdr_n = 0;
        }
    }
}

/* Relay what `from` has read to the other side, applying the faults. */
static void fp_relay(fp_conn *c, bool to_server)
{
    fp_proxy *px = c->px;
    struct bufferevent *from = to_server ? c->cli : c->srv;
    struct bufferevent *to = to_server ? c->srv : c->cli;
    struct evbuffer *in = bufferevent_get_input(from);
    size_t n = evbuffer_get_length(in);
    if (n == 0)
        return;
    if (!to_server) {
        fp_frames_walk(c, evbuffer_pullup(in, -1) + c->s2c_seen, n - c->s2c_seen);
        c->s2c_seen = n;
        if (px->holding)
            return;      /* held data stays in the input buffer until "release" */
        c->s2c_seen = 0; /* every path below empties the input */
    }
    const unsigned char *start = to_server && px->hold_len > 0 ? evbuffer_pullup(in, -1) : NULL;
    const unsigned char *at = start ? memmem(start, n, px->hold_pat, px->hold_len) : NULL;
    if (at) {
        /* Before the path: the request header's xid and operation. */
        px->hold_xid = at - start >= 8 ? fp_be32(at - 8) : 0;
        px->hold_len = 0;
        px->holding = true;
        px->holds++;
    }
    if (px->blackhole || (!to_server && px->muted)) {
        evbuffer_drain(in, n);
        return;
    }
    if (to_server)
        px->c2s += n;
    else
        px->s2c += n;
    if (px->delay_ms > 0 || !TAILQ_EMPTY(&c->chunks)) {
        fp_chunk *k = calloc(1, sizeof(*k));
        if (!k || !(k->buf = evbuffer_new())) {
            free(k);
            evbuffer_drain(in, n);
            return;
        }
        evbuffer_remove_buffer(in, k->buf, n);
        k->due_ms = fp_now_ms() + px->delay_ms;
        k->to_server = to_server;
        bool was_empty = TAILQ_EMPTY(&c->chunks);
        TAILQ_INSERT_TAIL(&c->chunks, k, link);
        if (was_empty)
            fp_delay_arm(c);
    } else {
        bufferevent_write_buffer(to, in);
    }
    if (to_server && px->cut_after >= 0) {
        bool fire;
        if (px->cut_on_chunk) {
            fire = (long long)n >= px->cut_after;
        } else {
            px->cut_after -= (long long)n;
            fire = px->cut_after <= 0;
        }
        if (fire) {
            /* The request is on its way; its answer will not come back. */
            px->cut_after = -1;
            px->muted = true;
            struct timeval tv = {px->cut_after_ms / 1000, (px->cut_after_ms % 1000) * 1000};
            evtimer_add(px->cut_ev, &tv);
        }
    }
}

static void fp_cli_read(struct bufferevent *bev, void *arg)
{
    fp_relay(arg, true);
}

static void fp_srv_read(struct bufferevent *bev, void *arg)
{
    fp_relay(arg, false);
}

static void fp_conn_event(struct bufferevent *bev, short what, void *arg)
{
    fp_conn *c = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        fp_conn_free(c); /* either side gone: drop both, like a broken path */
}

static void fp_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    fp_proxy *px = arg;
    int idx = -1;
    for (int i = 0; i < px->nup; i++)
        if (px->lis[i] == lis)
            idx = i;
    if (px->blocked || idx < 0) {
        px->refused++;
        struct linger l = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        close(fd);
        return;
    }
    fp_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->px = px;
    TAILQ_INIT(&c->chunks);
    TAILQ_INSERT_TAIL(&px->conns, c, link);
    px->nconns++;
    px->accepted++;
    c->cli = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->srv = bufferevent_socket_new(px->base, -1, BEV_OPT_CLOSE_ON_FREE);
    c->delay_ev = evtimer_new(px->base, fp_delay_cb, c);
    if (!c->cli || !c->srv || !c->delay_ev) {
        if (!c->cli)
            close(fd);
        fp_conn_free(c);
        return;
    }
    bufferevent_setcb(c->cli, fp_cli_read, NULL, fp_conn_event, c);
    bufferevent_setcb(c->srv, fp_srv_read, NULL, fp_conn_event, c);
    if (bufferevent_socket_connect(c->srv, (struct sockaddr *)&px->up[idx], sizeof(px->up[idx])) <
        0) {
        fp_conn_free(c);
        return;
    }
    int sfd = (int)bufferevent_getfd(c->srv);
    if (sfd >= 0)
        fcntl(sfd, F_SETFD, FD_CLOEXEC);
    bufferevent_enable(c->cli, EV_READ | EV_WRITE);
    bufferevent_enable(c->srv, EV_READ | EV_WRITE);
}

static void fp_random_arm(fp_proxy *px)
{
    if (px->rnd_max <= 0)
        return;
    int span = px->rnd_max - px->rnd_min;
    int ms = px->rnd_min + (span > 0 ? rand() % (span + 1) : 0);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(px->rnd_ev, &tv);
}

static void fp_random_cb(evutil_socket_t fd, short what, void *arg)
{
    fp_proxy *px = arg;
    fp_cut_all(px);
    fp_random_arm(px);
}

/* Arm hold-after-read for `path`: the bytes of a read request as the
 * ZooKeeper protocol encodes them (a big-endian length, the path, the watch
 * flag). */
static int fp_hold_arm(fp_proxy *px, const char *path, bool watch)
{
    size_t n = strlen(path);
    if (n == 0 || n + 5 > sizeof(px->hold_pat))
        return -EINVAL;
    uint32_t be = htonl((uint32_t)n);
    memcpy(px->hold_pat, &be, 4);
    memcpy(px->hold_pat + 4, path, n);
    px->hold_pat[4 + n] = watch ? 1 : 0;
    px->hold_len = n + 5;
    px->answers = 0;
    return 0;
}

static void fp_release(fp_proxy *px)
{
    px->holding = false;
    fp_conn *c, *next;
    for (c = TAILQ_FIRST(&px->conns); c; c = next) {
        next = TAILQ_NEXT(c, link);
        fp_relay(c, false);
    }
}

/* Bytes held in the proxy, and bytes relayed to clients not yet written. */
static void fp_held(const fp_proxy *px, size_t *held, size_t *unsent)
{
    *held = *unsent = 0;
    fp_conn *c;
    TAILQ_FOREACH(c, &px->conns, link)
    {
        *held += evbuffer_get_length(bufferevent_get_input(c->srv));
        *unsent += evbuffer_get_length(bufferevent_get_output(c->cli));
    }
}

/* Run one control command; writes the answer line into out. */
static void fp_command(fp_proxy *px, char *line, char *out, size_t len)
{
    char cmd[32] = "";
    long long a1 = 0, a2 = 0;
    char word[16] = "";
    char path[512] = "";
    int n = sscanf(line, "%31s %lld %lld", cmd, &a1, &a2);
    if (n < 1) {
        snprintf(out, len, "err empty command\n");
        return;
    }
    if (strcmp(cmd, "ping") == 0) {
        snprintf(out, len, "ok\n");
    } else if (strcmp(cmd, "cut") == 0) {
        snprintf(out, len, "ok cut %d\n", fp_cut_all(px));
    } else if (strcmp(cmd, "block") == 0 || strcmp(cmd, "unblock") == 0) {
        px->blocked = cmd[0] == 'b';
        snprintf(out, len, "ok\n");
    } else if (strcmp(cmd, "blackhole") == 0 || strcmp(cmd, "unblackhole") == 0) {
        px->blackhole = cmd[0] == 'b';
        snprintf(out, len, "ok\n");
    } else if ((strcmp(cmd, "cut-after") == 0 || strcmp(cmd, "cut-on-chunk") == 0) && n >= 2 &&
               a1 > 0) {
        px->cut_on_chunk = strcmp(cmd, "cut-on-chunk") == 0;
        px->cut_after = a1;
        px->cut_after_ms = n >= 3 && a2 >= 0 && a2 < 60000 ? (int)a2 : 200;
        snprintf(out, len, "ok\n");
    } else if (strcmp(cmd, "delay") == 0 && n >= 2 && a1 >= 0 && a1 < 60000) {
        px->delay_ms = (int)a1;
        snprintf(out, len, "ok\n");
    } else if (strcmp(cmd, "random") == 0 && sscanf(line, "%*s %15s", word) == 1 &&
               strcmp(word, "off") == 0) {
        px->rnd_min = px->rnd_max = 0;
        evtimer_del(px->rnd_ev);
        snprintf(out, len, "ok\n");
    } else if (strcmp(cmd, "random") == 0 && n == 3 && a1 > 0 && a2 >= a1 && a2 < 3600000) {
        px->rnd_min = (int)a1;
        px->rnd_max = (int)a2;
        evtimer_del(px->rnd_ev);
        fp_random_arm(px);
        snprintf(out, len, "ok\n");
    } else if (strcmp(cmd, "hold-after-read") == 0 &&
               (n = sscanf(line, "%*s %511s %15s", path, word)) >= 1 &&
               (n == 1 || strcmp(word, "watch") == 0) && fp_hold_arm(px, path, n == 2) == 0) {
        snprintf(out, len, "ok\n");
    } else if (strcmp(cmd, "release") == 0) {
        fp_release(px);
        snprintf(out, len, "ok\n");
    } else if (strcmp(cmd, "stats") == 0) {
        size_t held, unsent;
        fp_held(px, &held, &unsent);
        snprintf(out, len,
                 "ok conns=%d accepted=%llu refused=%llu cuts=%llu c2s=%llu s2c=%llu holds=%llu "
                 "answers=%llu held=%zu unsent=%zu\n",
                 px->nconns, px->accepted, px->refused, px->cuts, px->c2s, px->s2c, px->holds,
                 px->answers, held, unsent);
    } else {
        snprintf(out, len, "err unknown or malformed command: %s\n", cmd);
    }
}

static void fp_ctl_free(fp_ctl *k)
{
    TAILQ_REMOVE(&k->px->ctls, k, link);
    bufferevent_free(k->bev);
    free(k);
}

static void fp_ctl_read(struct bufferevent *bev, void *arg)
{
    fp_ctl *k = arg;
    char *line;
    size_t n;
    while ((line = evbuffer_readln(bufferevent_get_input(bev), &n, EVBUFFER_EOL_LF))) {
        char out[256];
        fp_command(k->px, line, out, sizeof(out));
        free(line);
        bufferevent_write(bev, out, strlen(out));
    }
    if (evbuffer_get_length(bufferevent_get_input(bev)) > 4096)
        fp_ctl_free(k);
}

static void fp_ctl_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        fp_ctl_free(arg);
}

static void fp_ctl_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                          int salen, void *arg)
{
    fp_proxy *px = arg;
    fp_ctl *k = calloc(1, sizeof(*k));
    if (!k || !(k->bev = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
        free(k);
        close(fd);
        return;
    }
    k->px = px;
    TAILQ_INSERT_TAIL(&px->ctls, k, link);
    bufferevent_setcb(k->bev, fp_ctl_read, NULL, fp_ctl_event, k);
    bufferevent_enable(k->bev, EV_READ | EV_WRITE);
}

static void fp_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopexit(arg, NULL);
}

static int fp_parse_hostport(const char *s, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof(host))
        return -EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    if (*end || port <= 0 || port > 65535 || inet_pton(AF_INET, host, &out->sin_addr) != 1)
        return -EINVAL;
    return 0;
}

static int fp_write_ports(const fp_proxy *px, const char *path, const char *addr)
{
    char tmp[4200], line[512] = "", conn[1024] = "";
    size_t off = 0, coff = 0;
    for (int i = 0; i < px->nup; i++) {
        off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%d", i ? "," : "", px->lport[i]);
        coff += (size_t)snprintf(conn + coff, sizeof(conn) - coff, "%s%s:%d", i ? "," : "", addr,
                                 px->lport[i]);
    }
    printf("%s\n", conn);
    fflush(stdout);
    if (!path)
        return 0;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    fprintf(f, "%s\n", line);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        return -EIO;
    }
    fclose(f);
    return rename(tmp, path) == 0 ? 0 : -errno;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {{"upstream", required_argument, NULL, 'u'},
                                          {"control", required_argument, NULL, 'c'},
                                          {"ports-file", required_argument, NULL, 'p'},
                                          {"listen-addr", required_argument, NULL, 'l'},
                                          {NULL, 0, NULL, 0}};
    fp_proxy px;
    memset(&px, 0, sizeof(px));
    TAILQ_INIT(&px.conns);
    TAILQ_INIT(&px.ctls);
    px.cut_after = -1;
    const char *control = NULL, *ports_file = NULL, *laddr = "127.0.0.1";
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'u') {
            if (px.nup >= FP_MAX_UP || fp_parse_hostport(optarg, &px.up[px.nup]) < 0) {
                fprintf(stderr, "portco-faultproxy: bad or too many --upstream %s\n", optarg);
                return 2;
            }
            px.nup++;
        } else if (c == 'c') {
            control = optarg;
        } else if (c == 'p') {
            ports_file = optarg;
        } else if (c == 'l') {
            laddr = optarg;
        } else {
            return 2;
        }
    }
    if (px.nup == 0 || !control) {
        fprintf(stderr, "usage: portco-faultproxy --upstream IP:PORT [--upstream ...] "
                        "--control SOCKET [--ports-file FILE] [--listen-addr IP]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)(getpid() ^ fp_now_ms()));
    px.base = event_base_new();
    if (!px.base)
        return 1;
    int rc = 1;
    struct event *sigs[2] = {evsignal_new(px.base, SIGTERM, fp_signal_cb, px.base),
                             evsignal_new(px.base, SIGINT, fp_signal_cb, px.base)};
    px.cut_ev = evtimer_new(px.base, fp_cut_timer, &px);
    px.rnd_ev = evtimer_new(px.base, fp_random_cb, &px);
    if (!sigs[0] || !sigs[1] || !px.cut_ev || !px.rnd_ev)
        goto out;
    evsignal_add(sigs[0], NULL);
    evsignal_add(sigs[1], NULL);
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE;
    for (int i = 0; i < px.nup; i++) {
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        if (inet_pton(AF_INET, laddr, &sa.sin_addr) != 1) {
            fprintf(stderr, "portco-faultproxy: bad --listen-addr %s\n", laddr);
            goto out;
        }
        px.lis[i] = evconnlistener_new_bind(px.base, fp_accept, &px, flags, 64,
                                            (struct sockaddr *)&sa, sizeof(sa));
        if (!px.lis[i]) {
            fprintf(stderr, "portco-faultproxy: cannot listen: %s\n", strerror(errno));
            goto out;
        }
        struct sockaddr_in got;
        socklen_t gl = sizeof(got);
        getsockname((int)evconnlistener_get_fd(px.lis[i]), (struct sockaddr *)&got, &gl);
        px.lport[i] = ntohs(got.sin_port);
    }
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    if (strlen(control) >= sizeof(un.sun_path)) {
        fprintf(stderr, "portco-faultproxy: control path too long\n");
        goto out;
    }
    memcpy(un.sun_path, control, strlen(control) + 1);
    unlink(control);
    px.ctl_lis = evconnlistener_new_bind(px.base, fp_ctl_accept, &px,
                                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 8,
                                         (struct sockaddr *)&un, sizeof(un));
    if (!px.ctl_lis) {
        fprintf(stderr, "portco-faultproxy: cannot listen on %s: %s\n", control, strerror(errno));
        goto out;
    }
    if (fp_write_ports(&px, ports_file, laddr) < 0) {
        fprintf(stderr, "portco-faultproxy: cannot write %s\n", ports_file);
        goto out;
    }
    event_base_dispatch(px.base);
    rc = 0;
out:
    fp_cut_all(&px);
    fp_ctl *k;
    while ((k = TAILQ_FIRST(&px.ctls)))
        fp_ctl_free(k);
    if (px.ctl_lis) {
        evconnlistener_free(px.ctl_lis);
        unlink(control);
    }
    for (int i = 0; i < px.nup; i++)
        if (px.lis[i])
            evconnlistener_free(px.lis[i]);
    for (int i = 0; i < 2; i++)
        if (sigs[i])
            event_free(sigs[i]);
    if (px.cut_ev)
        event_free(px.cut_ev);
    if (px.rnd_ev)
        event_free(px.rnd_ev);
    event_base_free(px.base);
    return rc;
}
