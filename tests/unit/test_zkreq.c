/* test_zkreq.c - the ZooKeeper request context: pending count, generations, code mapping. */
#include <criterion/criterion.h>
#include <errno.h>
#include <zookeeper/zookeeper.h>

#include "portco.h"
#include "zkreq.h"

/* Every ZooKeeper code the client library defines, with the portco code it must map to. */
static const struct {
    int zrc;
    int code;
} pc_zk_table[] = {
    {ZOK, 0},
    {ZNOTHING, 0},
    {ZCONNECTIONLOSS, PORTCO_EZKUNAVAIL},
    {ZSESSIONEXPIRED, PORTCO_EZKUNAVAIL},
    {ZOPERATIONTIMEOUT, PORTCO_EZKUNAVAIL},
    {ZINVALIDSTATE, PORTCO_EZKUNAVAIL},
    {ZCLOSING, PORTCO_EZKUNAVAIL},
    {ZSESSIONMOVED, PORTCO_EZKUNAVAIL},
    {ZNOTREADONLY, PORTCO_EZKUNAVAIL},
    {ZTHROTTLEDOP, PORTCO_EZKUNAVAIL},
    {ZNONODE, -ENOENT},
    {ZNOWATCHER, -ENOENT},
    {ZNODEEXISTS, -EEXIST},
    {ZNOTEMPTY, -ENOTEMPTY},
    {ZNOAUTH, -EACCES},
    {ZAUTHFAILED, -EACCES},
    {ZSESSIONCLOSEDREQUIRESASLAUTH, -EACCES},
    {ZBADVERSION, -ESTALE},
    {ZNOCHILDRENFOREPHEMERALS, -ENOTDIR},
    {ZMARSHALLINGERROR, -EBADMSG},
    {ZBADARGUMENTS, -EINVAL},
    {ZINVALIDACL, -EINVAL},
    {ZINVALIDCALLBACK, -EINVAL},
    {ZUNIMPLEMENTED, -ENOSYS},
    {ZRUNTIMEINCONSISTENCY, -EPROTO},
    {ZDATAINCONSISTENCY, -EPROTO},
    {ZSYSTEMERROR, -EIO},
    {ZAPIERROR, PORTCO_EINTERNAL},
    {ZNEWCONFIGNOQUORUM, PORTCO_EINTERNAL},
    {ZRECONFIGINPROGRESS, PORTCO_EINTERNAL},
    {ZEPHEMERALONLOCALSESSION, PORTCO_EINTERNAL},
    {-12345, PORTCO_EINTERNAL},
};

Test(zkreq, every_zookeeper_code_maps_to_its_portco_code)
{
    for (size_t i = 0; i < sizeof(pc_zk_table) / sizeof(pc_zk_table[0]); i++)
        cr_expect_eq(pc_zk_err(pc_zk_table[i].zrc), pc_zk_table[i].code, "%s (%d) -> %d, want %d",
                     zerror(pc_zk_table[i].zrc), pc_zk_table[i].zrc, pc_zk_err(pc_zk_table[i].zrc),
                     pc_zk_table[i].code);
}

Test(zkreq, portco_codes_map_back_to_what_callers_test)
{
    cr_assert_eq(pc_zk_zrc(0), ZOK);
    cr_assert_eq(pc_zk_zrc(PORTCO_EZKUNAVAIL), ZCONNECTIONLOSS);
    cr_assert_eq(pc_zk_zrc(-ENOMEM), ZAPIERROR);
    cr_assert_eq(pc_zk_zrc(PORTCO_EINTERNAL), ZAPIERROR);
    /* A connection loss survives the round trip, which is what callers branch on. */
    cr_assert_eq(pc_zk_err(pc_zk_zrc(PORTCO_EZKUNAVAIL)), PORTCO_EZKUNAVAIL);
}

Test(zkreq, queued_requests_count_until_taken_back)
{
    pc_zk_reqs own = {0};
    int x, y;
    pc_zk_req *a = pc_zk_req_new(&own, &x);
    pc_zk_req *b = pc_zk_req_new(&own, &y);
    cr_assert(a && b);
    cr_assert_eq(own.pending, 0, "made is not queued");
    cr_assert_eq(pc_zk_req_sent(a, ZOK), 0);
    cr_assert_eq(pc_zk_req_sent(b, ZOK), 0);
    cr_assert_eq(own.pending, 2);
    bool cur = false;
    cr_assert_eq(pc_zk_req_take(b, &cur), &y);
    cr_assert(cur);
    cr_assert_eq(own.pending, 1);
    cr_assert_eq(pc_zk_req_take(a, NULL), &x);
    cr_assert_eq(own.pending, 0);
}

Test(zkreq, a_refused_request_is_not_counted_and_reports_the_mapped_code)
{
    pc_zk_reqs own = {0};
    pc_zk_req *a = pc_zk_req_new(&own, NULL);
    cr_assert(a);
    cr_assert_eq(pc_zk_req_sent(a, ZCONNECTIONLOSS), PORTCO_EZKUNAVAIL); /* a is freed */
    cr_assert_eq(own.pending, 0);
    cr_assert_eq(pc_zk_req_sent(NULL, ZSYSTEMERROR), -ENOMEM);
    cr_assert_eq(own.pending, 0);
    pc_zk_req e;
    pc_zk_req_init(&e, &own, &own);
    cr_assert_eq(pc_zk_req_sent(&e, ZINVALIDSTATE), PORTCO_EZKUNAVAIL);
    cr_assert_eq(own.pending, 0);
}

Test(zkreq, an_embedded_context_is_reused_and_counted_once_per_request)
{
    pc_zk_reqs own = {0};
    int x;
    pc_zk_req e;
    for (int i = 0; i < 3; i++) {
        pc_zk_req_init(&e, &own, &x);
        cr_assert_eq(pc_zk_req_sent(&e, ZOK), 0);
        cr_assert_eq(own.pending, 1);
        cr_assert_eq(pc_zk_req_take(&e, NULL), &x);
        cr_assert_eq(own.pending, 0);
        /* Taking back twice (a completion path and a fallback) does not count twice. */
        cr_assert_eq(pc_zk_req_take(&e, NULL), &x);
        cr_assert_eq(own.pending, 0);
    }
}

Test(zkreq, completions_of_an_older_generation_are_stale)
{
    pc_zk_reqs own = {0};
    int x;
    pc_zk_req *old = pc_zk_req_new(&own, &x);
    cr_assert_eq(pc_zk_req_sent(old, ZOK), 0);
    pc_zk_reqs_renew(&own);
    pc_zk_req *now = pc_zk_req_new(&own, &x);
    cr_assert_eq(pc_zk_req_sent(now, ZOK), 0);
    cr_assert_eq(own.pending, 2, "a stale request is still pending until its completion runs");
    bool cur = true;
    cr_assert_eq(pc_zk_req_take(old, &cur), &x);
    cr_assert_not(cur);
    cr_assert_eq(own.pending, 1);
    cr_assert_eq(pc_zk_req_take(now, &cur), &x);
    cr_assert(cur);
    cr_assert_eq(own.pending, 0);
}
