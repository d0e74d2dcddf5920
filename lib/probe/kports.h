/* kports.h - the kernel's port settings: ephemeral range, reserved ports, privileged limit. */
#ifndef PC_KPORTS_H
#define PC_KPORTS_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "ranges.h"

typedef struct pc_kports {
    bool have_ephemeral;     /* false when ip_local_port_range could not be read */
    uint16_t eph_lo, eph_hi; /* ip_local_port_range, inclusive */
    pc_rangeset reserved;    /* ip_local_reserved_ports; owned */
    uint16_t unpriv_start;   /* ip_unprivileged_port_start; 1024 when absent */
} pc_kports;

void pc_kports_init(pc_kports *k);
void pc_kports_free(pc_kports *k);

/*
 * Parse the text of ip_local_port_range, "32768\t60999\n". Returns 0 or
 * -EINVAL (err says why: not two numbers, out of 1..65535, low > high).
 */
int pc_kports_parse_range(const char *text, uint16_t *lo, uint16_t *hi, pc_error *err);

/*
 * Read <procroot>/sys/net/ipv4/{ip_local_port_range, ip_local_reserved_ports,
 * ip_unprivileged_port_start} (procroot NULL means "/proc"). A missing file
 * leaves its default (no ephemeral range known, nothing reserved, 1024).
 * Returns 0, -EINVAL when a file's content is malformed, -ENOMEM, -errno.
 */
int pc_kports_read(const char *procroot, pc_kports *k, pc_error *err);

/* True when the kernel may hand `port` to an outgoing connection: inside the
 * ephemeral range and not reserved. */
bool pc_kports_ephemeral(const pc_kports *k, uint16_t port);

#endif
