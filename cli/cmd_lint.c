/* cmd_lint.c - `portco lint`: validate cluster and agent files and report every error. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_file.h"
#include "cmd_lint.h"
#include "usage.h"

/* Lint one file; appends its diagnostics to d. Returns true when the file is valid. */
static bool pc_lint_one(const char *path, bool agent, bool json, pc_diags *d)
{
    size_t before = d->n;
    int rc;
    if (agent) {
        pc_agent_config c;
        rc = pc_agent_config_load_file(path, &c, d);
        if (rc == 0 && !json)
            printf("%s: ok (agent %s, zookeeper %s, root %s)\n", path, c.host_id, c.zookeeper,
                   c.root);
        if (rc == 0)
            pc_agent_config_free(&c);
    } else {
        pc_cluster c;
        rc = pc_cluster_load_file(path, &c, d);
        if (rc == 0 && !json)
            printf("%s: ok (%zu pools, %zu ports, %zu static)\n", path, c.npools,
                   pc_cluster_port_count(&c), c.nstatics);
        if (rc == 0)
            pc_cluster_free(&c);
    }
    if (rc < 0 && d->n == before)
        pc_diags_add(d, PC_DIAG_IO, path, 0, 0, "cannot load the file: %s", portco_strerror(rc));
    return rc == 0;
}

int pc_cmd_lint(const pc_cli_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"agent", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    enum { PC_LINT_MAX = 256 };
    const char *agents[PC_LINT_MAX];
    size_t nagents = 0;
    bool json = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":ja:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'a':
            if (nagents == PC_LINT_MAX)
                return pc_cli_usage("lint", "too many files (at most %d --agent)", PC_LINT_MAX);
            agents[nagents++] = optarg;
            break;
        case 'h':
            return pc_cli_help("lint");
        case ':':
            return pc_cli_usage("lint", "option '%s' needs a value", argv[optind - 1]);
        default:
            return pc_cli_usage("lint", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc && nagents == 0)
        return pc_cli_usage("lint", "no file given");
    pc_diags d = PC_DIAGS_INIT;
    bool ok = true;
    for (int i = optind; i < argc; i++)
        ok &= pc_lint_one(argv[i], false, json, &d);
    for (size_t i = 0; i < nagents; i++)
        ok &= pc_lint_one(agents[i], true, json, &d);
    pc_diags_print(stderr, &d);
    if (json) {
        json_t *arr = pc_diags_to_json(&d);
        char *s = arr ? json_dumps(arr, JSON_INDENT(2)) : NULL;
        if (s)
            printf("%s\n", s);
        else
            fprintf(stderr, "portco lint: out of memory\n");
        free(s);
        json_decref(arr);
    }
    pc_diags_free(&d);
    return ok ? PC_EXIT_OK : PC_EXIT_FAIL;
}
