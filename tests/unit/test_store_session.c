/* Imported sessions in the store: save, re-save (no duplicates), event
 * filtering, links that only fill in, the work-note marker, listing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bt/report.h"
#include "store/store.h"

struct fx {
    char path[512];
    tb_store *st;
    int64_t appliance;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->path, sizeof f->path, "%s/sess-%d-%ld.db", tmp ? tmp : "/tmp", (int)getpid(), random());
    assert_int_equal(store_open(f->path, STORE_CREATE, &f->st), TB_OK);
    assert_int_equal(store_schema(f->st), TB_OK);
    tb_appliance a = {.name = "Default", .product = "pra", .integration_enabled = true};
    assert_int_equal(store_appliance_insert(f->st, &a, &f->appliance), TB_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    test_db_remove(f->path);
    free(f);
    return 0;
}

static const bt_kv file_data[] = {{"filename", "report.pdf"}, {"filesize", "2048"}, {"path", "C:\\tmp"}};
static const bt_kv owner_data[] = {{"owner", "Pre-start Conference"}};

static bt_event events[3];
static bt_user users[2];
static bt_custom_attr custom[2];
static bt_file_transfer files[1];

static bt_session make_session(const char *lsid, size_t nevents)
{
    memset(events, 0, sizeof events);
    events[0] = (bt_event){.timestamp = 1733239565, .event_type = "Session Start"};
    events[1] = (bt_event){.timestamp = 1733239566, .event_type = "Conference Owner Changed",
                           .destination = {true, "system", 0, "Pre-start Conference"},
                           .data = owner_data, .ndata = 1};
    events[2] = (bt_event){.timestamp = 1733239600, .event_type = "File Upload",
                           .performed_by = {true, "representative", 21, "Admin"},
                           .data = file_data, .ndata = 3};
    users[0] = (bt_user){.kind = BT_USER_REP, .gsnumber = 21, .id = 1, .username = "admin",
                         .display_name = "Admin", .public_ip = "[2a01:db8::1]:56722", .private_ip = "Unknown",
                         .os = "Unknown", .session_owner = 1, .seconds_involved = 901};
    users[1] = (bt_user){.kind = BT_USER_CUSTOMER, .gsnumber = 22, .id = -1, .username = "web01",
                         .public_ip = "4.231.237.19:61606", .private_ip = "10.0.0.4", .hostname = "WEB01",
                         .session_owner = -1, .seconds_involved = -1};
    custom[0] = (bt_custom_attr){"snow_task_id", "Snow Task Id", "INC0010001"};
    custom[1] = (bt_custom_attr){"note", "Note", "it's <b>&amp;</b> \"quoted\""};
    files[0] = (bt_file_transfer){.event_index = 2, .timestamp = 1733239600, .event_type = "File Upload",
                                  .name = "report.pdf", .size = 2048, .path = "C:\\tmp",
                                  .direction = BT_FILE_UPLOAD, .success = true,
                                  .performed_by = {true, "representative", 21, "Admin"}};
    bt_session s = {
        .lsid = lsid, .session_type = "support", .lseq = 8, .start_time = 1733239565,
        .end_time = 1733240467, .duration = 902, .public_site = {-1, NULL}, .jumpoint = {3, "DMZ"},
        .jump_group = {1, "shared", "Servers"}, .primary_customer = {22, "web01"},
        .primary_rep = {21, 1, "Admin"}, .external_key = "",
        .custom_attributes = custom, .ncustom_attributes = 2,
        .chat_view_url = "https://x/session_download?lsid=a&dl_action=chat&view=1",
        .file_transfer_count = 1, .file_move_count = 0, .file_delete_count = 0,
        .users = users, .nusers = 2, .events = events, .nevents = nevents, .files = files, .nfiles = 1,
    };
    return s;
}

static int64_t count(struct fx *f, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "%s", table);
    tb_session_filter sf = {.limit = 1000};
    tb_session_row *v;
    size_t n;
    assert_int_equal(store_session_list(f->st, &sf, &v, &n), TB_OK);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += !strcmp(table, "events") ? v[i].nevents : !strcmp(table, "users") ? v[i].nusers
               : !strcmp(table, "files") ? v[i].nfiles : 1;
    tb_session_rows_free(v, n);
    return total;
}

static bool not_owner_changes(const bt_event *e, void *ctx)
{
    (void)ctx;
    return strcmp(e->event_type, "Conference Owner Changed") != 0;
}

static void save(struct fx *f, const bt_session *s, const tb_session_links *l, tb_event_filter keep,
                 int64_t *id, bool *noted)
{
    assert_int_equal(store_begin(f->st), TB_OK);
    assert_int_equal(store_session_save(f->st, f->appliance, "pra", s, l, keep, NULL, 1000, id, noted, NULL), TB_OK);
    assert_int_equal(store_commit(f->st), TB_OK);
}

static void test_save_and_resave(void **state)
{
    struct fx *f = *state;
    bt_session s = make_session("e9e99aeb9ad54fb381634498502c5a1b", 3);
    tb_session_links l = {.task_table = "incident", .task_sys_id = "0123456789abcdef0123456789abcdef",
                          .task_number = "INC0010001"};
    int64_t id1, id2;
    bool noted;
    save(f, &s, &l, NULL, &id1, &noted);
    assert_false(noted);
    assert_int_equal(count(f, "sessions"), 1);
    assert_int_equal(count(f, "events"), 3);
    assert_int_equal(count(f, "users"), 2);
    assert_int_equal(count(f, "files"), 1);

    /* re-import: same row, children replaced, filter applied, link kept */
    assert_int_equal(store_begin(f->st), TB_OK);
    assert_int_equal(store_session_mark_noted(f->st, id1, 1001), TB_OK);
    assert_int_equal(store_commit(f->st), TB_OK);
    save(f, &s, NULL, not_owner_changes, &id2, &noted);
    assert_int_equal(id1, id2);
    assert_true(noted);
    assert_int_equal(count(f, "sessions"), 1);
    assert_int_equal(count(f, "events"), 2);
    assert_int_equal(count(f, "users"), 2);

    tb_session_filter sf = {.task_sys_id = "0123456789abcdef0123456789abcdef"};
    tb_session_row *v;
    size_t n;
    assert_int_equal(store_session_list(f->st, &sf, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].task_number, "INC0010001");
    assert_string_equal(v[0].primary_rep, "Admin");
    assert_string_equal(v[0].appliance, "Default");
    assert_int_equal(v[0].duration, 902);
    assert_true(v[0].noted);
    tb_session_rows_free(v, n);

    /* a second session is its own row */
    bt_session s2 = make_session("ffffffffffffffffffffffffffffffff", 1);
    save(f, &s2, NULL, NULL, &id2, &noted);
    assert_int_not_equal(id1, id2);
    assert_int_equal(count(f, "sessions"), 2);
    sf = (tb_session_filter){.lsid = "ffffffffffffffffffffffffffffffff"};
    assert_int_equal(store_session_list(f->st, &sf, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].task_sys_id, "");
    tb_session_rows_free(v, n);
}

