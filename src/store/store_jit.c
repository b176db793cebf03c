#include "store/store_jit.h"
#include "store/store_sqlite.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---- configuration ---- */

#define CONFIG_COLS                                                                                  \
    "id, name, host, tenant_id, client_id, client_secret, ticket_type, active_states,"               \
    " short_description, assignment_group, category, auto_close, webhook_auth, token_url,"          \
    " ticket_url_base, app_decision_path, admin_decision_path, admin_decision_method, app_read_path," \
    " admin_id_field, created_at, updated_at"

void tb_epm_config_clear(tb_epm_config *c)
{
    char **strs[] = {&c->name, &c->host, &c->tenant_id, &c->client_id, &c->client_secret_sealed,
                     &c->ticket_type, &c->active_states, &c->short_description, &c->assignment_group,
                     &c->category, &c->webhook_auth_sealed, &c->token_url, &c->ticket_url_base,
                     &c->app_decision_path, &c->admin_decision_path, &c->admin_decision_method,
                     &c->app_read_path, &c->admin_id_field};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(*strs[i]);
    memset(c, 0, sizeof *c);
}

tb_err store_epm_config_get(tb_store *st, const char *name, tb_epm_config *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT " CONFIG_COLS " FROM tb_epm_config WHERE name = ?", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    tb_err e = TB_OK;
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        char **strs[] = {&out->name, &out->host, &out->tenant_id, &out->client_id, &out->client_secret_sealed,
                         &out->ticket_type, &out->active_states, &out->short_description, &out->assignment_group,
                         &out->category};
        for (int i = 0; i < 10; i++)
            if (!(*strs[i] = store_col_strdup(s, 1 + i)))
                e = TB_ERR_NOMEM;
        out->auto_close = sqlite3_column_int(s, 11) != 0;
        char **more[] = {&out->webhook_auth_sealed, &out->token_url, &out->ticket_url_base, &out->app_decision_path,
                         &out->admin_decision_path, &out->admin_decision_method, &out->app_read_path,
                         &out->admin_id_field};
        for (int i = 0; i < 8; i++)
            if (!(*more[i] = store_col_strdup(s, 12 + i)))
                e = TB_ERR_NOMEM;
        out->created_at = sqlite3_column_int64(s, 20);
        out->updated_at = sqlite3_column_int64(s, 21);
    } else {
        e = rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    }
    sqlite3_finalize(s);
    if (e)
        tb_epm_config_clear(out);
    return e;
}

tb_err store_epm_config_init(tb_store *st, int64_t now, bool *created)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT OR IGNORE INTO tb_epm_config(name, created_at, updated_at) VALUES(?1, ?2, ?2)", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, EPM_CONFIG_DEFAULT, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (created)
        *created = sqlite3_changes(st->db) > 0;
    return TB_OK;
}

tb_err store_epm_config_update(tb_store *st, const tb_epm_config *c)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "UPDATE tb_epm_config SET host=?2, tenant_id=?3, client_id=?4, client_secret=?5, ticket_type=?6,"
        " active_states=?7, short_description=?8, assignment_group=?9, category=?10, auto_close=?11,"
        " webhook_auth=?12, token_url=?13, ticket_url_base=?14, app_decision_path=?15, admin_decision_path=?16,"
        " admin_decision_method=?17, app_read_path=?18, admin_id_field=?19, updated_at=strftime('%s','now')"
        " WHERE id=?1", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, c->id);
    const char *v[] = {c->host, c->tenant_id, c->client_id, c->client_secret_sealed, c->ticket_type,
                       c->active_states, c->short_description, c->assignment_group, c->category};
    for (int i = 0; i < 9; i++)
        sqlite3_bind_text(s, 2 + i, v[i] ? v[i] : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 11, c->auto_close);
    const char *w[] = {c->webhook_auth_sealed, c->token_url, c->ticket_url_base, c->app_decision_path,
                       c->admin_decision_path, c->admin_decision_method, c->app_read_path, c->admin_id_field};
    for (int i = 0; i < 8; i++)
        sqlite3_bind_text(s, 12 + i, w[i] ? w[i] : "", -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    return sqlite3_changes(st->db) ? TB_OK : TB_ERR_NOT_FOUND;
}

