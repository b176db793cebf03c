/* The job queue's state changes. Claims and completions run through the
 * writer (one connection, group-committed), never concurrently. */
#include "store/store_sqlite.h"

#include <stdio.h>
#include <string.h>

tb_err store_job_claim(tb_store *st, const char *const *kinds, size_t nkinds, int64_t now,
                       tb_job_claim *out)
{
    if (!nkinds || nkinds > STORE_JOB_KINDS_MAX)
        return TB_ERR_INVALID;
    char sql[640];
    int n = snprintf(sql, sizeof sql,
                     "UPDATE tb_job SET state = 'running', attempts = attempts + 1, updated_at = ?1"
                     " WHERE id = (SELECT id FROM tb_job WHERE state = 'queued' AND run_after <= ?1"
                     " AND kind IN (?2");
    for (size_t i = 1; i < nkinds; i++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, ",?%zu", i + 2);
    snprintf(sql + n, sizeof sql - (size_t)n,
             ") ORDER BY run_after, id LIMIT 1)"
             " RETURNING id, kind, coalesce(appliance_id, 0), coalesce(lsid, ''),"
             " coalesce(incoming_id, 0), attempts, created_at");
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, now);
    for (size_t i = 0; i < nkinds; i++)
        sqlite3_bind_text(s, (int)i + 2, kinds[i], -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    tb_err e;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->id = sqlite3_column_int64(s, 0);
        snprintf(out->kind, sizeof out->kind, "%s", (const char *)sqlite3_column_text(s, 1));
        out->appliance_id = sqlite3_column_int64(s, 2);
        snprintf(out->lsid, sizeof out->lsid, "%s", (const char *)sqlite3_column_text(s, 3));
        out->incoming_id = sqlite3_column_int64(s, 4);
        out->attempts = sqlite3_column_int(s, 5);
        out->requested_at = sqlite3_column_int64(s, 6);
        rc = sqlite3_step(s);   /* finish the statement */
        e = rc == SQLITE_DONE ? TB_OK : store_rc(rc);
    } else {
        e = rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    }
    sqlite3_finalize(s);
    return e;
}

tb_err store_job_finish(tb_store *st, int64_t id, const char *state, int64_t run_after,
                        const char *last_error, int64_t now)
{
    if (strcmp(state, "done") && strcmp(state, "failed") && strcmp(state, "queued"))
        return TB_ERR_INVALID;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "UPDATE tb_job SET state = ?1, run_after = ?2, last_error = ?3, updated_at = ?4"
        " WHERE id = ?5 AND state = 'running'", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, run_after);
    if (last_error)
        sqlite3_bind_text(s, 3, last_error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);
    sqlite3_bind_int64(s, 5, id);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    return sqlite3_changes(st->db) ? TB_OK : TB_ERR_NOT_FOUND;
}

static tb_err update_count(tb_store *st, const char *sql, int64_t a, int64_t b, int64_t *count)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, a);
    sqlite3_bind_int64(s, 2, b);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (count)
        *count = sqlite3_changes(st->db);
    return TB_OK;
}

tb_err store_job_requeue(tb_store *st, int64_t id, int64_t now, int64_t *count)
{
    if (id)
        return update_count(st,
            "UPDATE tb_job SET state = 'queued', run_after = 0, attempts = 0, updated_at = ?1, created_at = ?1"
            " WHERE id = ?2 AND state IN ('failed', 'done')", now, id, count);
    return update_count(st,
        "UPDATE tb_job SET state = 'queued', run_after = 0, attempts = 0, updated_at = ?1, created_at = ?1"
        " WHERE state = 'failed' AND ?2 = 0", now, 0, count);
}

tb_err store_job_recover(tb_store *st, int64_t now, int64_t *count)
{
    return update_count(st,
        "UPDATE tb_job SET state = 'queued', updated_at = ?1,"
        " last_error = 'interrupted: ticketbridge stopped while the job was running'"
        " WHERE state = 'running' AND ?2 = 0", now, 0, count);
}
