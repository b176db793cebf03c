/* POST, PUT, PATCH and DELETE on the Table API. The request is checked and
 * its body read on the HTTP thread; the write itself runs inside the
 * writer's group commit (one savepoint per request), and the answer goes
 * out after the COMMIT. The record in the answer is read back on the
 * writer's connection inside the same transaction, so it is exactly what
 * was stored. */
#include "flow/table_api_int.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "itsm/snquery_build.h"
#include "store/store.h"

typedef enum { OP_CREATE, OP_UPDATE, OP_DELETE } write_op;

typedef struct tapi_write {
    tb_write_req w;
    table_api *ta;
    tb_http_req *http;
    write_op op;
    char table[ITSM_MAX_NAME + 1];
    char sys_id[ITSM_SYS_ID_LEN + 1];
    char user[CREDENTIAL_USERNAME_MAX + 1];
    tapi_body body;
    char **resolved;                /* reference values found by display value */
    size_t nresolved;
    tapi_display display;
    bool exclude_link;
    bool no_body;
    char *fields;
    char base[TAPI_BASE_URL_MAX];
    /* Outcome, set on the writer thread. */
    int status;
    tb_err err;                     /* status 0: a store error to answer */
    char *reply;
} tapi_write;

static void write_free(tapi_write *p)
{
    tapi_body_free(&p->body);
    for (size_t i = 0; i < p->nresolved; i++)
        free(p->resolved[i]);
    free(p->resolved);
    free(p->fields);
    free(p->reply);
    free(p);
}

/* --- writer side ----------------------------------------------------------- */

static tb_err exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? TB_OK : TB_ERR_DB;
}

/* Outcomes the client caused: answered, and the writer's batch goes on. */
static bool client_error(tb_err e)
{
    return e == TB_ERR_NOT_FOUND || e == TB_ERR_INVALID || e == TB_ERR_EXISTS || e == TB_ERR_TOO_LARGE;
}

static tb_err apply(tapi_write *p)
{
    table_api *ta = p->ta;
    tb_err rc = TB_OK;
    switch (p->op) {
    case OP_CREATE: {
        itsm_record *r = NULL;
        rc = itsm_create(ta->w_itsm, p->table, p->body.kv, p->body.nkv, &r);
        if (!rc)
            snprintf(p->sys_id, sizeof p->sys_id, "%s", r->sys_id);
        itsm_record_free(r);
        break;
    }
    case OP_UPDATE:
        rc = itsm_update(ta->w_itsm, p->table, p->sys_id, p->body.kv, p->body.nkv);
        break;
    case OP_DELETE:
        return itsm_remove(ta->w_itsm, p->table, p->sys_id);
    }
    if (!rc && p->body.work_notes)
        rc = itsm_add_journal(ta->w_itsm, p->table, p->sys_id, "work_notes", p->body.work_notes, p->user);
    if (!rc && p->body.comments)
        rc = itsm_add_journal(ta->w_itsm, p->table, p->sys_id, "comments", p->body.comments, p->user);
    return rc;
}

/* The record as stored, rendered. Plain values need no join, so they are
 * rendered from the row itself (one cached lookup); display values and
 * dot-walks go through a query. */
static tb_err render(tapi_write *p)
{
    if (p->op == OP_DELETE || p->no_body)
        return TB_OK;
    tapi_view v = {itsm_table_catalog(p->ta->w_table), p->table, p->display, p->exclude_link, p->fields,
                   p->base};
    json_t *rec = NULL;
    tb_err rc = TB_OK;
    if (p->display == TAPI_DV_FALSE) {
        tapi_fieldset fs;
        itsm_record *r = NULL;
        int *idx = NULL;
        if (!(rc = tapi_fieldset_build(&v, &fs, NULL))) {
            if (!(rc = itsm_get(p->ta->w_itsm, p->table, p->sys_id, &r)) &&
                !(idx = calloc(fs.nquery, sizeof *idx)))
                rc = TB_ERR_NOMEM;
            bool plain = !rc;
            if (!rc)
                tapi_field_index(&fs, r, idx);
            for (size_t k = 0; plain && k < fs.nquery; k++)
                plain = idx[k] >= 0;
            if (plain && !(rec = tapi_render_record(&v, &fs, r, idx, NULL)))
                rc = TB_ERR_NOMEM;
            free(idx);
            itsm_record_free(r);
            tapi_fieldset_free(&fs);
        }
    }
    if (!rc && !rec)
        rc = tapi_fetch_one(p->ta->w_table, &v, p->sys_id, &rec);
    json_t *doc = rec ? json_pack("{s:o}", "result", rec) : NULL;
    if (!rc && !(doc && (p->reply = json_dumps(doc, JSON_COMPACT))))
        rc = TB_ERR_NOMEM;
    json_decref(doc);
    return rc;
}

