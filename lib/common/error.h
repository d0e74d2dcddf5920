/* error.h - error detail carried beside return codes inside portco. */
#ifndef PC_ERROR_H
#define PC_ERROR_H

#include "portco.h"

/*
 * Functions that can fail return 0 or a negative code (-errno or PORTCO_E*)
 * and, when the caller passes a non-NULL pc_error, fill it with the same code
 * and a message saying what went wrong and what to fix. `file`, `line` and
 * `col` are set for errors that point into a file (config), else empty/0.
 */
typedef struct pc_error {
    int code;
    char file[256];
    int line;
    int col;
    char msg[512];
} pc_error;

/* Fill *err (when not NULL) and return `code`. */
int pc_error_set(pc_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like pc_error_set(), with a position in a file. */
int pc_error_set_at(pc_error *err, int code, const char *file, int line, int col, const char *fmt,
                    ...) __attribute__((format(printf, 6, 7)));

/* Reset *err to "no error". Accepts NULL. */
void pc_error_clear(pc_error *err);

/* Format as "file:line:col: message" or just the message; returns buf. */
const char *pc_error_format(const pc_error *err, char *buf, size_t len);

#endif
