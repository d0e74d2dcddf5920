/* cmd_claims.h - `portco acquire`, `release`, `ls` (claims through libportco) and `status`. */
#ifndef PC_CLI_CMD_CLAIMS_H
#define PC_CLI_CMD_CLAIMS_H

#include <jansson.h>
#include <stdbool.h>

#include "commands.h"

/* argv[0] is the subcommand name; getopt-style parsing of the rest. Each returns the exit code. */
int pc_cmd_acquire(const pc_cli_globals *g, int argc, char **argv);
int pc_cmd_release(const pc_cli_globals *g, int argc, char **argv);
int pc_cmd_ls(const pc_cli_globals *g, int argc, char **argv);
int pc_cmd_status(const pc_cli_globals *g, int argc, char **argv);

/* The agent socket: --socket, else $PORTCO_SOCKET, else PORTCO_DEFAULT_SOCKET. */
const char *pc_cli_socket_path(const pc_cli_globals *g);

/*
 * Ask the local agent for its status (the `status` request). On success
 * *view gets the answer without v, id and ok (owned; json_decref it).
 * Returns 0, or a negative code after saying on stderr what failed (nothing
 * is said when `quiet`).
 */
int pc_cli_agent_status(const pc_cli_globals *g, bool quiet, json_t **view);

#endif
