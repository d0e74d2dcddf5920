/* cmd_run.c - placeholder until the subcommand lands. */
#include <stdio.h>

#include "commands.h"

int pc_cmd_run(const pc_cli_globals *g, int argc, char **argv)
{
    fprintf(stderr, "portco run: not available yet\n");
    return PC_EXIT_USAGE;
}
