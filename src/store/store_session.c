/* Imported sessions and their children. store_session_save runs inside the
 * writer's transaction: a session and everything under it is stored whole
 * or not at all, and saving it again replaces its children. */
#include "store/store_sqlite.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "bt/report.h"

static void bind_num(sqlite3_stmt *s, int i, long long v)
{
    if (v >= 0)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

static void bind_link(sqlite3_stmt *s, int i, const char *v)
{
    store_bind_text(s, i, v && *v ? v : NULL);
}

static tb_err finish(sqlite3_stmt *s, int rc)
{
    sqlite3_finalize(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? TB_OK : store_rc(rc);
}

static tb_err prepare(tb_store *st, const char *sql, sqlite3_stmt **s)
{
    return store_rc(sqlite3_prepare_v2(st->db, sql, -1, s, NULL));
}

static tb_err save_session_row(tb_store *st, int64_t appliance_id, const char *product, const bt_session *x,
                               const tb_session_links *l, int64_t now, int64_t *id, bool *noted)
{
    sqlite3_stmt *s;
    /* Links only ever get filled in: a re-import that cannot find the task
     * (say, it was renamed) keeps what an earlier import found. */
    tb_err e = prepare(st,
        "INSERT INTO tb_session(appliance_id, lsid, product, session_type, lseq, start_time, end_time, duration,"
        " public_site_id, public_site, jumpoint_id, jumpoint, jump_group_id, jump_group_type, jump_group,"
        " primary_customer_gsnumber, primary_customer, primary_rep_gsnumber, primary_rep_id, primary_rep,"
        " external_key, chat_view_url, chat_download_url, recording_view_url, recording_download_url,"
        " has_recording, file_transfer_count, file_move_count, file_delete_count,"
        " customer_name, customer_company, customer_company_code, customer_details, customer_issue,"
        " task_table, task_sys_id, task_number, ci_sys_id, user_sys_id, imported_at, updated_at)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25,"
        " ?26,?27,?28,?29,?30,?31,?32,?33,?34,?35,?36,?37,?38,?39,?40,?40)"
        " ON CONFLICT(appliance_id, lsid) DO UPDATE SET product=excluded.product,"
        " session_type=excluded.session_type, lseq=excluded.lseq, start_time=excluded.start_time,"
        " end_time=excluded.end_time, duration=excluded.duration, public_site_id=excluded.public_site_id,"
        " public_site=excluded.public_site, jumpoint_id=excluded.jumpoint_id, jumpoint=excluded.jumpoint,"
        " jump_group_id=excluded.jump_group_id, jump_group_type=excluded.jump_group_type,"
        " jump_group=excluded.jump_group, primary_customer_gsnumber=excluded.primary_customer_gsnumber,"
        " primary_customer=excluded.primary_customer, primary_rep_gsnumber=excluded.primary_rep_gsnumber,"
        " primary_rep_id=excluded.primary_rep_id, primary_rep=excluded.primary_rep,"
        " external_key=excluded.external_key, chat_view_url=excluded.chat_view_url,"
        " chat_download_url=excluded.chat_download_url, recording_view_url=excluded.recording_view_url,"
        " recording_download_url=excluded.recording_download_url, has_recording=excluded.has_recording,"
        " file_transfer_count=excluded.file_transfer_count, file_move_count=excluded.file_move_count,"
        " file_delete_count=excluded.file_delete_count, customer_name=excluded.customer_name,"
        " customer_company=excluded.customer_company, customer_company_code=excluded.customer_company_code,"
        " customer_details=excluded.customer_details, customer_issue=excluded.customer_issue,"
        " task_table=coalesce(excluded.task_table, task_table),"
        " task_sys_id=coalesce(excluded.task_sys_id, task_sys_id),"
        " task_number=coalesce(excluded.task_number, task_number),"
        " ci_sys_id=coalesce(excluded.ci_sys_id, ci_sys_id),"
        " user_sys_id=coalesce(excluded.user_sys_id, user_sys_id), updated_at=excluded.updated_at"
        " RETURNING id, work_note_at IS NOT NULL", &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, appliance_id);
    store_bind_text(s, 2, x->lsid);
    store_bind_text(s, 3, product);
    store_bind_text(s, 4, x->session_type);
    bind_num(s, 5, x->lseq);
    bind_num(s, 6, x->start_time);
    bind_num(s, 7, x->end_time);
    bind_num(s, 8, x->duration);
    bind_num(s, 9, x->public_site.id);
    store_bind_text(s, 10, x->public_site.name);
    bind_num(s, 11, x->jumpoint.id);
    store_bind_text(s, 12, x->jumpoint.name);
    bind_num(s, 13, x->jump_group.id);
    store_bind_text(s, 14, x->jump_group.type);
    store_bind_text(s, 15, x->jump_group.name);
    bind_num(s, 16, x->primary_customer.gsnumber);
    store_bind_text(s, 17, x->primary_customer.name);
    bind_num(s, 18, x->primary_rep.gsnumber);
    bind_num(s, 19, x->primary_rep.id);
    store_bind_text(s, 20, x->primary_rep.name);
    store_bind_text(s, 21, x->external_key);
    store_bind_text(s, 22, x->chat_view_url);
    store_bind_text(s, 23, x->chat_download_url);
    store_bind_text(s, 24, x->recording_view_url);
    store_bind_text(s, 25, x->recording_download_url);
    sqlite3_bind_int(s, 26, x->has_recording);
    bind_num(s, 27, x->file_transfer_count);
    bind_num(s, 28, x->file_move_count);
    bind_num(s, 29, x->file_delete_count);
    const bt_customer_info *ci = x->customer_info;
    store_bind_text(s, 30, ci ? ci->name : NULL);
    store_bind_text(s, 31, ci ? ci->company : NULL);
    store_bind_text(s, 32, ci ? ci->company_code : NULL);
    store_bind_text(s, 33, ci ? ci->details : NULL);
    store_bind_text(s, 34, ci ? ci->issue : NULL);
    bind_link(s, 35, l ? l->task_table : NULL);
    bind_link(s, 36, l ? l->task_sys_id : NULL);
    bind_link(s, 37, l ? l->task_number : NULL);
    bind_link(s, 38, l ? l->ci_sys_id : NULL);
    bind_link(s, 39, l ? l->user_sys_id : NULL);
    sqlite3_bind_int64(s, 40, now);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        *noted = sqlite3_column_int(s, 1) != 0;
        rc = sqlite3_step(s);
    }
    return finish(s, rc);
}

static tb_err delete_children(tb_store *st, int64_t id)
{
    static const char *const sql[] = {
        "DELETE FROM tb_session_custom WHERE session_id = ?",
        "DELETE FROM tb_session_user WHERE session_id = ?",
        "DELETE FROM tb_session_event WHERE session_id = ?",
        "DELETE FROM tb_session_file WHERE session_id = ?",
    };
    for (size_t i = 0; i < sizeof sql / sizeof *sql; i++) {
        sqlite3_stmt *s;
        tb_err e = prepare(st, sql[i], &s);
        if (e)
            return e;
        sqlite3_bind_int64(s, 1, id);
        if ((e = finish(s, sqlite3_step(s))))
            return e;
    }
    return TB_OK;
}

static tb_err step_reset(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}

static tb_err save_custom(tb_store *st, int64_t id, const bt_session *x)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st, "INSERT INTO tb_session_custom(session_id, seq, code_name, display_name, value)"
                           " VALUES(?,?,?,?,?)", &s);
    for (size_t i = 0; !e && i < x->ncustom_attributes; i++) {
        const bt_custom_attr *a = &x->custom_attributes[i];
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, (int64_t)i);
        store_bind_text(s, 3, a->code_name);
        store_bind_text(s, 4, a->display_name);
        store_bind_text(s, 5, a->value);
        e = step_reset(s);
    }
    sqlite3_finalize(s);
    return e;
}

