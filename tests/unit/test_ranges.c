/* test_ranges.c - port range set arithmetic. */
#include <criterion/criterion.h>
#include <errno.h>

#include "ranges.h"

static pc_rangeset parse(const char *text)
{
    pc_rangeset s = PC_RANGESET_INIT;
    cr_assert_eq(pc_rangeset_parse(&s, text, NULL), 0, "parse %s", text);
    return s;
}

static void expect(const pc_rangeset *s, const char *want)
{
    char buf[256];
    cr_assert_str_eq(pc_rangeset_format(s, buf, sizeof(buf)), want);
}

Test(ranges, add_merges_overlapping_and_adjacent)
{
    pc_rangeset s = PC_RANGESET_INIT;
    cr_assert_eq(pc_rangeset_add(&s, 10, 20), 0);
    cr_assert_eq(pc_rangeset_add(&s, 30, 40), 0);
    cr_assert_eq(pc_rangeset_add(&s, 21, 29), 0); /* adjacent on both sides */
    expect(&s, "10-40");
    cr_assert_eq(pc_rangeset_add(&s, 5, 7), 0);
    cr_assert_eq(pc_rangeset_add(&s, 50, 50), 0);
    cr_assert_eq(pc_rangeset_add(&s, 6, 60), 0); /* swallows everything */
    expect(&s, "5-60");
    pc_rangeset_free(&s);
}

Test(ranges, add_rejects_reversed_and_too_high)
{
    pc_rangeset s = PC_RANGESET_INIT;
    cr_assert_eq(pc_rangeset_add(&s, 20, 10), -EINVAL);
    cr_assert_eq(pc_rangeset_add(&s, 1, 65536), -EINVAL);
    cr_assert_eq(s.n, 0);
    pc_rangeset_free(&s);
}

Test(ranges, subtract_splits_and_trims)
{
    pc_rangeset s = parse("30000-30999");
    pc_rangeset x = parse("30080, 30100-30110, 29990-30001, 30990-31000");
    cr_assert_eq(pc_rangeset_subtract(&s, &x), 0);
    expect(&s, "30002-30079,30081-30099,30111-30989");
    cr_assert_eq(pc_rangeset_count(&s), 1000 - 2 - 1 - 11 - 10);
    pc_rangeset_free(&s);
    pc_rangeset_free(&x);
}

Test(ranges, subtract_everything_leaves_empty)
{
    pc_rangeset s = parse("1-10,20-30");
    pc_rangeset x = parse("1-100");
    cr_assert_eq(pc_rangeset_subtract(&s, &x), 0);
    cr_assert_eq(pc_rangeset_count(&s), 0);
    pc_rangeset_free(&s);
    pc_rangeset_free(&x);
}

Test(ranges, nth_and_index_are_inverse)
{
    pc_rangeset s = parse("10-12,20,30-31");
    int want[] = {10, 11, 12, 20, 30, 31};
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(pc_rangeset_nth(&s, i), want[i]);
        cr_assert_eq(pc_rangeset_index(&s, (uint32_t)want[i]), (long)i);
    }
    cr_assert_eq(pc_rangeset_nth(&s, 6), -1);
    cr_assert_eq(pc_rangeset_index(&s, 13), -1);
    cr_assert(pc_rangeset_contains(&s, 20));
    cr_assert_not(pc_rangeset_contains(&s, 21));
    pc_rangeset_free(&s);
}

Test(ranges, overlaps_reports_first_shared_port)
{
    pc_rangeset a = parse("100-200,300-400");
    pc_rangeset b = parse("201-299,350-360");
    pc_rangeset c = parse("201-299");
    uint32_t first = 0;
    cr_assert(pc_rangeset_overlaps(&a, &b, &first));
    cr_assert_eq(first, 350);
    cr_assert_not(pc_rangeset_overlaps(&a, &c, NULL));
    pc_rangeset_free(&a);
    pc_rangeset_free(&b);
    pc_rangeset_free(&c);
}

Test(ranges, parse_errors_name_the_item)
{
    pc_rangeset s = PC_RANGESET_INIT;
    pc_error err;
    cr_assert_eq(pc_rangeset_parse(&s, "80, 90-85", &err), -EINVAL);
    cr_assert(strstr(err.msg, "90-85") && strstr(err.msg, "reversed"), "%s", err.msg);
    cr_assert_eq(pc_rangeset_parse(&s, "70000", &err), -EINVAL);
    cr_assert(strstr(err.msg, "65535"), "%s", err.msg);
    cr_assert_eq(pc_rangeset_parse(&s, "8o", &err), -EINVAL);
    cr_assert(strstr(err.msg, "'8o'"), "%s", err.msg);
    cr_assert_eq(pc_rangeset_parse(&s, "  ", &err), 0);
    pc_rangeset_free(&s);
}

Test(errors, names_and_messages_come_from_one_table)
{
    int code = 1;
    cr_assert_str_eq(portco_err_name(PORTCO_EEXHAUSTED), "POOL_EXHAUSTED");
    cr_assert_eq(portco_err_from_name("POOL_EXHAUSTED", &code), 0);
    cr_assert_eq(code, PORTCO_EEXHAUSTED);
    cr_assert_str_eq(portco_err_name(-ECONNREFUSED), "ECONNREFUSED");
    cr_assert_str_eq(portco_err_name(0), "OK");
    cr_assert(strstr(portco_strerror(PORTCO_ENOPOOL), "pool"));
    cr_assert_str_eq(portco_strerror(-ECONNREFUSED), "Connection refused");
    cr_assert_str_eq(portco_strerror(-4000), "unknown error");
    cr_assert_str_eq(portco_err_name(-4000), "UNKNOWN");
}

/* Every name portco_err_name() gives comes back as its code, "OK" as 0, and
 * an unknown name is an error, not the code of success. */
Test(errors, from_name_inverts_err_name_and_refuses_unknown_names)
{
#define PT_ROUND_TRIP(name, value, wire, msg)                                                      \
    do {                                                                                           \
        int got = 1;                                                                               \
        cr_assert_eq(portco_err_from_name(portco_err_name(value), &got), 0, "%s", wire);           \
        cr_assert_eq(got, value, "%s", wire);                                                      \
    } while (0);
    PORTCO_ERRNO_MAP(PT_ROUND_TRIP)
#undef PT_ROUND_TRIP
    int code = 1;
    cr_assert_eq(portco_err_from_name("OK", &code), 0);
    cr_assert_eq(code, 0);
    cr_assert_eq(portco_err_from_name("ECONNREFUSED", &code), 0);
    cr_assert_eq(code, -ECONNREFUSED);
    cr_assert_eq(portco_err_from_name("ETIMEDOUT", &code), 0);
    cr_assert_eq(code, -ETIMEDOUT);
    code = 7;
    cr_assert_eq(portco_err_from_name("NO_SUCH_THING", &code), PORTCO_EBADREQ);
    cr_assert_eq(portco_err_from_name("ENOSUCHERRNO", &code), PORTCO_EBADREQ);
    cr_assert_eq(portco_err_from_name("", &code), PORTCO_EBADREQ);
    cr_assert_eq(portco_err_from_name("ok", &code), PORTCO_EBADREQ, "names are exact");
    cr_assert_eq(code, 7, "an unknown name leaves *code alone");
    cr_assert_eq(portco_err_from_name(NULL, &code), PORTCO_EBADREQ);
    cr_assert_eq(portco_err_from_name("OK", NULL), PORTCO_EBADREQ);
}
