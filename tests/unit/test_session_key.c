/* Session keys from tickets: the state and role rules, the properties'
 * values, the <session_key> answer (well-formed, hostile, oversized), the
 * mapping of appliance failures to administrator hints, the ticket path,
 * the remembered keys in the store (sweep, pull bookkeeping, the importer's
 * lookup, the migration) and the call pool. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt/session_key.h"
#include "core/roles.h"
#include "flow/call_pool.h"
#include "flow/session_key.h"
#include "flow/session_key_rules.h"
#include "flow/tickets_api.h"
#include "store/store.h"
#include "store/store_session_key.h"

/* ------------------------------------------------------------ the rules */

static sk_facts facts(const char *table, int64_t state, const char *roles)
{
    return (sk_facts){.ticket_found = true, .table = table, .number = "X1", .state = state, .has_state = true,
                      .active = true, .appliance_found = true, .appliance_enabled = true, .appliance_rs = true,
                      .appliance_api = true, .roles = roles};
}

static bool has_reason(const sk_verdict *v, sk_reason_code c)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->reasons[i].code == c)
            return true;
    return false;
}

static void test_rules_incident(void **state)
{
    (void)state;
    tb_rs_settings s;
    sk_settings_default(&s);
    sk_verdict v;
    for (int st = 1; st <= 5; st++) {
        sk_facts f = facts("incident", st, "itil");
        sk_rules_evaluate(&s, &f, &v);
        assert_true(v.allowed);
        assert_int_equal(v.n, 0);
    }
    for (int st = 6; st <= 8; st++) {       /* resolved, closed, canceled */
        sk_facts f = facts("incident", st, "itil");
        sk_rules_evaluate(&s, &f, &v);
        assert_false(v.allowed);
        assert_int_equal(v.n, 1);
        assert_int_equal(v.reasons[0].code, SK_R_STATE);
        assert_int_equal(v.status, 409);
        assert_non_null(strstr(v.reasons[0].message, "not below 6"));
    }
    /* seed 001: "&& current.incident_state != 8" on top of "< 6": here 3 */
    assert_int_equal(sk_state_list_parse("3", s.incident_states_excluded, sizeof s.incident_states_excluded, NULL, 0),
                     TB_OK);
    sk_facts f = facts("incident", 3, "itil");
    sk_rules_evaluate(&s, &f, &v);
    assert_false(v.allowed);
    assert_non_null(strstr(v.reasons[0].message, "excluded"));
    /* seed 001's other example: hidden for 6, 7 and 10, shown for 1-5, 8, 9 */
    s.incident_state_below = 0;
    snprintf(s.incident_states_excluded, sizeof s.incident_states_excluded, "6,7,10");
    int shown[] = {1, 2, 3, 4, 5, 8, 9}, hidden[] = {6, 7, 10};
    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++) {
        f = facts("incident", shown[i], "itil");
        sk_rules_evaluate(&s, &f, &v);
        assert_true(v.allowed);
    }
    for (size_t i = 0; i < sizeof hidden / sizeof *hidden; i++) {
        f = facts("incident", hidden[i], "itil");
        sk_rules_evaluate(&s, &f, &v);
        assert_false(v.allowed);
    }
    /* no numeric state: refused, not guessed */
    f = facts("incident", 0, "itil");
    f.has_state = false;
    sk_rules_evaluate(&s, &f, &v);
    assert_false(v.allowed);
    assert_int_equal(v.reasons[0].code, SK_R_STATE);
}

static void test_rules_roles(void **state)
{
    (void)state;
    tb_rs_settings s;
    sk_settings_default(&s);
    sk_verdict v;
    const char *ok_inc[] = {"itil", ROLE_RS_ITIL, "admin", " itil , x_bmgr_crm.agent"};
    for (size_t i = 0; i < sizeof ok_inc / sizeof *ok_inc; i++) {
        sk_facts f = facts("incident", 1, ok_inc[i]);
        sk_rules_evaluate(&s, &f, &v);
        assert_true(v.allowed);
    }
    const char *no_inc[] = {"", ROLE_CSM_AGENT, ROLE_PRA_JUMP_USER, "itilx", NULL};
    for (size_t i = 0; i < sizeof no_inc / sizeof *no_inc; i++) {
        sk_facts f = facts("incident", 1, no_inc[i]);
        sk_rules_evaluate(&s, &f, &v);
        assert_false(v.allowed);
        assert_int_equal(v.reasons[0].code, SK_R_ROLE);
        assert_int_equal(v.status, 403);
        assert_string_equal(v.reasons[0].message, "User lacks role itil");
    }
    /* cases want the CSM agent role, and itil is not enough */
    sk_facts f = facts(SK_CASE_TABLE, 1, "itil," ROLE_RS_ITIL);
    sk_rules_evaluate(&s, &f, &v);
    assert_false(v.allowed);
    assert_string_equal(v.reasons[0].message, "User lacks role x_bmgr_crm.agent");
    f = facts(SK_CASE_TABLE, 1, ROLE_CSM_AGENT);
    sk_rules_evaluate(&s, &f, &v);
    assert_true(v.allowed);
    assert_string_equal(sk_role_for("change_request"), ROLE_ITIL);
    assert_string_equal(sk_custom_field_for(SK_CASE_TABLE), "snow_case_id");
    assert_string_equal(sk_custom_field_for("incident"), "snow_task_id");
    assert_string_equal(sk_custom_field_for("sc_task"), "snow_task_id");
}