static tb_err save_users(tb_store *st, int64_t id, const bt_session *x)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st,
        "INSERT INTO tb_session_user(session_id, seq, kind, gsnumber, user_id, username, display_name,"
        " public_display_name, private_display_name, public_ip, private_ip, hostname, os, session_owner,"
        " seconds_involved) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &s);
    for (size_t i = 0; !e && i < x->nusers; i++) {
        const bt_user *u = &x->users[i];
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, (int64_t)i);
        sqlite3_bind_text(s, 3, u->kind == BT_USER_REP ? "representative" : "customer", -1, SQLITE_STATIC);
        bind_num(s, 4, u->gsnumber);
        bind_num(s, 5, u->id);
        store_bind_text(s, 6, u->username);
        store_bind_text(s, 7, u->display_name);
        store_bind_text(s, 8, u->public_display_name);
        store_bind_text(s, 9, u->private_display_name);
        store_bind_text(s, 10, u->public_ip);
        store_bind_text(s, 11, u->private_ip);
        store_bind_text(s, 12, u->hostname);
        store_bind_text(s, 13, u->os);
        bind_num(s, 14, u->session_owner);
        bind_num(s, 15, u->seconds_involved);
        e = step_reset(s);
    }
    sqlite3_finalize(s);
    return e;
}

