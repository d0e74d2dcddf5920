/* test_run_cli.c - `portco run` without an agent: its command line, and serve_fd3.py under
 * systemd's own socket activation. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "support.h"

TestSuite(run_cli, .fini = pt_teardown, .timeout = 60);

/* Run `portco --socket <nowhere> ARGS...`: exit status `want`, stderr
 * naming want_err. */
static void pt_run_cli(char *const args[], int want, const char *want_err)
{
    char bin[512], *argv[24];
    pt_bin("portco", bin, sizeof(bin));
    int i = 0;
    argv[i++] = bin;
    argv[i++] = "--socket";
    argv[i++] = "/nonexistent/agent.sock";
    for (int k = 0; args[k]; k++)
        argv[i++] = args[k];
    argv[i] = NULL;
    char *err = NULL;
    int status = -1;
    cr_assert_eq(pt_run(argv, NULL, 10000, NULL, &err, &status), 0);
    cr_assert_eq(status, want, "%s %s ...: exit %d, stderr: %s", args[0], args[1], status, err);
    cr_assert(strstr(err, want_err), "stderr lacks '%s': %s", want_err, err);
    free(err);
}

Test(run_cli, usage_errors_exit_2_before_the_agent_is_asked)
{
    pt_run_cli((char *[]){"run", "--service", "s", "--", "true", NULL}, 2, "required");
    pt_run_cli((char *[]){"run", "--pool", "p", "--", "true", NULL}, 2, "required");
    pt_run_cli((char *[]){"run", "--pool", "p", "--service", "s", NULL}, 2, "no command");
    pt_run_cli(
        (char *[]){"run", "--pool", "p", "--service", "s", "--port", "70000", "--", "true", NULL},
        2, "--port");
    pt_run_cli(
        (char *[]){"run", "--pool", "p", "--service", "s", "--wait", "3", "--", "true", NULL}, 2,
        "--wait needs --port");
    pt_run_cli((char *[]){"run", "--pool", "p", "--service", "s", "--no-listen", "--backlog", "5",
                          "--", "true", NULL},
               2, "--backlog");
    pt_run_cli((char *[]){"run", "--bogus", "--pool", "p", "--service", "s", "--", "true", NULL}, 2,
               "--bogus");
}

Test(run_cli, no_agent_exits_1_and_runs_nothing)
{
    pt_run_cli((char *[]){"run", "--pool", "p", "--service", "s", "--", "sh", "-c",
                          "echo ran >&2; exit 9", NULL},
               1, "AGENT_UNAVAILABLE");
}

Test(run_cli, serve_fd3_speaks_plain_systemd_socket_activation)
{
    /* docs/handoff.md: systemd-socket-activate -l 127.0.0.1:8080 --fdname=hello python3
     * serve_fd3.py */
    if (access("/usr/bin/systemd-socket-activate", X_OK) != 0)
        cr_skip_test("systemd-socket-activate is not installed");
    char script[512], listen[64], body[4096];
    snprintf(script, sizeof(script), "%s/examples/handoff/serve_fd3.py", pt_source_dir());
    int port = pt_free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    char *argv[] = {"/usr/bin/systemd-socket-activate",
                    "-l",
                    listen,
                    "--fdname=hello",
                    "python3",
                    script,
                    NULL};
    pid_t pid = pt_track(pt_spawn(argv, NULL, "/dev/null", "/dev/null"));
    cr_assert_gt(pid, 0);
    /* It listens at once and starts the program on the first connection. */
    cr_assert(pt_wait_until(pt_http_serves, &port, 20000), "no answer on %d", port);
    cr_assert_eq(pt_http_get(port, "/", body, sizeof(body)), 200);
    cr_assert(strstr(body, "\"name\": \"hello\""), "body: %s", body);
    int status = -1;
    cr_assert_eq(kill(pid, SIGTERM), 0);
    cr_assert_eq(pt_wait_pid(pid, 10000, &status), 0);
    cr_assert_eq(status, 0);
}
