/* test_agent.c - the real portco-agent against a real ZooKeeper, spoken to over its socket. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentcli.h"
#include "fixture.h"
#include "support.h"
#include "zkpath.h"

TestSuite(agent, .init = pt_setup, .fini = pt_teardown, .timeout = 120);

/* Pool "web" over pt_base..pt_base + 4, and agent "h1" serving it. */
static void pt_web_agent(pt_agent *ag)
{
    pt_publish_pool("web", pt_base, pt_base + 4, "cluster", NULL);
    pt_start_agent(ag, "h1");
}

Test(agent, acquire_any_creates_the_claim_node)
{
    pt_agent ag;
    pt_web_agent(&ag);
    pt_cli c;
    pt_connect(&c, &ag);
    json_t *req = pt_acq_req("web", "api", 0);
    json_object_set_new(req, "instance", json_string("a-1"));
    portco_claim cl;
    int port = pt_acquire(&c, req, &cl);
    cr_assert_geq(port, pt_base, "acquire failed: %s", portco_err_name(port));
    cr_assert_leq(port, pt_base + 4);
    cr_assert_str_eq(cl.pool, "web");
    cr_assert_str_eq(cl.host, "h1");
    cr_assert_str_eq(cl.service, "api");
    cr_assert_str_eq(cl.instance, "a-1");
    cr_assert_eq(cl.pid, getpid());
    pc_claim_name nm;
    cr_assert_eq(pc_zkp_claim_parse(cl.claim, &nm), 0, "claim name %s", cl.claim);
    cr_assert(nm.portco);

    /* The node: the only (so lowest) child, with the claim JSON, czxid as told. */
    char dir[600], path[800];
    pt_port_dir(dir, sizeof(dir), "web", NULL, port);
    char **names;
    int n;
    cr_assert_eq(pt_zkr_children(pt_z, dir, &names, &n, NULL), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(names[0], cl.claim);
    pt_zkr_free_strings(names, n);
    snprintf(path, sizeof(path), "%s/%s", dir, cl.claim);
    char *data = NULL;
    int len = 0;
    struct Stat st;
    cr_assert_eq(pt_zkr_get(pt_z, path, &data, &len, &st), 0);
    cr_assert_eq(st.czxid, cl.czxid);
    cr_assert_neq(st.ephemeralOwner, 0, "claim nodes are ephemeral");
    json_t *j = json_loadb(data, (size_t)len, 0, NULL);
    free(data);
    cr_assert_not_null(j);
    cr_assert_str_eq(json_string_value(json_object_get(j, "host")), "h1");
    cr_assert_str_eq(json_string_value(json_object_get(j, "address")), "0.0.0.0");
    cr_assert_str_eq(json_string_value(json_object_get(j, "proto")), "tcp");
    cr_assert_str_eq(json_string_value(json_object_get(j, "service")), "api");
    cr_assert_str_eq(json_string_value(json_object_get(j, "instance")), "a-1");
    cr_assert_eq(json_integer_value(json_object_get(j, "pid")), getpid());
    cr_assert_eq(json_integer_value(json_object_get(j, "uid")), getuid());
    cr_assert(json_is_string(json_object_get(j, "since")));
    cr_assert(json_is_integer(json_object_get(j, "since_ms")));
    cr_assert_str_eq(json_string_value(json_object_get(j, "lifetime")), "connection");
    json_decref(j);

    /* list reports it, from ZooKeeper. */
    pc_answer a;
    pt_call(&c, json_pack("{s:s}", "op", "list"), &a);
    cr_assert(a.ok);
    json_t *claims = json_object_get(a.root, "claims");
    cr_assert_eq(json_array_size(claims), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(claims, 0), "port")), port);
    pc_answer_free(&a);
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, two_acquires_get_different_ports)
{
    pt_agent ag;
    pt_web_agent(&ag);
    pt_cli c;
    pt_connect(&c, &ag);
    int p1 = pt_acquire(&c, pt_acq_req("web", "api", 0), NULL);
    int p2 = pt_acquire(&c, pt_acq_req("web", "api", 0), NULL);
    cr_assert_gt(p1, 0);
    cr_assert_gt(p2, 0);
    cr_assert_neq(p1, p2);
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, exhaustion_after_exactly_n_grants)
{
    pt_publish_pool("small", pt_base, pt_base + 2, "cluster", NULL);
    pt_agent ag;
    pt_start_agent(&ag, "h1");
    pt_cli c;
    pt_connect(&c, &ag);
    bool seen[3] = {false, false, false};
    for (int i = 0; i < 3; i++) {
        int p = pt_acquire(&c, pt_acq_req("small", "api", 0), NULL);
        cr_assert_geq(p, pt_base, "grant %d: %s", i, portco_err_name(p));
        cr_assert_not(seen[p - pt_base]);
        seen[p - pt_base] = true;
    }
    cr_assert_eq(pt_acquire(&c, pt_acq_req("small", "api", 0), NULL), PORTCO_EEXHAUSTED);
    /* A release makes one port available again. */
    cr_assert_eq(pt_release(&c, "small", pt_base + 1), 0);
    cr_assert_eq(pt_acquire(&c, pt_acq_req("small", "api", 0), NULL), pt_base + 1);
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, unrelated_listener_is_never_granted)
{
    pt_publish_pool("web", pt_base, pt_base + 2, "cluster", NULL);
    int busy = pt_base + 1;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)busy)};
    cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(l, 4), 0);
    pt_agent ag;
    pt_start_agent(&ag, "h1");
    pt_cli c;
    pt_connect(&c, &ag);
    for (int i = 0; i < 2; i++) {
        int p = pt_acquire(&c, pt_acq_req("web", "api", 0), NULL);
        cr_assert_gt(p, 0, "%s", portco_err_name(p));
        cr_assert_neq(p, busy);
    }
    cr_assert_eq(pt_acquire(&c, pt_acq_req("web", "api", 0), NULL), PORTCO_EEXHAUSTED);
    pc_answer a;
    pt_call(&c, pt_acq_req("web", "api", busy), &a);
    cr_assert_not(a.ok);
    cr_assert_eq(a.code, PORTCO_EUNUSABLE);
    cr_assert(strstr(a.message, "listen") || strstr(a.message, "LISTEN"),
              "reason names the listener: %s", a.message);
    pc_answer_free(&a);
    cr_assert_eq(pt_nclaims("web", NULL, busy), 0, "no claim on a refused port");
    close(l);
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, host_scope_pool)
{
    pt_publish_pool("rtp", pt_base, pt_base + 1, "host", NULL);
    pt_agent ag;
    pt_start_agent(&ag, "hx");
    pt_cli c;
    pt_connect(&c, &ag);
    int p = pt_acquire(&c, pt_acq_req("rtp", "media", 0), NULL);
    cr_assert_gt(p, 0, "%s", portco_err_name(p));
    cr_assert_eq(pt_nclaims("rtp", "hx", p), 1);
    cr_assert_eq(pt_nclaims("rtp", NULL, p), 0, "nothing in the cluster-scope tree");
    pc_answer a;
    pt_call(&c, json_pack("{s:s, s:s}", "op", "list", "pool", "rtp"), &a);
    cr_assert(a.ok);
    cr_assert_eq(json_array_size(json_object_get(a.root, "claims")), 1);
    pc_answer_free(&a);
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, specific_port_rules)
{
    pt_publish_pool("web", pt_base, pt_base + 4, "cluster", NULL);
    pt_publish_static("web", pt_base + 3, "frontend");
    pt_agent ag;
    pt_start_agent(&ag, "h1");
    pt_cli c;
    pt_connect(&c, &ag);
    cr_assert_eq(pt_acquire(&c, pt_acq_req("web", "api", pt_base + 10), NULL), PORTCO_EOUTOFPOOL);
    /* Statics are read asynchronously after the pool: poll until they apply. */
    int rc = 0;
    for (long long end = pt_now_ms() + 10000; pt_now_ms() < end; pt_nap_ms(50)) {
        rc = pt_acquire(&c, pt_acq_req("web", "api", pt_base + 3), NULL);
        if (rc == PORTCO_ESTATIC)
            break;
        if (rc > 0)
            pt_release(&c, "web", rc);
    }
    cr_assert_eq(rc, PORTCO_ESTATIC);
    /* The service with a static port gets it first. */
    cr_assert_eq(pt_acquire(&c, pt_acq_req("web", "frontend", 0), NULL), pt_base + 3);
    /* Taken by our own first claim. */
    int p = pt_acquire(&c, pt_acq_req("web", "api", pt_base), NULL);
    cr_assert_eq(p, pt_base);
    pt_cli d;
    pt_connect(&d, &ag);
    cr_assert_eq(pt_acquire(&d, pt_acq_req("web", "api", pt_base), NULL), PORTCO_ETAKEN);
    cr_assert_eq(pt_acquire(&d, pt_acq_req("nope", "api", 0), NULL), PORTCO_ENOPOOL);
    /* The answer goes out first; the loser's node is deleted right after it. */
    int n = -1;
    for (long long end = pt_now_ms() + 5000; pt_now_ms() < end; pt_nap_ms(20))
        if ((n = pt_nclaims("web", NULL, pt_base)) == 1)
            break;
    cr_assert_eq(n, 1, "the loser withdrew its node");
    pt_close(&d);
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, connection_close_releases)
{
    pt_agent ag;
    pt_web_agent(&ag);
    pt_cli c;
    pt_connect(&c, &ag);
    int p = pt_acquire(&c, pt_acq_req("web", "api", 0), NULL);
    cr_assert_gt(p, 0);
    cr_assert_eq(pt_nclaims("web", NULL, p), 1);
    pt_close(&c);
    pt_assert_released("web", p);
    pt_stop_agent(&ag);
}

