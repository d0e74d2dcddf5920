/* errtab.c - portco's return codes: their text and stable names (portco.h, PORTCO_ERRNO_MAP). */
#include <errno.h>
#include <string.h>

#include "portco.h"

/*
 * Kept apart from error.c's pc_error helpers so that a program linking both
 * portco_common and libportco (the CLI) takes these from libportco only: an
 * archive member is linked in only for a symbol nothing before it defined.
 */

#define PC_ERR_ENTRY(name, value, code, msg) {value, code, msg},
static const struct {
    int value;
    const char *code;
    const char *msg;
} pc_errtab[] = {PORTCO_ERRNO_MAP(PC_ERR_ENTRY)};
#undef PC_ERR_ENTRY

#define PC_NERR (sizeof(pc_errtab) / sizeof(pc_errtab[0]))

/* Largest errno value portco_err_name() and portco_err_from_name() look at. */
#define PC_ERRNO_MAX 4095

const char *portco_strerror(int code)
{
    if (code == 0)
        return "success";
    for (size_t i = 0; i < PC_NERR; i++)
        if (pc_errtab[i].value == code)
            return pc_errtab[i].msg;
    if (code < 0 && code >= -PC_ERRNO_MAX) {
        /* strerrordesc_np, unlike strerror, is thread-safe: a static string. */
        const char *d = strerrordesc_np(-code);
        if (d)
            return d;
    }
    return "unknown error";
}

const char *portco_err_name(int code)
{
    if (code == 0)
        return "OK";
    for (size_t i = 0; i < PC_NERR; i++)
        if (pc_errtab[i].value == code)
            return pc_errtab[i].code;
    if (code < 0 && code >= -PC_ERRNO_MAX) {
        const char *n = strerrorname_np(-code);
        if (n)
            return n;
    }
    return "UNKNOWN";
}

int portco_err_from_name(const char *name, int *code)
{
    if (!name || !code)
        return PORTCO_EBADREQ;
    if (strcmp(name, "OK") == 0) {
        *code = 0;
        return 0;
    }
    for (size_t i = 0; i < PC_NERR; i++)
        if (strcmp(pc_errtab[i].code, name) == 0) {
            *code = pc_errtab[i].value;
            return 0;
        }
    if (name[0] == 'E')
        for (int e = 1; e <= PC_ERRNO_MAX; e++) {
            const char *n = strerrorname_np(e);
            if (n && strcmp(n, name) == 0) {
                *code = -e;
                return 0;
            }
        }
    return PORTCO_EBADREQ;
}
