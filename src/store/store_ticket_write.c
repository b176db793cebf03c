#include "store/store_ticket_write.h"
#include "store/store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {[TICKET_WRITE_JOURNAL] = "journal", [TICKET_WRITE_UPDATE] = "update"};

tb_err store_ticket_write_queue(tb_store *st, const tb_ticket_write *w, int64_t now, int64_t *id)
{
    if (!w->table || !w->sys_id || !w->body || (unsigned)w->op > TICKET_WRITE_UPDATE)
        return TB_ERR_INVALID;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_job(kind, lsid, run_after, created_at, updated_at) VALUES('" TICKET_WRITE_JOB "', ?1, 0, ?2, ?2)",
        -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    /* The jobs list shows "lsid"; for these jobs it names the record. */
    char what[128];
    snprintf(what, sizeof what, "%.60s/%.40s", w->table, w->sys_id);
    sqlite3_bind_text(s, 1, what, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, now);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    int64_t job = sqlite3_last_insert_rowid(st->db);
    rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_ticket_write(job_id, op, tbl, sys_id, element, author, marker, body, created_at)"
        " VALUES(?,?,?,?,?,?,?,?,?)", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, job);
    sqlite3_bind_text(s, 2, op_names[w->op], -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, w->table, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, w->sys_id, -1, SQLITE_STATIC);
    store_bind_text(s, 5, w->element);
    store_bind_text(s, 6, w->author);
    store_bind_text(s, 7, w->marker);
    sqlite3_bind_text(s, 8, w->body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 9, now);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (id)
        *id = sqlite3_last_insert_rowid(st->db);
    return TB_OK;
}

tb_err store_ticket_write_by_job(tb_store *st, int64_t job_id, tb_ticket_write *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT id, job_id, op, tbl, sys_id, element, author, marker, body, created_at FROM tb_ticket_write"
        " WHERE job_id = ?", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, job_id);
    rc = sqlite3_step(s);
    tb_err e = TB_OK;
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        out->job_id = sqlite3_column_int64(s, 1);
        const char *op = (const char *)sqlite3_column_text(s, 2);
        out->op = op && !strcmp(op, "update") ? TICKET_WRITE_UPDATE : TICKET_WRITE_JOURNAL;
        char **strs[] = {&out->table, &out->sys_id, &out->element, &out->author, &out->marker, &out->body};
        for (int i = 0; i < 6; i++)
            if (!(*strs[i] = store_col_strdup(s, 3 + i)))
                e = TB_ERR_NOMEM;
        out->created_at = sqlite3_column_int64(s, 9);
    } else {
        e = rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    }
    sqlite3_finalize(s);
    if (e)
        tb_ticket_write_clear(out);
    return e;
}

void tb_ticket_write_clear(tb_ticket_write *w)
{
    char **strs[] = {&w->table, &w->sys_id, &w->element, &w->author, &w->marker, &w->body};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(*strs[i]);
    memset(w, 0, sizeof *w);
}
