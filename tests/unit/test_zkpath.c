/* test_zkpath.c - znode path builders and claim / election name parsing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "zkpath.h"

Test(zkpath, layout_paths_under_default_root)
{
    char b[PC_ZKP_PATH_MAX];
    const char *r = PC_ZKP_DEFAULT_ROOT;
    cr_assert_eq(pc_zkp_pool_config(b, sizeof(b), r, "web"), 0);
    cr_assert_str_eq(b, "/portco/config/pools/web");
    cr_assert_eq(pc_zkp_config_pools_dir(b, sizeof(b), r), 0);
    cr_assert_str_eq(b, "/portco/config/pools");
    cr_assert_eq(pc_zkp_static_root(b, sizeof(b), r), 0);
    cr_assert_str_eq(b, "/portco/config/static");
    cr_assert_eq(pc_zkp_static_dir(b, sizeof(b), r, "web"), 0);
    cr_assert_str_eq(b, "/portco/config/static/web");
    cr_assert_eq(pc_zkp_static_port(b, sizeof(b), r, "web", 30080), 0);
    cr_assert_str_eq(b, "/portco/config/static/web/30080");
    cr_assert_eq(pc_zkp_pools_dir(b, sizeof(b), r), 0);
    cr_assert_str_eq(b, "/portco/pools");
    cr_assert_eq(pc_zkp_pool_dir(b, sizeof(b), r, "web"), 0);
    cr_assert_str_eq(b, "/portco/pools/web");
    cr_assert_eq(pc_zkp_pool_hosts_dir(b, sizeof(b), r, "web"), 0);
    cr_assert_str_eq(b, "/portco/pools/web/hosts");
    cr_assert_eq(pc_zkp_ports_dir(b, sizeof(b), r, "web", NULL), 0);
    cr_assert_str_eq(b, "/portco/pools/web/ports");
    cr_assert_eq(pc_zkp_port_dir(b, sizeof(b), r, "web", NULL, 30001), 0);
    cr_assert_str_eq(b, "/portco/pools/web/ports/30001");
    cr_assert_eq(pc_zkp_hosts_dir(b, sizeof(b), r), 0);
    cr_assert_str_eq(b, "/portco/hosts");
    cr_assert_eq(pc_zkp_host(b, sizeof(b), r, "h1"), 0);
    cr_assert_str_eq(b, "/portco/hosts/h1");
    cr_assert_eq(pc_zkp_service(b, sizeof(b), r, "api", NULL), 0);
    cr_assert_str_eq(b, "/portco/services/api");
    cr_assert_eq(pc_zkp_service(b, sizeof(b), r, "api", "i-1"), 0);
    cr_assert_str_eq(b, "/portco/services/api/i-1");
    cr_assert_eq(pc_zkp_coordinator_dir(b, sizeof(b), r), 0);
    cr_assert_str_eq(b, "/portco/coordinator");
    cr_assert_eq(pc_zkp_election_dir(b, sizeof(b), r), 0);
    cr_assert_str_eq(b, "/portco/coordinator/election");
    cr_assert_eq(pc_zkp_election_prefix(b, sizeof(b), r), 0);
    cr_assert_str_eq(b, "/portco/coordinator/election/n_");
    cr_assert_eq(pc_zkp_leader(b, sizeof(b), r), 0);
    cr_assert_str_eq(b, "/portco/coordinator/leader");
}

Test(zkpath, host_scope_port_dirs)
{
    char b[PC_ZKP_PATH_MAX];
    cr_assert_eq(pc_zkp_ports_dir(b, sizeof(b), "/x/y", "db", "h-2"), 0);
    cr_assert_str_eq(b, "/x/y/pools/db/hosts/h-2/ports");
    cr_assert_eq(pc_zkp_port_dir(b, sizeof(b), "/x/y", "db", "h-2", 5432), 0);
    cr_assert_str_eq(b, "/x/y/pools/db/hosts/h-2/ports/5432");
}

Test(zkpath, slash_root_has_no_double_slash)
{
    char b[PC_ZKP_PATH_MAX];
    cr_assert_eq(pc_zkp_pool_config(b, sizeof(b), "/", "web"), 0);
    cr_assert_str_eq(b, "/config/pools/web");
    cr_assert_eq(pc_zkp_leader(b, sizeof(b), "/"), 0);
    cr_assert_str_eq(b, "/coordinator/leader");
    cr_assert_eq(pc_zkp_join(b, sizeof(b), "/", "a"), 0);
    cr_assert_str_eq(b, "/a");
    cr_assert_eq(pc_zkp_join(b, sizeof(b), "/a/b", "c"), 0);
    cr_assert_str_eq(b, "/a/b/c");
}

Test(zkpath, bad_roots_are_rejected)
{
    char b[64];
    const char *bad[] = {"",       "portco", "/portco/", "//x", "/a//b",
                         "/a/./b", "/a/..",  "/a\nb",    NULL};
    for (int i = 0; bad[i]; i++) {
        strcpy(b, "garbage");
        cr_assert_eq(pc_zkp_pool_config(b, sizeof(b), bad[i], "web"), -EINVAL, "root '%s'", bad[i]);
        cr_assert_str_empty(b);
        cr_assert_eq(pc_zkp_check_root(bad[i]), -EINVAL);
    }
    cr_assert_eq(pc_zkp_check_root(NULL), -EINVAL);
    cr_assert_eq(pc_zkp_check_root("/"), 0);
    cr_assert_eq(pc_zkp_check_root("/a/b-c/d_e"), 0);
}

Test(zkpath, bad_names_and_ports_are_rejected)
{
    char b[PC_ZKP_PATH_MAX];
    cr_assert_eq(pc_zkp_pool_config(b, sizeof(b), "/p", ""), -EINVAL);
    cr_assert_eq(pc_zkp_pool_config(b, sizeof(b), "/p", "a/b"), -EINVAL);
    cr_assert_eq(pc_zkp_pool_config(b, sizeof(b), "/p", ".."), -EINVAL);
    cr_assert_eq(pc_zkp_pool_config(b, sizeof(b), "/p", "."), -EINVAL);
    cr_assert_eq(pc_zkp_pool_config(b, sizeof(b), "/p", "a\tb"), -EINVAL);
    cr_assert_eq(pc_zkp_pool_config(b, sizeof(b), "/p", NULL), -EINVAL);
    cr_assert_eq(pc_zkp_host(b, sizeof(b), "/p", "x/y"), -EINVAL);
    cr_assert_eq(pc_zkp_ports_dir(b, sizeof(b), "/p", "web", "a/b"), -EINVAL);
    cr_assert_eq(pc_zkp_static_port(b, sizeof(b), "/p", "web", 0), -EINVAL);
    cr_assert_eq(pc_zkp_static_port(b, sizeof(b), "/p", "web", 65536), -EINVAL);
    cr_assert_eq(pc_zkp_port_dir(b, sizeof(b), "/p", "web", NULL, -1), -EINVAL);
    cr_assert_eq(pc_zkp_static_port(b, sizeof(b), "/p", "web", 65535), 0);
    char longname[PC_ZKP_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    cr_assert_eq(pc_zkp_check_name(longname), -EINVAL);
    longname[PC_ZKP_NAME_MAX] = '\0';
    cr_assert_eq(pc_zkp_check_name(longname), 0);
}

Test(zkpath, overflow_is_enametoolong_and_leaves_empty_string)
{
    char b[24];
    cr_assert_eq(pc_zkp_pool_config(b, sizeof(b), "/portco", "web"), -ENAMETOOLONG);
    cr_assert_str_empty(b);
    /* Exactly fitting: "/portco/config/pools/ab" is 23 characters. */
    cr_assert_eq(pc_zkp_pool_config(b, sizeof(b), "/portco", "ab"), 0);
    cr_assert_str_eq(b, "/portco/config/pools/ab");
    cr_assert_eq(pc_zkp_pool_config(b, sizeof(b), "/portco", "abc"), -ENAMETOOLONG);
    char c[29]; /* "/portco/pools/web/ports/30001" needs 30 */
    cr_assert_eq(pc_zkp_port_dir(c, sizeof(c), "/portco", "web", NULL, 30001), -ENAMETOOLONG);
    cr_assert_str_empty(c);
    cr_assert_eq(pc_zkp_claim_prefix(c, 10, "abc"), -ENAMETOOLONG);
    cr_assert_eq(pc_zkp_pool_config(b, 0, "/portco", "web"), -EINVAL);
}

