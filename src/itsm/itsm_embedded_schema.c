/* Schema of the embedded ticket store: ServiceNow's table and field names in
 * SQLite, plus sys_number (the number counters). Creation is idempotent
 * (IF NOT EXISTS / INSERT OR IGNORE) and runs in one transaction. No table
 * here starts with "tb_": that prefix belongs to the gateway's own store. */
#include "core/sqlite_err.h"
#include "itsm/itsm.h"
#include "itsm/itsm_embedded_int.h"

#include <stdio.h>
#include <string.h>

static const int inc_closed[] = {7, 8};
static const int chg_closed[] = {3, 4};
static const int prb_closed[] = {107};
static const int sc_closed[] = {3, 4, 7};
static const int cs_closed[] = {3, 7};

/* incident: 1 New 2 In Progress 3 On Hold 6 Resolved 7 Closed 8 Canceled
 * change_request: -5 New -4 Assess -3 Authorize -2 Scheduled -1 Implement
 *   0 Review 3 Closed 4 Canceled
 * problem: 101 New 102 Assess 103 Root Cause Analysis 104 Fix in Progress
 *   106 Resolved 107 Closed
 * sc_task / sc_req_item: 1 Open 2 Work in Progress 3 Closed Complete
 *   4 Closed Incomplete 7 Closed Skipped
 * case: 1 New 10 Open 18 Awaiting Info 6 Resolved 3 Closed 7 Cancelled */
static const emb_task_meta task_meta[] = {
    {"incident", "INC", 10001, 1, inc_closed, 2},
    {"change_request", "CHG", 30001, -5, chg_closed, 2},
    {"problem", "PRB", 40001, 101, prb_closed, 1},
    {"sc_task", "SCTASK", 10001, 1, sc_closed, 3},
    {"sc_req_item", "RITM", 10001, 1, sc_closed, 3},
    {"sn_customerservice_case", "CS", 1001, 1, cs_closed, 2},
};

const emb_task_meta *emb_task_meta_of(const char *table)
{
    for (size_t i = 0; i < sizeof task_meta / sizeof task_meta[0]; i++)
        if (strcmp(task_meta[i].table, table) == 0)
            return &task_meta[i];
    return NULL;
}

#define SYS_COLS                                                              \
    "sys_id TEXT PRIMARY KEY NOT NULL CHECK (length(sys_id) = 32),"           \
    "sys_created_on TEXT NOT NULL, sys_updated_on TEXT NOT NULL,"             \
    "sys_created_by TEXT NOT NULL DEFAULT 'system',"                          \
    "sys_updated_by TEXT NOT NULL DEFAULT 'system',"                          \
    "sys_mod_count INTEGER NOT NULL DEFAULT 0"

#define INT_COL(c) c " INTEGER CHECK (typeof(" c ") IN ('integer', 'null'))"

/* Columns of ServiceNow's task table, shared by every task table. %s is the
 * table name (sys_class_name), %d the "New" state. */
#define TASK_COLS                                                             \
    "number TEXT, short_description TEXT, description TEXT,"                  \
    "state INTEGER NOT NULL DEFAULT %d CHECK (typeof(state) = 'integer'),"    \
    "active TEXT NOT NULL DEFAULT 'true' CHECK (active IN ('true','false')),"  \
    INT_COL("priority") " DEFAULT 5," INT_COL("impact") " DEFAULT 3,"         \
    INT_COL("urgency") " DEFAULT 3,"                                          \
    "category TEXT, subcategory TEXT, assigned_to TEXT, assignment_group TEXT," \
    "cmdb_ci TEXT, business_service TEXT, opened_by TEXT, opened_at TEXT,"    \
    "closed_at TEXT, closed_by TEXT, close_notes TEXT,"                       \
    "approval TEXT NOT NULL DEFAULT 'not requested' CHECK (approval IN "      \
    "('not requested','requested','approved','rejected','cancelled',"         \
    "'not_required','duplicate')),"                                           \
    "company TEXT, location TEXT, correlation_id TEXT, correlation_display TEXT," \
    "contact_type TEXT, due_date TEXT, parent TEXT, watch_list TEXT,"         \
    "work_notes_list TEXT, " INT_COL("escalation") " DEFAULT 0,"              \
    INT_COL("reassignment_count") " DEFAULT 0, made_sla TEXT DEFAULT 'true'," \
    "sys_class_name TEXT NOT NULL DEFAULT '%s'"

