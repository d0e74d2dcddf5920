/* zklog.h - the ZooKeeper client library's log, routed into lib/common/log.h. */
#ifndef PC_ZKLOG_H
#define PC_ZKLOG_H

/*
 * Route the ZooKeeper client library's own logging into lib/common/log.h and
 * set its level from pc_log_level(). pc_zk_open() calls it; callers that
 * use zookeeper_init() directly may call it first.
 */
void pc_zk_log_setup(void);

/* The log callback installed by pc_zk_log_setup(), for zookeeper_init2(). */
void pc_zk_log_line(const char *message);

#endif
