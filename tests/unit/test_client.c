/* test_client.c - libportco against a scripted fake agent on a Unix socket (no ZooKeeper). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "portco.h"

/*
 * The fake agent: a thread that accepts connections on a Unix socket in a
 * temp dir and runs a script per connection. Scripts read requests with
 * pt_fa_recv() and answer with pt_fa_send()/pt_fa_send_fd(). A script's
 * Criterion asserts would abort the whole test process, which is the point:
 * a request that is not what the script expects fails the test.
 */
typedef struct pt_conn {
    int fd;
    pc_linebuf lb;
} pt_conn;

typedef void (*pt_script)(pt_conn *c, void *arg);

typedef struct pt_fa {
    char dir[64];
    char path[100];
    int lfd;
    int conns; /* connections to serve, one after the other */
    pt_script script;
    void *arg;
    pthread_t th;
} pt_fa;

static void *pt_fa_main(void *p)
{
    pt_fa *f = p;
    for (int i = 0; i < f->conns; i++) {
        int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            break;
        pt_conn c = {.fd = fd};
        pc_linebuf_init(&c.lb, 0, 0);
        f->script(&c, f->arg);
        pc_linebuf_free(&c.lb);
        close(fd);
    }
    return NULL;
}

static void pt_fa_start(pt_fa *f, pt_script script, void *arg, int conns)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/pt-client-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/agent.sock", f->dir);
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(f->lfd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    cr_assert_eq(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(f->lfd, 16), 0);
    f->script = script;
    f->arg = arg;
    f->conns = conns;
    cr_assert_eq(pthread_create(&f->th, NULL, pt_fa_main, f), 0);
}

/* Wait for the script to finish (the client must have closed), then clean up. */
static void pt_fa_stop(pt_fa *f)
{
    pthread_join(f->th, NULL);
    close(f->lfd);
    unlink(f->path);
    rmdir(f->dir);
}

/* Next request as JSON (owned), or NULL when the client closed the connection. */
static json_t *pt_fa_recv(pt_conn *c)
{
    char *line;
    size_t len;
    int rc = pc_frame_read_line(&c->lb, c->fd, 5000, &line, &len);
    if (rc == 0 || rc == -ECONNRESET)
        return NULL;
    cr_assert_eq(rc, 1, "fake agent: reading a request failed: %d", rc);
    json_error_t je;
    json_t *req = json_loadb(line, len, 0, &je);
    cr_assert_not_null(req, "fake agent: request is not JSON: %s", line);
    cr_assert_eq(json_integer_value(json_object_get(req, "v")), 1);
    cr_assert(json_is_integer(json_object_get(req, "id")), "request without id: %s", line);
    return req;
}

static long long pt_id(const json_t *req)
{
    return (long long)json_integer_value(json_object_get(req, "id"));
}

