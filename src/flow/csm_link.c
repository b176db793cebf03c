/* /x_bmgr_crm_auto_create_link.do: the representative console's custom
 * links for case creation (seed 003 options 2 and 3). */
#include "flow/csm_http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/roles.h"
#include "flow/gateway.h"
#include "http/html.h"

/* The rep waits for the page: each appliance call gets this long. */
#define LINK_APPLIANCE_TIMEOUT_MS 10000L
#define SEARCH_MAX 40
#define SEARCH_ROWS 20

/* What every page of one request needs. */
struct link {
    csm_http *h;
    tb_http_req *req;
    auth_principal who;
    int64_t appliance_id;
    char appliance[128];
    const char *lsid;
    const char *user;               /* the rep the link names, else the caller */
};

static void case_link(tb_buf *b, const struct link *l, const char *sys_id, const char *number)
{
    char loc[512];
    if (csm_record_location(l->h->ticket_store, l->h->instance_url, CSM_CASE_TABLE, sys_id, loc, sizeof loc)) {
        tb_html_escape(b, number);
        return;
    }
    tb_buf_appends(b, "<a href=\"");
    tb_html_escape(b, loc);
    tb_buf_appends(b, "\">");
    tb_html_escape(b, number);
    tb_buf_appends(b, "</a>");
}

static void session_line(tb_buf *b, const struct link *l)
{
    tb_buf_appends(b, "<p>Session <code>");
    tb_html_escape(b, l->lsid);
    tb_buf_appends(b, "</code> on appliance ");
    tb_html_escape(b, l->appliance);
    tb_buf_appends(b, ", representative ");
    tb_html_escape(b, l->user);
    tb_buf_appends(b, ".</p>\n");
}

static void warnings(tb_buf *b, const char *text)
{
    if (!text || !*text)
        return;
    tb_buf_appends(b, "<p class=\"warn\">Warnings:</p><pre class=\"warn\">");
    tb_html_escape(b, text);
    tb_buf_appends(b, "</pre>\n");
}

static int status_of(tb_err e)
{
    switch (e) {
    case TB_ERR_NOT_FOUND: return 404;
    case TB_ERR_EXISTS: return 409;
    case TB_ERR_DISABLED: return 403;
    case TB_ERR_INVALID: return 400;
    case TB_ERR_HTTP:
    case TB_ERR_DENIED: return 502;
    case TB_ERR_TIMEOUT: return 504;
    default: return 503;
    }
}

/* The page after a creation or an association. */
static void result_page(const struct link *l, tb_err e, const csm_result *res, const char *err)
{
    if (e) {
        int status = status_of(e);
        tb_http_reply_error(l->req, status,
                            status == 404   ? "Not found"
                            : status == 409 ? "Conflict"
                            : status == 400 ? "Invalid request"
                            : status >= 502 && status != 503 ? "The appliance or the ticket store did not answer"
                                                             : "Case not created",
                            err);
        return;
    }
    if (res->kind == CSM_SKIPPED) {
        tb_http_reply_error(l->req, 409, "No case created", res->detail);
        return;
    }
    tb_buf b;
    tb_buf_init(&b, 256 * 1024);
    const char *title = res->kind == CSM_CREATED ? "Case created" : res->kind == CSM_ASSOCIATED
                                                                        ? "Session associated with the case"
                                                                        : "The session has its case";
    tb_html_begin(&b, title);
    session_line(&b, l);
    tb_buf_appends(&b, "<p>Case: ");
    case_link(&b, l, res->case_sys_id, res->case_number);
    tb_buf_appends(&b, "</p>\n");
    if (res->kind == CSM_CREATED)
        warnings(&b, res->detail);
    if (res->attribute_set) {
        tb_buf_appends(&b, "<p>The case ID is on the session (snow_case_id): the console shows it, and the "
                           "session's details are written to the case when it ends.</p>\n");
    } else {
        tb_buf_appends(&b, "<p class=\"err\">The case ID could not be written to the session: ");
        tb_html_escape(&b, res->attribute_error);
        tb_buf_appends(&b, "</p>\n");
    }
    tb_html_end(&b);
    tb_http_reply_html(l->req, 200, &b, NULL);
    tb_buf_free(&b);
}

