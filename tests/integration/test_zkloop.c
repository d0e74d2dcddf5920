/* test_zkloop.c - lib/zk against the shared ZooKeeper: loop-driven sessions. */
#include <criterion/criterion.h>
#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "evloop.h"
#include "portco.h"
#include "support.h"
#include "zkloop.h"
#include "zkpath.h"
#include "zkread.h"

#define SESSION_MS 2000
#define WAIT_MS    10000

/* States a handle reported, in order. */
typedef struct states {
    pc_zk_state seen[32];
    int n;
    bool reopen_on_expiry; /* call pc_zk_reopen() from inside the EXPIRED callback */
    int reopen_rc;
} states;

static void on_state(pc_zk *zk, pc_zk_state st, void *ud)
{
    states *s = ud;
    if (s->n < 32)
        s->seen[s->n++] = st;
    if (st == PC_ZK_EXPIRED && s->reopen_on_expiry)
        s->reopen_rc = pc_zk_reopen(zk, NULL, NULL);
}

static bool saw(const states *s, pc_zk_state st)
{
    for (int i = 0; i < s->n; i++)
        if (s->seen[i] == st)
            return true;
    return false;
}

typedef struct want {
    pc_zk *zk;
    pc_zk_state state;
} want;

static bool in_state(void *arg)
{
    want *w = arg;
    return pc_zk_get_state(w->zk) == w->state;
}

static bool flag_set(void *arg)
{
    return *(bool *)arg;
}

static struct event_base *base;
static pc_zk *zk;
static states st;
static char root[256];

static void setup(void)
{
    cr_assert_not_null(pt_zk_shared(), "no shared ZooKeeper (run through ctest)");
    base = event_base_new();
    cr_assert_not_null(base);
    memset(&st, 0, sizeof(st));
    pt_unique_root("zkloop", root, sizeof(root));
}

static void teardown(void)
{
    pc_zk_close(zk);
    zk = NULL;
    pt_zkr *s = NULL;
    if (pt_zkr_connect(&s, pt_zk_shared(), SESSION_MS, WAIT_MS) == 0) {
        pt_zkr_delete_tree(s, root);
        pt_zkr_close(s);
    }
    event_base_free(base);
    base = NULL;
}

static void open_connected(void)
{
    pc_error err;
    int rc = pc_zk_open(base, pt_zk_shared(), SESSION_MS, NULL, on_state, &st, &zk, &err);
    cr_assert_eq(rc, 0, "pc_zk_open: %s", err.msg);
    want w = {zk, PC_ZK_CONNECTED};
    cr_assert(pt_loop_until(base, in_state, &w, WAIT_MS), "no session within %d ms", WAIT_MS);
}

TestSuite(zkloop, .init = setup, .fini = teardown, .timeout = 60);

Test(zkloop, open_reports_connecting_then_connected)
{
    open_connected();
    cr_assert_geq(st.n, 2);
    cr_assert_eq(st.seen[0], PC_ZK_CONNECTING);
    cr_assert_eq(st.seen[st.n - 1], PC_ZK_CONNECTED);
    cr_assert_neq(pc_zk_client_id(zk)->client_id, 0);
    cr_assert_gt(pc_zk_recv_timeout(zk), 0);
    cr_assert_leq(pc_zk_recv_timeout(zk), SESSION_MS);
    cr_assert_not_null(pc_zk_handle(zk));
}

/* ---- create / get through the loop ---- */

typedef struct op {
    bool done;
    int zrc;
    char value[256];
} op;

static void created(int zrc, const char *value, const void *data)
{
    op *o = (op *)data;
    o->zrc = zrc;
    if (zrc == ZOK && value)
        snprintf(o->value, sizeof(o->value), "%s", value);
    o->done = true;
}

static void got(int zrc, const char *value, int len, const struct Stat *stat, const void *data)
{
    op *o = (op *)data;
    o->zrc = zrc;
    if (zrc == ZOK && value && len >= 0)
        snprintf(o->value, sizeof(o->value), "%.*s", len, value);
    o->done = true;
}

static void mkdirs_done(int rc, void *ud)
{
    op *o = ud;
    o->zrc = rc;
    o->done = true;
}

static int mkdirs_wait(const char *path)
{
    op o = {0};
    int rc = pc_zk_mkdirs(zk, path, mkdirs_done, &o);
    if (rc < 0)
        return rc;
    cr_assert(pt_loop_until(base, flag_set, &o.done, WAIT_MS), "mkdirs %s timed out", path);
    return o.zrc;
}