/* Send one line (a newline is appended) with an optional descriptor. */
static void pt_fa_send_fd(pt_conn *c, int fd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pt_fa_send_fd(pt_conn *c, int fd, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    cr_assert(n > 0 && n < (int)sizeof(buf) - 1);
    buf[n++] = '\n';
    int rc = pc_frame_send_all(c->fd, buf, (size_t)n, fd, 5000);
    cr_assert(rc == 0 || rc == -EPIPE || rc == -ECONNRESET, "fake agent send: %d", rc);
}

#define pt_fa_send(c, ...) pt_fa_send_fd((c), -1, __VA_ARGS__)

#define PT_CLAIM_FMT                                                                               \
    "{\"pool\":\"%s\",\"port\":%d,\"proto\":\"tcp\",\"address\":\"127.0.0.1\",\"host\":\"h1\","    \
    "\"service\":\"api\",\"instance\":\"a-1\",\"claim\":\"_c_0123-lock-0000000007\","              \
    "\"czxid\":4294967301,\"pid\":4242,\"uid\":1000,\"since_ms\":1795809600000,"                   \
    "\"lifetime\":\"connection\"}"

static void pt_connect(pt_fa *f, portco_client **c)
{
    portco_status st;
    int rc = portco_connect(f->path, c, &st);
    cr_assert_eq(rc, 0, "connect: %d %s", rc, st.message);
    cr_assert_eq(st.code, 0);
}

static const portco_acquire_opts pt_opts = {.pool = "web", .service = "api", .instance = "a-1"};

TestSuite(client, .timeout = 30);

/* ---------- connecting ---------- */

Test(client, no_agent_names_the_path)
{
    char path[] = "/tmp/pt-client-nothing-here/agent.sock";
    portco_client *c = (portco_client *)1;
    portco_status st;
    cr_assert_eq(portco_connect(path, &c, &st), PORTCO_ENOAGENT);
    cr_assert_null(c);
    cr_assert_eq(st.code, PORTCO_ENOAGENT);
    cr_assert_not_null(strstr(st.message, path), "message: %s", st.message);
    cr_assert_not_null(strstr(st.message, "portco-agent"), "message: %s", st.message);
    cr_assert_not_null(strstr(st.message, "PORTCO_SOCKET"), "message: %s", st.message);
}

Test(client, stale_socket_file_is_no_agent)
{
    char dir[] = "/tmp/pt-client-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[100];
    snprintf(path, sizeof(path), "%s/agent.sock", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd); /* the file stays, nobody listens: ECONNREFUSED */
    portco_client *c;
    portco_status st;
    cr_assert_eq(portco_connect(path, &c, &st), PORTCO_ENOAGENT);
    cr_assert_not_null(strstr(st.message, path));
    unlink(path);
    rmdir(dir);
}

Test(client, env_socket_is_used_when_path_is_null)
{
    setenv("PORTCO_SOCKET", "/tmp/pt-client-env-missing.sock", 1);
    portco_client *c;
    portco_status st;
    cr_assert_eq(portco_connect(NULL, &c, &st), PORTCO_ENOAGENT);
    cr_assert_not_null(strstr(st.message, "/tmp/pt-client-env-missing.sock"), "%s", st.message);
    unsetenv("PORTCO_SOCKET");
    cr_assert_eq(portco_connect(NULL, &c, &st), PORTCO_ENOAGENT);
    cr_assert_not_null(strstr(st.message, PORTCO_DEFAULT_SOCKET), "%s", st.message);
}

Test(client, overlong_path_is_refused)
{
    char path[200];
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    portco_client *c;
    portco_status st;
    cr_assert_eq(portco_connect(path, &c, &st), -ENAMETOOLONG);
}

/* ---------- acquire ---------- */

static void pt_script_acquire(pt_conn *c, void *arg)
{
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    cr_assert_str_eq(json_string_value(json_object_get(req, "op")), "acquire");
    cr_assert_str_eq(json_string_value(json_object_get(req, "pool")), "web");
    cr_assert_str_eq(json_string_value(json_object_get(req, "service")), "api");
    cr_assert_str_eq(json_string_value(json_object_get(req, "instance")), "a-1");
    cr_assert_str_eq(json_string_value(json_object_get(req, "lifetime")), "connection");
    cr_assert(json_is_false(json_object_get(req, "socket")));
    pt_fa_send(c, "{\"v\":1,\"id\":%lld,\"ok\":true,\"claim\":" PT_CLAIM_FMT "}", pt_id(req), "web",
               30001);
    json_decref(req);
    cr_assert_null(pt_fa_recv(c));
}

Test(client, acquire_fills_the_claim)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_acquire, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    cr_assert_geq(portco_fd(c), 0);
    cr_assert(fcntl(portco_fd(c), F_GETFD) & FD_CLOEXEC);
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &pt_opts, &cl, &st), 0, "%s", st.message);
    cr_assert_eq(cl.port, 30001);
    cr_assert_str_eq(cl.pool, "web");
    cr_assert_str_eq(cl.host, "h1");
    cr_assert_str_eq(cl.address, "127.0.0.1");
    cr_assert_str_eq(cl.proto, "tcp");
    cr_assert_str_eq(cl.service, "api");
    cr_assert_str_eq(cl.instance, "a-1");
    cr_assert_str_eq(cl.claim, "_c_0123-lock-0000000007");
    cr_assert_eq(cl.czxid, 4294967301LL);
    cr_assert_eq(cl.pid, 4242);
    cr_assert_eq(cl.since_ms, 1795809600000LL);
    cr_assert_eq(cl.fd, -1);
    portco_close(c);
    pt_fa_stop(&f);
}

static void pt_script_refuse(pt_conn *c, void *arg)
{
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    pt_fa_send(c,
               "{\"v\":1,\"id\":%lld,\"ok\":false,\"error\":{\"code\":\"POOL_EXHAUSTED\","
               "\"message\":\"pool web: all 100 ports are claimed or unusable on h1\"}}",
               pt_id(req));
    json_decref(req);
    cr_assert_null(pt_fa_recv(c));
}

Test(client, agent_error_maps_to_its_code_and_message)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_refuse, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &pt_opts, &cl, &st), PORTCO_EEXHAUSTED);
    cr_assert_eq(st.code, PORTCO_EEXHAUSTED);
    cr_assert_str_eq(st.message, "pool web: all 100 ports are claimed or unusable on h1");
    cr_assert_eq(cl.fd, -1);
    cr_assert_eq(cl.port, 0);
    portco_close(c);
    pt_fa_stop(&f);
}

static void pt_script_silent(pt_conn *c, void *arg)
{
    cr_assert_null(pt_fa_recv(c), "a refused option must not reach the agent");
}

Test(client, bad_options_are_refused_before_sending)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_silent, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    portco_claim cl;
    portco_status st;
    portco_acquire_opts o = pt_opts;
    o.pool = NULL;
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), PORTCO_EBADREQ);
    cr_assert_not_null(strstr(st.message, "pool"));
    o = pt_opts;
    o.service = "";
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), PORTCO_EBADREQ);
    o = pt_opts;
    o.wait_ms = 100; /* without a port */
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), PORTCO_EBADREQ);
    o = pt_opts;
    o.lifetime = PORTCO_LIFETIME_PID; /* without hold_pid */
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), PORTCO_EBADREQ);
    o = pt_opts;
    o.flags = PORTCO_ACQ_LISTEN; /* without PORTCO_ACQ_SOCKET */
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), PORTCO_EBADREQ);
    o = pt_opts;
    char longname[80];
    memset(longname, 'p', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    o.pool = longname;
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), PORTCO_EBADREQ);
    cr_assert_eq(portco_release(c, "web", 0, &st), PORTCO_EBADREQ);
    cr_assert_eq(portco_release(c, NULL, 30001, &st), PORTCO_EBADREQ);
    portco_close(c);
    pt_fa_stop(&f);
}

/* ---------- id matching and events ---------- */

