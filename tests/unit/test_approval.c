/* Change-management approval: request mapping, the five default checks,
 * override rules (each comparator and type, message templates), record type
 * and active states, against a real embedded ticket store. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/ticket_system.h"
#include "flow/approval.h"
#include "http/server.h"
#include "itsm/itsm.h"

typedef struct fixture {
    char path[512];
    itsm *h;
    char chg[64], inc[64], chg_id[33], ci_id[33];
} fixture;

static void create(itsm *h, const char *table, const itsm_kv *kv, size_t n, char *num, char *sys_id)
{
    itsm_record *r = NULL;
    assert_int_equal(itsm_create(h, table, kv, n, &r), TB_OK);
    if (num)
        snprintf(num, 64, "%s", itsm_record_get(r, "number"));
    if (sys_id)
        snprintf(sys_id, 33, "%s", r->sys_id);
    itsm_record_free(r);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(test_db_path(f->path, sizeof f->path, "test_approval"), 0);
    assert_int_equal(itsm_embedded_schema(f->path), TB_OK);
    assert_int_equal(itsm_embedded_open(f->path, &f->h), TB_OK);
    char user[33], user2[33];
    itsm_kv u[] = {{"user_name", "jdoe"}, {"name", "John Doe"}};
    create(f->h, "sys_user", u, 2, NULL, user);
    itsm_kv u2[] = {{"user_name", "asmith"}, {"u_beyondtrust_username", "alice.bt"}};
    create(f->h, "sys_user", u2, 2, NULL, user2);
    itsm_kv ci[] = {{"name", "WEB01"}};
    create(f->h, "cmdb_ci", ci, 1, NULL, f->ci_id);
    itsm_kv chg[] = {{"short_description", "patch"}, {"assigned_to", user}, {"cmdb_ci", f->ci_id},
                     {"approval", "approved"}, {"state", "-2"}, {"priority", "2"}};
    create(f->h, "change_request", chg, 6, f->chg, f->chg_id);
    itsm_kv inc[] = {{"short_description", "down"}, {"assigned_to", user2}, {"cmdb_ci", f->ci_id},
                     {"approval", "approved"}, {"state", "2"}};
    create(f->h, "incident", inc, 5, f->inc, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    itsm_close(f->h);
    test_db_remove(f->path);
    free(f);
    return 0;
}

static ts_request req(const char *ticket, const char *user, const char *host)
{
    ts_request r = {0};
    r.v[TS_TICKET_ID] = (char *)ticket;
    r.v[TS_USERNAME] = (char *)user;
    r.v[TS_HOSTNAME] = (char *)host;
    return r;
}

static approval_decision decide(fixture *f, const approval_policy *p, const char *ticket, const char *user,
                                const char *host)
{
    ts_request r = req(ticket, user, host);
    approval_decision d;
    approval_decide(f->h, p, &r, &d);
    return d;
}

static void set(fixture *f, const char *table, const char *sys_id, const char *field, const char *value)
{
    itsm_kv kv = {field, value};
    assert_int_equal(itsm_update(f->h, table, sys_id, &kv, 1), TB_OK);
}

/* ---- default checks ---- */

static void test_default_allow(void **state)
{
    fixture *f = *state;
    approval_policy p = {0};
    approval_decision d = decide(f, &p, f->chg, "JDOE", "web01");
    assert_true(d.allowed);
    assert_false(d.unavailable);
    assert_string_equal(d.task_sys_id, f->chg_id);
    assert_string_equal(d.ci_sys_id, f->ci_id);
    assert_string_equal(d.task_table, "change_request");
    /* by sys_id too (check 1's fallback), with spaces around it */
    char padded[64];
    snprintf(padded, sizeof padded, " %s ", f->chg_id);
    d = decide(f, &p, padded, "jdoe", "WEB01");
    assert_true(d.allowed);
    /* the BeyondTrust username of the assignee also matches (check 2) */
    d = decide(f, &p, f->inc, "alice.bt", "WEB01");
    assert_true(d.allowed);
    d = decide(f, &p, f->inc, "asmith", "WEB01");
    assert_true(d.allowed);
}