/*
 * Close c and return once the agent has handled the close: a connection
 * claim taken on c for the purpose is released by then. What the close does
 * to c's other claims is done in that same loop turn, so a test can assert
 * right after that they survived, without guessing how long to wait.
 */
static void pt_close_and_sync(pt_cli *c, const char *pool)
{
    int marker = pt_acquire(c, pt_acq_req(pool, "marker", 0), NULL);
    cr_assert_gt(marker, 0, "%s", portco_err_name(marker));
    pt_close(c);
    pt_assert_released(pool, marker);
}

/* The claim on `port` is in ZooKeeper, and it is the only one the agent holds. */
static void pt_assert_kept(const pt_agent *ag, const char *pool, int port)
{
    cr_assert_eq(pt_nclaims(pool, NULL, port), 1, "the claim on %d left ZooKeeper", port);
    pt_cli c;
    pt_connect(&c, ag);
    cr_assert_eq(pt_counter(&c, "claims"), 1, "the agent no longer holds the claim on %d", port);
    pt_close(&c);
}

Test(agent, pid_lifetime_ends_with_the_process)
{
    pt_agent ag;
    pt_web_agent(&ag);
    char *argv[] = {"/bin/sleep", "60", NULL};
    pid_t child = pt_spawn(argv, NULL, NULL, NULL);
    cr_assert_gt(child, 0);
    pt_cli c;
    pt_connect(&c, &ag);
    json_t *req = pt_acq_req("web", "api", 0);
    json_object_set_new(req, "lifetime", json_string("pid"));
    json_object_set_new(req, "hold_pid", json_integer(child));
    int p = pt_acquire(&c, req, NULL);
    cr_assert_gt(p, 0, "%s", portco_err_name(p));
    pt_close_and_sync(&c, "web"); /* the connection does not matter for a pid claim */
    pt_assert_kept(&ag, "web", p);
    pt_stop_pid(child, SIGKILL, 5000);
    pt_assert_released("web", p);

    /* A pid that does not exist is refused. */
    pt_connect(&c, &ag);
    req = pt_acq_req("web", "api", 0);
    json_object_set_new(req, "lifetime", json_string("pid"));
    json_object_set_new(req, "hold_pid", json_integer(child)); /* reaped: gone */
    cr_assert_eq(pt_acquire(&c, req, NULL), PORTCO_EBADREQ);
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, explicit_survives_the_connection)
{
    pt_agent ag;
    pt_web_agent(&ag);
    pt_cli c;
    pt_connect(&c, &ag);
    json_t *req = pt_acq_req("web", "api", 0);
    json_object_set_new(req, "lifetime", json_string("explicit"));
    int p = pt_acquire(&c, req, NULL);
    cr_assert_gt(p, 0);
    pt_close_and_sync(&c, "web");
    pt_assert_kept(&ag, "web", p);
    pt_connect(&c, &ag);
    cr_assert_eq(pt_release(&c, "web", p), 0);
    cr_assert_eq(pt_nclaims("web", NULL, p), 0, "released before the answer");
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, release_by_non_owner)
{
    pt_agent ag;
    pt_web_agent(&ag);
    pt_cli c, d;
    pt_connect(&c, &ag);
    pt_connect(&d, &ag);
    int p = pt_acquire(&c, pt_acq_req("web", "api", 0), NULL);
    cr_assert_gt(p, 0);
    cr_assert_eq(pt_release(&d, "web", p), PORTCO_ENOTOWNER);
    int other = p == pt_base ? pt_base + 1 : pt_base;
    cr_assert_eq(pt_release(&d, "web", other), PORTCO_ENOTOWNER);
    cr_assert_eq(pt_nclaims("web", NULL, p), 1);
    cr_assert_eq(pt_release(&c, "web", p), 0);
    pt_close(&c);
    pt_close(&d);
    pt_stop_agent(&ag);
}

