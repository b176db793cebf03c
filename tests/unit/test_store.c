/* Gateway store (SQLite) and the group-commit writer, against a real SQLite
 * file that is fresh for every test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "store/writer.h"

typedef struct fixture {
    char path[512];
    tb_store *st;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(test_db_path(f->path, sizeof f->path, "test_store"), 0);
    assert_int_equal(store_open(f->path, STORE_CREATE, &f->st), TB_OK);
    assert_int_equal(store_schema(f->st), TB_OK);
    assert_int_equal(store_schema(f->st), TB_OK); /* idempotent */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    test_db_remove(f->path);
    free(f);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void key_of(unsigned char key[32], unsigned seed)
{
    memset(key, 0, 32);
    for (int i = 0; i < 4; i++)
        key[i] = (unsigned char)(seed >> (8 * i));
    key[31] = 0xA5;
}

static int64_t insert_appliance(tb_store *st, const char *name, const char *host)
{
    tb_appliance a = {0};
    a.name = (char *)name;
    a.product = "rs";
    a.hostname = (char *)host;
    a.integration_enabled = true;
    int64_t id = 0;
    assert_int_equal(store_appliance_insert(st, &a, &id), TB_OK);
    assert_true(id > 0);
    return id;
}

static tb_intake_rec base_rec(void)
{
    tb_intake_rec r = {0};
    r.received_ms = now_ms();
    r.route = "outbound_event";
    r.method = "POST";
    r.source_ip = "192.0.2.10";
    r.event = "support_conference_end";
    r.lsid = "abc123";
    r.status = INCOMING_ACCEPTED;
    r.http_status = 200;
    r.content_type = "application/x-www-form-urlencoded";
    r.body = "event=support_conference_end&lsid=abc123";
    r.body_len = strlen(r.body);
    r.job_kind = "import_session";
    return r;
}

static tb_err apply_one(tb_store *st, const tb_intake_rec *r, tb_intake_result *res)
{
    tb_err e = store_begin(st);
    if (e)
        return e;
    e = store_intake_apply(st, r, res);
    tb_err c = store_commit(st);
    return e ? e : c;
}

static int64_t count_rows(tb_store *st, const char *status)
{
    tb_incoming_filter flt = {.status = status, .limit = 1000000};
    tb_incoming *v;
    size_t n;
    assert_int_equal(store_incoming_list(st, &flt, &v, &n), TB_OK);
    tb_incoming_free(v, n);
    return (int64_t)n;
}

/* ------------------------------------------------------------------ */
/* basics                                                              */
/* ------------------------------------------------------------------ */

static void test_open_errors(void **state)
{
    fixture *f = *state;
    char p[600];
    snprintf(p, sizeof p, "%s.missing", f->path);
    tb_store *st = NULL;
    /* without STORE_CREATE a missing file is not created */
    assert_int_not_equal(store_open(p, 0, &st), TB_OK);
    assert_int_not_equal(store_open(p, STORE_READ_ONLY, &st), TB_OK);
    assert_int_equal(access(p, F_OK), -1);
    /* an existing database opens without STORE_CREATE, also read-only */
    assert_int_equal(store_open(f->path, 0, &st), TB_OK);
    store_close(st);
    assert_int_equal(store_open(f->path, STORE_READ_ONLY, &st), TB_OK);
    tb_appliance *v;
    size_t n;
    assert_int_equal(store_appliance_list(st, &v, &n), TB_OK);
    assert_int_equal(n, 0);
    tb_appliances_free(v, n);
    store_close(st);
    store_close(NULL);
}

static void test_schema_reopen_idempotent(void **state)
{
    fixture *f = *state;
    insert_appliance(f->st, "kept", "kept.example.com");
    tb_store *st2;
    assert_int_equal(store_open(f->path, STORE_CREATE, &st2), TB_OK);
    assert_int_equal(store_schema(st2), TB_OK);
    tb_appliance a;
    assert_int_equal(store_appliance_get(st2, "kept", &a), TB_OK);
    tb_appliance_clear(&a);
    store_close(st2);
}