Test(zkloop, create_and_get_round_trip)
{
    open_connected();
    cr_assert_eq(mkdirs_wait(root), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/node", root);
    op c = {0};
    cr_assert_eq(
        zoo_acreate(pc_zk_handle(zk), path, "hello", 5, &ZOO_OPEN_ACL_UNSAFE, 0, created, &c), ZOK);
    pc_zk_kick(zk);
    cr_assert(pt_loop_until(base, flag_set, &c.done, WAIT_MS));
    cr_assert_eq(c.zrc, ZOK, "create: %s", zerror(c.zrc));
    cr_assert_str_eq(c.value, path);

    op g = {0};
    cr_assert_eq(zoo_aget(pc_zk_handle(zk), path, 0, got, &g), ZOK);
    cr_assert(pt_loop_until(base, flag_set, &g.done, WAIT_MS));
    cr_assert_eq(g.zrc, ZOK);
    cr_assert_str_eq(g.value, "hello");

    /* Creating it again fails with "exists", which maps to -EEXIST. */
    op again = {0};
    cr_assert_eq(
        zoo_acreate(pc_zk_handle(zk), path, "x", 1, &ZOO_OPEN_ACL_UNSAFE, 0, created, &again), ZOK);
    cr_assert(pt_loop_until(base, flag_set, &again.done, WAIT_MS));
    cr_assert_eq(pc_zk_err(again.zrc), -EEXIST);
}

Test(zkloop, mkdirs_creates_every_level_and_is_idempotent)
{
    open_connected();
    char path[512];
    snprintf(path, sizeof(path), "%s/a/b/c", root);
    cr_assert_eq(mkdirs_wait(path), 0);
    cr_assert_eq(mkdirs_wait(path), 0);
    pt_zkr *s;
    cr_assert_eq(pt_zkr_connect(&s, pt_zk_shared(), SESSION_MS, WAIT_MS), 0);
    cr_assert_eq(pt_zkr_exists(s, path, NULL), 0);
    pt_zkr_close(s);

    cr_assert_eq(pc_zk_mkdirs(zk, "relative/x", mkdirs_done, NULL), -EINVAL);
    cr_assert_eq(pc_zk_mkdirs(zk, "/", mkdirs_done, NULL), -EINVAL);
    cr_assert_eq(pc_zk_mkdirs(zk, "/a//b", mkdirs_done, NULL), -EINVAL);
    cr_assert_eq(pc_zk_mkdirs(zk, "/a/b/", mkdirs_done, NULL), -EINVAL);
}

Test(zkloop, mkdirs_below_an_ephemeral_fails)
{
    open_connected();
    cr_assert_eq(mkdirs_wait(root), 0);
    char eph[512], below[600];
    snprintf(eph, sizeof(eph), "%s/eph", root);
    snprintf(below, sizeof(below), "%s/x/y", eph);
    op c = {0};
    zoo_acreate(pc_zk_handle(zk), eph, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, created, &c);
    cr_assert(pt_loop_until(base, flag_set, &c.done, WAIT_MS));
    cr_assert_eq(c.zrc, ZOK);
    cr_assert_eq(mkdirs_wait(below), -ENOTDIR);
}

Test(zkloop, ephemeral_sequential_node_goes_with_close)
{
    open_connected();
    cr_assert_eq(mkdirs_wait(root), 0);
    char prefix[512];
    snprintf(prefix, sizeof(prefix), "%s/_c_u-lock-", root);
    op c = {0};
    zoo_acreate(pc_zk_handle(zk), prefix, "{}", 2, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL,
                created, &c);
    cr_assert(pt_loop_until(base, flag_set, &c.done, WAIT_MS));
    cr_assert_eq(c.zrc, ZOK);
    const char *name = strrchr(c.value, '/') + 1;
    pc_claim_name cn;
    cr_assert_eq(pc_zkp_claim_parse(name, &cn), 0, "created name %s", name);
    cr_assert_str_eq(cn.uuid, "u");

    pt_zkr *s;
    cr_assert_eq(pt_zkr_connect(&s, pt_zk_shared(), SESSION_MS, WAIT_MS), 0);
    cr_assert_eq(pt_zkr_exists(s, c.value, NULL), 0);
    pc_zk_close(zk);
    zk = NULL;
    /* The close is sent to the server: gone at once, not after the session timeout. */
    long long t0 = pt_now_ms();
    int rc;
    while ((rc = pt_zkr_exists(s, c.value, NULL)) == 0 && pt_now_ms() - t0 < WAIT_MS)
        pt_nap_ms(20);
    cr_assert_eq(rc, -ENOENT);
    cr_assert_lt(pt_now_ms() - t0, SESSION_MS);
    pt_zkr_close(s);
}

Test(zkloop, nothing_listening_stays_connecting)
{
    char hosts[64];
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%d", pt_free_port());
    cr_assert_eq(pc_zk_open(base, hosts, SESSION_MS, NULL, on_state, &st, &zk, NULL), 0);
    /* A request queued meanwhile must be failed by close, not leaked. */
    op c = {0};
    char path[512];
    snprintf(path, sizeof(path), "%s/never", root);
    cr_assert_eq(zoo_acreate(pc_zk_handle(zk), path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, created, &c),
                 ZOK);
    bool never = false;
    long long t0 = pt_now_ms();
    pt_loop_until(base, flag_set, &never, 1500);
    cr_assert_lt(pt_now_ms() - t0, 3000);
    cr_assert_eq(pc_zk_get_state(zk), PC_ZK_CONNECTING);
    cr_assert_eq(st.n, 1, "reported %d states", st.n);
    cr_assert_eq(st.seen[0], PC_ZK_CONNECTING);
    pc_zk_close(zk);
    zk = NULL;
    cr_assert(c.done, "pending completion not called by close");
    cr_assert_eq(pc_zk_err(c.zrc), PORTCO_EZKUNAVAIL);
}

Test(zkloop, bad_arguments)
{
    pc_zk *z = (pc_zk *)0x1;
    pc_error err;
    cr_assert_eq(pc_zk_open(NULL, "127.0.0.1:1", 1000, NULL, NULL, NULL, &z, &err), -EINVAL);
    cr_assert_eq(pc_zk_open(base, "", 1000, NULL, NULL, NULL, &z, &err), -EINVAL);
    cr_assert_eq(pc_zk_open(base, "127.0.0.1:1", 0, NULL, NULL, NULL, &z, &err), -EINVAL);
    pc_zk_close(NULL);
    cr_assert_eq(pc_zk_get_state(NULL), PC_ZK_CLOSED);
    cr_assert_null(pc_zk_handle(NULL));
}

/* ---- session expiry ---- */

static void thief_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    if (type == ZOO_SESSION_EVENT)
        *(int *)ctx = state;
}

