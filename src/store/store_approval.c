/* Change-management approval records: override rules, request field names,
 * active states, decisions. */
#include "store/store_approval.h"
#include "store/store_sqlite.h"

#include <stdlib.h>
#include <string.h>

/* Runs a SELECT with up to two text binds and hands every row to fn. */
typedef tb_err (*row_fn)(sqlite3_stmt *s, void *ctx);

static tb_err each_row(tb_store *st, const char *sql, const char *b1, const char *b2, int64_t i1, row_fn fn,
                       void *ctx)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    int np = sqlite3_bind_parameter_count(s);
    if (np >= 1) {
        if (b1)
            sqlite3_bind_text(s, 1, b1, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(s, 1, i1);
    }
    if (np >= 2 && b2)
        sqlite3_bind_text(s, 2, b2, -1, SQLITE_STATIC);
    tb_err e = TB_OK;
    while (!e && (rc = sqlite3_step(s)) == SQLITE_ROW)
        e = fn(s, ctx);
    if (!e && rc != SQLITE_DONE)
        e = store_rc(rc);
    sqlite3_finalize(s);
    return e;
}

static tb_err exec_bind(tb_store *st, const char *sql, int64_t i1, int64_t i2, const char *t3, const char *t4,
                        int *changes)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, i1);
    sqlite3_bind_int64(s, 2, i2);
    if (t3)
        sqlite3_bind_text(s, 3, t3, -1, SQLITE_STATIC);
    if (t4)
        sqlite3_bind_text(s, 4, t4, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (changes)
        *changes = sqlite3_changes(st->db);
    return TB_OK;
}

/* ---- override rules ---- */

void tb_override_rules_free(tb_override_rule *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].task_field);
        free(v[i].value);
        free(v[i].message);
    }
    free(v);
}

static tb_err rule_row(sqlite3_stmt *s, void *ctx)
{
    tb_override_rule *r = store_vec_push(ctx);
    if (!r)
        return TB_ERR_NOMEM;
    r->id = sqlite3_column_int64(s, 0);
    r->position = sqlite3_column_int(s, 1);
    r->task_field = store_col_strdup(s, 2);
    const unsigned char *c = sqlite3_column_text(s, 3);
    r->comparator = c ? (char)c[0] : '=';
    r->reference = sqlite3_column_int(s, 4) != 0;
    r->value = store_col_strdup(s, 5);
    r->message = store_col_strdup(s, 6);
    return r->task_field && r->value && r->message ? TB_OK : TB_ERR_NOMEM;
}

tb_err store_override_list(tb_store *st, int64_t appliance_id, tb_override_rule **out, size_t *n)
{
    store_vec a = {.elem = sizeof(tb_override_rule)};
    tb_err e = each_row(st,
                        "SELECT id, position, task_field, comparator, value_type = 'reference', value, error_message"
                        " FROM tb_override_rule WHERE appliance_id = ? ORDER BY position, id",
                        NULL, NULL, appliance_id, rule_row, &a);
    if (e) {
        tb_override_rules_free(a.v, a.n);
        return e;
    }
    *out = a.v;
    *n = a.n;
    return TB_OK;
}

