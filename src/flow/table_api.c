/* The Table API's front door: routes, per-thread read handles, the checks
 * every request passes (server refusals, authentication, path, table,
 * Accept, parameters) and ServiceNow's envelopes; then one handler per
 * operation (table_api_read.c, table_api_write.c, attachment_api.c). */
#include "flow/table_api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/roles.h"
#include "flow/gateway.h"

#define TABLE_BODY_MAX (4u * 1024 * 1024)
#define ATTACHMENT_BODY_MAX (ITSM_MAX_ATTACHMENT + 64u * 1024)
#define ALL_METHODS (TB_M_GET | TB_M_HEAD | TB_M_POST | TB_M_PUT | TB_M_PATCH | TB_M_DELETE)

static const char *const table_prefix[] = {
    [TAPI_V_LATEST] = "/api/now/table/", [TAPI_V1] = "/api/now/v1/table/", [TAPI_V2] = "/api/now/v2/table/",
};

/* --- replies --------------------------------------------------------------- */

void tapi_error(tb_http_req *req, int status, const char *message, const char *detail)
{
    json_t *doc = json_pack("{s:{s:o, s:o}, s:s}", "error", "message", tapi_json_str(message), "detail",
                            detail ? tapi_json_str(detail) : json_null(), "status", "failure");
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (text)
        tb_http_reply(req, status, TAPI_CONTENT_TYPE, text, strlen(text));
    else
        tb_http_reply_error(req, status, message, detail ? detail : "");
    free(text);
    json_decref(doc);
}

void tapi_reply_result(tb_http_req *req, int status, json_t *result)
{
    json_t *doc = result ? json_pack("{s:o}", "result", result) : NULL;
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (text)
        tb_http_reply(req, status, TAPI_CONTENT_TYPE, text, strlen(text));
    else
        tapi_error(req, 500, "Internal Server Error", "out of memory");
    free(text);
    json_decref(doc);
}

void tapi_reply_store_error(tb_http_req *req, tb_err e, const char *what)
{
    char detail[256];
    switch (e) {
    case TB_ERR_NOT_FOUND:
        tapi_error(req, 404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval");
        return;
    case TB_ERR_INVALID:
    case TB_ERR_TOO_LARGE:
        snprintf(detail, sizeof detail, "%s: a value breaks a rule of the table (a required field left "
                 "empty, or a value it does not accept)", what);
        tapi_error(req, 400, "Operation Failed", detail);
        return;
    case TB_ERR_EXISTS:
        snprintf(detail, sizeof detail, "%s: a record with this sys_id or number already exists", what);
        tapi_error(req, 400, "Operation Failed", detail);
        return;
    case TB_ERR_TIMEOUT:
        tapi_error(req, 500, "Transaction cancelled: maximum execution time exceeded",
                   "the query took too long; narrow it with sysparm_query or sysparm_limit");
        return;
    case TB_ERR_BUSY:
    case TB_ERR_SHUTDOWN:
        tb_http_reply_header(req, "Retry-After", "1");
        tapi_error(req, 503, "Service Unavailable", e == TB_ERR_BUSY ? "the database is busy; try again"
                                                                     : "ticketbridge is stopping; try again");
        return;
    default:
        TB_LOGE("table api store error", "what=\"%s\" err=\"%s\"", what, tb_strerror(e));
        tapi_error(req, 500, "Internal Server Error", tb_strerror(e));
    }
}

/* --- checks every request passes ------------------------------------------ */

bool tapi_refused(tb_http_req *req)
{
    char detail[160];
    switch (tb_http_refusal(req)) {
    case 413: {
        const char *cl = tb_http_header(req, "Content-Length");
        if (cl && strlen(cl) < 20)
            snprintf(detail, sizeof detail, "Rejected large REST payload with content-length = %s bytes. "
                     "Max allowed: %zu bytes.", cl, tb_http_body_max(req));
        else
            snprintf(detail, sizeof detail, "Rejected large REST payload. Max allowed: %zu bytes.",
                     tb_http_body_max(req));
        tapi_error(req, 413, "Exception while reading request", detail);
        return true;
    }
    case 405:
        snprintf(detail, sizeof detail, "%.16s method not supported for API", tb_http_req_method(req));
        tapi_error(req, 405, "Method not Supported", detail);
        return true;
    default:
        return false;
    }
}

const char *tapi_method(tb_http_req *req)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
    const char *m = tb_http_req_method(req);
    const char *o = tb_http_header(req, "X-HTTP-Method-Override");
    /* Only a POST may be turned into another method, so that a link or a
     * GET from a browser cannot become a write. */
    if (o && !strcmp(m, "POST"))
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            if (!strcasecmp(o, known[i]))
                return known[i];
    return m;
}

