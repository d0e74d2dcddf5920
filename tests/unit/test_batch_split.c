/* test_batch_split.c - which members of a refused combined multi-op failed, and which go again. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "batch_split.h"

#define A   PC_BATCH_ANSWER
#define F   PC_BATCH_FAILED
#define G   PC_BATCH_AGAIN
#define RTI ZRUNTIMEINCONSISTENCY

enum { MAX_OPS = 12, MAX_MEMBERS = 6 };

typedef struct split_row {
    char name[72];
    int rc;                 /* the multi-op's answer */
    int err[MAX_OPS];       /* per-op results, in the members' order */
    int count[MAX_MEMBERS]; /* ops of each member; the members' spans follow each other */
    int nmembers;
    int want_failed;
    pc_batch_verdict want[MAX_MEMBERS];
} split_row;

/*
 * A refusal from the server: ops before the failing one ZOK, the failing one
 * its error, the ones after ZRUNTIMEINCONSISTENCY. A request that failed as a
 * whole: every op carries the request's error.
 */
static split_row split_rows[] = {
    {"accepted: nothing split", ZOK, {ZOK, ZOK, ZOK, ZOK, ZOK, ZOK}, {2, 2, 2}, 3, 0, {A, A, A}},
    {"accepted, leftover per-op errors are ignored",
     ZOK,
     {ZNODEEXISTS, ZOK, ZOK, ZOK},
     {2, 2},
     2,
     0,
     {A, A}},
    {"first member's first op fails",
     ZNODEEXISTS,
     {ZNODEEXISTS, RTI, RTI, RTI, RTI, RTI},
     {2, 2, 2},
     3,
     1,
     {F, G, G}},
    {"first member's last op fails",
     ZNONODE,
     {ZOK, ZNONODE, RTI, RTI, RTI, RTI},
     {2, 2, 2},
     3,
     1,
     {F, G, G}},
    {"middle member's first op fails",
     ZNODEEXISTS,
     {ZOK, ZOK, ZNODEEXISTS, RTI, RTI, RTI},
     {2, 2, 2},
     3,
     1,
     {G, F, G}},
    {"middle member's last op fails",
     ZBADVERSION,
     {ZOK, ZOK, ZOK, ZBADVERSION, RTI, RTI},
     {2, 2, 2},
     3,
     1,
     {G, F, G}},
    {"last member's last op fails",
     ZBADVERSION,
     {ZOK, ZOK, ZOK, ZOK, ZOK, ZBADVERSION},
     {2, 2, 2},
     3,
     1,
     {G, G, F}},
    {"members of unequal size, the 3-op one fails in its middle",
     ZNOTEMPTY,
     {ZOK, ZOK, ZNOTEMPTY, RTI, RTI, RTI},
     {1, 3, 2},
     3,
     1,
     {G, F, G}},
    {"one op per member, the third fails",
     ZNODEEXISTS,
     {ZOK, ZOK, ZNODEEXISTS, RTI, RTI},
     {1, 1, 1, 1, 1},
     5,
     1,
     {G, G, F, G, G}},
    {"a single member that fails", ZNONODE, {ZOK, ZNONODE, RTI}, {3}, 1, 1, {F}},
    {"connection loss: every member failed, none goes again",
     ZCONNECTIONLOSS,
     {ZCONNECTIONLOSS, ZCONNECTIONLOSS, ZCONNECTIONLOSS, ZCONNECTIONLOSS, ZCONNECTIONLOSS},
     {2, 1, 2},
     3,
     3,
     {F, F, F}},
    {"session closing: every member failed, none goes again",
     ZCLOSING,
     {ZCLOSING, ZCLOSING, ZCLOSING, ZCLOSING},
     {2, 2},
     2,
     2,
     {F, F}},
    {"refused with no op to blame: every member gets the answer",
     ZOPERATIONTIMEOUT,
     {ZOK, ZOK, ZOK, ZOK},
     {2, 2},
     2,
     0,
     {A, A}},
    {"refused, only ZRUNTIMEINCONSISTENCY: nobody to blame",
     ZRUNTIMEINCONSISTENCY,
     {RTI, RTI, RTI},
     {1, 2},
     2,
     0,
     {A, A}},
};

