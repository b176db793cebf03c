/* ServiceNow's Attachment API over sys_attachment (B6):
 *
 *   GET    /api/now/attachment                 list (sysparm_query, limit, offset)
 *   POST   /api/now/attachment/file?table_name=&table_sys_id=&file_name=   raw body
 *   POST   /api/now/attachment/upload          multipart: table_name, table_sys_id, file last
 *   GET    /api/now/attachment/{sys_id}        metadata
 *   DELETE /api/now/attachment/{sys_id}
 *   GET    /api/now/attachment/{sys_id}/file   the bytes, with the file's Content-Type
 *
 * An attachment follows the record it hangs on: reading it needs the read
 * role of that record's table, adding or deleting it the write role. The
 * list spans every table, so it needs the read role of sys_attachment. */
#include "flow/table_api_int.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "flow/multipart.h"
#include "itsm/snquery_build.h"
#include "store/store.h"

#define DEFAULT_CONTENT_TYPE "application/octet-stream"

/* --- metadata ---------------------------------------------------------------- */

static const char *get(const itsm_record *r, const char *f)
{
    const char *v = itsm_record_get(r, f);
    return v ? v : "";
}

/* B6's response fields. Files are stored whole, so compressed is "false"
 * and size_compressed is the size; image fields are empty. */