tb_err store_override_add(tb_store *st, int64_t appliance_id, const tb_override_rule *r, int64_t *id)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_override_rule(appliance_id, position, task_field, comparator, value_type, value,"
        " error_message, created_at)"
        " VALUES(?1, (SELECT COALESCE(MAX(position), 0) + 1 FROM tb_override_rule WHERE appliance_id = ?1),"
        " ?2, ?3, ?4, ?5, ?6, strftime('%s','now'))", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    char cmp[2] = {r->comparator, 0};
    sqlite3_bind_int64(s, 1, appliance_id);
    sqlite3_bind_text(s, 2, r->task_field, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, cmp, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, r->reference ? "reference" : "static", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, r->value, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, r->message, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (id)
        *id = sqlite3_last_insert_rowid(st->db);
    return TB_OK;
}

/* Positions 1..n in the current order, with id placed at want (0 = keep). */
static tb_err renumber(tb_store *st, int64_t appliance_id, int64_t id, int want)
{
    tb_override_rule *v;
    size_t n;
    tb_err e = store_override_list(st, appliance_id, &v, &n);
    if (e)
        return e;
    size_t from = n;
    for (size_t i = 0; i < n; i++)
        if (v[i].id == id)
            from = i;
    if (want > 0 && from < n) {
        size_t to = (size_t)want > n ? n - 1 : (size_t)want - 1;
        tb_override_rule moved = v[from];
        if (to < from)
            memmove(&v[to + 1], &v[to], (from - to) * sizeof *v);
        else
            memmove(&v[from], &v[from + 1], (to - from) * sizeof *v);
        v[to] = moved;
    }
    for (size_t i = 0; !e && i < n; i++)
        e = exec_bind(st, "UPDATE tb_override_rule SET position = ?2 WHERE id = ?1", v[i].id, (int64_t)i + 1, NULL,
                      NULL, NULL);
    tb_override_rules_free(v, n);
    return e;
}

tb_err store_override_remove(tb_store *st, int64_t appliance_id, int64_t id)
{
    int ch = 0;
    tb_err e = exec_bind(st, "DELETE FROM tb_override_rule WHERE id = ?1 AND appliance_id = ?2", id, appliance_id,
                         NULL, NULL, &ch);
    if (!e && !ch)
        return TB_ERR_NOT_FOUND;
    return e ? e : renumber(st, appliance_id, 0, 0);
}

tb_err store_override_move(tb_store *st, int64_t appliance_id, int64_t id, int position)
{
    int ch = 0;
    tb_err e = exec_bind(st, "UPDATE tb_override_rule SET position = position WHERE id = ?1 AND appliance_id = ?2",
                         id, appliance_id, NULL, NULL, &ch);
    if (!e && !ch)
        return TB_ERR_NOT_FOUND;
    return e ? e : renumber(st, appliance_id, id, position < 1 ? 1 : position);
}

/* ---- request field names ---- */

void tb_wire_fields_free(tb_wire_field *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].wire);
        free(v[i].field);
    }
    free(v);
}

static tb_err pair_row(sqlite3_stmt *s, void *ctx)
{
    tb_wire_field *w = store_vec_push(ctx);
    if (!w)
        return TB_ERR_NOMEM;
    w->wire = store_col_strdup(s, 0);
    w->field = store_col_strdup(s, 1);
    return w->wire && w->field ? TB_OK : TB_ERR_NOMEM;
}

tb_err store_wire_fields_list(tb_store *st, tb_wire_field **out, size_t *n)
{
    store_vec a = {.elem = sizeof(tb_wire_field)};
    tb_err e = each_row(st, "SELECT wire_name, field FROM tb_approval_field ORDER BY wire_name", NULL, NULL, 0,
                        pair_row, &a);
    if (e) {
        tb_wire_fields_free(a.v, a.n);
        return e;
    }
    *out = a.v;
    *n = a.n;
    return TB_OK;
}

tb_err store_wire_field_set(tb_store *st, const char *wire, const char *field)
{
    return exec_bind(st,
                     "INSERT INTO tb_approval_field(wire_name, field, updated_at) VALUES(?3, ?4, strftime('%s','now'))"
                     " ON CONFLICT(wire_name) DO UPDATE SET field = excluded.field, updated_at = excluded.updated_at",
                     0, 0, wire, field, NULL);
}

tb_err store_wire_field_remove(tb_store *st, const char *wire)
{
    int ch = 0;
    tb_err e = exec_bind(st, "DELETE FROM tb_approval_field WHERE wire_name = ?3", 0, 0, wire, NULL, &ch);
    return e ? e : ch ? TB_OK : TB_ERR_NOT_FOUND;
}

/* ---- active states ---- */

void tb_active_states_free(tb_active_states *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].table);
        free(v[i].states);
    }
    free(v);
}

static tb_err states_row(sqlite3_stmt *s, void *ctx)
{
    tb_active_states *a = store_vec_push(ctx);
    if (!a)
        return TB_ERR_NOMEM;
    a->table = store_col_strdup(s, 0);
    a->states = store_col_strdup(s, 1);
    return a->table && a->states ? TB_OK : TB_ERR_NOMEM;
}

tb_err store_active_states_list(tb_store *st, tb_active_states **out, size_t *n)
{
    store_vec a = {.elem = sizeof(tb_active_states)};
    tb_err e = each_row(st, "SELECT task_table, states FROM tb_active_states ORDER BY task_table", NULL, NULL, 0,
                        states_row, &a);
    if (e) {
        tb_active_states_free(a.v, a.n);
        return e;
    }
    *out = a.v;
    *n = a.n;
    return TB_OK;
}

tb_err store_active_states_set(tb_store *st, const char *table, const char *states)
{
    return exec_bind(st,
                     "INSERT INTO tb_active_states(task_table, states) VALUES(?3, ?4)"
                     " ON CONFLICT(task_table) DO UPDATE SET states = excluded.states",
                     0, 0, table, states, NULL);
}

