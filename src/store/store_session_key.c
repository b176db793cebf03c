/* Remote Support integration properties and remembered session keys. */
#include "store/store_session_key.h"
#include "store/store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_col(sqlite3_stmt *s, int col, char *out, size_t outsz)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(out, outsz, "%s", t ? (const char *)t : "");
}

/* Runs a statement that returns no rows; *changes when not NULL. */
static tb_err step_done(tb_store *st, sqlite3_stmt *s, int64_t *changes)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (changes)
        *changes += sqlite3_changes(st->db);
    return TB_OK;
}

/* ---- settings ---- */

tb_err store_rs_settings_get(tb_store *st, tb_rs_settings *out)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT session_keys_enabled, pull_enabled, pull_interval_s, pull_next_at, fallback_queue, key_ttl_s,"
        " key_grace_s, incident_state_below, incident_states_excluded, case_states, updated_at"
        " FROM tb_rs_settings WHERE id = 1", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    rc = sqlite3_step(s);
    tb_err e = TB_OK;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->session_keys_enabled = sqlite3_column_int(s, 0) != 0;
        out->pull_enabled = sqlite3_column_int(s, 1) != 0;
        out->pull_interval_s = sqlite3_column_int64(s, 2);
        out->pull_next_at = sqlite3_column_int64(s, 3);
        copy_col(s, 4, out->fallback_queue, sizeof out->fallback_queue);
        out->key_ttl_s = sqlite3_column_int64(s, 5);
        out->key_grace_s = sqlite3_column_int64(s, 6);
        out->incident_state_below = sqlite3_column_int64(s, 7);
        copy_col(s, 8, out->incident_states_excluded, sizeof out->incident_states_excluded);
        copy_col(s, 9, out->case_states, sizeof out->case_states);
        out->updated_at = sqlite3_column_int64(s, 10);
    } else {
        e = rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    }
    sqlite3_finalize(s);
    return e;
}

tb_err store_rs_settings_put(tb_store *st, const tb_rs_settings *v, int64_t now)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "UPDATE tb_rs_settings SET session_keys_enabled = ?1, pull_enabled = ?2, pull_interval_s = ?3,"
        " fallback_queue = ?4, key_ttl_s = ?5, key_grace_s = ?6, incident_state_below = ?7,"
        " incident_states_excluded = ?8, case_states = ?9, updated_at = ?10,"
        /* a shorter interval takes effect now, not after the old one */
        " pull_next_at = min(pull_next_at, ?10 + ?3) WHERE id = 1", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int(s, 1, v->session_keys_enabled);
    sqlite3_bind_int(s, 2, v->pull_enabled);
    sqlite3_bind_int64(s, 3, v->pull_interval_s);
    sqlite3_bind_text(s, 4, v->fallback_queue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, v->key_ttl_s);
    sqlite3_bind_int64(s, 6, v->key_grace_s);
    sqlite3_bind_int64(s, 7, v->incident_state_below);
    sqlite3_bind_text(s, 8, v->incident_states_excluded, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, v->case_states, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 10, now);
    int64_t n = 0;
    tb_err e = step_done(st, s, &n);
    return e ? e : n ? TB_OK : TB_ERR_NOT_FOUND;
}

/* ---- keys ---- */

tb_err store_session_key_insert(tb_store *st, const tb_session_key_rec *r, int64_t *id)
{
    if (!r->task_table || !r->task_sys_id || !r->task_number || !r->acting_user || !r->bt_username ||
        !r->queue_id || !r->external_key || !r->state)
        return TB_ERR_INVALID;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_session_key(created_at, appliance_id, task_table, task_sys_id, task_number, acting_user,"
        " bt_username, queue_id, external_key, short_key, key_url, expires_at, state, error, updated_at)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?1)", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, r->created_at);
    if (r->appliance_id)
        sqlite3_bind_int64(s, 2, r->appliance_id);
    else
        sqlite3_bind_null(s, 2);
    sqlite3_bind_text(s, 3, r->task_table, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, r->task_sys_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, r->task_number, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, r->acting_user, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, r->bt_username, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, r->queue_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, r->external_key, -1, SQLITE_STATIC);
    store_bind_text(s, 10, r->short_key);
    store_bind_text(s, 11, r->key_url);
    if (r->expires_at)
        sqlite3_bind_int64(s, 12, r->expires_at);
    else
        sqlite3_bind_null(s, 12);
    sqlite3_bind_text(s, 13, r->state, -1, SQLITE_STATIC);
    store_bind_text(s, 14, r->error);
    tb_err e = step_done(st, s, NULL);
    if (!e && id)
        *id = sqlite3_last_insert_rowid(st->db);
    return e;
}