static void test_rollback_leaves_nothing(void **state)
{
    struct fx *f = *state;
    bt_session s = make_session("abcabcabcabcabcabcabcabcabcabcab", 3);
    assert_int_equal(store_begin(f->st), TB_OK);
    assert_int_equal(store_session_save(f->st, f->appliance, "pra", &s, NULL, NULL, NULL, 1, NULL, NULL, NULL), TB_OK);
    store_rollback(f->st);
    assert_int_equal(count(f, "sessions"), 0);
}

static void test_invalid(void **state)
{
    struct fx *f = *state;
    bt_session s = make_session("", 3);
    assert_int_equal(store_begin(f->st), TB_OK);
    assert_int_equal(store_session_save(f->st, f->appliance, "pra", &s, NULL, NULL, NULL, 1, NULL, NULL, NULL),
                     TB_ERR_INVALID);
    s.lsid = "deadbeefdeadbeefdeadbeefdeadbeef";
    /* unknown appliance: the foreign key refuses it */
    assert_int_not_equal(store_session_save(f->st, 999, "pra", &s, NULL, NULL, NULL, 1, NULL, NULL, NULL), TB_OK);
    store_rollback(f->st);
    assert_int_equal(store_session_mark_noted(f->st, 12345, 1), TB_ERR_NOT_FOUND);
}

/* A database made before the reconciler existed (schema version 1) gets its
 * column and table when opened by this version, and keeps its data. */
static void test_migration_from_v1(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_begin(f->st), TB_OK);
    bt_session s = make_session("abababababababababababababababab", 3);
    assert_int_equal(store_session_save(f->st, f->appliance, "pra", &s, NULL, NULL, NULL, 1, NULL, NULL, NULL), TB_OK);
    assert_int_equal(store_commit(f->st), TB_OK);
    /* turn it back into version 1 */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(test_schema_downgrade(db, 1), SQLITE_OK);
    sqlite3_close(db);
    tb_appliance a;
    assert_int_not_equal(store_appliance_get(f->st, "Default", &a), TB_OK);   /* no such column */
    assert_int_equal(store_schema(f->st), TB_OK);
    assert_int_equal(store_appliance_get(f->st, "Default", &a), TB_OK);
    assert_int_equal(a.poll_interval, 300);
    tb_appliance_clear(&a);
    assert_int_equal(store_schema(f->st), TB_OK);                           /* idempotent */
    assert_int_equal(count(f, "sessions"), 1);
    int64_t q = -1;
    assert_int_equal(store_begin(f->st), TB_OK);
    assert_int_equal(store_poll_schedule(f->st, 10, &q), TB_OK);
    assert_int_equal(q, 0);     /* no API account: nothing to poll */
    store_rollback(f->st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_save_and_resave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_v1, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
