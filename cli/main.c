/* main.c - the portco command line: global options, then one subcommand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static const struct {
    const char *name;
    int (*fn)(const pc_cli_globals *, int, char **);
    const char *synopsis;
} pc_cmds[] = {
    {"check", pc_cmd_check, "check PORT [--proto tcp|udp|both] [--addr IP] [--timewait reuseaddr|avoid]\n"
     "                 [--ephemeral warn|avoid] [--allow-privileged] [--json]"},
    {"who", pc_cmd_who, "who PORT [--json]"},
    {"lint", pc_cmd_lint, "lint [--json] [--agent FILE]... [FILE...]"},
    {"acquire", pc_cmd_acquire,
     "acquire --pool P --service S [--instance I] [--port N] [--wait SECS] [--hold-pid PID]\n"
     "                 [--explicit] [--json]"},
    {"release", pc_cmd_release, "release --pool P PORT"},
    {"ls", pc_cmd_ls, "ls [--pool P] [--json]"},
    {"status", pc_cmd_status, "status [--json]"},
    {"run", pc_cmd_run, "run --pool P --service S [--port N] [--instance I] [--wait SECS] [--no-listen]\n"
     "                 [--backlog N] [--v6only] -- CMD ARGS..."},
};

#define PC_NCMDS (sizeof(pc_cmds) / sizeof(pc_cmds[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: portco [--socket PATH] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < PC_NCMDS; i++)
        fprintf(f, "  portco %s\n", pc_cmds[i].synopsis);
    fprintf(f, "\nThe agent socket is --socket, else $PORTCO_SOCKET, else /run/portco/agent.sock.\n"
               "Exit status: 0 success, 1 failure (or \"no\"), 2 usage error.\n");
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
            usage(stdout);
            return PC_EXIT_OK;
        } else {
            fprintf(stderr, "portco: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return PC_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return PC_EXIT_USAGE;
    }
    for (size_t k = 0; k < PC_NCMDS; k++)
        if (strcmp(argv[i], pc_cmds[k].name) == 0)
            return pc_cmds[k].fn(&g, argc - i, argv + i);
    fprintf(stderr, "portco: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return PC_EXIT_USAGE;
}
