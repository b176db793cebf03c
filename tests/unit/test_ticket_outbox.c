/* The outbox of writes to a remote ticket store (flow/ticket_outbox.h):
 * writes queue inside the writer's transaction and vanish with its
 * rollback, reads and creates are refused, and the ticket_write job sends a
 * journal entry once (its marker found on a second run) and an update with
 * null values clearing fields. The job runs here against the embedded store,
 * the one store a unit test can reach without a network. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/config.h"
#include "flow/ticket_outbox.h"
#include "flow/ticket_store.h"
#include "itsm/itsm.h"
#include "store/store.h"
#include "store/store_ticket_write.h"

struct fx {
    char path[512];
    tb_store *st;       /* plays the writer's connection */
    itsm *tickets;      /* the embedded store, to make and read records */
    itsm *outbox;
    char inc[ITSM_SYS_ID_LEN + 1];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(test_db_path(f->path, sizeof f->path, "outbox"), 0);
    assert_int_equal(store_open(f->path, STORE_CREATE, &f->st), TB_OK);
    assert_int_equal(store_schema(f->st), TB_OK);
    assert_int_equal(itsm_embedded_schema(f->path), TB_OK);
    assert_int_equal(itsm_embedded_open(f->path, &f->tickets), TB_OK);
    const itsm_kv kv[] = {{"short_description", "Printer on fire"}, {"close_notes", "old notes"}};
    itsm_record *r = NULL;
    assert_int_equal(itsm_create(f->tickets, "incident", kv, 2, &r), TB_OK);
    snprintf(f->inc, sizeof f->inc, "%s", r->sys_id);
    itsm_record_free(r);
    assert_int_equal(ticket_outbox_wrap(f->st, &f->outbox), TB_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    itsm_close(f->outbox);
    itsm_close(f->tickets);
    store_close(f->st);
    test_db_remove(f->path);
    free(f);
    return 0;
}

static long long count(struct fx *f, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(store_sqlite3(f->st), sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

static int64_t last_job(struct fx *f)
{
    return count(f, "SELECT max(id) FROM tb_job WHERE kind = 'ticket_write'");
}

static void test_queued_in_the_transaction(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_begin(f->st), TB_OK);
    assert_int_equal(itsm_add_journal(f->outbox, "incident", f->inc, "work_notes", "Session ended", "tb"), TB_OK);
    const itsm_kv kv[] = {{"state", "6"}, {"close_notes", NULL}};
    assert_int_equal(itsm_update(f->outbox, "incident", f->inc, kv, 2), TB_OK);
    assert_int_equal(store_commit(f->st), TB_OK);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_job WHERE kind = 'ticket_write' AND state = 'queued'"), 2);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_ticket_write"), 2);

    tb_ticket_write w;
    assert_int_equal(store_ticket_write_by_job(f->st, last_job(f) - 1, &w), TB_OK);
    assert_int_equal(w.op, TICKET_WRITE_JOURNAL);
    assert_string_equal(w.element, "work_notes");
    /* the text, then the marker on a line of its own */
    assert_int_equal(strlen(w.marker), 21);
    assert_memory_equal(w.marker, "[tb:", 4);
    assert_int_equal(strspn(w.marker + 4, "0123456789abcdef"), 16);
    assert_int_equal(w.marker[20], ']');
    char want[128];
    snprintf(want, sizeof want, "Session ended\n%s", w.marker);
    assert_string_equal(w.body, want);
    tb_ticket_write_clear(&w);

    assert_int_equal(store_ticket_write_by_job(f->st, last_job(f), &w), TB_OK);
    assert_int_equal(w.op, TICKET_WRITE_UPDATE);
    assert_string_equal(w.body, "{\"state\":\"6\",\"close_notes\":null}");
    tb_ticket_write_clear(&w);

    /* no ticket was touched yet */
    itsm_record *r = NULL;
    assert_int_equal(itsm_get(f->tickets, "incident", f->inc, &r), TB_OK);
    assert_string_equal(itsm_record_get(r, "close_notes"), "old notes");
    itsm_record_free(r);
}

static void test_rollback_leaves_nothing(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_begin(f->st), TB_OK);
    assert_int_equal(itsm_add_journal(f->outbox, "incident", f->inc, "work_notes", "never\n", "tb"), TB_OK);
    const itsm_kv kv[] = {{"state", "7"}};
    assert_int_equal(itsm_update(f->outbox, "incident", f->inc, kv, 1), TB_OK);
    store_rollback(f->st);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_job"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_ticket_write"), 0);
}

