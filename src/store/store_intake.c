/* Incoming requests and the jobs they queue. store_intake_apply is the hot
 * path of the outbound-event intake: it runs inside the writer's batch
 * transaction with cached statements. */
#include "store/store_sqlite.h"

#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {
    [INCOMING_ACCEPTED] = "accepted",
    [INCOMING_IGNORED] = "ignored",
    [INCOMING_DUPLICATE] = "duplicate",
    [INCOMING_REJECTED] = "rejected",
};

const char *tb_incoming_status_name(tb_incoming_status s)
{
    return (unsigned)s < sizeof status_names / sizeof *status_names ? status_names[s] : "unknown";
}

static tb_err step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}

static tb_err find_dedup(tb_store *st, const unsigned char *key, int64_t *orig)
{
    sqlite3_stmt *s;
    tb_err e = store_stmt(st, STMT_INC_FIND_DEDUP, "SELECT id FROM tb_incoming WHERE dedup_key = ?", &s);
    if (e)
        return e;
    sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *orig = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}

/* One INSERT into tb_incoming. Returns TB_ERR_EXISTS when key is taken. */
static tb_err insert_incoming(tb_store *st, const tb_intake_rec *r, tb_incoming_status status,
                              const unsigned char *key, int64_t orig)
{
    sqlite3_stmt *s;
    tb_err e = store_stmt(st, STMT_INC_INSERT,
        "INSERT INTO tb_incoming(received_ms, route, method, source_ip, appliance_id, event, lsid,"
        " status, http_status, reason, dedup_key, duplicate_of, content_type, body, body_truncated)"
        " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, r->received_ms);
    store_bind_text(s, 2, r->route ? r->route : "");
    store_bind_text(s, 3, r->method ? r->method : "");
    store_bind_text(s, 4, r->source_ip ? r->source_ip : "");
    if (r->appliance_id)
        sqlite3_bind_int64(s, 5, r->appliance_id);
    store_bind_text(s, 6, r->event);
    store_bind_text(s, 7, r->lsid);
    sqlite3_bind_text(s, 8, tb_incoming_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 9, r->http_status);
    store_bind_text(s, 10, status == INCOMING_DUPLICATE ? "retried delivery of an event already stored"
                                                      : r->reason);
    if (key)
        sqlite3_bind_blob(s, 11, key, 32, SQLITE_STATIC);
    if (orig)
        sqlite3_bind_int64(s, 12, orig);
    store_bind_text(s, 13, r->content_type);
    if (r->body)
        sqlite3_bind_blob64(s, 14, r->body, r->body_len, SQLITE_STATIC);
    sqlite3_bind_int(s, 15, r->body_truncated);
    int rc = sqlite3_step(s);
    int xrc = sqlite3_extended_errcode(st->db);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return TB_OK;
    if (xrc == SQLITE_CONSTRAINT_UNIQUE && key)
        return TB_ERR_EXISTS;
    return store_rc(rc);
}

tb_err store_intake_apply(tb_store *st, const tb_intake_rec *r, tb_intake_result *res)
{
    tb_incoming_status status = r->status;
    const unsigned char *key = status == INCOMING_REJECTED ? NULL : r->dedup_key;
    int64_t orig = 0;
    /* Insert first and let the unique index detect the retry: the common
     * case costs one statement. A failed INSERT only undoes itself. */
    tb_err e = insert_incoming(st, r, status, key, 0);
    if (e == TB_ERR_EXISTS) {
        if ((e = find_dedup(st, key, &orig)))
            return e;
        status = INCOMING_DUPLICATE;
        e = insert_incoming(st, r, status, NULL, orig);
    }
    if (e)
        return e;
    res->incoming_id = sqlite3_last_insert_rowid(st->db);
    res->duplicate_of = orig;
    res->job_id = 0;

    if (status != INCOMING_ACCEPTED || !r->job_kind)
        return TB_OK;
    sqlite3_stmt *s;
    e = store_stmt(st, STMT_JOB_INSERT,
        "INSERT INTO tb_job(kind, appliance_id, lsid, incoming_id, run_after, created_at, updated_at)"
        " VALUES(?,?,?,?,0,?5,?5)", &s);
    if (e)
        return e;
    sqlite3_bind_text(s, 1, r->job_kind, -1, SQLITE_STATIC);
    if (r->appliance_id)
        sqlite3_bind_int64(s, 2, r->appliance_id);
    store_bind_text(s, 3, r->lsid);
    sqlite3_bind_int64(s, 4, res->incoming_id);
    sqlite3_bind_int64(s, 5, r->received_ms / 1000);
    if ((e = step_done(s)))
        return e;
    res->job_id = sqlite3_last_insert_rowid(st->db);
    return TB_OK;
}

/* ---- listing ---- */

void tb_incoming_free(tb_incoming *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tb_incoming *r = &v[i];
        free(r->route);
        free(r->method);
        free(r->source_ip);
        free(r->appliance);
        free(r->event);
        free(r->lsid);
        free(r->status);
        free(r->reason);
        free(r->content_type);
        free(r->body);
    }
    free(v);
}