static void test_data_version_and_touch(void **state)
{
    fixture *f = *state;
    int64_t v1, v2, v3;
    assert_int_equal(store_data_version(f->st, &v1), TB_OK);
    /* own commits do not change data_version */
    assert_int_equal(store_begin(f->st), TB_OK);
    assert_int_equal(store_touch(f->st), TB_OK);
    assert_int_equal(store_commit(f->st), TB_OK);
    assert_int_equal(store_data_version(f->st, &v2), TB_OK);
    assert_true(v1 == v2);
    /* another connection's commit does */
    tb_store *st2;
    assert_int_equal(store_open(f->path, 0, &st2), TB_OK);
    insert_appliance(st2, "other", "");
    store_close(st2);
    assert_int_equal(store_data_version(f->st, &v3), TB_OK);
    assert_true(v3 != v2);
    /* rollback leaves nothing behind */
    assert_int_equal(store_begin(f->st), TB_OK);
    insert_appliance(f->st, "rolled-back", "");
    store_rollback(f->st);
    tb_appliance a;
    assert_int_equal(store_appliance_get(f->st, "rolled-back", &a), TB_ERR_NOT_FOUND);
    assert_non_null(store_errmsg(f->st));
}

/* ------------------------------------------------------------------ */
/* appliances                                                          */
/* ------------------------------------------------------------------ */