void tb_session_keys_free(tb_session_key *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        tb_session_key *k = &v[i];
        char *strs[] = {k->appliance, k->task_table, k->task_sys_id, k->task_number, k->acting_user,
                        k->bt_username, k->queue_id, k->external_key, k->short_key, k->key_url, k->state,
                        k->error, k->lsid};
        for (size_t j = 0; j < sizeof strs / sizeof *strs; j++)
            free(strs[j]);
    }
    free(v);
}

tb_err store_session_key_list(tb_store *st, const tb_session_key_filter *f, tb_session_key **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT k.id, k.created_at, coalesce(k.appliance_id, 0), coalesce(k.expires_at, 0),"
        " coalesce(k.session_seen_at, 0), coalesce(k.import_job_id, 0), coalesce(k.imported_at, 0), k.updated_at,"
        " coalesce(a.name, ''), k.task_table, k.task_sys_id, k.task_number, k.acting_user, k.bt_username,"
        " k.queue_id, k.external_key, coalesce(k.short_key, ''), coalesce(k.key_url, ''), k.state,"
        " coalesce(k.error, ''), coalesce(k.lsid, '')"
        " FROM tb_session_key k LEFT JOIN tb_appliance a ON a.id = k.appliance_id"
        " WHERE (?1 IS NULL OR k.task_number = ?1) AND (?2 IS NULL OR k.state = ?2)"
        " AND (?3 = 0 OR k.appliance_id = ?3) AND (?4 = 0 OR k.state IN ('issued', 'in_session'))"
        " ORDER BY k.id DESC LIMIT ?5", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    store_bind_text(s, 1, f ? f->task_number : NULL);
    store_bind_text(s, 2, f ? f->state : NULL);
    sqlite3_bind_int64(s, 3, f ? f->appliance_id : 0);
    sqlite3_bind_int(s, 4, f && f->pending);
    sqlite3_bind_int64(s, 5, f && f->limit ? (int64_t)f->limit : 100);
    tb_session_key *v = NULL;
    size_t cnt = 0, cap = 0;
    tb_err e = TB_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            tb_session_key *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                e = TB_ERR_NOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        tb_session_key *k = &v[cnt++];
        memset(k, 0, sizeof *k);
        int64_t *nums[] = {&k->id, &k->created_at, &k->appliance_id, &k->expires_at, &k->session_seen_at,
                           &k->import_job_id, &k->imported_at, &k->updated_at};
        for (int i = 0; i < 8; i++)
            *nums[i] = sqlite3_column_int64(s, i);
        char **strs[] = {&k->appliance, &k->task_table, &k->task_sys_id, &k->task_number, &k->acting_user,
                         &k->bt_username, &k->queue_id, &k->external_key, &k->short_key, &k->key_url,
                         &k->state, &k->error, &k->lsid};
        for (int i = 0; i < 13; i++)
            if (!(*strs[i] = store_col_strdup(s, 8 + i)))
                e = TB_ERR_NOMEM;
        if (e)
            break;
    }
    if (!e && rc != SQLITE_DONE)
        e = store_rc(rc);
    sqlite3_finalize(s);
    if (e) {
        tb_session_keys_free(v, cnt);
        return e;
    }
    *out = v;
    *n = cnt;
    return TB_OK;
}

/* ---- the pull's bookkeeping ---- */

static tb_err exec_now(tb_store *st, const char *sql, int64_t now, int64_t arg2, int64_t *changed)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, now);
    if (sqlite3_bind_parameter_count(s) >= 2)
        sqlite3_bind_int64(s, 2, arg2);
    return step_done(st, s, changed);
}

/* Issued keys whose ticket got a session that an outbound event imported
 * before any pull saw it. One key at a time, each claim guarded, so two keys
 * of one ticket never take the same session. */
