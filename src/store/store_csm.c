/* CSM records: auto-create settings, field mappings, the case-field
 * catalogue, the case of each session and the decisions. */
#include "store/store_csm.h"
#include "store/store_sqlite.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bt/case_fields.h"

static tb_err prepare(tb_store *st, const char *sql, sqlite3_stmt **s)
{
    return store_rc(sqlite3_prepare_v2(st->db, sql, -1, s, NULL));
}

static tb_err finish(sqlite3_stmt *s, int rc)
{
    sqlite3_finalize(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? TB_OK : store_rc(rc);
}

/* ---- settings ---- */

void tb_csm_config_clear(tb_csm_config *c)
{
    free(c->portals);
    free(c->required_fields);
    memset(c, 0, sizeof *c);
}

tb_err store_csm_config_get(tb_store *st, int64_t appliance_id, tb_csm_config *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    tb_err e = prepare(st,
                       "SELECT auto_create, outbound_event, custom_links, attended, unattended, click_to_chat,"
                       " portals, required_fields, updated_at FROM tb_csm_config WHERE appliance_id = ?",
                       &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, appliance_id);
    int rc = sqlite3_step(s);
    out->appliance_id = appliance_id;
    if (rc == SQLITE_ROW) {
        out->auto_create = sqlite3_column_int(s, 0) != 0;
        out->outbound_event = sqlite3_column_int(s, 1) != 0;
        out->custom_links = sqlite3_column_int(s, 2) != 0;
        out->attended = sqlite3_column_int(s, 3) != 0;
        out->unattended = sqlite3_column_int(s, 4) != 0;
        out->click_to_chat = sqlite3_column_int(s, 5) != 0;
        out->portals = store_col_strdup(s, 6);
        out->required_fields = store_col_strdup(s, 7);
        out->updated_at = sqlite3_column_int64(s, 8);
    } else {
        out->attended = out->unattended = true;
        out->portals = strdup("");
        out->required_fields = strdup("");
    }
    e = finish(s, rc);
    if (!e && (!out->portals || !out->required_fields))
        e = TB_ERR_NOMEM;
    if (e)
        tb_csm_config_clear(out);
    return e;
}

tb_err store_csm_config_set(tb_store *st, const tb_csm_config *c)
{
    if (c->outbound_event && c->custom_links)
        return TB_ERR_INVALID;
    sqlite3_stmt *s;
    tb_err e = prepare(st,
                       "INSERT OR REPLACE INTO tb_csm_config(appliance_id, auto_create, outbound_event, custom_links,"
                       " attended, unattended, click_to_chat, portals, required_fields, updated_at)"
                       " VALUES(?,?,?,?,?,?,?,?,?,?)",
                       &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, c->appliance_id);
    sqlite3_bind_int(s, 2, c->auto_create);
    sqlite3_bind_int(s, 3, c->outbound_event);
    sqlite3_bind_int(s, 4, c->custom_links);
    sqlite3_bind_int(s, 5, c->attended);
    sqlite3_bind_int(s, 6, c->unattended);
    sqlite3_bind_int(s, 7, c->click_to_chat);
    store_bind_text_nn(s, 8, c->portals);
    store_bind_text_nn(s, 9, c->required_fields);
    sqlite3_bind_int64(s, 10, (int64_t)time(NULL));
    return finish(s, sqlite3_step(s));
}

/* ---- mappings ---- */

static const char *const kind_names[] = {"static", "dynamic", "lookup", "dynamic_lookup"};

const char *tb_csm_map_kind_name(tb_csm_map_kind k)
{
    return (unsigned)k < sizeof kind_names / sizeof *kind_names ? kind_names[k] : "?";
}

int tb_csm_map_kind_parse(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "dynamic-lookup"))
        return CSM_MAP_DYNAMIC_LOOKUP;
    for (size_t i = 0; i < sizeof kind_names / sizeof *kind_names; i++)
        if (!strcmp(s, kind_names[i]))
            return (int)i;
    return -1;
}

void tb_csm_mappings_free(tb_csm_mapping *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].label);
        free(v[i].case_field);
        free(v[i].value);
        free(v[i].bt_field);
        free(v[i].lookup_table);
        free(v[i].lookup_field);
    }
    free(v);
}