static bool contains_nocase(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; *s; s++)
        if (!strncasecmp(s, needle, n))
            return true;
    return false;
}

bool tapi_accept_json(tb_http_req *req)
{
    const char *a = tb_http_header(req, "Accept");
    if (!a || !*a || contains_nocase(a, "json") || strstr(a, "*/*") || contains_nocase(a, "application/*"))
        return true;
    tapi_error(req, 406, "Requested response format not supported",
               "ticketbridge answers application/json only");
    return false;
}

struct utf8_check {
    char bad[64];
};

static void check_arg(void *ctx, const char *k, const char *v)
{
    struct utf8_check *c = ctx;
    if (c->bad[0])
        return;
    if (!tapi_utf8(k, strlen(k)) || !tapi_utf8(v, strlen(v))) {
        size_t n = 0;
        for (; k[n] && n < sizeof c->bad - 1; n++)
            c->bad[n] = (unsigned char)k[n] < 0x80 && k[n] >= 0x20 ? k[n] : '?';
        c->bad[n] = '\0';
        if (!n)
            snprintf(c->bad, sizeof c->bad, "?");
    }
}

bool tapi_query_utf8(tb_http_req *req)
{
    struct utf8_check c = {{0}};
    tb_http_query_each(req, check_arg, &c);
    if (!c.bad[0])
        return true;
    char detail[128];
    snprintf(detail, sizeof detail, "query parameter %s is not valid UTF-8", c.bad);
    tapi_error(req, 400, "Invalid request", detail);
    return false;
}

/* Host names and addresses only: the header comes back in every link. */
static bool safe_host(const char *h)
{
    size_t n = 0;
    for (; h[n]; n++) {
        char c = h[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == ':' || c == '[' || c == ']'))
            return false;
    }
    return n > 0 && n < 256;
}

void tapi_base_url(tb_http_req *req, const table_api *ta, char out[TAPI_BASE_URL_MAX])
{
    const char *host = tb_http_header(req, "Host");
    snprintf(out, TAPI_BASE_URL_MAX, "%s://%s", ta->opt.https ? "https" : "http",
             host && safe_host(host) ? host : "localhost");
}

bool tapi_authenticate(tb_http_req *req, auth_principal *who)
{
    int64_t retry_ms = 0;
    auth_result r = auth_check(gateway_auth(tb_http_app(req)), tb_http_header(req, "Authorization"),
                               tb_http_peer_str(req), who, &retry_ms);
    switch (r) {
    case AUTH_OK:
        return true;
    case AUTH_THROTTLED: {
        char secs[24];
        snprintf(secs, sizeof secs, "%lld", retry_ms > 0 ? (long long)(retry_ms + 999) / 1000 : 1LL);
        tb_http_reply_header(req, "Retry-After", secs);
        tapi_error(req, 429, "Too Many Requests", "too many failed logins; try again later");
        return false;
    }
    case AUTH_ERROR:
        tb_http_reply_header(req, "Retry-After", "1");
        tapi_error(req, 503, "Service Unavailable", "the user database cannot be read; try again");
        return false;
    default:
        tb_http_reply_header(req, "WWW-Authenticate", "Basic realm=\"ticketbridge\"");
        tapi_error(req, 401, "User Not Authenticated", "Required to provide Auth information");
        return false;
    }
}

bool tapi_check_role(tb_http_req *req, const auth_principal *who, const char *role, tapi_op op)
{
    if (!role || auth_principal_has(who, role))
        return true;
    char qu[160];
    TB_LOGI("table api access denied", "user=%s role=%s route=%s method=%s",
            tb_log_quote(qu, sizeof qu, who->username), role, tb_http_route_name(req), tb_http_req_method(req));
    if (op == TAPI_READ)
        tapi_error(req, 403, "Insufficient rights to query records",
                   "Field(s) present in the query do not have permission to be read");
    else
        tapi_error(req, 403, "Operation Failed",
                   op == TAPI_DELETE                 ? "ACL Exception Delete Failed due to security constraints"
                   : !strcmp(tapi_method(req), "POST") ? "ACL Exception Insert Failed due to security constraints"
                                                     : "ACL Exception Update Failed due to security constraints");
    return false;
}

