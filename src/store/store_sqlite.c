/* Connection management and schema of the gateway's SQLite store. */
#include "store/store_sqlite.h"
#include "core/sqlite_err.h"

#include <stdio.h>
#define TB_STORE_PATH_MAX 4096
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS tb_meta("
    "  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tb_appliance("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  product TEXT NOT NULL DEFAULT 'rs' CHECK(product IN ('rs','pra')),"
    "  hostname TEXT NOT NULL DEFAULT '',"
    "  appliance_guid TEXT NOT NULL DEFAULT '',"
    "  client_id TEXT NOT NULL DEFAULT '',"
    "  client_secret TEXT NOT NULL DEFAULT '',"
    "  outbound_event_token TEXT NOT NULL DEFAULT '',"
    "  integration_enabled INTEGER NOT NULL DEFAULT 1,"
    "  import_external_sessions INTEGER NOT NULL DEFAULT 1,"
    "  auto_associate_user INTEGER NOT NULL DEFAULT 0,"
    "  auto_associate_ci INTEGER NOT NULL DEFAULT 0,"
    "  accepted_ips TEXT NOT NULL DEFAULT '',"
    "  events_to_import TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tb_incoming("
    "  id INTEGER PRIMARY KEY,"
    "  received_ms INTEGER NOT NULL,"
    "  route TEXT NOT NULL, method TEXT NOT NULL, source_ip TEXT NOT NULL,"
    "  appliance_id INTEGER REFERENCES tb_appliance(id) ON DELETE SET NULL,"
    "  event TEXT, lsid TEXT,"
    "  status TEXT NOT NULL, http_status INTEGER NOT NULL, reason TEXT,"
    "  dedup_key BLOB UNIQUE,"
    "  duplicate_of INTEGER,"
    "  content_type TEXT, body BLOB, body_truncated INTEGER NOT NULL DEFAULT 0);"
    /* Partial: the hot path (accepted events) pays nothing for it, and the
     * administrator's "what was refused" listing stays fast. */
    "CREATE INDEX IF NOT EXISTS tb_incoming_not_accepted ON tb_incoming(status, id)"
    "  WHERE status <> 'accepted';"
    "CREATE TABLE IF NOT EXISTS tb_job("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'queued'"
    "    CHECK(state IN ('queued','running','done','failed')),"
    "  appliance_id INTEGER REFERENCES tb_appliance(id) ON DELETE SET NULL,"
    "  lsid TEXT, incoming_id INTEGER,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  run_after INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS tb_job_state ON tb_job(state, run_after, id);"
    "CREATE INDEX IF NOT EXISTS tb_job_incoming ON tb_job(incoming_id);"
    "CREATE TABLE IF NOT EXISTS tb_account("
    "  id INTEGER PRIMARY KEY,"
    "  username TEXT NOT NULL UNIQUE,"
    "  password_hash TEXT NOT NULL,"
    "  roles TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL);"
    /* Imported sessions and the related lists the ServiceNow apps show. */
    "CREATE TABLE IF NOT EXISTS tb_session("
    "  id INTEGER PRIMARY KEY,"
    "  appliance_id INTEGER NOT NULL REFERENCES tb_appliance(id) ON DELETE CASCADE,"
    "  lsid TEXT NOT NULL, product TEXT, session_type TEXT, lseq INTEGER,"
    "  start_time INTEGER, end_time INTEGER, duration INTEGER,"
    "  public_site_id INTEGER, public_site TEXT, jumpoint_id INTEGER, jumpoint TEXT,"
    "  jump_group_id INTEGER, jump_group_type TEXT, jump_group TEXT,"
    "  primary_customer_gsnumber INTEGER, primary_customer TEXT,"
    "  primary_rep_gsnumber INTEGER, primary_rep_id INTEGER, primary_rep TEXT,"
    "  external_key TEXT, chat_view_url TEXT, chat_download_url TEXT,"
    "  recording_view_url TEXT, recording_download_url TEXT, has_recording INTEGER,"
    "  file_transfer_count INTEGER, file_move_count INTEGER, file_delete_count INTEGER,"
    "  customer_name TEXT, customer_company TEXT, customer_company_code TEXT,"
    "  customer_details TEXT, customer_issue TEXT,"
    "  task_table TEXT, task_sys_id TEXT, task_number TEXT, ci_sys_id TEXT, user_sys_id TEXT,"
    "  work_note_at INTEGER,"
    "  imported_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "  UNIQUE(appliance_id, lsid));"
    "CREATE INDEX IF NOT EXISTS tb_session_task ON tb_session(task_sys_id) WHERE task_sys_id IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS tb_session_ci ON tb_session(ci_sys_id) WHERE ci_sys_id IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS tb_session_custom("
    "  session_id INTEGER NOT NULL REFERENCES tb_session(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL, code_name TEXT, display_name TEXT, value TEXT,"
    "  PRIMARY KEY(session_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tb_session_user("
    "  session_id INTEGER NOT NULL REFERENCES tb_session(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL, kind TEXT NOT NULL, gsnumber INTEGER, user_id INTEGER,"
    "  username TEXT, display_name TEXT, public_display_name TEXT, private_display_name TEXT,"
    "  public_ip TEXT, private_ip TEXT, hostname TEXT, os TEXT,"
    "  session_owner INTEGER, seconds_involved INTEGER,"
    "  PRIMARY KEY(session_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tb_session_event("
    "  session_id INTEGER NOT NULL REFERENCES tb_session(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL, timestamp INTEGER, event_type TEXT,"
    "  performed_by_type TEXT, performed_by_gsnumber INTEGER, performed_by TEXT,"
    "  destination_type TEXT, destination_gsnumber INTEGER, destination TEXT,"
    "  data TEXT, body TEXT,"
    "  PRIMARY KEY(session_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tb_session_file("
    "  session_id INTEGER NOT NULL REFERENCES tb_session(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL, timestamp INTEGER, event_type TEXT, name TEXT, size INTEGER,"
    "  path TEXT, old_path TEXT, new_path TEXT, direction TEXT, success INTEGER, sha256 TEXT,"
    "  performed_by TEXT,"
    "  PRIMARY KEY(session_id, seq)) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO tb_meta(key, value) VALUES('schema_version', '1');";

