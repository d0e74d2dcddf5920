/* usage.c - the table of subcommands: every synopsis, help text and usage message comes from it. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_claims.h"
#include "cmd_lint.h"
#include "cmd_probe.h"
#include "cmd_run.h"
#include "portco.h"
#include "usage.h"

/*
 * One row per subcommand. `args` is the synopsis after "portco NAME"; every
 * option it names is one the command parses, and the other way round (the
 * test `cli_help::every_synopsis_option_is_parsed` checks the first half).
 * `help` is what `portco help NAME` prints after the synopsis.
 */
static const pc_cli_cmd pc_cli_cmds[] = {
    {"check", pc_cmd_check,
     "PORT [--proto tcp|udp|both] [--addr IP] [--timewait reuseaddr|avoid] [--ephemeral "
     "warn|avoid] "
     "[--allow-privileged] [--json]",
     "Is PORT usable on this host right now, and if not, why not? Exit 0 when it is;\n"
     "else 1, with every reason (\"30080/tcp: LISTEN on 0.0.0.0 by pid 4242 (nginx)\").\n"
     "Claims the local agent knows of on PORT are named as well.\n"
     "\n"
     "  --proto tcp|udp|both  the protocol(s) to test (default tcp)\n"
     "  --addr IP             the numeric address the service will bind (0.0.0.0)\n"
     "  --timewait reuseaddr|avoid\n"
     "                        TIME_WAIT sockets on PORT: usable with SO_REUSEADDR\n"
     "                        (default), or a reason to avoid the port\n"
     "  --ephemeral warn|avoid\n"
     "                        PORT in the kernel's ephemeral range: a warning\n"
     "                        (default), or a reason to avoid it\n"
     "  --allow-privileged    ports below ip_unprivileged_port_start may be usable\n"
     "  --json                the verdict, findings, sockets and claims as JSON\n"},
    {"who", pc_cmd_who, "PORT [--json]",
     "Every local socket on PORT (tcp and udp): state, addresses, owning pid and\n"
     "command, like `ss -tuanp`; then the portco claims on PORT that the local agent\n"
     "knows of.\n"
     "\n"
     "  --json                the sockets as a JSON array\n"},
    {"lint", pc_cmd_lint, "[--json] [--agent FILE]... [FILE...]",
     "Validate cluster files (FILE) and agent files (--agent FILE) and list every\n"
     "error as file:line:col: error[code]: message. Exit 0 when every file is valid,\n"
     "else 1.\n"
     "\n"
     "  FILE                  a cluster file (pools, static assignments)\n"
     "  --agent FILE          an agent file (may be repeated)\n"
     "  --json                print the errors as a JSON array on stdout\n"},
    {"acquire", pc_cmd_acquire,
     "--pool P --service S [--instance I] [--port N] [--wait SECS] [--hold-pid PID] [--explicit] "
     "[--json]",
     "Claim a port of pool P for service S and print it. The claim is held until\n"
     "`portco release` (explicit, the default), or until process PID exits.\n"
     "\n"
     "  --pool P              the pool to claim from (required)\n"
     "  --service S           the service the port is for (required)\n"
     "  --instance I          the instance of the service, recorded with the claim\n"
     "  --port N              this port of the pool, not any free one\n"
     "  --wait SECS           with --port: wait up to SECS (e.g. 2.5, or 'forever')\n"
     "                        for the port's holder to release it\n"
     "  --hold-pid PID        the claim ends when process PID exits\n"
     "  --explicit            the claim lasts until `portco release` (the default)\n"
     "  --json                the claim (port, claim name, fencing token) as JSON\n"},
    {"release", pc_cmd_release, "--pool P [--claim NAME] PORT",
     "Release this host's claim on PORT of pool P. Prints nothing on success.\n"
     "\n"
     "  --pool P              the pool of the claim (required)\n"
     "  --claim NAME          only this claim (the `claim` field of `acquire --json`):\n"
     "                        if it has ended and another claim holds PORT now,\n"
     "                        nothing is released (exit 1, NOT_OWNER)\n"},
    {"ls", pc_cmd_ls, "[--pool P] [--json]",
     "Every claim in the cluster (all hosts), read from ZooKeeper by the local agent.\n"
     "\n"
     "  --pool P              only the claims of pool P\n"
     "  --json                the claims as a JSON array\n"},
    {"status", pc_cmd_status, "[--json]",
     "The local agent: host id, version, ZooKeeper state, pools loaded, claims held,\n"
     "counters. Exit 0 when the agent is connected to ZooKeeper and has loaded the\n"
     "pools; 1 when it is not (after printing the status), or cannot be reached.\n"
     "\n"
     "  --json                the status as a JSON object\n"},
    {"run", pc_cmd_run,
     "--pool P --service S [--port N] [--instance I] [--wait SECS] [--no-listen] [--backlog N] "
     "[--v6only] [--listen-grace SECS] -- CMD ARGS...",
     "Claim a port and run CMD with the claimed, bound socket as fd 3 (LISTEN_FDS=1,\n"
     "LISTEN_PID, LISTEN_FDNAMES=S: systemd socket activation) and PORT, PORTCO_PORT,\n"
     "PORTCO_POOL, PORTCO_SERVICE, PORTCO_INSTANCE, PORTCO_HOST, PORTCO_CLAIM,\n"
     "PORTCO_CZXID, PORTCO_ADDRESS, PORTCO_PROTO set. The claim lasts as long as CMD.\n"
     "Exit status: CMD's (128+signal if it was killed), 1 if no port was claimed,\n"
     "2 on a usage error.\n"
     "\n"
     "  --pool P              the pool to claim from (required)\n"
     "  --service S           the service the port is for (required)\n"
     "  --port N              this port of the pool, not any free one\n"
     "  --instance I          the instance of the service, recorded with the claim\n"
     "  --wait SECS           with --port: wait up to SECS (or 'forever') for the port\n"
     "  --no-listen           hand the socket over bound but not listening\n"
     "  --backlog N           listen() backlog (default SOMAXCONN)\n"
     "  --v6only              an IPv6 socket that does not also take IPv4\n"
     "  --listen-grace SECS   warn when CMD has not taken up its socket after SECS\n"
     "                        (default 5; 0: no check). A program that binds a port\n"
     "                        of its own: see docs/handoff.md.\n"},
};

