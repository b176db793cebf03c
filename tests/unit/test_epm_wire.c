/* EPM on the wire and the JIT mapping: webhook payloads (the seed's
 * templates, duplicate keys, hostile input), event types, request ids,
 * duration conversion and the seed's validation messages, the A3/A4
 * decision bodies, EPM error bodies, the decision API's body, ticket
 * descriptions, update notes, and ticket states. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/epm_wire.h"
#include "flow/jit_decide.h"
#include "flow/jit_http.h"
#include "flow/jit_states.h"
#include "flow/jit_ticket.h"
#include "flow/jit_update.h"

/* The seed's application template, filled as EPM does (text substitution),
 * with its repeated "workstyle" key and an unknown field. */
static const char app_created[] =
    "{\n  \"EventType\": \"URM_Native_Ticket_Created\",\n  \"RequestId\": \"0d5e6a4b-1c2d-4e3f-8a9b-0c1d2e3f4a5b\",\n"
    "  \"TenantId\": \"t-1\",\n  \"Timestamp\": \"2025-01-31T14:00:00.000Z\",\n  \"TicketNumber\": \"EPM000123\",\n"
    "  \"requestInfo\": {\n    \"applicationType\": \"exe\",\n    \"action\": \"Elevate\",\n"
    "    \"workstyle\": \"First\",\n    \"reason\": \"needs \\\"admin\\\" for C:\\\\tmp – café\",\n"
    "    \"user\": \"CORP\\\\jdoe\",\n    \"hostName\": \"WKS-0042\",\n"
    "    \"filePathObjectId\": \"C:\\\\Program Files\\\\App\\\\app.exe\",\n    \"productName\": \"App\",\n"
    "    \"productVersion\": \"1.2\",\n    \"publisher\": \"Vendor Inc.\",\n    \"sha1Hash\": \"AB12\",\n"
    "    \"sha256Hash\": \"CD34\",\n    \"cmdArgs\": \"/S\",\n    \"workstyle\": \"JIT Workstyle\",\n"
    "    \"applicationGroup\": \"Dev Tools\",\n    \"clsId\": \"\",\n    \"newField\": \"kept\"\n  },\n"
    "  \"Extra\": 42\n}";

static const char admin_created[] =
    "{\"EventType\":\"JIT_ADMIN_TICKET_CREATED\",\"RequestId\":\"11111111-2222-4333-8444-555555555555\","
    "\"TenantId\":\"t\",\"Timestamp\":\"2025-01-31 14:00:00\",\"ComputerId\":\"c-1\",\"GroupId\":\"g-1\","
    "\"TicketNumber\":\"EPM000124\",\"Reason\":\"patching\",\"UserId\":\"u-1\",\"UserName\":\"CORP\\\\asmith\","
    "\"DurationRequested\":\"3600\"}";

static void test_event_types(void **state)
{
    (void)state;
    assert_int_equal(epm_event_parse("URM_Native_Ticket_Created"), EPM_EV_APP_CREATED);
    assert_int_equal(epm_event_parse("URM_NATIVE_TICKET_CREATED"), EPM_EV_APP_CREATED);
    assert_int_equal(epm_event_parse("URM_NATIVE_DECISION_UPDATE"), EPM_EV_APP_UPDATED);
    assert_int_equal(epm_event_parse("JIT_ADMIN_TICKET_CREATED"), EPM_EV_ADMIN_CREATED);
    assert_int_equal(epm_event_parse("jit_admin_ticket_updated"), EPM_EV_ADMIN_UPDATED);
    assert_int_equal(epm_event_parse("JIT_ADMIN_TICKET_CREATED "), EPM_EV_UNKNOWN);
    assert_int_equal(epm_event_parse(""), EPM_EV_UNKNOWN);
    assert_int_equal(epm_event_parse(NULL), EPM_EV_UNKNOWN);
    assert_true(epm_event_is_created(EPM_EV_ADMIN_CREATED));
    assert_false(epm_event_is_created(EPM_EV_APP_UPDATED));
    assert_true(epm_event_is_admin(EPM_EV_ADMIN_UPDATED));
    assert_false(epm_event_is_admin(EPM_EV_APP_CREATED));
    assert_string_equal(epm_event_name(EPM_EV_APP_UPDATED), "URM_NATIVE_DECISION_UPDATE");
}

