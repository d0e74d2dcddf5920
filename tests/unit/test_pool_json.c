/* test_pool_json.c - pools and static assignments to and from the JSON stored in ZooKeeper. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_file.h"

static const char *pt_example = "{\"name\":\"web\",\"ranges\":\"20000-20999\","
                                "\"exclude\":\"20080,20100-20110\",\"proto\":\"tcp\","
                                "\"scope\":\"cluster\",\"address\":\"0.0.0.0\","
                                "\"allow_privileged\":false}";

static int pt_parse(const char *text, pc_pool *p, pc_error *err)
{
    return pc_pool_from_json(text, strlen(text), p, err);
}

static void pt_same_pool(const pc_pool *a, const pc_pool *b)
{
    char x[512], y[512];
    cr_assert_str_eq(a->name, b->name);
    cr_assert_str_eq(pc_rangeset_format(&a->ranges, x, sizeof(x)),
                     pc_rangeset_format(&b->ranges, y, sizeof(y)));
    cr_assert_str_eq(pc_rangeset_format(&a->exclude, x, sizeof(x)),
                     pc_rangeset_format(&b->exclude, y, sizeof(y)));
    cr_assert_str_eq(pc_rangeset_format(&a->ports, x, sizeof(x)),
                     pc_rangeset_format(&b->ports, y, sizeof(y)));
    cr_assert_eq(a->proto, b->proto);
    cr_assert_eq(a->scope, b->scope);
    cr_assert_str_eq(a->address, b->address);
    cr_assert_eq(a->allow_privileged, b->allow_privileged);
}

Test(pool_json, documented_example_parses_and_prints_back_identically)
{
    pc_pool p;
    pc_error err;
    cr_assert_eq(pt_parse(pt_example, &p, &err), 0, "%s", err.msg);
    cr_assert_str_eq(p.name, "web");
    cr_assert_eq(pc_rangeset_count(&p.ports), 1000 - 12);
    cr_assert(!pc_rangeset_contains(&p.ports, 20080));
    char *s = pc_pool_to_json_str(&p);
    cr_assert_str_eq(s, pt_example);
    free(s);
    pc_pool_free(&p);
}

Test(pool_json, every_example_pool_round_trips)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/config/examples/cluster.yaml", getenv("PORTCO_SOURCE_DIR")) > 0);
    pc_cluster c;
    cr_assert_eq(pc_cluster_load_file(path, &c, NULL), 0);
    cr_assert_eq(c.npools, 3);
    for (size_t i = 0; i < c.npools; i++) {
        char *s = pc_pool_to_json_str(&c.pools[i]);
        cr_assert(s);
        pc_pool back;
        pc_error err;
        cr_assert_eq(pc_pool_from_json(s, strlen(s), &back, &err), 0, "%s: %s", s, err.msg);
        pt_same_pool(&c.pools[i], &back);
        pc_pool_free(&back);
        free(s);
    }
    /* pc_pool_to_json gives an object with exactly the documented fields. */
    json_t *o = pc_pool_to_json(&c.pools[1]);
    cr_assert_eq(json_object_size(o), 7);
    cr_assert_str_eq(json_string_value(json_object_get(o, "ranges")), "21000-21999,22500-22999");
    cr_assert_str_eq(json_string_value(json_object_get(o, "exclude")), "");
    cr_assert_str_eq(json_string_value(json_object_get(o, "proto")), "udp");
    cr_assert_str_eq(json_string_value(json_object_get(o, "scope")), "host");
    cr_assert_str_eq(json_string_value(json_object_get(o, "address")), "::");
    json_decref(o);
    pc_cluster_free(&c);
    free(path);
}

Test(pool_json, many_ranges_round_trip_without_truncation)
{
    pc_pool p;
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "sparse");
    for (uint32_t port = 20000; port < 60000; port += 2)
        cr_assert_eq(pc_rangeset_add(&p.ranges, port, port), 0);
    cr_assert_eq(pc_rangeset_add(&p.exclude, 20000, 20000), 0);
    cr_assert_eq(pc_rangeset_copy(&p.ports, &p.ranges), 0);
    cr_assert_eq(pc_rangeset_subtract(&p.ports, &p.exclude), 0);
    p.proto = PC_PROTO_BOTH;
    p.scope = PC_SCOPE_HOST;
    snprintf(p.address, sizeof(p.address), "::1");
    char *s = pc_pool_to_json_str(&p);
    pc_pool back;
    pc_error err;
    cr_assert_eq(pc_pool_from_json(s, strlen(s), &back, &err), 0, "%s", err.msg);
    cr_assert_eq(back.ranges.n, 20000);
    cr_assert_eq(pc_rangeset_count(&back.ports), 19999);
    pt_same_pool(&p, &back);
    pc_pool_free(&back);
    pc_pool_free(&p);
    free(s);
}

