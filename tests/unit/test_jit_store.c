/* The JIT records and the decision rules against a real database: the
 * configuration record (migration default, init, update), requests (found
 * by request id, ticket or EPM ticket number; one per request id),
 * decisions with their jobs, and jit_decide's checks in order: the seed's
 * messages, pending, final, inactive tickets, unknown requests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/epm_wire.h"
#include "core/secret.h"
#include "flow/epm_settings.h"
#include "flow/jit_decide.h"
#include "itsm/itsm.h"
#include "store/store.h"
#include "store/store_jit.h"

#define RID "0D5E6A4B-1C2D-4E3F-8A9B-0C1D2E3F4A5B"

typedef struct fixture {
    char path[512];
    tb_store *st;
    itsm *t;
    tb_secret_key key;
    char inc[64], inc_id[33];
    int64_t req;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(tb_secret_init(), TB_OK);
    assert_int_equal(test_db_path(f->path, sizeof f->path, "test_jit_store"), 0);
    assert_int_equal(store_open(f->path, STORE_CREATE, &f->st), TB_OK);
    assert_int_equal(store_schema(f->st), TB_OK);
    assert_int_equal(itsm_embedded_schema(f->path), TB_OK);
    assert_int_equal(itsm_embedded_wrap(store_sqlite3(f->st), &f->t), TB_OK);
    randombytes_buf_deterministic(f->key.k, sizeof f->key.k, (const unsigned char *)"0123456789abcdef0123456789abcdef");
    itsm_kv kv[] = {{"short_description", "EPM JIT Access Request"}, {"correlation_id", RID}};
    itsm_record *r = NULL;
    assert_int_equal(itsm_create(f->t, "incident", kv, 2, &r), TB_OK);
    snprintf(f->inc, sizeof f->inc, "%s", itsm_record_get(r, "number"));
    snprintf(f->inc_id, sizeof f->inc_id, "%s", r->sys_id);
    itsm_record_free(r);
    tb_jit_request_rec rec = {.request_id = RID, .kind = "application", .tenant_id = "t", .epm_ticket = "EPM000007",
                              .requested_at = "2025-01-31T14:00:00Z", .user_name = "CORP\\jdoe", .host = "WKS-1",
                              .application = "C:\\app.exe", .reason = "why", .details = "{\"RequestId\":\"" RID "\"}",
                              .raw = "{\"RequestId\":\"" RID "\"}", .incoming_id = 0, .task_table = "incident",
                              .task_sys_id = f->inc_id, .task_number = f->inc, .created_ms = 1738332000000};
    assert_int_equal(store_jit_request_insert(f->st, &rec, &f->req), TB_OK);
    assert_int_equal(store_jit_request_insert(f->st, &rec, NULL), TB_ERR_EXISTS);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    itsm_close(f->t);
    store_close(f->st);
    test_db_remove(f->path);
    free(f);
    return 0;
}

static void test_config(void **state)
{
    fixture *f = *state;
    tb_epm_config c;
    assert_int_equal(store_epm_config_get(f->st, EPM_CONFIG_DEFAULT, &c), TB_OK);
    assert_string_equal(c.ticket_type, "incident");
    assert_string_equal(c.short_description, "EPM JIT Access Request");
    assert_false(c.auto_close);
    char *sealed;
    assert_int_equal(tb_secret_seal(&f->key, "s3cret", &sealed), TB_OK);
    free(c.client_secret_sealed);
    c.client_secret_sealed = sealed;
    free(c.host);
    c.host = strdup("acme-services.pm.beyondtrustcloud.com");
    free(c.ticket_type);
    c.ticket_type = strdup("sc_task");
    c.auto_close = true;
    assert_int_equal(store_epm_config_update(f->st, &c), TB_OK);
    tb_epm_config_clear(&c);

    epm_settings *s;
    assert_int_equal(epm_settings_load(f->st, &f->key, &s), TB_OK);
    assert_true(s->exists);
    assert_string_equal(s->client_secret, "s3cret");
    assert_string_equal(s->base_url, "https://acme-services.pm.beyondtrustcloud.com");
    assert_string_equal(s->token_url, "https://acme-services.pm.beyondtrustcloud.com/oauth/connect/token");
    assert_string_equal(s->app_decision_path, EPM_DEFAULT_APP_DECISION_PATH);
    assert_string_equal(s->admin_decision_method, "PUT");
    assert_string_equal(s->ticket_type, "sc_task");
    assert_true(s->auto_close);
    assert_null(s->webhook_auth);
    epm_settings_free(s);
    assert_true(epm_host_looks_right("acme-services.pm.beyondtrustcloud.com"));
    assert_true(epm_host_looks_right("https://acme-services.beyondtrustcloud.com:443"));
    assert_false(epm_host_looks_right("acme.beyondtrustcloud.com"));
    assert_false(epm_host_looks_right("http://127.0.0.1:8080"));

    /* the seed's "Create Default Configuration" fix */
    bool created = true;
    assert_int_equal(store_epm_config_init(f->st, 1, &created), TB_OK);
    assert_false(created);
    assert_int_equal(sqlite3_exec(store_sqlite3(f->st), "DELETE FROM tb_epm_config", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(store_epm_config_get(f->st, EPM_CONFIG_DEFAULT, &c), TB_ERR_NOT_FOUND);
    assert_int_equal(epm_settings_load(f->st, &f->key, &s), TB_OK);
    assert_false(s->exists);
    epm_settings_free(s);
    assert_int_equal(store_epm_config_init(f->st, 1, &created), TB_OK);
    assert_true(created);
    assert_int_equal(store_epm_config_get(f->st, EPM_CONFIG_DEFAULT, &c), TB_OK);
    assert_string_equal(c.ticket_type, "incident");
    tb_epm_config_clear(&c);
}

static void test_find(void **state)
{
    fixture *f = *state;
    const char *keys[] = {RID, "0d5e6a4b-1c2d-4e3f-8a9b-0c1d2e3f4a5b", f->inc, "EPM000007"};
    for (size_t i = 0; i < 4; i++) {
        tb_jit_request r;
        assert_int_equal(store_jit_request_find(f->st, keys[i], &r), TB_OK);
        assert_int_equal(r.id, f->req);
        assert_string_equal(r.decision_state, "none");
        assert_false(r.final);
        tb_jit_request_clear(&r);
    }
    tb_jit_request r;
    assert_int_equal(store_jit_request_find(f->st, "nope", &r), TB_ERR_NOT_FOUND);
    assert_int_equal(store_jit_request_find(f->st, "", &r), TB_ERR_NOT_FOUND);
    assert_int_equal(store_jit_request_find(f->st, "' OR 1=1 --", &r), TB_ERR_NOT_FOUND);
    tb_jit_request *v;
    size_t n;
    tb_jit_filter fl = {.state = "none"};
    assert_int_equal(store_jit_request_list(f->st, &fl, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].user_name, "CORP\\jdoe");
    tb_jit_requests_free(v, n);
    fl.state = "pending";
    assert_int_equal(store_jit_request_list(f->st, &fl, &v, &n), TB_OK);
    assert_int_equal(n, 0);
    tb_jit_requests_free(v, n);
}

static epm_settings *settings(fixture *f, const char *active, const char *url_base)
{
    char sql[512];
    snprintf(sql, sizeof sql, "UPDATE tb_epm_config SET active_states='%s', ticket_url_base='%s'", active, url_base);
    assert_int_equal(sqlite3_exec(store_sqlite3(f->st), sql, NULL, NULL, NULL), SQLITE_OK);
    epm_settings *s;
    assert_int_equal(epm_settings_load(f->st, &f->key, &s), TB_OK);
    return s;
}

static tb_err decide(fixture *f, const epm_settings *s, const char *key, bool approve, const char *reason,
                     epm_duration_unit unit, long n, jit_decision_outcome *out)
{
    jit_decision_input in = {.request = key, .approve = approve, .reason = reason, .unit = unit, .amount = n,
                             .performed_by = "jdoe"};
    assert_int_equal(store_begin(f->st), TB_OK);
    tb_err e = jit_decide(f->st, f->t, s, &in, NULL, 1738332309, out);
    if (!e && out->status == 200)
        assert_int_equal(store_commit(f->st), TB_OK);
    else
        store_rollback(f->st);
    return e;
}

static int count(fixture *f, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(store_sqlite3(f->st), sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n;
}

static void test_decide(void **state)
{
    fixture *f = *state;
    epm_settings *s = settings(f, "", "https://tb.example.com");
    jit_decision_outcome out;
    /* the seed's messages, before anything is read */
    assert_int_equal(decide(f, s, RID, true, "", EPM_DUR_ONCE, 0, &out), TB_OK);
    assert_int_equal(out.status, 400);
    assert_string_equal(out.message, EPM_MSG_REASON);
    assert_int_equal(decide(f, s, RID, true, "r", EPM_DUR_MINUTES, 1441, &out), TB_OK);
    assert_string_equal(out.message, EPM_MSG_MINUTES);
    assert_int_equal(decide(f, s, RID, true, "r", EPM_DUR_HOURS, 0, &out), TB_OK);
    assert_string_equal(out.message, EPM_MSG_HOURS);
    assert_int_equal(decide(f, s, "EPM999999", true, "r", EPM_DUR_ONCE, 0, &out), TB_OK);
    assert_int_equal(out.status, 404);

    /* recorded: decision, job, pending request, work note */
    assert_int_equal(decide(f, s, "EPM000007", true, "needed", EPM_DUR_MINUTES, 30, &out), TB_OK);
    assert_int_equal(out.status, 200);
    assert_string_equal(out.request_id, RID);
    assert_string_equal(out.duration, "1800");
    assert_true(out.job_id > 0);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_job WHERE kind='jit_decision' AND state='queued'"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM sys_journal_field WHERE value LIKE "
                              "'EPM JIT decision submitted: Approved (30 minutes) by jdoe%'"), 1);
    tb_jit_decision d;
    assert_int_equal(store_jit_decision_by_job(f->st, out.job_id, &d), TB_OK);
    assert_string_equal(d.state, "queued");
    assert_string_equal(d.kind, "application");
    char want[1024];
    snprintf(want, sizeof want,
             "{\"itsmRequestId\":\"%s\",\"systemId\":\"%s\",\"ticketId\":\"%s\","
             "\"ticketUrl\":\"https://tb.example.com/incident.do?sys_id=%s\",\"decision\":\"Approved\","
             "\"status\":\"2000\",\"decisionTime\":\"2025-01-31 14:05:09\",\"duration\":\"1800\","
             "\"decisionPerformedByUser\":\"jdoe\",\"message\":\"needed\"}", RID, f->inc_id, f->inc, f->inc_id);
    assert_string_equal(d.body, want);

    /* while it is being sent: refused */
    assert_int_equal(decide(f, s, RID, false, "no", EPM_DUR_NONE, 0, &out), TB_OK);
    assert_int_equal(out.status, 409);
    assert_string_equal(out.message, "A decision for this request is being sent to EPM");

    /* EPM refused it (4xx): a new decision may be made */
    bool changed;
    assert_int_equal(store_jit_decision_attempt(f->st, d.id, 503, "EPM answered HTTP 503"), TB_OK);
    assert_int_equal(store_jit_decision_finish(f->st, d.id, "failed", 400, "bad", false, 2, &changed), TB_OK);
    assert_true(changed);
    assert_int_equal(store_jit_decision_finish(f->st, d.id, "accepted", 200, "", false, 2, &changed), TB_OK);
    assert_false(changed);  /* only a queued decision changes */
    tb_jit_decision_clear(&d);
    assert_int_equal(count(f, "SELECT attempts FROM tb_jit_decision"), 2);
    assert_int_equal(decide(f, s, f->inc, false, "no", EPM_DUR_NONE, 0, &out), TB_OK);
    assert_int_equal(out.status, 200);
    assert_string_equal(out.decision, "Denied");
    assert_int_equal(store_jit_decision_by_job(f->st, out.job_id, &d), TB_OK);
    assert_null(strstr(d.body, "duration"));
    assert_int_equal(store_jit_decision_finish(f->st, d.id, "accepted", 200, "", false, 3, &changed), TB_OK);
    tb_jit_decision_clear(&d);

    /* accepted: final */
    assert_int_equal(decide(f, s, RID, true, "again", EPM_DUR_ONCE, 0, &out), TB_OK);
    assert_int_equal(out.status, 409);
    assert_string_equal(out.message, EPM_MSG_FINAL);

    void *j;
    assert_int_equal(store_jit_request_json(f->st, RID, &j), TB_OK);
    assert_true(json_is_true(json_object_get(j, "final")));
    assert_string_equal(json_string_value(json_object_get(j, "decision_state")), "accepted");
    assert_int_equal(json_array_size(json_object_get(j, "decisions")), 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "details"), "RequestId")), RID);
    json_decref(j);
    epm_settings_free(s);
}