static void test_payload(void **state)
{
    (void)state;
    epm_payload p;
    char err[200];
    assert_int_equal(epm_payload_parse(app_created, strlen(app_created), &p, err, sizeof err), TB_OK);
    assert_string_equal(epm_payload_get(&p, "RequestId"), "0d5e6a4b-1c2d-4e3f-8a9b-0c1d2e3f4a5b");
    /* the repeated key: the last value wins */
    assert_string_equal(epm_payload_get(&p, "workstyle"), "JIT Workstyle");
    /* requestInfo fields, case-insensitively */
    assert_string_equal(epm_payload_get(&p, "Reason"), "needs \"admin\" for C:\\tmp – café");
    assert_string_equal(epm_payload_get(&p, "USER"), "CORP\\jdoe");
    /* numbers as text; absent as NULL / "" */
    assert_string_equal(epm_payload_get(&p, "Extra"), "42");
    assert_null(epm_payload_get(&p, "nothing"));
    assert_string_equal(epm_payload_str(&p, "nothing"), "");
    /* unknown fields are kept */
    char *j = epm_payload_json(&p);
    assert_non_null(strstr(j, "\"newField\":\"kept\""));
    assert_null(strstr(j, "\"First\""));
    free(j);
    epm_payload_free(&p);

    static const char *const bad[] = {"", "[]", "\"x\"", "{\"a\":", "{\"a\":\"\\u0000\"}", "{\"a\":\"\xff\"}", "{} {}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(epm_payload_parse(bad[i], strlen(bad[i]), &p, err, sizeof err), TB_ERR_INVALID);
        assert_true(err[0] != '\0');
    }
    /* deeply nested: refused, not a crash */
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 3);
    deep[0] = '{';
    memcpy(deep + 1, "\"a\":", 4);
    size_t n = 5;
    for (size_t i = 0; i < depth; i++)
        deep[n++] = '[';
    for (size_t i = 0; i < depth && n < depth * 2 + 2; i++)
        deep[n++] = ']';
    assert_int_equal(epm_payload_parse(deep, n, &p, err, sizeof err), TB_ERR_INVALID);
    free(deep);
}

static void test_request_id(void **state)
{
    (void)state;
    assert_true(epm_valid_request_id("0d5e6a4b-1c2d-4e3f-8a9b-0c1d2e3f4a5b"));
    assert_true(epm_valid_request_id("{0D5E6A4B-1C2D-4E3F-8A9B-0C1D2E3F4A5B}"));
    assert_true(epm_valid_request_id("req_1"));
    assert_false(epm_valid_request_id(""));
    assert_false(epm_valid_request_id(NULL));
    assert_false(epm_valid_request_id("a b"));
    assert_false(epm_valid_request_id("../x"));
    assert_false(epm_valid_request_id("%%RequestId%%"));
    char longid[70];
    memset(longid, 'a', 65);
    longid[65] = '\0';
    assert_false(epm_valid_request_id(longid));
}