Test(pool_json, unknown_fields_are_ignored_and_addresses_canonicalised)
{
    const char *text =
        "{\"name\":\"a\",\"ranges\":\"1024-1030\",\"exclude\":\"\",\"proto\":\"both\","
        "\"scope\":\"host\",\"address\":\"0:0::0\",\"allow_privileged\":false,"
        "\"future\":{\"x\":[1,2,3]}}";
    pc_pool p;
    cr_assert_eq(pt_parse(text, &p, NULL), 0);
    cr_assert_str_eq(p.address, "::");
    cr_assert_eq(p.proto, PC_PROTO_BOTH);
    cr_assert_eq(p.scope, PC_SCOPE_HOST);
    pc_pool_free(&p);
}

/* Build the example with one field replaced (value NULL removes it). */
static char *pt_with(const char *key, const char *raw_value)
{
    json_t *o = json_loads(pt_example, 0, NULL);
    if (raw_value)
        json_object_set_new(o, key, json_loads(raw_value, JSON_DECODE_ANY, NULL));
    else
        json_object_del(o, key);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void pt_rejects(const char *text, size_t len, const char *want)
{
    pc_pool p;
    pc_error err;
    pc_error_clear(&err);
    int rc = pc_pool_from_json(text, len, &p, &err);
    cr_expect_eq(rc, PORTCO_ECONFIG, "accepted: %.200s", text ? text : "(null)");
    cr_expect(strstr(err.msg, want), "for %.200s: message '%s' lacks '%s'", text ? text : "(null)",
              err.msg, want);
    cr_expect_eq(err.code, PORTCO_ECONFIG);
    /* On failure the pool is left empty: freeing it is harmless. */
    cr_expect_eq(p.ranges.n + p.exclude.n + p.ports.n, 0);
    pc_pool_free(&p);
}

static void pt_rejects_field(const char *key, const char *raw_value, const char *want)
{
    char *s = pt_with(key, raw_value);
    cr_assert(s && (!raw_value || !strstr(s, pt_example + 1)), "bad test JSON for %s", key);
    pt_rejects(s, strlen(s), want);
    free(s);
}

Test(pool_json, rejects_what_is_not_a_json_object)
{
    pt_rejects("", 0, "not valid JSON");
    pt_rejects("not json", 8, "not valid JSON");
    pt_rejects("{\"name\":", 8, "not valid JSON");
    pt_rejects("[1,2]", 5, "expected a JSON object");
    pt_rejects("42", 2, "expected a JSON object");
    pt_rejects("null", 4, "expected a JSON object");
    pt_rejects(NULL, 0, "no data");
    const char bin[] = {'\x00', '\xff', '{', '\x01'};
    pt_rejects(bin, sizeof(bin), "not valid JSON");
    /* Duplicate keys are ambiguous. */
    pt_rejects("{\"name\":\"a\",\"name\":\"b\"}", 23, "not valid JSON");
    /* Oversized input is refused before parsing. */
    size_t big = PC_POOL_JSON_MAX + 1;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    pt_rejects(huge, big, "more than");
    free(huge);
}

Test(pool_json, rejects_missing_fields)
{
    const char *fields[] = {"name",  "ranges",  "exclude",         "proto",
                            "scope", "address", "allow_privileged"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        pt_rejects_field(fields[i], NULL, fields[i]);
}

Test(pool_json, rejects_wrong_types)
{
    pt_rejects_field("name", "42", "\"name\" must be a string");
    pt_rejects_field("ranges", "[30000, 30001]", "\"ranges\" must be a string");
    pt_rejects_field("exclude", "null", "\"exclude\" must be a string");
    pt_rejects_field("proto", "{}", "\"proto\" must be a string");
    pt_rejects_field("scope", "true", "\"scope\" must be a string");
    pt_rejects_field("address", "127", "\"address\" must be a string");
    pt_rejects_field("allow_privileged", "\"false\"", "allow_privileged");
    pt_rejects_field("allow_privileged", "0", "allow_privileged");
}

Test(pool_json, rejects_bad_values)
{
    pt_rejects_field("name", "\"a/b\"", "not a valid pool name");
    pt_rejects_field("name", "\"\"", "not a valid pool name");
    pt_rejects_field("name", "\"..\"", "not a valid pool name");
    /* jansson refuses \u0000 in strings unless asked to allow it. */
    const char *nul = "{\"name\":\"a\\u0000b\",\"ranges\":\"30000\",\"exclude\":\"\","
                      "\"proto\":\"tcp\",\"scope\":\"cluster\",\"address\":\"::\","
                      "\"allow_privileged\":false}";
    pt_rejects(nul, strlen(nul), "not valid JSON");
    pt_rejects_field("proto", "\"sctp\"", "proto");
    pt_rejects_field("scope", "\"world\"", "scope");
    pt_rejects_field("address", "\"localhost\"", "not an IP literal");
    pt_rejects_field("address", "\"[::1]\"", "not an IP literal");
    pt_rejects_field("ranges", "\"\"", "ranges is empty");
    pt_rejects_field("ranges", "\"30999-30000\"", "reversed");
    pt_rejects_field("ranges", "\"0-5\"", "port 0");
    pt_rejects_field("ranges", "\"70000\"", "between 1 and 65535");
    pt_rejects_field("ranges", "\"-5\"", "expected a port");
    pt_rejects_field("ranges", "\"99999999999999999999999999\"", "between 1 and 65535");
    pt_rejects_field("ranges", "\"abc\"", "expected a port");
    pt_rejects_field("ranges", "\"30000-30999,,31000\"", "expected a port");
    pt_rejects_field("exclude", "\"x\"", "expected a port");
    pt_rejects_field("exclude", "\"0\"", "port 0");
    pt_rejects_field("exclude", "\"19000-21000\"", "no port is left");
    pt_rejects_field("ranges", "\"80-90\"", "privileged");
}

Test(pool_json, privileged_ports_need_consent)
{
    const char *text = "{\"name\":\"dns\",\"ranges\":\"53\",\"exclude\":\"\",\"proto\":\"udp\","
                       "\"scope\":\"host\",\"address\":\"::1\",\"allow_privileged\":true}";
    pc_pool p;
    cr_assert_eq(pt_parse(text, &p, NULL), 0);
    cr_assert(p.allow_privileged);
    cr_assert(pc_rangeset_contains(&p.ports, 53));
    pc_pool_free(&p);
}

Test(pool_json, garbage_never_crashes, .timeout = 60)
{
    unsigned seed = 4242;
    size_t n = strlen(pt_example);
    for (int iter = 0; iter < 5000; iter++) {
        char buf[512];
        memcpy(buf, pt_example, n);
        size_t len = n;
        int edits = 1 + rand_r(&seed) % 4;
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)rand_r(&seed) % len;
            if (rand_r(&seed) % 5 == 0)
                len = at ? at : 1;
            else
                buf[at] = (char)(rand_r(&seed) % 256);
        }
        pc_pool p;
        pc_error err;
        int rc = pc_pool_from_json(buf, len, &p, &err);
        cr_assert(rc == 0 || rc == PORTCO_ECONFIG, "iteration %d: rc %d", iter, rc);
        if (rc == 0)
            cr_assert(p.ports.n > 0 && pc_pool_name_valid(p.name));
        pc_pool_free(&p);
    }
}