/* ---- requests ---- */

tb_err store_jit_request_insert(tb_store *st, const tb_jit_request_rec *r, int64_t *id)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_jit_request(request_id, kind, tenant_id, epm_ticket, requested_at, user_name, host,"
        " application, reason, details, raw, incoming_id, task_table, task_sys_id, task_number, created_ms,"
        " updated_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?16,?16/1000)", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    const char *v[] = {r->request_id, r->kind, r->tenant_id, r->epm_ticket, r->requested_at, r->user_name,
                       r->host, r->application, r->reason, r->details, r->raw};
    for (int i = 0; i < 11; i++)
        store_bind_text_nn(s, 1 + i, v[i]);
    if (r->incoming_id)
        sqlite3_bind_int64(s, 12, r->incoming_id);
    store_bind_text_nn(s, 13, r->task_table);
    store_bind_text_nn(s, 14, r->task_sys_id);
    store_bind_text_nn(s, 15, r->task_number);
    sqlite3_bind_int64(s, 16, r->created_ms);
    rc = sqlite3_step(s);
    int xrc = sqlite3_extended_errcode(st->db);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return xrc == SQLITE_CONSTRAINT_UNIQUE ? TB_ERR_EXISTS : store_rc(rc);
    if (id)
        *id = sqlite3_last_insert_rowid(st->db);
    return TB_OK;
}

#define REQUEST_COLS                                                                                    \
    "id, request_id, kind, tenant_id, epm_ticket, requested_at, user_name, host, application, reason,"  \
    " task_table, task_sys_id, task_number, decision_state, final, coalesce(epm_decision, ''),"          \
    " coalesce(epm_decision_time, ''), coalesce(epm_decided_by, ''), coalesce(epm_duration, ''),"      \
    " coalesce(epm_start_time, ''), coalesce(epm_end_time, ''), coalesce(update_incoming_id, 0),"       \
    " created_ms, updated_at"

void tb_jit_request_clear(tb_jit_request *r)
{
    char **strs[] = {&r->request_id, &r->kind, &r->tenant_id, &r->epm_ticket, &r->requested_at, &r->user_name,
                     &r->host, &r->application, &r->reason, &r->task_table, &r->task_sys_id, &r->task_number,
                     &r->decision_state, &r->epm_decision, &r->epm_decision_time, &r->epm_decided_by,
                     &r->epm_duration, &r->epm_start_time, &r->epm_end_time};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(*strs[i]);
    memset(r, 0, sizeof *r);
}

void tb_jit_requests_free(tb_jit_request *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tb_jit_request_clear(&v[i]);
    free(v);
}

static tb_err read_request(sqlite3_stmt *s, tb_jit_request *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(s, 0);
    char **a[] = {&r->request_id, &r->kind, &r->tenant_id, &r->epm_ticket, &r->requested_at, &r->user_name,
                  &r->host, &r->application, &r->reason, &r->task_table, &r->task_sys_id, &r->task_number,
                  &r->decision_state};
    tb_err e = TB_OK;
    for (int i = 0; i < 13; i++)
        if (!(*a[i] = store_col_strdup(s, 1 + i)))
            e = TB_ERR_NOMEM;
    r->final = sqlite3_column_int(s, 14) != 0;
    char **b[] = {&r->epm_decision, &r->epm_decision_time, &r->epm_decided_by, &r->epm_duration,
                  &r->epm_start_time, &r->epm_end_time};
    for (int i = 0; i < 6; i++)
        if (!(*b[i] = store_col_strdup(s, 15 + i)))
            e = TB_ERR_NOMEM;
    r->update_incoming_id = sqlite3_column_int64(s, 21);
    r->created_ms = sqlite3_column_int64(s, 22);
    r->updated_at = sqlite3_column_int64(s, 23);
    if (e)
        tb_jit_request_clear(r);
    return e;
}

