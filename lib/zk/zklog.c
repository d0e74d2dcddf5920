/* zklog.c - the ZooKeeper client library's log, routed into lib/common/log.h. */
#include "zklog.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zookeeper/zookeeper.h>

#include "log.h"

#define PC_ZK_LOG_REPEAT_S 30

/*
 * The st client formats "time:pid:ZOO_LEVEL@function@line: message". Keep the
 * level and the message; the rest is noise next to our own log prefix.
 */
void pc_zk_log_line(const char *message)
{
    int level = PC_LOG_DEBUG;
    const char *text = message;
    const char *lv = strstr(message, "ZOO_");
    if (lv) {
        /* The client's errors are about reaching the servers (refused, timed
         * out, unresolvable): an outage, which an operator must see. */
        if (strncmp(lv, "ZOO_ERROR@", 10) == 0)
            level = PC_LOG_WARN;
        const char *at = strchr(lv, '@');
        at = at ? strchr(at + 1, '@') : NULL;
        const char *colon = at ? strstr(at, ": ") : NULL;
        if (colon)
            text = colon + 2;
    }
    size_t n = strcspn(text, "\n");
    /*
     * A client that cannot reach its servers retries every few tens of ms and
     * logs an error each time: repeat the same line at warn level at most
     * every PC_ZK_LOG_REPEAT_S seconds, and at debug level in between.
     */
    static char last[256];
    static time_t last_at;
    time_t now = time(NULL);
    if (level == PC_LOG_WARN) {
        if (n < sizeof(last) && strncmp(last, text, n) == 0 && last[n] == '\0' &&
            now - last_at < PC_ZK_LOG_REPEAT_S) {
            level = PC_LOG_DEBUG;
        } else {
            snprintf(last, sizeof(last), "%.*s", (int)n, text);
            last_at = now;
        }
    }
    pc_log(level, "zookeeper: %.*s", (int)n, text);
}

static char pc_zk_logbuf[1024];
static size_t pc_zk_loglen;

/* stdio cookie for the library-wide stream: split writes into lines. */
static ssize_t pc_zk_log_write(void *cookie, const char *buf, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (buf[i] == '\n' || pc_zk_loglen == sizeof(pc_zk_logbuf) - 1) {
            pc_zk_logbuf[pc_zk_loglen] = '\0';
            if (pc_zk_loglen > 0)
                pc_zk_log_line(pc_zk_logbuf);
            pc_zk_loglen = 0;
            if (buf[i] == '\n')
                continue;
        }
        pc_zk_logbuf[pc_zk_loglen++] = buf[i];
    }
    return (ssize_t)size;
}

void pc_zk_log_setup(void)
{
    static FILE *stream;
    if (!stream) {
        cookie_io_functions_t fns = {.write = pc_zk_log_write};
        stream = fopencookie(NULL, "w", fns);
        if (stream) {
            setvbuf(stream, NULL, _IOLBF, 0);
            zoo_set_log_stream(stream);
        }
    }
    /* The client's DEBUG level logs every packet; INFO is plenty for debugging. */
    zoo_set_debug_level(pc_log_level() <= PC_LOG_DEBUG ? ZOO_LOG_LEVEL_INFO : ZOO_LOG_LEVEL_ERROR);
}
