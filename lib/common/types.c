/* types.c - names of the shared enums. */
#include "types.h"

#include <errno.h>
#include <string.h>

const char *pc_proto_name(pc_proto p)
{
    switch (p) {
    case PC_PROTO_TCP:
        return "tcp";
    case PC_PROTO_UDP:
        return "udp";
    case PC_PROTO_BOTH:
        return "both";
    }
    return "?";
}

int pc_proto_parse(const char *s, pc_proto *out)
{
    if (strcmp(s, "tcp") == 0)
        *out = PC_PROTO_TCP;
    else if (strcmp(s, "udp") == 0)
        *out = PC_PROTO_UDP;
    else if (strcmp(s, "both") == 0)
        *out = PC_PROTO_BOTH;
    else
        return -EINVAL;
    return 0;
}

const char *pc_scope_name(pc_scope s)
{
    return s == PC_SCOPE_HOST ? "host" : "cluster";
}

int pc_scope_parse(const char *s, pc_scope *out)
{
    if (strcmp(s, "cluster") == 0)
        *out = PC_SCOPE_CLUSTER;
    else if (strcmp(s, "host") == 0)
        *out = PC_SCOPE_HOST;
    else
        return -EINVAL;
    return 0;
}
