/* Encoded queries against the embedded store (itsm_table.h): the column
 * catalogue read from the schema, with ServiceNow's field types laid over it,
 * and execution of the compiled SQL. */
#include "itsm/itsm_table.h"
#include "itsm/itsm_embedded_int.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SQL_MAX (4u * 1024 * 1024)
#define MAX_OFFSET ((size_t)1 << 40)

struct itsm_table {
    sqlite3 *db;
    bool owned;
    snq_catalog *cat;
};

/* Tables the Table API reads: the store's ServiceNow tables. */
static const char *const api_tables[] = {
    "incident", "change_request", "problem", "sc_task", "sc_req_item",
    "sn_customerservice_case", "cmdb_ci", "sys_user", "sys_user_group",
    "sys_user_grmember", "sys_journal_field", "sys_attachment", NULL,
};

static const char *const task_tables[] = {
    "incident", "change_request", "problem", "sc_task", "sc_req_item",
    "sn_customerservice_case", NULL,
};

/* ServiceNow's reference fields and the table each points to (table NULL:
 * the field means this wherever it appears). Targets the store does not have
 * (core_company, task, ...) still make the field an ID; walking into them is
 * an ignored part. */
static const struct {
    const char *table;
    const char *col;
    const char *ref;
} references[] = {
    {NULL, "assigned_to", "sys_user"}, {NULL, "assignment_group", "sys_user_group"},
    {NULL, "cmdb_ci", "cmdb_ci"}, {NULL, "caller_id", "sys_user"},
    {NULL, "opened_by", "sys_user"}, {NULL, "closed_by", "sys_user"},
    {NULL, "resolved_by", "sys_user"}, {NULL, "requested_by", "sys_user"},
    {NULL, "requested_for", "sys_user"}, {NULL, "managed_by", "sys_user"},
    {NULL, "owned_by", "sys_user"}, {NULL, "manager", "sys_user"},
    {NULL, "user", "sys_user"}, {NULL, "support_group", "sys_user_group"},
    {NULL, "group", "sys_user_group"}, {NULL, "problem_id", "problem"},
    {NULL, "rfc", "change_request"}, {NULL, "caused_by", "change_request"},
    {NULL, "request_item", "sc_req_item"}, {NULL, "request", "sc_request"},
    {NULL, "cat_item", "sc_cat_item"}, {NULL, "business_service", "cmdb_ci_service"},
    {NULL, "company", "core_company"}, {NULL, "manufacturer", "core_company"},
    {NULL, "location", "cmn_location"}, {NULL, "department", "cmn_department"},
    {NULL, "model_id", "cmdb_model"}, {NULL, "chg_model", "chg_model"},
    {NULL, "first_reported_by_task", "task"}, {NULL, "contact", "customer_contact"},
    {NULL, "account", "customer_account"}, {NULL, "consumer", "csm_consumer"},
    {NULL, "product", "cmdb_model"}, {NULL, "asset", "alm_asset"},
    {"sys_user_group", "parent", "sys_user_group"},
};

/* sys_ids that point at a record of a table named elsewhere. */
static const char *const id_cols[] = {"sys_id", "element_id", "table_sys_id", NULL};
static const char *const boolean_cols[] = {
    "active", "locked_out", "made_sla", "known_error", "cab_required", "on_hold", NULL,
};
static const char *const datetime_cols[] = {
    "sys_created_on", "sys_updated_on", "opened_at", "closed_at", "resolved_at",
    "due_date", "start_date", "end_date", NULL,
};

static int in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static const char *reference_of(const char *table, const char *col)
{
    for (size_t i = 0; i < sizeof references / sizeof references[0]; i++)
        if (strcmp(references[i].col, col) == 0 &&
            (!references[i].table || strcmp(references[i].table, table) == 0))
            return references[i].ref;
    if (strcmp(col, "parent") == 0 && in_list(task_tables, table))
        return "task";
    return NULL;
}