static void pt_script_stale_then_right(pt_conn *c, void *arg)
{
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    long long id = pt_id(req);
    /* An answer to some other request first: the client must skip it. */
    pt_fa_send(c, "{\"v\":1,\"id\":%lld,\"ok\":true,\"claim\":" PT_CLAIM_FMT "}", id + 100, "web",
               30099);
    pt_fa_send(c, "{\"v\":1,\"id\":%lld,\"ok\":true,\"claim\":" PT_CLAIM_FMT "}", id, "web", 30002);
    json_decref(req);
    cr_assert_null(pt_fa_recv(c));
}

Test(client, answer_is_matched_by_id)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_stale_then_right, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &pt_opts, &cl, &st), 0, "%s", st.message);
    cr_assert_eq(cl.port, 30002);
    portco_close(c);
    pt_fa_stop(&f);
}

typedef struct pt_events {
    int n;
    portco_event ev[4];
    portco_client *c;
    int fd_in_cb; /* portco_fd() called from inside the callback */
} pt_events;

static void pt_on_event(portco_client *c, const portco_event *ev, void *ud)
{
    pt_events *e = ud;
    cr_assert_eq(c, e->c);
    if (e->n < 4)
        e->ev[e->n] = *ev;
    e->n++;
    e->fd_in_cb = portco_fd(c); /* the callback may call the library */
}

static void pt_script_events_between(pt_conn *c, void *arg)
{
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    pt_fa_send(c,
               "{\"v\":1,\"event\":\"conflict\",\"claim\":" PT_CLAIM_FMT
               ",\"message\":\"port 30005 of pool web was taken by host h2\"}",
               "web", 30005);
    pt_fa_send(c, "{\"v\":1,\"event\":\"some-future-event\",\"message\":\"ignored\"}");
    pt_fa_send(c, "{\"v\":1,\"id\":%lld,\"ok\":true}", pt_id(req));
    /* An event right behind the answer, in the same write. */
    pt_fa_send(c,
               "{\"v\":1,\"event\":\"reasserted\",\"claim\":" PT_CLAIM_FMT
               ",\"message\":\"claim re-created after a session loss\"}",
               "web", 30006);
    json_decref(req);
    cr_assert_null(pt_fa_recv(c));
}

Test(client, events_between_answers_reach_the_callback)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_events_between, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    pt_events e = {.c = c};
    portco_set_event_cb(c, pt_on_event, &e);
    portco_status st;
    cr_assert_eq(portco_release(c, "web", 30005, &st), 0, "%s", st.message);
    cr_assert_geq(e.n, 1);
    cr_assert_eq(e.ev[0].type, PORTCO_EVENT_CONFLICT);
    cr_assert_eq(e.ev[0].claim.port, 30005);
    cr_assert_str_eq(e.ev[0].claim.pool, "web");
    cr_assert_str_eq(e.ev[0].message, "port 30005 of pool web was taken by host h2");
    cr_assert_eq(e.fd_in_cb, portco_fd(c));
    /* The reasserted event may have come with the answer or later. */
    struct pollfd p = {.fd = portco_fd(c), .events = POLLIN};
    long long waited = 0;
    while (e.n < 2 && waited < 5000) {
        poll(&p, 1, 100);
        waited += 100;
        cr_assert_geq(portco_poll(c), 0);
    }
    cr_assert_eq(e.n, 2, "unknown events are skipped, known ones delivered");
    cr_assert_eq(e.ev[1].type, PORTCO_EVENT_REASSERTED);
    cr_assert_eq(e.ev[1].claim.port, 30006);
    portco_close(c);
    pt_fa_stop(&f);
}

static void pt_script_unprompted_event(pt_conn *c, void *arg)
{
    pt_fa_send(c,
               "{\"v\":1,\"event\":\"conflict\",\"claim\":" PT_CLAIM_FMT ",\"message\":\"lost\"}",
               "web", 30007);
    cr_assert_null(pt_fa_recv(c));
}

Test(client, poll_dispatches_waiting_events_without_blocking)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_unprompted_event, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    pt_events e = {.c = c};
    portco_set_event_cb(c, pt_on_event, &e);
    struct pollfd p = {.fd = portco_fd(c), .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 5000), 1);
    cr_assert_eq(portco_poll(c), 1);
    cr_assert_eq(e.n, 1);
    cr_assert_eq(e.ev[0].claim.port, 30007);
    cr_assert_eq(portco_poll(c), 0, "nothing more waiting: returns at once");
    portco_close(c);
    pt_fa_stop(&f);
}

/* ---------- failure paths ---------- */

static void pt_script_garbage(pt_conn *c, void *arg)
{
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    pt_fa_send(c, "this is not json at all");
    json_decref(req);
    cr_assert_null(pt_fa_recv(c), "the client closes the connection after garbage");
}

Test(client, garbage_answer_is_eproto_then_enoagent)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_garbage, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &pt_opts, &cl, &st), PORTCO_EPROTO);
    cr_assert_eq(st.code, PORTCO_EPROTO);
    cr_assert_eq(portco_release(c, "web", 1, &st), PORTCO_ENOAGENT);
    cr_assert_eq(portco_poll(c), PORTCO_ENOAGENT);
    pt_fa_stop(&f); /* the client shut the stream down: the script sees EOF */
    portco_close(c);
}

static void pt_script_wrong_version(pt_conn *c, void *arg)
{
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    pt_fa_send(c, "{\"v\":2,\"id\":%lld,\"ok\":true}", pt_id(req));
    json_decref(req);
    cr_assert_null(pt_fa_recv(c));
}