static void hidden(tb_buf *b, const char *name, const char *value)
{
    tb_buf_appends(b, "<input type=\"hidden\" name=\"");
    tb_html_escape(b, name);
    tb_buf_appends(b, "\" value=\"");
    tb_html_escape(b, value);
    tb_buf_appends(b, "\">");
}

static void form_start(tb_buf *b, const struct link *l, const char *token)
{
    tb_buf_appends(b, "<form method=\"post\" action=\"" CSM_LINK_PATH "\">");
    hidden(b, "lsid", l->lsid);
    hidden(b, "username", l->user);
    hidden(b, "appliance", l->appliance);
    hidden(b, "token", token);
}

/* Option 3: associate with an existing case (search by number) or create one. */
static void choice_page(const struct link *l, const char *q)
{
    tb_buf b;
    tb_buf_init(&b, 256 * 1024);
    tb_csm_case k;
    tb_err e = csm_session_case(l->h->csm, l->appliance_id, l->lsid, &k);
    if (!e) {
        tb_html_begin(&b, "The session has its case");
        session_line(&b, l);
        tb_buf_appends(&b, "<p>Case: ");
        case_link(&b, l, k.case_sys_id, k.case_number);
        tb_buf_appends(&b, "</p>\n");
        tb_csm_case_clear(&k);
        tb_html_end(&b);
        tb_http_reply_html(l->req, 200, &b, NULL);
        tb_buf_free(&b);
        return;
    }
    if (e != TB_ERR_NOT_FOUND) {
        tb_http_reply_error(l->req, 503, "Database unavailable", tb_strerror(e));
        tb_buf_free(&b);
        return;
    }
    char token[65];
    csm_form_token(l->h, l->appliance_id, l->lsid, l->who.username, token);
    tb_html_begin(&b, "Case for this session");
    session_line(&b, l);
    tb_buf_appends(&b, "<h2>Associate with an existing case</h2>\n<form method=\"get\" action=\"" CSM_LINK_PATH "\">");
    hidden(&b, "lsid", l->lsid);
    hidden(&b, "username", l->user);
    hidden(&b, "appliance", l->appliance);
    tb_buf_appends(&b, "<label>Case number <input name=\"q\" maxlength=\"40\" value=\"");
    tb_html_escape(&b, q ? q : "");
    tb_buf_appends(&b, "\"></label><button type=\"submit\">Search</button></form>\n");
    if (q) {
        itsm_record **v = NULL;
        size_t n = 0;
        e = csm_search_cases(l->h->csm, q, SEARCH_ROWS, &v, &n);
        if (e) {
            tb_buf_appends(&b, "<p class=\"err\">The search failed: ");
            tb_html_escape(&b, tb_strerror(e));
            tb_buf_appends(&b, "</p>\n");
        } else if (!n) {
            tb_buf_appends(&b, "<p>No active case number contains \"");
            tb_html_escape(&b, q);
            tb_buf_appends(&b, "\".</p>\n");
        } else {
            tb_buf_appends(&b, "<table><tr><th>Case</th><th>Short description</th><th></th></tr>\n");
            for (size_t i = 0; i < n; i++) {
                const char *num = itsm_record_get(v[i], "number");
                tb_buf_appends(&b, "<tr><td>");
                case_link(&b, l, v[i]->sys_id, num ? num : v[i]->sys_id);
                tb_buf_appends(&b, "</td><td>");
                tb_html_escape(&b, itsm_record_get(v[i], "short_description"));
                tb_buf_appends(&b, "</td><td>");
                form_start(&b, l, token);
                hidden(&b, "action", "associate");
                hidden(&b, "case", num ? num : v[i]->sys_id);
                tb_buf_appends(&b, "<button type=\"submit\">Associate</button></form></td></tr>\n");
            }
            tb_buf_appends(&b, "</table>\n");
        }
        itsm_records_free(v, n);
    }
    tb_buf_appends(&b, "<h2>Or create a new case</h2>\n");
    form_start(&b, l, token);
    hidden(&b, "action", "create");
    tb_buf_appends(&b, "<button type=\"submit\">Create case</button></form>\n");
    tb_html_end(&b);
    tb_http_reply_html(l->req, 200, &b, NULL);
    tb_buf_free(&b);
}