tb_err store_csm_mapping_list(tb_store *st, int64_t appliance_id, tb_csm_mapping **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    tb_err e = prepare(st,
                       "SELECT id, kind, label, case_field, value, bt_field, lookup_table, lookup_field"
                       " FROM tb_csm_mapping WHERE appliance_id = ? ORDER BY id",
                       &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, appliance_id);
    store_vec a = {.elem = sizeof(tb_csm_mapping)};
    int rc = SQLITE_DONE;
    while (!e && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        tb_csm_mapping *m = store_vec_push(&a);
        if (!m) {
            e = TB_ERR_NOMEM;
            break;
        }
        m->id = sqlite3_column_int64(s, 0);
        int k = tb_csm_map_kind_parse((const char *)sqlite3_column_text(s, 1));
        m->kind = k < 0 ? CSM_MAP_STATIC : (tb_csm_map_kind)k;
        m->label = store_col_strdup(s, 2);
        m->case_field = store_col_strdup(s, 3);
        m->value = store_col_strdup(s, 4);
        m->bt_field = store_col_strdup(s, 5);
        m->lookup_table = store_col_strdup(s, 6);
        m->lookup_field = store_col_strdup(s, 7);
        if (!m->label || !m->case_field || !m->value || !m->bt_field || !m->lookup_table || !m->lookup_field)
            e = TB_ERR_NOMEM;
    }
    if (!e)
        e = finish(s, rc);
    else
        sqlite3_finalize(s);
    if (e) {
        tb_csm_mappings_free(a.v, a.n);
        return e;
    }
    *out = a.v;
    *n = a.n;
    return TB_OK;
}

tb_err store_csm_mapping_add(tb_store *st, int64_t appliance_id, const tb_csm_mapping *m, int64_t *id)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st,
                       "INSERT INTO tb_csm_mapping(appliance_id, kind, label, case_field, value, bt_field,"
                       " lookup_table, lookup_field, created_at) VALUES(?,?,?,?,?,?,?,?,?)",
                       &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, appliance_id);
    store_bind_text_nn(s, 2, tb_csm_map_kind_name(m->kind));
    store_bind_text_nn(s, 3, m->label);
    store_bind_text_nn(s, 4, m->case_field);
    store_bind_text_nn(s, 5, m->value);
    store_bind_text_nn(s, 6, m->bt_field);
    store_bind_text_nn(s, 7, m->lookup_table);
    store_bind_text_nn(s, 8, m->lookup_field);
    sqlite3_bind_int64(s, 9, (int64_t)time(NULL));
    int rc = sqlite3_step(s);
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
        sqlite3_finalize(s);
        return TB_ERR_EXISTS;
    }
    e = finish(s, rc);
    if (!e && id)
        *id = sqlite3_last_insert_rowid(st->db);
    return e;
}

tb_err store_csm_mapping_remove(tb_store *st, int64_t appliance_id, int64_t id)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st, "DELETE FROM tb_csm_mapping WHERE appliance_id = ? AND id = ?", &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, appliance_id);
    sqlite3_bind_int64(s, 2, id);
    e = finish(s, sqlite3_step(s));
    if (!e && !sqlite3_changes(st->db))
        e = TB_ERR_NOT_FOUND;
    return e;
}

/* ---- case-field catalogue ---- */

tb_err store_case_fields_update(tb_store *st, int64_t *added)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st, "INSERT OR IGNORE INTO tb_case_field(name, label, added_at) VALUES(?,?,?)", &s);
    if (e)
        return e;
    int64_t n = 0;
    int rc = SQLITE_DONE;
    for (int i = 0; i < BT_CF__COUNT && rc == SQLITE_DONE; i++) {
        sqlite3_bind_text(s, 1, bt_case_fields[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, bt_case_fields[i].label, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc == SQLITE_DONE)
            n += sqlite3_changes(st->db);
    }
    e = finish(s, rc);
    if (!e && added)
        *added = n;
    return e;
}

tb_err store_case_field_known(tb_store *st, const char *name)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st, "SELECT 1 FROM tb_case_field WHERE name = ?", &s);
    if (e)
        return e;
    store_bind_text_nn(s, 1, name);
    int rc = sqlite3_step(s);
    e = finish(s, rc);
    return e ? e : rc == SQLITE_ROW ? TB_OK : TB_ERR_NOT_FOUND;
}