static void test_durations(void **state)
{
    (void)state;
    char out[16];
    const char *msg;
    assert_int_equal(epm_duration_value(EPM_DUR_ONCE, 0, out, sizeof out, &msg), TB_OK);
    assert_string_equal(out, "Once");
    assert_int_equal(epm_duration_value(EPM_DUR_MINUTES, 5, out, sizeof out, &msg), TB_OK);
    assert_string_equal(out, "300");
    assert_int_equal(epm_duration_value(EPM_DUR_MINUTES, 1440, out, sizeof out, &msg), TB_OK);
    assert_string_equal(out, "86400");
    assert_int_equal(epm_duration_value(EPM_DUR_HOURS, 1, out, sizeof out, &msg), TB_OK);
    assert_string_equal(out, "3600");
    assert_int_equal(epm_duration_value(EPM_DUR_HOURS, 24, out, sizeof out, &msg), TB_OK);
    assert_string_equal(out, "86400");
    long bad_min[] = {4, 1441, 0, -5, 1000000};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(epm_duration_value(EPM_DUR_MINUTES, bad_min[i], out, sizeof out, &msg), TB_ERR_INVALID);
        assert_string_equal(msg, "Enter a number between 5 and 1440");
    }
    long bad_hours[] = {0, 25, -1};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(epm_duration_value(EPM_DUR_HOURS, bad_hours[i], out, sizeof out, &msg), TB_ERR_INVALID);
        assert_string_equal(msg, "Enter a number between 1 and 24");
    }
    assert_int_equal(epm_duration_value(EPM_DUR_NONE, 0, out, sizeof out, &msg), TB_ERR_INVALID);
    assert_non_null(msg);

    char t[64];
    epm_duration_text("Once", t, sizeof t);
    assert_string_equal(t, "Once");
    epm_duration_text("3600", t, sizeof t);
    assert_string_equal(t, "1 hour");
    epm_duration_text("7200", t, sizeof t);
    assert_string_equal(t, "2 hours");
    epm_duration_text("300", t, sizeof t);
    assert_string_equal(t, "5 minutes");
    epm_duration_text("90", t, sizeof t);
    assert_string_equal(t, "90 seconds");
    epm_duration_text("", t, sizeof t);
    assert_string_equal(t, "-");

    epm_format_time(1738332309, t, sizeof t);
    assert_string_equal(t, "2025-01-31 14:05:09");
}

static void test_decision_bodies(void **state)
{
    (void)state;
    epm_decision_fields f = {.request_id = "r-1", .system_id = "5d3b", .ticket_id = "INC0010001",
                             .ticket_url = "https://tb/incident.do?sys_id=5d3b", .decision_time = "2025-01-31 14:05:09",
                             .duration = "3600", .performed_by = "jdoe", .message = "ok \"q\" C:\\x é",
                             .approved = true};
    char *b = epm_decision_body(&f);
    assert_string_equal(b, "{\"itsmRequestId\":\"r-1\",\"systemId\":\"5d3b\",\"ticketId\":\"INC0010001\","
                           "\"ticketUrl\":\"https://tb/incident.do?sys_id=5d3b\",\"decision\":\"Approved\","
                           "\"status\":\"2000\",\"decisionTime\":\"2025-01-31 14:05:09\",\"duration\":\"3600\","
                           "\"decisionPerformedByUser\":\"jdoe\",\"message\":\"ok \\\"q\\\" C:\\\\x é\"}");
    free(b);
    f.approved = false;
    b = epm_decision_body(&f);
    assert_non_null(strstr(b, "\"decision\":\"Denied\",\"status\":\"2001\""));
    assert_null(strstr(b, "duration"));
    free(b);
    f.admin = true;
    f.approved = true;
    f.duration = "Once";
    b = epm_decision_body(&f);
    assert_string_equal(b, "{\"requestId\":\"r-1\",\"decision\":\"Approved\",\"duration\":\"Once\","
                           "\"decisionPerformedByUser\":\"jdoe\",\"message\":\"ok \\\"q\\\" C:\\\\x é\","
                           "\"systemId\":\"5d3b\",\"ticketId\":\"INC0010001\","
                           "\"ticketUrl\":\"https://tb/incident.do?sys_id=5d3b\","
                           "\"decisionTime\":\"2025-01-31 14:05:09\"}");
    free(b);
    f.admin_id_field = "id";
    b = epm_decision_body(&f);
    assert_true(!strncmp(b, "{\"id\":\"r-1\",", 12));
    free(b);
}

