/* support.c - test helpers: environment directories, temp dirs, time, polling, ports, HTTP. */
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return (v && *v) ? v : fallback;
}

const char *pt_source_dir(void)
{
    return env_or("PORTCO_SOURCE_DIR", ".");
}

const char *pt_build_dir(void)
{
    return env_or("PORTCO_BUILD_DIR", ".");
}

const char *pt_test_data(void)
{
    return env_or("PORTCO_TEST_DATA", "tests/data");
}

const char *pt_bin(const char *name, char *buf, size_t len)
{
    const char *b = pt_build_dir();
    if (strcmp(name, "portco") == 0)
        snprintf(buf, len, "%s/cli/portco", b);
    else if (strcmp(name, "portco-agent") == 0)
        snprintf(buf, len, "%s/agent/portco-agent", b);
    else if (strcmp(name, "portco-coordinator") == 0)
        snprintf(buf, len, "%s/coordinator/portco-coordinator", b);
    else if (strncmp(name, "example-", 8) == 0)
        snprintf(buf, len, "%s/examples/%s", b, name);
    else
        snprintf(buf, len, "%s/examples/example-%s", b, name);
    return buf;
}

char *pt_tmpdir(const char *prefix)
{
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/%s-XXXXXX", env_or("TMPDIR", "/tmp"),
             prefix ? prefix : "portco-test");
    if (!mkdtemp(tmpl))
        return NULL;
    return strdup(tmpl);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    return (rc < 0 && errno != ENOENT) ? -1 : 0;
}

int pt_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS) < 0)
        return errno ? -errno : -EIO;
    return 0;
}

long long pt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pt_nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

bool pt_wait_until(bool (*pred)(void *arg), void *arg, int timeout_ms)
{
    long long deadline = pt_now_ms() + timeout_ms;
    int nap = 5;
    for (;;) {
        if (pred(arg))
            return true;
        long long left = deadline - pt_now_ms();
        if (left <= 0)
            return pred(arg);
        pt_nap_ms(nap < left ? nap : (int)left);
        nap = nap * 2 > 100 ? 100 : nap * 2;
    }
}

static bool unix_socket_accepts(void *arg)
{
    const char *path = arg;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return false;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

bool pt_wait_unix_socket(const char *path, int timeout_ms)
{
    return pt_wait_until(unix_socket_accepts, (void *)path, timeout_ms);
}

static bool file_nonempty(void *arg)
{
    struct stat st;
    return stat(arg, &st) == 0 && st.st_size > 0;
}

bool pt_wait_file(const char *path, int timeout_ms)
{
    return pt_wait_until(file_nonempty, (void *)path, timeout_ms);
}

void pt_unique_root(const char *tag, char *buf, size_t len)
{
    static int counter;
    snprintf(buf, len, "/t-%s-%d-%d", tag ? tag : "x", (int)getpid(), ++counter);
}

int pt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    int rc;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        rc = -errno;
    else
        rc = ntohs(sa.sin_port);
    close(fd);
    return rc;
}

bool pt_port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

int pt_port_run(int n)
{
    for (int tries = 0; tries < 400; tries++) {
        int base = 20000 + (int)((getpid() * 131 + tries * 977 + pt_now_ms()) % 10000);
        bool ok = true;
        for (int i = 0; i < n && ok; i++)
            ok = pt_port_bindable(base + i);
        if (ok)
            return base;
    }
    return -EADDRNOTAVAIL;
}

int pt_http_get(int port, const char *path, char *body, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    char req[256];
    int rl = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
    if (send(fd, req, (size_t)rl, MSG_NOSIGNAL) != rl) {
        int e = errno;
        close(fd);
        return -e;
    }
    char resp[8192];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(resp) - 1 && (n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0)) > 0)
        got += (size_t)n;
    close(fd);
    resp[got] = '\0';
    int code = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1)
        return -EPROTO;
    const char *b = strstr(resp, "\r\n\r\n");
    snprintf(body, len, "%s", b ? b + 4 : "");
    return code;
}

bool pt_http_serves(void *port)
{
    char body[4096];
    return pt_http_get(*(int *)port, "/", body, sizeof(body)) == 200;
}

int pt_read_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return (int)n;
}