tb_err store_case_fields_each(tb_store *st, void (*fn)(void *ctx, const char *name, const char *label), void *ctx)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st, "SELECT name, label FROM tb_case_field ORDER BY name", &s);
    if (e)
        return e;
    int rc = SQLITE_DONE;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1));
    return finish(s, rc);
}

/* ---- cases ---- */

void tb_csm_case_clear(tb_csm_case *c)
{
    free(c->appliance);
    free(c->lsid);
    free(c->case_sys_id);
    free(c->case_number);
    free(c->origin);
    free(c->rep_username);
    free(c->warnings);
    memset(c, 0, sizeof *c);
}

void tb_csm_cases_free(tb_csm_case *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tb_csm_case_clear(&v[i]);
    free(v);
}

#define CASE_COLS                                                                                     \
    "SELECT c.appliance_id, coalesce(a.name, ''), c.lsid, c.case_sys_id, c.case_number, c.origin,"   \
    " c.rep_username, c.warnings, coalesce(c.attribute_set_at, 0), c.created_at"                      \
    " FROM tb_csm_case c LEFT JOIN tb_appliance a ON a.id = c.appliance_id"

static tb_err case_row(sqlite3_stmt *s, tb_csm_case *c)
{
    c->appliance_id = sqlite3_column_int64(s, 0);
    c->appliance = store_col_strdup(s, 1);
    c->lsid = store_col_strdup(s, 2);
    c->case_sys_id = store_col_strdup(s, 3);
    c->case_number = store_col_strdup(s, 4);
    c->origin = store_col_strdup(s, 5);
    c->rep_username = store_col_strdup(s, 6);
    c->warnings = store_col_strdup(s, 7);
    c->attribute_set_at = sqlite3_column_int64(s, 8);
    c->created_at = sqlite3_column_int64(s, 9);
    return c->appliance && c->lsid && c->case_sys_id && c->case_number && c->origin && c->rep_username &&
                   c->warnings
               ? TB_OK
               : TB_ERR_NOMEM;
}

tb_err store_csm_case_get(tb_store *st, int64_t appliance_id, const char *lsid, tb_csm_case *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    tb_err e = prepare(st, CASE_COLS " WHERE c.appliance_id = ? AND c.lsid = ?", &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, appliance_id);
    store_bind_text_nn(s, 2, lsid);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        e = case_row(s, out);
    tb_err fe = finish(s, rc);
    if (!e)
        e = fe;
    if (!e && rc == SQLITE_DONE)
        e = TB_ERR_NOT_FOUND;
    if (e)
        tb_csm_case_clear(out);
    return e;
}

tb_err store_csm_case_insert(tb_store *st, const tb_csm_case *c)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st,
                       "INSERT INTO tb_csm_case(appliance_id, lsid, case_sys_id, case_number, origin, rep_username,"
                       " warnings, attribute_set_at, created_at) VALUES(?,?,?,?,?,?,?,?,?)",
                       &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, c->appliance_id);
    store_bind_text_nn(s, 2, c->lsid);
    store_bind_text_nn(s, 3, c->case_sys_id);
    store_bind_text_nn(s, 4, c->case_number);
    store_bind_text_nn(s, 5, c->origin);
    store_bind_text_nn(s, 6, c->rep_username);
    store_bind_text_nn(s, 7, c->warnings);
    if (c->attribute_set_at)
        sqlite3_bind_int64(s, 8, c->attribute_set_at);
    else
        sqlite3_bind_null(s, 8);
    sqlite3_bind_int64(s, 9, c->created_at ? c->created_at : (int64_t)time(NULL));
    int rc = sqlite3_step(s);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
        sqlite3_finalize(s);
        return TB_ERR_EXISTS;
    }
    return finish(s, rc);
}

tb_err store_csm_case_attribute_set(tb_store *st, int64_t appliance_id, const char *lsid, int64_t at)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st, "UPDATE tb_csm_case SET attribute_set_at = ? WHERE appliance_id = ? AND lsid = ?", &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, at);
    sqlite3_bind_int64(s, 2, appliance_id);
    store_bind_text_nn(s, 3, lsid);
    e = finish(s, sqlite3_step(s));
    if (!e && !sqlite3_changes(st->db))
        e = TB_ERR_NOT_FOUND;
    return e;
}