tb_err store_incoming_list(tb_store *st, const tb_incoming_filter *f, tb_incoming **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT i.id, i.received_ms, i.route, i.method, i.source_ip, coalesce(a.name, ''),"
        " i.event, i.lsid, i.status, i.http_status, i.reason, coalesce(i.duplicate_of, 0),"
        " coalesce((SELECT j.id FROM tb_job j WHERE j.incoming_id = i.id), 0),"
        " i.content_type, i.body, i.body_truncated"
        " FROM tb_incoming i LEFT JOIN tb_appliance a ON a.id = i.appliance_id"
        " WHERE (?1 IS NULL OR i.status = ?1) AND (?2 = 0 OR i.id = ?2)"
        " ORDER BY i.id DESC LIMIT ?3", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    store_bind_text(s, 1, f->status);
    sqlite3_bind_int64(s, 2, f->id);
    sqlite3_bind_int64(s, 3, f->limit ? (int64_t)f->limit : 50);
    tb_incoming *v = NULL;
    size_t cnt = 0, cap = 0;
    tb_err e = TB_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            tb_incoming *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                e = TB_ERR_NOMEM;
                break;
            }
            v = nv;
        }
        tb_incoming *r = &v[cnt++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(s, 0);
        r->received_ms = sqlite3_column_int64(s, 1);
        r->route = store_col_strdup(s, 2);
        r->method = store_col_strdup(s, 3);
        r->source_ip = store_col_strdup(s, 4);
        r->appliance = store_col_strdup(s, 5);
        r->event = store_col_strdup(s, 6);
        r->lsid = store_col_strdup(s, 7);
        r->status = store_col_strdup(s, 8);
        r->http_status = sqlite3_column_int(s, 9);
        r->reason = store_col_strdup(s, 10);
        r->duplicate_of = sqlite3_column_int64(s, 11);
        r->job_id = sqlite3_column_int64(s, 12);
        r->content_type = store_col_strdup(s, 13);
        r->body = store_col_strdup(s, 14);
        r->body_len = (size_t)sqlite3_column_bytes(s, 14);
        r->body_truncated = sqlite3_column_int(s, 15) != 0;
        if (!r->route || !r->method || !r->source_ip || !r->appliance || !r->event || !r->lsid ||
            !r->status || !r->reason || !r->content_type || !r->body) {
            e = TB_ERR_NOMEM;
            break;
        }
    }
    if (!e && rc != SQLITE_DONE)
        e = store_rc(rc);
    sqlite3_finalize(s);
    if (e) {
        tb_incoming_free(v, cnt);
        return e;
    }
    *out = v;
    *n = cnt;
    return TB_OK;
}

void tb_jobs_free(tb_job *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].kind);
        free(v[i].state);
        free(v[i].appliance);
        free(v[i].lsid);
        free(v[i].last_error);
    }
    free(v);
}

tb_err store_job_list(tb_store *st, const tb_job_filter *f, tb_job **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT j.id, j.kind, j.state, coalesce(a.name, ''), j.lsid, j.last_error, j.incoming_id,"
        " j.attempts, j.created_at, j.updated_at, j.run_after"
        " FROM tb_job j LEFT JOIN tb_appliance a ON a.id = j.appliance_id"
        " WHERE (?1 IS NULL OR j.state = ?1) ORDER BY j.id DESC LIMIT ?2", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    store_bind_text(s, 1, f->state);
    sqlite3_bind_int64(s, 2, f->limit ? (int64_t)f->limit : 50);
    tb_job *v = NULL;
    size_t cnt = 0, cap = 0;
    tb_err e = TB_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            tb_job *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                e = TB_ERR_NOMEM;
                break;
            }
            v = nv;
        }
        tb_job *j = &v[cnt++];
        memset(j, 0, sizeof *j);
        j->id = sqlite3_column_int64(s, 0);
        j->kind = store_col_strdup(s, 1);
        j->state = store_col_strdup(s, 2);
        j->appliance = store_col_strdup(s, 3);
        j->lsid = store_col_strdup(s, 4);
        j->last_error = store_col_strdup(s, 5);
        j->incoming_id = sqlite3_column_int64(s, 6);
        j->attempts = sqlite3_column_int(s, 7);
        j->created_at = sqlite3_column_int64(s, 8);
        j->updated_at = sqlite3_column_int64(s, 9);
        j->run_after = sqlite3_column_int64(s, 10);
        if (!j->kind || !j->state || !j->appliance || !j->lsid || !j->last_error) {
            e = TB_ERR_NOMEM;
            break;
        }
    }
    if (!e && rc != SQLITE_DONE)
        e = store_rc(rc);
    sqlite3_finalize(s);
    if (e) {
        tb_jobs_free(v, cnt);
        return e;
    }
    *out = v;
    *n = cnt;
    return TB_OK;
}

tb_err store_job_counts(tb_store *st, tb_job_counts *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT state, count(*) FROM tb_job GROUP BY state", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(s, 0);
        int64_t c = sqlite3_column_int64(s, 1);
        if (!state)
            continue;
        if (!strcmp(state, "queued"))
            out->queued = c;
        else if (!strcmp(state, "running"))
            out->running = c;
        else if (!strcmp(state, "done"))
            out->done = c;
        else if (!strcmp(state, "failed"))
            out->failed = c;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}
