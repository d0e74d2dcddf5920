/* error.c - error detail carried beside return codes inside portco (pc_error). */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int pc_error_vset(pc_error *err, int code, const char *file, int line, int col,
                         const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
    err->line = line;
    err->col = col;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return code;
}

int pc_error_set(pc_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pc_error_vset(err, code, NULL, 0, 0, fmt, ap);
    va_end(ap);
    return code;
}

int pc_error_set_at(pc_error *err, int code, const char *file, int line, int col, const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    pc_error_vset(err, code, file, line, col, fmt, ap);
    va_end(ap);
    return code;
}

void pc_error_clear(pc_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

const char *pc_error_format(const pc_error *err, char *buf, size_t len)
{
    if (err->file[0])
        snprintf(buf, len, "%s:%d:%d: %s", err->file, err->line, err->col, err->msg);
    else
        snprintf(buf, len, "%s", err->msg);
    return buf;
}
