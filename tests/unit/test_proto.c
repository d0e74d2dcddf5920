/* test_proto.c - unit tests of lib/proto: line framing, fd passing, message codec. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame.h"
#include "message.h"

static int pt_sp[2];

static void pt_pair_setup(void)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pt_sp), 0);
}

static void pt_pair_teardown(void)
{
    close(pt_sp[0]);
    close(pt_sp[1]);
}

static void pt_write(int fd, const char *s)
{
    cr_assert_eq(pc_frame_send_all(fd, s, strlen(s), -1, 2000), 0);
}

TestSuite(frame, .init = pt_pair_setup, .fini = pt_pair_teardown, .timeout = 20);

Test(frame, two_lines_in_one_read)
{
    pc_linebuf lb;
    pc_linebuf_init(&lb, 0, 0);
    pt_write(pt_sp[0], "{\"a\":1}\n{\"b\":2}\n");
    char *line;
    size_t len;
    cr_assert_eq(pc_frame_read_line(&lb, pt_sp[1], 2000, &line, &len), 1);
    cr_assert_str_eq(line, "{\"a\":1}");
    cr_assert_eq(len, 7);
    cr_assert_eq(pc_linebuf_next(&lb, &line, &len), 1);
    cr_assert_str_eq(line, "{\"b\":2}");
    cr_assert_eq(pc_linebuf_next(&lb, &line, &len), 0);
    pc_linebuf_free(&lb);
}

Test(frame, split_reads_join_into_one_line)
{
    pc_linebuf lb;
    pc_linebuf_init(&lb, 0, 0);
    char *line;
    size_t len;
    pt_write(pt_sp[0], "{\"op\":");
    cr_assert_gt(pc_linebuf_read(&lb, pt_sp[1]), 0);
    cr_assert_eq(pc_linebuf_next(&lb, &line, &len), 0);
    cr_assert_eq(pc_linebuf_pending(&lb), 6);
    cr_assert_eq(pc_linebuf_read(&lb, pt_sp[1]), -EAGAIN);
    pt_write(pt_sp[0], "\"status\"}");
    cr_assert_gt(pc_linebuf_read(&lb, pt_sp[1]), 0);
    cr_assert_eq(pc_linebuf_next(&lb, &line, &len), 0);
    pt_write(pt_sp[0], "\nrest");
    cr_assert_gt(pc_linebuf_read(&lb, pt_sp[1]), 0);
    cr_assert_eq(pc_linebuf_next(&lb, &line, &len), 1);
    cr_assert_str_eq(line, "{\"op\":\"status\"}");
    cr_assert_eq(pc_linebuf_pending(&lb), 4);
    pc_linebuf_free(&lb);
}

Test(frame, end_of_stream_and_timeout)
{
    pc_linebuf lb;
    pc_linebuf_init(&lb, 0, 0);
    char *line;
    size_t len;
    cr_assert_eq(pc_frame_read_line(&lb, pt_sp[1], 50, &line, &len), -ETIMEDOUT);
    pt_write(pt_sp[0], "partial");
    shutdown(pt_sp[0], SHUT_WR);
    cr_assert_eq(pc_frame_read_line(&lb, pt_sp[1], 2000, &line, &len), 0);
    pc_linebuf_free(&lb);
}

Test(frame, line_of_exactly_the_bound_is_accepted)
{
    pc_linebuf lb;
    pc_linebuf_init(&lb, 0, 0);
    size_t n = PC_PROTO_MAX_LINE;
    char *big = malloc(n);
    memset(big, 'x', n - 1);
    big[n - 1] = '\n';
    cr_assert_eq(pc_linebuf_feed(&lb, big, n), 0);
    char *line;
    size_t len;
    cr_assert_eq(pc_linebuf_next(&lb, &line, &len), 1);
    cr_assert_eq(len, n - 1);
    free(big);
    pc_linebuf_free(&lb);
}

Test(frame, oversize_line_over_socket_is_too_big)
{
    pc_linebuf lb;
    pc_linebuf_init(&lb, 0, 0);
    /* More than the bound, no newline; the writer side must not block the
     * test, so the reader drains as it goes. */
    size_t n = PC_PROTO_MAX_LINE + 10;
    char *big = malloc(n);
    memset(big, 'y', n);
    int fl = fcntl(pt_sp[0], F_GETFL);
    fcntl(pt_sp[0], F_SETFL, fl | O_NONBLOCK);
    size_t off = 0;
    ssize_t r = 0;
    while (off < n) {
        ssize_t w = write(pt_sp[0], big + off, n - off);
        if (w > 0)
            off += (size_t)w;
        r = pc_linebuf_read(&lb, pt_sp[1]);
        if (r == PORTCO_ETOOBIG)
            break;
    }
    char *line;
    size_t len;
    while (r != PORTCO_ETOOBIG && (r = pc_linebuf_read(&lb, pt_sp[1])) > 0)
        ;
    cr_assert_eq(pc_linebuf_next(&lb, &line, &len), PORTCO_ETOOBIG);
    cr_assert_eq(pc_linebuf_read(&lb, pt_sp[1]), PORTCO_ETOOBIG, "reader stays failed");
    cr_assert_leq(lb.cap, 2 * (size_t)PC_PROTO_MAX_LINE + 16384 * 2);
    free(big);
    pc_linebuf_free(&lb);
}