/* Event data as a JSON object {name: value}, in document order. */
static char *data_json(const bt_event *ev)
{
    if (!ev->ndata)
        return NULL;
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < ev->ndata; i++)
        if (ev->data[i].name && !json_object_get(o, ev->data[i].name))
            json_object_set_new(o, ev->data[i].name, json_string(ev->data[i].value ? ev->data[i].value : ""));
    char *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return out;
}

static tb_err save_events(tb_store *st, int64_t id, const bt_session *x, tb_event_filter keep, void *ctx)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st,
        "INSERT INTO tb_session_event(session_id, seq, timestamp, event_type, performed_by_type,"
        " performed_by_gsnumber, performed_by, destination_type, destination_gsnumber, destination, data, body)"
        " VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", &s);
    for (size_t i = 0; !e && i < x->nevents; i++) {
        const bt_event *ev = &x->events[i];
        if (keep && !keep(ev, ctx))
            continue;
        char *data = data_json(ev);
        if (ev->ndata && !data) {
            e = TB_ERR_NOMEM;
            break;
        }
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, (int64_t)i);   /* the report's order, gaps where filtered */
        sqlite3_bind_int64(s, 3, ev->timestamp);
        store_bind_text(s, 4, ev->event_type);
        store_bind_text(s, 5, ev->performed_by.present ? ev->performed_by.type : NULL);
        bind_num(s, 6, ev->performed_by.present ? ev->performed_by.gsnumber : -1);
        store_bind_text(s, 7, ev->performed_by.present ? ev->performed_by.name : NULL);
        store_bind_text(s, 8, ev->destination.present ? ev->destination.type : NULL);
        bind_num(s, 9, ev->destination.present ? ev->destination.gsnumber : -1);
        store_bind_text(s, 10, ev->destination.present ? ev->destination.name : NULL);
        store_bind_text(s, 11, data);
        store_bind_text(s, 12, ev->body);
        e = step_reset(s);
        free(data);
    }
    sqlite3_finalize(s);
    return e;
}

static tb_err save_files(tb_store *st, int64_t id, const bt_session *x)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st,
        "INSERT INTO tb_session_file(session_id, seq, timestamp, event_type, name, size, path, old_path,"
        " new_path, direction, success, sha256, performed_by) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)", &s);
    for (size_t i = 0; !e && i < x->nfiles; i++) {
        const bt_file_transfer *f = &x->files[i];
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, (int64_t)i);
        sqlite3_bind_int64(s, 3, f->timestamp);
        store_bind_text(s, 4, f->event_type);
        store_bind_text(s, 5, f->name);
        bind_num(s, 6, f->size);
        store_bind_text(s, 7, f->path);
        store_bind_text(s, 8, f->old_path);
        store_bind_text(s, 9, f->new_path);
        sqlite3_bind_text(s, 10, bt_file_direction_name(f->direction), -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 11, f->success);
        store_bind_text(s, 12, f->sha256);
        store_bind_text(s, 13, f->performed_by.present ? f->performed_by.name : NULL);
        e = step_reset(s);
    }
    sqlite3_finalize(s);
    return e;
}