tb_err store_rc(int rc)
{
    return tb_sqlite_err(rc);
}

tb_err store_open(const char *path, int flags, tb_store **out)
{
    tb_store *st = calloc(1, sizeof *st);
    if (!st)
        return TB_ERR_NOMEM;
    int oflags = SQLITE_OPEN_NOMUTEX;
    if (flags & STORE_READ_ONLY)
        oflags |= SQLITE_OPEN_READONLY;
    else
        oflags |= SQLITE_OPEN_READWRITE | ((flags & STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &st->db, oflags, NULL);
    if (rc != SQLITE_OK) {
        tb_err e = rc == SQLITE_CANTOPEN ? TB_ERR_NOT_FOUND : store_rc(rc);
        sqlite3_close(st->db);
        free(st);
        return e;
    }
    sqlite3_busy_timeout(st->db, 5000);
    sqlite3_extended_result_codes(st->db, 1);
    tb_err e = TB_OK;
    if (!(flags & STORE_READ_ONLY))
        e = store_exec(st, "PRAGMA journal_mode=WAL;");
    if (!e)
        e = store_exec(st, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    if (e) {
        store_close(st);
        return e;
    }
    *out = st;
    return TB_OK;
}

void store_close(tb_store *st)
{
    if (!st)
        return;
    for (int i = 0; i < STMT__COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->db);
    free(st);
}

void store_busy_timeout(tb_store *st, int ms)
{
    sqlite3_busy_timeout(st->db, ms);
}

const char *store_errmsg(tb_store *st)
{
    return sqlite3_errmsg(st->db);
}

tb_err store_exec(tb_store *st, const char *sql)
{
    return store_rc(sqlite3_exec(st->db, sql, NULL, NULL, NULL));
}

tb_err store_stmt(tb_store *st, int slot, const char *sql, sqlite3_stmt **out)
{
    if (!st->stmt[slot]) {
        int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[slot], NULL);
        if (rc != SQLITE_OK)
            return store_rc(rc);
    }
    sqlite3_reset(st->stmt[slot]);
    sqlite3_clear_bindings(st->stmt[slot]);
    *out = st->stmt[slot];
    return TB_OK;
}

void *store_vec_push(store_vec *a)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        void *nv = realloc(a->v, cap * a->elem);
        if (!nv)
            return NULL;
        a->v = nv;
        a->cap = cap;
    }
    void *p = (char *)a->v + a->n++ * a->elem;
    memset(p, 0, a->elem);
    return p;
}