static void test_reads_and_creates_refused(void **state)
{
    struct fx *f = *state;
    itsm_record *r = NULL, **rows = NULL;
    size_t n = 0;
    const itsm_kv kv[] = {{"short_description", "x"}};
    assert_int_equal(itsm_create(f->outbox, "incident", kv, 1, &r), TB_ERR_DISABLED);
    assert_int_equal(itsm_get(f->outbox, "incident", f->inc, &r), TB_ERR_DISABLED);
    assert_int_equal(itsm_find_task(f->outbox, f->inc, NULL, &r), TB_ERR_DISABLED);
    assert_int_equal(itsm_query(f->outbox, "incident", kv, 1, 0, 0, 0, &rows, &n), TB_ERR_DISABLED);
    assert_int_equal(itsm_attach(f->outbox, "incident", f->inc, "a.txt", "text/plain", "a", 1, &r), TB_ERR_DISABLED);
    assert_null(r);
    /* the front end's checks come first: nothing queued for bad input */
    assert_int_equal(store_begin(f->st), TB_OK);
    assert_int_not_equal(itsm_add_journal(f->outbox, "incident", "not-a-sys-id'--", "work_notes", "x", "tb"), TB_OK);
    assert_int_not_equal(itsm_add_journal(f->outbox, "incident", f->inc, "bogus_element", "x", "tb"), TB_OK);
    store_rollback(f->st);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_ticket_write"), 0);
}

static tb_err run_job(ticket_store *ts, int64_t id, char *err, size_t errsz)
{
    tb_job_claim c = {.id = id, .kind = TICKET_WRITE_JOB, .attempts = 1};
    return ticket_outbox_job(ts, &c, err, errsz);
}

static ticket_store *embedded_store(struct fx *f)
{
    tb_config cfg;
    tb_config_defaults(&cfg);
    snprintf(cfg.database, sizeof cfg.database, "%s", f->path);
    ticket_store *ts = NULL;
    assert_int_equal(ticket_store_new(&cfg, &ts), TB_OK);
    return ts;
}

static void test_job_writes_a_note_once(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_begin(f->st), TB_OK);
    assert_int_equal(itsm_add_journal(f->outbox, "incident", f->inc, "work_notes", "BeyondTrust session 1", "tb"),
                     TB_OK);
    assert_int_equal(store_commit(f->st), TB_OK);
    int64_t job = last_job(f);
    ticket_store *ts = embedded_store(f);
    char err[512] = "";
    /* the second run is the retry of a job whose first run wrote the note */
    assert_int_equal(run_job(ts, job, err, sizeof err), TB_OK);
    assert_int_equal(run_job(ts, job, err, sizeof err), TB_OK);
    ticket_store_free(ts);
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM sys_journal_field WHERE element_id = '%s' AND element = 'work_notes'"
             " AND value LIKE 'BeyondTrust session 1%%[tb:%%]'", f->inc);
    assert_int_equal(count(f, q), 1);
}

static void test_job_update_clears_null_fields(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_begin(f->st), TB_OK);
    const itsm_kv kv[] = {{"short_description", "Printer replaced"}, {"close_notes", NULL}};
    assert_int_equal(itsm_update(f->outbox, "incident", f->inc, kv, 2), TB_OK);
    assert_int_equal(store_commit(f->st), TB_OK);
    ticket_store *ts = embedded_store(f);
    char err[512] = "";
    assert_int_equal(run_job(ts, last_job(f), err, sizeof err), TB_OK);
    ticket_store_free(ts);
    itsm_record *r = NULL;
    assert_int_equal(itsm_get(f->tickets, "incident", f->inc, &r), TB_OK);
    assert_string_equal(itsm_record_get(r, "short_description"), "Printer replaced");
    const char *cn = itsm_record_get(r, "close_notes");
    assert_true(!cn || !*cn);
    itsm_record_free(r);
}

static void test_job_without_a_write_or_with_a_bad_one(void **state)
{
    struct fx *f = *state;
    ticket_store *ts = embedded_store(f);
    char err[512] = "";
    assert_int_equal(run_job(ts, 424242, err, sizeof err), TB_ERR_INVALID);
    assert_non_null(strstr(err, "carries no ticket write"));

    assert_int_equal(store_begin(f->st), TB_OK);
    const itsm_kv kv[] = {{"state", "2"}};
    assert_int_equal(itsm_update(f->outbox, "incident", f->inc, kv, 1), TB_OK);
    assert_int_equal(store_commit(f->st), TB_OK);
    /* a body damaged in the database is refused, not half-applied */
    assert_int_equal(sqlite3_exec(store_sqlite3(f->st), "UPDATE tb_ticket_write SET body = '[\"state\",'", NULL, NULL,
                                  NULL), SQLITE_OK);
    assert_int_equal(run_job(ts, last_job(f), err, sizeof err), TB_ERR_INVALID);
    assert_non_null(strstr(err, "update of incident/"));
    /* and one naming a record that does not exist says so */
    assert_int_equal(store_begin(f->st), TB_OK);
    assert_int_equal(itsm_update(f->outbox, "incident", "0123456789abcdef0123456789abcdef", kv, 1), TB_OK);
    assert_int_equal(store_commit(f->st), TB_OK);
    assert_int_equal(run_job(ts, last_job(f), err, sizeof err), TB_ERR_NOT_FOUND);
    ticket_store_free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queued_in_the_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_and_creates_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_writes_a_note_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_update_clears_null_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_without_a_write_or_with_a_bad_one, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