static void test_appliance_crud(void **state)
{
    fixture *f = *state;
    tb_appliance a = {0};
    a.name = "prod-rs";
    a.product = "rs";
    a.hostname = "https://support.example.com";
    a.appliance_guid = "guid-1";
    a.client_id = "cid";
    a.client_secret_sealed = "sealedsecret";
    a.outbound_token_sealed = "sealedtoken";
    a.integration_enabled = true;
    a.import_external_sessions = false;
    a.auto_associate_user = true;
    a.auto_associate_ci = false;
    a.accepted_ips = "10.0.0.0/8";
    a.events_to_import = "support_conference_end";
    int64_t id = 0;
    assert_int_equal(store_appliance_insert(f->st, &a, &id), TB_OK);
    assert_true(id > 0);

    tb_appliance g;
    assert_int_equal(store_appliance_get(f->st, "prod-rs", &g), TB_OK);
    assert_int_equal(g.id, id);
    assert_string_equal(g.name, "prod-rs");
    assert_string_equal(g.product, "rs");
    assert_string_equal(g.hostname, "https://support.example.com");
    assert_string_equal(g.appliance_guid, "guid-1");
    assert_string_equal(g.client_id, "cid");
    assert_string_equal(g.client_secret_sealed, "sealedsecret");
    assert_string_equal(g.outbound_token_sealed, "sealedtoken");
    assert_true(g.integration_enabled);
    assert_false(g.import_external_sessions);
    assert_true(g.auto_associate_user);
    assert_false(g.auto_associate_ci);
    assert_string_equal(g.accepted_ips, "10.0.0.0/8");
    assert_string_equal(g.events_to_import, "support_conference_end");
    assert_true(g.created_at > 0);
    assert_int_equal(g.created_at, g.updated_at);

    /* update by id */
    free(g.hostname);
    g.hostname = strdup("https://support2.example.com:8443");
    free(g.product);
    g.product = strdup("pra");
    g.integration_enabled = false;
    free(g.accepted_ips);
    g.accepted_ips = strdup("");
    assert_int_equal(store_appliance_update(f->st, &g), TB_OK);
    tb_appliance_clear(&g);
    assert_null(g.name);

    assert_int_equal(store_appliance_get(f->st, "prod-rs", &g), TB_OK);
    assert_string_equal(g.hostname, "https://support2.example.com:8443");
    assert_string_equal(g.product, "pra");
    assert_false(g.integration_enabled);
    assert_string_equal(g.accepted_ips, "");
    assert_string_equal(g.appliance_guid, "guid-1");
    /* update of a missing id */
    g.id = 99999;
    assert_int_equal(store_appliance_update(f->st, &g), TB_ERR_NOT_FOUND);
    tb_appliance_clear(&g);

    /* defaults for optional fields (NULL pointers) */
    tb_appliance m = {0};
    m.name = "minimal";
    assert_int_equal(store_appliance_insert(f->st, &m, NULL), TB_OK);
    assert_int_equal(store_appliance_get(f->st, "minimal", &g), TB_OK);
    assert_string_equal(g.product, "rs");
    assert_string_equal(g.hostname, "");
    assert_string_equal(g.outbound_token_sealed, "");
    tb_appliance_clear(&g);

    /* list is ordered by id */
    tb_appliance *v;
    size_t n;
    assert_int_equal(store_appliance_list(f->st, &v, &n), TB_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "prod-rs");
    assert_string_equal(v[1].name, "minimal");
    tb_appliances_free(v, n);

    /* delete */
    assert_int_equal(store_appliance_delete(f->st, "prod-rs"), TB_OK);
    assert_int_equal(store_appliance_get(f->st, "prod-rs", &g), TB_ERR_NOT_FOUND);
    assert_int_equal(store_appliance_delete(f->st, "prod-rs"), TB_ERR_NOT_FOUND);
    assert_int_equal(store_appliance_list(f->st, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    tb_appliances_free(v, n);
}

static void test_appliance_constraints(void **state)
{
    fixture *f = *state;
    int64_t id1 = insert_appliance(f->st, "dup", "a.example.com");
    tb_appliance a = {0};
    a.name = "dup";
    a.hostname = "b.example.com";
    assert_int_equal(store_appliance_insert(f->st, &a, NULL), TB_ERR_EXISTS);
    /* the original is intact */
    tb_appliance g;
    assert_int_equal(store_appliance_get(f->st, "dup", &g), TB_OK);
    assert_int_equal(g.id, id1);
    assert_string_equal(g.hostname, "a.example.com");
    tb_appliance_clear(&g);

    /* renaming onto an existing name */
    int64_t id2 = insert_appliance(f->st, "second", "");
    assert_int_equal(store_appliance_get(f->st, "second", &g), TB_OK);
    assert_int_equal(g.id, id2);
    free(g.name);
    g.name = strdup("dup");
    assert_int_equal(store_appliance_update(f->st, &g), TB_ERR_EXISTS);
    tb_appliance_clear(&g);

    /* product outside the CHECK constraint */
    a.name = "badproduct";
    a.product = "xyz";
    assert_int_not_equal(store_appliance_insert(f->st, &a, NULL), TB_OK);

    /* missing */
    assert_int_equal(store_appliance_get(f->st, "nope", &g), TB_ERR_NOT_FOUND);
    assert_int_equal(store_appliance_get(f->st, "", &g), TB_ERR_NOT_FOUND);
    assert_int_equal(store_appliance_delete(f->st, "nope"), TB_ERR_NOT_FOUND);

    /* names are data, not SQL */
    a.name = "x'; DROP TABLE tb_appliance; --";
    a.product = NULL;
    assert_int_equal(store_appliance_insert(f->st, &a, NULL), TB_OK);
    assert_int_equal(store_appliance_get(f->st, "x'; DROP TABLE tb_appliance; --", &g), TB_OK);
    tb_appliance_clear(&g);
    tb_appliance *v;
    size_t n;
    assert_int_equal(store_appliance_list(f->st, &v, &n), TB_OK);
    assert_int_equal(n, 3);
    tb_appliances_free(v, n);
}

/* ------------------------------------------------------------------ */
/* intake                                                              */
/* ------------------------------------------------------------------ */

static void test_intake_accepted_and_duplicate(void **state)
{
    fixture *f = *state;
    int64_t app = insert_appliance(f->st, "prod", "support.example.com");
    unsigned char key[32];
    key_of(key, 1);
    tb_intake_rec r = base_rec();
    r.appliance_id = app;
    r.dedup_key = key;
    tb_intake_result res1 = {0}, res2 = {0};
    assert_int_equal(apply_one(f->st, &r, &res1), TB_OK);
    assert_true(res1.incoming_id > 0);
    assert_true(res1.job_id > 0);
    assert_int_equal(res1.duplicate_of, 0);

    tb_job_filter jf = {.state = "queued"};
    tb_job *jobs;
    size_t nj;
    assert_int_equal(store_job_list(f->st, &jf, &jobs, &nj), TB_OK);
    assert_int_equal(nj, 1);
    assert_int_equal(jobs[0].id, res1.job_id);
    assert_string_equal(jobs[0].kind, "import_session");
    assert_string_equal(jobs[0].state, "queued");
    assert_string_equal(jobs[0].appliance, "prod");
    assert_string_equal(jobs[0].lsid, "abc123");
    assert_int_equal(jobs[0].incoming_id, res1.incoming_id);
    assert_int_equal(jobs[0].attempts, 0);
    assert_string_equal(jobs[0].last_error, "");
    tb_jobs_free(jobs, nj);

    /* the same delivery again */
    r.received_ms += 1000;
    assert_int_equal(apply_one(f->st, &r, &res2), TB_OK);
    assert_true(res2.incoming_id > res1.incoming_id);
    assert_int_equal(res2.duplicate_of, res1.incoming_id);
    assert_int_equal(res2.job_id, 0);

    tb_job_counts jc;
    assert_int_equal(store_job_counts(f->st, &jc), TB_OK);
    assert_int_equal(jc.queued, 1);
    assert_int_equal(jc.running, 0);
    assert_int_equal(jc.done, 0);
    assert_int_equal(jc.failed, 0);

    tb_incoming_filter flt = {.id = res2.incoming_id};
    tb_incoming *v;
    size_t n;
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].status, "duplicate");
    assert_int_equal(v[0].duplicate_of, res1.incoming_id);
    assert_int_equal(v[0].job_id, 0);
    assert_string_equal(v[0].appliance, "prod");
    tb_incoming_free(v, n);

    flt.id = res1.incoming_id;
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].status, "accepted");
    assert_int_equal(v[0].job_id, res1.job_id);
    assert_int_equal(v[0].duplicate_of, 0);
    assert_int_equal(v[0].http_status, 200);
    assert_int_equal(v[0].received_ms, r.received_ms - 1000);
    assert_string_equal(v[0].route, "outbound_event");
    assert_string_equal(v[0].method, "POST");
    assert_string_equal(v[0].source_ip, "192.0.2.10");
    assert_string_equal(v[0].event, "support_conference_end");
    assert_string_equal(v[0].lsid, "abc123");
    assert_string_equal(v[0].content_type, "application/x-www-form-urlencoded");
    assert_string_equal(v[0].body, "event=support_conference_end&lsid=abc123");
    assert_false(v[0].body_truncated);
    tb_incoming_free(v, n);

    /* a third delivery also points at the original */
    tb_intake_result res3 = {0};
    assert_int_equal(apply_one(f->st, &r, &res3), TB_OK);
    assert_int_equal(res3.duplicate_of, res1.incoming_id);
    assert_int_equal(count_rows(f->st, "duplicate"), 2);
    assert_int_equal(count_rows(f->st, "accepted"), 1);
}

