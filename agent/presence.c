/* presence.c - publish this agent in <root>/hosts/<host> for operators and the coordinator. */
#include "presence.h"

#include <ifaddrs.h>
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "portco_version.h"

/* Attempts at replacing a stale presence node before giving up. */
#define PC_PRESENCE_TRIES 3

static void pc_presence_create(pc_agent *a);

/* Non-loopback addresses of this host, as text. */
static json_t *pc_presence_addresses(void)
{
    json_t *arr = json_array();
    struct ifaddrs *ifa = NULL;
    if (!arr || getifaddrs(&ifa) < 0)
        return arr;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        int fam = i->ifa_addr->sa_family;
        if (fam != AF_INET && fam != AF_INET6)
            continue;
        char buf[NI_MAXHOST];
        socklen_t sl = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        if (getnameinfo(i->ifa_addr, sl, buf, sizeof(buf), NULL, 0, NI_NUMERICHOST) == 0)
            json_array_append_new(arr, json_string(buf));
    }
    freeifaddrs(ifa);
    return arr;
}

static char *pc_presence_data(pc_agent *a)
{
    json_t *o =
        json_pack("{s:s, s:i, s:o, s:I}", "version", PORTCO_VERSION_STRING, "pid", (int)getpid(),
                  "addresses", pc_presence_addresses(), "started", (json_int_t)a->started_ms);
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void pc_presence_delete_cb(int rc, const void *data)
{
    pc_agent *a = pc_zk_req_take(data, NULL);
    pc_presence_create(a);
}

static void pc_presence_mkdirs_cb(int rc, void *ud)
{
    pc_agent *a = pc_zk_req_take(ud, NULL);
    if (rc == 0)
        pc_presence_create(a);
    else
        pc_warn("cannot create the hosts directory: %s", portco_strerror(rc));
}

static void pc_presence_exists_cb(int rc, const struct Stat *st, const void *data)
{
    pc_agent *a = pc_zk_req_take(data, NULL);
    char path[PC_ZKP_PATH_MAX];
    pc_zkp_host(path, sizeof(path), a->opts.root, a->opts.host_id);
    const clientid_t *me = pc_zk_client_id(a->zk);
    if (rc == ZOK && me && st->ephemeralOwner == me->client_id)
        return; /* ours already (the create's answer was lost) */
    if (rc == ZNONODE) {
        pc_presence_create(a);
        return;
    }
    if (rc != ZOK || a->presence_tries >= PC_PRESENCE_TRIES) {
        pc_warn("cannot publish %s: another session holds it", path);
        return;
    }
    pc_info("replacing %s left by an earlier session", path);
    pc_zk_req *r = pc_zk_req_new(&a->zk_reqs, a);
    pc_zk_req_sent(r, r ? zoo_adelete(pc_zk_handle(a->zk), path, -1, pc_presence_delete_cb, r)
                        : ZSYSTEMERROR);
}

static void pc_presence_create_cb(int rc, const char *value, const void *data)
{
    pc_agent *a = pc_zk_req_take(data, NULL);
    char path[PC_ZKP_PATH_MAX];
    pc_zkp_host(path, sizeof(path), a->opts.root, a->opts.host_id);
    if (rc == ZOK) {
        pc_info("published %s", path);
        return;
    }
    if (a->stopping)
        return;
    if (rc == ZNONODE) {
        char dir[PC_ZKP_PATH_MAX];
        pc_zkp_hosts_dir(dir, sizeof(dir), a->opts.root);
        pc_zk_req *r = pc_zk_req_new(&a->zk_reqs, a);
        pc_zk_req_sent(r, r ? pc_zk_zrc(pc_zk_mkdirs(a->zk, dir, pc_presence_mkdirs_cb, r))
                            : ZSYSTEMERROR);
        return;
    }
    if (rc == ZNODEEXISTS) {
        a->presence_tries++;
        pc_zk_req *r = pc_zk_req_new(&a->zk_reqs, a);
        pc_zk_req_sent(r, r ? zoo_aexists(pc_zk_handle(a->zk), path, 0, pc_presence_exists_cb, r)
                            : ZSYSTEMERROR);
        return;
    }
    pc_warn("cannot publish %s: %s (retried on the next session)", path, zerror(rc));
}

static void pc_presence_create(pc_agent *a)
{
    char path[PC_ZKP_PATH_MAX];
    if (pc_zkp_host(path, sizeof(path), a->opts.root, a->opts.host_id) < 0)
        return;
    char *data = pc_presence_data(a);
    if (!data)
        return;
    pc_zk_req *r = pc_zk_req_new(&a->zk_reqs, a);
    pc_zk_req_sent(r, r ? zoo_acreate(pc_zk_handle(a->zk), path, data, (int)strlen(data),
                                      &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, pc_presence_create_cb, r)
                        : ZSYSTEMERROR);
    free(data);
}

void pc_presence_publish(pc_agent *a)
{
    a->presence_tries = 0;
    pc_presence_create(a);
}