Test(frame, custom_bound)
{
    pc_linebuf lb;
    pc_linebuf_init(&lb, 8, 0);
    cr_assert_eq(pc_linebuf_feed(&lb, "1234567\n12345678\n", 17), 0);
    char *line;
    size_t len;
    cr_assert_eq(pc_linebuf_next(&lb, &line, &len), 1);
    cr_assert_str_eq(line, "1234567");
    cr_assert_eq(pc_linebuf_next(&lb, &line, &len), PORTCO_ETOOBIG);
    cr_assert_eq(pc_linebuf_feed(&lb, "x", 1), PORTCO_ETOOBIG);
    pc_linebuf_free(&lb);
}

static bool pt_same_file(int a, int b)
{
    struct stat sa, sb;
    cr_assert_eq(fstat(a, &sa), 0);
    cr_assert_eq(fstat(b, &sb), 0);
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

Test(frame, fd_rides_with_first_byte)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    const char *msg = "{\"v\":1,\"id\":1,\"ok\":true,\"fd\":true}\n";
    cr_assert_eq(pc_frame_send_all(pt_sp[0], msg, strlen(msg), p[0], 2000), 0);
    pc_linebuf lb;
    pc_linebuf_init(&lb, 0, 4);
    char *line;
    size_t len;
    cr_assert_eq(pc_frame_read_line(&lb, pt_sp[1], 2000, &line, &len), 1);
    int fd = pc_linebuf_take_fd(&lb);
    cr_assert_geq(fd, 0);
    cr_assert(pt_same_file(fd, p[0]));
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "received fd is close-on-exec");
    cr_assert_eq(pc_linebuf_take_fd(&lb), -1);
    close(fd);
    close(p[0]);
    close(p[1]);
    pc_linebuf_free(&lb);
}

/* Count open descriptors of this process. */
static int pt_count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            n++;
    return n;
}

Test(frame, extra_fds_are_closed)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    pc_linebuf lb;
    pc_linebuf_init(&lb, 0, 0); /* the agent's setting: accept none */
    int before = pt_count_fds();
    cr_assert_eq(pc_frame_send_all(pt_sp[0], "a\n", 2, p[0], 2000), 0);
    cr_assert_eq(pc_frame_send_all(pt_sp[0], "b\n", 2, p[1], 2000), 0);
    char *line;
    size_t len;
    cr_assert_eq(pc_frame_read_line(&lb, pt_sp[1], 2000, &line, &len), 1);
    cr_assert_eq(pc_frame_read_line(&lb, pt_sp[1], 2000, &line, &len), 1);
    cr_assert_eq(pc_linebuf_take_fd(&lb), -1);
    cr_assert_eq(pt_count_fds(), before, "no descriptor leaked");
    close(p[0]);
    close(p[1]);
    pc_linebuf_free(&lb);
}

Test(frame, queued_fds_closed_on_free)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    pc_linebuf lb;
    pc_linebuf_init(&lb, 0, 4);
    int before = pt_count_fds();
    cr_assert_eq(pc_frame_send_all(pt_sp[0], "a\n", 2, p[0], 2000), 0);
    char *line;
    size_t len;
    cr_assert_eq(pc_frame_read_line(&lb, pt_sp[1], 2000, &line, &len), 1);
    cr_assert_eq(pt_count_fds(), before + 1);
    pc_linebuf_free(&lb);
    cr_assert_eq(pt_count_fds(), before);
    close(p[0]);
    close(p[1]);
}

