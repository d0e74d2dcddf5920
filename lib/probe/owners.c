/* owners.c - match socket inodes against /proc/PID/fd links to find their owners. */
#include "owners.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct pc_inode_ref {
    unsigned long inode;
    size_t idx; /* index into the sockvec */
} pc_inode_ref;

static int pc_inode_cmp(const void *a, const void *b)
{
    const pc_inode_ref *x = a, *y = b;
    return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* Read <procroot>/PID/comm into comm (without the newline); "" when unreadable. */
static void pc_read_comm(int procfd, const char *pid, char *comm, size_t len)
{
    char path[64];
    comm[0] = '\0';
    snprintf(path, sizeof(path), "%s/comm", pid);
    int fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, comm, len - 1);
    close(fd);
    if (n < 0)
        n = 0;
    comm[n] = '\0';
    comm[strcspn(comm, "\n")] = '\0';
}

/* Parse "socket:[N]"; returns 0 when the link is not a socket. */
static unsigned long pc_link_inode(const char *target)
{
    if (strncmp(target, "socket:[", 8) != 0)
        return 0;
    char *end;
    unsigned long ino = strtoul(target + 8, &end, 10);
    return *end == ']' ? ino : 0;
}

/* Scan one process's fd directory. Returns 0, or -EACCES when it is unreadable. */
static int pc_scan_pid(int procfd, const char *pid, pc_inode_ref *refs, size_t nrefs,
                       pc_sockvec *sv)
{
    char path[64];
    snprintf(path, sizeof(path), "%s/fd", pid);
    int dfd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return (errno == EACCES || errno == EPERM) ? -EACCES : 0; /* gone: ignore */
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    pid_t pidnum = (pid_t)strtol(pid, NULL, 10);
    char comm[32] = "";
    bool have_comm = false;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char target[64];
        ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        pc_inode_ref key = {.inode = pc_link_inode(target)};
        if (key.inode == 0)
            continue;
        pc_inode_ref *hit = bsearch(&key, refs, nrefs, sizeof(*refs), pc_inode_cmp);
        if (!hit)
            continue;
        /* Several sockets may share an inode entry only through duplicates
         * in the input; walk to the first equal entry and mark all. */
        while (hit > refs && hit[-1].inode == key.inode)
            hit--;
        for (; hit < refs + nrefs && hit->inode == key.inode; hit++) {
            pc_sock *s = &sv->v[hit->idx];
            if (s->pid != 0 && s->pid <= pidnum)
                continue;
            if (!have_comm) {
                pc_read_comm(procfd, pid, comm, sizeof(comm));
                have_comm = true;
            }
            s->pid = pidnum;
            snprintf(s->comm, sizeof(s->comm), "%s", comm);
        }
    }
    closedir(d);
    return 0;
}

int pc_sock_owners(const char *procroot, pc_sockvec *sv, pc_error *err)
{
    if (!procroot)
        procroot = "/proc";
    size_t nrefs = 0;
    for (size_t i = 0; i < sv->n; i++)
        if (sv->v[i].inode)
            nrefs++;
    if (nrefs == 0)
        return 0;
    pc_inode_ref *refs = malloc(nrefs * sizeof(*refs));
    if (!refs)
        return pc_error_set(err, -ENOMEM, "out of memory resolving socket owners");
    nrefs = 0;
    for (size_t i = 0; i < sv->n; i++) {
        sv->v[i].pid = 0;
        sv->v[i].comm[0] = '\0';
        sv->v[i].owner_unreadable = false;
        if (sv->v[i].inode)
            refs[nrefs++] = (pc_inode_ref){sv->v[i].inode, i};
    }
    qsort(refs, nrefs, sizeof(*refs), pc_inode_cmp);

    int procfd = open(procroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (procfd < 0) {
        int e = errno;
        free(refs);
        return pc_error_set(err, -e, "cannot open %s: %s", procroot, strerror(e));
    }
    DIR *d = fdopendir(procfd);
    if (!d) {
        int e = errno;
        close(procfd);
        free(refs);
        return pc_error_set(err, -e, "cannot list %s: %s", procroot, strerror(e));
    }
    bool unreadable = false;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        if (!nm[0] || strspn(nm, "0123456789") != strlen(nm))
            continue;
        if (pc_scan_pid(dirfd(d), nm, refs, nrefs, sv) == -EACCES)
            unreadable = true;
    }
    closedir(d);
    free(refs);
    for (size_t i = 0; i < sv->n; i++)
        if (sv->v[i].inode && sv->v[i].pid == 0)
            sv->v[i].owner_unreadable = unreadable;
    return 0;
}
