/* acquire.c - example: take a listening socket from portco, serve one TCP connection, release. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <portco.h>

/*
 * Usage: example-acquire POOL [SERVICE]
 *
 * Asks the local agent ($PORTCO_SOCKET or /run/portco/agent.sock) for any
 * free port of POOL, with the socket already listening: no other process can
 * take the port between the grant and the listen. Prints
 * "listening on ADDRESS:PORT", answers the first connection with one line,
 * then releases the claim and exits 0. Errors go to stderr, exit 1.
 */

static void log_cb(portco_log_level level, const char *message, void *userdata)
{
    (void)userdata;
    fprintf(stderr, "libportco[%d]: %s\n", (int)level, message);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s POOL [SERVICE]\n", argv[0]);
        return 2;
    }
    const char *service = argc == 3 ? argv[2] : "example";

    portco_status st = {0};
    portco_client *c = NULL;
    int rc = portco_connect(NULL, &c, &st);
    if (rc != 0) {
        fprintf(stderr, "connect: %s: %s\n", portco_err_name(rc), st.message);
        return 1;
    }
    portco_set_log_cb(c, log_cb, NULL);

    portco_acquire_opts opts = {
        .pool = argv[1],
        .service = service,
        .lifetime = PORTCO_LIFETIME_CONNECTION, /* released if this process dies */
        .flags = PORTCO_ACQ_SOCKET | PORTCO_ACQ_LISTEN,
    };
    portco_claim claim;
    rc = portco_acquire(c, &opts, &claim, &st);
    if (rc != 0) {
        fprintf(stderr, "acquire: %s: %s\n", portco_err_name(rc), st.message);
        portco_close(c);
        return 1;
    }
    printf("listening on %s:%u\n", claim.address, (unsigned)claim.port);
    fflush(stdout);

    int status = 0;
    int conn = accept4(claim.fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) {
        fprintf(stderr, "accept: %s\n", strerror(errno));
        status = 1;
    } else {
        char line[512];
        int len = snprintf(line, sizeof(line), "hello from %s on port %u (claim %s)\n", service,
                           (unsigned)claim.port, claim.claim);
        if (send(conn, line, (size_t)len, MSG_NOSIGNAL) != len) {
            fprintf(stderr, "send: %s\n", strerror(errno));
            status = 1;
        }
        close(conn);
    }
    close(claim.fd);

    rc = portco_release(c, claim.pool, claim.port, &st);
    if (rc != 0) {
        fprintf(stderr, "release: %s: %s\n", portco_err_name(rc), st.message);
        status = 1;
    }
    portco_close(c);
    return status;
}