static void test_error_messages(void **state)
{
    (void)state;
    char out[200];
    epm_error_message("{\"type\":\"x\",\"title\":\"Conflict\",\"status\":409,\"detail\":\"It is final.\"}", out,
                      sizeof out);
    assert_string_equal(out, "It is final.");
    epm_error_message("{\"title\":\"One or more validation errors occurred.\",\"errors\":{\"decisionTime\":"
                      "[\"bad time\"],\"duration\":[\"bad duration\"]}}", out, sizeof out);
    assert_string_equal(out, "One or more validation errors occurred.; decisionTime: bad time; duration: bad duration");
    epm_error_message("{\"error\":\"invalid_client\",\"error_description\":\"nope\"}", out, sizeof out);
    assert_string_equal(out, "nope");
    epm_error_message("Service Unavailable\r\nmore", out, sizeof out);
    assert_string_equal(out, "Service Unavailable");
    epm_error_message("", out, sizeof out);
    assert_string_equal(out, "");
    char small[8];
    epm_error_message("{\"detail\":\"a very long detail indeed\",\"errors\":{\"a\":[\"b\"]}}", small, sizeof small);
    assert_int_equal(strlen(small), 7);
}

static void test_decision_api_body(void **state)
{
    (void)state;
    jit_decision_input in;
    jit_decision_outcome out;
    void *hold;
#define PARSE(s) (memset(&in, 0, sizeof in), jit_decision_parse(s, strlen(s), &in, &hold, &out))
    assert_true(PARSE("{\"decision\":\"approve\",\"reason\":\"r\",\"minutes\":30}"));
    assert_true(in.approve);
    assert_int_equal(in.unit, EPM_DUR_MINUTES);
    assert_int_equal(in.amount, 30);
    assert_string_equal(in.reason, "r");
    jit_hold_free(hold);
    assert_true(PARSE("{\"decision\":\"Approved\",\"reason\":\"r\",\"hours\":\"2\"}"));
    assert_int_equal(in.unit, EPM_DUR_HOURS);
    assert_int_equal(in.amount, 2);
    jit_hold_free(hold);
    assert_true(PARSE("{\"decision\":\"deny\",\"reason\":\"no\"}"));
    assert_false(in.approve);
    assert_int_equal(in.unit, EPM_DUR_NONE);
    jit_hold_free(hold);
    assert_true(PARSE("{\"decision\":\"approve\",\"once\":true}"));
    assert_string_equal(in.reason, "");
    jit_hold_free(hold);

    static const struct {
        const char *body;
        const char *message;
    } bad[] = {
        {"", "Malformed body"},
        {"[1]", "Malformed body"},
        {"{\"decision\":\"approve\",\"decision\":\"deny\"}", "Malformed body"},
        {"{\"reason\":\"x\"}", "Missing field"},
        {"{\"decision\":\"maybe\"}", "Invalid field"},
        {"{\"decision\":\"approve\",\"color\":\"red\"}", "Invalid field"},
        {"{\"decision\":\"approve\",\"reason\":5}", "Invalid field"},
        {"{\"decision\":\"approve\",\"minutes\":\"ten\"}", "Enter a number between 5 and 1440"},
        {"{\"decision\":\"approve\",\"hours\":1.5}", "Enter a number between 1 and 24"},
        {"{\"decision\":\"approve\",\"once\":true,\"hours\":2}", "Choose one duration"},
        {"{\"decision\":\"approve\",\"once\":\"yes\"}", "Invalid field"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_false(PARSE(bad[i].body));
        assert_int_equal(out.status, 400);
        assert_string_equal(out.message, bad[i].message);
        jit_hold_free(hold);
    }
#undef PARSE
}

static void test_decision_checks(void **state)
{
    (void)state;
    jit_decision_outcome out;
    jit_decision_input in = {.request = "r", .approve = true, .reason = "", .unit = EPM_DUR_ONCE};
    assert_false(jit_decision_check_input(&in, &out));
    assert_string_equal(out.message, "Please enter a reason");
    in.reason = " \t\n";
    assert_false(jit_decision_check_input(&in, &out));
    assert_string_equal(out.message, "Please enter a reason");
    in.reason = "ok";
    in.unit = EPM_DUR_MINUTES;
    in.amount = 4;
    assert_false(jit_decision_check_input(&in, &out));
    assert_string_equal(out.message, "Enter a number between 5 and 1440");
    in.unit = EPM_DUR_HOURS;
    in.amount = 25;
    assert_false(jit_decision_check_input(&in, &out));
    assert_string_equal(out.message, "Enter a number between 1 and 24");
    in.amount = 24;
    assert_true(jit_decision_check_input(&in, &out));
    assert_string_equal(out.duration, "86400");
    assert_string_equal(out.decision, "Approved");
    in.unit = EPM_DUR_NONE;
    assert_false(jit_decision_check_input(&in, &out));
    in.approve = false;
    assert_true(jit_decision_check_input(&in, &out));
    assert_string_equal(out.decision, "Denied");
    assert_string_equal(out.duration, "");
    in.unit = EPM_DUR_ONCE;
    assert_false(jit_decision_check_input(&in, &out));
    in.unit = EPM_DUR_NONE;
    char *longr = malloc(JIT_REASON_MAX + 2);
    memset(longr, 'x', JIT_REASON_MAX + 1);
    longr[JIT_REASON_MAX + 1] = '\0';
    in.reason = longr;
    assert_false(jit_decision_check_input(&in, &out));
    assert_int_equal(out.status, 400);
    free(longr);
}

static void test_descriptions(void **state)
{
    (void)state;
    epm_payload p;
    char err[200];
    assert_int_equal(epm_payload_parse(app_created, strlen(app_created), &p, err, sizeof err), TB_OK);
    jit_summary s;
    jit_summarize(&p, false, &s);
    assert_string_equal(s.user, "CORP\\jdoe");
    assert_string_equal(s.host, "WKS-0042");
    assert_string_equal(s.application, "C:\\Program Files\\App\\app.exe");
    char *d = jit_ticket_description(&p, false);
    static const char *const want[] = {
        "just-in-time application access request\n", "EPM request ID: 0d5e6a4b-1c2d-4e3f-8a9b-0c1d2e3f4a5b\n",
        "EPM ticket number: EPM000123\n", "User: CORP\\jdoe\n", "Host: WKS-0042\n",
        "Application path: C:\\Program Files\\App\\app.exe\n", "Product: App\n", "Product version: 1.2\n",
        "Publisher: Vendor Inc.\n", "SHA-1 hash: AB12\n", "SHA-256 hash: CD34\n",
        "Reason: needs \"admin\" for C:\\tmp – café\n", "Command line: /S\n", "Workstyle: JIT Workstyle\n",
        "Application group: Dev Tools\n", "Other details:\n", "  newField: kept\n", "  Extra: 42\n",
        "  action: Elevate\n"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        assert_non_null(strstr(d, want[i]));
    assert_null(strstr(d, "clsId"));            /* empty fields are left out */
    assert_null(strstr(d, "  user:"));          /* listed above, not again */
    free(d);
    epm_payload_free(&p);

    assert_int_equal(epm_payload_parse(admin_created, strlen(admin_created), &p, err, sizeof err), TB_OK);
    jit_summarize(&p, true, &s);
    assert_string_equal(s.user, "CORP\\asmith");
    assert_string_equal(s.host, "c-1");
    assert_string_equal(s.reason, "patching");
    d = jit_ticket_description(&p, true);
    static const char *const want2[] = {"admin access request\n", "EPM ticket number: EPM000124\n",
                                        "Requested at: 2025-01-31 14:00:00\n", "User name: CORP\\asmith\n",
                                        "User ID: u-1\n", "Computer ID: c-1\n", "Group ID: g-1\n",
                                        "Requested duration: 1 hour (3600 seconds)\n", "Reason: patching\n"};
    for (size_t i = 0; i < sizeof want2 / sizeof *want2; i++)
        assert_non_null(strstr(d, want2[i]));
    free(d);
    epm_payload_free(&p);

    static const char upd[] = "{\"EventType\":\"JIT_ADMIN_TICKET_UPDATED\",\"RequestId\":\"x\",\"Decision\":\"Approved\","
                              "\"DecisionTime\":\"2025-01-31 14:05:09\",\"DecisionPerformedByUser\":\"it.approver\","
                              "\"Duration\":\"1800\",\"StartTime\":\"2025-01-31 14:05:09\",\"EndTime\":\"2025-01-31 14:35:09\"}";
    assert_int_equal(epm_payload_parse(upd, strlen(upd), &p, err, sizeof err), TB_OK);
    d = jit_update_note(&p, true);
    assert_string_equal(d, "EPM decision update: Approved\nDecision performed by: it.approver\n"
                           "Decision time: 2025-01-31 14:05:09\nDuration: 30 minutes\n"
                           "Access from 2025-01-31 14:05:09 to 2025-01-31 14:35:09\n"
                           "The ticket is closed (auto-close after decision).\n");
    free(d);
    epm_payload_free(&p);
}

static void test_states(void **state)
{
    (void)state;
    char err[512];
    assert_true(jit_ticket_type_valid("sc_req_item"));
    assert_false(jit_ticket_type_valid("problem"));
    assert_true(jit_states_valid("incident", "New, In Progress, On Hold", err, sizeof err));
    assert_true(jit_states_valid("incident", " new ,2,", err, sizeof err));
    assert_true(jit_states_valid("incident", "", err, sizeof err));
    assert_false(jit_states_valid("incident", "New, Open", err, sizeof err));
    assert_non_null(strstr(err, "'Open' is not a state of incident"));
    assert_true(jit_states_valid("sc_task", "Open, Work in Progress", err, sizeof err));
    assert_false(jit_states_valid("change_request", "5", err, sizeof err));
    assert_false(jit_states_valid("problem", "", err, sizeof err));

    assert_true(jit_state_active("incident", "", "1"));
    assert_true(jit_state_active("incident", "", "6"));
    assert_false(jit_state_active("incident", "", "7"));
    assert_true(jit_state_active("incident", "New, In Progress", "2"));
    assert_false(jit_state_active("incident", "New, In Progress", "3"));
    assert_false(jit_state_active("incident", "New", ""));
    assert_false(jit_state_active("incident", "New", "abc"));
    /* names another table does not know: that table's open states */
    assert_true(jit_state_active("sc_task", "New, In Progress", "1"));
    assert_false(jit_state_active("sc_task", "New, In Progress", "3"));
    assert_true(jit_state_active("change_request", "New, Assess", "-4"));
    assert_string_equal(jit_state_name("incident", "3"), "On Hold");
    assert_string_equal(jit_state_name("incident", "42"), "42");

    char sb[8];
    itsm_kv kv[4];
    size_t n = jit_close_fields("incident", false, "notes", sb, kv);
    assert_int_equal(n, 3);
    assert_string_equal(kv[0].value, "7");
    assert_string_equal(kv[1].name, "close_code");
    assert_string_equal(kv[2].value, "notes");
    n = jit_close_fields("change_request", false, "n", sb, kv);
    assert_string_equal(kv[0].value, "3");
    assert_string_equal(kv[1].value, "unsuccessful");
    n = jit_close_fields("sc_task", true, "n", sb, kv);
    assert_int_equal(n, 2);
    assert_string_equal(kv[0].value, "3");
    jit_close_fields("sc_req_item", false, "n", sb, kv);
    assert_string_equal(kv[0].value, "4");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_types),     cmocka_unit_test(test_payload),
        cmocka_unit_test(test_request_id),      cmocka_unit_test(test_durations),
        cmocka_unit_test(test_decision_bodies), cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_decision_api_body), cmocka_unit_test(test_decision_checks),
        cmocka_unit_test(test_descriptions),    cmocka_unit_test(test_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
