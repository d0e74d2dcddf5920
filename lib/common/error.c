/* error.c - portco's error codes, their stable names, and error detail. */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PC_ERR_ENTRY(name, value, code, msg) {value, code, msg},
static const struct {
    int value;
    const char *code;
    const char *msg;
} pc_errtab[] = {PORTCO_ERRNO_MAP(PC_ERR_ENTRY)};
#undef PC_ERR_ENTRY

#define PC_NERR (sizeof(pc_errtab) / sizeof(pc_errtab[0]))

const char *portco_strerror(int code)
{
    if (code == 0)
        return "success";
    for (size_t i = 0; i < PC_NERR; i++)
        if (pc_errtab[i].value == code)
            return pc_errtab[i].msg;
    if (code < 0 && code > -4096)
        return strerror(-code);
    return "unknown error";
}

const char *portco_err_name(int code)
{
    if (code == 0)
        return "OK";
    for (size_t i = 0; i < PC_NERR; i++)
        if (pc_errtab[i].value == code)
            return pc_errtab[i].code;
    if (code < 0 && code > -4096) {
        const char *n = strerrorname_np(-code);
        if (n)
            return n;
    }
    return "UNKNOWN";
}

int portco_err_from_name(const char *name)
{
    if (!name)
        return 0;
    for (size_t i = 0; i < PC_NERR; i++)
        if (strcmp(pc_errtab[i].code, name) == 0)
            return pc_errtab[i].value;
    return 0;
}

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

int pc_error_set_at(pc_error *err, int code, const char *file, int line, int col,
                    const char *fmt, ...)
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
