/* sockdiag.h - the host's bound sockets by state, asked of the kernel through NETLINK_SOCK_DIAG. */
#ifndef PC_SOCKDIAG_H
#define PC_SOCKDIAG_H

#include "error.h"
#include "procnet.h"
#include "types.h"

/*
 * Append to `out` this network namespace's TCP sockets in LISTEN and UDP
 * sockets bound and unconnected (state CLOSE), IPv4 and IPv6, on `port`
 * (0: all), as pc_procnet_scan() would list them: proto, family, local
 * address and port, state, uid and inode; owners are not resolved.
 *
 * The kernel filters by state, so the cost follows the number of such
 * sockets, not of every connection and TIME_WAIT on the host as a read of
 * /proc/net/tcp does. Returns 0, -ENOMEM, or -errno when the netlink query
 * fails (for example -EPROTONOSUPPORT without the inet_diag module), in
 * which case the caller can fall back to pc_procnet_scan().
 */
int pc_sockdiag_bound(pc_proto proto, uint16_t port, pc_sockvec *out, pc_error *err);

#endif