/*
 * The classic way to expire a session: a second handle attaches to the same
 * session id and password, then closes it. The second handle is driven by
 * its own poll loop while the first one's loop is not running, so the first
 * cannot take the session back in between. The session is gone once its
 * ephemeral node `eph` is.
 */
static void expire_session(const char *eph)
{
    clientid_t cid = *pc_zk_client_id(zk);
    int state = 0;
    zhandle_t *zh = zookeeper_init(pt_zk_shared(), thief_watcher, SESSION_MS, &cid, &state, 0);
    cr_assert_not_null(zh);
    long long end = pt_now_ms() + WAIT_MS;
    while (state != ZOO_CONNECTED_STATE && pt_now_ms() < end) {
        int fd = -1, interest = 0;
        struct timeval tv = {0, 0};
        cr_assert_eq(zookeeper_interest(zh, &fd, &interest, &tv), ZOK);
        struct pollfd p = {.fd = fd,
                           .events = (short)((interest & ZOOKEEPER_READ ? POLLIN : 0) |
                                             (interest & ZOOKEEPER_WRITE ? POLLOUT : 0))};
        int ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
        int n = poll(&p, fd >= 0 ? 1 : 0, ms > 50 ? 50 : ms);
        int events = 0;
        if (n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
            events |= ZOOKEEPER_READ & interest;
        if (n > 0 && (p.revents & (POLLOUT | POLLHUP | POLLERR)))
            events |= ZOOKEEPER_WRITE & interest;
        zookeeper_process(zh, events);
    }
    cr_assert_eq(state, ZOO_CONNECTED_STATE, "second handle never connected");
    zookeeper_close(zh);
    pt_zkr *s;
    cr_assert_eq(pt_zkr_connect(&s, pt_zk_shared(), SESSION_MS, WAIT_MS), 0);
    int rc;
    while ((rc = pt_zkr_exists(s, eph, NULL)) == 0 && pt_now_ms() < end)
        pt_nap_ms(10);
    pt_zkr_close(s);
    cr_assert_eq(rc, -ENOENT, "session not closed");
}

/* An ephemeral node of zk's session, to see the session end. */
static void create_ephemeral(char *path, size_t len)
{
    cr_assert_eq(mkdirs_wait(root), 0);
    snprintf(path, len, "%s/session", root);
    op c = {0};
    zoo_acreate(pc_zk_handle(zk), path, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, created, &c);
    cr_assert(pt_loop_until(base, flag_set, &c.done, WAIT_MS));
    cr_assert_eq(c.zrc, ZOK);
}

static bool saw_expired(void *arg)
{
    return saw(arg, PC_ZK_EXPIRED);
}

Test(zkloop, session_expiry_is_reported_and_reopen_gives_a_new_session)
{
    open_connected();
    int64_t old_id = pc_zk_client_id(zk)->client_id;
    char eph[512];
    create_ephemeral(eph, sizeof(eph));
    expire_session(eph);
    cr_assert(pt_loop_until(base, saw_expired, &st, WAIT_MS), "EXPIRED never reported");
    cr_assert_eq(pc_zk_get_state(zk), PC_ZK_EXPIRED);

    /* Requests on the dead handle fail at once. */
    op c = {0};
    char path[512];
    snprintf(path, sizeof(path), "%s/after", root);
    int zrc = zoo_acreate(pc_zk_handle(zk), path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, created, &c);
    cr_assert_eq(pc_zk_err(zrc), PORTCO_EZKUNAVAIL);

    cr_assert_eq(pc_zk_reopen(zk, NULL, NULL), 0);
    cr_assert_eq(pc_zk_get_state(zk), PC_ZK_CONNECTING);
    want w = {zk, PC_ZK_CONNECTED};
    cr_assert(pt_loop_until(base, in_state, &w, WAIT_MS));
    cr_assert_neq(pc_zk_client_id(zk)->client_id, old_id);
    cr_assert_eq(st.seen[st.n - 1], PC_ZK_CONNECTED);
    cr_assert_eq(mkdirs_wait(root), 0);
}

Test(zkloop, reopen_from_inside_the_expired_callback)
{
    st.reopen_on_expiry = true;
    open_connected();
    int64_t old_id = pc_zk_client_id(zk)->client_id;
    char eph[512];
    create_ephemeral(eph, sizeof(eph));
    expire_session(eph);
    cr_assert(pt_loop_until(base, saw_expired, &st, WAIT_MS), "EXPIRED never reported");
    cr_assert_eq(st.reopen_rc, 0);
    want w = {zk, PC_ZK_CONNECTED};
    cr_assert(pt_loop_until(base, in_state, &w, WAIT_MS));
    cr_assert_neq(pc_zk_client_id(zk)->client_id, old_id);
    cr_assert_eq(mkdirs_wait(root), 0);
}

/* ---- error mapping ---- */

Test(zkloop, error_codes_map_to_portco_codes)
{
    cr_assert_eq(pc_zk_err(ZOK), 0);
    cr_assert_eq(pc_zk_err(ZNONODE), -ENOENT);
    cr_assert_eq(pc_zk_err(ZNODEEXISTS), -EEXIST);
    cr_assert_eq(pc_zk_err(ZNOTEMPTY), -ENOTEMPTY);
    cr_assert_eq(pc_zk_err(ZNOAUTH), -EACCES);
    cr_assert_eq(pc_zk_err(ZBADVERSION), -ESTALE);
    cr_assert_eq(pc_zk_err(ZMARSHALLINGERROR), -EBADMSG);
    cr_assert_eq(pc_zk_err(ZBADARGUMENTS), -EINVAL);
    int unavail[] = {ZCONNECTIONLOSS, ZSESSIONEXPIRED, ZOPERATIONTIMEOUT, ZINVALIDSTATE, ZCLOSING};
    for (size_t i = 0; i < sizeof(unavail) / sizeof(unavail[0]); i++)
        cr_assert_eq(pc_zk_err(unavail[i]), PORTCO_EZKUNAVAIL, "zrc %d", unavail[i]);
    cr_assert_eq(pc_zk_err(-9999), PORTCO_EINTERNAL);
}