static void test_inactive_and_final(void **state)
{
    fixture *f = *state;
    epm_settings *s = settings(f, "New", "");
    jit_decision_outcome out;
    itsm_kv st2 = {"state", "2"};
    assert_int_equal(itsm_update(f->t, "incident", f->inc_id, &st2, 1), TB_OK);
    assert_int_equal(decide(f, s, RID, true, "r", EPM_DUR_ONCE, 0, &out), TB_OK);
    assert_int_equal(out.status, 409);
    assert_string_equal(out.message, EPM_MSG_INACTIVE);
    assert_string_equal(out.detail, "ticket INC0010001 is In Progress");
    epm_settings_free(s);
    s = settings(f, "New, In Progress", "");
    assert_int_equal(decide(f, s, RID, true, "r", EPM_DUR_ONCE, 0, &out), TB_OK);
    assert_int_equal(out.status, 200);
    tb_jit_decision d;
    assert_int_equal(store_jit_decision_by_job(f->st, out.job_id, &d), TB_OK);
    assert_non_null(strstr(d.body, "\"ticketUrl\":\"\""));
    /* EPM said the request already has a final decision (409) */
    bool changed;
    assert_int_equal(store_jit_decision_finish(f->st, d.id, "failed", 409, EPM_MSG_FINAL, true, 2, &changed), TB_OK);
    tb_jit_decision_clear(&d);
    assert_int_equal(decide(f, s, RID, true, "r", EPM_DUR_ONCE, 0, &out), TB_OK);
    assert_int_equal(out.status, 409);
    assert_string_equal(out.message, EPM_MSG_FINAL);
    epm_settings_free(s);

    /* a closed ticket is inactive whatever the list says */
    assert_int_equal(sqlite3_exec(store_sqlite3(f->st), "UPDATE tb_jit_request SET final=0, decision_state='failed'",
                                  NULL, NULL, NULL), SQLITE_OK);
    s = settings(f, "", "");
    itsm_kv closed = {"state", "7"};
    assert_int_equal(itsm_update(f->t, "incident", f->inc_id, &closed, 1), TB_OK);
    assert_int_equal(decide(f, s, RID, false, "r", EPM_DUR_NONE, 0, &out), TB_OK);
    assert_int_equal(out.status, 409);
    assert_string_equal(out.message, EPM_MSG_INACTIVE);

    /* EPM's update makes it final */
    tb_jit_epm_update u = {.decision = "Denied", .decision_time = "2025-01-31 14:05:09", .decided_by = "x"};
    assert_int_equal(store_jit_request_epm_update(f->st, f->req, &u, 9, 3), TB_OK);
    tb_jit_request r;
    assert_int_equal(store_jit_request_find(f->st, RID, &r), TB_OK);
    assert_true(r.final);
    assert_int_equal(r.update_incoming_id, 9);
    assert_string_equal(r.epm_decision, "Denied");
    tb_jit_request_clear(&r);
    epm_settings_free(s);
}