tb_err store_csm_case_list(tb_store *st, int64_t appliance_id, size_t limit, tb_csm_case **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    tb_err e = prepare(st, CASE_COLS " WHERE (?1 = 0 OR c.appliance_id = ?1) ORDER BY c.created_at DESC,"
                                     " c.rowid DESC LIMIT ?2",
                       &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, appliance_id);
    sqlite3_bind_int64(s, 2, limit ? (int64_t)limit : 50);
    store_vec a = {.elem = sizeof(tb_csm_case)};
    int rc = SQLITE_DONE;
    while (!e && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        tb_csm_case *c = store_vec_push(&a);
        e = c ? case_row(s, c) : TB_ERR_NOMEM;
    }
    if (!e)
        e = finish(s, rc);
    else
        sqlite3_finalize(s);
    if (e) {
        tb_csm_cases_free(a.v, a.n);
        return e;
    }
    *out = a.v;
    *n = a.n;
    return TB_OK;
}

/* ---- decisions ---- */

tb_err store_csm_log_insert(tb_store *st, const tb_csm_log_rec *r)
{
    sqlite3_stmt *s;
    tb_err e = prepare(st,
                       "INSERT INTO tb_csm_log(at, appliance_id, lsid, origin, outcome, case_number, detail)"
                       " VALUES(?,?,?,?,?,?,?)",
                       &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, r->at ? r->at : (int64_t)time(NULL));
    if (r->appliance_id)
        sqlite3_bind_int64(s, 2, r->appliance_id);
    else
        sqlite3_bind_null(s, 2);
    store_bind_text_nn(s, 3, r->lsid);
    store_bind_text_nn(s, 4, r->origin);
    store_bind_text_nn(s, 5, r->outcome);
    store_bind_text_nn(s, 6, r->case_number);
    store_bind_text_nn(s, 7, r->detail);
    return finish(s, sqlite3_step(s));
}

void tb_csm_logs_free(tb_csm_log *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].appliance);
        free(v[i].lsid);
        free(v[i].origin);
        free(v[i].outcome);
        free(v[i].case_number);
        free(v[i].detail);
    }
    free(v);
}

tb_err store_csm_log_list(tb_store *st, int64_t appliance_id, const char *lsid, size_t limit, tb_csm_log **out,
                          size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    tb_err e = prepare(st,
                       "SELECT l.id, l.at, coalesce(a.name, ''), l.lsid, l.origin, l.outcome, l.case_number, l.detail"
                       " FROM tb_csm_log l LEFT JOIN tb_appliance a ON a.id = l.appliance_id"
                       " WHERE (?1 = 0 OR l.appliance_id = ?1) AND (?2 IS NULL OR l.lsid = ?2)"
                       " ORDER BY l.id DESC LIMIT ?3",
                       &s);
    if (e)
        return e;
    sqlite3_bind_int64(s, 1, appliance_id);
    if (lsid)
        sqlite3_bind_text(s, 2, lsid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, limit ? (int64_t)limit : 50);
    store_vec a = {.elem = sizeof(tb_csm_log)};
    int rc = SQLITE_DONE;
    while (!e && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        tb_csm_log *l = store_vec_push(&a);
        if (!l) {
            e = TB_ERR_NOMEM;
            break;
        }
        l->id = sqlite3_column_int64(s, 0);
        l->at = sqlite3_column_int64(s, 1);
        l->appliance = store_col_strdup(s, 2);
        l->lsid = store_col_strdup(s, 3);
        l->origin = store_col_strdup(s, 4);
        l->outcome = store_col_strdup(s, 5);
        l->case_number = store_col_strdup(s, 6);
        l->detail = store_col_strdup(s, 7);
        if (!l->appliance || !l->lsid || !l->origin || !l->outcome || !l->case_number || !l->detail)
            e = TB_ERR_NOMEM;
    }
    if (!e)
        e = finish(s, rc);
    else
        sqlite3_finalize(s);
    if (e) {
        tb_csm_logs_free(a.v, a.n);
        return e;
    }
    *out = a.v;
    *n = a.n;
    return TB_OK;
}
