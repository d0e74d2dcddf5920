/* log.c - one line per message on stderr: time, ident, level, text. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int pc_level = -1;
static char pc_ident[64] = "portco";

static const char *const pc_level_names[] = {"debug", "info", "warn", "error"};

int pc_log_level_parse(const char *name, int *level)
{
    for (int i = PC_LOG_DEBUG; i <= PC_LOG_ERROR; i++)
        if (name && strcmp(name, pc_level_names[i]) == 0) {
            *level = i;
            return 0;
        }
    return -EINVAL;
}

int pc_log_level_from_env(int *level)
{
    const char *e = getenv("PORTCO_LOG");
    *level = PC_LOG_INFO;
    if (!e || !*e)
        return 0;
    return pc_log_level_parse(e, level);
}

static int pc_level_default(void)
{
    int level;
    return pc_log_level_from_env(&level) == 0 ? level : PC_LOG_INFO;
}

void pc_log_set_level(int level)
{
    pc_level = level;
}

int pc_log_level(void)
{
    if (pc_level < 0)
        pc_level = pc_level_default();
    return pc_level;
}

void pc_log_set_ident(const char *ident)
{
    snprintf(pc_ident, sizeof(pc_ident), "%s", ident);
}

void pc_log(int level, const char *fmt, ...)
{
    if (level < pc_log_level())
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, pc_ident, pc_level_names[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}
