/* cmd_claims.c - placeholder until the subcommand lands. */
#include <stdio.h>

#include "commands.h"

int pc_cmd_acquire(const pc_cli_globals *g, int argc, char **argv)
{
    fprintf(stderr, "portco acquire: not available yet\n");
    return PC_EXIT_USAGE;
}

int pc_cmd_release(const pc_cli_globals *g, int argc, char **argv)
{
    fprintf(stderr, "portco release: not available yet\n");
    return PC_EXIT_USAGE;
}

int pc_cmd_ls(const pc_cli_globals *g, int argc, char **argv)
{
    fprintf(stderr, "portco ls: not available yet\n");
    return PC_EXIT_USAGE;
}