static void test_intake_duplicate_in_same_transaction(void **state)
{
    fixture *f = *state;
    unsigned char key[32];
    key_of(key, 7);
    tb_intake_rec r = base_rec();
    r.dedup_key = key;
    tb_intake_result a = {0}, b = {0};
    assert_int_equal(store_begin(f->st), TB_OK);
    assert_int_equal(store_intake_apply(f->st, &r, &a), TB_OK);
    assert_int_equal(store_intake_apply(f->st, &r, &b), TB_OK);
    assert_int_equal(store_commit(f->st), TB_OK);
    assert_true(a.job_id > 0);
    assert_int_equal(b.duplicate_of, a.incoming_id);
    assert_int_equal(b.job_id, 0);
    tb_job_counts jc;
    assert_int_equal(store_job_counts(f->st, &jc), TB_OK);
    assert_int_equal(jc.queued, 1);
}

static void test_intake_rejected_and_ignored(void **state)
{
    fixture *f = *state;
    tb_intake_rec r = base_rec();
    r.status = INCOMING_REJECTED;
    r.http_status = 403;
    r.reason = "Forbidden: source address not accepted";
    r.dedup_key = NULL;
    r.job_kind = NULL;
    r.lsid = NULL;
    r.event = NULL;
    r.content_type = NULL;
    tb_intake_result res = {0};
    assert_int_equal(apply_one(f->st, &r, &res), TB_OK);
    assert_true(res.incoming_id > 0);
    assert_int_equal(res.job_id, 0);
    assert_int_equal(res.duplicate_of, 0);

    tb_incoming_filter flt = {.status = "rejected"};
    tb_incoming *v;
    size_t n;
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, res.incoming_id);
    assert_string_equal(v[0].status, "rejected");
    assert_int_equal(v[0].http_status, 403);
    assert_string_equal(v[0].reason, "Forbidden: source address not accepted");
    assert_string_equal(v[0].event, "");
    assert_string_equal(v[0].lsid, "");
    assert_string_equal(v[0].appliance, "");
    tb_incoming_free(v, n);

    /* a rejected request with a dedup key never takes the key: a later
     * accepted delivery with the same key is not a duplicate */
    unsigned char key[32];
    key_of(key, 99);
    r.dedup_key = key;
    r.job_kind = "import_session";   /* ignored for rejected records */
    tb_intake_result rj = {0};
    assert_int_equal(apply_one(f->st, &r, &rj), TB_OK);
    assert_int_equal(rj.job_id, 0);
    tb_intake_rec ok = base_rec();
    ok.dedup_key = key;
    tb_intake_result acc = {0};
    assert_int_equal(apply_one(f->st, &ok, &acc), TB_OK);
    assert_int_equal(acc.duplicate_of, 0);
    assert_true(acc.job_id > 0);

    /* ignored: stored, no job */
    tb_intake_rec ig = base_rec();
    ig.status = INCOMING_IGNORED;
    ig.event = "support_conference_member_added";
    ig.job_kind = NULL;
    unsigned char key2[32];
    key_of(key2, 100);
    ig.dedup_key = key2;
    tb_intake_result ires = {0};
    assert_int_equal(apply_one(f->st, &ig, &ires), TB_OK);
    assert_int_equal(ires.job_id, 0);
    flt.status = "ignored";
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, ires.incoming_id);
    assert_int_equal(v[0].job_id, 0);
    assert_string_equal(v[0].event, "support_conference_member_added");
    tb_incoming_free(v, n);

    /* an ignored delivery repeated becomes a duplicate */
    tb_intake_result ires2 = {0};
    assert_int_equal(apply_one(f->st, &ig, &ires2), TB_OK);
    assert_int_equal(ires2.duplicate_of, ires.incoming_id);

    /* accepted without job_kind: no job */
    tb_intake_rec nj = base_rec();
    nj.job_kind = NULL;
    tb_intake_result nres = {0};
    assert_int_equal(apply_one(f->st, &nj, &nres), TB_OK);
    assert_int_equal(nres.job_id, 0);

    tb_job_counts jc;
    assert_int_equal(store_job_counts(f->st, &jc), TB_OK);
    assert_int_equal(jc.queued, 1);
}