static tb_err find_where(tb_store *st, const char *key, size_t nwhere, tb_jit_request *out)
{
    memset(out, 0, sizeof *out);
    if (!key || !*key)
        return TB_ERR_NOT_FOUND;
    static const char *const where[] = {"request_id = ?", "task_number = ?", "epm_ticket = ?"};
    for (size_t i = 0; i < nwhere && i < sizeof where / sizeof *where; i++) {
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT " REQUEST_COLS " FROM tb_jit_request WHERE %s ORDER BY id DESC LIMIT 1",
                 where[i]);
        sqlite3_stmt *s;
        int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
        if (rc != SQLITE_OK)
            return store_rc(rc);
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        tb_err e = rc == SQLITE_ROW ? read_request(s, out) : rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
        sqlite3_finalize(s);
        if (e != TB_ERR_NOT_FOUND)
            return e;
    }
    return TB_ERR_NOT_FOUND;
}

tb_err store_jit_request_find(tb_store *st, const char *key, tb_jit_request *out)
{
    return find_where(st, key, 3, out);
}

tb_err store_jit_request_get(tb_store *st, const char *request_id, tb_jit_request *out)
{
    return find_where(st, request_id, 1, out);
}

tb_err store_jit_request_list(tb_store *st, const tb_jit_filter *f, tb_jit_request **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT " REQUEST_COLS " FROM tb_jit_request WHERE (?1 IS NULL OR decision_state = ?1)"
        " ORDER BY id DESC LIMIT ?2", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    if (f->state)
        sqlite3_bind_text(s, 1, f->state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, f->limit ? (int64_t)f->limit : 50);
    tb_jit_request *v = NULL;
    size_t cnt = 0, cap = 0;
    tb_err e = TB_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            tb_jit_request *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                e = TB_ERR_NOMEM;
                break;
            }
            v = nv;
        }
        if ((e = read_request(s, &v[cnt])))
            break;
        cnt++;
    }
    if (!e && rc != SQLITE_DONE)
        e = store_rc(rc);
    sqlite3_finalize(s);
    if (e) {
        tb_jit_requests_free(v, cnt);
        return e;
    }
    *out = v;
    *n = cnt;
    return TB_OK;
}

/* Every column of the current row as a JSON string/integer member of o. */
static tb_err row_to_json(sqlite3_stmt *s, json_t *o)
{
    for (int i = 0; i < sqlite3_column_count(s); i++) {
        const char *name = sqlite3_column_name(s, i);
        json_t *v;
        switch (sqlite3_column_type(s, i)) {
        case SQLITE_INTEGER:
            v = json_integer(sqlite3_column_int64(s, i));
            break;
        case SQLITE_NULL:
            v = json_string("");
            break;
        default:
            v = json_stringn((const char *)sqlite3_column_text(s, i), (size_t)sqlite3_column_bytes(s, i));
            break;
        }
        if (!v || json_object_set_new(o, name, v))
            return TB_ERR_NOMEM;
    }
    return TB_OK;
}