Test(zkpath, uuid_is_fresh_v4)
{
    char a[PC_ZKP_UUID_LEN + 1], b[PC_ZKP_UUID_LEN + 1];
    cr_assert_eq(pc_zkp_new_uuid(a, sizeof(a)), 0);
    cr_assert_eq(pc_zkp_new_uuid(b, sizeof(b)), 0);
    cr_assert_eq(strlen(a), PC_ZKP_UUID_LEN);
    cr_assert_str_neq(a, b);
    cr_assert_eq(a[8], '-');
    cr_assert_eq(a[13], '-');
    cr_assert_eq(a[14], '4');
    cr_assert(strchr("89ab", a[19]) != NULL);
    cr_assert_eq(pc_zkp_new_uuid(a, PC_ZKP_UUID_LEN), -EINVAL);
}

Test(zkpath, claim_prefix_and_path)
{
    char b[PC_ZKP_PATH_MAX];
    const char *u = "0f8fad5b-d9cb-469f-a165-70867728950e";
    cr_assert_eq(pc_zkp_claim_prefix(b, sizeof(b), u), 0);
    cr_assert_str_eq(b, "_c_0f8fad5b-d9cb-469f-a165-70867728950e-lock-");
    cr_assert_eq(pc_zkp_claim_path(b, sizeof(b), "/portco/pools/web/ports/30001", u), 0);
    cr_assert_str_eq(b,
                     "/portco/pools/web/ports/30001/_c_0f8fad5b-d9cb-469f-a165-70867728950e-lock-");
    cr_assert_eq(pc_zkp_claim_prefix(b, sizeof(b), ""), -EINVAL);
    cr_assert_eq(pc_zkp_claim_prefix(b, sizeof(b), "a/b"), -EINVAL);
    cr_assert_eq(pc_zkp_claim_prefix(b, sizeof(b), NULL), -EINVAL);
}

