/* pool_json.c - pools and static assignments to and from the JSON kept in ZooKeeper. */
#include "pool_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pc_rangeset_format into a malloc'd buffer big enough for any set. */
static char *pc_ranges_text(const pc_rangeset *s)
{
    size_t len = s->n * 12 + 1; /* "65535-65535," per range */
    char *buf = malloc(len);
    if (buf)
        pc_rangeset_format(s, buf, len);
    return buf;
}

json_t *pc_pool_to_json(const pc_pool *p)
{
    char *ranges = pc_ranges_text(&p->ranges);
    char *exclude = pc_ranges_text(&p->exclude);
    json_t *o = NULL;
    if (ranges && exclude)
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "name", p->name, "ranges", ranges,
                      "exclude", exclude, "proto", pc_proto_name(p->proto), "scope",
                      pc_scope_name(p->scope), "address", p->address, "allow_privileged",
                      p->allow_privileged);
    free(ranges);
    free(exclude);
    return o;
}

char *pc_pool_to_json_str(const pc_pool *p)
{
    json_t *o = pc_pool_to_json(p);
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

static int pc_json_parse_obj(const char *buf, size_t len, const char *what, json_t **out,
                             pc_error *err)
{
    if (!buf)
        return pc_error_set(err, PORTCO_ECONFIG, "%s: no data", what);
    if (len > PC_POOL_JSON_MAX)
        return pc_error_set(err, PORTCO_ECONFIG, "%s: %zu bytes is more than the %u allowed", what,
                            len, PC_POOL_JSON_MAX);
    json_error_t je;
    json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!o)
        return pc_error_set(err, PORTCO_ECONFIG, "%s: not valid JSON: %s at line %d column %d",
                            what, je.text, je.line, je.column);
    if (!json_is_object(o)) {
        json_decref(o);
        return pc_error_set(err, PORTCO_ECONFIG, "%s: expected a JSON object", what);
    }
    *out = o;
    return 0;
}

/* A required string member of at most max characters, without NUL bytes. */
static int pc_json_str(json_t *o, const char *key, size_t max, const char **out, pc_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return pc_error_set(err, PORTCO_ECONFIG, "pool JSON: missing field \"%s\"", key);
    if (!json_is_string(v))
        return pc_error_set(err, PORTCO_ECONFIG, "pool JSON: field \"%s\" must be a string", key);
    if (json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v))
        return pc_error_set(err, PORTCO_ECONFIG,
                            "pool JSON: field \"%s\" is too long or contains a NUL byte", key);
    *out = json_string_value(v);
    return 0;
}