Test(static_json, round_trip)
{
    pc_static s = {.pool = "web", .port = 30443, .service = "frontend"};
    char *text = pc_static_to_json_str(&s);
    cr_assert_str_eq(text, "{\"service\":\"frontend\"}");
    pc_static back;
    pc_error err;
    cr_assert_eq(pc_static_from_json(text, strlen(text), "web", 30443, &back, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(back.pool, "web");
    cr_assert_eq(back.port, 30443);
    cr_assert_str_eq(back.service, "frontend");
    free(text);
    json_t *o = pc_static_to_json(&s);
    cr_assert_eq(json_object_size(o), 1);
    json_decref(o);
    /* Extra fields from newer writers are ignored. */
    const char *more = "{\"service\":\"api\",\"owner\":\"team-a\"}";
    cr_assert_eq(pc_static_from_json(more, strlen(more), "web", 1, &back, NULL), 0);
    cr_assert_str_eq(back.service, "api");
}

Test(static_json, rejections)
{
    pc_static s;
    pc_error err;
    const char *good = "{\"service\":\"frontend\"}";
    struct {
        const char *text, *pool;
        uint32_t port;
        const char *want;
    } bad[] = {
        {"", "web", 1, "not valid JSON"},
        {"[]", "web", 1, "expected a JSON object"},
        {"{}", "web", 1, "service"},
        {"{\"service\":7}", "web", 1, "service"},
        {"{\"service\":\"\"}", "web", 1, "service"},
        {"{\"service\":\"a/b\"}", "web", 1, "service"},
        {"{\"service\":\"a b\"}", "web", 1, "service"},
        {"{\"service\":\"a\\u0000b\"}", "web", 1, "not valid JSON"},
        {good, "we/b", 1, "bad pool name"},
        {good, "", 1, "bad pool name"},
        {good, NULL, 1, "bad pool name"},
        {good, "web", 0, "bad port"},
        {good, "web", 65536, "bad port"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pc_error_clear(&err);
        int rc = pc_static_from_json(bad[i].text, strlen(bad[i].text), bad[i].pool, bad[i].port, &s,
                                     &err);
        cr_expect_eq(rc, PORTCO_ECONFIG, "case %zu accepted", i);
        cr_expect(strstr(err.msg, bad[i].want), "case %zu: '%s' lacks '%s'", i, err.msg,
                  bad[i].want);
    }
}