Test(agent, waiter_gets_the_port_on_release)
{
    pt_agent ag;
    pt_web_agent(&ag);
    pt_cli h, w;
    pt_connect(&h, &ag);
    pt_connect(&w, &ag);
    cr_assert_eq(pt_acquire(&h, pt_acq_req("web", "api", pt_base), NULL), pt_base);
    pt_send_acquire(&w, "web", pt_base, 20000);
    pt_wait_nclaims("web", pt_base, 2);
    cr_assert_eq(pt_release(&h, "web", pt_base), 0);
    int got = pt_read_grant(&w, 15000, NULL);
    cr_assert_eq(got, pt_base, "the waiter got %d (%s)", got, got < 0 ? portco_err_name(got) : "");

    /* A wait that times out withdraws its node. */
    pt_send_acquire(&h, "web", pt_base, 300);
    cr_assert_eq(pt_read_grant(&h, 10000, NULL), PORTCO_EWAITTIMEOUT);
    pt_wait_nclaims("web", pt_base, 1);
    pt_close(&h);
    pt_close(&w);
    pt_stop_agent(&ag);
}

Test(agent, each_release_wakes_one_waiter)
{
    pt_agent ag;
    pt_web_agent(&ag);
    pt_cli h, w[3], s;
    pt_connect(&h, &ag);
    pt_connect(&s, &ag);
    cr_assert_eq(pt_acquire(&h, pt_acq_req("web", "api", pt_base), NULL), pt_base);
    for (int i = 0; i < 3; i++) {
        pt_connect(&w[i], &ag);
        pt_send_acquire(&w[i], "web", pt_base, 30000);
        pt_wait_nclaims("web", pt_base, 2 + i); /* queue order = request order */
    }
    json_int_t wake0 = pt_counter(&s, "watch_wakeups");
    pt_cli *holder = &h;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(pt_release(holder, "web", pt_base), 0);
        int got = pt_read_grant(&w[i], 15000, NULL);
        cr_assert_eq(got, pt_base, "waiter %d got %d (%s)", i, got,
                     got < 0 ? portco_err_name(got) : "");
        cr_assert_eq(pt_counter(&s, "watch_wakeups"), wake0 + i + 1,
                     "one release wakes exactly one waiter");
        holder = &w[i];
    }
    pt_close(&h);
    for (int i = 0; i < 3; i++)
        pt_close(&w[i]);
    pt_close(&s);
    pt_stop_agent(&ag);
}