static const struct {
    const char *table;
    const char *extra;
} task_extra[] = {
    {"incident", "caller_id TEXT, close_code TEXT, resolved_at TEXT, resolved_by TEXT,"
                 "hold_reason TEXT, " INT_COL("severity") " DEFAULT 3, problem_id TEXT,"
                 "rfc TEXT, caused_by TEXT, " INT_COL("reopen_count") " DEFAULT 0"},
    {"change_request", "type TEXT DEFAULT 'normal', " INT_COL("risk") " DEFAULT 3,"
                       "requested_by TEXT, start_date TEXT, end_date TEXT,"
                       "implementation_plan TEXT, backout_plan TEXT, test_plan TEXT,"
                       "justification TEXT, reason TEXT, phase TEXT DEFAULT 'requested',"
                       "cab_required TEXT DEFAULT 'false', on_hold TEXT DEFAULT 'false',"
                       "close_code TEXT, chg_model TEXT"},
    {"problem", "known_error TEXT DEFAULT 'false', cause_notes TEXT, fix_notes TEXT,"
                "workaround TEXT, first_reported_by_task TEXT, resolution_code TEXT,"
                "resolved_at TEXT, resolved_by TEXT"},
    {"sc_task", "request TEXT, request_item TEXT, requested_for TEXT"},
    {"sc_req_item", "request TEXT, cat_item TEXT, " INT_COL("quantity") " DEFAULT 1,"
                    "requested_for TEXT, stage TEXT"},
    {"sn_customerservice_case", "contact TEXT, account TEXT, consumer TEXT, product TEXT,"
                                "asset TEXT, resolution_code TEXT, resolved_at TEXT,"
                                "resolved_by TEXT, cause TEXT"},
};

static const char fixed_ddl[] =
    "CREATE TABLE IF NOT EXISTS cmdb_ci (" SYS_COLS ","
    " name TEXT, sys_class_name TEXT NOT NULL DEFAULT 'cmdb_ci_computer',"
    " ip_address TEXT, fqdn TEXT, host_name TEXT, os TEXT, os_version TEXT,"
    " serial_number TEXT, asset_tag TEXT, mac_address TEXT, assigned_to TEXT,"
    " managed_by TEXT, owned_by TEXT, support_group TEXT, company TEXT, location TEXT,"
    " manufacturer TEXT, model_id TEXT, short_description TEXT, dns_domain TEXT,"
    " " INT_COL("operational_status") " DEFAULT 1, " INT_COL("install_status") " DEFAULT 1,"
    " correlation_id TEXT, discovery_source TEXT);"
    "CREATE INDEX IF NOT EXISTS cmdb_ci_name ON cmdb_ci(lower(name));"
    "CREATE INDEX IF NOT EXISTS cmdb_ci_ip ON cmdb_ci(ip_address);"

    "CREATE TABLE IF NOT EXISTS sys_user (" SYS_COLS ","
    " user_name TEXT NOT NULL CHECK (user_name <> ''), first_name TEXT, last_name TEXT,"
    " name TEXT, email TEXT, phone TEXT, mobile_phone TEXT,"
    " active TEXT NOT NULL DEFAULT 'true' CHECK (active IN ('true','false')),"
    " locked_out TEXT NOT NULL DEFAULT 'false', u_beyondtrust_username TEXT, title TEXT,"
    " department TEXT, company TEXT, location TEXT, manager TEXT, employee_number TEXT,"
    " time_zone TEXT);"
    "CREATE UNIQUE INDEX IF NOT EXISTS sys_user_user_name ON sys_user(lower(user_name));"
    "CREATE INDEX IF NOT EXISTS sys_user_bt ON sys_user(lower(u_beyondtrust_username));"
    "CREATE INDEX IF NOT EXISTS sys_user_email ON sys_user(lower(email));"

    "CREATE TABLE IF NOT EXISTS sys_user_group (" SYS_COLS ","
    " name TEXT NOT NULL, description TEXT, manager TEXT, email TEXT,"
    " active TEXT NOT NULL DEFAULT 'true' CHECK (active IN ('true','false')),"
    " parent TEXT, type TEXT);"
    "CREATE INDEX IF NOT EXISTS sys_user_group_name ON sys_user_group(lower(name));"

    "CREATE TABLE IF NOT EXISTS sys_user_grmember (" SYS_COLS ","
    " user TEXT NOT NULL REFERENCES sys_user(sys_id) ON DELETE CASCADE,"
    " \"group\" TEXT NOT NULL REFERENCES sys_user_group(sys_id) ON DELETE CASCADE,"
    " UNIQUE (user, \"group\"));"
    "CREATE INDEX IF NOT EXISTS sys_user_grmember_group ON sys_user_grmember(\"group\");"

    "CREATE TABLE IF NOT EXISTS sys_journal_field (" SYS_COLS ","
    " element_id TEXT NOT NULL, name TEXT NOT NULL,"
    " element TEXT NOT NULL CHECK (element IN ('work_notes','comments')),"
    " value TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS sys_journal_field_element_id"
    " ON sys_journal_field(element_id, sys_created_on);"

    /* Content lives in a BLOB column instead of sys_attachment_doc chunks. */
    "CREATE TABLE IF NOT EXISTS sys_attachment (" SYS_COLS ","
    " table_name TEXT NOT NULL, table_sys_id TEXT NOT NULL, file_name TEXT NOT NULL,"
    " content_type TEXT, size_bytes INTEGER NOT NULL, hash TEXT NOT NULL,"
    " content BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS sys_attachment_record"
    " ON sys_attachment(table_sys_id, table_name);"

    /* Like ServiceNow's sys_number: category = table, number = next value. */
    "CREATE TABLE IF NOT EXISTS sys_number (" SYS_COLS ","
    " category TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, number INTEGER NOT NULL,"
    " maximum_digits INTEGER NOT NULL DEFAULT 7);";