Test(client, other_protocol_version_is_eversion)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_wrong_version, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    portco_status st;
    cr_assert_eq(portco_release(c, "web", 30001, &st), PORTCO_EVERSION);
    portco_close(c);
    pt_fa_stop(&f);
}

static void pt_script_hang_up(pt_conn *c, void *arg)
{
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    json_decref(req);
    /* Return without answering: the connection closes mid-call. */
}

Test(client, agent_gone_mid_call_is_enoagent)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_hang_up, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &pt_opts, &cl, &st), PORTCO_ENOAGENT);
    cr_assert_not_null(strstr(st.message, f.path), "%s", st.message);
    cr_assert_eq(portco_acquire(c, &pt_opts, &cl, &st), PORTCO_ENOAGENT);
    portco_close(c);
    pt_fa_stop(&f);
}

static void pt_script_oversize(pt_conn *c, void *arg)
{
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    size_t n = PC_PROTO_MAX_LINE + 4096;
    char *big = malloc(n);
    cr_assert_not_null(big);
    memset(big, ' ', n);
    int len = snprintf(big, n, "{\"v\":1,\"id\":%lld,\"ok\":true,\"pad\":\"", pt_id(req));
    big[len] = 'x'; /* overwrite the NUL: the string goes on with spaces */
    big[n - 3] = '"';
    big[n - 2] = '}';
    big[n - 1] = '\n';
    int rc = pc_frame_send_all(c->fd, big, n, -1, 5000);
    cr_assert(rc == 0 || rc == -EPIPE || rc == -ECONNRESET);
    free(big);
    json_decref(req);
    pt_fa_recv(c); /* until the client hangs up */
}

Test(client, oversize_answer_is_rejected)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_oversize, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    portco_status st;
    cr_assert_eq(portco_release(c, "web", 30001, &st), PORTCO_EPROTO);
    cr_assert_not_null(strstr(st.message, "65536"), "%s", st.message);
    portco_close(c);
    pt_fa_stop(&f);
}

/* ---------- descriptor passing ---------- */

static void pt_script_pass_socket(pt_conn *c, void *arg)
{
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    cr_assert(json_is_true(json_object_get(req, "socket")));
    cr_assert(json_is_true(json_object_get(req, "listen")));
    /* The agent's sockets are non-blocking; the client hands out a blocking one. */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(s, 8), 0);
    socklen_t sl = sizeof(sa);
    getsockname(s, (struct sockaddr *)&sa, &sl);
    pt_fa_send_fd(c, s, "{\"v\":1,\"id\":%lld,\"ok\":true,\"fd\":true,\"claim\":" PT_CLAIM_FMT "}",
                  pt_id(req), "web", ntohs(sa.sin_port));
    close(s); /* the agent's copy; the client owns the other */
    json_decref(req);
    cr_assert_null(pt_fa_recv(c));
}

Test(client, socket_is_received_listening)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_pass_socket, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    portco_acquire_opts o = pt_opts;
    o.flags = PORTCO_ACQ_SOCKET | PORTCO_ACQ_LISTEN;
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), 0, "%s", st.message);
    cr_assert_geq(cl.fd, 0);
    cr_assert(fcntl(cl.fd, F_GETFD) & FD_CLOEXEC, "received with MSG_CMSG_CLOEXEC");
    cr_assert_eq(fcntl(cl.fd, F_GETFL) & O_NONBLOCK, 0, "handed out in blocking mode");
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    cr_assert_eq(getsockname(cl.fd, (struct sockaddr *)&sa, &sl), 0);
    cr_assert_eq(ntohs(sa.sin_port), cl.port);
    int acc = 0;
    sl = sizeof(acc);
    cr_assert_eq(getsockopt(cl.fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &sl), 0);
    cr_assert_eq(acc, 1, "the socket listens");
    /* And it serves: connect to it and accept. */
    int cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(connect(cli, (struct sockaddr *)&sa, sizeof(sa)), 0);
    int conn = accept4(cl.fd, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(conn, 0);
    close(conn);
    close(cli);
    close(cl.fd);
    portco_close(c);
    pt_fa_stop(&f);
}

static void pt_script_fd_missing(pt_conn *c, void *arg)
{
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    pt_fa_send(c, "{\"v\":1,\"id\":%lld,\"ok\":true,\"fd\":true,\"claim\":" PT_CLAIM_FMT "}",
               pt_id(req), "web", 30010);
    json_decref(req);
    cr_assert_null(pt_fa_recv(c));
}

Test(client, announced_socket_that_never_came_is_eproto)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_fd_missing, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    portco_acquire_opts o = pt_opts;
    o.flags = PORTCO_ACQ_SOCKET;
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), PORTCO_EPROTO);
    cr_assert_eq(cl.fd, -1);
    portco_close(c);
    pt_fa_stop(&f);
}

/* ---------- list ---------- */