int pc_pool_from_json(const char *buf, size_t len, pc_pool *out, pc_error *err)
{
    memset(out, 0, sizeof(*out));
    json_t *o;
    int rc = pc_json_parse_obj(buf, len, "pool JSON", &o, err);
    if (rc < 0)
        return rc;
    const char *name, *ranges, *exclude, *proto, *scope, *address;
    pc_error sub;
    if ((rc = pc_json_str(o, "name", 256, &name, err)) < 0 ||
        (rc = pc_json_str(o, "ranges", PC_POOL_JSON_MAX, &ranges, err)) < 0 ||
        (rc = pc_json_str(o, "exclude", PC_POOL_JSON_MAX, &exclude, err)) < 0 ||
        (rc = pc_json_str(o, "proto", 16, &proto, err)) < 0 ||
        (rc = pc_json_str(o, "scope", 16, &scope, err)) < 0 ||
        (rc = pc_json_str(o, "address", 128, &address, err)) < 0)
        goto fail;
    json_t *priv = json_object_get(o, "allow_privileged");
    if (!json_is_boolean(priv)) {
        rc = pc_error_set(err, PORTCO_ECONFIG,
                          "pool JSON: field \"allow_privileged\" must be true or false");
        goto fail;
    }
    rc = PORTCO_ECONFIG;
    if (!pc_pool_name_valid(name)) {
        pc_error_set(err, rc, "pool JSON: \"%.80s\" is not a valid pool name", name);
        goto fail;
    }
    snprintf(out->name, sizeof(out->name), "%s", name);
    if (pc_proto_parse(proto, &out->proto) < 0) {
        pc_error_set(err, rc, "pool %s: proto \"%.20s\" is not tcp, udp or both", name, proto);
        goto fail;
    }
    if (pc_scope_parse(scope, &out->scope) < 0) {
        pc_error_set(err, rc, "pool %s: scope \"%.20s\" is not cluster or host", name, scope);
        goto fail;
    }
    if (pc_address_canon(address, out->address, sizeof(out->address)) < 0) {
        pc_error_set(err, rc, "pool %s: address \"%.60s\" is not an IP literal", name, address);
        goto fail;
    }
    out->allow_privileged = json_is_true(priv);
    int prc = pc_rangeset_parse(&out->ranges, ranges, &sub);
    if (prc == 0 && out->ranges.n == 0) {
        pc_error_set(err, rc, "pool %s: ranges is empty", name);
        goto fail;
    }
    if (prc == 0)
        prc = pc_rangeset_parse(&out->exclude, exclude, &sub);
    if (prc == -ENOMEM) {
        rc = -ENOMEM;
        goto fail;
    }
    if (prc < 0) {
        pc_error_set(err, rc, "pool %s: %s", name, sub.msg);
        goto fail;
    }
    /* pc_rangeset_parse accepts 0; a pool may not. */
    if (out->ranges.v[0].lo == 0 || (out->exclude.n && out->exclude.v[0].lo == 0)) {
        pc_error_set(err, rc, "pool %s: port 0 is not a port; ports are 1 to 65535", name);
        goto fail;
    }
    if (pc_rangeset_copy(&out->ports, &out->ranges) < 0 ||
        pc_rangeset_subtract(&out->ports, &out->exclude) < 0) {
        rc = -ENOMEM;
        goto fail;
    }
    if (out->ports.n == 0) {
        pc_error_set(err, rc, "pool %s: no port is left after the excludes", name);
        goto fail;
    }
    if (!out->allow_privileged && out->ports.v[0].lo < 1024) {
        pc_error_set(err, rc, "pool %s: port %u is privileged and allow_privileged is false", name,
                     out->ports.v[0].lo);
        goto fail;
    }
    json_decref(o);
    return 0;
fail:
    if (rc == -ENOMEM)
        pc_error_set(err, rc, "out of memory");
    json_decref(o);
    pc_pool_free(out);
    return rc;
}

json_t *pc_static_to_json(const pc_static *s)
{
    return json_pack("{s:s}", "service", s->service);
}

char *pc_static_to_json_str(const pc_static *s)
{
    json_t *o = pc_static_to_json(s);
    if (!o)
        return NULL;
    char *r = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return r;
}

int pc_static_from_json(const char *buf, size_t len, const char *pool, uint32_t port,
                        pc_static *out, pc_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!pool || !pc_pool_name_valid(pool))
        return pc_error_set(err, PORTCO_ECONFIG, "static assignment: bad pool name");
    if (port < 1 || port > 65535)
        return pc_error_set(err, PORTCO_ECONFIG, "static assignment of pool %s: bad port %u", pool,
                            port);
    json_t *o;
    int rc = pc_json_parse_obj(buf, len, "static assignment JSON", &o, err);
    if (rc < 0)
        return rc;
    json_t *v = json_object_get(o, "service");
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
        !pc_service_name_valid(json_string_value(v))) {
        json_decref(o);
        return pc_error_set(err, PORTCO_ECONFIG,
                            "static assignment %s/%u: \"service\" must be a valid service name",
                            pool, port);
    }
    snprintf(out->pool, sizeof(out->pool), "%s", pool);
    snprintf(out->service, sizeof(out->service), "%s", json_string_value(v));
    out->port = (uint16_t)port;
    json_decref(o);
    return 0;
}
