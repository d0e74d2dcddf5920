/* cmd_probe.c - placeholder until the subcommand lands. */
#include <stdio.h>

#include "commands.h"

int pc_cmd_check(const pc_cli_globals *g, int argc, char **argv)
{
    fprintf(stderr, "portco check: not available yet\n");
    return PC_EXIT_USAGE;
}

int pc_cmd_who(const pc_cli_globals *g, int argc, char **argv)
{
    fprintf(stderr, "portco who: not available yet\n");
    return PC_EXIT_USAGE;
}
