/* main.c - the portco command line: global options, then one subcommand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_claims.h"
#include "portco_version.h"
#include "usage.h"

/* `portco help [COMMAND]`: argv[0] is "help". */
static int pc_cmd_help(int argc, char **argv)
{
    if (argc == 1) {
        pc_cli_print_usage(stdout);
        return PC_EXIT_OK;
    }
    if (argc > 2) {
        fprintf(stderr, "portco help: one command at a time; unexpected '%s'\n", argv[2]);
        pc_cli_print_usage(stderr);
        return PC_EXIT_USAGE;
    }
    if (!pc_cli_cmd_find(argv[1])) {
        fprintf(stderr, "portco help: no command '%s'\n", argv[1]);
        pc_cli_print_usage(stderr);
        return PC_EXIT_USAGE;
    }
    return pc_cli_help(argv[1]);
}

int main(int argc, char **argv)
{
    pc_cli_globals g = {.socket = getenv("PORTCO_SOCKET")};
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
            g.socket = argv[i + 1];
            i += 2;
        } else if (strncmp(argv[i], "--socket=", 9) == 0) {
            g.socket = argv[i] + 9;
            i++;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            pc_cli_print_usage(stdout);
            return PC_EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("portco %s\n", PORTCO_VERSION_STRING);
            return fflush(stdout) == 0 ? PC_EXIT_OK : PC_EXIT_FAIL;
        } else {
            fprintf(stderr, "portco: unknown option '%s'\n", argv[i]);
            pc_cli_print_usage(stderr);
            return PC_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        pc_cli_print_usage(stderr);
        return PC_EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0)
        return pc_cmd_help(argc - i, argv + i);
    const pc_cli_cmd *cmd = pc_cli_cmd_find(argv[i]);
    if (cmd)
        return cmd->fn(&g, argc - i, argv + i);
    fprintf(stderr, "portco: unknown command '%s'\n", argv[i]);
    pc_cli_print_usage(stderr);
    return PC_EXIT_USAGE;
}
