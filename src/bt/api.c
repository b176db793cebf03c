#include "bt/api.h"

#include <ctype.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>
#include <sodium.h>

#include "core/log.h"

#define DEFAULT_TIMEOUT_MS 30000L


tb_err bt_api_base_url(const char *hostname, char *out, size_t outsz)
{
    if (outsz)
        out[0] = '\0';
    if (!hostname)
        return TB_ERR_INVALID;
    const char *p = hostname;
    size_t n = strlen(p);
    while (n && isspace((unsigned char)*p)) {
        p++;
        n--;
    }
    while (n && isspace((unsigned char)p[n - 1]))
        n--;
    while (n && p[n - 1] == '/')
        n--;
    if (!n)
        return TB_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '@' || ch == '?' || ch == '#' || ch == '\\')
            return TB_ERR_INVALID;
    }
    const char *scheme = "https";
    const char *sep = NULL;
    for (size_t i = 0; i + 2 < n; i++)
        if (p[i] == ':' && p[i + 1] == '/' && p[i + 2] == '/') {
            sep = p + i;
            break;
        }
    if (sep) {
        size_t sl = (size_t)(sep - p);
        if (sl == 5 && strncasecmp(p, "https", 5) == 0)
            scheme = "https";
        else if (sl == 4 && strncasecmp(p, "http", 4) == 0)
            scheme = "http";
        else
            return TB_ERR_INVALID;
        n -= sl + 3;
        p = sep + 3;
    }
    if (!n || memchr(p, '/', n))
        return TB_ERR_INVALID;   /* no host, or a path: the API lives at the root */
    /* host part: name, IPv4 or [IPv6], then an optional :port */
    size_t hl;
    if (p[0] == '[') {
        const char *rb = memchr(p, ']', n);
        if (!rb || rb == p + 1)
            return TB_ERR_INVALID;
        hl = (size_t)(rb - p) + 1;
    } else {
        const char *colon = memchr(p, ':', n);
        hl = colon ? (size_t)(colon - p) : n;
        if (!hl)
            return TB_ERR_INVALID;
    }
    if (hl < n) {
        if (p[hl] != ':' || hl + 1 == n || n - hl - 1 > 5)
            return TB_ERR_INVALID;
        long port = 0;
        for (size_t i = hl + 1; i < n; i++) {
            if (!isdigit((unsigned char)p[i]))
                return TB_ERR_INVALID;
            port = port * 10 + (p[i] - '0');
        }
        if (port < 1 || port > 65535)
            return TB_ERR_INVALID;
    }
    int w = snprintf(out, outsz, "%s://%.*s", scheme, (int)n, p);
    if (w < 0 || (size_t)w >= outsz) {
        if (outsz)
            out[0] = '\0';
        return TB_ERR_TOO_LARGE;
    }
    return TB_OK;
}

static tb_err build_form(const char *first_name, const char *first_value, const bt_param *params,
                         size_t nparams, tb_buf *form)
{
    tb_err rc = tb_http_form_add(form, first_name, first_value);
    for (size_t i = 0; !rc && i < nparams; i++)
        rc = tb_http_form_add(form, params[i].name, params[i].value);
    return rc;
}

/* One API call with the 401 → invalidate → retry-once rule and the status
 * mapping described in api.h. rq carries the sink, form and timeout. */