Test(frame, send_to_closed_peer_is_epipe)
{
    close(pt_sp[1]);
    pt_sp[1] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); /* keep fini's close valid */
    cr_assert_eq(pc_frame_send_all(pt_sp[0], "x\n", 2, -1, 1000), -EPIPE);
}

/* ---------------------------- requests ---------------------------- */

static int pt_parse(const char *s, pc_request *r, pc_error *e)
{
    pc_error_clear(e);
    return pc_request_parse(s, strlen(s), r, e);
}

#define PT_BAD(json, field)                                                                        \
    do {                                                                                           \
        pc_request r_;                                                                             \
        pc_error e_;                                                                               \
        cr_assert_eq(pt_parse(json, &r_, &e_), PORTCO_EBADREQ, "%s", json);                        \
        cr_assert_eq(e_.code, PORTCO_EBADREQ);                                                     \
        cr_assert(strstr(e_.msg, field) != NULL, "message \"%s\" names %s", e_.msg, field);        \
    } while (0)

Test(request, acquire_defaults)
{
    pc_request r;
    pc_error e;
    cr_assert_eq(pt_parse("{\"v\":1,\"id\":7,\"op\":\"acquire\",\"pool\":\"web\","
                          "\"service\":\"api\",\"future\":[1]}",
                          &r, &e),
                 0, "%s", e.msg);
    cr_assert_eq(r.op, PC_OP_ACQUIRE);
    cr_assert(r.has_id);
    cr_assert_eq(r.id, 7);
    cr_assert_str_eq(r.acquire.pool, "web");
    cr_assert_str_eq(r.acquire.service, "api");
    cr_assert_str_eq(r.acquire.instance, "");
    cr_assert_eq(r.acquire.port, 0);
    cr_assert_eq(r.acquire.wait_ms, 0);
    cr_assert_eq(r.acquire.lifetime, PORTCO_LIFETIME_CONNECTION);
    cr_assert_not(r.acquire.socket);
}

Test(request, acquire_full_round_trip)
{
    pc_request in = {.id = 42, .op = PC_OP_ACQUIRE};
    snprintf(in.acquire.pool, sizeof(in.acquire.pool), "db");
    snprintf(in.acquire.service, sizeof(in.acquire.service), "pg");
    snprintf(in.acquire.instance, sizeof(in.acquire.instance), "i-1");
    in.acquire.port = 30001;
    in.acquire.wait_ms = -1;
    in.acquire.lifetime = PORTCO_LIFETIME_PID;
    in.acquire.hold_pid = 1234;
    in.acquire.socket = true;
    in.acquire.listen = true;
    in.acquire.backlog = 16;
    in.acquire.v6only = true;
    json_t *j = pc_request_to_json(&in);
    cr_assert_not_null(j);
    char *line;
    size_t len;
    cr_assert_eq(pc_json_line(j, &line, &len), 0);
    json_decref(j);
    cr_assert_eq(line[len - 1], '\n');
    pc_request out;
    pc_error e;
    cr_assert_eq(pc_request_parse(line, len - 1, &out, &e), 0, "%s", e.msg);
    free(line);
    cr_assert_eq(out.id, 42);
    cr_assert_str_eq(out.acquire.pool, "db");
    cr_assert_str_eq(out.acquire.instance, "i-1");
    cr_assert_eq(out.acquire.port, 30001);
    cr_assert_eq(out.acquire.wait_ms, -1);
    cr_assert_eq(out.acquire.lifetime, PORTCO_LIFETIME_PID);
    cr_assert_eq(out.acquire.hold_pid, 1234);
    cr_assert(out.acquire.socket && out.acquire.listen && out.acquire.v6only);
    cr_assert_eq(out.acquire.backlog, 16);
}

Test(request, release_list_status)
{
    pc_request r;
    pc_error e;
    cr_assert_eq(
        pt_parse("{\"v\":1,\"id\":2,\"op\":\"release\",\"pool\":\"web\",\"port\":30001}", &r, &e),
        0);
    cr_assert_eq(r.op, PC_OP_RELEASE);
    cr_assert_eq(r.port, 30001);
    cr_assert_str_eq(r.pool, "web");
    cr_assert_str_eq(r.claim, "", "no claim named: whichever holds the port");
    cr_assert_eq(pt_parse("{\"v\":1,\"id\":2,\"op\":\"release\",\"pool\":\"web\",\"port\":1,"
                          "\"claim\":\"_c_ab-lock-0000000003\"}",
                          &r, &e),
                 0);
    cr_assert_str_eq(r.claim, "_c_ab-lock-0000000003");
    json_t *back = pc_request_to_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(back, "claim")), "_c_ab-lock-0000000003");
    json_decref(back);
    cr_assert_eq(pt_parse("{\"v\":1,\"id\":3,\"op\":\"list\"}", &r, &e), 0);
    cr_assert_eq(r.op, PC_OP_LIST);
    cr_assert_str_eq(r.pool, "");
    cr_assert_eq(pt_parse("{\"v\":1,\"id\":3,\"op\":\"list\",\"pool\":\"p\"}", &r, &e), 0);
    cr_assert_str_eq(r.pool, "p");
    cr_assert_eq(pt_parse("{\"v\":1,\"id\":4,\"op\":\"status\"}", &r, &e), 0);
    cr_assert_eq(r.op, PC_OP_STATUS);
}

