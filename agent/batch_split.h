/* batch_split.h - after a combined multi-op is refused: which members failed, which go again. */
#ifndef PC_BATCH_SPLIT_H
#define PC_BATCH_SPLIT_H

#include <zookeeper/zookeeper.h>

/* One member of a combined multi-op: ops[first] to ops[first + count - 1] are its own. */
typedef struct pc_batch_span {
    int first;
    int count;
} pc_batch_span;

/* What becomes of one member once the combined multi-op is answered. */
typedef enum pc_batch_verdict {
    PC_BATCH_ANSWER = 0, /* not split: the member gets the multi-op's answer as it is */
    PC_BATCH_FAILED,     /* one of its own operations failed: it gets the refusal */
    PC_BATCH_AGAIN,      /* refused for another member's operation: it goes out again */
} pc_batch_verdict;

/*
 * The split decision of a combined multi-op of nmembers members (their spans
 * lie inside `results`) answered `rc`, with ZooKeeper's per-op `results`.
 *
 * ZooKeeper answers a multi-op refused by the server with, for each op, ZOK
 * when it came before the failing op (rolled back), the failing op's own
 * error, and ZRUNTIMEINCONSISTENCY when it came after it (not tried). When
 * the request itself fails (connection loss, the session closing), the
 * client gives every op the request's error: whether it was applied is
 * unknown. A member failed when one of its ops reports anything but ZOK or
 * ZRUNTIMEINCONSISTENCY.
 *
 * When rc is ZOK, or no member failed, nothing is split: every verdict[i] is
 * PC_BATCH_ANSWER. Otherwise each failed member gets PC_BATCH_FAILED and
 * every other PC_BATCH_AGAIN: a refusal that other members' operations did
 * not cause must not send them down their failure paths. verdict has
 * nmembers entries. Returns the number of failed members (0: not split).
 */
int pc_batch_split(int rc, const zoo_op_result_t *results, const pc_batch_span *members,
                   int nmembers, pc_batch_verdict *verdict);

#endif