static void test_incoming_list_filters(void **state)
{
    fixture *f = *state;
    int64_t ids[10];
    for (int i = 0; i < 10; i++) {
        tb_intake_rec r = base_rec();
        unsigned char key[32];
        key_of(key, (unsigned)i + 1000);
        r.dedup_key = key;
        r.status = i % 3 == 0 ? INCOMING_REJECTED : i % 3 == 1 ? INCOMING_IGNORED : INCOMING_ACCEPTED;
        if (r.status != INCOMING_ACCEPTED)
            r.job_kind = NULL;
        if (r.status == INCOMING_REJECTED) {
            r.http_status = 400;
            r.reason = "bad";
        }
        char lsid[32];
        snprintf(lsid, sizeof lsid, "lsid%d", i);
        r.lsid = lsid;
        tb_intake_result res = {0};
        assert_int_equal(apply_one(f->st, &r, &res), TB_OK);
        ids[i] = res.incoming_id;
        if (i)
            assert_true(ids[i] > ids[i - 1]);
    }
    /* all, newest first */
    tb_incoming_filter flt = {0};
    tb_incoming *v;
    size_t n;
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v[i].id, ids[9 - i]);
    assert_string_equal(v[0].lsid, "lsid9");
    tb_incoming_free(v, n);

    /* limit */
    flt.limit = 3;
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 3);
    assert_int_equal(v[0].id, ids[9]);
    assert_int_equal(v[2].id, ids[7]);
    tb_incoming_free(v, n);

    /* by status */
    flt.limit = 0;
    flt.status = "rejected";
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 4); /* i = 0, 3, 6, 9 */
    assert_int_equal(v[0].id, ids[9]);
    assert_int_equal(v[3].id, ids[0]);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(v[i].status, "rejected");
        assert_int_equal(v[i].http_status, 400);
    }
    tb_incoming_free(v, n);
    flt.status = "accepted";
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 3); /* 2, 5, 8 */
    for (size_t i = 0; i < n; i++)
        assert_true(v[i].job_id > 0);
    tb_incoming_free(v, n);
    flt.status = "duplicate";
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 0);
    tb_incoming_free(v, n);
    flt.status = "no-such-status";
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 0);
    tb_incoming_free(v, n);

    /* by id, with and without a matching status */
    flt.status = NULL;
    flt.id = ids[4];
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, ids[4]);
    assert_string_equal(v[0].lsid, "lsid4");
    tb_incoming_free(v, n);
    flt.status = "ignored";
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    tb_incoming_free(v, n);
    flt.status = "accepted";
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 0);
    tb_incoming_free(v, n);
    flt.status = NULL;
    flt.id = 123456;
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 0);
    tb_incoming_free(v, n);

    /* jobs listing: newest first, filtered by state */
    tb_job_filter jf = {0};
    tb_job *jobs;
    size_t nj;
    assert_int_equal(store_job_list(f->st, &jf, &jobs, &nj), TB_OK);
    assert_int_equal(nj, 3);
    assert_true(jobs[0].id > jobs[1].id && jobs[1].id > jobs[2].id);
    assert_int_equal(jobs[0].incoming_id, ids[8]);
    assert_string_equal(jobs[0].appliance, "");
    tb_jobs_free(jobs, nj);
    jf.state = "done";
    assert_int_equal(store_job_list(f->st, &jf, &jobs, &nj), TB_OK);
    assert_int_equal(nj, 0);
    tb_jobs_free(jobs, nj);
    jf.state = NULL;
    jf.limit = 1;
    assert_int_equal(store_job_list(f->st, &jf, &jobs, &nj), TB_OK);
    assert_int_equal(nj, 1);
    tb_jobs_free(jobs, nj);
}

