/* cmd_lint.h - `portco lint`: validate cluster and agent files and report every error. */
#ifndef PC_CLI_CMD_LINT_H
#define PC_CLI_CMD_LINT_H

#include "commands.h"

/* argv[0] is the subcommand name; getopt-style parsing of the rest. Each returns the exit code. */
int pc_cmd_lint(const pc_cli_globals *g, int argc, char **argv);

#endif
