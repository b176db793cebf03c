/* Helpers shared by the unit tests. */
#ifndef TB_TESTS_TESTUTIL_H
#define TB_TESTS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A fresh, unused file name under $TMPDIR (else /tmp) for a test database.
 * Returns 0, or -1 if no name could be made. */
static inline int test_db_path(char *out, size_t outsz, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(out, outsz, "%s/%s_XXXXXX", tmp, tag);
    int fd = mkstemp(out);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(out);
    return 0;
}

/* Removes a test database with its WAL, shared-memory and journal files. */
static inline void test_db_remove(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char p[1100];
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        unlink(p);
    }
}

/* Turns a current database back into schema version `version` by undoing
 * every later migration (newest first), so migration tests can replay them.
 * Add the undo of each new migration here. Returns SQLite's result code. */
#include <sqlite3.h>
static inline int test_schema_downgrade(sqlite3 *db, int version)
{
    static const char *const undo[] = {
        /* [v] undoes the migration v-1 → v */
        [2] = "DROP TABLE tb_poll_state; ALTER TABLE tb_appliance DROP COLUMN poll_interval;",
        [3] = "DROP TABLE tb_event_type;",
        [4] = "DROP TABLE tb_api_token; DROP TRIGGER tb_account_ins; DROP TRIGGER tb_account_upd;"
              "DROP TRIGGER tb_account_del; ALTER TABLE tb_account DROP COLUMN disabled;"
              "ALTER TABLE tb_account DROP COLUMN updated_at;"
              "ALTER TABLE tb_account DROP COLUMN password_changed_at;"
              "DELETE FROM tb_meta WHERE key = 'auth_version';",
        [5] = "DROP TABLE tb_override_rule; DROP TABLE tb_approval_field;"
              "DROP TABLE tb_active_states; DROP TABLE tb_approval;"
              "ALTER TABLE tb_appliance DROP COLUMN override_change_management;"
              "ALTER TABLE tb_appliance DROP COLUMN approval_record_type;"
              "ALTER TABLE tb_appliance DROP COLUMN approval_timeout_ms;",
        [6] = "DROP TABLE tb_session_key; DROP TABLE tb_rs_settings;",
        [7] = "DROP TABLE tb_csm_config; DROP TABLE tb_csm_mapping; DROP TABLE tb_case_field;"
              "DROP TABLE tb_csm_case; DROP TABLE tb_csm_log;",
        [8] = "DROP TABLE tb_jit_decision; DROP TABLE tb_jit_request; DROP TABLE tb_epm_config;",
        [9] = "DROP TABLE tb_ticket_write;",
        [10] = "DROP TABLE tb_oauth_refresh; DROP TABLE tb_oauth_access; DROP TABLE tb_oauth_client;",
    };
    const int latest = (int)(sizeof undo / sizeof *undo) - 1;
    for (int v = latest; v > version; v--) {
        int rc = sqlite3_exec(db, undo[v], NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE tb_meta SET value = '%d' WHERE key = 'schema_version';", version);
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

#endif