Test(zkpath, claim_parse_portco_name)
{
    pc_claim_name c;
    const char *n = "_c_0f8fad5b-d9cb-469f-a165-70867728950e-lock-0000000042";
    cr_assert_eq(pc_zkp_claim_parse(n, &c), 0);
    cr_assert(c.portco);
    cr_assert_str_eq(c.uuid, "0f8fad5b-d9cb-469f-a165-70867728950e");
    cr_assert_eq(c.seq, 42);
    cr_assert(pc_zkp_claim_is_ours(n, "0f8fad5b-d9cb-469f-a165-70867728950e"));
    cr_assert_not(pc_zkp_claim_is_ours(n, "0f8fad5b-d9cb-469f-a165-70867728950f"));
    cr_assert_eq(pc_zkp_claim_parse("_c_x-lock-9999999999", &c), 0);
    cr_assert_eq(c.seq, 9999999999LL);
    cr_assert_str_eq(c.uuid, "x");
}

Test(zkpath, claim_parse_foreign_lock_names)
{
    pc_claim_name c;
    /* Curator without protection, and kazoo/other clients using "-lock-". */
    cr_assert_eq(pc_zkp_claim_parse("lock-0000000007", &c), 0);
    cr_assert_not(c.portco);
    cr_assert_str_empty(c.uuid);
    cr_assert_eq(c.seq, 7);
    cr_assert_eq(pc_zkp_claim_parse("d2e1c3f0a6b24c3d9e3f-lock-0000000011", &c), 0);
    cr_assert_not(c.portco);
    cr_assert_eq(c.seq, 11);
    cr_assert_not(pc_zkp_claim_is_ours("lock-0000000007", "x"));
}

Test(zkpath, claim_parse_rejects_other_names)
{
    const char *bad[] = {"",
                         "lock-",
                         "lock-123",
                         "lock-00000000001", /* 11 digits */
                         "lock-000000001a",
                         "xlock-0000000001",      /* "lock-" not after '-' */
                         "abc__lock__0000000001", /* kazoo's own form */
                         "_c_u-lock-0000000001x",
                         "0000000001",
                         "n_0000000001",
                         NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(pc_zkp_claim_parse(bad[i], NULL), -EINVAL, "name '%s'", bad[i]);
    cr_assert_eq(pc_zkp_claim_parse(NULL, NULL), -EINVAL);
}

Test(zkpath, election_names)
{
    int64_t s = -1;
    cr_assert_eq(pc_zkp_election_parse("n_0000000003", &s), 0);
    cr_assert_eq(s, 3);
    cr_assert_eq(pc_zkp_election_parse("n_000000003", &s), -EINVAL);
    cr_assert_eq(pc_zkp_election_parse("x_0000000003", &s), -EINVAL);
    cr_assert_eq(pc_zkp_election_parse("n_00000000031", &s), -EINVAL);
}

Test(zkpath, lowest_and_predecessor_order_by_sequence_only)
{
    /* Name order differs from sequence order; junk is ignored. */
    char *names[] = {"_c_zzz-lock-0000000005", "_c_aaa-lock-0000000009", "junk", "lock-0000000002",
                     "_c_mmm-lock-0000000007"};
    int n = 5;
    cr_assert_eq(pc_zkp_lowest(names, n, pc_zkp_claim_seq), 3);
    cr_assert_eq(pc_zkp_predecessor(names, n, pc_zkp_claim_seq, 9), 4);
    cr_assert_eq(pc_zkp_predecessor(names, n, pc_zkp_claim_seq, 7), 0);
    cr_assert_eq(pc_zkp_predecessor(names, n, pc_zkp_claim_seq, 5), 3);
    cr_assert_eq(pc_zkp_predecessor(names, n, pc_zkp_claim_seq, 2), -1);
    char *none[] = {"junk", "n_0000000001"};
    cr_assert_eq(pc_zkp_lowest(none, 2, pc_zkp_claim_seq), -1);
    cr_assert_eq(pc_zkp_lowest(none, 2, pc_zkp_election_seq), 1);
    cr_assert_eq(pc_zkp_lowest(NULL, 0, pc_zkp_election_seq), -1);
}
