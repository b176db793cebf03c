/* Click-to-chat (seed 003 "Customer Initiated Chat from Service Portal"):
 * the "Get Support Now" form a portal embeds, and the redirect that starts
 * the customer's session on the appliance's public site (§6.2). Opened
 * from a case, the session carries the case's sys_id in snow_case_id, so
 * it lands on that case: the rep console shows it, no second case is
 * created when the rep joins, and the import writes its note there. */
#include "flow/csm_http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/api.h"
#include "bt/start_session.h"
#include "http/html.h"

static const char *const case_tables[] = {CSM_CASE_TABLE, NULL};

/* What the form and the redirect share: appliance, case and issue. */
struct chat {
    csm_http *h;
    tb_http_req *req;
    int64_t appliance_id;
    char appliance[128];
    char base[BT_API_URL_MAX];      /* the appliance's public site */
    itsm_record *case_rec;          /* NULL: not opened from a case */
    const char *issue;
};

static void chat_free(struct chat *c)
{
    itsm_record_free(c->case_rec);
}

/* Checks appliance, case and issue; answers the error itself. */
static bool chat_open(struct chat *c, tb_http_req *req, const csm_params *p)
{
    memset(c, 0, sizeof *c);
    c->h = tb_http_route_ctx(req);
    c->req = req;
    bool bad = false;
    const char *appliance = csm_param_text(p, "appliance", CSM_NAME_MAX, &bad);
    const char *case_key = bad ? NULL : csm_param(p, "case");
    c->issue = bad ? NULL : csm_param(p, "issue");
    if (bad)
        return false;
    if (case_key && *case_key && !csm_alnum(case_key, 64)) {
        tb_http_reply_error(req, 400, "Invalid parameter", "case: a case number or sys_id");
        return false;
    }
    if (c->issue && *c->issue) {
        for (const char *s = c->issue; *s; s++)
            if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_') || s - c->issue >= 64) {
                tb_http_reply_error(req, 400, "Invalid parameter", "issue: an issue code name (a-z, 0-9, '_', at most 64)");
                return false;
            }
    } else {
        c->issue = NULL;
    }
    if (!csm_find_appliance(c->h, req, appliance, &c->appliance_id, c->appliance))
        return false;
    tb_csm_config cfg;
    tb_err e = csm_config(c->h->csm, c->appliance_id, &cfg);
    if (e) {
        tb_http_reply_error(req, 503, "Database unavailable", tb_strerror(e));
        return false;
    }
    bool on = cfg.click_to_chat;
    tb_csm_config_clear(&cfg);
    if (!on) {
        tb_http_reply_error(req, 404, "Click-to-chat is not offered", "the appliance's click-to-chat is off");
        return false;
    }
    appliance_cache *ac = csm_appliances(c->h->csm);
    appliance_snapshot *snap = appliance_cache_acquire(ac);
    const appliance_entry *a = appliance_find_row(snap, c->appliance_id);
    bool ok = a && a->enabled && !bt_api_base_url(a->hostname, c->base, sizeof c->base);
    appliance_cache_release(ac, snap);
    if (!ok) {
        tb_http_reply_error(req, 503, "Click-to-chat is unavailable", "the appliance is disabled or has no host name");
        return false;
    }
    if (case_key && *case_key) {
        itsm *t = csm_tickets(c->h->csm, &e);
        if (t)
            e = itsm_find_task(t, case_key, case_tables, &c->case_rec);
        if (e == TB_ERR_NOT_FOUND || (!e && !c->case_rec)) {
            tb_http_reply_error(req, 404, "No such case", case_key);
            return false;
        }
        if (e) {
            tb_http_reply_error(req, 503, "Ticket store unavailable", tb_strerror(e));
            return false;
        }
        const char *active = itsm_record_get(c->case_rec, "active");
        if (active && !strcmp(active, "false")) {
            tb_http_reply_error(req, 409, "The case is closed", "open a new case or chat without one");
            chat_free(c);
            return false;
        }
    }
    return true;
}

static void hidden(tb_buf *b, const char *name, const char *value)
{
    if (!value || !*value)
        return;
    tb_buf_appends(b, "<input type=\"hidden\" name=\"");
    tb_html_escape(b, name);
    tb_buf_appends(b, "\" value=\"");
    tb_html_escape(b, value);
    tb_buf_appends(b, "\">");
}