/* The remote store's path: the ticket's state is read beforehand and
 * passed in; nothing is read through the writer's handle. */
static tb_err decide_known(fixture *f, const epm_settings *s, const jit_ticket_state *known,
                           jit_decision_outcome *out)
{
    jit_decision_input in = {.request = RID, .approve = false, .reason = "r", .performed_by = "jdoe"};
    assert_int_equal(store_begin(f->st), TB_OK);
    tb_err e = jit_decide(f->st, f->t, s, &in, known, 1738332309, out);
    if (!e && out->status == 200)
        assert_int_equal(store_commit(f->st), TB_OK);
    else
        store_rollback(f->st);
    return e;
}

static void test_known_state(void **state)
{
    fixture *f = *state;
    epm_settings *s = settings(f, "New", "");
    jit_ticket_state known;
    jit_decision_outcome out;
    bool found;
    char why[128];

    assert_int_equal(jit_ticket_state_read(f->st, f->t, "EPM999999", &known, &found, why, sizeof why), TB_OK);
    assert_false(found);
    assert_int_equal(jit_ticket_state_read(f->st, f->t, "EPM000007", &known, &found, why, sizeof why), TB_OK);
    assert_true(found);
    assert_false(known.gone);
    assert_string_equal(known.sys_id, f->inc_id);
    assert_string_equal(known.state, "1");

    /* the state given wins over the store's */
    jit_ticket_state inactive = known;
    snprintf(inactive.state, sizeof inactive.state, "2");
    assert_int_equal(decide_known(f, s, &inactive, &out), TB_OK);
    assert_int_equal(out.status, 409);
    assert_string_equal(out.detail, "ticket INC0010001 is In Progress");
    jit_ticket_state gone = known;
    gone.gone = true;
    assert_int_equal(decide_known(f, s, &gone, &out), TB_OK);
    assert_int_equal(out.status, 409);
    assert_string_equal(out.detail, "ticket INC0010001 is gone");
    /* read for another ticket than the request now has: try again */
    jit_ticket_state other = known;
    memset(other.sys_id, 'f', ITSM_SYS_ID_LEN);
    assert_int_equal(decide_known(f, s, &other, &out), TB_OK);
    assert_int_equal(out.status, 503);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_jit_decision"), 0);

    assert_int_equal(decide_known(f, s, &known, &out), TB_OK);
    assert_int_equal(out.status, 200);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_jit_decision"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM sys_journal_field WHERE value LIKE "
                              "'EPM JIT decision submitted: Denied by jdoe%'"), 1);
    epm_settings_free(s);
}

static void test_incoming_body(void **state)
{
    fixture *f = *state;
    const char body[] = "{\"EventType\":\"x\"}";
    tb_intake_rec rec = {.received_ms = 1, .route = "epm_webhook", .method = "POST", .source_ip = "127.0.0.1",
                         .status = INCOMING_ACCEPTED, .http_status = 200, .body = body, .body_len = strlen(body)};
    tb_intake_result res;
    assert_int_equal(store_intake_apply(f->st, &rec, &res), TB_OK);
    char *b;
    size_t n;
    assert_int_equal(store_incoming_body(f->st, res.incoming_id, &b, &n), TB_OK);
    assert_string_equal(b, body);
    assert_int_equal(n, strlen(body));
    free(b);
    assert_int_equal(store_incoming_body(f->st, 999999, &b, &n), TB_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inactive_and_final, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incoming_body, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