Test(request, envelope_failures)
{
    pc_request r;
    pc_error e;
    PT_BAD("not json", "JSON");
    PT_BAD("", "JSON");
    PT_BAD("[1,2]", "object");
    PT_BAD("{\"id\":1,\"op\":\"status\"}", "\"v\"");
    PT_BAD("{\"v\":\"1\",\"id\":1,\"op\":\"status\"}", "\"v\"");
    PT_BAD("{\"v\":1,\"op\":\"status\"}", "\"id\"");
    PT_BAD("{\"v\":1,\"id\":\"x\",\"op\":\"status\"}", "\"id\"");
    PT_BAD("{\"v\":1,\"id\":1}", "\"op\"");
    PT_BAD("{\"v\":1,\"id\":1,\"op\":3}", "\"op\"");
    PT_BAD("{\"v\":1,\"id\":1,\"op\":\"fly\"}", "unknown op");
    PT_BAD("{\"v\":1,\"id\":1,\"id\":2,\"op\":\"status\"}", "JSON");
    /* The id is kept for the error answer when it was readable. */
    cr_assert_eq(pt_parse("{\"v\":1,\"id\":9,\"op\":\"fly\"}", &r, &e), PORTCO_EBADREQ);
    cr_assert(r.has_id);
    cr_assert_eq(r.id, 9);
    cr_assert_eq(pt_parse("{\"v\":2,\"id\":5,\"op\":\"status\"}", &r, &e), PORTCO_EVERSION);
    cr_assert_eq(r.id, 5);
    cr_assert(strstr(e.msg, "version") != NULL);
    cr_assert_eq(pt_parse("garbage", &r, &e), PORTCO_EBADREQ);
    cr_assert_not(r.has_id);
    const char nul[] = "{\"v\":1,\"id\":1,\"op\":\"status\"}\0x";
    cr_assert_eq(pc_request_parse(nul, sizeof(nul) - 1, &r, &e), PORTCO_EBADREQ);
}

#define ACQ "{\"v\":1,\"id\":1,\"op\":\"acquire\","

Test(request, acquire_failures)
{
    PT_BAD(ACQ "\"service\":\"s\"}", "\"pool\"");
    PT_BAD(ACQ "\"pool\":\"p\"}", "\"service\"");
    PT_BAD(ACQ "\"pool\":5,\"service\":\"s\"}", "\"pool\"");
    PT_BAD(ACQ "\"pool\":\"\",\"service\":\"s\"}", "\"pool\"");
    PT_BAD(ACQ "\"pool\":\"a/b\",\"service\":\"s\"}", "\"pool\"");
    PT_BAD(ACQ "\"pool\":\"..\",\"service\":\"s\"}", "\"pool\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"\"}", "\"service\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"a\\nb\"}", "\"service\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":[]}", "\"service\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"instance\":1}", "\"instance\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"port\":\"80\"}", "\"port\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"port\":1.5}", "\"port\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"port\":70000}", "\"port\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"port\":-1}", "\"port\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"port\":1,\"wait_ms\":-2}", "\"wait_ms\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"port\":1,\"wait_ms\":true}", "\"wait_ms\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"wait_ms\":100}", "\"wait_ms\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"lifetime\":\"forever\"}", "\"lifetime\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"lifetime\":1}", "\"lifetime\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"lifetime\":\"pid\"}", "\"hold_pid\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"hold_pid\":12}", "\"hold_pid\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"hold_pid\":\"12\"}", "\"hold_pid\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"socket\":1}", "\"socket\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"listen\":\"yes\"}", "\"listen\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"listen\":true}", "\"listen\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"v6only\":null}", "\"v6only\"");
    PT_BAD(ACQ "\"pool\":\"p\",\"service\":\"s\",\"backlog\":-3}", "\"backlog\"");
    char longsvc[400];
    snprintf(longsvc, sizeof(longsvc), ACQ "\"pool\":\"p\",\"service\":\"%0200d\"}", 0);
    PT_BAD(longsvc, "\"service\"");
}