bool tapi_read_params(tb_http_req *req, tapi_params *p)
{
    memset(p, 0, sizeof *p);
    p->display = tapi_parse_display(tb_http_query(req, "sysparm_display_value"));
    p->exclude_ref_link = tapi_param_true(tb_http_query(req, "sysparm_exclude_reference_link"));
    p->no_count = tapi_param_true(tb_http_query(req, "sysparm_no_count"));
    p->suppress_pagination = tapi_param_true(tb_http_query(req, "sysparm_suppress_pagination_header"));
    p->input_display = tapi_param_true(tb_http_query(req, "sysparm_input_display_value"));
    p->query = tb_http_query(req, "sysparm_query");
    p->fields = tb_http_query(req, "sysparm_fields");
    p->limit = TAPI_DEFAULT_LIMIT;
    const char *limit = tb_http_query(req, "sysparm_limit");
    const char *offset = tb_http_query(req, "sysparm_offset");
    if (limit && *limit) {
        if (!tapi_parse_count(limit, SIZE_MAX, &p->limit) || p->limit == 0) {
            tapi_error(req, 400, "Invalid request", "sysparm_limit must be a whole number from 1");
            return false;
        }
        p->limit_given = true;
    }
    if (p->limit > ITSM_MAX_ROWS)
        p->limit = ITSM_MAX_ROWS;
    if (offset && *offset && !tapi_parse_count(offset, (size_t)1 << 40, &p->offset)) {
        tapi_error(req, 400, "Invalid request", "sysparm_offset must be a whole number from 0");
        return false;
    }
    return true;
}

/* The query string of the links: every parameter but offset and limit. */
struct link_query {
    tb_buf *out;
    tb_err rc;
};

static void add_link_arg(void *ctx, const char *k, const char *v)
{
    struct link_query *lq = ctx;
    if (lq->rc || !strcmp(k, "sysparm_offset") || !strcmp(k, "sysparm_limit"))
        return;
    if (lq->out->len)
        lq->rc = tb_buf_appends(lq->out, "&");
    if (!lq->rc)
        lq->rc = tapi_url_encode(lq->out, k);
    if (!lq->rc)
        lq->rc = tb_buf_appends(lq->out, "=");
    if (!lq->rc)
        lq->rc = tapi_url_encode(lq->out, v);
}

void tapi_list_headers(tb_http_req *req, const char *base_url, const tapi_params *p, size_t rows,
                       long long total)
{
    char n[32];
    if (total >= 0) {
        snprintf(n, sizeof n, "%lld", total);
        tb_http_reply_header(req, "X-Total-Count", n);
    }
    if (p->suppress_pagination)
        return;
    tb_buf q, url, hdr;
    tb_buf_init(&q, TAPI_LINK_MAX);
    tb_buf_init(&url, TAPI_LINK_MAX);
    tb_buf_init(&hdr, TAPI_LINK_MAX);
    struct link_query lq = {&q, TB_OK};
    tb_http_query_each(req, add_link_arg, &lq);
    tb_err rc = lq.rc;
    if (!rc)
        rc = tb_buf_printf(&url, "%s%s", base_url, tb_http_path(req));
    if (!rc)
        rc = tapi_link_header(url.data, q.data ? q.data : "", p->offset, p->limit, total, rows, &hdr);
    if (!rc)
        tb_http_reply_header(req, "Link", hdr.data);
    else
        TB_LOGD("table api: Link header left out", "err=\"%s\"", tb_strerror(rc));
    tb_buf_free(&q);
    tb_buf_free(&url);
    tb_buf_free(&hdr);
}

/* --- per-thread read handles ---------------------------------------------- */

static void tls_close(void *t)
{
    itsm_table_close(t);
}

itsm_table *tapi_thread_table(table_api *ta, tb_err *e)
{
    itsm_table *t = pthread_getspecific(ta->tls);
    *e = TB_OK;
    if (!t) {
        *e = itsm_table_open(ta->db_path, &t);
        if (!*e && pthread_setspecific(ta->tls, t)) {
            itsm_table_close(t);
            t = NULL;
            *e = TB_ERR_NOMEM;
        }
    }
    return t;
}

/* --- the table route ------------------------------------------------------- */