void store_bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

void store_bind_text_nn(sqlite3_stmt *s, int i, const char *v)
{
    sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_STATIC);
}

char *store_col_strdup(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    char *p = malloc((size_t)n + 1);
    if (!p)
        return NULL;
    if (t && n)
        memcpy(p, t, (size_t)n);
    p[n] = '\0';
    return p;
}

/* Changes to databases created by earlier versions, in order: entry i
 * brings schema_version i+1 to i+2. New databases get them too (the base
 * schema above is version 1). */
static const char *const migrations[] = {
    /* 1 → 2: the reconciler (periodic listing poll) */
    "ALTER TABLE tb_appliance ADD COLUMN poll_interval INTEGER NOT NULL DEFAULT 300;"
    "CREATE TABLE tb_poll_state("
    "  appliance_id INTEGER PRIMARY KEY REFERENCES tb_appliance(id) ON DELETE CASCADE,"
    "  since INTEGER NOT NULL, next_at INTEGER NOT NULL DEFAULT 0,"
    "  last_poll_at INTEGER, last_found INTEGER, last_queued INTEGER);",
    /* 2 → 3: the event-type catalogue */
    "CREATE TABLE tb_event_type(name TEXT PRIMARY KEY COLLATE NOCASE, product TEXT NOT NULL,"
    "  added_at INTEGER NOT NULL);",
    /* 3 → 4: users and API tokens. tb_meta.auth_version counts every change
     * that can revoke a credential (triggers, so that any writer bumps it);
     * the daemon's credential cache drops its entries when it moves. A
     * token's last use does not count. */
    "ALTER TABLE tb_account ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tb_account ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tb_account ADD COLUMN password_changed_at INTEGER NOT NULL DEFAULT 0;"
    "UPDATE tb_account SET updated_at = created_at, password_changed_at = created_at;"
    "CREATE TABLE tb_api_token("
    "  id INTEGER PRIMARY KEY,"
    "  account_id INTEGER NOT NULL REFERENCES tb_account(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  token_hash TEXT NOT NULL UNIQUE,"
    "  prefix TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, expires_at INTEGER, last_used_at INTEGER, revoked_at INTEGER);"
    "CREATE INDEX tb_api_token_account ON tb_api_token(account_id);"
    "CREATE UNIQUE INDEX tb_api_token_live_name ON tb_api_token(account_id, name) WHERE revoked_at IS NULL;"
    "INSERT OR IGNORE INTO tb_meta(key, value) VALUES('auth_version', '0');"
    "CREATE TRIGGER tb_account_ins AFTER INSERT ON tb_account BEGIN"
    "  UPDATE tb_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'auth_version'; END;"
    "CREATE TRIGGER tb_account_upd AFTER UPDATE ON tb_account BEGIN"
    "  UPDATE tb_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'auth_version'; END;"
    "CREATE TRIGGER tb_account_del AFTER DELETE ON tb_account BEGIN"
    "  UPDATE tb_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'auth_version'; END;"
    "CREATE TRIGGER tb_api_token_ins AFTER INSERT ON tb_api_token BEGIN"
    "  UPDATE tb_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'auth_version'; END;"
    "CREATE TRIGGER tb_api_token_upd AFTER UPDATE OF account_id, token_hash, expires_at, revoked_at"
    "  ON tb_api_token BEGIN"
    "  UPDATE tb_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'auth_version'; END;"
    "CREATE TRIGGER tb_api_token_del AFTER DELETE ON tb_api_token BEGIN"
    "  UPDATE tb_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'auth_version'; END;",
    /* 4 → 5: change-management approval (seed 000) */
    "ALTER TABLE tb_appliance ADD COLUMN override_change_management INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tb_appliance ADD COLUMN approval_record_type TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE tb_appliance ADD COLUMN approval_timeout_ms INTEGER NOT NULL DEFAULT 3000;"
    "CREATE TABLE tb_override_rule("
    "  id INTEGER PRIMARY KEY,"
    "  appliance_id INTEGER NOT NULL REFERENCES tb_appliance(id) ON DELETE CASCADE,"
    "  position INTEGER NOT NULL, task_field TEXT NOT NULL,"
    "  comparator TEXT NOT NULL CHECK(comparator IN ('=','<','>')),"
    "  value_type TEXT NOT NULL CHECK(value_type IN ('static','reference')),"
    "  value TEXT NOT NULL, error_message TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE INDEX tb_override_rule_order ON tb_override_rule(appliance_id, position);"
    "CREATE TABLE tb_approval_field(wire_name TEXT PRIMARY KEY COLLATE NOCASE, field TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE tb_active_states(task_table TEXT PRIMARY KEY, states TEXT NOT NULL);"
    "CREATE TABLE tb_approval("
    "  id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,"
    "  appliance_id INTEGER REFERENCES tb_appliance(id) ON DELETE SET NULL,"
    "  source_ip TEXT, ticket_id TEXT, username TEXT, jump_item TEXT, hostname TEXT,"
    "  allowed INTEGER NOT NULL, http_status INTEGER NOT NULL, reason TEXT NOT NULL,"
    "  latency_us INTEGER NOT NULL, task_table TEXT, task_sys_id TEXT, task_number TEXT,"
    "  raw TEXT, noted INTEGER NOT NULL DEFAULT 0);",
    /* 5 → 6: Remote Support session keys from tickets (seeds 001-003): the
     * integration properties (one row) and the keys remembered with their
     * ticket, so the pull job and the importer can tie sessions to it */
    "CREATE TABLE tb_rs_settings("
    "  id INTEGER PRIMARY KEY CHECK(id = 1),"
    "  session_keys_enabled INTEGER NOT NULL DEFAULT 1,"
    "  pull_enabled INTEGER NOT NULL DEFAULT 1,"
    "  pull_interval_s INTEGER NOT NULL DEFAULT 300,"
    "  pull_next_at INTEGER NOT NULL DEFAULT 0,"
    "  fallback_queue TEXT NOT NULL DEFAULT 'general',"
    "  key_ttl_s INTEGER NOT NULL DEFAULT 0,"
    "  key_grace_s INTEGER NOT NULL DEFAULT 3600,"
    "  incident_state_below INTEGER NOT NULL DEFAULT 6,"
    "  incident_states_excluded TEXT NOT NULL DEFAULT '',"
    "  case_states TEXT NOT NULL DEFAULT '1,10,18',"
    "  updated_at INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO tb_rs_settings(id) VALUES(1);"
    "CREATE TABLE tb_session_key("
    "  id INTEGER PRIMARY KEY,"
    "  created_at INTEGER NOT NULL,"
    "  appliance_id INTEGER REFERENCES tb_appliance(id) ON DELETE SET NULL,"
    "  task_table TEXT NOT NULL, task_sys_id TEXT NOT NULL, task_number TEXT NOT NULL,"
    "  acting_user TEXT NOT NULL, bt_username TEXT NOT NULL, queue_id TEXT NOT NULL,"
    "  external_key TEXT NOT NULL, short_key TEXT, key_url TEXT, expires_at INTEGER,"
    "  state TEXT NOT NULL CHECK(state IN ('issued','in_session','import_queued','imported',"
    "    'import_failed','expired','failed')),"
    "  error TEXT, lsid TEXT, session_seen_at INTEGER, import_job_id INTEGER, imported_at INTEGER,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE INDEX tb_session_key_state ON tb_session_key(state, appliance_id);"
    "CREATE INDEX tb_session_key_task ON tb_session_key(task_number);"
    "CREATE INDEX tb_session_key_lsid ON tb_session_key(lsid) WHERE lsid IS NOT NULL;",
    /* 6 → 7: CSM case creation (seed 003): auto-create settings per
     * appliance (outbound event and custom links exclusive), field mappings,
     * the BeyondTrust case-field catalogue, one case per session, and the
     * record of every case decision */
    "CREATE TABLE tb_csm_config("
    "  appliance_id INTEGER PRIMARY KEY REFERENCES tb_appliance(id) ON DELETE CASCADE,"
    "  auto_create INTEGER NOT NULL DEFAULT 0, outbound_event INTEGER NOT NULL DEFAULT 0,"
    "  custom_links INTEGER NOT NULL DEFAULT 0, attended INTEGER NOT NULL DEFAULT 1,"
    "  unattended INTEGER NOT NULL DEFAULT 1, click_to_chat INTEGER NOT NULL DEFAULT 0,"
    "  portals TEXT NOT NULL DEFAULT '', required_fields TEXT NOT NULL DEFAULT '',"
    "  updated_at INTEGER NOT NULL, CHECK(NOT (outbound_event AND custom_links)));"
    "CREATE TABLE tb_csm_mapping("
    "  id INTEGER PRIMARY KEY,"
    "  appliance_id INTEGER NOT NULL REFERENCES tb_appliance(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK(kind IN ('static','dynamic','lookup','dynamic_lookup')),"
    "  label TEXT NOT NULL DEFAULT '', case_field TEXT NOT NULL, value TEXT NOT NULL DEFAULT '',"
    "  bt_field TEXT NOT NULL DEFAULT '', lookup_table TEXT NOT NULL DEFAULT '',"
    "  lookup_field TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,"
    "  UNIQUE(appliance_id, case_field));"
    "CREATE TABLE tb_case_field(name TEXT PRIMARY KEY, label TEXT NOT NULL, added_at INTEGER NOT NULL);"
    "CREATE TABLE tb_csm_case("
    "  appliance_id INTEGER NOT NULL REFERENCES tb_appliance(id) ON DELETE CASCADE,"
    "  lsid TEXT NOT NULL, case_sys_id TEXT NOT NULL, case_number TEXT NOT NULL,"
    "  origin TEXT NOT NULL, rep_username TEXT NOT NULL DEFAULT '', warnings TEXT NOT NULL DEFAULT '',"
    "  attribute_set_at INTEGER, created_at INTEGER NOT NULL,"
    "  PRIMARY KEY(appliance_id, lsid));"
    "CREATE TABLE tb_csm_log("
    "  id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
    "  appliance_id INTEGER REFERENCES tb_appliance(id) ON DELETE SET NULL,"
    "  lsid TEXT NOT NULL, origin TEXT NOT NULL, outcome TEXT NOT NULL,"
    "  case_number TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '');",
    /* 7 → 8: EPM just-in-time access (seed 004): the configuration record
     * Default, the requests EPM's webhooks created, the decisions sent back */
    "CREATE TABLE tb_epm_config("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  host TEXT NOT NULL DEFAULT '', tenant_id TEXT NOT NULL DEFAULT '',"
    "  client_id TEXT NOT NULL DEFAULT '', client_secret TEXT NOT NULL DEFAULT '',"
    "  ticket_type TEXT NOT NULL DEFAULT 'incident'"
    "    CHECK(ticket_type IN ('incident','change_request','sc_task','sc_req_item')),"
    "  active_states TEXT NOT NULL DEFAULT '',"
    "  short_description TEXT NOT NULL DEFAULT 'EPM JIT Access Request',"
    "  assignment_group TEXT NOT NULL DEFAULT '', category TEXT NOT NULL DEFAULT '',"
    "  auto_close INTEGER NOT NULL DEFAULT 0, webhook_auth TEXT NOT NULL DEFAULT '',"
    "  token_url TEXT NOT NULL DEFAULT '', ticket_url_base TEXT NOT NULL DEFAULT '',"
    "  app_decision_path TEXT NOT NULL DEFAULT '', admin_decision_path TEXT NOT NULL DEFAULT '',"
    "  admin_decision_method TEXT NOT NULL DEFAULT '', app_read_path TEXT NOT NULL DEFAULT '',"
    "  admin_id_field TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "INSERT INTO tb_epm_config(name, created_at, updated_at)"
    "  VALUES('Default', strftime('%s','now'), strftime('%s','now'));"
    "CREATE TABLE tb_jit_request("
    "  id INTEGER PRIMARY KEY, request_id TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  kind TEXT NOT NULL CHECK(kind IN ('application','admin')),"
    "  tenant_id TEXT NOT NULL, epm_ticket TEXT NOT NULL, requested_at TEXT NOT NULL,"
    "  user_name TEXT NOT NULL, host TEXT NOT NULL, application TEXT NOT NULL, reason TEXT NOT NULL,"
    "  details TEXT NOT NULL, raw TEXT NOT NULL, incoming_id INTEGER,"
    "  task_table TEXT NOT NULL, task_sys_id TEXT NOT NULL, task_number TEXT NOT NULL,"
    "  decision_state TEXT NOT NULL DEFAULT 'none'"
    "    CHECK(decision_state IN ('none','pending','accepted','failed')),"
    "  final INTEGER NOT NULL DEFAULT 0,"
    "  epm_decision TEXT, epm_decision_time TEXT, epm_decided_by TEXT, epm_duration TEXT,"
    "  epm_start_time TEXT, epm_end_time TEXT, update_incoming_id INTEGER, epm_updated_at INTEGER,"
    "  created_ms INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX tb_jit_request_task ON tb_jit_request(task_number);"
    "CREATE INDEX tb_jit_request_epm_ticket ON tb_jit_request(epm_ticket);"
    "CREATE TABLE tb_jit_decision("
    "  id INTEGER PRIMARY KEY,"
    "  request INTEGER NOT NULL REFERENCES tb_jit_request(id) ON DELETE CASCADE,"
    "  decision TEXT NOT NULL CHECK(decision IN ('Approved','Denied')),"
    "  reason TEXT NOT NULL, duration TEXT NOT NULL, performed_by TEXT NOT NULL,"
    "  decision_time TEXT NOT NULL, body TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'queued' CHECK(state IN ('queued','accepted','failed')),"
    "  http_status INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',"
    "  attempts INTEGER NOT NULL DEFAULT 0, job_id INTEGER,"
    "  created_at INTEGER NOT NULL, finished_at INTEGER);"
    "CREATE INDEX tb_jit_decision_request ON tb_jit_decision(request);"
    "CREATE INDEX tb_jit_decision_job ON tb_jit_decision(job_id);",
    /* 8 → 9: the outbox of writes to a remote ticket store */
    "CREATE TABLE tb_ticket_write("
    "  id INTEGER PRIMARY KEY,"
    "  job_id INTEGER NOT NULL,"
    "  op TEXT NOT NULL CHECK(op IN ('journal','update')),"
    "  tbl TEXT NOT NULL, sys_id TEXT NOT NULL,"
    "  element TEXT, author TEXT, marker TEXT, body TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX tb_ticket_write_job ON tb_ticket_write(job_id);",
    /* 9 → 10: OAuth clients of /oauth_token.do. Their access tokens are API
     * tokens (tb_api_token), linked to the client so that removing it
     * removes them; refresh tokens are kept hashed, with their own expiry. */
    "CREATE TABLE tb_oauth_client("
    "  id INTEGER PRIMARY KEY,"
    "  client_id TEXT NOT NULL UNIQUE,"
    "  secret_hash TEXT NOT NULL,"
    "  run_as INTEGER REFERENCES tb_account(id) ON DELETE SET NULL,"
    "  lifetime INTEGER NOT NULL DEFAULT 1800,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE tb_oauth_access("
    "  token_id INTEGER PRIMARY KEY REFERENCES tb_api_token(id) ON DELETE CASCADE,"
    "  client INTEGER NOT NULL REFERENCES tb_oauth_client(id) ON DELETE CASCADE,"
    "  expires_at INTEGER NOT NULL);"
    "CREATE INDEX tb_oauth_access_client ON tb_oauth_access(client);"
    "CREATE INDEX tb_oauth_access_expiry ON tb_oauth_access(expires_at);"
    "CREATE TABLE tb_oauth_refresh("
    "  id INTEGER PRIMARY KEY,"
    "  client INTEGER NOT NULL REFERENCES tb_oauth_client(id) ON DELETE CASCADE,"
    "  account_id INTEGER NOT NULL REFERENCES tb_account(id) ON DELETE CASCADE,"
    "  token_hash TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);"
    "CREATE INDEX tb_oauth_refresh_client ON tb_oauth_refresh(client);"
    "CREATE INDEX tb_oauth_refresh_expiry ON tb_oauth_refresh(expires_at);",
};