static int is_identifier(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return 0;
    return n > 0 && n <= SNQ_MAX_FIELD;
}

static tb_err prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    int src = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    return src == SQLITE_OK ? TB_OK : emb_err(src);
}

/* Columns whose index is on lower(col): equality through lower() uses it. */
static tb_err mark_lower_indexes(sqlite3 *db, snq_table *t)
{
    sqlite3_stmt *st;
    tb_err rc = prepare(db, "SELECT sql FROM sqlite_schema WHERE type = 'index' AND"
                            " tbl_name = ?1 AND sql IS NOT NULL", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *sql = (const char *)sqlite3_column_text(st, 0);
        for (size_t i = 0; sql && i < t->ncols; i++) {
            char needle[SNQ_MAX_FIELD + 16];
            snprintf(needle, sizeof needle, "(lower(%s))", t->cols[i].name);
            if (strstr(sql, needle))
                t->cols[i].lower_index = true;
        }
    }
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? TB_OK : emb_err(src);
}

static snq_kind kind_of(const char *table, const char *col, const char *decltype, const char **ref)
{
    *ref = reference_of(table, col);
    if (*ref || in_list(id_cols, col))
        return SNQ_ID;
    if (in_list(boolean_cols, col))
        return SNQ_BOOLEAN;
    if (in_list(datetime_cols, col))
        return SNQ_DATETIME;
    if (decltype && strcmp(decltype, "INTEGER") == 0)
        return SNQ_INTEGER;
    return SNQ_TEXT;
}

/* Reads table's columns; a table the schema lacks gets none. */
static tb_err load_table(sqlite3 *db, const char *name, snq_table *t)
{
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA table_info(\"%s\")", name);
    sqlite3_stmt *st;
    tb_err rc = prepare(db, sql, &st);
    if (rc)
        return rc;
    if (!(t->name = strdup(name))) {
        sqlite3_finalize(st);
        return TB_ERR_NOMEM;
    }
    size_t cap = 0;
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(st, 1);
        const char *type = (const char *)sqlite3_column_text(st, 2);
        if (!col || !is_identifier(col) || (type && strcmp(type, "BLOB") == 0))
            continue;
        if (t->ncols == cap) {
            cap = cap ? cap * 2 : 32;
            snq_column *nc = realloc(t->cols, cap * sizeof *nc);
            if (!nc) {
                rc = TB_ERR_NOMEM;
                break;
            }
            t->cols = nc;
        }
        snq_column *c = &t->cols[t->ncols];
        memset(c, 0, sizeof *c);
        if (!(c->name = strdup(col))) {
            rc = TB_ERR_NOMEM;
            break;
        }
        c->kind = kind_of(name, col, type, &c->ref);
        t->ncols++;
    }
    if (!rc && src != SQLITE_DONE)
        rc = emb_err(src);
    sqlite3_finalize(st);
    if (!rc)
        rc = mark_lower_indexes(db, t);
    return rc;
}

static tb_err load_catalog(sqlite3 *db, snq_catalog **out)
{
    snq_catalog *cat = calloc(1, sizeof *cat);
    size_t n = sizeof api_tables / sizeof api_tables[0] - 1;
    if (!cat || !(cat->tables = calloc(n, sizeof *cat->tables))) {
        free(cat);
        return TB_ERR_NOMEM;
    }
    tb_err rc = TB_OK;
    for (size_t i = 0; !rc && api_tables[i]; i++) {
        snq_table *t = &cat->tables[cat->ntables++];
        rc = load_table(db, api_tables[i], t);
        if (!rc && t->ncols == 0) {         /* not in this database */
            free(t->name);
            free(t->cols);
            memset(t, 0, sizeof *t);
            cat->ntables--;
        }
    }
    if (rc) {
        snq_catalog_free(cat);
        return rc;
    }
    *out = cat;
    return TB_OK;
}

