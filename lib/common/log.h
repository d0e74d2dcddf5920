/* log.h - leveled logging to stderr for the daemons and the CLI. */
#ifndef PC_LOG_H
#define PC_LOG_H

enum { PC_LOG_DEBUG = 0, PC_LOG_INFO = 1, PC_LOG_WARN = 2, PC_LOG_ERROR = 3 };

/* Messages below `level` are dropped. Default PC_LOG_INFO; $PORTCO_LOG=debug lowers it. */
void pc_log_set_level(int level);
int pc_log_level(void);

/* Set the name printed in front of every line (e.g. "portco-agent"). */
void pc_log_set_ident(const char *ident);

void pc_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pc_debug(...) pc_log(PC_LOG_DEBUG, __VA_ARGS__)
#define pc_info(...) pc_log(PC_LOG_INFO, __VA_ARGS__)
#define pc_warn(...) pc_log(PC_LOG_WARN, __VA_ARGS__)
#define pc_err(...) pc_log(PC_LOG_ERROR, __VA_ARGS__)

#endif