tb_err store_session_saved_at(tb_store *st, int64_t appliance_id, const char *lsid, int64_t *saved_at)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st, "SELECT updated_at FROM tb_session WHERE appliance_id = ? AND lsid = ?", &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, appliance_id);
    sqlite3_bind_text(s, 2, lsid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *saved_at = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    return finish(s, rc);
}

tb_err store_session_save(tb_store *st, int64_t appliance_id, const char *product, const bt_session *x,
                          const tb_session_links *links, tb_event_filter keep, void *keep_ctx, int64_t now,
                          int64_t *session_id, bool *work_note_done, bool *existed)
{
    if (!x->lsid || !*x->lsid)
        return TB_ERR_INVALID;
    int64_t id = 0, before = 0;
    bool noted = false;
    tb_err e = store_session_saved_at(st, appliance_id, x->lsid, &before);
    if (!e)
        e = save_session_row(st, appliance_id, product, x, links, now, &id, &noted);
    if (!e)
        e = delete_children(st, id);
    if (!e)
        e = save_custom(st, id, x);
    if (!e)
        e = save_users(st, id, x);
    if (!e)
        e = save_events(st, id, x, keep, keep_ctx);
    if (!e)
        e = save_files(st, id, x);
    if (e)
        return e;
    if (session_id)
        *session_id = id;
    if (work_note_done)
        *work_note_done = noted;
    if (existed)
        *existed = before != 0;
    return TB_OK;
}

tb_err store_session_mark_noted(tb_store *st, int64_t session_id, int64_t now)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st, "UPDATE tb_session SET work_note_at = ? WHERE id = ?", &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int64(s, 2, session_id);
    e = finish(s, sqlite3_step(s));
    if (e)
        return e;
    return sqlite3_changes(st->db) ? TB_OK : TB_ERR_NOT_FOUND;
}

void tb_session_rows_free(tb_session_row *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tb_session_row *r = &v[i];
        free(r->appliance);
        free(r->lsid);
        free(r->product);
        free(r->primary_rep);
        free(r->primary_customer);
        free(r->external_key);
        free(r->task_table);
        free(r->task_number);
        free(r->task_sys_id);
        free(r->ci_sys_id);
        free(r->user_sys_id);
    }
    free(v);
}

tb_err store_session_list(tb_store *st, const tb_session_filter *f, tb_session_row **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    tb_err e = prepare(st,
        "SELECT s.id, a.name, s.lsid, s.product, s.primary_rep, s.primary_customer, s.external_key,"
        " s.task_table, s.task_number, s.task_sys_id, s.ci_sys_id, s.user_sys_id,"
        " coalesce(s.start_time, 0), coalesce(s.end_time, 0), coalesce(s.duration, -1),"
        " (SELECT count(*) FROM tb_session_event e WHERE e.session_id = s.id),"
        " (SELECT count(*) FROM tb_session_user u WHERE u.session_id = s.id),"
        " (SELECT count(*) FROM tb_session_file x WHERE x.session_id = s.id),"
        " s.work_note_at IS NOT NULL"
        " FROM tb_session s JOIN tb_appliance a ON a.id = s.appliance_id"
        " WHERE (?1 IS NULL OR s.task_sys_id = ?1) AND (?2 IS NULL OR s.ci_sys_id = ?2)"
        " AND (?3 IS NULL OR s.lsid = ?3) ORDER BY s.id DESC LIMIT ?4", &s);
    if (e)
        return e;
    store_bind_text(s, 1, f->task_sys_id);
    store_bind_text(s, 2, f->ci_sys_id);
    store_bind_text(s, 3, f->lsid);
    sqlite3_bind_int64(s, 4, f->limit ? (int64_t)f->limit : 50);
    tb_session_row *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            tb_session_row *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                e = TB_ERR_NOMEM;
                break;
            }
            v = nv;
        }
        tb_session_row *r = &v[cnt++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(s, 0);
        char **str[] = {&r->appliance, &r->lsid, &r->product, &r->primary_rep, &r->primary_customer,
                        &r->external_key, &r->task_table, &r->task_number, &r->task_sys_id, &r->ci_sys_id,
                        &r->user_sys_id};
        for (int c = 0; c < 11; c++)
            if (!(*str[c] = store_col_strdup(s, c + 1)))
                e = TB_ERR_NOMEM;
        r->start_time = sqlite3_column_int64(s, 12);
        r->end_time = sqlite3_column_int64(s, 13);
        r->duration = sqlite3_column_int64(s, 14);
        r->nevents = sqlite3_column_int64(s, 15);
        r->nusers = sqlite3_column_int64(s, 16);
        r->nfiles = sqlite3_column_int64(s, 17);
        r->noted = sqlite3_column_int(s, 18) != 0;
        if (e)
            break;
    }
    if (!e && rc != SQLITE_DONE)
        e = store_rc(rc);
    sqlite3_finalize(s);
    if (e) {
        tb_session_rows_free(v, cnt);
        return e;
    }
    *out = v;
    *n = cnt;
    return TB_OK;
}