static tb_err make_handle(sqlite3 *db, bool owned, itsm_table **out)
{
    itsm_table *t = calloc(1, sizeof *t);
    if (!t)
        return TB_ERR_NOMEM;
    t->db = db;
    t->owned = owned;
    tb_err rc = load_catalog(db, &t->cat);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    return TB_OK;
}

tb_err itsm_table_open(const char *db_path, itsm_table **out)
{
    if (!out)
        return TB_ERR_INVALID;
    *out = NULL;
    if (!db_path || !*db_path)
        return TB_ERR_INVALID;
    sqlite3 *db = NULL;
    int src = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL);
    tb_err rc = src == SQLITE_OK ? emb_configure(db) : emb_err(src);
    if (!rc)
        rc = emb_err(sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL));
    if (!rc)
        rc = make_handle(db, true, out);
    if (rc)
        sqlite3_close(db);
    return rc;
}

tb_err itsm_table_wrap(sqlite3 *db, itsm_table **out)
{
    if (!out)
        return TB_ERR_INVALID;
    *out = NULL;
    if (!db)
        return TB_ERR_INVALID;
    return make_handle(db, false, out);
}

void itsm_table_close(itsm_table *t)
{
    if (!t)
        return;
    snq_catalog_free(t->cat);
    if (t->owned)
        sqlite3_close(t->db);
    free(t);
}

const snq_catalog *itsm_table_catalog(const itsm_table *t)
{
    return t ? t->cat : NULL;
}

/* --- execution ------------------------------------------------------------ */

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A query's time budget: SQLite calls back every few thousand VM steps,
 * and a non-zero return interrupts the statement. */
typedef struct deadline {
    int64_t end_ms;     /* 0: none */
    bool hit;
} deadline;

static int past_deadline(void *p)
{
    deadline *d = p;
    if (d->end_ms && monotonic_ms() > d->end_ms)
        d->hit = true;
    return d->hit;
}

static void deadline_start(sqlite3 *db, deadline *d, unsigned timeout_ms)
{
    d->hit = false;
    d->end_ms = timeout_ms ? monotonic_ms() + timeout_ms : 0;
    if (timeout_ms)
        sqlite3_progress_handler(db, 4000, past_deadline, d);
}

static tb_err deadline_end(sqlite3 *db, const deadline *d, tb_err rc)
{
    if (d->end_ms)
        sqlite3_progress_handler(db, 0, NULL, NULL);
    return d->hit && rc ? TB_ERR_TIMEOUT : rc;
}

static void report_ignored(const itsm_table_query *req, const snq_sql *s)
{
    if (!req->on_ignored)
        return;
    for (size_t i = 0; req->q && i < req->q->nignored; i++)
        req->on_ignored(req->ctx, &req->q->ignored[i]);
    for (size_t i = 0; i < s->nignored; i++)
        req->on_ignored(req->ctx, &s->ignored[i]);
}

static tb_err check_request(const itsm_table *t, const itsm_table_query *req)
{
    if (!t || !req || !req->table)
        return TB_ERR_INVALID;
    if (req->offset > MAX_OFFSET)
        return TB_ERR_INVALID;
    return TB_OK;
}

static size_t effective_limit(size_t limit)
{
    return limit == 0 || limit > ITSM_MAX_ROWS ? ITSM_MAX_ROWS : limit;
}

/* "SELECT <list> FROM ... WHERE ..." (+ ORDER BY / LIMIT unless counting). */
static tb_err build_sql(const snq_sql *s, bool count, tb_buf *sql)
{
    if (count)
        return tb_buf_printf(sql, "SELECT count(*) FROM %s%s", s->count_from.data, s->where.data);
    return tb_buf_printf(sql, "SELECT %s FROM %s%s%s LIMIT ?%zu OFFSET ?%zu", s->select.data,
                         s->from.data, s->where.data, s->order.data, s->nbinds + 1, s->nbinds + 2);
}