static void pt_expect_error(pt_cli *c, const char *line, int code)
{
    pt_send_raw(c, line);
    pc_answer a;
    cr_assert_eq(pt_read_answer(c, &a, 10000), 1, "no answer to %s", line);
    cr_assert_not(a.ok);
    cr_assert_eq(a.code, code, "%s -> %s (%s)", line, portco_err_name(a.code), a.message);
    cr_assert(a.message[0]);
    pc_answer_free(&a);
}

Test(agent, bad_requests_get_codes_and_the_agent_keeps_serving)
{
    pt_agent ag;
    pt_web_agent(&ag);
    pt_cli c;
    pt_connect(&c, &ag);
    pt_expect_error(&c, "this is not json\n", PORTCO_EBADREQ);
    pt_expect_error(&c, "[1,2,3]\n", PORTCO_EBADREQ);
    pt_expect_error(&c, "{\"v\":1,\"id\":1,\"op\":\"acquire\",\"pool\":7,\"service\":\"s\"}\n",
                    PORTCO_EBADREQ);
    pt_expect_error(&c,
                    "{\"v\":1,\"id\":2,\"op\":\"acquire\",\"pool\":\"web\",\"service\":\"s\","
                    "\"port\":\"x\"}\n",
                    PORTCO_EBADREQ);
    pt_expect_error(&c, "{\"v\":1,\"id\":3,\"op\":\"teleport\"}\n", PORTCO_EBADREQ);
    pt_expect_error(&c, "{\"v\":2,\"id\":4,\"op\":\"status\"}\n", PORTCO_EVERSION);
    pt_expect_error(&c, "{\"v\":1,\"id\":5,\"op\":\"release\",\"pool\":\"web\",\"port\":0}\n",
                    PORTCO_EBADREQ);
    cr_assert_gt(pt_acquire(&c, pt_acq_req("web", "api", 0), NULL), 0, "still serving");

    /* An oversize line: MESSAGE_TOO_BIG, then the connection is closed. */
    pt_cli big;
    pt_connect(&big, &ag);
    size_t n = PC_PROTO_MAX_LINE + 100;
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = '\0';
    (void)pc_frame_send_all(big.fd, s, n, -1, 5000); /* may fail once the agent closes */
    free(s);
    pc_answer a;
    cr_assert_eq(pt_read_answer(&big, &a, 10000), 1);
    cr_assert_eq(a.code, PORTCO_ETOOBIG);
    pc_answer_free(&a);
    char *line;
    size_t len;
    int rc = pc_frame_read_line(&big.in, big.fd, 10000, &line, &len);
    cr_assert(rc == 0 || rc == -ECONNRESET, "closed after: %d", rc);
    pt_close(&big);

    pc_answer st;
    pt_call(&c, json_pack("{s:s}", "op", "status"), &st);
    cr_assert(st.ok);
    cr_assert_str_eq(json_string_value(json_object_get(st.root, "zookeeper")), "connected");
    cr_assert_eq(json_integer_value(json_object_get(st.root, "claims")), 1);
    pc_answer_free(&st);
    cr_assert(pt_pid_alive(ag.pid));
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, pool_published_later_is_usable_without_restart)
{
    pt_agent ag;
    pt_start_agent_no_pools(&ag, "h1");
    pt_cli c;
    pt_connect(&c, &ag);
    int rc = pt_acquire(&c, pt_acq_req("late", "api", 0), NULL);
    cr_assert(rc == PORTCO_ENOTREADY || rc == PORTCO_ENOPOOL, "%s", portco_err_name(rc));
    pt_publish_pool("late", pt_base, pt_base + 2, "cluster", NULL);
    long long end = pt_now_ms() + 10000;
    while ((rc = pt_acquire(&c, pt_acq_req("late", "api", 0), NULL)) < 0 && pt_now_ms() < end)
        pt_nap_ms(50);
    cr_assert_geq(rc, pt_base, "%s", portco_err_name(rc));
    pt_publish_pool("later", pt_base + 3, pt_base + 4, "cluster", NULL);
    end = pt_now_ms() + 10000;
    while ((rc = pt_acquire(&c, pt_acq_req("later", "api", 0), NULL)) < 0 && pt_now_ms() < end)
        pt_nap_ms(50);
    cr_assert_geq(rc, pt_base + 3, "%s", portco_err_name(rc));
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, socket_handover_listening)
{
    pt_agent ag;
    pt_web_agent(&ag);
    pt_cli c;
    pt_connect(&c, &ag);
    json_t *req = pt_acq_req("web", "api", 0);
    json_object_set_new(req, "socket", json_true());
    json_object_set_new(req, "listen", json_true());
    pc_answer a;
    pt_call(&c, req, &a);
    cr_assert(a.ok, "%s", a.message);
    cr_assert(a.fd);
    int fd = pc_linebuf_take_fd(&c.in);
    cr_assert_geq(fd, 0);
    int port = (int)json_integer_value(json_object_get(json_object_get(a.root, "claim"), "port"));
    pc_answer_free(&a);
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    cr_assert_eq(ntohs(sa.sin_port), port);
    int k = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(k, (struct sockaddr *)&to, sizeof(to)), 0, "handed socket listens");
    close(k);
    close(fd);
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, hold_kept_until_the_claimant_listens)
{
    pt_agent ag;
    pt_web_agent(&ag);
    pt_cli c;
    pt_connect(&c, &ag);
    int p = pt_acquire(&c, pt_acq_req("web", "api", 0), NULL);
    cr_assert_gt(p, 0);
    cr_assert_eq(pt_counter(&c, "holding"), 1);
    cr_assert_not(pt_port_bindable(p), "a plain bind fails while the agent holds the port");
    /* The service binds with SO_REUSEADDR (as most servers do) and listens. */
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
    cr_assert_eq(listen(l, 4), 0);
    long long end = pt_now_ms() + 10000;
    while (pt_counter(&c, "holding") != 0 && pt_now_ms() < end)
        pt_nap_ms(50);
    cr_assert_eq(pt_counter(&c, "holding"), 0, "hold dropped once the claimant listens");
    close(l);
    cr_assert(pt_port_bindable(p), "nothing of the agent's is left on the port");
    cr_assert_eq(pt_nclaims("web", NULL, p), 1, "the claim itself stays");
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, a_waiter_that_disconnects_withdraws)
{
    pt_agent ag;
    pt_web_agent(&ag);
    pt_cli h, w;
    pt_connect(&h, &ag);
    pt_connect(&w, &ag);
    cr_assert_eq(pt_acquire(&h, pt_acq_req("web", "api", pt_base), NULL), pt_base);
    pt_send_acquire(&w, "web", pt_base, -1);
    pt_wait_nclaims("web", pt_base, 2);
    pt_close(&w);
    pt_wait_nclaims("web", pt_base, 1);
    cr_assert_eq(pt_release(&h, "web", pt_base), 0);
    pt_assert_released("web", pt_base);
    pt_close(&h);
    pt_stop_agent(&ag);
}

