/* probebench.c - cost of the local probe per candidate port, against one bare bind(). */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"
#include "probe.h"

/*
 * Probes `count` consecutive candidate ports from --first with pc_probe()
 * (the agent's check of a candidate), timing each call including the
 * release of its result (and of the hold sockets it kept). Variants:
 *   bind      socket()+bind()+close() of one TCP socket: the baseline
 *   tcp       TCP, owners never looked up, no hold
 *   tcp+hold  as the agent probes a TCP pool: keeps the hold socket
 *   both+hold a TCP+UDP pool
 *   agent     as the agent probes: tcp+hold, /proc/net read only after a
 *             failed bind, kernel port settings read once (cached)
 * --listeners N first opens N listening TCP sockets on 127.0.0.1 (ports
 * picked by the kernel), so /proc/net/tcp has N more lines to read, as on a
 * busy host; --held N opens N bound, non-listening SO_REUSEADDR sockets
 * instead, like an agent holding N claims. One JSON record per variant,
 * label "probe.<variant>[.Nl|.Nh]".
 */

static int bare_bind(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int rc = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* n TCP sockets on 127.0.0.1, kernel-chosen ports: listening (they show in
   /proc/net/tcp), or, with `held`, bound with SO_REUSEADDR and not listening,
   like the agent's hold sockets. */
static int open_sockets(int n, bool held, int **fds)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 256) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)n + 256 ? rl.rlim_max : (rlim_t)n + 256;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    *fds = calloc((size_t)n + 1, sizeof(int));
    if (!*fds)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int one = 1;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (fd >= 0 && held)
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            (!held && listen(fd, 1) < 0)) {
            int e = -errno;
            if (fd >= 0)
                close(fd);
            for (int j = 0; j < i; j++)
                close((*fds)[j]);
            return e;
        }
        (*fds)[i] = fd;
    }
    return 0;
}

static int run_variant(const char *variant, uint16_t first, int count, int listeners, int held)
{
    pc_probe_opts o = {.proto = PC_PROTO_TCP, .address = "0.0.0.0", .owners = PC_OWNERS_NEVER};
    pc_kports kp;
    pc_kports_init(&kp);
    int bind_only = !strcmp(variant, "bind");
    if (!strcmp(variant, "tcp+hold")) {
        o.hold = true;
    } else if (!strcmp(variant, "both+hold")) {
        o.proto = PC_PROTO_BOTH;
        o.hold = true;
    } else if (!strcmp(variant, "agent")) {
        o.hold = true;
        o.scan_on_failure_only = true;
        if (pc_kports_read(NULL, &kp, NULL) < 0) {
            fprintf(stderr, "probebench: cannot read the kernel port settings\n");
            pc_kports_free(&kp);
            return 1;
        }
        o.kports = &kp;
    } else if (strcmp(variant, "tcp") && !bind_only) {
        fprintf(stderr, "probebench: unknown variant %s\n", variant);
        return 2;
    }
    pb_samples lat = PB_SAMPLES_INIT;
    int usable = 0, failed = 0;
    double t_all = pb_now();
    for (int i = 0; i < count; i++) {
        uint16_t port = (uint16_t)(first + i);
        double t0 = pb_now();
        if (bind_only) {
            usable += bare_bind(port) == 0;
        } else {
            pc_probe_result r;
            pc_error err;
            pc_probe_result_init(&r);
            int rc = pc_probe(&o, port, &r, &err);
            if (rc == 0 && r.usable)
                usable++;
            else if (rc != 0)
                failed++;
            pc_probe_result_free(&r);
        }
        pb_samples_add(&lat, (pb_now() - t0) * 1e6); /* microseconds */
    }
    double secs = pb_now() - t_all;
    char label[96];
    if (listeners)
        snprintf(label, sizeof(label), "probe.%s.%dl", variant, listeners);
    else if (held)
        snprintf(label, sizeof(label), "probe.%s.%dh", variant, held);
    else
        snprintf(label, sizeof(label), "probe.%s", variant);
    json_t *rec = pb_result_new("probe");
    pb_result_str(rec, "label", label);
    pb_result_int(rec, "candidates", count);
    pb_result_int(rec, "usable", usable);
    pb_result_int(rec, "errors", failed);
    pb_result_int(rec, "listeners", listeners);
    pb_result_int(rec, "held", held);
    pb_result_real(rec, "rate", count / secs);
    pb_result_real(rec, "probe_p50_us", pb_samples_pct(&lat, 50));
    pb_result_real(rec, "probe_p99_us", pb_samples_pct(&lat, 99));
    pb_result_real(rec, "probe_mean_us", pb_samples_mean(&lat));
    pb_samples_free(&lat);
    pc_kports_free(&kp);
    return pb_result_emit(rec) == 0 && failed == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"first", required_argument, NULL, 'f'},
                                         {"count", required_argument, NULL, 'c'},
                                         {"listeners", required_argument, NULL, 'L'},
                                         {"held", required_argument, NULL, 'H'},
                                         {"variant", required_argument, NULL, 'v'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long first = 40000, count = 2000, listeners = 0, held = 0, v;
    const char *variants[8];
    int nvar = 0, ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (pb_parse_long(optarg, 1024, 65535, &first))
                return 2;
            break;
        case 'c':
            if (pb_parse_long(optarg, 1, 60000, &count))
                return 2;
            break;
        case 'L':
            if (pb_parse_long(optarg, 0, 60000, &listeners))
                return 2;
            break;
        case 'H':
            if (pb_parse_long(optarg, 0, 60000, &held))
                return 2;
            break;
        case 'v':
            if (nvar < 8)
                variants[nvar++] = optarg;
            break;
        case 'h':
            printf("usage: probebench [--first PORT] [--count N] [--listeners N | --held N] "
                   "[--variant bind|tcp|tcp+hold|both+hold|agent]...\n");
            return 0;
        default:
            return 2;
        }
    }
    if (first + count > 65536) {
        fprintf(stderr, "probebench: --first + --count passes 65535\n");
        return 2;
    }
    (void)v;
    if (nvar == 0) {
        variants[nvar++] = "bind";
        variants[nvar++] = "tcp";
        variants[nvar++] = "tcp+hold";
        variants[nvar++] = "both+hold";
        variants[nvar++] = "agent";
    }
    if (listeners && held) {
        fprintf(stderr, "probebench: --listeners and --held are separate runs\n");
        return 2;
    }
    int *fds = NULL, status = 0;
    long nsock = listeners + held;
    if (nsock > 0) {
        int rc = open_sockets((int)nsock, held > 0, &fds);
        if (rc < 0) {
            fprintf(stderr, "probebench: cannot open %ld sockets: %s\n", nsock, strerror(-rc));
            free(fds);
            return 1;
        }
    }
    for (int i = 0; i < nvar; i++)
        if (run_variant(variants[i], (uint16_t)first, (int)count, (int)listeners, (int)held) != 0)
            status = 1;
    for (long i = 0; i < nsock; i++)
        close(fds[i]);
    free(fds);
    return status;
}