tb_err store_active_states_remove(tb_store *st, const char *table)
{
    int ch = 0;
    tb_err e = exec_bind(st, "DELETE FROM tb_active_states WHERE task_table = ?3", 0, 0, table, NULL, &ch);
    return e ? e : ch ? TB_OK : TB_ERR_NOT_FOUND;
}

/* ---- decisions ---- */

static void bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

tb_err store_approval_insert(tb_store *st, const tb_approval_rec *r, int64_t *id)
{
    sqlite3_stmt *s;
    tb_err e = store_stmt(st, STMT_APPROVAL_INSERT,
        "INSERT INTO tb_approval(at_ms, appliance_id, source_ip, ticket_id, username, jump_item, hostname,"
        " allowed, http_status, reason, latency_us, task_table, task_sys_id, task_number, raw, noted)"
        " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, r->at_ms);
    if (r->appliance_id)
        sqlite3_bind_int64(s, 2, r->appliance_id);
    bind_text_or_null(s, 3, r->source_ip);
    bind_text_or_null(s, 4, r->ticket_id);
    bind_text_or_null(s, 5, r->username);
    bind_text_or_null(s, 6, r->jump_item);
    bind_text_or_null(s, 7, r->hostname);
    sqlite3_bind_int(s, 8, r->allowed);
    sqlite3_bind_int(s, 9, r->http_status);
    sqlite3_bind_text(s, 10, r->reason ? r->reason : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 11, r->latency_us);
    bind_text_or_null(s, 12, r->task_table);
    bind_text_or_null(s, 13, r->task_sys_id);
    bind_text_or_null(s, 14, r->task_number);
    bind_text_or_null(s, 15, r->raw);
    sqlite3_bind_int(s, 16, r->noted);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (id)
        *id = sqlite3_last_insert_rowid(st->db);
    return TB_OK;
}

void tb_approvals_free(tb_approval *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tb_approval *a = &v[i];
        free(a->appliance);
        free(a->source_ip);
        free(a->ticket_id);
        free(a->username);
        free(a->jump_item);
        free(a->hostname);
        free(a->reason);
        free(a->task_table);
        free(a->task_number);
        free(a->raw);
    }
    free(v);
}

tb_err store_approval_list(tb_store *st, const tb_approval_filter *f, tb_approval **out, size_t *n)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT a.id, a.at_ms, a.latency_us, COALESCE(p.name, ''), a.source_ip, a.ticket_id, a.username,"
        " a.jump_item, a.hostname, a.reason, a.task_table, a.task_number, a.raw, a.allowed, a.noted, a.http_status"
        " FROM tb_approval a LEFT JOIN tb_appliance p ON p.id = a.appliance_id"
        " WHERE (?1 IS NULL OR p.name = ?1) AND (?2 IS NULL OR a.ticket_id = ?2 OR a.task_number = ?2)"
        "   AND (?3 = 0 OR (?3 = 1 AND a.allowed = 1) OR (?3 = -1 AND a.allowed = 0))"
        " ORDER BY a.id DESC LIMIT ?4", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    if (f->appliance)
        sqlite3_bind_text(s, 1, f->appliance, -1, SQLITE_STATIC);
    if (f->ticket_id)
        sqlite3_bind_text(s, 2, f->ticket_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, f->outcome);
    sqlite3_bind_int64(s, 4, f->limit ? (int64_t)f->limit : 50);
    store_vec a = {.elem = sizeof(tb_approval)};
    tb_err e = TB_OK;
    while (!e && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        tb_approval *r = store_vec_push(&a);
        if (!r) {
            e = TB_ERR_NOMEM;
            break;
        }
        r->id = sqlite3_column_int64(s, 0);
        r->at_ms = sqlite3_column_int64(s, 1);
        r->latency_us = sqlite3_column_int64(s, 2);
        char **strs[] = {&r->appliance, &r->source_ip, &r->ticket_id, &r->username, &r->jump_item,
                         &r->hostname, &r->reason, &r->task_table, &r->task_number, &r->raw};
        for (int i = 0; i < 10; i++)
            if (!(*strs[i] = store_col_strdup(s, 3 + i)))
                e = TB_ERR_NOMEM;
        r->allowed = sqlite3_column_int(s, 13) != 0;
        r->noted = sqlite3_column_int(s, 14) != 0;
        r->http_status = sqlite3_column_int(s, 15);
    }
    if (!e && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = store_rc(rc);
    sqlite3_finalize(s);
    if (e) {
        tb_approvals_free(a.v, a.n);
        return e;
    }
    *out = a.v;
    *n = a.n;
    return TB_OK;
}