tb_err store_jit_request_json(tb_store *st, const char *key, void **json_out)
{
    *json_out = NULL;
    tb_jit_request r;
    tb_err e = store_jit_request_find(st, key, &r);
    if (e)
        return e;
    int64_t id = r.id;
    tb_jit_request_clear(&r);
    json_t *o = json_object();
    if (!o)
        return TB_ERR_NOMEM;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT request_id, kind, tenant_id, epm_ticket, requested_at, user_name, host, application, reason,"
        " task_table, task_sys_id, task_number, decision_state, final, epm_decision, epm_decision_time,"
        " epm_decided_by, epm_duration, epm_start_time, epm_end_time, incoming_id, update_incoming_id,"
        " created_ms, updated_at, details FROM tb_jit_request WHERE id = ?", -1, &s, NULL);
    if (rc != SQLITE_OK) {
        json_decref(o);
        return store_rc(rc);
    }
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        e = row_to_json(s, o);
        /* details: the payload itself, not a string holding it */
        json_t *d = json_loads((const char *)sqlite3_column_text(s, 24), 0, NULL);
        if (!e && (!d || json_object_set_new(o, "details", d)))
            e = TB_ERR_NOMEM;
        if (!e)
            json_object_set_new(o, "final", json_boolean(sqlite3_column_int(s, 13)));
    } else {
        e = rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    }
    sqlite3_finalize(s);
    json_t *decisions = json_array();
    if (!e && (!decisions || json_object_set_new(o, "decisions", decisions)))
        e = TB_ERR_NOMEM;
    if (!e) {
        rc = sqlite3_prepare_v2(st->db,
            "SELECT id, decision, reason, duration, performed_by, decision_time, state, http_status, error,"
            " attempts, job_id, created_at, finished_at, body FROM tb_jit_decision WHERE request = ? ORDER BY id",
            -1, &s, NULL);
        if (rc != SQLITE_OK) {
            e = store_rc(rc);
        } else {
            sqlite3_bind_int64(s, 1, id);
            while (!e && (rc = sqlite3_step(s)) == SQLITE_ROW) {
                json_t *d = json_object();
                if (!d || json_array_append_new(decisions, d))
                    e = TB_ERR_NOMEM;
                else
                    e = row_to_json(s, d);
            }
            if (!e && rc != SQLITE_DONE)
                e = store_rc(rc);
            sqlite3_finalize(s);
        }
    }
    if (e) {
        json_decref(o);
        return e;
    }
    *json_out = o;
    return TB_OK;
}

tb_err store_jit_request_epm_update(tb_store *st, int64_t id, const tb_jit_epm_update *u, int64_t incoming_id,
                                    int64_t now)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "UPDATE tb_jit_request SET epm_decision=?2, epm_decision_time=?3, epm_decided_by=?4, epm_duration=?5,"
        " epm_start_time=?6, epm_end_time=?7, update_incoming_id=?8, epm_updated_at=?9, final=1, updated_at=?9"
        " WHERE id=?1", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, id);
    const char *v[] = {u->decision, u->decision_time, u->decided_by, u->duration, u->start_time, u->end_time};
    for (int i = 0; i < 6; i++)
        store_bind_text_nn(s, 2 + i, v[i]);
    sqlite3_bind_int64(s, 8, incoming_id);
    sqlite3_bind_int64(s, 9, now);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}

/* ---- decisions ---- */

static tb_err exec_bound(tb_store *st, const char *sql, int64_t a, int64_t b, const char *t)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, a);
    sqlite3_bind_int64(s, 2, b);
    if (t)
        sqlite3_bind_text(s, 3, t, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}

tb_err store_jit_decision_insert(tb_store *st, const tb_jit_decision_rec *r, int64_t *decision_id, int64_t *job_id)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_jit_decision(request, decision, reason, duration, performed_by, decision_time, body,"
        " created_at) VALUES(?,?,?,?,?,?,?,?)", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, r->request);
    const char *v[] = {r->decision, r->reason, r->duration, r->performed_by, r->decision_time, r->body};
    for (int i = 0; i < 6; i++)
        store_bind_text_nn(s, 2 + i, v[i]);
    sqlite3_bind_int64(s, 8, r->now);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    int64_t did = sqlite3_last_insert_rowid(st->db);
    rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_job(kind, lsid, run_after, created_at, updated_at) VALUES('" JIT_DECISION_JOB "', ?1, 0, ?2, ?2)",
        -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, r->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, r->now);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    int64_t jid = sqlite3_last_insert_rowid(st->db);
    tb_err e = exec_bound(st, "UPDATE tb_jit_decision SET job_id = ?2 WHERE id = ?1", did, jid, NULL);
    if (!e)
        e = exec_bound(st, "UPDATE tb_jit_request SET decision_state = 'pending', updated_at = ?2 WHERE id = ?1",
                       r->request, r->now, NULL);
    if (e)
        return e;
    if (decision_id)
        *decision_id = did;
    if (job_id)
        *job_id = jid;
    return TB_OK;
}

