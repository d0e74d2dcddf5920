/* owners.h - find the processes that own sockets, through /proc/PID/fd. */
#ifndef PC_OWNERS_H
#define PC_OWNERS_H

#include "error.h"
#include "procnet.h"

/*
 * Fill pid and comm of every socket of `sv` that has an inode, by matching
 * the inodes against the "socket:[INODE]" links of <procroot>/PID/fd/N
 * (procroot NULL means "/proc"). A socket held by several processes gets the
 * lowest pid. Processes whose fd directory cannot be read (other users'
 * processes when not root) are skipped; sockets left without an owner are
 * then marked owner_unreadable, since their owner may be among them. The
 * walk costs one readlink per open fd on the host: call it only when the
 * owners are wanted. Returns 0, -ENOMEM, or -errno when procroot itself
 * cannot be listed.
 */
int pc_sock_owners(const char *procroot, pc_sockvec *sv, pc_error *err);

#endif