ParameterizedTestParameters(batch_split, table)
{
    return cr_make_param_array(split_row, split_rows, sizeof(split_rows) / sizeof(split_rows[0]));
}

ParameterizedTest(split_row *r, batch_split, table)
{
    zoo_op_result_t results[MAX_OPS] = {{0}};
    pc_batch_span spans[MAX_MEMBERS];
    int nops = 0;
    for (int m = 0; m < r->nmembers; m++) {
        spans[m] = (pc_batch_span){nops, r->count[m]};
        nops += r->count[m];
    }
    for (int i = 0; i < nops; i++)
        results[i].err = r->err[i];
    pc_batch_verdict got[MAX_MEMBERS];
    int failed = pc_batch_split(r->rc, results, spans, r->nmembers, got);
    cr_expect_eq(failed, r->want_failed, "%s: %d members failed, want %d", r->name, failed,
                 r->want_failed);
    for (int m = 0; m < r->nmembers; m++)
        cr_expect_eq(got[m], r->want[m], "%s: member %d verdict %d, want %d", r->name, m, got[m],
                     r->want[m]);
}

/*
 * Whichever op the server refuses, exactly the member that owns it fails and
 * every other goes again: each round answers one member, so splitting ends.
 */
Test(batch_split, the_owner_of_the_refused_op_fails_alone)
{
    static const int count[] = {2, 1, 3, 2};
    enum { NM = 4, NOPS = 8 };
    pc_batch_span spans[NM];
    int owner[NOPS];
    for (int m = 0, at = 0; m < NM; at += count[m], m++) {
        spans[m] = (pc_batch_span){at, count[m]};
        for (int k = 0; k < count[m]; k++)
            owner[at + k] = m;
    }
    for (int bad = 0; bad < NOPS; bad++) {
        zoo_op_result_t results[NOPS];
        for (int i = 0; i < NOPS; i++)
            results[i].err = i < bad ? ZOK : i == bad ? ZNODEEXISTS : ZRUNTIMEINCONSISTENCY;
        pc_batch_verdict v[NM];
        cr_assert_eq(pc_batch_split(ZNODEEXISTS, results, spans, NM, v), 1, "op %d refused", bad);
        for (int m = 0; m < NM; m++)
            cr_assert_eq(v[m], m == owner[bad] ? PC_BATCH_FAILED : PC_BATCH_AGAIN,
                         "op %d refused: member %d verdict %d", bad, m, v[m]);
    }
}

static void keep_answer(int rc, const void *data)
{
    *(int *)data = rc;
}

/*
 * The client library's convention for a request that fails as a whole: a
 * multi-op still queued when the handle closes gets ZCLOSING, and so does
 * each of its ops (no server is involved: the handle never connects).
 */
Test(batch_split, a_request_failed_as_a_whole_marks_every_op)
{
    zoo_set_debug_level(0);
    zhandle_t *zh = zookeeper_init("127.0.0.1:1", NULL, 10000, NULL, NULL, 0);
    cr_assert_not_null(zh);
    zoo_op_t ops[3];
    char buf[64];
    zoo_create_op_init(&ops[0], "/a", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, buf, sizeof(buf));
    zoo_delete_op_init(&ops[1], "/b", -1);
    zoo_delete_op_init(&ops[2], "/c", -1);
    zoo_op_result_t results[3];
    for (int i = 0; i < 3; i++)
        results[i].err = 12345;
    int rc = 12345;
    cr_assert_eq(zoo_amulti(zh, 3, ops, results, keep_answer, &rc), ZOK);
    zookeeper_close(zh);
    cr_assert_eq(rc, ZCLOSING);
    pc_batch_span spans[] = {{0, 1}, {1, 2}};
    pc_batch_verdict v[2];
    cr_assert_eq(pc_batch_split(rc, results, spans, 2, v), 2);
    cr_assert_eq(v[0], PC_BATCH_FAILED);
    cr_assert_eq(v[1], PC_BATCH_FAILED);
}