static void pt_script_list(pt_conn *c, void *arg)
{
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    cr_assert_str_eq(json_string_value(json_object_get(req, "op")), "list");
    cr_assert_str_eq(json_string_value(json_object_get(req, "pool")), "web");
    pt_fa_send(c,
               "{\"v\":1,\"id\":%lld,\"ok\":true,\"claims\":[" PT_CLAIM_FMT "," PT_CLAIM_FMT "]}",
               pt_id(req), "web", 30001, "web", 30002);
    json_decref(req);
    req = pt_fa_recv(c);
    cr_assert_not_null(req);
    cr_assert_null(json_object_get(req, "pool"), "no pool: the whole cluster");
    pt_fa_send(c, "{\"v\":1,\"id\":%lld,\"ok\":true,\"claims\":[]}", pt_id(req));
    json_decref(req);
    req = pt_fa_recv(c);
    cr_assert_not_null(req);
    pt_fa_send(c, "{\"v\":1,\"id\":%lld,\"ok\":true,\"claims\":[{\"port\":\"x\"}]}", pt_id(req));
    json_decref(req);
    cr_assert_null(pt_fa_recv(c));
}

Test(client, list_returns_every_claim)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_list, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    portco_claim *cls;
    size_t n;
    portco_status st;
    cr_assert_eq(portco_list(c, "web", &cls, &n, &st), 0, "%s", st.message);
    cr_assert_eq(n, 2);
    cr_assert_eq(cls[0].port, 30001);
    cr_assert_eq(cls[1].port, 30002);
    cr_assert_eq(cls[1].fd, -1);
    cr_assert_str_eq(cls[1].host, "h1");
    free(cls);
    cr_assert_eq(portco_list(c, NULL, &cls, &n, &st), 0, "%s", st.message);
    cr_assert_eq(n, 0);
    cr_assert_null(cls);
    cr_assert_eq(portco_list(c, NULL, &cls, &n, &st), PORTCO_EPROTO, "a malformed claim");
    cr_assert_null(cls);
    portco_close(c);
    pt_fa_stop(&f);
}

/* ---------- threads ---------- */

#define PT_THREADS 8
#define PT_CALLS   50

/* Answers each acquire with the port it asked for, so every caller can check
 * that it got its own answer. */
static void pt_script_echo(pt_conn *c, void *arg)
{
    json_t *req;
    int *served = arg;
    while ((req = pt_fa_recv(c)) != NULL) {
        int port = (int)json_integer_value(json_object_get(req, "port"));
        pt_fa_send(c, "{\"v\":1,\"id\":%lld,\"ok\":true,\"claim\":" PT_CLAIM_FMT "}", pt_id(req),
                   "web", port);
        if (port % 7 == 0) /* and some events in between */
            pt_fa_send(c,
                       "{\"v\":1,\"event\":\"reasserted\",\"claim\":" PT_CLAIM_FMT
                       ",\"message\":\"m\"}",
                       "web", port);
        json_decref(req);
        (*served)++;
    }
}

typedef struct pt_worker {
    portco_client *c;
    int base;
    int ok;
} pt_worker;

static void *pt_worker_main(void *p)
{
    pt_worker *w = p;
    for (int i = 0; i < PT_CALLS; i++) {
        portco_acquire_opts o = pt_opts;
        o.port = (uint16_t)(w->base + i);
        portco_claim cl;
        portco_status st;
        if (portco_acquire(w->c, &o, &cl, &st) == 0 && cl.port == o.port)
            w->ok++;
    }
    return NULL;
}

static void pt_count_event(portco_client *c, const portco_event *ev, void *ud)
{
    __atomic_add_fetch((int *)ud, 1, __ATOMIC_RELAXED);
}

Test(client, threads_sharing_a_client_each_get_their_answer)
{
    pt_fa f;
    int served = 0;
    pt_fa_start(&f, pt_script_echo, &served, 1);
    portco_client *c;
    pt_connect(&f, &c);
    int events = 0;
    portco_set_event_cb(c, pt_count_event, &events);
    pthread_t th[PT_THREADS];
    pt_worker w[PT_THREADS];
    for (int i = 0; i < PT_THREADS; i++) {
        w[i] = (pt_worker){.c = c, .base = 20000 + i * 1000};
        cr_assert_eq(pthread_create(&th[i], NULL, pt_worker_main, &w[i]), 0);
    }
    for (int i = 0; i < PT_THREADS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(w[i].ok, PT_CALLS, "thread %d: %d of %d calls got their own answer", i,
                     w[i].ok, PT_CALLS);
    }
    /* Events behind the last answer may still be unread. */
    struct pollfd p = {.fd = portco_fd(c), .events = POLLIN};
    int want = 0;
    for (int i = 0; i < PT_THREADS; i++)
        for (int k = 0; k < PT_CALLS; k++)
            want += (20000 + i * 1000 + k) % 7 == 0;
    for (int tries = 0; events < want && tries < 50; tries++) {
        poll(&p, 1, 100);
        cr_assert_geq(portco_poll(c), 0);
    }
    cr_assert_eq(events, want);
    portco_close(c);
    pt_fa_stop(&f);
    cr_assert_eq(served, PT_THREADS * PT_CALLS);
}

/* ---------- version, NULL handles, reserved words ---------- */

Test(client, version_of_the_loaded_library_matches_the_header)
{
    cr_assert_eq(portco_version(), (unsigned)PORTCO_VERSION_HEX);
    cr_assert_str_eq(portco_version_string(), PORTCO_VERSION_STRING);
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", PORTCO_VERSION_MAJOR, PORTCO_VERSION_MINOR,
             PORTCO_VERSION_PATCH);
    cr_assert_str_eq(portco_version_string(), want);
    cr_assert_eq(portco_version() >> 16, (unsigned)PORTCO_VERSION_MAJOR);
    cr_assert_eq((portco_version() >> 8) & 0xff, (unsigned)PORTCO_VERSION_MINOR);
    cr_assert_eq(portco_version() & 0xff, (unsigned)PORTCO_VERSION_PATCH);
}