static void test_incoming_body_binary_and_large(void **state)
{
    fixture *f = *state;
    /* embedded NUL bytes */
    static const char nul_body[] = "a=1\0b=2\0\0end";
    tb_intake_rec r = base_rec();
    r.body = nul_body;
    r.body_len = sizeof nul_body - 1;
    r.body_truncated = true;
    r.job_kind = NULL;
    tb_intake_result res1 = {0};
    assert_int_equal(apply_one(f->st, &r, &res1), TB_OK);

    /* 64 KiB of every byte value */
    size_t big_len = 64 * 1024;
    unsigned char *big = malloc(big_len);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (unsigned char)(i * 7 + 3);
    r.body = big;
    r.body_len = big_len;
    r.body_truncated = false;
    tb_intake_result res2 = {0};
    assert_int_equal(apply_one(f->st, &r, &res2), TB_OK);

    /* empty and NULL bodies */
    r.body = "";
    r.body_len = 0;
    tb_intake_result res3 = {0};
    assert_int_equal(apply_one(f->st, &r, &res3), TB_OK);
    r.body = NULL;
    tb_intake_result res4 = {0};
    assert_int_equal(apply_one(f->st, &r, &res4), TB_OK);

    tb_incoming_filter flt = {.id = res1.incoming_id};
    tb_incoming *v;
    size_t n;
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].body_len, sizeof nul_body - 1);
    assert_memory_equal(v[0].body, nul_body, sizeof nul_body - 1);
    assert_int_equal(v[0].body[v[0].body_len], '\0');
    assert_true(v[0].body_truncated);
    tb_incoming_free(v, n);

    flt.id = res2.incoming_id;
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].body_len, big_len);
    assert_memory_equal(v[0].body, big, big_len);
    assert_int_equal(v[0].body[big_len], '\0');
    assert_false(v[0].body_truncated);
    tb_incoming_free(v, n);
    free(big);

    flt.id = res3.incoming_id;
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].body_len, 0);
    assert_string_equal(v[0].body, "");
    tb_incoming_free(v, n);

    flt.id = res4.incoming_id;
    assert_int_equal(store_incoming_list(f->st, &flt, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].body_len, 0);
    assert_string_equal(v[0].body, "");
    tb_incoming_free(v, n);
}

static void test_intake_rollback_leaves_nothing(void **state)
{
    fixture *f = *state;
    tb_intake_rec r = base_rec();
    unsigned char key[32];
    key_of(key, 5);
    r.dedup_key = key;
    tb_intake_result res = {0};
    assert_int_equal(store_begin(f->st), TB_OK);
    assert_int_equal(store_intake_apply(f->st, &r, &res), TB_OK);
    store_rollback(f->st);
    assert_int_equal(count_rows(f->st, NULL), 0);
    tb_job_counts jc;
    assert_int_equal(store_job_counts(f->st, &jc), TB_OK);
    assert_int_equal(jc.queued, 0);
    /* the key is free again */
    tb_intake_result res2 = {0};
    assert_int_equal(apply_one(f->st, &r, &res2), TB_OK);
    assert_int_equal(res2.duplicate_of, 0);
    assert_true(res2.job_id > 0);
}

static void test_job_counts_empty(void **state)
{
    fixture *f = *state;
    tb_job_counts jc;
    memset(&jc, 0xff, sizeof jc);
    assert_int_equal(store_job_counts(f->st, &jc), TB_OK);
    assert_int_equal(jc.queued, 0);
    assert_int_equal(jc.running, 0);
    assert_int_equal(jc.done, 0);
    assert_int_equal(jc.failed, 0);
    for (int i = 0; i < 5; i++) {
        tb_intake_rec r = base_rec();
        tb_intake_result res = {0};
        assert_int_equal(apply_one(f->st, &r, &res), TB_OK); /* no dedup key: never a duplicate */
        assert_true(res.job_id > 0);
    }
    assert_int_equal(store_job_counts(f->st, &jc), TB_OK);
    assert_int_equal(jc.queued, 5);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(tb_incoming_status_name(INCOMING_ACCEPTED), "accepted");
    assert_string_equal(tb_incoming_status_name(INCOMING_IGNORED), "ignored");
    assert_string_equal(tb_incoming_status_name(INCOMING_DUPLICATE), "duplicate");
    assert_string_equal(tb_incoming_status_name(INCOMING_REJECTED), "rejected");
    assert_string_equal(tb_incoming_status_name((tb_incoming_status)42), "unknown");
    assert_string_equal(tb_incoming_status_name((tb_incoming_status)-1), "unknown");
}

