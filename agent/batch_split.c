/* batch_split.c - the split decision of a refused combined multi-op, from its per-op results. */
#include "batch_split.h"

#include <stdbool.h>

/* Did one of the member's own operations fail? */
static bool pc_member_failed(const zoo_op_result_t *results, const pc_batch_span *m)
{
    for (int i = m->first; i < m->first + m->count; i++) {
        int err = results[i].err;
        if (err != ZOK && err != ZRUNTIMEINCONSISTENCY)
            return true;
    }
    return false;
}

int pc_batch_split(int rc, const zoo_op_result_t *results, const pc_batch_span *members,
                   int nmembers, pc_batch_verdict *verdict)
{
    int failed = 0;
    for (int i = 0; i < nmembers; i++) {
        bool f = rc != ZOK && pc_member_failed(results, &members[i]);
        verdict[i] = f ? PC_BATCH_FAILED : PC_BATCH_AGAIN;
        failed += f;
    }
    if (failed == 0)
        for (int i = 0; i < nmembers; i++)
            verdict[i] = PC_BATCH_ANSWER;
    return failed;
}
