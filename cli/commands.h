/* commands.h - the portco CLI's subcommands; each returns the process exit code. */
#ifndef PC_CLI_COMMANDS_H
#define PC_CLI_COMMANDS_H

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

#endif