/* ------------------------------------------------------------------ */
/* writer                                                              */
/* ------------------------------------------------------------------ */

typedef struct counters {
    atomic_int done;
    atomic_int ok;
    atomic_int with_job;
} counters;

typedef struct heap_req {
    tb_write_req w;             /* first: done receives &w */
    counters *c;
    unsigned char key[32];
    char lsid[32];
} heap_req;

static void heap_done(tb_write_req *req)
{
    heap_req *h = (heap_req *)req;
    counters *c = h->c;
    if (req->rc == TB_OK)
        atomic_fetch_add(&c->ok, 1);
    if (req->rc == TB_OK && req->res.job_id > 0)
        atomic_fetch_add(&c->with_job, 1);
    free(h);
    atomic_fetch_add(&c->done, 1);
}

static heap_req *new_req(counters *c, unsigned seed)
{
    heap_req *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->c = c;
    key_of(h->key, seed);
    snprintf(h->lsid, sizeof h->lsid, "lsid-%u", seed);
    h->w.kind = WRITE_INTAKE;
    h->w.rec = base_rec();
    h->w.rec.lsid = h->lsid;
    h->w.rec.dedup_key = h->key;
    h->w.done = heap_done;
    h->w.arg = h;
    h->w.rc = TB_ERR__COUNT;
    return h;
}

typedef struct submitter {
    pthread_t t;
    tb_writer *w;
    counters *c;
    unsigned base, count;
    atomic_int submit_errors;
} submitter;

static void *submit_main(void *arg)
{
    submitter *s = arg;
    for (unsigned i = 0; i < s->count; i++) {
        heap_req *h = new_req(s->c, s->base + i);
        if (writer_submit(s->w, &h->w) != TB_OK) {
            atomic_fetch_add(&s->submit_errors, 1);
            free(h);
        }
    }
    return NULL;
}

static void wait_done(counters *c, int want, int timeout_s)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load(&c->done) < want) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > timeout_s)
            fail_msg("only %d of %d requests done after %d s", atomic_load(&c->done), want,
                     timeout_s);
        struct timespec d = {0, 2 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
}

