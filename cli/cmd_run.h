/* cmd_run.h - `portco run`: claim a port, give its bound socket to a command as fd 3. */
#ifndef PC_CLI_CMD_RUN_H
#define PC_CLI_CMD_RUN_H

#include "commands.h"

/* argv[0] is the subcommand name; getopt-style parsing of the rest. Each returns the exit code. */
int pc_cmd_run(const pc_cli_globals *g, int argc, char **argv);

#endif