Test(client, null_client_is_bad_request_not_an_errno)
{
    cr_assert_eq(portco_fd(NULL), PORTCO_EBADREQ);
    cr_assert_str_eq(portco_err_name(portco_fd(NULL)), "BAD_REQUEST");
    cr_assert_eq(portco_set_timeout(NULL, 100), PORTCO_EBADREQ);
    cr_assert_eq(portco_poll(NULL), PORTCO_EBADREQ);
    char *json = (char *)1;
    portco_status st;
    cr_assert_eq(portco_agent_status(NULL, &json, &st), PORTCO_EBADREQ);
    cr_assert_null(json, "outputs are cleared on every failure");
    portco_claim cl;
    memset(&cl, 0xa5, sizeof(cl));
    cr_assert_eq(portco_acquire(NULL, &pt_opts, &cl, &st), PORTCO_EBADREQ);
    cr_assert_eq(cl.fd, -1);
    cr_assert_eq(cl.port, 0);
    portco_claim *cls = (portco_claim *)1;
    size_t n = 5;
    cr_assert_eq(portco_list(NULL, NULL, &cls, &n, &st), PORTCO_EBADREQ);
    cr_assert_null(cls);
    cr_assert_eq(n, 0);
    portco_list_free(NULL);
    portco_agent_status_free(NULL);
}

Test(client, connect_options_are_checked)
{
    portco_client *c = (portco_client *)1;
    portco_status st;
    cr_assert_eq(portco_connect_with(NULL, &c, &st), PORTCO_EBADREQ);
    cr_assert_null(c);
    portco_connect_opts o = {.path = "/tmp/pt-client-nothing-here/agent.sock", .timeout_ms = -2};
    cr_assert_eq(portco_connect_with(&o, &c, &st), PORTCO_EBADREQ);
    cr_assert_not_null(strstr(st.message, "timeout_ms"), "%s", st.message);
    o.timeout_ms = 0;
    o.reserved[6] = 1;
    cr_assert_eq(portco_connect_with(&o, &c, &st), PORTCO_EBADREQ);
    cr_assert_not_null(strstr(st.message, "reserved"), "%s", st.message);
    o.reserved[6] = 0;
    cr_assert_eq(portco_connect_with(&o, &c, &st), PORTCO_ENOAGENT, "%s", st.message);
}

Test(client, nonzero_reserved_options_are_refused_before_sending)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_silent, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    portco_acquire_opts o = pt_opts;
    o.reserved[7] = 42;
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), PORTCO_EBADREQ);
    cr_assert_not_null(strstr(st.message, "reserved"), "%s", st.message);
    cr_assert_eq(cl.fd, -1);
    cr_assert_eq(portco_set_timeout(c, -2), PORTCO_EBADREQ);
    portco_close(c);
    pt_fa_stop(&f);
}

static bool pt_all_zero(const uint64_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (w[i] != 0)
            return false;
    return true;
}

Test(client, filled_structs_have_their_reserved_words_zeroed)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_acquire, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    portco_claim cl;
    memset(&cl, 0xa5, sizeof(cl)); /* whatever the caller's memory held */
    portco_status st;
    cr_assert_eq(portco_acquire(c, &pt_opts, &cl, &st), 0, "%s", st.message);
    cr_assert(pt_all_zero(cl.reserved, sizeof(cl.reserved) / sizeof(cl.reserved[0])));
    portco_close(c);
    pt_fa_stop(&f);
}

/* ---------- codes from the agent ---------- */

/* Answers each request with the error code name it is given in arg, in turn. */
static void pt_script_codes(pt_conn *c, void *arg)
{
    const char *const *names = arg;
    for (size_t i = 0; names[i]; i++) {
        json_t *req = pt_fa_recv(c);
        cr_assert_not_null(req);
        pt_fa_send(c,
                   "{\"v\":1,\"id\":%lld,\"ok\":false,\"error\":{\"code\":\"%s\","
                   "\"message\":\"m %s\"}}",
                   pt_id(req), names[i], names[i]);
        json_decref(req);
    }
    cr_assert_null(pt_fa_recv(c));
}

Test(client, every_code_the_agent_sends_reaches_the_caller)
{
    static const char *const names[] = {
        "NOT_READY", "AGENT_SHUTTING_DOWN", "INTERNAL", "ENOMEM", "SOME_FUTURE_CODE", "OK", NULL};
    static const int want[] = {PORTCO_ENOTREADY, PORTCO_ESHUTDOWN, PORTCO_EINTERNAL,
                               -ENOMEM,          PORTCO_EPROTO,    PORTCO_EPROTO};
    pt_fa f;
    pt_fa_start(&f, pt_script_codes, (void *)names, 1);
    portco_client *c;
    pt_connect(&f, &c);
    for (size_t i = 0; names[i]; i++) {
        portco_claim *cls = (portco_claim *)1;
        size_t n = 9;
        portco_status st;
        int rc = portco_list(c, NULL, &cls, &n, &st);
        cr_assert_eq(rc, want[i], "%s gave %d (%s)", names[i], rc, portco_err_name(rc));
        cr_assert_eq(st.code, want[i]);
        cr_assert_null(cls);
        cr_assert_eq(n, 0);
    }
    portco_close(c);
    pt_fa_stop(&f);
}

/* ---------- events: whole messages, borrowed pointers ---------- */