static void test_default_each_check_fails(void **state)
{
    fixture *f = *state;
    approval_policy p = {0};
    approval_decision d = decide(f, &p, "CHG9999999", "jdoe", "WEB01");
    assert_false(d.allowed);
    assert_non_null(strstr(d.reason, "CHG9999999 was not found"));
    assert_string_equal(d.task_sys_id, "");

    d = decide(f, &p, f->chg, "mallory", "WEB01");
    assert_false(d.allowed);
    assert_non_null(strstr(d.reason, "is not assigned to mallory"));
    assert_string_equal(d.task_sys_id, f->chg_id);      /* found: it gets the work note */

    d = decide(f, &p, f->chg, "", "WEB01");
    assert_false(d.allowed);
    assert_non_null(strstr(d.reason, "does not name the user"));

    d = decide(f, &p, f->chg, "jdoe", "WEB02");
    assert_false(d.allowed);
    assert_non_null(strstr(d.reason, "configuration item (WEB01) is not the computer being accessed (WEB02)"));

    set(f, "change_request", f->chg_id, "approval", "requested");
    d = decide(f, &p, f->chg, "jdoe", "WEB01");
    assert_false(d.allowed);
    assert_non_null(strstr(d.reason, "is not approved (approval: requested)"));
    set(f, "change_request", f->chg_id, "approval", "approved");

    set(f, "change_request", f->chg_id, "state", "3");
    d = decide(f, &p, f->chg, "jdoe", "WEB01");
    assert_false(d.allowed);
    assert_non_null(strstr(d.reason, "not in an active state (state 3"));

    set(f, "change_request", f->chg_id, "state", "-1");
    set(f, "change_request", f->chg_id, "assigned_to", "");
    d = decide(f, &p, f->chg, "jdoe", "WEB01");
    assert_false(d.allowed);
    assert_non_null(strstr(d.reason, "not assigned to anyone"));
}

static void test_checks_run_in_order(void **state)
{
    fixture *f = *state;
    approval_policy p = {0};
    /* wrong user and wrong computer and not approved: the first check speaks */
    set(f, "change_request", f->chg_id, "approval", "rejected");
    approval_decision d = decide(f, &p, f->chg, "mallory", "WEB02");
    assert_non_null(strstr(d.reason, "not assigned to mallory"));
    d = decide(f, &p, f->chg, "jdoe", "WEB02");
    assert_non_null(strstr(d.reason, "not the computer"));
}

static void test_record_type(void **state)
{
    fixture *f = *state;
    /* Override Change Management with record type Change Request: an
     * incident number is not found there. */
    approval_policy p = {.override = true, .record_type = "change_request"};
    approval_decision d = decide(f, &p, f->inc, "asmith", "WEB01");
    assert_false(d.allowed);
    assert_non_null(strstr(d.reason, "not found among change_request records"));
    d = decide(f, &p, f->chg, "jdoe", "WEB01");
    assert_true(d.allowed);
    /* record type is ignored while the override is off */
    approval_policy off = {.override = false, .record_type = "change_request"};
    d = decide(f, &off, f->inc, "asmith", "WEB01");
    assert_true(d.allowed);
}

static void test_active_states(void **state)
{
    fixture *f = *state;
    assert_true(approval_state_matches("<3", "2"));
    assert_false(approval_state_matches("<3", "3"));
    assert_true(approval_state_matches("<=3", "3"));
    assert_true(approval_state_matches(">=1", "1"));
    assert_false(approval_state_matches(">1", "1"));
    assert_true(approval_state_matches("-5,-4,-3", "-4"));
    assert_false(approval_state_matches("-5,-4,-3", "-"));
    assert_false(approval_state_matches("-5,-4,-3", "-45"));
    assert_false(approval_state_matches("<3", ""));
    assert_false(approval_state_matches("<3", "abc"));
    char err[200];
    assert_true(approval_states_valid("<3", err, sizeof err));
    assert_true(approval_states_valid("1,10,18", err, sizeof err));
    assert_false(approval_states_valid("<", err, sizeof err));
    assert_false(approval_states_valid("<x", err, sizeof err));
    assert_false(approval_states_valid("1,,2", err, sizeof err));
    assert_false(approval_states_valid("1,", err, sizeof err));
    assert_false(approval_states_valid("1;drop", err, sizeof err));
    assert_false(approval_states_valid("", err, sizeof err));

    /* change_request's default: -5..0 active, 3 not */
    approval_policy p = {0};
    set(f, "change_request", f->chg_id, "state", "0");
    assert_true(decide(f, &p, f->chg, "jdoe", "WEB01").allowed);
    /* the administrator's setting wins over the default */
    tb_active_states st = {"change_request", "-1"};
    approval_policy q = {.states = &st, .nstates = 1};
    assert_false(decide(f, &q, f->chg, "jdoe", "WEB01").allowed);
    set(f, "change_request", f->chg_id, "state", "-1");
    assert_true(decide(f, &q, f->chg, "jdoe", "WEB01").allowed);
    /* "*" applies to tables without their own setting */
    tb_active_states star = {"*", "1"};
    approval_policy r = {.states = &star, .nstates = 1};
    assert_false(decide(f, &r, f->inc, "asmith", "WEB01").allowed);   /* incident state 2 */
}

/* ---- override rules ---- */

