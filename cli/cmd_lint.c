/* cmd_lint.c - placeholder until the subcommand lands. */
#include <stdio.h>

#include "commands.h"

int pc_cmd_lint(const pc_cli_globals *g, int argc, char **argv)
{
    fprintf(stderr, "portco lint: not available yet\n");
    return PC_EXIT_USAGE;
}