static void create(const struct link *l)
{
    csm_call call = {.appliance_id = l->appliance_id, .lsid = l->lsid, .rep_username = l->user,
                     .origin = CSM_ORIGIN_LINK, .timeout_ms = LINK_APPLIANCE_TIMEOUT_MS};
    csm_result res;
    char err[512];
    tb_err e = csm_create(l->h->csm, &call, &res, err, sizeof err);
    result_page(l, e, &res, err);
}

static void associate(const struct link *l, const char *case_key)
{
    csm_call call = {.appliance_id = l->appliance_id, .lsid = l->lsid, .rep_username = l->user,
                     .origin = CSM_ORIGIN_ASSOCIATION, .timeout_ms = LINK_APPLIANCE_TIMEOUT_MS};
    csm_result res;
    char err[512];
    tb_err e = csm_associate(l->h->csm, &call, case_key, &res, err, sizeof err);
    result_page(l, e, &res, err);
}

static bool is_true(const char *v)
{
    return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

void csm_link_handle(tb_http_req *req)
{
    struct link l = {.h = tb_http_route_ctx(req), .req = req};
    if (!auth_require(gateway_auth(tb_http_app(req)), req, ROLE_CSM_AGENT, &l.who))
        return;
    csm_params p;
    if (!csm_params_open(&p, req))
        return;
    bool bad = false;
    l.lsid = csm_param(&p, "lsid");
    const char *user = csm_param_text(&p, "username", CSM_NAME_MAX, &bad);
    const char *appliance = bad ? NULL : csm_param_text(&p, "appliance", CSM_NAME_MAX, &bad);
    const char *q = bad ? NULL : csm_param(&p, "q");
    if (bad)
        goto out;
    if (!l.lsid || !bt_valid_lsid(l.lsid)) {
        tb_http_reply_error(req, 400, l.lsid ? "Invalid parameter" : "Missing parameter",
                            "lsid: the session's LSID (1-64 letters, digits, '-' or '_')");
        goto out;
    }
    if (q && *q && !csm_alnum(q, SEARCH_MAX)) {
        tb_http_reply_error(req, 400, "Invalid parameter", "q: a case number or part of one (letters and digits, "
                                                           "at most 40)");
        goto out;
    }
    if (q && !*q)
        q = NULL;
    l.user = user ? user : l.who.username;
    if (!csm_find_appliance(l.h, req, appliance, &l.appliance_id, l.appliance))
        goto out;
    tb_csm_config cfg;
    tb_err e = csm_config(l.h->csm, l.appliance_id, &cfg);
    if (e) {
        tb_http_reply_error(req, 503, "Database unavailable", tb_strerror(e));
        goto out;
    }
    bool on = cfg.auto_create && cfg.custom_links;
    tb_csm_config_clear(&cfg);
    if (!on) {
        char d[300];
        snprintf(d, sizeof d, "turn it on with: ticketbridge csm config %s set --auto-create yes --custom-links yes",
                 l.appliance);
        tb_http_reply_error(req, 403, "Case creation from custom links is off for this appliance", d);
        goto out;
    }
    if (!p.post) {
        if (is_true(csm_param(&p, "auto_create")))
            create(&l);
        else
            choice_page(&l, q);
        goto out;
    }
    if (!csm_form_token_ok(l.h, l.appliance_id, l.lsid, l.who.username, csm_param(&p, "token"))) {
        tb_http_reply_error(req, 403, "Invalid form token", "open the custom link again and use its page");
        goto out;
    }
    const char *action = csm_param(&p, "action");
    const char *case_key = csm_param(&p, "case");
    if (action && !strcmp(action, "create")) {
        create(&l);
    } else if (action && !strcmp(action, "associate")) {
        if (!case_key || !csm_alnum(case_key, 64))
            tb_http_reply_error(req, 400, "Invalid parameter", "case: a case number or sys_id");
        else
            associate(&l, case_key);
    } else {
        tb_http_reply_error(req, 400, "Invalid parameter", "action: create or associate");
    }
out:
    csm_params_close(&p);
}
