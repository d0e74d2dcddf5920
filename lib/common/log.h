/* log.h - leveled logging to stderr for the daemons and the CLI. */
#ifndef PC_LOG_H
#define PC_LOG_H

enum { PC_LOG_DEBUG = 0, PC_LOG_INFO = 1, PC_LOG_WARN = 2, PC_LOG_ERROR = 3 };

/*
 * Messages below `level` are dropped. Until pc_log_set_level() is called the
 * level is $PORTCO_LOG's (pc_log_level_from_env()), else PC_LOG_INFO.
 */
void pc_log_set_level(int level);
int pc_log_level(void);

/* Parse a level name: "debug", "info", "warn" or "error". Returns 0, or -EINVAL (*level kept). */
int pc_log_level_parse(const char *name, int *level);

/*
 * The level $PORTCO_LOG names: *level gets it, or PC_LOG_INFO when the
 * variable is unset or empty. Returns 0, or -EINVAL when it names no level
 * (*level is then PC_LOG_INFO), so that a daemon can refuse a misspelling.
 */
int pc_log_level_from_env(int *level);

/* Set the name printed in front of every line (e.g. "portco-agent"). */
void pc_log_set_ident(const char *ident);

void pc_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pc_debug(...) pc_log(PC_LOG_DEBUG, __VA_ARGS__)
#define pc_info(...)  pc_log(PC_LOG_INFO, __VA_ARGS__)
#define pc_warn(...)  pc_log(PC_LOG_WARN, __VA_ARGS__)
#define pc_err(...)   pc_log(PC_LOG_ERROR, __VA_ARGS__)

#endif