/* Rows of a query as JSON objects keyed by column name (NULLs omitted). */
static tb_err rows_json(tb_store *st, const char *sql, int64_t id, const char *text, json_t *arr)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st, sql, &s);
    if (e)
        return e;
    if (text)
        sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(s, 1, id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int c = 0; o && c < sqlite3_column_count(s); c++) {
            const char *name = sqlite3_column_name(s, c);
            switch (sqlite3_column_type(s, c)) {
            case SQLITE_INTEGER:
                json_object_set_new(o, name, json_integer(sqlite3_column_int64(s, c)));
                break;
            case SQLITE_NULL:
                break;
            default: {
                const char *t = (const char *)sqlite3_column_text(s, c);
                json_t *v = NULL;
                /* event data is stored as JSON text: nest it */
                if (!strcmp(name, "data") && t)
                    v = json_loads(t, 0, NULL);
                json_object_set_new(o, name, v ? v : json_string(t ? t : ""));
            }
            }
        }
        if (!o || json_array_append_new(arr, o)) {
            sqlite3_finalize(s);
            return TB_ERR_NOMEM;
        }
    }
    return finish(s, rc);
}

tb_err store_session_json(tb_store *st, const char *lsid, void **json_out)
{
    json_t *rows = json_array();
    if (!rows)
        return TB_ERR_NOMEM;
    tb_err e = rows_json(st,
        "SELECT s.*, a.name AS appliance FROM tb_session s JOIN tb_appliance a ON a.id = s.appliance_id"
        " WHERE s.lsid = ? ORDER BY s.id DESC LIMIT 1", 0, lsid, rows);
    if (e || !json_array_size(rows)) {
        json_decref(rows);
        return e ? e : TB_ERR_NOT_FOUND;
    }
    json_t *o = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    int64_t id = json_integer_value(json_object_get(o, "id"));
    static const struct { const char *key, *sql; } parts[] = {
        {"custom_attributes", "SELECT code_name, display_name, value FROM tb_session_custom WHERE session_id = ? ORDER BY seq"},
        {"users", "SELECT kind, gsnumber, user_id, username, display_name, public_display_name,"
                  " private_display_name, public_ip, private_ip, hostname, os, session_owner, seconds_involved"
                  " FROM tb_session_user WHERE session_id = ? ORDER BY seq"},
        {"events", "SELECT timestamp, event_type, performed_by_type, performed_by_gsnumber, performed_by,"
                   " destination_type, destination_gsnumber, destination, data, body"
                   " FROM tb_session_event WHERE session_id = ? ORDER BY seq"},
        {"files", "SELECT timestamp, event_type, name, size, path, old_path, new_path, direction, success,"
                  " sha256, performed_by FROM tb_session_file WHERE session_id = ? ORDER BY seq"},
    };
    for (size_t i = 0; !e && i < sizeof parts / sizeof *parts; i++) {
        json_t *arr = json_array();
        if (!arr) {
            e = TB_ERR_NOMEM;
            break;
        }
        e = rows_json(st, parts[i].sql, id, NULL, arr);
        json_object_set_new(o, parts[i].key, arr);
    }
    if (e) {
        json_decref(o);
        return e;
    }
    *json_out = o;
    return TB_OK;
}