/* Runs in the writer's transaction; may run twice (the writer re-runs each
 * request of a failed batch on its own), so it starts from a clean slate. */
static tb_err write_fn(tb_store *st, void *arg)
{
    tapi_write *p = arg;
    table_api *ta = p->ta;
    free(p->reply);
    p->reply = NULL;
    p->status = 0;
    p->err = TB_OK;
    sqlite3 *db = store_sqlite3(st);
    tb_err rc = TB_OK;
    if (!ta->w_itsm && (rc = itsm_embedded_wrap(db, &ta->w_itsm)))
        return rc;
    if (!ta->w_table && (rc = itsm_table_wrap(db, &ta->w_table)))
        return rc;
    if ((rc = exec(db, "SAVEPOINT table_api")))
        return rc;
    rc = apply(p);
    if (!rc)
        rc = render(p);
    if (rc) {
        exec(db, "ROLLBACK TO table_api");
        exec(db, "RELEASE table_api");
        free(p->reply);
        p->reply = NULL;
        if (!client_error(rc))
            return rc;
        p->err = rc;
        return TB_OK;
    }
    if ((rc = exec(db, "RELEASE table_api")))
        return rc;
    p->status = p->op == OP_CREATE ? 201 : p->op == OP_UPDATE ? 200 : 204;
    return TB_OK;
}

static const char *what(const tapi_write *p)
{
    return p->op == OP_CREATE ? "insert" : p->op == OP_UPDATE ? "update" : "delete";
}

/* The writer's reply thread, after the COMMIT. */
static void on_committed(tb_write_req *w)
{
    tapi_write *p = w->arg;
    tb_http_req *req = p->http;
    if (w->rc || p->err) {
        char detail[160];
        snprintf(detail, sizeof detail, "%s of a %s record", what(p), p->table);
        tapi_reply_store_error(req, w->rc ? w->rc : p->err, detail);
    } else if (p->status == 204 || !p->reply) {
        tb_http_reply(req, p->status, p->status == 204 ? NULL : TAPI_CONTENT_TYPE, "", 0);
    } else {
        tb_http_reply(req, p->status, TAPI_CONTENT_TYPE, p->reply, strlen(p->reply));
    }
    if (!w->rc && !p->err && p->op == OP_CREATE) {
        char loc[TAPI_BASE_URL_MAX + ITSM_MAX_NAME + 64];
        snprintf(loc, sizeof loc, "%s/api/now/table/%s/%s", p->base, p->table, p->sys_id);
        tb_http_reply_header(req, "Location", loc);
    }
    tb_http_resume(req);
    write_free(p);
}

/* --- HTTP side ------------------------------------------------------------- */

static bool json_body(tb_http_req *req)
{
    const char *ct = tb_http_header(req, "Content-Type");
    if (!ct || !*ct || !strncasecmp(ct, "application/json", 16) || !strncasecmp(ct, "text/json", 9))
        return true;
    tapi_error(req, 415, "Unsupported Media Type", "send the record as application/json");
    return false;
}

/* sysparm_input_display_value: a reference given by display value (a
 * user's name or user_name, a CI's name, a task's number) becomes the
 * sys_id it names; one that names nothing is stored as given. */