static tb_err call(bt_oauth_cache *tokens, tb_http_client *http, const bt_conn *conn,
                   const char *path, const char *what, tb_http_request *rq, bt_api_result *res)
{
    char url[BT_API_URL_MAX + 32];
    if ((size_t)snprintf(url, sizeof url, "%s%s", conn->base_url ? conn->base_url : "", path) >=
        sizeof url) {
        tb_errmsg(res->err, sizeof res->err, "appliance base URL too long");
        return TB_ERR_INVALID;
    }
    rq->url = url;
    rq->method = TB_HTTP_POST;
    rq->connect_timeout_ms = conn->connect_timeout_ms;
    rq->ca_bundle = conn->ca_bundle;
    rq->proxy = conn->proxy;
    rq->forbid_reuse = true;

    char tok[BT_OAUTH_TOKEN_MAX];
    tb_http_response rs;
    tb_err rc = TB_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        uint64_t gen = 0;
        rc = bt_oauth_get(tokens, http, conn, tok, sizeof tok, &gen, res->err, sizeof res->err);
        if (rc)
            return rc; /* res->err says why */
        if (rq->body)
            tb_buf_reset(rq->body);
        rq->bearer = tok;
        rc = tb_http_perform(http, rq, &rs);
        rq->bearer = NULL;
        sodium_memzero(tok, sizeof tok);
        res->status = rs.status;
        res->retry_after = rs.retry_after;
        TB_LOGD("appliance API call", "appliance_id=%" PRId64 " path=%s what=%s status=%ld rc=%d",
                conn->appliance_id, path, what, rs.status, (int)rc);
        if (rc == TB_ERR_HTTP && rs.status == 401) {
            bt_oauth_invalidate(tokens, conn, gen);
            if (attempt == 0)
                continue;
            tb_errmsg(res->err, sizeof res->err, "%s", BT_OAUTH_DENIED_MSG);
            return TB_ERR_DENIED;
        }
        break;
    }
    if (rc == TB_OK) {
        if (rs.status == 200)
            return TB_OK;
        tb_errmsg(res->err, sizeof res->err, "HTTP %ld from appliance on %s (%s)", rs.status,
                 path, what);
        return TB_ERR_HTTP;
    }
    if (rc != TB_ERR_HTTP || rs.status < 300 || rs.status > 599) {
        /* transport failure, timeout, cap, or the sink's own error */
        tb_errmsg(res->err, sizeof res->err, "%s (%s %s)", rs.err, path, what);
        return rc;
    }
    /* An HTTP status other than 2xx. */
    long st = rs.status;
    if (st == 403) {
        tb_errmsg(res->err, sizeof res->err,
                 "appliance refused %s (HTTP 403): check the API account's permissions", what);
        return TB_ERR_DENIED;
    }
    if (st == 429 || (st == 503 && rs.retry_after >= 0)) {
        if (rs.retry_after >= 0)
            tb_errmsg(res->err, sizeof res->err, "%s; appliance busy, retry after %ld s", rs.err,
                     rs.retry_after);
        else
            tb_errmsg(res->err, sizeof res->err, "%s; appliance busy", rs.err);
        return TB_ERR_BUSY;
    }
    tb_errmsg(res->err, sizeof res->err, "%s on %s (%s)", rs.err, path, what);
    return TB_ERR_HTTP;
}

static void res_init(bt_api_result *res)
{
    memset(res, 0, sizeof *res);
    res->retry_after = -1;
}

tb_err bt_api_report(bt_oauth_cache *tokens, tb_http_client *http, const bt_conn *conn,
                     const char *report, const bt_param *params, size_t nparams,
                     tb_http_chunk_fn on_chunk, void *ctx, bt_api_result *res)
{
    res_init(res);
    if (!conn || !report || !*report || !on_chunk) {
        tb_errmsg(res->err, sizeof res->err, "report call without a report type or sink");
        return TB_ERR_INVALID;
    }
    tb_buf form;
    tb_buf_init(&form, 64 * 1024);
    tb_err rc = build_form("generate_report", report, params, nparams, &form);
    if (rc) {
        tb_buf_free(&form);
        tb_errmsg(res->err, sizeof res->err, "cannot encode report parameters: %s",
                 tb_strerror(rc));
        return rc;
    }
    tb_http_request rq = {
        .form = form.data,
        .timeout_ms = conn->report_timeout_ms > 0 ? conn->report_timeout_ms
                                                  : BT_API_REPORT_TIMEOUT_MS,
        .on_chunk = on_chunk,
        .chunk_ctx = ctx,
    };
    rc = call(tokens, http, conn, "/api/reporting", report, &rq, res);
    tb_buf_free(&form);
    return rc;
}