static void test_compare(void **state)
{
    (void)state;
    assert_true(approval_compare("2", '=', "2.0"));         /* numbers compare as numbers */
    assert_true(approval_compare("10", '>', "9"));
    assert_false(approval_compare("10", '<', "9"));
    assert_true(approval_compare("abc", '<', "abd"));       /* else as strings */
    assert_true(approval_compare("10", '<', "9x"));         /* one side not a number: strings */
    assert_true(approval_compare("approved", '=', "approved"));
    assert_false(approval_compare("Approved", '=', "approved"));
    assert_true(approval_compare(NULL, '=', ""));
    assert_false(approval_compare("1", '!', "1"));          /* unknown comparator fails closed */
    assert_false(approval_compare("nan", '=', "nan") && approval_compare("nan", '<', "nan"));
}

static void test_message_template(void **state)
{
    (void)state;
    char out[128];
    approval_render_message("Priority %TaskFieldName% must be %ComparatorSymbol% %FieldValue%", "4", '<', "3",
                            out, sizeof out);
    assert_string_equal(out, "Priority 4 must be < 3");
    approval_render_message("%FieldValue%%FieldValue%%Unknown%", "", '=', "x", out, sizeof out);
    assert_string_equal(out, "xx%Unknown%");
    approval_render_message("%TaskFieldName%", "a very long value indeed", '=', "", out, 8);
    assert_string_equal(out, "a very ");
}

static void test_override_rules(void **state)
{
    fixture *f = *state;
    tb_override_rule rules[] = {
        {.task_field = "priority", .comparator = '<', .value = "3", .message = "priority %TaskFieldName% not %ComparatorSymbol% %FieldValue%"},
        {.task_field = "approval", .comparator = '=', .value = "approved", .message = ""},
        {.task_field = "short_description", .comparator = '=', .reference = true, .value = "jump_item_name",
         .message = "description %TaskFieldName% is not the Jump item %FieldValue%"},
    };
    approval_policy p = {.override = true, .rules = rules, .nrules = 3};
    ts_request r = req(f->chg, "nobody", "NOT-THE-CI");
    r.v[TS_JUMP_ITEM_NAME] = "patch";
    approval_decision d;
    /* the default checks are replaced: user and computer do not matter */
    approval_decide(f->h, &p, &r, &d);
    assert_true(d.allowed);
    assert_non_null(strstr(d.reason, "passes the 3 override rules"));
    /* reference rule fails */
    r.v[TS_JUMP_ITEM_NAME] = "other";
    approval_decide(f->h, &p, &r, &d);
    assert_false(d.allowed);
    assert_string_equal(d.reason, "description patch is not the Jump item other");
    /* static '<' fails with its template */
    r.v[TS_JUMP_ITEM_NAME] = "patch";
    set(f, "change_request", f->chg_id, "priority", "4");
    approval_decide(f->h, &p, &r, &d);
    assert_false(d.allowed);
    assert_string_equal(d.reason, "priority 4 not < 3");
    /* '>' and the default message when the template is empty */
    tb_override_rule gt = {.task_field = "priority", .comparator = '>', .value = "5", .message = ""};
    approval_policy q = {.override = true, .rules = &gt, .nrules = 1};
    approval_decide(f->h, &q, &r, &d);
    assert_false(d.allowed);
    assert_non_null(strstr(d.reason, "priority (4) > 5 does not hold"));
    gt.value = "3";
    approval_decide(f->h, &q, &r, &d);
    assert_true(d.allowed);
    /* an unknown task field is empty, an unknown reference is empty */
    tb_override_rule unk = {.task_field = "no_such_field", .comparator = '=', .reference = true, .value = "nope",
                            .message = "x"};
    approval_policy u = {.override = true, .rules = &unk, .nrules = 1};
    approval_decide(f->h, &u, &r, &d);
    assert_true(d.allowed);     /* "" = "": the administrator's rule, taken literally */
    /* the task must still exist */
    r.v[TS_TICKET_ID] = "CHG0000000";
    approval_decide(f->h, &p, &r, &d);
    assert_false(d.allowed);
}

static void test_deadline_fails_closed(void **state)
{
    fixture *f = *state;
    approval_policy p = {.deadline_ns = tb_mono_ns() - 1};
    approval_decision d = decide(f, &p, f->chg, "jdoe", "WEB01");
    assert_false(d.allowed);
    assert_true(d.unavailable);
    assert_non_null(strstr(d.reason, "ticket system unavailable"));
}

static void test_bad_ticket_ids(void **state)
{
    fixture *f = *state;
    approval_policy p = {0};
    char big[200];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = 0;
    const char *bad[] = {"", "   ", big, "' OR 1=1 --", "%", "CHG%"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        approval_decision d = decide(f, &p, bad[i], "jdoe", "WEB01");
        assert_false(d.allowed);
        assert_false(d.unavailable);
    }
}