/* Prepares sql and binds the query's values (and limit/offset). The
 * statement must be read-only: a last guard that nothing but a SELECT
 * ever runs. */
static tb_err prepare_bound(sqlite3 *db, const char *sql, const snq_sql *s, bool paged,
                            size_t limit, size_t offset, sqlite3_stmt **out)
{
    sqlite3_stmt *st;
    tb_err rc = prepare(db, sql, &st);
    if (rc)
        return rc;
    if (!sqlite3_stmt_readonly(st)) {
        sqlite3_finalize(st);
        return TB_ERR_INVALID;
    }
    for (size_t i = 0; i < s->nbinds; i++) {
        const snq_bind *b = &s->binds[i];
        if (b->is_int)
            sqlite3_bind_int64(st, (int)i + 1, b->i);
        else
            sqlite3_bind_text(st, (int)i + 1, b->text, -1, SQLITE_STATIC);
    }
    if (paged) {
        sqlite3_bind_int64(st, (int)s->nbinds + 1, (sqlite3_int64)limit);
        sqlite3_bind_int64(st, (int)s->nbinds + 2, (sqlite3_int64)offset);
    }
    *out = st;
    return TB_OK;
}

static tb_err row_to_record(sqlite3_stmt *st, const char *table, const snq_sql *s,
                            itsm_record **out)
{
    itsm_record *r = calloc(1, sizeof *r);
    if (!r || (s->nselects && !(r->fields = calloc(s->nselects, sizeof *r->fields)))) {
        free(r);
        return TB_ERR_NOMEM;
    }
    snprintf(r->table, sizeof r->table, "%s", table);
    const char *id = (const char *)sqlite3_column_text(st, 0);
    snprintf(r->sys_id, sizeof r->sys_id, "%s", id ? id : "");
    for (size_t i = 0; i < s->nselects; i++) {
        const char *v = (const char *)sqlite3_column_text(st, (int)i + 1);
        itsm_field *f = &r->fields[i];
        f->name = strdup(s->selects[i].name);
        f->value = strdup(v ? v : "");
        if (!f->name || !f->value) {
            free(f->name);
            free(f->value);
            itsm_record_free(r);
            return TB_ERR_NOMEM;
        }
        r->nfields++;
    }
    *out = r;
    return TB_OK;
}

static tb_err fetch_rows(sqlite3_stmt *st, const char *table, const snq_sql *s, size_t limit,
                         deadline *d, itsm_record ***out, size_t *n)
{
    itsm_record **v = NULL;
    size_t nv = 0, cap = 0;
    tb_err rc = TB_OK;
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (past_deadline(d)) {
            rc = TB_ERR_TIMEOUT;
            break;
        }
        if (nv == cap) {
            size_t nc = cap ? cap * 2 : (limit < 16 ? limit : 16);
            itsm_record **nvp = realloc(v, nc * sizeof *v);
            if (!nvp) {
                rc = TB_ERR_NOMEM;
                break;
            }
            v = nvp;
            cap = nc;
        }
        if (!(rc = row_to_record(st, table, s, &v[nv])))
            nv++;
    }
    if (!rc && src != SQLITE_DONE)
        rc = emb_err(src);
    if (rc) {
        itsm_records_free(v, nv);
        return rc;
    }
    *out = v;
    *n = nv;
    return TB_OK;
}

static tb_err count_rows(sqlite3 *db, const snq_sql *s, size_t *total)
{
    tb_buf sql;
    tb_buf_init(&sql, SQL_MAX);
    sqlite3_stmt *st = NULL;
    tb_err rc = build_sql(s, true, &sql);
    if (!rc)
        rc = prepare_bound(db, sql.data, s, false, 0, 0, &st);
    tb_buf_free(&sql);
    if (rc)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *total = (size_t)sqlite3_column_int64(st, 0);
    else
        rc = emb_err(src);
    sqlite3_finalize(st);
    return rc;
}

