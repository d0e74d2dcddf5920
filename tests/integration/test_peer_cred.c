/* test_peer_cred.c - libportco and the CLI refuse an agent socket served by another user. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portco.h"
#include "support.h"

/* The user the impostor runs as: nobody. */
#define PT_OTHER_UID 65534

/* A Unix socket listener that accepts and holds connections, as PT_OTHER_UID. */
static const char pt_listener[] = "import socket, sys\n"
                                  "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
                                  "s.bind(sys.argv[1])\n"
                                  "s.listen(16)\n"
                                  "held = []\n"
                                  "while True:\n"
                                  "    held.append(s.accept()[0])\n";

static char *D;
static char S[200];
static pid_t L = -1;

static void pt_start(void)
{
    if (geteuid() != 0)
        return; /* the test skips itself: only root can run a process as another user */
    D = pt_tmpdir("pt-peer");
    cr_assert_not_null(D);
    cr_assert_eq(chown(D, PT_OTHER_UID, PT_OTHER_UID), 0);
    snprintf(S, sizeof(S), "%s/agent.sock", D);
    char uid[16];
    snprintf(uid, sizeof(uid), "%d", PT_OTHER_UID);
    char *argv[] = {"/usr/bin/setpriv",
                    "--reuid",
                    uid,
                    "--regid",
                    uid,
                    "--clear-groups",
                    "/usr/bin/python3",
                    "-c",
                    (char *)pt_listener,
                    S,
                    NULL};
    L = pt_spawn(argv, NULL, NULL, NULL);
    cr_assert_gt(L, 0);
    cr_assert(pt_wait_unix_socket(S, 10000), "the listener of uid %d never came up", PT_OTHER_UID);
}

static void pt_stop(void)
{
    if (L > 0)
        pt_stop_pid(L, SIGTERM, 5000);
    L = -1;
    if (D) {
        pt_rmtree(D);
        free(D);
        D = NULL;
    }
    unsetenv("PORTCO_AGENT_UID");
}

TestSuite(peer_cred, .init = pt_start, .fini = pt_stop, .timeout = 60);

Test(peer_cred, portco_connect_refuses_a_socket_of_another_user)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to run the listener as uid %d", PT_OTHER_UID);
    portco_client *c = NULL;
    portco_status st;
    int rc = portco_connect(S, &c, &st);
    cr_assert_eq(rc, PORTCO_ENOAGENT, "connect: %d %s", rc, st.message);
    cr_assert_null(c);
    cr_assert(strstr(st.message, "uid 65534") && strstr(st.message, S), "message: %s", st.message);

    /* Named as the agent's user, the same socket is taken. */
    setenv("PORTCO_AGENT_UID", "65534", 1);
    rc = portco_connect(S, &c, &st);
    cr_assert_eq(rc, 0, "connect with PORTCO_AGENT_UID: %s", st.message);
    portco_close(c);
    setenv("PORTCO_AGENT_UID", "65533", 1);
    cr_assert_eq(portco_connect(S, &c, &st), PORTCO_ENOAGENT);
}

Test(peer_cred, portco_status_refuses_a_socket_of_another_user)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to run the listener as uid %d", PT_OTHER_UID);
    char bin[600];
    pt_bin("portco", bin, sizeof(bin));
    char *argv[] = {bin, "--socket", S, "status", NULL};
    char *out = NULL, *err = NULL;
    int status = -1;
    cr_assert_eq(pt_run(argv, NULL, 20000, &out, &err, &status), 0);
    cr_assert_eq(status, 1, "portco status exit %d: %s", status, err);
    cr_assert(strstr(err, "AGENT_UNAVAILABLE") || strstr(err, "uid 65534"), "stderr: %s", err);
    cr_assert(strstr(err, "uid 65534"), "stderr names the user: %s", err);
    free(out);
    free(err);
}