static tb_err claim_imported(tb_store *st, int64_t now, int64_t *changed)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT k.id, (SELECT s.lsid FROM tb_session s WHERE s.appliance_id = k.appliance_id"
        "   AND s.task_sys_id = k.task_sys_id AND s.start_time >= k.created_at - ?1"
        "   AND NOT EXISTS (SELECT 1 FROM tb_session_key o WHERE o.lsid = s.lsid)"
        "   ORDER BY s.start_time, s.id LIMIT 1)"
        " FROM tb_session_key k WHERE k.state = 'issued' AND k.lsid IS NULL AND k.appliance_id IS NOT NULL",
        -1, &q, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(q, 1, SESSION_KEY_CLOCK_SKEW_S);
    struct claim { int64_t id; char lsid[65]; } *v = NULL;
    size_t n = 0, cap = 0;
    tb_err e = TB_OK;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (sqlite3_column_type(q, 1) == SQLITE_NULL)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct claim *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                e = TB_ERR_NOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n].id = sqlite3_column_int64(q, 0);
        copy_col(q, 1, v[n].lsid, sizeof v[n].lsid);
        n++;
    }
    if (!e && rc != SQLITE_DONE)
        e = store_rc(rc);
    sqlite3_finalize(q);
    for (size_t i = 0; !e && i < n; i++) {
        sqlite3_stmt *s;
        rc = sqlite3_prepare_v2(st->db,
            "UPDATE tb_session_key SET lsid = ?1, state = 'imported', session_seen_at = ?2, imported_at = ?2,"
            " updated_at = ?2 WHERE id = ?3 AND state = 'issued'"
            " AND NOT EXISTS (SELECT 1 FROM tb_session_key o WHERE o.lsid = ?1)", -1, &s, NULL);
        if (rc != SQLITE_OK) {
            e = store_rc(rc);
            break;
        }
        sqlite3_bind_text(s, 1, v[i].lsid, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, now);
        sqlite3_bind_int64(s, 3, v[i].id);
        e = step_done(st, s, changed);
    }
    free(v);
    return e;
}

tb_err store_session_key_sweep(tb_store *st, int64_t now, int64_t grace_s, int64_t *changed)
{
    int64_t n = 0;
    tb_err e = exec_now(st,
        "UPDATE tb_session_key SET state = 'imported', imported_at = ?1, updated_at = ?1"
        " WHERE state IN ('issued', 'in_session', 'import_queued', 'import_failed') AND lsid IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM tb_session s WHERE s.appliance_id = tb_session_key.appliance_id"
        "             AND s.lsid = tb_session_key.lsid)", now, 0, &n);
    if (!e)
        e = claim_imported(st, now, &n);
    if (!e)
        e = exec_now(st,
            "UPDATE tb_session_key SET state = 'import_failed', updated_at = ?1,"
            " error = (SELECT j.last_error FROM tb_job j WHERE j.id = tb_session_key.import_job_id)"
            " WHERE state = 'import_queued' AND import_job_id IS NOT NULL"
            " AND (SELECT j.state FROM tb_job j WHERE j.id = tb_session_key.import_job_id) = 'failed'",
            now, 0, &n);
    if (!e)
        e = exec_now(st,
            "UPDATE tb_session_key SET state = 'expired', updated_at = ?1"
            " WHERE state = 'issued' AND expires_at IS NOT NULL AND expires_at + ?2 <= ?1", now, grace_s, &n);
    if (!e && changed)
        *changed = n;
    return e;
}

static tb_err session_stored(tb_store *st, int64_t key_id, const char *lsid, bool *stored)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT EXISTS (SELECT 1 FROM tb_session s JOIN tb_session_key k ON k.appliance_id = s.appliance_id"
        " WHERE k.id = ?1 AND s.lsid = ?2)", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, key_id);
    sqlite3_bind_text(s, 2, lsid, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    *stored = rc == SQLITE_ROW && sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? TB_OK : store_rc(rc);
}