static tb_err schema_version(tb_store *st, int *out)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT value FROM tb_meta WHERE key = 'schema_version'", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 1;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}

tb_err store_schema(tb_store *st)
{
    tb_err e = store_exec(st, "BEGIN IMMEDIATE;");
    if (e)
        return e;
    e = store_exec(st, schema_sql);
    int v = 1;
    if (!e)
        e = schema_version(st, &v);
    const int target = 1 + (int)(sizeof migrations / sizeof *migrations);
    for (; !e && v < target; v++)
        e = store_exec(st, migrations[v - 1]);
    if (!e) {
        char sql[96];
        snprintf(sql, sizeof sql, "UPDATE tb_meta SET value = '%d' WHERE key = 'schema_version';", target);
        e = store_exec(st, sql);
    }
    if (e) {
        store_rollback(st);
        return e;
    }
    return store_commit(st);
}

tb_err store_begin(tb_store *st)
{
    return store_exec(st, "BEGIN IMMEDIATE;");
}

tb_err store_commit(tb_store *st)
{
    return store_exec(st, "COMMIT;");
}

void store_rollback(tb_store *st)
{
    sqlite3_exec(st->db, "ROLLBACK;", NULL, NULL, NULL);
}

tb_err store_data_version(tb_store *st, int64_t *out)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "PRAGMA data_version;", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? TB_OK : store_rc(rc);
}

