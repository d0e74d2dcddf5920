/* log.c - one line per message on stderr: time, ident, level, text. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int pc_level = -1;
static char pc_ident[64] = "portco";

static int pc_level_default(void)
{
    const char *e = getenv("PORTCO_LOG");
    if (e && strcmp(e, "debug") == 0)
        return PC_LOG_DEBUG;
    if (e && strcmp(e, "warn") == 0)
        return PC_LOG_WARN;
    if (e && strcmp(e, "error") == 0)
        return PC_LOG_ERROR;
    return PC_LOG_INFO;
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
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < pc_log_level())
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, pc_ident, names[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}
