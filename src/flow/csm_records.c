/* Records from the representative console (seed 003 "Access ServiceNow
 * Records from the Representative Console"): /nav_to.do, as the custom
 * links call it on ServiceNow, and a read-only page per ticket. With
 * ticket_store = servicenow both send the browser to the instance. */
#include "flow/csm_http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/roles.h"
#include "flow/gateway.h"
#include "http/client.h"
#include "http/html.h"
#include "itsm/itsm_servicenow.h"

#define URI_MAX 2048
#define JOURNAL_ROWS 200

static void redirect(tb_http_req *req, const char *location)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_html_begin(&b, "Moved");
    tb_buf_appends(&b, "<p><a href=\"");
    tb_html_escape(&b, location);
    tb_buf_appends(&b, "\">Continue</a></p>");
    tb_html_end(&b);
    tb_http_reply_html(req, 302, &b, NULL);
    tb_http_reply_header(req, "Location", location);
    tb_buf_free(&b);
}

/* Parameters the console may have left outside uri (when its link did
 * not encode the '&' as %26), carried over to the page. */
static const char *const link_params[] = {"lsid", "username", "auto_create", "appliance", NULL};

static void nav_to_link(tb_http_req *req, const char *query)
{
    bt_form f;
    char err[200];
    if (bt_form_parse(query, strlen(query), &f, err, sizeof err)) {
        tb_http_reply_error(req, 400, "Invalid parameter", "uri: the page's parameters cannot be read");
        return;
    }
    tb_buf query_out, loc;
    tb_buf_init(&query_out, URI_MAX * 3);
    tb_buf_init(&loc, URI_MAX * 3 + 64);
    tb_err e = TB_OK;
    for (const char *const *n = link_params; !e && *n; n++) {
        const char *v = bt_form_get(&f, *n);
        if (!v)
            v = tb_http_query(req, *n);
        if (v)
            e = tb_http_form_add(&query_out, *n, v);
    }
    if (!e)
        e = tb_buf_printf(&loc, CSM_LINK_PATH "%s%s", query_out.len ? "?" : "", query_out.len ? query_out.data : "");
    tb_buf_free(&query_out);
    bt_form_free(&f);
    if (e)
        tb_http_reply_error(req, 400, "Invalid parameter", "uri is too long");
    else
        redirect(req, loc.data);
    tb_buf_free(&loc);
}

void csm_nav_handle(tb_http_req *req)
{
    csm_http *h = tb_http_route_ctx(req);
    const char *uri = tb_http_query(req, "uri");
    if (!uri || !*uri) {
        tb_http_reply_error(req, 400, "Missing parameter", "uri: the page, e.g. sn_customerservice_case.do?sys_id=...");
        return;
    }
    if (strlen(uri) > URI_MAX) {
        tb_http_reply_error(req, 400, "Invalid parameter", "uri is longer than 2048 bytes");
        return;
    }
    while (*uri == '/')
        uri++;
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    char page[96];
    if (plen < 4 || plen >= sizeof page || strncmp(uri + plen - 3, ".do", 3)) {
        tb_http_reply_error(req, 404, "Not a page ticketbridge serves",
                            "uri names a record (<table>.do?sys_id=...) or x_bmgr_crm_auto_create_link.do");
        return;
    }
    snprintf(page, sizeof page, "%.*s", (int)(plen - 3), uri);
    const char *query = q ? q + 1 : "";
    if (!strcmp(page, "x_bmgr_crm_auto_create_link")) {
        nav_to_link(req, query);
        return;
    }
    if (strcmp(page, "task") && !itsm_is_task_table(page)) {
        tb_http_reply_error(req, 404, "Not a page ticketbridge serves",
                            "records of task tables (sn_customerservice_case, incident, ..., task) only");
        return;
    }
    bt_form f;
    char err[200];
    if (bt_form_parse(query, strlen(query), &f, err, sizeof err)) {
        tb_http_reply_error(req, 400, "Invalid parameter", "uri: the record's parameters cannot be read");
        return;
    }
    const char *sys_id = bt_form_get(&f, "sys_id");
    char loc[512];
    if (!sys_id || !*sys_id)
        tb_http_reply_error(req, 404, "No record",
                            "the link has no sys_id: the session has no case yet (its snow_case_id is empty)");
    else if (csm_record_location(h->ticket_store, h->instance_url, page, sys_id, loc, sizeof loc))
        tb_http_reply_error(req, 400, "Invalid parameter", "sys_id: 32 lower-case hexadecimal characters");
    else
        redirect(req, loc);
    bt_form_free(&f);
}