static void test_writer_concurrent(void **state)
{
    fixture *f = *state;
    tb_writer *w = NULL;
    assert_int_equal(writer_start(f->path, 64, &w), TB_OK);
    counters c;
    atomic_init(&c.done, 0);
    atomic_init(&c.ok, 0);
    atomic_init(&c.with_job, 0);

    enum { THREADS = 4, PER = 250, TOTAL = THREADS * PER };
    submitter subs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        subs[i].w = w;
        subs[i].c = &c;
        subs[i].base = (unsigned)i * 100000u;
        subs[i].count = PER;
        atomic_init(&subs[i].submit_errors, 0);
        assert_int_equal(pthread_create(&subs[i].t, NULL, submit_main, &subs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(subs[i].t, NULL);
        assert_int_equal(atomic_load(&subs[i].submit_errors), 0);
    }
    wait_done(&c, TOTAL, 60);
    assert_int_equal(atomic_load(&c.done), TOTAL);
    assert_int_equal(atomic_load(&c.ok), TOTAL);
    assert_int_equal(atomic_load(&c.with_job), TOTAL);
    assert_int_equal(writer_pending(w), 0);

    assert_int_equal(writer_run_sync(w, WRITE_PING, 10000), TB_OK);
    assert_int_equal(writer_run_sync(w, WRITE_PING, 0), TB_OK);

    tb_writer_stats ws;
    writer_stats(w, &ws);
    assert_int_equal(ws.requests, TOTAL + 2);
    assert_true(ws.batches >= 1);
    assert_true(ws.batches <= ws.requests);
    assert_int_equal(ws.failed_batches, 0);
    assert_true(ws.max_batch >= 1 && ws.max_batch <= 64);
    writer_stop(w);

    /* verify through another connection */
    assert_int_equal(count_rows(f->st, NULL), TOTAL);
    assert_int_equal(count_rows(f->st, "accepted"), TOTAL);
    tb_job_counts jc;
    assert_int_equal(store_job_counts(f->st, &jc), TB_OK);
    assert_int_equal(jc.queued, TOTAL);
    tb_job_filter jf = {.limit = 100000};
    tb_job *jobs;
    size_t nj;
    assert_int_equal(store_job_list(f->st, &jf, &jobs, &nj), TB_OK);
    assert_int_equal(nj, TOTAL);
    tb_jobs_free(jobs, nj);
}

static void test_writer_duplicates_in_batch(void **state)
{
    fixture *f = *state;
    tb_writer *w = NULL;
    assert_int_equal(writer_start(f->path, 0, &w), TB_OK);
    counters c;
    atomic_init(&c.done, 0);
    atomic_init(&c.ok, 0);
    atomic_init(&c.with_job, 0);
    /* 50 requests, only 10 distinct keys */
    for (unsigned i = 0; i < 50; i++) {
        heap_req *h = new_req(&c, i % 10);
        assert_int_equal(writer_submit(w, &h->w), TB_OK);
    }
    wait_done(&c, 50, 60);
    assert_int_equal(atomic_load(&c.ok), 50);
    assert_int_equal(atomic_load(&c.with_job), 10);
    writer_stop(w);
    assert_int_equal(count_rows(f->st, "accepted"), 10);
    assert_int_equal(count_rows(f->st, "duplicate"), 40);
}

static void test_writer_stop_drains(void **state)
{
    fixture *f = *state;
    tb_writer *w = NULL;
    assert_int_equal(writer_start(f->path, 16, &w), TB_OK);
    counters c;
    atomic_init(&c.done, 0);
    atomic_init(&c.ok, 0);
    atomic_init(&c.with_job, 0);
    for (unsigned i = 0; i < 200; i++) {
        heap_req *h = new_req(&c, i);
        assert_int_equal(writer_submit(w, &h->w), TB_OK);
    }
    writer_stop(w);
    /* every done callback has run by the time writer_stop returns */
    assert_int_equal(atomic_load(&c.done), 200);
    assert_int_equal(atomic_load(&c.ok), 200);
    assert_int_equal(count_rows(f->st, NULL), 200);
    tb_job_counts jc;
    assert_int_equal(store_job_counts(f->st, &jc), TB_OK);
    assert_int_equal(jc.queued, 200);
}

static void test_writer_idle_stop_and_errors(void **state)
{
    fixture *f = *state;
    tb_writer *w = NULL;
    assert_int_equal(writer_start(f->path, 8, &w), TB_OK);
    tb_writer_stats ws;
    writer_stats(w, &ws);
    assert_int_equal(ws.batches, 0);
    assert_int_equal(ws.requests, 0);
    assert_int_equal(writer_pending(w), 0);
    writer_stop(w);
    writer_stop(NULL);

    /* a missing database is not created by the writer */
    char p[600];
    snprintf(p, sizeof p, "%s.missing", f->path);
    w = NULL;
    assert_int_not_equal(writer_start(p, 8, &w), TB_OK);
    assert_int_equal(access(p, F_OK), -1);
}

static void test_writer_request_error(void **state)
{
    fixture *f = *state;
    /* a request that fails must not take the rest of its batch with it:
     * a record referencing a missing appliance violates the foreign key */
    tb_writer *w = NULL;
    assert_int_equal(writer_start(f->path, 0, &w), TB_OK);
    counters c;
    atomic_init(&c.done, 0);
    atomic_init(&c.ok, 0);
    atomic_init(&c.with_job, 0);
    heap_req *good1 = new_req(&c, 1);
    heap_req *bad = new_req(&c, 2);
    bad->w.rec.appliance_id = 424242;   /* no such appliance */
    heap_req *good2 = new_req(&c, 3);
    assert_int_equal(writer_submit(w, &good1->w), TB_OK);
    assert_int_equal(writer_submit(w, &bad->w), TB_OK);
    assert_int_equal(writer_submit(w, &good2->w), TB_OK);
    wait_done(&c, 3, 60);
    assert_int_equal(atomic_load(&c.ok), 2);
    writer_stop(w);
    assert_int_equal(count_rows(f->st, NULL), 2);
    tb_job_counts jc;
    assert_int_equal(store_job_counts(f->st, &jc), TB_OK);
    assert_int_equal(jc.queued, 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_errors),
        T(test_schema_reopen_idempotent),
        T(test_data_version_and_touch),
        T(test_appliance_crud),
        T(test_appliance_constraints),
        T(test_intake_accepted_and_duplicate),
        T(test_intake_duplicate_in_same_transaction),
        T(test_intake_rejected_and_ignored),
        T(test_incoming_list_filters),
        T(test_incoming_body_binary_and_large),
        T(test_intake_rollback_leaves_nothing),
        T(test_job_counts_empty),
        cmocka_unit_test(test_status_names),
        T(test_writer_concurrent),
        T(test_writer_duplicates_in_batch),
        T(test_writer_stop_drains),
        T(test_writer_idle_stop_and_errors),
        T(test_writer_request_error),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