tb_err store_touch(tb_store *st)
{
    return store_exec(st, "INSERT OR REPLACE INTO tb_meta(key, value)"
                          " VALUES('last_write_check', strftime('%s','now'));");
}

tb_err store_autocheckpoint_off(tb_store *st)
{
    return store_exec(st, "PRAGMA wal_autocheckpoint=0;");
}

tb_err store_checkpoint(tb_store *st)
{
    return store_rc(sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL));
}

tb_err store_checkpoint_bounded(tb_store *st, int64_t max_bytes, int64_t *wal_bytes)
{
    char wal[TB_STORE_PATH_MAX + 8];
    const char *db = sqlite3_db_filename(st->db, "main");
    struct stat sb;
    int64_t size = 0;
    if (db && *db && snprintf(wal, sizeof wal, "%s-wal", db) < (int)sizeof wal && stat(wal, &sb) == 0)
        size = (int64_t)sb.st_size;
    if (wal_bytes)
        *wal_bytes = size;
    /* PASSIVE first, without blocking anyone: the RESTART after it then
     * only has the frames written meanwhile left to copy, so it holds the
     * writer back for milliseconds rather than for the whole WAL. */
    int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc == SQLITE_OK && size > max_bytes)
        rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    return store_rc(rc);
}

sqlite3 *store_sqlite3(tb_store *st)
{
    return st->db;
}