static void input(tb_buf *b, const char *label, const char *name, int max, bool required)
{
    tb_buf_printf(b, "<label>%s <input name=\"%s\" maxlength=\"%d\"%s></label>\n", label, name, max,
                  required ? " required" : "");
}

void csm_chat_handle(tb_http_req *req)
{
    csm_params p;
    struct chat c;
    if (!csm_params_open(&p, req))
        return;
    if (!chat_open(&c, req, &p)) {
        csm_params_close(&p);
        return;
    }
    tb_buf b;
    tb_buf_init(&b, 64 * 1024);
    tb_html_begin(&b, "Get Support Now");
    if (c.case_rec) {
        const char *num = itsm_record_get(c.case_rec, "number");
        tb_buf_appends(&b, "<p>About case ");
        tb_html_escape(&b, num ? num : c.case_rec->sys_id);
        tb_buf_appends(&b, ": ");
        tb_html_escape(&b, itsm_record_get(c.case_rec, "short_description"));
        tb_buf_appends(&b, "</p>\n");
    }
    tb_buf_appends(&b, "<form method=\"post\" action=\"" CSM_CHAT_START_PATH "\">\n");
    hidden(&b, "appliance", c.appliance);
    if (c.case_rec)
        hidden(&b, "case", c.case_rec->sys_id);
    hidden(&b, "issue", c.issue);
    input(&b, "Your name", "customer.name", BT_SS_CUSTOMER_MAX, true);
    input(&b, "Company", "customer.company", BT_SS_CUSTOMER_MAX, false);
    input(&b, "Email", "customer_email", 254, false);
    tb_buf_printf(&b, "<label>How can we help? <textarea name=\"customer.details\" maxlength=\"%d\" rows=\"4\">"
                      "</textarea></label>\n<button type=\"submit\">Start chat</button>\n</form>\n",
                  BT_SS_DETAILS_MAX);
    tb_html_end(&b);
    tb_html_policy pol = {.form_action = c.base, .frameable = true};
    tb_http_reply_html(req, 200, &b, &pol);
    tb_buf_free(&b);
    chat_free(&c);
    csm_params_close(&p);
}

void csm_chat_start_handle(tb_http_req *req)
{
    csm_params p;
    struct chat c;
    if (!csm_params_open(&p, req))
        return;
    if (!chat_open(&c, req, &p)) {
        csm_params_close(&p);
        return;
    }
    bt_start_session s = {.click_to_chat = true, .issue = c.issue};
    s.customer_name = csm_param(&p, "customer.name");
    s.customer_company = csm_param(&p, "customer.company");
    s.customer_company_code = csm_param(&p, "customer.company_code");
    s.customer_details = csm_param(&p, "customer.details");
    const char *custom[][2] = {
        {"snow_case_id", c.case_rec ? c.case_rec->sys_id : NULL},
        {"customer_email", csm_param(&p, "customer_email")},
        {"customer_username", csm_param(&p, "customer_username")},
    };
    for (size_t i = 0; i < sizeof custom / sizeof *custom; i++) {
        if (custom[i][1] && *custom[i][1]) {
            s.custom[s.ncustom].name = custom[i][0];
            s.custom[s.ncustom++].value = custom[i][1];
        }
    }
    tb_buf url;
    tb_buf_init(&url, 32 * 1024);
    char err[200];
    if (bt_start_session_url(c.base, &s, &url, err, sizeof err)) {
        tb_http_reply_error(req, 400, "Invalid parameter", err);
    } else {
        tb_buf b;
        tb_buf_init(&b, 0);
        tb_html_begin(&b, "Starting your session");
        tb_buf_appends(&b, "<p><a href=\"");
        tb_html_escape(&b, url.data);
        tb_buf_appends(&b, "\">Continue to the support site</a></p>");
        tb_html_end(&b);
        tb_html_policy pol = {.form_action = c.base, .frameable = true};
        tb_http_reply_html(req, 303, &b, &pol);
        tb_http_reply_header(req, "Location", url.data);
        tb_buf_free(&b);
    }
    tb_buf_free(&url);
    chat_free(&c);
    csm_params_close(&p);
}