static void test_rules_case_and_other_tasks(void **state)
{
    (void)state;
    tb_rs_settings s;
    sk_settings_default(&s);
    sk_verdict v;
    int shown[] = {1, 10, 18}, hidden[] = {3, 6, 7, 27, 0, -1};
    for (size_t i = 0; i < 3; i++) {
        sk_facts f = facts(SK_CASE_TABLE, shown[i], ROLE_CSM_AGENT);
        sk_rules_evaluate(&s, &f, &v);
        assert_true(v.allowed);
    }
    for (size_t i = 0; i < sizeof hidden / sizeof *hidden; i++) {
        sk_facts f = facts(SK_CASE_TABLE, hidden[i], ROLE_CSM_AGENT);
        sk_rules_evaluate(&s, &f, &v);
        assert_false(v.allowed);
        assert_int_equal(v.reasons[0].code, SK_R_STATE);
        assert_int_equal(v.status, 409);
    }
    /* seed 003: a custom Pending state 27 added to the list */
    snprintf(s.case_states, sizeof s.case_states, "1,10,18,27");
    sk_facts f = facts(SK_CASE_TABLE, 27, ROLE_CSM_AGENT);
    sk_rules_evaluate(&s, &f, &v);
    assert_true(v.allowed);
    /* an empty list allows no case */
    s.case_states[0] = '\0';
    f = facts(SK_CASE_TABLE, 1, ROLE_CSM_AGENT);
    sk_rules_evaluate(&s, &f, &v);
    assert_false(v.allowed);
    /* other tasks: while active */
    f = facts("change_request", -5, "itil");
    sk_rules_evaluate(&s, &f, &v);
    assert_true(v.allowed);
    f.active = false;
    sk_rules_evaluate(&s, &f, &v);
    assert_false(v.allowed);
    assert_non_null(strstr(v.reasons[0].message, "not active"));
}

static void test_rules_every_reason(void **state)
{
    (void)state;
    tb_rs_settings s;
    sk_settings_default(&s);
    s.session_keys_enabled = false;
    sk_facts f = facts("incident", 7, "");
    f.appliance_found = false;
    sk_verdict v;
    sk_rules_evaluate(&s, &f, &v);
    assert_false(v.allowed);
    assert_int_equal(v.n, 4);
    assert_true(has_reason(&v, SK_R_DISABLED));
    assert_true(has_reason(&v, SK_R_NO_APPLIANCE));
    assert_true(has_reason(&v, SK_R_STATE));
    assert_true(has_reason(&v, SK_R_ROLE));
    assert_int_equal(v.status, 403);        /* the caller's missing role leads */
    char text[1024];
    sk_verdict_text(&v, text, sizeof text);
    assert_non_null(strstr(text, "switched off"));
    assert_non_null(strstr(text, "exactly 'Default'"));
    assert_non_null(strstr(text, "; "));

    /* the Default appliance exists but cannot serve */
    sk_settings_default(&s);
    f = facts("incident", 1, "itil");
    f.appliance_enabled = false;
    f.appliance_rs = false;
    f.appliance_api = false;
    sk_rules_evaluate(&s, &f, &v);
    assert_int_equal(v.n, 3);
    assert_true(has_reason(&v, SK_R_APPLIANCE_DISABLED));
    assert_true(has_reason(&v, SK_R_APPLIANCE_NOT_RS));
    assert_true(has_reason(&v, SK_R_APPLIANCE_NO_API));
    assert_int_equal(v.status, 403);

    /* no ticket: 404, and no state or role can be judged */
    f = facts("incident", 1, "");
    f.ticket_found = false;
    sk_rules_evaluate(&s, &f, &v);
    assert_int_equal(v.n, 1);
    assert_int_equal(v.reasons[0].code, SK_R_TICKET_NOT_FOUND);
    assert_int_equal(v.status, 404);
    assert_string_equal(sk_reason_name(SK_R_STATE), "state_not_allowed");
    assert_string_equal(sk_reason_name(SK_R_ROLE), "role_missing");
    assert_string_equal(sk_reason_name((sk_reason_code)99), "unknown");
}

/* ------------------------------------------------------- property values */

