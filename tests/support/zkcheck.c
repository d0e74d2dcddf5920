/* zkcheck.c - read a pool's claims straight from ZooKeeper for fault and chaos assertions. */
#include "zkcheck.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkpath.h"

static int pt_check_port(pt_zkr *z, const char *dir, int port, pt_portnode *pn)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%d", dir, port);
    char **names = NULL;
    int count = 0;
    int rc = pt_zkr_children(z, path, &names, &count, NULL);
    if (rc < 0)
        return rc;
    memset(pn, 0, sizeof(*pn));
    pn->port = port;
    pn->nclaims = count;
    int low = pc_zkp_lowest(names, count, pc_zkp_claim_seq);
    if (low >= 0) {
        snprintf(pn->owner, sizeof(pn->owner), "%s", names[low]);
        char cpath[800];
        snprintf(cpath, sizeof(cpath), "%s/%s", path, names[low]);
        char *data = NULL;
        int len = 0;
        struct Stat st;
        if (pt_zkr_get(z, cpath, &data, &len, &st) == 0) {
            pn->owner_czxid = st.czxid;
            pn->owner_session = st.ephemeralOwner;
            json_t *j = json_loadb(data, (size_t)len, 0, NULL);
            const char *h = json_string_value(json_object_get(j, "host"));
            snprintf(pn->owner_host, sizeof(pn->owner_host), "%s", h ? h : "");
            json_decref(j);
            free(data);
        }
    }
    pt_zkr_free_strings(names, count);
    return 0;
}

int pt_check_pool(pt_zkr *z, const char *root, const char *pool, pt_portnode **out, int *n)
{
    *out = NULL;
    *n = 0;
    char dir[512];
    if (pc_zkp_ports_dir(dir, sizeof(dir), root, pool, NULL) < 0)
        return -EINVAL;
    char **ports = NULL;
    int count = 0;
    int rc = pt_zkr_children(z, dir, &ports, &count, NULL);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    pt_portnode *arr = calloc((size_t)(count ? count : 1), sizeof(*arr));
    if (!arr) {
        pt_zkr_free_strings(ports, count);
        return -ENOMEM;
    }
    int k = 0;
    for (int i = 0; i < count; i++) {
        rc = pt_check_port(z, dir, atoi(ports[i]), &arr[k]);
        if (rc == -ENOENT)
            continue;
        if (rc < 0) {
            free(arr);
            pt_zkr_free_strings(ports, count);
            return rc;
        }
        if (arr[k].nclaims > 0)
            k++;
    }
    pt_zkr_free_strings(ports, count);
    *out = arr;
    *n = k;
    return 0;
}

int pt_check_count(pt_zkr *z, const char *root, const char *pool)
{
    pt_portnode *arr;
    int n;
    int rc = pt_check_pool(z, root, pool, &arr, &n);
    if (rc < 0)
        return rc;
    int total = 0;
    for (int i = 0; i < n; i++)
        total += arr[i].nclaims;
    free(arr);
    return total;
}

int pt_check_claims(pt_zkr *z, const char *root, const char *pool, const char *host, int port)
{
    char dir[600];
    if (pc_zkp_port_dir(dir, sizeof(dir), root, pool, host, port) < 0)
        return -EINVAL;
    int n = pt_zkr_nchildren(z, dir);
    return n == -ENOENT ? 0 : n;
}

int pt_check_port_node(pt_zkr *z, const char *root, const char *pool, const char *host, int port)
{
    char dir[600];
    if (pc_zkp_port_dir(dir, sizeof(dir), root, pool, host, port) < 0)
        return -EINVAL;
    int rc = pt_zkr_exists(z, dir, NULL);
    return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

int pt_claim_as(const char *connect, const char *root, const char *pool, int port, const char *host,
                const char *service, pt_zkr **out)
{
    *out = NULL;
    char dir[512], path[700], uuid[64], data[512];
    if (pc_zkp_port_dir(dir, sizeof(dir), root, pool, NULL, port) < 0 ||
        pc_zkp_new_uuid(uuid, sizeof(uuid)) < 0 ||
        pc_zkp_claim_path(path, sizeof(path), dir, uuid) < 0)
        return -EINVAL;
    json_t *j = json_pack("{s:s, s:s}", "host", host, "service", service);
    int n = j ? json_dumpb(j, data, sizeof(data) - 1, JSON_COMPACT) : 0;
    json_decref(j);
    if (n <= 0 || n >= (int)sizeof(data) - 1)
        return -ENOMEM;
    data[n] = '\0';
    pt_zkr *s;
    int rc = pt_zkr_connect(&s, connect, 30000, 10000);
    if (rc < 0)
        return rc;
    rc = pt_zkr_create_path(s, dir, NULL);
    if (rc == 0)
        rc = pt_zkr_create(s, path, data, ZOO_EPHEMERAL | ZOO_SEQUENCE, NULL, 0);
    if (rc < 0) {
        pt_zkr_close(s);
        return rc;
    }
    *out = s;
    return 0;
}