static json_t *render_meta(const itsm_record *r, const char *base)
{
    char link[TAPI_BASE_URL_MAX + 80];
    snprintf(link, sizeof link, "%s/api/now/attachment/%s/file", base, r->sys_id);
    static const char *const copy[] = {"sys_id", "file_name", "content_type", "size_bytes", "table_name",
                                       "table_sys_id", "hash", "sys_created_on", "sys_created_by",
                                       "sys_updated_on", "sys_updated_by", "sys_mod_count", NULL};
    json_t *o = json_object();
    for (size_t i = 0; o && copy[i]; i++)
        if (json_object_set_new(o, copy[i], tapi_json_str(get(r, copy[i])))) {
            json_decref(o);
            return NULL;
        }
    if (o && (json_object_set_new(o, "size_compressed", tapi_json_str(get(r, "size_bytes"))) ||
              json_object_set_new(o, "compressed", json_string("false")) ||
              json_object_set_new(o, "download_link", tapi_json_str(link)) ||
              json_object_set_new(o, "image_width", json_string("")) ||
              json_object_set_new(o, "image_height", json_string("")) ||
              json_object_set_new(o, "average_image_color", json_string("")) ||
              json_object_set_new(o, "sys_tags", json_string("")))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static tb_err load_meta(itsm_table *t, const char *sys_id, itsm_record **out)
{
    *out = NULL;
    snq_term term = {"sys_id", SNQ_EQ, SNQ_LINK_AND, sys_id};
    snquery *q = NULL;
    tb_err rc = snquery_from_terms(&term, 1, &q);
    itsm_record **rows = NULL;
    size_t n = 0;
    itsm_table_query req = {.table = "sys_attachment", .q = q, .limit = 1, .timeout_ms = TAPI_QUERY_TIMEOUT_MS};
    if (!rc)
        rc = itsm_embedded_table_query(t, &req, &rows, &n, NULL);
    snquery_free(q);
    if (!rc && n == 0)
        rc = TB_ERR_NOT_FOUND;
    if (!rc) {
        *out = rows[0];
        rows[0] = NULL;
    }
    itsm_records_free(rows, n);
    return rc;
}

/* A Content-Type we will send back as a header: printable ASCII only. */
static bool safe_content_type(const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

/* --- writes through the writer ----------------------------------------------- */

typedef struct attach_write {
    tb_write_req w;
    table_api *ta;
    tb_http_req *http;
    bool remove;
    char table[ITSM_MAX_NAME + 1];
    char sys_id[ITSM_SYS_ID_LEN + 1];   /* the record; for remove, the attachment */
    char user[CREDENTIAL_USERNAME_MAX + 1];
    char *file_name;
    char *content_type;
    const char *data;                   /* the request's body: valid while it is suspended */
    size_t len;
    char base[TAPI_BASE_URL_MAX];
    char att_id[ITSM_SYS_ID_LEN + 1];
    tb_err err;
    char *reply;
} attach_write;

static void attach_free(attach_write *p)
{
    free(p->file_name);
    free(p->content_type);
    free(p->reply);
    free(p);
}

static tb_err attach_fn(tb_store *st, void *arg)
{
    attach_write *p = arg;
    table_api *ta = p->ta;
    free(p->reply);
    p->reply = NULL;
    p->err = TB_OK;
    tb_err rc = TB_OK;
    if (!ta->w_itsm && (rc = itsm_embedded_wrap(store_sqlite3(st), &ta->w_itsm)))
        return rc;
    if (p->remove) {
        rc = itsm_remove(ta->w_itsm, "sys_attachment", p->sys_id);
    } else {
        itsm_record *r = NULL;
        rc = itsm_attach_by(ta->w_itsm, p->table, p->sys_id, p->file_name, p->content_type, p->data,
                            p->len, p->user, &r);
        json_t *meta = rc ? NULL : render_meta(r, p->base);
        json_t *doc = meta ? json_pack("{s:o}", "result", meta) : NULL;
        if (!rc) {
            snprintf(p->att_id, sizeof p->att_id, "%s", r->sys_id);
            if (!doc || !(p->reply = json_dumps(doc, JSON_COMPACT)))
                rc = TB_ERR_NOMEM;  /* the attachment is written: the batch must fail with it */
        }
        json_decref(doc);
        itsm_record_free(r);
    }
    if (rc == TB_ERR_NOT_FOUND || rc == TB_ERR_INVALID || rc == TB_ERR_TOO_LARGE) {
        p->err = rc;        /* nothing was written (each itsm call is its own savepoint) */
        return TB_OK;
    }
    return rc;
}

static void attach_done(tb_write_req *w)
{
    attach_write *p = w->arg;
    tb_http_req *req = p->http;
    if (w->rc || p->err) {
        tapi_reply_store_error(req, w->rc ? w->rc : p->err, p->remove ? "delete of an attachment"
                                                                      : "insert of an attachment");
    } else if (p->remove) {
        tb_http_reply(req, 204, NULL, "", 0);
    } else {
        char loc[TAPI_BASE_URL_MAX + 64];
        snprintf(loc, sizeof loc, "%s/api/now/attachment/%s", p->base, p->att_id);
        tb_http_reply_header(req, "Location", loc);
        tb_http_reply(req, 201, TAPI_CONTENT_TYPE, p->reply, strlen(p->reply));
    }
    tb_http_resume(req);
    attach_free(p);
}

static void submit(tb_http_req *req, attach_write *p)
{
    p->w.kind = WRITE_FN;
    p->w.fn = attach_fn;
    p->w.fn_arg = p;
    p->w.done = attach_done;
    p->w.arg = p;
    if (!tb_http_try_suspend(req)) {
        attach_free(p);
        tapi_reply_store_error(req, TB_ERR_SHUTDOWN, "");
        return;
    }
    if (writer_submit(p->ta->opt.writer, &p->w)) {
        tapi_reply_store_error(req, TB_ERR_SHUTDOWN, "");
        tb_http_resume(req);
        attach_free(p);
    }
}

/* --- upload ---------------------------------------------------------------- */

static bool nul_free(const char *s, size_t n)
{
    return !memchr(s, '\0', n);
}

/* Checks the target and the caller's right to write it, then queues the
 * write. file_name and content_type are copied. */
static void upload(tb_http_req *req, table_api *ta, const auth_principal *who, const char *table,
                   const char *table_sys_id, mp_str file_name, mp_str content_type, const char *data,
                   size_t len)
{
    tb_err e;
    itsm_table *t = tapi_thread_table(ta, &e);
    if (!t) {
        tapi_reply_store_error(req, e, "opening the ticket store");
        return;
    }
    if (!tapi_table_served(table) || !snq_catalog_table(itsm_table_catalog(t), table) ||
        !strcmp(table, "sys_attachment")) {
        char msg[ITSM_MAX_NAME + 32];
        snprintf(msg, sizeof msg, "Invalid table %.80s", table);
        tapi_error(req, 400, msg, NULL);
        return;
    }
    if (!tapi_check_role(req, who, tapi_required_role(table, TAPI_WRITE), TAPI_WRITE))
        return;
    char id[ITSM_SYS_ID_LEN + 1];
    if (!tapi_parse_sys_id(table_sys_id, id)) {
        tapi_reply_store_error(req, TB_ERR_NOT_FOUND, table);
        return;
    }
    if (file_name.n == 0 || file_name.n > 255 || !nul_free(file_name.p, file_name.n) ||
        !tapi_utf8(file_name.p, file_name.n)) {
        tapi_error(req, 400, "Invalid file name", "file_name must be 1 to 255 bytes of UTF-8");
        return;
    }
    attach_write *p = calloc(1, sizeof *p);
    if (!p || !(p->file_name = strndup(file_name.p, file_name.n)) ||
        !(p->content_type = safe_content_type(content_type.p, content_type.n)
                                ? strndup(content_type.p, content_type.n)
                                : strdup(DEFAULT_CONTENT_TYPE))) {
        if (p)
            attach_free(p);
        tapi_reply_store_error(req, TB_ERR_NOMEM, "reading the request");
        return;
    }
    p->ta = ta;
    p->http = req;
    snprintf(p->table, sizeof p->table, "%s", table);
    snprintf(p->sys_id, sizeof p->sys_id, "%s", id);
    snprintf(p->user, sizeof p->user, "%s", who->username);
    p->data = data;
    p->len = len;
    tapi_base_url(req, ta, p->base);
    submit(req, p);
}

static void upload_raw(tb_http_req *req, table_api *ta, const auth_principal *who)
{
    const char *table = tb_http_query(req, "table_name");
    const char *id = tb_http_query(req, "table_sys_id");
    const char *name = tb_http_query(req, "file_name");
    const char *ct = tb_http_header(req, "Content-Type");
    if (!table || !*table || !id || !*id || !name || !*name) {
        tapi_error(req, 400, "Invalid request", "table_name, table_sys_id and file_name are required");
        return;
    }
    if (!ct || !*ct) {
        tapi_error(req, 400, "Invalid request", "Content-Type (the file's MIME type) is required");
        return;
    }
    size_t len;
    const char *body = tb_http_body(req, &len);
    upload(req, ta, who, table, id, (mp_str){name, strlen(name)}, (mp_str){ct, strlen(ct)}, body, len);
}

static char *part_string(const mp_part *p)
{
    if (!p || p->filename.p || p->data.n == 0 || p->data.n > ITSM_MAX_NAME ||
        !nul_free(p->data.p, p->data.n))
        return NULL;
    return strndup(p->data.p, p->data.n);
}

static void upload_multipart(tb_http_req *req, table_api *ta, const auth_principal *who)
{
    size_t len, n = 0;
    const char *body = tb_http_body(req, &len);
    mp_part parts[MULTIPART_MAX_PARTS];
    char err[128];
    tb_err e = multipart_parse(tb_http_header(req, "Content-Type"), body, len, parts, &n, err, sizeof err);
    if (e) {
        tapi_error(req, 400, "Invalid request", err);
        return;
    }
    char *table = part_string(multipart_find(parts, n, "table_name"));
    char *id = part_string(multipart_find(parts, n, "table_sys_id"));
    const mp_part *file = n ? &parts[n - 1] : NULL;   /* B6: the file is the last part */
    if (!table || !id || !file || !file->filename.p) {
        tapi_error(req, 400, "Invalid request",
                   "the form needs table_name, table_sys_id and, as its last part, the file");
    } else {
        upload(req, ta, who, table, id, file->filename, file->content_type, file->data.p, file->data.n);
    }
    free(table);
    free(id);
}

/* --- reads and delete --------------------------------------------------------- */

static void meta_or_file(tb_http_req *req, table_api *ta, const auth_principal *who, const char *id_text,
                         bool file, bool remove)
{
    char id[ITSM_SYS_ID_LEN + 1];
    if (!tapi_parse_sys_id(id_text, id)) {
        tapi_reply_store_error(req, TB_ERR_NOT_FOUND, "sys_attachment");
        return;
    }
    tb_err e;
    itsm_table *t = tapi_thread_table(ta, &e);
    itsm_record *meta = NULL;
    if (!t || (e = load_meta(t, id, &meta))) {
        tapi_reply_store_error(req, e, "sys_attachment");
        return;
    }
    tapi_op op = remove ? TAPI_WRITE : TAPI_READ;
    if (!tapi_check_role(req, who, tapi_required_role(get(meta, "table_name"), op), op)) {
        itsm_record_free(meta);
        return;
    }
    char base[TAPI_BASE_URL_MAX];
    tapi_base_url(req, ta, base);
    if (remove) {
        attach_write *p = calloc(1, sizeof *p);
        if (!p) {
            itsm_record_free(meta);
            tapi_reply_store_error(req, TB_ERR_NOMEM, "reading the request");
            return;
        }
        p->ta = ta;
        p->http = req;
        p->remove = true;
        snprintf(p->sys_id, sizeof p->sys_id, "%s", id);
        itsm_record_free(meta);
        submit(req, p);
        return;
    }
    json_t *m = render_meta(meta, base);
    if (!file) {
        itsm_record_free(meta);
        if (m)
            tapi_reply_result(req, 200, m);
        else
            tapi_reply_store_error(req, TB_ERR_NOMEM, "sys_attachment");
        return;
    }
    void *data = NULL;
    size_t len = 0;
    e = itsm_table_attachment_content(t, id, &data, &len);
    char *header = m ? json_dumps(m, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    const char *ct = get(meta, "content_type");
    char *ctype = strdup(safe_content_type(ct, strlen(ct)) ? ct : DEFAULT_CONTENT_TYPE);
    if (e || !header || !ctype) {
        tapi_reply_store_error(req, e ? e : TB_ERR_NOMEM, "sys_attachment");
        free(ctype);
    } else {
        tb_http_set_data(req, ctype, free);     /* the reply keeps pointing at it */
        tb_http_reply_header(req, "X-Attachment-Metadata", header);
        tb_http_reply(req, 200, ctype, data ? data : "", len);
    }
    free(header);
    free(data);
    json_decref(m);
    itsm_record_free(meta);
}

/* --- routes ------------------------------------------------------------------ */

static void method_not_supported(tb_http_req *req, const char *m, const char *allow)
{
    char detail[64];
    snprintf(detail, sizeof detail, "%.16s method not supported for API", m);
    tb_http_reply_header(req, "Allow", allow);
    tapi_error(req, 405, "Method not Supported", detail);
}

void attachment_api_handle_list(tb_http_req *req)
{
    tapi_route_ctx *rc = tb_http_route_ctx(req);
    table_api *ta = rc->ta;
    auth_principal who;
    if (tapi_refused(req) || !tapi_authenticate(req, &who))
        return;
    const char *m = tapi_method(req);
    if (strcmp(m, "GET") && strcmp(m, "HEAD")) {
        method_not_supported(req, m, "GET, HEAD");
        return;
    }
    if (!tapi_check_role(req, &who, tapi_required_role("sys_attachment", TAPI_READ), TAPI_READ) ||
        !tapi_query_utf8(req) || !tapi_accept_json(req))
        return;
    tapi_params p;
    if (!tapi_read_params(req, &p))
        return;
    tb_err e;
    itsm_table *t = tapi_thread_table(ta, &e);
    if (!t) {
        tapi_reply_store_error(req, e, "opening the ticket store");
        return;
    }
    snquery *q = NULL;
    char err[160] = "";
    if (p.query && *p.query && (e = snquery_parse(p.query, strlen(p.query), &q, err, sizeof err))) {
        if (e == TB_ERR_NOMEM)
            tapi_reply_store_error(req, e, "reading the query");
        else
            tapi_error(req, 400, "Invalid query", err);
        return;
    }
    itsm_record **rows = NULL;
    size_t n = 0, total = 0;
    itsm_table_query tq = {.table = "sys_attachment", .q = q, .limit = p.limit, .offset = p.offset,
                           .timeout_ms = TAPI_QUERY_TIMEOUT_MS};
    e = itsm_embedded_table_query(t, &tq, &rows, &n, p.no_count ? NULL : &total);
    snquery_free(q);
    if (e) {
        tapi_reply_store_error(req, e, "reading attachments");
        return;
    }
    char base[TAPI_BASE_URL_MAX];
    tapi_base_url(req, ta, base);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *o = render_meta(rows[i], base);
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    itsm_records_free(rows, n);
    if (!arr) {
        tapi_reply_store_error(req, TB_ERR_NOMEM, "reading attachments");
        return;
    }
    tapi_list_headers(req, base, &p, n, p.no_count ? -1 : (long long)total);
    tapi_reply_result(req, 200, arr);
}

void attachment_api_handle(tb_http_req *req)
{
    tapi_route_ctx *rc = tb_http_route_ctx(req);
    table_api *ta = rc->ta;
    auth_principal who;
    if (tapi_refused(req) || !tapi_authenticate(req, &who))
        return;
    if (!tapi_query_utf8(req) || !tapi_accept_json(req))
        return;
    const char *path = tb_http_path(req);
    const char *rest = strstr(path, "/attachment/");
    rest = rest ? rest + strlen("/attachment/") : "";
    const char *m = tapi_method(req);
    bool get_like = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    if (!strcmp(rest, "file") || !strcmp(rest, "upload")) {
        if (strcmp(m, "POST"))
            method_not_supported(req, m, "POST");
        else if (!strcmp(rest, "file"))
            upload_raw(req, ta, &who);
        else
            upload_multipart(req, ta, &who);
        return;
    }
    const char *slash = strchr(rest, '/');
    size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (idlen == 0 || (slash && strcmp(slash, "/file") != 0)) {
        tapi_error(req, 400, "Requested URI does not represent any resource", NULL);
        return;
    }
    char id[ITSM_SYS_ID_LEN + 2];
    snprintf(id, sizeof id, "%.*s", (int)(idlen < sizeof id - 1 ? idlen : sizeof id - 1), rest);
    if (slash) {
        if (get_like)
            meta_or_file(req, ta, &who, id, true, false);
        else
            method_not_supported(req, m, "GET, HEAD");
    } else if (get_like || !strcmp(m, "DELETE")) {
        meta_or_file(req, ta, &who, id, false, !get_like);
    } else {
        method_not_supported(req, m, "GET, HEAD, DELETE");
    }
}