Test(request, release_failures)
{
    PT_BAD("{\"v\":1,\"id\":1,\"op\":\"release\",\"port\":1}", "\"pool\"");
    PT_BAD("{\"v\":1,\"id\":1,\"op\":\"release\",\"pool\":\"p\"}", "\"port\"");
    PT_BAD("{\"v\":1,\"id\":1,\"op\":\"release\",\"pool\":\"p\",\"port\":0}", "\"port\"");
    PT_BAD("{\"v\":1,\"id\":1,\"op\":\"release\",\"pool\":\"p\",\"port\":\"1\"}", "\"port\"");
    PT_BAD("{\"v\":1,\"id\":1,\"op\":\"release\",\"pool\":\"p\",\"port\":1,\"claim\":5}",
           "\"claim\"");
    PT_BAD("{\"v\":1,\"id\":1,\"op\":\"release\",\"pool\":\"p\",\"port\":1,\"claim\":\"a\\nb\"}",
           "\"claim\"");
    PT_BAD("{\"v\":1,\"id\":1,\"op\":\"list\",\"pool\":7}", "\"pool\"");
    PT_BAD("{\"v\":1,\"id\":1,\"op\":\"list\",\"pool\":\"x y\"}", "\"pool\"");
}

/* ----------------------------- answers ---------------------------- */

static portco_claim pt_claim(void)
{
    portco_claim c;
    memset(&c, 0, sizeof(c));
    snprintf(c.pool, sizeof(c.pool), "web");
    c.port = 30001;
    snprintf(c.proto, sizeof(c.proto), "tcp");
    snprintf(c.address, sizeof(c.address), "0.0.0.0");
    snprintf(c.host, sizeof(c.host), "h1");
    snprintf(c.service, sizeof(c.service), "api");
    snprintf(c.instance, sizeof(c.instance), "a-1");
    snprintf(c.claim, sizeof(c.claim), "_c_x-lock-0000000003");
    c.czxid = 4294967301LL;
    c.pid = 4242;
    c.since_ms = 1795809600000LL;
    c.fd = -1;
    return c;
}

Test(answer, ok_with_claim_round_trip)
{
    portco_claim c = pt_claim();
    json_t *a = pc_answer_ok(1);
    json_object_set_new(a, "claim", pc_claim_to_json(&c, PORTCO_LIFETIME_CONNECTION, 1000));
    json_object_set_new(a, "fd", json_true());
    char *line;
    size_t len;
    cr_assert_eq(pc_json_line(a, &line, &len), 0);
    json_decref(a);
    pc_answer ans;
    pc_error e;
    cr_assert_eq(pc_answer_parse(line, len - 1, &ans, &e), 0, "%s", e.msg);
    free(line);
    cr_assert(ans.ok && ans.has_id && ans.fd);
    cr_assert_eq(ans.id, 1);
    const json_t *cj = json_object_get(ans.root, "claim");
    cr_assert_str_eq(json_string_value(json_object_get(cj, "lifetime")), "connection");
    cr_assert_eq(json_integer_value(json_object_get(cj, "uid")), 1000);
    portco_claim back;
    cr_assert_eq(pc_claim_from_json(cj, &back, &e), 0);
    cr_assert_str_eq(back.pool, "web");
    cr_assert_eq(back.port, 30001);
    cr_assert_str_eq(back.claim, c.claim);
    cr_assert_eq(back.czxid, c.czxid);
    cr_assert_eq(back.pid, 4242);
    cr_assert_eq(back.since_ms, c.since_ms);
    cr_assert_eq(back.fd, -1);
    pc_answer_free(&ans);
}