tb_err store_session_key_seen(tb_store *st, int64_t id, const char *lsid, bool ended, int64_t now, int *queued)
{
    *queued = 0;
    if (!lsid || !*lsid || strlen(lsid) > 64)
        return TB_ERR_INVALID;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT coalesce(appliance_id, 0), coalesce(lsid, ''), state FROM tb_session_key WHERE id = ?1", -1, &s,
        NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(s);
        return rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    }
    int64_t appliance_id = sqlite3_column_int64(s, 0);
    char have[65], state[16];
    copy_col(s, 1, have, sizeof have);
    copy_col(s, 2, state, sizeof state);
    sqlite3_finalize(s);
    if ((have[0] && strcmp(have, lsid)) || !appliance_id || !strcmp(state, "imported") || !strcmp(state, "failed"))
        return TB_OK;
    /* a session belongs to one key */
    rc = sqlite3_prepare_v2(st->db, "SELECT EXISTS (SELECT 1 FROM tb_session_key WHERE lsid = ?1 AND id <> ?2)", -1,
                            &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, lsid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, id);
    rc = sqlite3_step(s);
    bool other = rc == SQLITE_ROW && sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return store_rc(rc);
    if (other)
        return TB_OK;
    const char *next = "in_session";
    int64_t job_id = 0;
    bool stored = false;
    tb_err e;
    if (ended) {
        if ((e = session_stored(st, id, lsid, &stored)))
            return e;
        if (!stored) {
            if ((e = store_queue_import(st, appliance_id, lsid, now, now, queued)))
                return e;
            if (*queued)
                job_id = sqlite3_last_insert_rowid(st->db);
        }
        next = stored ? "imported" : "import_queued";
    }
    rc = sqlite3_prepare_v2(st->db,
        "UPDATE tb_session_key SET lsid = ?1, state = ?2, session_seen_at = coalesce(session_seen_at, ?3),"
        " import_job_id = CASE WHEN ?4 > 0 THEN ?4 ELSE import_job_id END,"
        " imported_at = CASE WHEN ?2 = 'imported' THEN ?3 ELSE imported_at END, updated_at = ?3"
        " WHERE id = ?5", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, lsid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, next, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, job_id);
    sqlite3_bind_int64(s, 5, id);
    return step_done(st, s, NULL);
}

tb_err store_session_key_claimed(tb_store *st, const char *lsid, bool *claimed)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT EXISTS (SELECT 1 FROM tb_session_key WHERE lsid = ?1)", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, lsid ? lsid : "", -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    *claimed = rc == SQLITE_ROW && sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? TB_OK : store_rc(rc);
}

tb_err store_session_key_pull_schedule(tb_store *st, int64_t now, bool force, int64_t *queued)
{
    if (queued)
        *queued = 0;
    tb_rs_settings set;
    tb_err e = store_rs_settings_get(st, &set);
    if (e)
        return e;
    if (!force && (!set.pull_enabled || set.pull_next_at > now))
        return TB_OK;
    int64_t n = 0;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_job(kind, appliance_id, run_after, created_at, updated_at)"
        " SELECT '" SESSION_KEY_PULL_JOB_KIND "', k.appliance_id, 0, ?1, ?1 FROM tb_session_key k"
        " WHERE k.state IN ('issued', 'in_session', 'import_queued') AND k.appliance_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM tb_job j WHERE j.state IN ('queued', 'running')"
        "                 AND j.kind = '" SESSION_KEY_PULL_JOB_KIND "' AND j.appliance_id = k.appliance_id)"
        " GROUP BY k.appliance_id", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, now);
    if ((e = step_done(st, s, &n)))
        return e;
    if (!force && (e = exec_now(st, "UPDATE tb_rs_settings SET pull_next_at = ?1 + ?2 WHERE id = 1", now,
                                set.pull_interval_s > 0 ? set.pull_interval_s : 300, NULL)))
        return e;
    if (queued)
        *queued = n;
    return TB_OK;
}

tb_err store_session_key_task(tb_store *st, int64_t appliance_id, const char *lsid, const char *external_key,
                              char table[64], char sys_id[33], char number[64])
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT task_table, task_sys_id, task_number FROM tb_session_key"
        " WHERE appliance_id = ?1 AND state <> 'failed'"
        " AND (lsid = ?2 OR (?3 <> '' AND task_number = ?3 AND external_key = ?3))"
        " ORDER BY (lsid IS NOT NULL AND lsid = ?2) DESC, id DESC LIMIT 1", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, appliance_id);
    sqlite3_bind_text(s, 2, lsid ? lsid : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, external_key ? external_key : "", -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    tb_err e = TB_OK;
    if (rc == SQLITE_ROW) {
        copy_col(s, 0, table, 64);
        copy_col(s, 1, sys_id, 33);
        copy_col(s, 2, number, 64);
    } else {
        e = rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    }
    sqlite3_finalize(s);
    return e;
}