void tb_jit_decision_clear(tb_jit_decision *d)
{
    char **strs[] = {&d->request_id, &d->kind, &d->decision, &d->reason, &d->duration, &d->performed_by,
                     &d->decision_time, &d->body, &d->state, &d->error, &d->task_table, &d->task_sys_id,
                     &d->task_number};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(*strs[i]);
    memset(d, 0, sizeof *d);
}

tb_err store_jit_decision_by_job(tb_store *st, int64_t job_id, tb_jit_decision *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT d.id, d.request, d.job_id, r.request_id, r.kind, d.decision, d.reason, d.duration, d.performed_by,"
        " d.decision_time, d.body, d.state, d.error, d.http_status, d.attempts, r.task_table, r.task_sys_id,"
        " r.task_number, d.created_at, coalesce(d.finished_at, 0)"
        " FROM tb_jit_decision d JOIN tb_jit_request r ON r.id = d.request WHERE d.job_id = ?", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, job_id);
    rc = sqlite3_step(s);
    tb_err e = TB_OK;
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        out->request = sqlite3_column_int64(s, 1);
        out->job_id = sqlite3_column_int64(s, 2);
        char **a[] = {&out->request_id, &out->kind, &out->decision, &out->reason, &out->duration,
                      &out->performed_by, &out->decision_time, &out->body, &out->state, &out->error};
        for (int i = 0; i < 10; i++)
            if (!(*a[i] = store_col_strdup(s, 3 + i)))
                e = TB_ERR_NOMEM;
        out->http_status = sqlite3_column_int(s, 13);
        out->attempts = sqlite3_column_int(s, 14);
        char **b[] = {&out->task_table, &out->task_sys_id, &out->task_number};
        for (int i = 0; i < 3; i++)
            if (!(*b[i] = store_col_strdup(s, 15 + i)))
                e = TB_ERR_NOMEM;
        out->created_at = sqlite3_column_int64(s, 18);
        out->finished_at = sqlite3_column_int64(s, 19);
    } else {
        e = rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    }
    sqlite3_finalize(s);
    if (e)
        tb_jit_decision_clear(out);
    return e;
}

tb_err store_jit_decision_attempt(tb_store *st, int64_t id, int http_status, const char *error)
{
    return exec_bound(st,
                      "UPDATE tb_jit_decision SET attempts = attempts + 1, http_status = ?2, error = ?3"
                      " WHERE id = ?1 AND state = 'queued'", id, http_status, error ? error : "");
}

tb_err store_jit_decision_finish(tb_store *st, int64_t id, const char *state, int http_status, const char *error,
                                 bool final, int64_t now, bool *changed)
{
    *changed = false;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "UPDATE tb_jit_decision SET state = ?2, http_status = ?3, error = ?4, attempts = attempts + 1,"
        " finished_at = ?5 WHERE id = ?1 AND state = 'queued'", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, http_status);
    store_bind_text_nn(s, 4, error);
    sqlite3_bind_int64(s, 5, now);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (!sqlite3_changes(st->db))
        return TB_OK;
    *changed = true;
    bool accepted = !strcmp(state, "accepted");
    rc = sqlite3_prepare_v2(st->db,
        "UPDATE tb_jit_request SET decision_state = ?2, final = max(final, ?3), updated_at = ?4"
        " WHERE id = (SELECT request FROM tb_jit_decision WHERE id = ?1)", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, accepted ? "accepted" : "failed", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, accepted || final);
    sqlite3_bind_int64(s, 4, now);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}

tb_err store_incoming_body(tb_store *st, int64_t id, char **body, size_t *len)
{
    *body = NULL;
    *len = 0;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT body FROM tb_incoming WHERE id = ?", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    tb_err e = TB_OK;
    if (rc == SQLITE_ROW) {
        *body = store_col_strdup(s, 0);
        *len = (size_t)sqlite3_column_bytes(s, 0);
        if (!*body)
            e = TB_ERR_NOMEM;
    } else {
        e = rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    }
    sqlite3_finalize(s);
    return e;
}