/* ---- /tickets/{number or sys_id} ---- */

/* Roles that may read tickets: the CSM agent, ITIL users, PRA data viewers. */
static bool may_view(tb_http_req *req)
{
    auth_principal who;
    if (!auth_require(gateway_auth(tb_http_app(req)), req, NULL, &who))
        return false;
    static const char *const roles[] = {ROLE_CSM_AGENT, ROLE_ITIL, ROLE_PRA_DATA_VIEWER, NULL};
    for (const char *const *r = roles; *r; r++)
        if (auth_principal_has(&who, *r))
            return true;
    auth_reply_forbidden(req, &who, ROLE_CSM_AGENT);
    return false;
}

static void journal(tb_buf *b, itsm *t, const char *sys_id)
{
    itsm_kv kv = {"element_id", sys_id};
    itsm_record **v = NULL;
    size_t n = 0;
    if (itsm_query(t, "sys_journal_field", &kv, 1, 0, JOURNAL_ROWS, 0, &v, &n)) {
        tb_buf_appends(b, "<p class=\"err\">The work notes cannot be read.</p>");
        return;
    }
    tb_buf_appends(b, "<h2>Work notes and comments</h2>\n");
    if (!n)
        tb_buf_appends(b, "<p>None.</p>\n");
    for (size_t i = n; i-- > 0;) {
        tb_buf_appends(b, "<p><b>");
        tb_html_escape(b, itsm_record_get(v[i], "sys_created_on"));
        tb_buf_appends(b, "</b> ");
        tb_html_escape(b, itsm_record_get(v[i], "element"));
        tb_buf_appends(b, " by ");
        tb_html_escape(b, itsm_record_get(v[i], "sys_created_by"));
        tb_buf_appends(b, "</p><pre>");
        tb_html_escape(b, itsm_record_get(v[i], "value"));
        tb_buf_appends(b, "</pre>\n");
    }
    itsm_records_free(v, n);
}

void csm_ticket_handle(tb_http_req *req)
{
    csm_http *h = tb_http_route_ctx(req);
    if (!may_view(req))
        return;
    const char *key = tb_http_path(req) + strlen(CSM_TICKETS_PREFIX);
    if (!csm_alnum(key, 64)) {
        tb_http_reply_error(req, 400, "Invalid ticket", "/tickets/ is followed by a ticket number or sys_id");
        return;
    }
    tb_err e;
    itsm *t = csm_tickets(h->csm, &e);
    itsm_record *r = NULL;
    if (t)
        e = itsm_find_task(t, key, NULL, &r);
    if (e == TB_ERR_NOT_FOUND || (!e && !r)) {
        tb_http_reply_error(req, 404, "No such ticket", key);
        return;
    }
    if (e) {
        const char *why = t ? itsm_servicenow_errmsg(t) : NULL;
        tb_http_reply_error(req, 503, "Ticket store unavailable", why && *why ? why : tb_strerror(e));
        return;
    }
    if (!strcmp(h->ticket_store, "servicenow")) {
        /* The tickets live on the instance: its own form shows them. */
        char loc[512];
        if (csm_record_location(h->ticket_store, h->instance_url, r->table, r->sys_id, loc, sizeof loc))
            tb_http_reply_error(req, 500, "No instance URL", "servicenow_url is not an https:// URL");
        else
            redirect(req, loc);
        itsm_record_free(r);
        return;
    }
    const char *number = itsm_record_get(r, "number");
    tb_buf b;
    tb_buf_init(&b, 4 * 1024 * 1024);
    tb_html_begin(&b, number && *number ? number : r->sys_id);
    tb_buf_appends(&b, "<p>");
    tb_html_escape(&b, r->table);
    tb_buf_appends(&b, " &middot; ");
    tb_html_escape(&b, itsm_record_get(r, "short_description"));
    tb_buf_appends(&b, "</p>\n<table>\n");
    for (size_t i = 0; i < r->nfields; i++) {
        if (!r->fields[i].value || !*r->fields[i].value)
            continue;
        tb_buf_appends(&b, "<tr><th>");
        tb_html_escape(&b, r->fields[i].name);
        tb_buf_appends(&b, "</th><td>");
        tb_html_escape(&b, r->fields[i].value);
        tb_buf_appends(&b, "</td></tr>\n");
    }
    tb_buf_appends(&b, "</table>\n");
    journal(&b, t, r->sys_id);
    tb_html_end(&b);
    tb_http_reply_html(req, 200, &b, NULL);
    tb_buf_free(&b);
    itsm_record_free(r);
}
