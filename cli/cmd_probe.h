/* cmd_probe.h - `portco check` (is a port usable here, and why not) and `portco who`. */
#ifndef PC_CLI_CMD_PROBE_H
#define PC_CLI_CMD_PROBE_H

#include "commands.h"

/* argv[0] is the subcommand name; getopt-style parsing of the rest. Each returns the exit code. */
int pc_cmd_check(const pc_cli_globals *g, int argc, char **argv);
int pc_cmd_who(const pc_cli_globals *g, int argc, char **argv);

#endif