tb_err itsm_embedded_table_query(itsm_table *t, const itsm_table_query *req,
                                 itsm_record ***out, size_t *n, size_t *total)
{
    if (!out || !n)
        return TB_ERR_INVALID;
    *out = NULL;
    *n = 0;
    if (total)
        *total = 0;
    tb_err rc = check_request(t, req);
    if (rc)
        return rc;
    size_t limit = effective_limit(req->limit);
    snq_sql s;
    rc = snquery_compile(req->q, t->cat, req->table, req->fields, &s, NULL, 0);
    if (rc)
        return rc;
    report_ignored(req, &s);

    /* The rows and their count come from one snapshot. */
    deadline d;
    deadline_start(t->db, &d, req->timeout_ms);
    bool txn = total && sqlite3_get_autocommit(t->db);
    if (txn && (rc = emb_err(sqlite3_exec(t->db, "BEGIN", NULL, NULL, NULL)))) {
        snq_sql_free(&s);
        return deadline_end(t->db, &d, rc);
    }
    tb_buf sql;
    tb_buf_init(&sql, SQL_MAX);
    sqlite3_stmt *st = NULL;
    rc = build_sql(&s, false, &sql);
    if (!rc)
        rc = prepare_bound(t->db, sql.data, &s, true, limit, req->offset, &st);
    if (!rc)
        rc = fetch_rows(st, req->table, &s, limit, &d, out, n);
    sqlite3_finalize(st);
    tb_buf_free(&sql);
    if (!rc && total)
        rc = count_rows(t->db, &s, total);
    rc = deadline_end(t->db, &d, rc);  /* first: the handler would interrupt COMMIT too */
    if (txn)
        sqlite3_exec(t->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    if (rc) {
        itsm_records_free(*out, *n);
        *out = NULL;
        *n = 0;
        if (total)
            *total = 0;
    }
    snq_sql_free(&s);
    return rc;
}

tb_err itsm_table_explain(itsm_table *t, const itsm_table_query *req, tb_buf *plan)
{
    if (!plan)
        return TB_ERR_INVALID;
    tb_err rc = check_request(t, req);
    if (rc)
        return rc;
    snq_sql s;
    if ((rc = snquery_compile(req->q, t->cat, req->table, req->fields, &s, NULL, 0)))
        return rc;
    tb_buf sql;
    tb_buf_init(&sql, SQL_MAX);
    sqlite3_stmt *st = NULL;
    rc = tb_buf_appends(&sql, "EXPLAIN QUERY PLAN ");
    if (!rc)
        rc = build_sql(&s, false, &sql);
    if (!rc)
        rc = prepare_bound(t->db, sql.data, &s, true, effective_limit(req->limit), req->offset,
                           &st);
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        rc = tb_buf_printf(plan, "%s\n", detail ? detail : "");
    }
    if (!rc && src != SQLITE_DONE)
        rc = emb_err(src);
    sqlite3_finalize(st);
    tb_buf_free(&sql);
    snq_sql_free(&s);
    return rc;
}

tb_err itsm_table_attachment_content(itsm_table *t, const char *sys_id, void **data, size_t *len)
{
    if (!data || !len)
        return TB_ERR_INVALID;
    *data = NULL;
    *len = 0;
    if (!t || !sys_id)
        return TB_ERR_INVALID;
    sqlite3_stmt *st;
    tb_err rc = prepare(t->db, "SELECT content FROM sys_attachment WHERE sys_id = ?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, sys_id, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if (n && b) {
            if ((*data = malloc(n))) {
                memcpy(*data, b, n);
                *len = n;
            } else {
                rc = TB_ERR_NOMEM;
            }
        }
    } else {
        rc = src == SQLITE_DONE ? TB_ERR_NOT_FOUND : emb_err(src);
    }
    sqlite3_finalize(st);
    return rc;
}