static void handle_table(tb_http_req *req)
{
    tapi_route_ctx *rc = tb_http_route_ctx(req);
    table_api *ta = rc->ta;
    if (tapi_refused(req))
        return;
    auth_principal who;
    if (!tapi_authenticate(req, &who))
        return;
    const char *path = tb_http_path(req);
    tapi_path p;
    tapi_path_status ps = tapi_parse_path(path + strlen(table_prefix[rc->version]), &p);
    if (ps == TAPI_PATH_NO_RESOURCE) {
        tapi_error(req, 400, "Requested URI does not represent any resource", NULL);
        return;
    }
    tb_err e;
    itsm_table *t = tapi_thread_table(ta, &e);
    if (!t) {
        tapi_reply_store_error(req, e, "opening the ticket store");
        return;
    }
    if (ps == TAPI_PATH_BAD_TABLE || !tapi_table_served(p.table) ||
        !snq_catalog_table(itsm_table_catalog(t), p.table)) {
        char msg[ITSM_MAX_NAME + 32];
        snprintf(msg, sizeof msg, "Invalid table %s", p.table);
        tapi_error(req, 400, msg, NULL);
        return;
    }
    if (!tapi_query_utf8(req) || !tapi_accept_json(req))
        return;
    const char *m = tapi_method(req);
    bool read = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    bool write = p.has_id ? !strcmp(m, "PUT") || !strcmp(m, "PATCH") : !strcmp(m, "POST");
    bool del = p.has_id && !strcmp(m, "DELETE");
    if (!read && !write && !del) {
        char detail[64];
        snprintf(detail, sizeof detail, "%.16s method not supported for API", m);
        tb_http_reply_header(req, "Allow", p.has_id ? "GET, HEAD, PUT, PATCH, DELETE" : "GET, HEAD, POST");
        tapi_error(req, 405, "Method not Supported", detail);
        return;
    }
    tapi_op op = read ? TAPI_READ : write ? TAPI_WRITE : TAPI_DELETE;
    if (!tapi_check_role(req, &who, tapi_required_role(p.table, op), op))
        return;
    if (read && !p.has_id)
        tapi_handle_list(req, ta, rc->version, p.table);
    else if (read)
        tapi_handle_get(req, ta, &p);
    else
        tapi_handle_write(req, ta, m, &p, &who);
}

/* --- setup ------------------------------------------------------------------ */

tb_err table_api_new(const table_api_opts *opt, table_api **out)
{
    if (!opt || !opt->db_path || !opt->writer || !out)
        return TB_ERR_INVALID;
    table_api *ta = calloc(1, sizeof *ta);
    if (!ta)
        return TB_ERR_NOMEM;
    ta->opt = *opt;
    ta->db_path = strdup(opt->db_path);
    if (!ta->db_path || pthread_key_create(&ta->tls, tls_close)) {
        free(ta->db_path);
        free(ta);
        return TB_ERR_NOMEM;
    }
    ta->opt.db_path = ta->db_path;
    static const char *const names[] = {[TAPI_V_LATEST] = "table_api", [TAPI_V1] = "table_api_v1",
                                        [TAPI_V2] = "table_api_v2"};
    static const char *const paths[] = {[TAPI_V_LATEST] = "/api/now/table/*", [TAPI_V1] = "/api/now/v1/table/*",
                                        [TAPI_V2] = "/api/now/v2/table/*"};
    size_t n = 0;
    for (int v = TAPI_V_LATEST; v <= TAPI_V2; v++) {
        ta->ctx[v] = (tapi_route_ctx){ta, (tapi_version)v};
        ta->routes[n++] = (tb_route){paths[v], ALL_METHODS, TABLE_BODY_MAX, handle_table, names[v],
                                     false, true, &ta->ctx[v]};
    }
    ta->ctx[3] = (tapi_route_ctx){ta, TAPI_V_LATEST};
    ta->routes[n++] = (tb_route){"/api/now/attachment", ALL_METHODS, TABLE_BODY_MAX,
                                 attachment_api_handle_list, "attachment_api_list", false, true, &ta->ctx[3]};
    ta->routes[n++] = (tb_route){"/api/now/v1/attachment", ALL_METHODS, TABLE_BODY_MAX,
                                 attachment_api_handle_list, "attachment_api_list_v1", false, true, &ta->ctx[3]};
    ta->routes[n++] = (tb_route){"/api/now/attachment/*", ALL_METHODS, ATTACHMENT_BODY_MAX,
                                 attachment_api_handle, "attachment_api", false, true, &ta->ctx[3]};
    ta->routes[n++] = (tb_route){"/api/now/v1/attachment/*", ALL_METHODS, ATTACHMENT_BODY_MAX,
                                 attachment_api_handle, "attachment_api_v1", false, true, &ta->ctx[3]};
    ta->routes[n] = (tb_route){0};
    *out = ta;
    return TB_OK;
}

void table_api_free(table_api *ta)
{
    if (!ta)
        return;
    itsm_table *t = pthread_getspecific(ta->tls);
    if (t)
        itsm_table_close(t);
    pthread_key_delete(ta->tls);
    itsm_table_close(ta->w_table);
    itsm_close(ta->w_itsm);
    free(ta->db_path);
    free(ta);
}

const tb_route *table_api_routes(table_api *ta)
{
    return ta->routes;
}