/* ---- <error> sniffing for command answers (namespace-agnostic) ---- */
typedef struct sniff {
    XML_Parser p;
    int depth;
    bool is_error;
    char text[200];
    size_t tl;
} sniff;

static void XMLCALL sn_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    (void)atts;
    sniff *s = ud;
    if (s->depth++ == 0) {
        const char *local = strrchr(name, '|');
        local = local ? local + 1 : name;
        s->is_error = strcmp(local, "error") == 0;
        if (!s->is_error)
            XML_StopParser(s->p, XML_FALSE);
    }
}

static void XMLCALL sn_end(void *ud, const XML_Char *name)
{
    (void)name;
    sniff *s = ud;
    if (--s->depth == 0)
        XML_StopParser(s->p, XML_FALSE);
}

static void XMLCALL sn_text(void *ud, const XML_Char *t, int len)
{
    sniff *s = ud;
    if (!s->is_error)
        return;
    for (int i = 0; i < len && s->tl + 1 < sizeof s->text; i++) {
        unsigned char ch = (unsigned char)t[i];
        s->text[s->tl++] = ch < 0x20 ? ' ' : (char)ch;
    }
    s->text[s->tl] = '\0';
}

/* true when the document's root element is <error> (any namespace). */
static bool root_is_error(const char *body, size_t len, char *text, size_t textsz)
{
    sniff s = {0};
    s.p = XML_ParserCreateNS(NULL, '|');
    if (!s.p)
        return false;
    XML_SetUserData(s.p, &s);
    XML_SetElementHandler(s.p, sn_start, sn_end);
    XML_SetCharacterDataHandler(s.p, sn_text);
    XML_Parse(s.p, body, (int)(len > 0x7fffffff ? 0x7fffffff : len), XML_TRUE);
    XML_ParserFree(s.p);
    if (s.is_error) {
        size_t b = 0, e = s.tl;
        while (b < e && s.text[b] == ' ')
            b++;
        while (e > b && s.text[e - 1] == ' ')
            e--;
        snprintf(text, textsz, "%.*s", (int)(e - b), s.text + b);
    }
    return s.is_error;
}

tb_err bt_api_command(bt_oauth_cache *tokens, tb_http_client *http, const bt_conn *conn,
                      const char *action, const bt_param *params, size_t nparams,
                      tb_buf *out, bt_api_result *res)
{
    res_init(res);
    tb_buf_init(out, conn && conn->command_max ? conn->command_max : BT_API_COMMAND_MAX);
    if (!action || !*action || !conn) {
        tb_errmsg(res->err, sizeof res->err, "command call without an action");
        return TB_ERR_INVALID;
    }
    tb_buf form;
    tb_buf_init(&form, 64 * 1024);
    tb_err rc = build_form("action", action, params, nparams, &form);
    if (rc) {
        tb_buf_free(&form);
        tb_errmsg(res->err, sizeof res->err, "cannot encode command parameters: %s",
                 tb_strerror(rc));
        return rc;
    }
    tb_http_request rq = {
        .form = form.data,
        .timeout_ms = conn->timeout_ms > 0 ? conn->timeout_ms : DEFAULT_TIMEOUT_MS,
        .body = out,
    };
    rc = call(tokens, http, conn, "/api/command", action, &rq, res);
    tb_buf_free(&form);
    if (rc)
        return rc;
    char text[160];
    if (root_is_error(out->data ? out->data : "", out->len, text, sizeof text)) {
        res->appliance_error = true;
        tb_errmsg(res->err, sizeof res->err, "appliance error: %s", text[0] ? text : "(no text)");
        return TB_ERR_INVALID;
    }
    return TB_OK;
}