static tb_err exec(sqlite3 *db, const char *sql)
{
    return emb_err(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static tb_err create_task_table(sqlite3 *db, const emb_task_meta *m, const char *extra)
{
    char sql[8192];
    int n = snprintf(sql, sizeof sql,
                     "CREATE TABLE IF NOT EXISTS %s (" SYS_COLS ", " TASK_COLS ", %s);"
                     "CREATE UNIQUE INDEX IF NOT EXISTS %s_number ON %s(number COLLATE NOCASE);"
                     "CREATE INDEX IF NOT EXISTS %s_created ON %s(sys_created_on);"
                     "CREATE INDEX IF NOT EXISTS %s_assigned_to ON %s(assigned_to);"
                     "CREATE INDEX IF NOT EXISTS %s_correlation ON %s(correlation_id);"
                     /* Table API lists: active=true^state<N and similar. */
                     "CREATE INDEX IF NOT EXISTS %s_active_state ON %s(active, state);",
                     m->table, m->new_state, m->table, extra, m->table, m->table, m->table,
                     m->table, m->table, m->table, m->table, m->table, m->table, m->table);
    if (n < 0 || (size_t)n >= sizeof sql)
        return TB_ERR_TOO_LARGE;
    tb_err rc = exec(db, sql);
    if (rc)
        return rc;

    sqlite3_stmt *st;
    const char *ins =
        "INSERT OR IGNORE INTO sys_number (sys_id, sys_created_on, sys_updated_on,"
        " category, prefix, number, maximum_digits) VALUES (lower(hex(randomblob(16))),"
        " strftime('%Y-%m-%d %H:%M:%S','now'), strftime('%Y-%m-%d %H:%M:%S','now'),"
        " ?1, ?2, ?3, 7)";
    if (sqlite3_prepare_v2(db, ins, -1, &st, NULL) != SQLITE_OK)
        return TB_ERR_DB;
    sqlite3_bind_text(st, 1, m->table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, m->first_number);
    int src = sqlite3_step(st);
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? TB_OK : emb_err(src);
}

tb_err emb_err(int rc)
{
    return tb_sqlite_err(rc);
}

tb_err emb_configure(sqlite3 *db)
{
    sqlite3_extended_result_codes(db, 1);
    if (sqlite3_busy_timeout(db, 5000) != SQLITE_OK)
        return TB_ERR_DB;
    tb_err rc = exec(db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
                         " PRAGMA synchronous=FULL;");
    return rc;
}

tb_err itsm_embedded_schema(const char *db_path)
{
    if (!db_path || !*db_path)
        return TB_ERR_INVALID;
    sqlite3 *db = NULL;
    int src = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    tb_err rc = src == SQLITE_OK ? emb_configure(db) : emb_err(src);
    if (!rc)
        rc = exec(db, "BEGIN IMMEDIATE");
    if (!rc) {
        rc = exec(db, fixed_ddl);
        for (size_t i = 0; !rc && i < sizeof task_extra / sizeof task_extra[0]; i++)
            rc = create_task_table(db, emb_task_meta_of(task_extra[i].table), task_extra[i].extra);
        if (!rc)
            rc = exec(db, "COMMIT");
        if (rc)
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_close(db);
    return rc;
}