Test(agent, socket_handover_ipv6_v6only)
{
    pt_publish_def(&(pt_pool_def){.name = "v6", .lo = pt_base, .hi = pt_base + 4, .address = "::"});
    pt_agent ag;
    pt_start_agent(&ag, "h1");
    pt_cli c;
    pt_connect(&c, &ag);
    json_t *req = pt_acq_req("v6", "api", 0);
    json_object_set_new(req, "socket", json_true());
    json_object_set_new(req, "v6only", json_true());
    pc_answer a;
    pt_call(&c, req, &a);
    cr_assert(a.ok, "%s", a.message);
    int port = (int)json_integer_value(json_object_get(json_object_get(a.root, "claim"), "port"));
    pc_answer_free(&a);
    int fd = pc_linebuf_take_fd(&c.in);
    cr_assert_geq(fd, 0);
    int v6only = 0;
    socklen_t ol = sizeof(v6only);
    cr_assert_eq(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol), 0);
    cr_assert_eq(v6only, 1);
    struct sockaddr_in6 sa;
    socklen_t sl = sizeof(sa);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    cr_assert_eq(sa.sin6_family, AF_INET6);
    cr_assert_eq(ntohs(sa.sin6_port), port);
    close(fd);
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, stale_socket_replaced_live_one_kept)
{
    pt_publish_pool("web", pt_base, pt_base + 4, "cluster", NULL);
    /* A socket file nobody listens on, as a crashed agent leaves it. */
    char dir[700], path[800];
    snprintf(dir, sizeof(dir), "%s/h1", pt_dir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(path, sizeof(path), "%s/agent.sock", dir);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(s);
    pt_agent ag;
    pt_start_agent(&ag, "h1");
    cr_assert_str_eq(ag.sock, path);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0666, "socket file mode %o", st.st_mode & 0777);
    /* A second agent on the live socket refuses to start and leaves it alone. */
    char bin[512];
    pt_bin("portco-agent", bin, sizeof(bin));
    char *argv[] = {bin,         "--zk", (char *)pt_zkc, "--root", pt_root,
                    "--host-id", "h2",   "--socket",     path,     NULL};
    int status = -1;
    cr_assert_eq(pt_run(argv, NULL, 15000, NULL, NULL, &status), 0);
    cr_assert_neq(status, 0);
    pt_cli c;
    pt_connect(&c, &ag);
    cr_assert_gt(pt_acquire(&c, pt_acq_req("web", "api", 0), NULL), 0, "first agent serves");
    pt_close(&c);
    pt_stop_agent(&ag);
}

Test(agent, sigterm_removes_every_claim_node)
{
    pt_agent ag;
    pt_web_agent(&ag);
    pt_cli c;
    pt_connect(&c, &ag);
    int ports[3];
    for (int i = 0; i < 3; i++) {
        json_t *req = pt_acq_req("web", "api", 0);
        json_object_set_new(req, "lifetime", json_string("explicit"));
        ports[i] = pt_acquire(&c, req, NULL);
        cr_assert_gt(ports[i], 0);
    }
    char host[600];
    cr_assert_eq(pc_zkp_host(host, sizeof(host), pt_root, "h1"), 0);
    cr_assert_eq(pt_zkr_exists(pt_z, host, NULL), 0, "presence node published");
    pt_stop_agent(&ag); /* SIGTERM; a clean exit */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pt_nclaims("web", NULL, ports[i]), 0, "port %d still has a claim", ports[i]);
    cr_assert_eq(access(ag.sock, F_OK), -1, "socket file removed");
    pt_close(&c);
}