Test(answer, error_round_trip)
{
    json_t *a = pc_answer_error(3, true, PORTCO_EEXHAUSTED, "pool web: all 3 ports are claimed");
    char *line;
    size_t len;
    cr_assert_eq(pc_json_line(a, &line, &len), 0);
    json_decref(a);
    cr_assert(strstr(line, "\"POOL_EXHAUSTED\"") != NULL);
    pc_answer ans;
    cr_assert_eq(pc_answer_parse(line, len - 1, &ans, NULL), 0);
    free(line);
    cr_assert_not(ans.ok);
    cr_assert_eq(ans.code, PORTCO_EEXHAUSTED);
    cr_assert_str_eq(ans.message, "pool web: all 3 ports are claimed");
    pc_answer_free(&ans);

    a = pc_answer_error(0, false, PORTCO_EBADREQ, "x");
    cr_assert(json_is_null(json_object_get(a, "id")));
    cr_assert_eq(pc_json_line(a, &line, &len), 0);
    json_decref(a);
    cr_assert_eq(pc_answer_parse(line, len, &ans, NULL), 0);
    cr_assert_not(ans.has_id);
    cr_assert_eq(ans.code, PORTCO_EBADREQ);
    pc_answer_free(&ans);
    free(line);
}

Test(answer, event)
{
    portco_claim c = pt_claim();
    json_t *ev = pc_event_new("conflict", pc_claim_to_json(&c, -1, -1), "taken by h2");
    char *line;
    size_t len;
    cr_assert_eq(pc_json_line(ev, &line, &len), 0);
    json_decref(ev);
    pc_answer ans;
    cr_assert_eq(pc_answer_parse(line, len, &ans, NULL), 0);
    free(line);
    cr_assert(ans.is_event);
    cr_assert_str_eq(ans.event, "conflict");
    cr_assert_str_eq(ans.message, "taken by h2");
    cr_assert_null(json_object_get(json_object_get(ans.root, "claim"), "uid"));
    pc_answer_free(&ans);
}

Test(answer, malformed)
{
    pc_answer a;
    pc_error e;
    const char *bad[] = {"nope",
                         "[]",
                         "{\"id\":1,\"ok\":true}",
                         "{\"v\":1,\"id\":1}",
                         "{\"v\":1,\"id\":\"1\",\"ok\":true}",
                         "{\"v\":1,\"id\":1,\"ok\":false}",
                         "{\"v\":1,\"event\":5}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(pc_answer_parse(bad[i], strlen(bad[i]), &a, &e), PORTCO_EPROTO, "%s", bad[i]);
        cr_assert_null(a.root);
    }
    const char *v2 = "{\"v\":2,\"id\":1,\"ok\":true}";
    cr_assert_eq(pc_answer_parse(v2, strlen(v2), &a, &e), PORTCO_EVERSION);
    const char *unk = "{\"v\":1,\"id\":1,\"ok\":false,\"error\":{\"code\":\"NEW_THING\"}}";
    cr_assert_eq(pc_answer_parse(unk, strlen(unk), &a, &e), 0);
    cr_assert_eq(a.code, PORTCO_EPROTO);
    pc_answer_free(&a);
}

Test(answer, claim_wrong_types)
{
    pc_error e;
    portco_claim c;
    json_t *o = json_pack("{s:s}", "port", "1");
    cr_assert_eq(pc_claim_from_json(o, &c, &e), PORTCO_EPROTO);
    cr_assert(strstr(e.msg, "\"port\"") != NULL);
    json_decref(o);
    o = json_pack("{s:i}", "host", 1);
    cr_assert_eq(pc_claim_from_json(o, &c, &e), PORTCO_EPROTO);
    json_decref(o);
    o = json_integer(1);
    cr_assert_eq(pc_claim_from_json(o, &c, &e), PORTCO_EPROTO);
    json_decref(o);
}

Test(answer, too_big_line_refused)
{
    char *s = malloc(PC_PROTO_MAX_LINE + 1);
    memset(s, 'a', PC_PROTO_MAX_LINE);
    s[PC_PROTO_MAX_LINE] = '\0';
    json_t *o = json_pack("{s:s}", "x", s);
    char *line = NULL;
    size_t len;
    cr_assert_eq(pc_json_line(o, &line, &len), PORTCO_ETOOBIG);
    cr_assert_null(line);
    json_decref(o);
    free(s);
}

Test(names, lifetime_and_op)
{
    portco_lifetime lt;
    cr_assert_eq(pc_lifetime_parse("explicit", &lt), 0);
    cr_assert_eq(lt, PORTCO_LIFETIME_EXPLICIT);
    cr_assert_eq(pc_lifetime_parse("later", &lt), -EINVAL);
    cr_assert_str_eq(pc_lifetime_name(PORTCO_LIFETIME_PID), "pid");
    cr_assert_str_eq(pc_op_name(PC_OP_LIST), "list");
    cr_assert_null(pc_op_name((pc_op)99));
}
