/* usage.h - the table of subcommands: every synopsis, help text and usage message comes from it. */
#ifndef PC_CLI_USAGE_H
#define PC_CLI_USAGE_H

#include <stdbool.h>
#include <stdio.h>

#include "commands.h"

/* The subcommand called `name`, or NULL. */
const pc_cli_cmd *pc_cli_cmd_find(const char *name);

/* "<prefix>portco NAME ARGS", wrapped at 80 columns outside brackets. */
void pc_cli_print_synopsis(FILE *f, const char *prefix, const pc_cli_cmd *cmd);

/* The synopsis, then what the command does and its options. */
void pc_cli_print_help(FILE *f, const pc_cli_cmd *cmd);

/* The global usage: the invocation forms and every command's synopsis. */
void pc_cli_print_usage(FILE *f);

/*
 * A usage error of command `name`: "portco NAME: <message>" and the
 * synopsis on stderr. Returns PC_EXIT_USAGE.
 */
int pc_cli_usage(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* `portco NAME --help`: the help on stdout. Returns PC_EXIT_OK (PC_EXIT_FAIL when stdout fails). */
int pc_cli_help(const char *name);

/*
 * Parse a non-negative decimal number of seconds ("2.5") into milliseconds,
 * rounded up; with forever_ok, "forever" gives -1. Returns 0 or -EINVAL.
 */
int pc_cli_parse_seconds(const char *s, bool forever_ok, int *ms);

#endif