#define PC_NCMDS (sizeof(pc_cli_cmds) / sizeof(pc_cli_cmds[0]))

/* Longest line the synopses are wrapped to. */
#define PC_USAGE_WIDTH 80

const pc_cli_cmd *pc_cli_cmd_find(const char *name)
{
    for (size_t i = 0; name && i < PC_NCMDS; i++)
        if (strcmp(name, pc_cli_cmds[i].name) == 0)
            return &pc_cli_cmds[i];
    return NULL;
}

/*
 * Print `lead` then `text`, breaking lines only at blanks outside brackets so
 * that "[--proto tcp|udp|both]" stays whole; continuation lines are indented
 * to the width of `lead`.
 */
static void pc_print_wrapped(FILE *f, const char *lead, const char *text)
{
    size_t indent = strlen(lead), col = indent;
    fputs(lead, f);
    const char *p = text;
    while (*p) {
        /* The next word: up to a blank at bracket depth 0; "-- CMD ARGS..." is one. */
        const char *e = p;
        int depth = 0;
        bool rest = strncmp(p, "-- ", 3) == 0;
        while (*e && (*e != ' ' || depth > 0 || rest)) {
            depth += *e == '[' ? 1 : *e == ']' ? -1 : 0;
            e++;
        }
        size_t n = (size_t)(e - p);
        if (col > indent && col + 1 + n > PC_USAGE_WIDTH) {
            fprintf(f, "\n%*s", (int)indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, n, f);
        col += n;
        p = *e ? e + 1 : e;
    }
    fputc('\n', f);
}

void pc_cli_print_synopsis(FILE *f, const char *prefix, const pc_cli_cmd *cmd)
{
    char lead[64];
    snprintf(lead, sizeof(lead), "%sportco %s ", prefix, cmd->name);
    pc_print_wrapped(f, lead, cmd->args);
}

void pc_cli_print_help(FILE *f, const pc_cli_cmd *cmd)
{
    pc_cli_print_synopsis(f, "usage: ", cmd);
    fprintf(f, "\n%s", cmd->help);
}

void pc_cli_print_usage(FILE *f)
{
    fprintf(f, "usage: portco [--socket PATH] COMMAND [ARGS]\n"
               "       portco help [COMMAND]\n"
               "       portco --version\n"
               "\n"
               "commands:\n");
    for (size_t i = 0; i < PC_NCMDS; i++)
        pc_cli_print_synopsis(f, "  ", &pc_cli_cmds[i]);
    fprintf(f,
            "\n`portco help COMMAND` (or `portco COMMAND --help`) tells what a command does\n"
            "and what its options mean.\n"
            "The agent socket is --socket, else $PORTCO_SOCKET, else " PORTCO_DEFAULT_SOCKET ".\n"
            "Exit status: 0 success, 1 failure (or \"no\"), 2 usage error.\n");
}

int pc_cli_usage(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "portco %s: ", name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    const pc_cli_cmd *cmd = pc_cli_cmd_find(name);
    if (cmd)
        pc_cli_print_synopsis(stderr, "usage: ", cmd);
    return PC_EXIT_USAGE;
}

int pc_cli_help(const char *name)
{
    const pc_cli_cmd *cmd = pc_cli_cmd_find(name);
    if (!cmd)
        return PC_EXIT_USAGE;
    pc_cli_print_help(stdout, cmd);
    return fflush(stdout) == 0 ? PC_EXIT_OK : PC_EXIT_FAIL;
}

int pc_cli_parse_seconds(const char *s, bool forever_ok, int *ms)
{
    if (forever_ok && strcmp(s, "forever") == 0) {
        *ms = -1;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0 || v > INT32_MAX / 1000.0)
        return -EINVAL;
    double m = v * 1000.0;
    *ms = (int)m + (m > (int)m); /* round up: never wait less than asked */
    return 0;
}