static void pt_script_long_event(pt_conn *c, void *arg)
{
    char msg[401];
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    pt_fa_send(c, "{\"v\":1,\"event\":\"conflict\",\"claim\":" PT_CLAIM_FMT ",\"message\":\"%s\"}",
               "web", 30008, msg);
    cr_assert_null(pt_fa_recv(c));
}

typedef struct pt_copied_event {
    int n;
    size_t message_len;
    bool reserved_zero;
    uint16_t port;
} pt_copied_event;

static void pt_copy_event(portco_client *c, const portco_event *ev, void *ud)
{
    pt_copied_event *e = ud; /* ev is borrowed: keep copies only */
    e->n++;
    e->message_len = strlen(ev->message);
    e->port = ev->claim.port;
    e->reserved_zero =
        pt_all_zero(ev->reserved, sizeof(ev->reserved) / sizeof(ev->reserved[0])) &&
        pt_all_zero(ev->claim.reserved, sizeof(ev->claim.reserved) / sizeof(ev->claim.reserved[0]));
}

Test(client, event_message_arrives_whole)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_long_event, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    pt_copied_event e = {0};
    portco_set_event_cb(c, pt_copy_event, &e);
    struct pollfd p = {.fd = portco_fd(c), .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 5000), 1);
    cr_assert_eq(portco_poll(c), 1);
    cr_assert_eq(e.n, 1);
    cr_assert_eq(e.port, 30008);
    cr_assert_eq(e.message_len, 400, "a 400-byte message was cut to %zu", e.message_len);
    cr_assert(e.reserved_zero);
    portco_close(c);
    pt_fa_stop(&f);
}

/* ---------- list_free and status ---------- */

static void pt_script_status(pt_conn *c, void *arg)
{
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    cr_assert_str_eq(json_string_value(json_object_get(req, "op")), "status");
    pt_fa_send(c,
               "{\"v\":1,\"id\":%lld,\"ok\":true,\"host\":\"h1\",\"version\":\"9.9.9\","
               "\"zookeeper\":\"connected\",\"ready\":true,\"pools\":[\"web\"],\"claims\":3,"
               "\"holding\":1,\"session\":\"0x10\",\"counters\":{\"grants\":5},"
               "\"future_field\":[1,2]}",
               pt_id(req));
    json_decref(req);
    req = pt_fa_recv(c);
    cr_assert_not_null(req);
    pt_fa_send(c,
               "{\"v\":1,\"id\":%lld,\"ok\":false,\"error\":{\"code\":\"AGENT_SHUTTING_DOWN\","
               "\"message\":\"the agent is shutting down\"}}",
               pt_id(req));
    json_decref(req);
    req = pt_fa_recv(c);
    cr_assert_not_null(req);
    pt_fa_send(c, "{\"v\":1,\"id\":%lld,\"ok\":tru", pt_id(req));
    json_decref(req);
    cr_assert_null(pt_fa_recv(c));
}

Test(client, agent_status_is_the_answer_without_its_envelope)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_status, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    char *text = NULL;
    portco_status st;
    cr_assert_eq(portco_agent_status(c, &text, &st), 0, "%s", st.message);
    cr_assert_not_null(text);
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    cr_assert_not_null(o, "not JSON: %s", text);
    portco_agent_status_free(text);
    cr_assert_str_eq(json_string_value(json_object_get(o, "host")), "h1");
    cr_assert_str_eq(json_string_value(json_object_get(o, "version")), "9.9.9");
    cr_assert(json_is_true(json_object_get(o, "ready")));
    cr_assert_eq(json_integer_value(json_object_get(o, "claims")), 3);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "counters"), "grants")), 5);
    cr_assert_eq(json_array_size(json_object_get(o, "future_field")), 2, "unknown fields pass");
    cr_assert_null(json_object_get(o, "v"));
    cr_assert_null(json_object_get(o, "id"));
    cr_assert_null(json_object_get(o, "ok"));
    json_decref(o);

    text = (char *)1;
    cr_assert_eq(portco_agent_status(c, &text, &st), PORTCO_ESHUTDOWN);
    cr_assert_null(text);
    cr_assert_str_eq(st.message, "the agent is shutting down");
    cr_assert_eq(portco_agent_status(c, &text, &st), PORTCO_EPROTO);
    cr_assert_null(text);
    portco_close(c);
    pt_fa_stop(&f);
}

Test(client, list_is_freed_with_list_free)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_list, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    portco_claim *cls;
    size_t n;
    portco_status st;
    cr_assert_eq(portco_list(c, "web", &cls, &n, &st), 0, "%s", st.message);
    cr_assert_eq(n, 2);
    cr_assert(pt_all_zero(cls[1].reserved, sizeof(cls[1].reserved) / sizeof(cls[1].reserved[0])));
    portco_list_free(cls);
    cr_assert_eq(portco_list(c, NULL, &cls, &n, &st), 0, "%s", st.message);
    portco_list_free(cls); /* NULL when empty */
    cr_assert_eq(portco_list(c, NULL, &cls, &n, &st), PORTCO_EPROTO);
    portco_close(c);
    pt_fa_stop(&f);
}

/* ---------- timeouts ---------- */

static long long pt_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads a request and never answers, as a stopped agent; ends when the client hangs up. */
static void pt_script_mute(pt_conn *c, void *arg)
{
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    json_decref(req);
    cr_assert_null(pt_fa_recv(c), "the client closes the connection after its timeout");
}

