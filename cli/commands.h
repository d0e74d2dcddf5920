/* commands.h - what the portco CLI's subcommands share: exit codes, global options, the command
 * table's entry type. Each cmd_*.h declares the entry points of its cmd_*.c. */
#ifndef PC_CLI_COMMANDS_H
#define PC_CLI_COMMANDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* Exit codes shared by every subcommand. */
enum {
    PC_EXIT_OK = 0,    /* success; for check/lint: usable / valid */
    PC_EXIT_FAIL = 1,  /* the answer is "no" or the operation failed */
    PC_EXIT_USAGE = 2, /* bad command line */
};

/* Global options parsed before the subcommand. */
typedef struct pc_cli_globals {
    const char *socket; /* --socket PATH, else $PORTCO_SOCKET, else NULL (library default) */
} pc_cli_globals;

/* A subcommand: its entry point and the text every usage message and help of it comes from. */
typedef struct pc_cli_cmd {
    const char *name;
    int (*fn)(const pc_cli_globals *g, int argc, char **argv);
    const char *args; /* the synopsis after "portco NAME " */
    const char *help; /* what it does, then one line per option; ends in a newline */
} pc_cli_cmd;

#endif
