/* CSM records in the store: settings with the exclusive-options rule,
 * mappings, the case-field catalogue, one case per session, decisions, and
 * the migration that adds them. */
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

#include "bt/case_fields.h"
#include "store/store.h"
#include "store/store_csm.h"

struct fx {
    char path[512];
    tb_store *st;
    int64_t appliance, other;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(test_db_path(f->path, sizeof f->path, "csm"), 0);
    assert_int_equal(store_open(f->path, STORE_CREATE, &f->st), TB_OK);
    assert_int_equal(store_schema(f->st), TB_OK);
    tb_appliance a = {.name = "Default", .product = "rs", .integration_enabled = true};
    assert_int_equal(store_appliance_insert(f->st, &a, &f->appliance), TB_OK);
    tb_appliance b = {.name = "Other", .product = "rs", .integration_enabled = true};
    assert_int_equal(store_appliance_insert(f->st, &b, &f->other), TB_OK);
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

static void test_config(void **state)
{
    struct fx *f = *state;
    tb_csm_config c;
    assert_int_equal(store_csm_config_get(f->st, f->appliance, &c), TB_OK);
    assert_false(c.auto_create || c.outbound_event || c.custom_links || c.click_to_chat);
    assert_true(c.attended && c.unattended);
    assert_string_equal(c.portals, "");
    assert_string_equal(c.required_fields, "");
    tb_csm_config_clear(&c);

    tb_csm_config n = {.appliance_id = f->appliance, .auto_create = true, .outbound_event = true,
                       .custom_links = true, .portals = "A", .required_fields = ""};
    assert_int_equal(store_csm_config_set(f->st, &n), TB_ERR_INVALID);     /* options 1 and 2/3 exclusive */
    n.custom_links = false;
    n.unattended = false;
    n.attended = true;
    n.portals = "Partners,VIP";
    n.required_fields = "customer_email";
    assert_int_equal(store_csm_config_set(f->st, &n), TB_OK);
    assert_int_equal(store_csm_config_get(f->st, f->appliance, &c), TB_OK);
    assert_true(c.auto_create && c.outbound_event && c.attended);
    assert_false(c.custom_links || c.unattended);
    assert_string_equal(c.portals, "Partners,VIP");
    assert_string_equal(c.required_fields, "customer_email");
    assert_true(c.updated_at > 0);
    tb_csm_config_clear(&c);

    /* the database refuses both too, whoever writes */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "UPDATE tb_csm_config SET custom_links = 1", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    /* settings go with their appliance */
    assert_int_equal(store_appliance_delete(f->st, "Default"), TB_OK);
    assert_int_equal(store_csm_config_get(f->st, f->appliance, &c), TB_OK);
    assert_false(c.auto_create);
    tb_csm_config_clear(&c);
}

static void test_mappings(void **state)
{
    struct fx *f = *state;
    tb_csm_mapping m = {.kind = CSM_MAP_LOOKUP, .label = "Assigned To", .case_field = "assigned_to",
                        .value = "bob.ross", .bt_field = "", .lookup_table = "sys_user", .lookup_field = "user_name"};
    int64_t id1, id2, id3;
    assert_int_equal(store_csm_mapping_add(f->st, f->appliance, &m, &id1), TB_OK);
    tb_csm_mapping d = {.kind = CSM_MAP_DYNAMIC_LOOKUP, .label = "", .case_field = "contact", .value = "",
                        .bt_field = "customer_username", .lookup_table = "sys_user", .lookup_field = "user_name"};
    assert_int_equal(store_csm_mapping_add(f->st, f->appliance, &d, &id2), TB_OK);
    assert_int_equal(store_csm_mapping_add(f->st, f->appliance, &m, &id3), TB_ERR_EXISTS);
    assert_int_equal(store_csm_mapping_add(f->st, f->other, &m, &id3), TB_OK);     /* per appliance */
    tb_csm_mapping *v;
    size_t n;
    assert_int_equal(store_csm_mapping_list(f->st, f->appliance, &v, &n), TB_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].id, id1);
    assert_int_equal(v[0].kind, CSM_MAP_LOOKUP);
    assert_string_equal(v[0].label, "Assigned To");
    assert_string_equal(v[0].lookup_table, "sys_user");
    assert_int_equal(v[1].kind, CSM_MAP_DYNAMIC_LOOKUP);
    assert_string_equal(v[1].bt_field, "customer_username");
    tb_csm_mappings_free(v, n);
    assert_int_equal(store_csm_mapping_remove(f->st, f->appliance, id3), TB_ERR_NOT_FOUND);   /* not this appliance's */
    assert_int_equal(store_csm_mapping_remove(f->st, f->appliance, id1), TB_OK);
    assert_int_equal(store_csm_mapping_remove(f->st, f->appliance, id1), TB_ERR_NOT_FOUND);
    assert_int_equal(store_csm_mapping_list(f->st, f->appliance, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    tb_csm_mappings_free(v, n);

    assert_string_equal(tb_csm_map_kind_name(CSM_MAP_DYNAMIC_LOOKUP), "dynamic_lookup");
    assert_int_equal(tb_csm_map_kind_parse("dynamic-lookup"), CSM_MAP_DYNAMIC_LOOKUP);
    assert_int_equal(tb_csm_map_kind_parse("static"), CSM_MAP_STATIC);
    assert_int_equal(tb_csm_map_kind_parse("Static"), -1);
    assert_int_equal(tb_csm_map_kind_parse(NULL), -1);
}

static void count_field(void *ctx, const char *name, const char *label)
{
    (void)name, (void)label;
    (*(int *)ctx)++;
}

static void test_case_fields(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_case_field_known(f->st, "customer_username"), TB_ERR_NOT_FOUND);
    int64_t added = 0;
    assert_int_equal(store_case_fields_update(f->st, &added), TB_OK);
    assert_int_equal(added, BT_CF__COUNT);
    assert_int_equal(store_case_fields_update(f->st, &added), TB_OK);
    assert_int_equal(added, 0);
    assert_int_equal(store_case_field_known(f->st, "customer_username"), TB_OK);
    assert_int_equal(store_case_field_known(f->st, "Customer_Username"), TB_ERR_NOT_FOUND);
    int n = 0;
    assert_int_equal(store_case_fields_each(f->st, count_field, &n), TB_OK);
    assert_int_equal(n, BT_CF__COUNT);
}

static void test_cases_and_log(void **state)
{
    struct fx *f = *state;
    const char *lsid = "c69a8e10bea9428f816cfababe9815fe";
    tb_csm_case k;
    assert_int_equal(store_csm_case_get(f->st, f->appliance, lsid, &k), TB_ERR_NOT_FOUND);
    tb_csm_case c = {.appliance_id = f->appliance, .lsid = (char *)lsid,
                     .case_sys_id = "0123456789abcdef0123456789abcdef", .case_number = "CS0001001",
                     .origin = "event", .rep_username = "jdoe", .warnings = "contact: none"};
    assert_int_equal(store_csm_case_insert(f->st, &c), TB_OK);
    c.case_number = "CS0001002";
    assert_int_equal(store_csm_case_insert(f->st, &c), TB_ERR_EXISTS);     /* one case per session */
    c.appliance_id = f->other;
    assert_int_equal(store_csm_case_insert(f->st, &c), TB_OK);             /* another appliance's lsid */
    assert_int_equal(store_csm_case_get(f->st, f->appliance, lsid, &k), TB_OK);
    assert_string_equal(k.case_number, "CS0001001");
    assert_string_equal(k.appliance, "Default");
    assert_string_equal(k.warnings, "contact: none");
    assert_int_equal(k.attribute_set_at, 0);
    tb_csm_case_clear(&k);
    assert_int_equal(store_csm_case_attribute_set(f->st, f->appliance, lsid, 1234), TB_OK);
    assert_int_equal(store_csm_case_attribute_set(f->st, f->appliance, "nope", 1234), TB_ERR_NOT_FOUND);
    assert_int_equal(store_csm_case_get(f->st, f->appliance, lsid, &k), TB_OK);
    assert_int_equal(k.attribute_set_at, 1234);
    tb_csm_case_clear(&k);
    tb_csm_case *v;
    size_t n;
    assert_int_equal(store_csm_case_list(f->st, 0, 0, &v, &n), TB_OK);
    assert_int_equal(n, 2);
    tb_csm_cases_free(v, n);
    assert_int_equal(store_csm_case_list(f->st, f->other, 0, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].case_number, "CS0001002");
    tb_csm_cases_free(v, n);

    tb_csm_log_rec r = {.at = 10, .appliance_id = f->appliance, .lsid = lsid, .origin = "event",
                        .outcome = "skipped", .detail = "public portal 'X' is not in ..."};
    assert_int_equal(store_csm_log_insert(f->st, &r), TB_OK);
    r.outcome = "created";
    r.case_number = "CS0001001";
    r.detail = NULL;
    assert_int_equal(store_csm_log_insert(f->st, &r), TB_OK);
    r.appliance_id = 0;
    r.lsid = "other";
    assert_int_equal(store_csm_log_insert(f->st, &r), TB_OK);
    tb_csm_log *l;
    assert_int_equal(store_csm_log_list(f->st, f->appliance, NULL, 0, &l, &n), TB_OK);
    assert_int_equal(n, 2);
    assert_string_equal(l[0].outcome, "created");               /* newest first */
    assert_string_equal(l[0].detail, "");
    assert_string_equal(l[1].case_number, "");
    assert_string_equal(l[1].appliance, "Default");
    tb_csm_logs_free(l, n);
    assert_int_equal(store_csm_log_list(f->st, 0, "other", 1, &l, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_string_equal(l[0].appliance, "");
    tb_csm_logs_free(l, n);

    /* deleting the appliance deletes its cases; its decisions stay, unattributed */
    assert_int_equal(store_appliance_delete(f->st, "Default"), TB_OK);
    assert_int_equal(store_csm_case_get(f->st, f->appliance, lsid, &k), TB_ERR_NOT_FOUND);
    assert_int_equal(store_csm_log_list(f->st, 0, lsid, 0, &l, &n), TB_OK);
    assert_int_equal(n, 2);
    tb_csm_logs_free(l, n);
}

/* A database from before CSM (schema version 5) gets the tables. */
static void test_migration(void **state)
{
    struct fx *f = *state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(test_schema_downgrade(db, 5), SQLITE_OK);
    sqlite3_close(db);
    tb_csm_config c;
    assert_int_not_equal(store_csm_config_get(f->st, f->appliance, &c), TB_OK);    /* no such table */
    assert_int_equal(store_schema(f->st), TB_OK);
    assert_int_equal(store_csm_config_get(f->st, f->appliance, &c), TB_OK);
    tb_csm_config_clear(&c);
    assert_int_equal(store_schema(f->st), TB_OK);        /* idempotent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mappings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_case_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cases_and_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