typedef struct pt_log {
    int n;
    portco_log_level level;
    char message[256];
} pt_log;

static void pt_keep_log(portco_log_level level, const char *message, void *ud)
{
    pt_log *l = ud; /* message is borrowed: copy it */
    l->n++;
    l->level = level;
    snprintf(l->message, sizeof(l->message), "%s", message);
}

/* Margin above a timeout for a loaded machine (2 cores shared by parallel builds). */
#define PT_TIMEOUT_SLACK_MS 5000

Test(client, silent_agent_times_out_and_the_connection_closes)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_mute, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    pt_log log = {0};
    portco_set_log_cb(c, pt_keep_log, &log);
    cr_assert_eq(portco_set_timeout(c, 200), 0);
    portco_status st;
    long long t0 = pt_mono_ms();
    cr_assert_eq(portco_release(c, "web", 30001, &st), -ETIMEDOUT, "%s", st.message);
    long long took = pt_mono_ms() - t0;
    cr_assert_geq(took, 200);
    cr_assert_lt(took, 200 + PT_TIMEOUT_SLACK_MS);
    cr_assert_eq(st.code, -ETIMEDOUT);
    cr_assert_not_null(strstr(st.message, "200 ms"), "%s", st.message);
    cr_assert_not_null(strstr(st.message, f.path), "%s", st.message);
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.level, PORTCO_LOG_WARN);
    cr_assert_not_null(strstr(log.message, f.path), "%s", log.message);
    cr_assert_eq(portco_release(c, "web", 30001, &st), PORTCO_ENOAGENT, "closed after a timeout");
    pt_fa_stop(&f); /* the script saw the end of the stream */
    portco_close(c);
}

typedef struct pt_slow {
    int delay_ms; /* answer after this long */
} pt_slow;

static void pt_script_slow_grant(pt_conn *c, void *arg)
{
    pt_slow *s = arg;
    json_t *req = pt_fa_recv(c);
    cr_assert_not_null(req);
    cr_assert_eq(json_integer_value(json_object_get(req, "wait_ms")), 3000);
    usleep((useconds_t)s->delay_ms * 1000); /* the agent waits for the holder */
    pt_fa_send(c, "{\"v\":1,\"id\":%lld,\"ok\":true,\"claim\":" PT_CLAIM_FMT "}", pt_id(req), "web",
               30011);
    json_decref(req);
    cr_assert_null(pt_fa_recv(c));
}

Test(client, acquire_with_wait_gets_the_wait_on_top_of_the_timeout)
{
    pt_slow s = {.delay_ms = 800};
    pt_fa f;
    pt_fa_start(&f, pt_script_slow_grant, &s, 1);
    portco_client *c;
    pt_connect(&f, &c);
    cr_assert_eq(portco_set_timeout(c, 200), 0);
    portco_acquire_opts o = pt_opts;
    o.port = 30011;
    o.wait_ms = 3000;
    portco_claim cl;
    portco_status st;
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), 0, "answer after 800 ms of 200 + 3000: %s",
                 st.message);
    cr_assert_eq(cl.port, 30011);
    portco_close(c);
    pt_fa_stop(&f);
}

Test(client, acquire_wait_is_bounded_by_timeout_plus_wait)
{
    pt_fa f;
    pt_fa_start(&f, pt_script_mute, NULL, 1);
    portco_client *c;
    pt_connect(&f, &c);
    cr_assert_eq(portco_set_timeout(c, 200), 0);
    portco_acquire_opts o = pt_opts;
    o.port = 30012;
    o.wait_ms = 400;
    portco_claim cl;
    portco_status st;
    long long t0 = pt_mono_ms();
    cr_assert_eq(portco_acquire(c, &o, &cl, &st), -ETIMEDOUT, "%s", st.message);
    long long took = pt_mono_ms() - t0;
    cr_assert_geq(took, 600, "gave up after %lld ms, before 200 + 400", took);
    cr_assert_lt(took, 600 + PT_TIMEOUT_SLACK_MS);
    cr_assert_eq(cl.fd, -1);
    cr_assert_eq(cl.port, 0);
    pt_fa_stop(&f);
    portco_close(c);
}

Test(client, connect_to_a_full_listen_queue_times_out)
{
    char dir[] = "/tmp/pt-client-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[100];
    snprintf(path, sizeof(path), "%s/agent.sock", dir);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(lfd, 0), 0);
    /* Nobody accepts: fill the queue, as with a stopped agent. */
    int fill[64], nfill = 0;
    for (; nfill < 64; nfill++) {
        fill[nfill] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (connect(fill[nfill], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            cr_assert_eq(errno, EAGAIN, "connect: %s", strerror(errno));
            close(fill[nfill]);
            break;
        }
    }
    cr_assert_lt(nfill, 64, "the listen queue never filled");
    portco_connect_opts o = {.path = path, .timeout_ms = 300};
    portco_client *c = (portco_client *)1;
    portco_status st;
    long long t0 = pt_mono_ms();
    cr_assert_eq(portco_connect_with(&o, &c, &st), -ETIMEDOUT, "%s", st.message);
    long long took = pt_mono_ms() - t0;
    cr_assert_geq(took, 300);
    cr_assert_lt(took, 300 + PT_TIMEOUT_SLACK_MS);
    cr_assert_null(c);
    cr_assert_not_null(strstr(st.message, path), "%s", st.message);
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    close(lfd);
    unlink(path);
    rmdir(dir);
}