static tb_err resolve_references(tapi_write *p, itsm_table *t)
{
    const snq_catalog *cat = itsm_table_catalog(t);
    const snq_table *tab = snq_catalog_table(cat, p->table);
    for (size_t i = 0; i < p->body.nkv; i++) {
        itsm_kv *kv = &p->body.kv[i];
        const snq_column *c = snq_table_column(tab, kv->name);
        const char *df = c && c->ref ? tapi_display_field(c->ref) : NULL;
        char id[ITSM_SYS_ID_LEN + 1];
        if (!df || !kv->value || !*kv->value || tapi_parse_sys_id(kv->value, id) ||
            !snq_catalog_table(cat, c->ref))
            continue;
        snq_term terms[] = {{df, SNQ_EQ, SNQ_LINK_AND, kv->value}, {"user_name", SNQ_EQ, SNQ_LINK_OR, kv->value}};
        snquery *q = NULL;
        tb_err rc = snquery_from_terms(terms, strcmp(c->ref, "sys_user") ? 1 : 2, &q);
        static const char *const fields[] = {"sys_id", NULL};
        itsm_table_query req = {.table = c->ref, .q = q, .fields = fields, .limit = 1,
                                .timeout_ms = TAPI_QUERY_TIMEOUT_MS};
        itsm_record **rows = NULL;
        size_t n = 0;
        if (!rc)
            rc = itsm_embedded_table_query(t, &req, &rows, &n, NULL);
        snquery_free(q);
        if (rc)
            return rc;
        char *found = n ? strdup(rows[0]->sys_id) : NULL;
        itsm_records_free(rows, n);
        if (!n)
            continue;
        char **nr = found ? realloc(p->resolved, (p->nresolved + 1) * sizeof *nr) : NULL;
        if (!nr) {
            free(found);
            return TB_ERR_NOMEM;
        }
        p->resolved = nr;
        p->resolved[p->nresolved++] = found;
        kv->value = found;
    }
    return TB_OK;
}

void tapi_handle_write(tb_http_req *req, table_api *ta, const char *method, const tapi_path *path,
                       const auth_principal *who)
{
    tapi_params prm;
    if (!tapi_read_params(req, &prm))
        return;
    write_op op = !strcmp(method, "POST") ? OP_CREATE : !strcmp(method, "DELETE") ? OP_DELETE : OP_UPDATE;
    if (op != OP_CREATE && !path->id_valid) {
        tapi_reply_store_error(req, TB_ERR_NOT_FOUND, path->table);
        return;
    }
    tb_err e;
    itsm_table *t = tapi_thread_table(ta, &e);
    if (!t) {
        tapi_reply_store_error(req, e, "opening the ticket store");
        return;
    }
    tapi_write *p = calloc(1, sizeof *p);
    if (!p) {
        tapi_reply_store_error(req, TB_ERR_NOMEM, "reading the request");
        return;
    }
    p->ta = ta;
    p->http = req;
    p->op = op;
    snprintf(p->table, sizeof p->table, "%s", path->table);
    snprintf(p->sys_id, sizeof p->sys_id, "%s", path->sys_id);
    snprintf(p->user, sizeof p->user, "%s", who->username);
    p->display = prm.display;
    p->exclude_link = prm.exclude_ref_link;
    p->no_body = tapi_param_true(tb_http_header(req, "X-no-response-body"));
    tapi_base_url(req, ta, p->base);
    if (prm.fields && !(p->fields = strdup(prm.fields))) {
        write_free(p);
        tapi_reply_store_error(req, TB_ERR_NOMEM, "reading the request");
        return;
    }
    if (op != OP_DELETE) {
        if (!json_body(req)) {
            write_free(p);
            return;
        }
        size_t len;
        const char *body = tb_http_body(req, &len);
        tapi_body_err berr;
        const snq_table *tab = snq_catalog_table(itsm_table_catalog(t), p->table);
        e = tapi_body_parse(tab, body, len, op == OP_CREATE, prm.input_display, &p->body, &berr);
        if (e == TB_ERR_INVALID) {
            write_free(p);
            tapi_error(req, 400, berr.message, berr.detail);
            return;
        }
        if (!e && prm.input_display)
            e = resolve_references(p, t);
        if (e) {
            write_free(p);
            tapi_reply_store_error(req, e, "reading the request");
            return;
        }
        /* Who wrote it, as ServiceNow records it. */
        if (op == OP_CREATE)
            p->body.kv[p->body.nkv++] = (itsm_kv){"sys_created_by", p->user};
        p->body.kv[p->body.nkv++] = (itsm_kv){"sys_updated_by", p->user};
    }
    p->w.kind = WRITE_FN;
    p->w.fn = write_fn;
    p->w.fn_arg = p;
    p->w.done = on_committed;
    p->w.arg = p;
    if (!tb_http_try_suspend(req)) {
        write_free(p);
        tapi_reply_store_error(req, TB_ERR_SHUTDOWN, "");
        return;
    }
    if (writer_submit(ta->opt.writer, &p->w)) {
        tapi_reply_store_error(req, TB_ERR_SHUTDOWN, "");
        tb_http_resume(req);
        write_free(p);
    }
}
