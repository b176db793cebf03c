/* The reconciler's bookkeeping: when each appliance is polled next, from
 * where its next listing starts, and queueing imports it found missing. */
#include "store/store_sqlite.h"

tb_err store_poll_schedule(tb_store *st, int64_t now, int64_t *queued)
{
    sqlite3_stmt *due;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT a.id, a.poll_interval FROM tb_appliance a LEFT JOIN tb_poll_state p ON p.appliance_id = a.id"
        " WHERE a.integration_enabled AND a.poll_interval > 0 AND a.client_id <> '' AND a.client_secret <> ''"
        " AND coalesce(p.next_at, 0) <= ?1"
        " AND NOT EXISTS (SELECT 1 FROM tb_job j WHERE j.kind = 'reconcile' AND j.appliance_id = a.id"
        "                 AND j.state IN ('queued', 'running'))", -1, &due, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(due, 1, now);
    int64_t n = 0;
    tb_err e = TB_OK;
    while (!e && (rc = sqlite3_step(due)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(due, 0), interval = sqlite3_column_int64(due, 1);
        sqlite3_stmt *s;
        rc = sqlite3_prepare_v2(st->db,
            "INSERT INTO tb_job(kind, appliance_id, run_after, created_at, updated_at)"
            " VALUES('reconcile', ?1, 0, ?2, ?2)", -1, &s, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(s, 1, id);
            sqlite3_bind_int64(s, 2, now);
            rc = sqlite3_step(s);
            sqlite3_finalize(s);
        }
        if (rc != SQLITE_DONE && rc != SQLITE_OK) {
            e = store_rc(rc);
            break;
        }
        rc = sqlite3_prepare_v2(st->db,
            "INSERT INTO tb_poll_state(appliance_id, since, next_at) VALUES(?1, 0, ?2)"
            " ON CONFLICT(appliance_id) DO UPDATE SET next_at = excluded.next_at", -1, &s, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(s, 1, id);
            sqlite3_bind_int64(s, 2, now + interval);
            rc = sqlite3_step(s);
            sqlite3_finalize(s);
        }
        if (rc != SQLITE_DONE && rc != SQLITE_OK)
            e = store_rc(rc);
        n++;
    }
    if (!e && rc != SQLITE_DONE)
        e = store_rc(rc);
    sqlite3_finalize(due);
    if (!e && queued)
        *queued = n;
    return e;
}

tb_err store_poll_since(tb_store *st, int64_t appliance_id, int64_t now, int64_t first_lookback, int64_t *since)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT since FROM tb_poll_state WHERE appliance_id = ?", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, appliance_id);
    rc = sqlite3_step(s);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_rc(rc);
    *since = v > 0 ? v : now - first_lookback;
    return TB_OK;
}

tb_err store_queue_import(tb_store *st, int64_t appliance_id, const char *lsid, int64_t now, int64_t run_after,
                          int *queued)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_job(kind, appliance_id, lsid, run_after, created_at, updated_at)"
        " SELECT 'session_import', ?1, ?2, ?4, ?3, ?3"
        " WHERE NOT EXISTS (SELECT 1 FROM tb_session WHERE appliance_id = ?1 AND lsid = ?2)"
        " AND NOT EXISTS (SELECT 1 FROM tb_job WHERE kind = 'session_import' AND appliance_id = ?1"
        "                 AND lsid = ?2 AND state IN ('queued', 'running'))", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, appliance_id);
    sqlite3_bind_text(s, 2, lsid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, run_after);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    *queued = sqlite3_changes(st->db) > 0;
    return TB_OK;
}

tb_err store_poll_done(tb_store *st, int64_t appliance_id, int64_t since, int64_t now, int64_t found,
                       int64_t queued)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_poll_state(appliance_id, since, next_at, last_poll_at, last_found, last_queued)"
        " VALUES(?1, ?2, 0, ?3, ?4, ?5) ON CONFLICT(appliance_id) DO UPDATE SET since = excluded.since,"
        " last_poll_at = excluded.last_poll_at, last_found = excluded.last_found,"
        " last_queued = excluded.last_queued", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, appliance_id);
    sqlite3_bind_int64(s, 2, since);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, found);
    sqlite3_bind_int64(s, 5, queued);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}
