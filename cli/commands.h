/* commands.h - the portco CLI's subcommands; each returns the process exit code. */
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

/* argv[0] is the subcommand name; getopt-style parsing of the rest. */
int pc_cmd_lint(const pc_cli_globals *g, int argc, char **argv);
int pc_cmd_check(const pc_cli_globals *g, int argc, char **argv);
int pc_cmd_who(const pc_cli_globals *g, int argc, char **argv);
int pc_cmd_acquire(const pc_cli_globals *g, int argc, char **argv);
int pc_cmd_release(const pc_cli_globals *g, int argc, char **argv);
int pc_cmd_ls(const pc_cli_globals *g, int argc, char **argv);
int pc_cmd_status(const pc_cli_globals *g, int argc, char **argv);
int pc_cmd_run(const pc_cli_globals *g, int argc, char **argv);

/* The agent socket: --socket, else $PORTCO_SOCKET, else PORTCO_DEFAULT_SOCKET. */
const char *pc_cli_socket_path(const pc_cli_globals *g);

/*
 * Ask the local agent for its status (the `status` request). On success
 * *view gets the answer without v, id and ok (owned; json_decref it).
 * Returns 0, or a negative code after saying on stderr what failed (nothing
 * is said when `quiet`).
 */
int pc_cli_agent_status(const pc_cli_globals *g, bool quiet, json_t **view);

/* A subcommand: its entry point and the text every usage message and help of it comes from. */
typedef struct pc_cli_cmd {
    const char *name;
    int (*fn)(const pc_cli_globals *g, int argc, char **argv);
    const char *args; /* the synopsis after "portco NAME " */
    const char *help; /* what it does, then one line per option; ends in a newline */
} pc_cli_cmd;

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