/* ---- the request ---- */

static void test_request_mapping(void **state)
{
    (void)state;
    const char *body = "{\"ticket_id\":\"CHG0030001\",\"user\":{\"id\":7,\"username\":\"jdoe\","
                       "\"public_display_name\":\"John\"},\"jump_item\":{\"id\":3,\"name\":\"web\","
                       "\"hostname\":\"WEB01\",\"jump_group\":{\"name\":\"Ops\"}},\"extra\":{\"x\":1}}";
    bt_form f;
    char err[200];
    assert_int_equal(bt_form_parse_json_nested(body, strlen(body), &f, err, sizeof err), TB_OK);
    ts_field_map m;
    ts_wire_name extra[] = {{"extra.x", "jumpoint_id"}, {"user.public_display_name", "-"}};
    assert_int_equal(ts_field_map_build(extra, 2, &m), TB_OK);
    ts_request r;
    assert_int_equal(ts_request_from_form(&f, &m, &r, err, sizeof err), TB_OK);
    assert_string_equal(ts_get(&r, TS_TICKET_ID), "CHG0030001");
    assert_string_equal(ts_get(&r, TS_USERNAME), "jdoe");
    assert_string_equal(ts_get(&r, TS_USER_ID), "7");
    assert_string_equal(ts_get(&r, TS_HOSTNAME), "WEB01");
    assert_string_equal(ts_get(&r, TS_JUMP_GROUP_NAME), "Ops");
    assert_string_equal(ts_get(&r, TS_JUMPOINT_ID), "1");           /* administrator's name */
    assert_string_equal(ts_get(&r, TS_USER_DISPLAY_NAME), "");      /* administrator ignores it */
    assert_string_equal(ts_request_computer(&r), "WEB01");
    ts_request_free(&r);
    bt_form_free(&f);

    /* form body with an alias, and the Jump item name as the computer */
    const char *form = "ticketId=INC0010001&username=jdoe&jump_item_name=db1";
    assert_int_equal(bt_form_parse(form, strlen(form), &f, err, sizeof err), TB_OK);
    assert_int_equal(ts_request_from_form(&f, &m, &r, err, sizeof err), TB_OK);
    assert_string_equal(ts_get(&r, TS_TICKET_ID), "INC0010001");
    assert_string_equal(ts_request_computer(&r), "db1");
    ts_request_free(&r);
    bt_form_free(&f);

    /* no ticket, control characters, overlong values, arrays, deep nesting */
    const char *bad[] = {
        "{\"user\":{\"username\":\"jdoe\"}}",
        "{\"ticket_id\":\"   \"}",
        "{\"ticket_id\":\"CHG1\\u0007\"}",
        "{\"ticket_id\":[\"CHG1\"]}",
        "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":1}}}}},\"ticket_id\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tb_err e = bt_form_parse_json_nested(bad[i], strlen(bad[i]), &f, err, sizeof err);
        if (!e) {
            e = ts_request_from_form(&f, &m, &r, err, sizeof err);
            bt_form_free(&f);
        }
        assert_int_equal(e, TB_ERR_INVALID);
    }
    char *big = malloc(3000);
    assert_non_null(big);
    int n = snprintf(big, 3000, "{\"ticket_id\":\"%02000d\"}", 1);
    assert_int_equal(bt_form_parse_json_nested(big, (size_t)n, &f, err, sizeof err), TB_OK);
    assert_int_equal(ts_request_from_form(&f, &m, &r, err, sizeof err), TB_ERR_INVALID);
    assert_non_null(strstr(err, "longer than"));
    bt_form_free(&f);
    free(big);
    ts_field_map_free(&m);
}

static void test_response(void **state)
{
    (void)state;
    tb_buf b;
    tb_buf_init(&b, 0);
    ts_attr a[] = {{"snow_task_id", "abc"}};
    assert_int_equal(ts_response_json(true, "ok \"quoted\"", a, 1, 5, &b), TB_OK);
    assert_string_equal(b.data, "{\"is_valid\":true,\"error_message\":\"\",\"message\":\"ok \\\"quoted\\\"\","
                                "\"custom_attributes\":{\"snow_task_id\":\"abc\"},\"decision_id\":5}");
    tb_buf_reset(&b);
    assert_int_equal(ts_response_json(false, "bad \xff utf8", NULL, 0, 0, &b), TB_OK);
    assert_non_null(strstr(b.data, "\"is_valid\":false"));
    assert_non_null(strstr(b.data, "not valid UTF-8"));
    tb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_each_check_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checks_run_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_states, setup, teardown),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_message_template),
        cmocka_unit_test_setup_teardown(test_override_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ticket_ids, setup, teardown),
        cmocka_unit_test(test_request_mapping),
        cmocka_unit_test(test_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