static void test_state_lists(void **state)
{
    (void)state;
    char out[256], err[160];
    struct { const char *in, *out; } ok[] = {
        {"1,10,18", "1,10,18"}, {" 1 , 10,18 ", "1,10,18"}, {"", ""}, {" , ,", ""}, {"1,,2", "1,2"},
        {"7,7,7", "7"}, {"-5,+3,0", "-5,3,0"}, {"1000000,-1000000", "1000000,-1000000"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        assert_int_equal(sk_state_list_parse(ok[i].in, out, sizeof out, err, sizeof err), TB_OK);
        assert_string_equal(out, ok[i].out);
    }
    const char *bad[] = {"a", "1;2", "1 2", "1.5", "99999999999999999999", "1000001", "--1", "1,x", "0x10", "+"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(sk_state_list_parse(bad[i], out, sizeof out, err, sizeof err), TB_ERR_INVALID);
    assert_int_equal(sk_state_list_parse(NULL, out, sizeof out, err, sizeof err), TB_ERR_INVALID);
    /* at most 64 states; a huge input is refused before it is read */
    char many[1024] = "";
    for (int i = 0; i < 64; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d", i ? "," : "", i);
    assert_int_equal(sk_state_list_parse(many, out, sizeof out, err, sizeof err), TB_OK);
    strcat(many, ",64");
    assert_int_equal(sk_state_list_parse(many, out, sizeof out, err, sizeof err), TB_ERR_INVALID);
    char *huge = malloc(10000);
    memset(huge, '1', 9999);
    huge[9999] = '\0';
    assert_int_equal(sk_state_list_parse(huge, out, sizeof out, err, sizeof err), TB_ERR_INVALID);
    free(huge);
    /* a short output buffer is an error, not a truncated list */
    char small[4];
    assert_int_equal(sk_state_list_parse("1,10,18", small, sizeof small, err, sizeof err), TB_ERR_INVALID);
    assert_true(sk_state_listed("1,10,18", 10));
    assert_false(sk_state_listed("1,10,18", 0));
    assert_false(sk_state_listed("", 0));
    assert_true(sk_state_listed("-5,3", -5));
}

static void test_queue_ids_and_settings(void **state)
{
    (void)state;
    const char *ok[] = {"general", "rep:12", "team:3", "rep_username:jdoe", "rep_username:a.b@example.com",
                        "issue:printer_fire"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        assert_true(sk_queue_id_valid(ok[i]));
    const char *bad[] = {"", "General", "rep:", "rep:x", "team:-1", "rep_username:", "rep_username:a b",
                         "issue:", "issue:a b", "embassy:1", "general\n", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(sk_queue_id_valid(bad[i]));
    char longq[400];
    memset(longq, 'a', sizeof longq - 1);
    longq[sizeof longq - 1] = '\0';
    memcpy(longq, "rep_username:", 13);
    assert_false(sk_queue_id_valid(longq));

    tb_rs_settings s;
    char err[200];
    sk_settings_default(&s);
    assert_int_equal(sk_settings_check(&s, err, sizeof err), TB_OK);
    assert_int_equal(s.pull_interval_s, 300);
    assert_true(s.session_keys_enabled && s.pull_enabled);
    tb_rs_settings b = s;
    b.pull_interval_s = 0;
    assert_int_equal(sk_settings_check(&b, err, sizeof err), TB_ERR_INVALID);
    b = s;
    b.key_ttl_s = -1;
    assert_int_equal(sk_settings_check(&b, err, sizeof err), TB_ERR_INVALID);
    b = s;
    snprintf(b.fallback_queue, sizeof b.fallback_queue, "nowhere");
    assert_int_equal(sk_settings_check(&b, err, sizeof err), TB_ERR_INVALID);
    assert_non_null(strstr(err, "fallback queue"));
    b = s;
    snprintf(b.case_states, sizeof b.case_states, "1, 2");  /* not normalized */
    assert_int_equal(sk_settings_check(&b, err, sizeof err), TB_ERR_INVALID);
    b = s;
    snprintf(b.incident_states_excluded, sizeof b.incident_states_excluded, "x");
    assert_int_equal(sk_settings_check(&b, err, sizeof err), TB_ERR_INVALID);
}

/* ---------------------------------------------------- the key's answer */

#define NS "http://www.bomgar.com/namespaces/API/command"
#define GOOD_KEY                                                                                             \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<session_key xmlns=\"" NS "\"><type>support</type>"        \
    "<ttl>1800</ttl><expires>1733243165</expires><queue>John Doe</queue><queue_id>rep_username:jdoe</queue_id>" \
    "<external_key>INC0010001</external_key><short_key>1234567</short_key>"                                \
    "<key_url>https://support.example.com/?ak=1234567</key_url><mail_subject>Support Session Invitation"     \
    "</mail_subject><mail_body>Please click:\nhttps://support.example.com/?ak=1234567\n&amp; thanks"         \
    "</mail_body><unknown><nested>x</nested></unknown></session_key>\n"

static tb_err parse(const char *xml, bt_session_key *k, char *err, size_t errsz)
{
    return bt_session_key_parse(xml, strlen(xml), k, err, errsz);
}

static void test_key_answer(void **state)
{
    (void)state;
    bt_session_key k;
    char err[200];
    assert_int_equal(parse(GOOD_KEY, &k, err, sizeof err), TB_OK);
    assert_string_equal(k.short_key, "1234567");
    assert_string_equal(k.type, "support");
    assert_int_equal(k.ttl, 1800);
    assert_int_equal(k.expires, 1733243165);
    assert_string_equal(k.queue_id, "rep_username:jdoe");
    assert_string_equal(k.external_key, "INC0010001");
    assert_string_equal(k.key_url, "https://support.example.com/?ak=1234567");
    assert_string_equal(k.mail_subject, "Support Session Invitation");
    assert_string_equal(k.mail_body, "Please click:\nhttps://support.example.com/?ak=1234567\n& thanks");
    bt_session_key_free(&k);

    /* no namespace, white space around values, only the short key */
    assert_int_equal(parse("<session_key>\n  <short_key> 7654321 </short_key>\n</session_key>", &k, err, sizeof err),
                     TB_OK);
    assert_string_equal(k.short_key, "7654321");
    assert_int_equal(k.ttl, -1);
    assert_int_equal(k.expires, 0);
    assert_string_equal(k.key_url, "");
    bt_session_key_free(&k);
}

static void test_key_answer_hostile(void **state)
{
    (void)state;
    bt_session_key k;
    char err[200];
    const struct { const char *xml, *why; } bad[] = {
        {"<error xmlns=\"" NS "\">Invalid action</error>", "not a <session_key>"},
        {"<session_key><type>support</type></session_key>", "short_key"},
        {"<session_key><short_key></short_key></session_key>", "short_key"},
        {"<session_key><short_key>12 34</short_key></session_key>", "short_key"},
        {"<session_key><short_key>1&#9;2</short_key></session_key>", "short_key"},
        {"<session_key><short_key>12345678901234567890123456789012</short_key></session_key>", "short_key"},
        {"<session_key><short_key>1</short_key><key_url>javascript:alert(1)</key_url></session_key>", "key_url"},
        {"<session_key><short_key>1</short_key><key_url>https://a b</key_url></session_key>", "key_url"},
        {"<session_key><short_key>1</short_key><mail_subject>a&#10;b</mail_subject></session_key>", "control"},
        {"<!DOCTYPE s [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><session_key><short_key>&b;</short_key>"
         "</session_key>", "DTD"},
        {"<!DOCTYPE session_key SYSTEM \"file:///etc/passwd\"><session_key/>", "DTD"},
        {"<session_key><short_key>1</short_key>", "well-formed"},
        {"not xml at all", "well-formed"},
        {"", "well-formed"},
        {"<session_key><short_key>1</short_key></session_key><second/>", "well-formed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(parse(bad[i].xml, &k, err, sizeof err), TB_ERR_INVALID);
        if (!strstr(err, bad[i].why))
            fail_msg("case %zu: '%s' does not mention '%s'", i, err, bad[i].why);
        assert_null(k.key_url);
    }
    /* a mail body over its cap */
    size_t n = BT_SK_TEXT_MAX + 100;
    char *big = malloc(n + 200);
    int w = snprintf(big, 200, "<session_key><short_key>1</short_key><mail_body>");
    memset(big + w, 'x', n);
    strcpy(big + w + n, "</mail_body></session_key>");
    assert_int_equal(parse(big, &k, err, sizeof err), TB_ERR_INVALID);
    assert_non_null(strstr(err, "size limit"));
    free(big);
    /* nesting far below the root */
    char deep[4096] = "<session_key><short_key>1</short_key>";
    for (int i = 0; i < 40; i++)
        strcat(deep, "<a>");
    for (int i = 0; i < 40; i++)
        strcat(deep, "</a>");
    strcat(deep, "</session_key>");
    assert_int_equal(parse(deep, &k, err, sizeof err), TB_ERR_INVALID);
    assert_int_equal(bt_session_key_parse(NULL, 0, &k, err, sizeof err), TB_ERR_INVALID);
}

/* ------------------------------------------------ failures and hints */

static bt_api_result result(long status, bool appliance_error, const char *err)
{
    bt_api_result r;
    memset(&r, 0, sizeof r);
    r.status = status;
    r.retry_after = -1;
    r.appliance_error = appliance_error;
    snprintf(r.err, sizeof r.err, "%s", err);
    return r;
}

static void test_failures_and_hints(void **state)
{
    (void)state;
    char hint[768];
    const char *reach = "cannot reach the appliance support.example.com: check the hostname and the firewall (TCP 443)";
    const struct { tb_err rc; long status; bool ae; const char *err; bt_sk_failure want; const char *hint; } c[] = {
        {TB_ERR_HTTP, 0, false, "OAuth token request: request to 127.0.0.1:1 failed: Couldn't connect to server",
         BT_SK_FAIL_UNREACHABLE, reach},
        {TB_ERR_HTTP, 0, false, "OAuth token request: request to x.invalid failed: Could not resolve host: x.invalid",
         BT_SK_FAIL_UNREACHABLE, reach},
        {TB_ERR_TIMEOUT, 0, false, "request to h failed: Operation timed out after 10000 ms (/api/command x)",
         BT_SK_FAIL_UNREACHABLE, reach},
        {TB_ERR_HTTP, 0, false, "OAuth token request: HTTP 503 from h", BT_SK_FAIL_OTHER, "HTTP 503 from h"},
        {TB_ERR_HTTP, 500, false, "HTTP 500 from h on /api/command (generate_session_key)", BT_SK_FAIL_OTHER,
         "HTTP 500"},
        {TB_ERR_DENIED, 401, false, BT_OAUTH_DENIED_MSG, BT_SK_FAIL_OAUTH, BT_OAUTH_DENIED_MSG},
        {TB_ERR_DENIED, 403, false,
         "appliance refused generate_session_key (HTTP 403): check the API account's permissions",
         BT_SK_FAIL_PERMISSION, "Command API permission"},
        {TB_ERR_BUSY, 429, false, "HTTP 429 from h; appliance busy", BT_SK_FAIL_BUSY, "busy"},
        {TB_ERR_INVALID, 200, true, "appliance error: Invalid custom field code name", BT_SK_FAIL_CUSTOM_FIELD,
         "create the custom field snow_case_id in /login > Management > API Configuration"},
        {TB_ERR_INVALID, 200, true,
         "appliance error: Error validating parameter 'snow_case_id': The session attribute is invalid",
         BT_SK_FAIL_CUSTOM_FIELD, "create the custom field snow_case_id in /login > Management > API Configuration"},
        {TB_ERR_INVALID, 200, true, "appliance error: Unable to find a single user with the given username",
         BT_SK_FAIL_UNKNOWN_REP, "no representative"},
        {TB_ERR_INVALID, 200, true, "appliance error: Invalid ttl", BT_SK_FAIL_APPLIANCE, "Invalid ttl"},
        {TB_ERR_INVALID, 200, false, "the session key answer has no usable short_key", BT_SK_FAIL_ANSWER, "short_key"},
        {TB_ERR_TOO_LARGE, 200, false, "response from h is larger than the 1048576-byte limit", BT_SK_FAIL_ANSWER,
         "larger"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        bt_api_result r = result(c[i].status, c[i].ae, c[i].err);
        bt_sk_failure f = bt_session_key_classify(c[i].rc, &r);
        if (f != c[i].want)
            fail_msg("case %zu: %s, want %s", i, bt_sk_failure_name(f), bt_sk_failure_name(c[i].want));
        bt_session_key_hint(f, &r, "support.example.com", "snow_case_id", hint, sizeof hint);
        if (!strstr(hint, c[i].hint))
            fail_msg("case %zu: hint '%s' lacks '%s'", i, hint, c[i].hint);
    }
    /* the task field is named when it is the one missing */
    bt_api_result r = result(200, true, "appliance error: Invalid custom field code name");
    bt_session_key_hint(BT_SK_FAIL_CUSTOM_FIELD, &r, "h", "snow_task_id", hint, sizeof hint);
    assert_non_null(strstr(hint, "create the custom field snow_task_id in /login > Management > API Configuration"));
    assert_int_equal(bt_session_key_classify(TB_OK, &r), BT_SK_FAIL_OTHER);
    assert_string_equal(bt_sk_failure_name((bt_sk_failure)42), "other");
}

/* ---------------------------------------------------------- the path */

static void test_ticket_paths(void **state)
{
    (void)state;
    char num[66], act[33];
    assert_int_equal(tickets_api_split("/api/tb/v1/tickets/INC0010001/session_key", num, sizeof num, act, sizeof act),
                     TB_OK);
    assert_string_equal(num, "INC0010001");
    assert_string_equal(act, "session_key");
    const char *not_found[] = {
        "/api/tb/v1/tickets/", "/api/tb/v1/tickets/INC1", "/api/tb/v1/tickets/INC1/", "/api/tb/v1/tickets//x",
        "/api/tb/v1/tickets/INC1/session_key/", "/api/tb/v1/tickets/INC1/a/b", "/api/tb/v1/tickets/../x/y",
        "/api/tb/v1/ticket/INC1/session_key", "/api/tb/v1/tickets", "", NULL,
    };
    for (size_t i = 0; i < sizeof not_found / sizeof *not_found; i++)
        assert_int_equal(tickets_api_split(not_found[i], num, sizeof num, act, sizeof act), TB_ERR_NOT_FOUND);
    /* ".." is a number here; the number's characters are checked next */
    assert_int_equal(tickets_api_split("/api/tb/v1/tickets/../session_key", num, sizeof num, act, sizeof act), TB_OK);
    assert_false(sk_number_valid(num));
    char longp[8192];
    snprintf(longp, sizeof longp, "/api/tb/v1/tickets/");
    memset(longp + strlen(longp), 'A', 5000);
    strcpy(longp + strlen("/api/tb/v1/tickets/") + 5000, "/session_key");
    assert_int_equal(tickets_api_split(longp, num, sizeof num, act, sizeof act), TB_ERR_TOO_LARGE);
    snprintf(longp, sizeof longp, "/api/tb/v1/tickets/INC1/%0100d", 0);
    assert_int_equal(tickets_api_split(longp, num, sizeof num, act, sizeof act), TB_ERR_NOT_FOUND);

    const char *ok[] = {"INC0010001", "CS0001001", "0123456789abcdef0123456789abcdef", "a"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        assert_true(sk_number_valid(ok[i]));
    char n65[66];
    memset(n65, '1', 65);
    n65[65] = '\0';
    const char *bad[] = {"", "..", "INC'1", "INC 1", "INC\n1", "INC%271", "INC\xc3\xa9", "a/b", "a;b", n65, NULL};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(sk_number_valid(bad[i]));
}

/* --------------------------------------------------------- the store */

typedef struct sfix {
    char path[512];
    tb_store *st;
    int64_t app;
} sfix;

static void exec(tb_store *st, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(store_sqlite3(st), sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
}

static int64_t scalar(tb_store *st, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(store_sqlite3(st), sql, -1, &s, NULL), SQLITE_OK);
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
}

static int store_setup(void **state)
{
    sfix *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(test_db_path(f->path, sizeof f->path, "test_session_key"), 0);
    assert_int_equal(store_open(f->path, STORE_CREATE, &f->st), TB_OK);
    assert_int_equal(store_schema(f->st), TB_OK);
    exec(f->st, "INSERT INTO tb_appliance(name, created_at, updated_at) VALUES('Default', 0, 0)");
    f->app = scalar(f->st, "SELECT id FROM tb_appliance WHERE name = 'Default'");
    *state = f;
    return 0;
}

static int store_teardown(void **state)
{
    sfix *f = *state;
    store_close(f->st);
    test_db_remove(f->path);
    free(f);
    return 0;
}

static int64_t add_key(sfix *f, const char *number, const char *sys_id, int64_t created, int64_t expires)
{
    tb_session_key_rec r = {.created_at = created, .appliance_id = f->app, .task_table = "incident",
                            .task_sys_id = sys_id, .task_number = number, .acting_user = "alice",
                            .bt_username = "jdoe", .queue_id = "rep_username:jdoe", .external_key = number,
                            .short_key = "1234567", .key_url = "https://x/?ak=1234567", .expires_at = expires,
                            .state = "issued"};
    int64_t id = 0;
    assert_int_equal(store_session_key_insert(f->st, &r, &id), TB_OK);
    return id;
}

static const char *key_state(sfix *f, int64_t id, char *buf, size_t bufsz)
{
    tb_session_key *v;
    size_t n;
    tb_session_key_filter flt = {.limit = 1000};
    assert_int_equal(store_session_key_list(f->st, &flt, &v, &n), TB_OK);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (v[i].id == id)
            snprintf(buf, bufsz, "%s", v[i].state);
    tb_session_keys_free(v, n);
    return buf;
}

#define SYS1 "0123456789abcdef0123456789abcdef"
#define SYS2 "fedcba9876543210fedcba9876543210"
#define LSID1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LSID2 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_store_settings(void **state)
{
    sfix *f = *state;
    tb_rs_settings s, d;
    sk_settings_default(&d);
    assert_int_equal(store_rs_settings_get(f->st, &s), TB_OK);
    assert_int_equal(s.session_keys_enabled, d.session_keys_enabled);
    assert_int_equal(s.pull_enabled, d.pull_enabled);
    assert_int_equal(s.pull_interval_s, d.pull_interval_s);
    assert_int_equal(s.key_ttl_s, d.key_ttl_s);
    assert_int_equal(s.key_grace_s, d.key_grace_s);
    assert_int_equal(s.incident_state_below, 6);
    assert_string_equal(s.case_states, "1,10,18");
    assert_string_equal(s.fallback_queue, "general");
    s.session_keys_enabled = false;
    s.pull_interval_s = 60;
    snprintf(s.case_states, sizeof s.case_states, "1,10,18,27");
    snprintf(s.incident_states_excluded, sizeof s.incident_states_excluded, "3");
    assert_int_equal(store_rs_settings_put(f->st, &s, 1000), TB_OK);
    assert_int_equal(store_rs_settings_get(f->st, &d), TB_OK);
    assert_false(d.session_keys_enabled);
    assert_int_equal(d.pull_interval_s, 60);
    assert_string_equal(d.case_states, "1,10,18,27");
    assert_string_equal(d.incident_states_excluded, "3");
    assert_int_equal(d.updated_at, 1000);
    /* one settings row only */
    assert_int_not_equal(sqlite3_exec(store_sqlite3(f->st), "INSERT INTO tb_rs_settings(id) VALUES(2)", NULL, NULL,
                                      NULL), SQLITE_OK);
}

static void test_store_keys_lifecycle(void **state)
{
    sfix *f = *state;
    char st[32];
    int64_t now = 100000;
    int64_t k1 = add_key(f, "INC0010001", SYS1, now - 100, now + 3600);
    int64_t k2 = add_key(f, "INC0010002", SYS2, now - 7300, now - 3700);    /* expired an hour and 2 min ago */
    tb_session_key_rec failed = {.created_at = now, .appliance_id = f->app, .task_table = "incident",
                                 .task_sys_id = SYS1, .task_number = "INC0010001", .acting_user = "alice",
                                 .bt_username = "alice", .queue_id = "general", .external_key = "INC0010001",
                                 .state = "failed", .error = "cannot reach the appliance"};
    int64_t k3 = 0;
    assert_int_equal(store_session_key_insert(f->st, &failed, &k3), TB_OK);
    tb_session_key_rec incomplete = failed;
    incomplete.task_sys_id = NULL;
    assert_int_equal(store_session_key_insert(f->st, &incomplete, NULL), TB_ERR_INVALID);

    /* listing: newest first, filters */
    tb_session_key *v;
    size_t n;
    tb_session_key_filter flt = {.task_number = "INC0010001"};
    assert_int_equal(store_session_key_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].id, k3);
    assert_string_equal(v[0].state, "failed");
    assert_string_equal(v[0].error, "cannot reach the appliance");
    assert_string_equal(v[0].short_key, "");
    assert_string_equal(v[1].appliance, "Default");
    assert_string_equal(v[1].short_key, "1234567");
    tb_session_keys_free(v, n);
    flt = (tb_session_key_filter){.pending = true};
    assert_int_equal(store_session_key_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 2);
    tb_session_keys_free(v, n);

    /* the sweep: past expiry plus an hour's grace → expired; the rest stay */
    int64_t changed = 0;
    assert_int_equal(store_session_key_sweep(f->st, now, 3600, &changed), TB_OK);
    assert_int_equal(changed, 1);
    assert_string_equal(key_state(f, k2, st, sizeof st), "expired");
    assert_string_equal(key_state(f, k1, st, sizeof st), "issued");
    assert_string_equal(key_state(f, k3, st, sizeof st), "failed");

    /* the pull sees k1's session running, then ended: an import is queued */
    int q = 0;
    assert_int_equal(store_session_key_seen(f->st, k1, LSID1, false, now, &q), TB_OK);
    assert_int_equal(q, 0);
    assert_string_equal(key_state(f, k1, st, sizeof st), "in_session");
    assert_int_equal(store_session_key_seen(f->st, k1, LSID1, true, now + 60, &q), TB_OK);
    assert_int_equal(q, 1);
    assert_string_equal(key_state(f, k1, st, sizeof st), "import_queued");
    assert_int_equal(scalar(f->st, "SELECT count(*) FROM tb_job WHERE kind = 'session_import' AND lsid = '" LSID1
                                   "' AND state = 'queued'"), 1);
    assert_int_equal(scalar(f->st, "SELECT import_job_id = (SELECT id FROM tb_job WHERE lsid = '" LSID1
                                   "') FROM tb_session_key WHERE lsid = '" LSID1 "'"), 1);
    bool claimed = false;
    assert_int_equal(store_session_key_claimed(f->st, LSID1, &claimed), TB_OK);
    assert_true(claimed);
    assert_int_equal(store_session_key_claimed(f->st, LSID2, &claimed), TB_OK);
    assert_false(claimed);
    /* seen again: no second job */
    assert_int_equal(store_session_key_seen(f->st, k1, LSID1, true, now + 120, &q), TB_OK);
    assert_int_equal(q, 0);
    assert_int_equal(scalar(f->st, "SELECT count(*) FROM tb_job WHERE lsid = '" LSID1 "'"), 1);
    /* a session belongs to one key; a key to one session */
    int64_t k4 = add_key(f, "INC0010001", SYS1, now, now + 3600);
    assert_int_equal(store_session_key_seen(f->st, k4, LSID1, true, now, &q), TB_OK);
    assert_string_equal(key_state(f, k4, st, sizeof st), "issued");
    assert_int_equal(store_session_key_seen(f->st, k1, LSID2, true, now, &q), TB_OK);
    assert_int_equal(scalar(f->st, "SELECT count(*) FROM tb_job WHERE lsid = '" LSID2 "'"), 0);
    assert_int_equal(store_session_key_seen(f->st, k1, "", true, now, &q), TB_ERR_INVALID);
    assert_int_equal(store_session_key_seen(f->st, 99999, LSID2, true, now, &q), TB_ERR_NOT_FOUND);

    /* the import fails: the key says so, with the job's error */
    exec(f->st, "UPDATE tb_job SET state = 'failed', last_error = 'report unusable' WHERE lsid = '" LSID1 "'");
    assert_int_equal(store_session_key_sweep(f->st, now, 3600, NULL), TB_OK);
    assert_string_equal(key_state(f, k1, st, sizeof st), "import_failed");
    /* retried and stored: imported */
    exec(f->st, "INSERT INTO tb_session(appliance_id, lsid, task_sys_id, start_time, imported_at, updated_at)"
                " VALUES((SELECT id FROM tb_appliance), '" LSID1 "', '" SYS1 "', 100000, 0, 0)");
    assert_int_equal(store_session_key_sweep(f->st, now, 3600, NULL), TB_OK);
    assert_string_equal(key_state(f, k1, st, sizeof st), "imported");

    /* an outbound event imported k4's session before any pull: the sweep
     * ties it by ticket and start time, and never to a claimed session */
    exec(f->st, "INSERT INTO tb_session(appliance_id, lsid, task_sys_id, start_time, imported_at, updated_at)"
                " VALUES((SELECT id FROM tb_appliance), '" LSID2 "', '" SYS1 "', 99000, 0, 0)");
    assert_int_equal(store_session_key_sweep(f->st, now, 3600, NULL), TB_OK);
    assert_string_equal(key_state(f, k4, st, sizeof st), "issued");     /* started before the key minus skew */
    exec(f->st, "UPDATE tb_session SET start_time = 100010 WHERE lsid = '" LSID2 "'");
    assert_int_equal(store_session_key_sweep(f->st, now, 3600, NULL), TB_OK);
    assert_string_equal(key_state(f, k4, st, sizeof st), "imported");
    assert_int_equal(scalar(f->st, "SELECT count(*) FROM tb_session_key WHERE lsid = '" LSID2 "'"), 1);

    /* the importer's lookup: by lsid, else by external key */
    char table[64], sys_id[33], number[64];
    assert_int_equal(store_session_key_task(f->st, f->app, LSID1, NULL, table, sys_id, number), TB_OK);
    assert_string_equal(sys_id, SYS1);
    assert_string_equal(table, "incident");
    assert_int_equal(store_session_key_task(f->st, f->app, "cccccccccccccccccccccccccccccccc", "INC0010002", table,
                                            sys_id, number), TB_OK);
    assert_string_equal(number, "INC0010002");
    assert_int_equal(store_session_key_task(f->st, f->app, "cccccccccccccccccccccccccccccccc", "", table, sys_id,
                                            number), TB_ERR_NOT_FOUND);
    assert_int_equal(store_session_key_task(f->st, f->app + 1, LSID1, NULL, table, sys_id, number), TB_ERR_NOT_FOUND);
    assert_int_equal(store_session_key_task(f->st, f->app, NULL, NULL, table, sys_id, number), TB_ERR_NOT_FOUND);
}

static void test_store_pull_schedule(void **state)
{
    sfix *f = *state;
    int64_t n = -1, now = 50000;
    /* nothing to look after: no job, but the schedule moves on */
    assert_int_equal(store_session_key_pull_schedule(f->st, now, false, &n), TB_OK);
    assert_int_equal(n, 0);
    add_key(f, "INC0010001", SYS1, now, now + 3600);
    assert_int_equal(store_session_key_pull_schedule(f->st, now + 10, false, &n), TB_OK);
    assert_int_equal(n, 0);                                 /* next pull at now + 300 */
    assert_int_equal(store_session_key_pull_schedule(f->st, now + 300, false, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(scalar(f->st, "SELECT count(*) FROM tb_job WHERE kind = '" SESSION_KEY_PULL_JOB_KIND
                                   "' AND state = 'queued'"), 1);
    /* one queued already: none more, even forced */
    assert_int_equal(store_session_key_pull_schedule(f->st, now + 600, true, &n), TB_OK);
    assert_int_equal(n, 0);
    exec(f->st, "UPDATE tb_job SET state = 'done'");
    assert_int_equal(store_session_key_pull_schedule(f->st, now + 601, true, &n), TB_OK);
    assert_int_equal(n, 1);
    exec(f->st, "UPDATE tb_job SET state = 'done'");
    /* pulling off: only a forced pull */
    exec(f->st, "UPDATE tb_rs_settings SET pull_enabled = 0, pull_next_at = 0");
    assert_int_equal(store_session_key_pull_schedule(f->st, now + 10000, false, &n), TB_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_session_key_pull_schedule(f->st, now + 10000, true, &n), TB_OK);
    assert_int_equal(n, 1);
    /* a shorter interval takes effect at once */
    exec(f->st, "UPDATE tb_rs_settings SET pull_enabled = 1, pull_next_at = 999999");
    tb_rs_settings s;
    assert_int_equal(store_rs_settings_get(f->st, &s), TB_OK);
    s.pull_interval_s = 5;
    assert_int_equal(store_rs_settings_put(f->st, &s, now), TB_OK);
    assert_int_equal(scalar(f->st, "SELECT pull_next_at FROM tb_rs_settings"), now + 5);
}

static void test_store_migration(void **state)
{
    sfix *f = *state;
    add_key(f, "INC0010001", SYS1, 1, 2);
    assert_int_equal(test_schema_downgrade(store_sqlite3(f->st), 5), SQLITE_OK);
    assert_int_equal(scalar(f->st, "SELECT count(*) FROM sqlite_master WHERE name = 'tb_session_key'"), 0);
    assert_int_equal(store_schema(f->st), TB_OK);
    assert_int_equal(scalar(f->st, "SELECT count(*) FROM tb_rs_settings"), 1);
    assert_int_equal(scalar(f->st, "SELECT count(*) FROM tb_session_key"), 0);
    assert_int_equal(store_schema(f->st), TB_OK);          /* idempotent */
    assert_int_equal(scalar(f->st, "SELECT count(*) FROM tb_rs_settings"), 1);
}

/* ------------------------------------------------------- the call pool */

struct counter {
    pthread_mutex_t mu;
    int runs;
    int sleep_ms;
};

static void count_call(void *arg)
{
    struct counter *c = arg;
    if (c->sleep_ms)
        usleep((useconds_t)c->sleep_ms * 1000);
    pthread_mutex_lock(&c->mu);
    c->runs++;
    pthread_mutex_unlock(&c->mu);
}

static void test_call_pool(void **state)
{
    (void)state;
    call_pool *p;
    assert_int_equal(call_pool_start(0, 4, &p), TB_ERR_INVALID);
    assert_int_equal(call_pool_start(1, 0, &p), TB_ERR_INVALID);
    assert_int_equal(call_pool_start(1, 2, &p), TB_OK);
    struct counter c = {PTHREAD_MUTEX_INITIALIZER, 0, 200};
    /* one running, two queued, the next refused */
    int accepted = 0, busy = 0;
    for (int i = 0; i < 6; i++) {
        tb_err e = call_pool_submit(p, count_call, &c);
        accepted += e == TB_OK;
        busy += e == TB_ERR_BUSY;
        if (i == 0)
            usleep(50 * 1000);          /* let the thread take the first */
    }
    assert_true(busy >= 1);
    assert_true(accepted >= 3);
    call_pool_stop(p);                   /* runs what was accepted */
    assert_int_equal(c.runs, accepted);
    call_pool_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_incident),
        cmocka_unit_test(test_rules_roles),
        cmocka_unit_test(test_rules_case_and_other_tasks),
        cmocka_unit_test(test_rules_every_reason),
        cmocka_unit_test(test_state_lists),
        cmocka_unit_test(test_queue_ids_and_settings),
        cmocka_unit_test(test_key_answer),
        cmocka_unit_test(test_key_answer_hostile),
        cmocka_unit_test(test_failures_and_hints),
        cmocka_unit_test(test_ticket_paths),
        cmocka_unit_test_setup_teardown(test_store_settings, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_store_keys_lifecycle, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_store_pull_schedule, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_store_migration, store_setup, store_teardown),
        cmocka_unit_test(test_call_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
