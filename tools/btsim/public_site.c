/* The public site's session start (protocol doc §6.2) and the client
 * scripting API (§6.1). Neither takes an API token: the first is what a
 * customer's browser calls, the second a link the representative opens. */
#include "handler.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- /api/start_session ---------------- */

/* [I] the public site's pages are not documented; a small page says what
 * happened, and X-Btsim-Lsid carries the new session for tests. */
static void page(reply *out, int status, const char *title, const char *text, bool c2c,
                 const char *lsid)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    xml_esc(&b, title);
    tb_buf_appends(&b, "</title></head>\n<body><h1>");
    xml_esc(&b, title);
    tb_buf_printf(&b, "</h1>\n<p class=\"%s\">", status == 200 ? "status" : "error");
    xml_esc(&b, text);
    tb_buf_appends(&b, "</p>\n");
    if (c2c && lsid) /* [I] click-to-chat runs in the browser */
        tb_buf_printf(&b, "<script src=\"/api/click_to_chat.js?lsid=%s\"></script>\n", lsid);
    tb_buf_appends(&b, "</body></html>\n");
    out->status = status;
    out->ctype = "text/html; charset=UTF-8";
    out->body = tb_buf_take(&b);
    if (lsid)
        reply_header(out, "X-Btsim-Lsid", lsid);
}

static void page_error(reply *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void page_error(reply *out, int status, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    page(out, status, "Unable to start a session", msg, false, NULL);
}

static bool numeric(const char *s)
{
    if (!*s || strlen(s) > 9)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

void handle_start_session(const req *r, reply *out)
{
    if (strcmp(r->method, "GET") && strcmp(r->method, "POST")) {
        page_error(out, 405, "Method not allowed");
        return;
    }
    const char *name = P(r, "customer.name"), *company = P(r, "customer.company"),
               *code = P(r, "customer.company_code"), *details = P(r, "customer.details");
    const char *field = NULL;
    const char *e = customer_fields_check(name, company, code, details, &field);
    if (e) {
        page_error(out, 400, "customer.%s %s (customer.name, customer.company and "
                   "customer.company_code allow at most 100 characters)",
                   strcmp(field, "customer name") == 0      ? "name"
                   : strcmp(field, "customer company") == 0 ? "company"
                   : strcmp(field, "customer details") == 0 ? "details"
                                                            : "company_code", e);
        return;
    }
    const char *id = P(r, "id"), *rname = P(r, "name"), *sk = P(r, "short_key");
    if ((id != NULL) + (rname != NULL) + (sk != NULL) > 1) {
        page_error(out, 400, "Give only one of id, name and short_key");
        return;
    }
    const char *ext = NULL;
    bt_kvs custom = {0};
    collect_session_custom(&r->params, &custom, &ext);
    if ((e = custom_values_check(&custom, ext))) {
        kvs_free(&custom);
        page_error(out, 400, "%s", e);
        return;
    }
    const char *issue = P(r, "codeName");
    if (issue && !custom_field_name_valid(issue)) {
        kvs_free(&custom);
        page_error(out, 400, "Invalid issue code name");
        return;
    }
    bool c2c = P(r, "c2cjs") && strcmp(P(r, "c2cjs"), "1") == 0;

    pthread_mutex_lock(&G.mu);
    bt_gen_opts o = {.live = true, .waiting = true, .customer_name = name, .company = company,
                     .company_code = code, .details = details, .issue = issue, .attended = 1};
    char *queue = NULL;
    int status = 200;
    char msg[160] = "";
    const char *undefined = custom_fields_undefined(&custom);
    if (undefined) {
        char *m = custom_field_error(undefined);
        snprintf(msg, sizeof msg, "%s", m);
        free(m);
        status = 400;
    } else if (id || rname) {
        const char *u = id ? (numeric(id) ? rep_username_by_id(atol(id)) : NULL)
                           : rep_username_by_public_name(rname);
        if (!u) {
            status = 404;
            snprintf(msg, sizeof msg, "No representative with that %s is available", id ? "id" : "name");
        } else {
            queue = bt_strdupf("rep_username:%s", u);
        }
    } else if (sk) {
        bt_key_state st;
        bt_key *k = key_lookup(sk, &st);
        if (st != BT_KEY_OK) {
            status = st == BT_KEY_EXPIRED ? 410 : 404;
            snprintf(msg, sizeof msg, st == BT_KEY_EXPIRED ? "The session key has expired"
                                                           : "The session key is not valid");
        } else {
            k->uses++;
            bt_kvs merged = {0};
            kvs_copy(&merged, &k->custom);
            for (size_t i = 0; i < custom.n; i++)
                kvs_set(&merged, custom.items[i].k, custom.items[i].v);
            kvs_free(&custom);
            custom = merged;
            if (!ext)
                ext = k->external_key;
            queue = bt_strdup(k->queue_id);
        }
    } else if (issue && P(r, "issue_menu")) {
        queue = bt_strdupf("issue:%s", issue);
    }
    if (status != 200) {
        pthread_mutex_unlock(&G.mu);
        kvs_free(&custom);
        free(queue);
        page_error(out, status, "%s", msg);
        return;
    }
    o.queue_id = queue;
    o.custom = &custom;
    o.external_key = ext;
    bt_session *s = gen_session(&o);
    live_started(s);
    char lsid[sizeof s->lsid];
    memcpy(lsid, s->lsid, sizeof lsid);
    pthread_mutex_unlock(&G.mu);
    kvs_free(&custom);
    free(queue);
    page(out, 200, c2c ? "Chat with Support" : "Support Session",
         "Your session is waiting for a representative.", c2c, lsid);
}

/* ---------------- /api/client_script ---------------- */

/* [V] §6.1 commands; parameters and limits of the four documented ones.
 * A parameter the page does not list is refused [I], so a typo in a
 * generated link shows up in tests instead of being ignored. */
typedef struct cmd_def {
    const char *action;
    bool rs, pra;
    const char *params;     /* space separated; NULL = not documented here, any accepted */
} cmd_def;

static const cmd_def CMDS[] = {
    {"login", true, true, ""},
    {"generate_session_key", true, false, "public_portal_hostname"},
    {"push_and_start_local", true, true, NULL},
    {"push_and_start_remote", true, true, "target jumpoint"},
    {"start_jump_item_session", true, true,
     "jump.method credential_id search_string client.comments client.hostname client.tag "
     "client.private_ip client.public_ip"},
    {"start_rdp_session", true, false, NULL},
    {"start_vnc_session", true, false, NULL},
    {"start_shell_jump_session", true, true, "target jumpoint username protocol port terminal"},
    {"start_vpro_session", true, false, NULL},
};

static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
            return true;
    return false;
}

static bool one_of(const char *v, const char *a, const char *b, const char *c, const char *d,
                   const char *e, const char *f)
{
    const char *opts[] = {a, b, c, d, e, f};
    for (size_t i = 0; i < 6; i++)
        if (opts[i] && strcmp(v, opts[i]) == 0)
            return true;
    return false;
}

static const char *script_check(const cmd_def *d, const req *r, char *buf, size_t bufsz)
{
    bool have_search = false, have_client = false;
    for (size_t i = 0; i < r->params.n; i++) {
        const char *k = r->params.items[i].k, *v = r->params.items[i].v;
        if (!strcmp(k, "type") || !strcmp(k, "operation") || !strcmp(k, "action") ||
            !strncmp(k, "session.custom.", 15))
            continue;
        if (d->params && !listed(d->params, k)) {
            snprintf(buf, bufsz, "Invalid parameter for %s: %s", d->action, k);
            return buf;
        }
        long n = bt_utf8_len(v);
        if (n < 0) {
            snprintf(buf, bufsz, "Parameter %s is not valid UTF-8", k);
            return buf;
        }
        if (n > 255) { /* [V] every documented string parameter is ≤ 255 */
            snprintf(buf, bufsz, "Parameter %s exceeds 255 characters", k);
            return buf;
        }
        if (!strcmp(k, "search_string") && *v)
            have_search = true;
        if (!strncmp(k, "client.", 7) && *v)
            have_client = true;
        if (!strcmp(k, "jump.method") &&
            !one_of(v, "push", "local_push", "pinned", "rdp", "vnc", "shelljump"))
            return "Invalid jump.method; expected push, local_push, pinned, rdp, vnc or shelljump";
        if (!strcmp(d->action, "start_shell_jump_session")) {
            if (!strcmp(k, "protocol") && !one_of(v, "ssh", "telnet", NULL, NULL, NULL, NULL))
                return "Invalid protocol; expected ssh or telnet";
            if (!strcmp(k, "terminal") && !one_of(v, "xterm", "vt100", NULL, NULL, NULL, NULL))
                return "Invalid terminal; expected xterm or vt100";
            if (!strcmp(k, "port") && (!numeric(v) || atol(v) < 1 || atol(v) > 65535))
                return "Invalid port";
        }
    }
    if (!strcmp(d->action, "start_jump_item_session") && !have_search && !have_client)
        return "search_string is required unless a client.* filter is given";
    if ((!strcmp(d->action, "start_shell_jump_session") ||
         !strcmp(d->action, "push_and_start_remote")) && !(P(r, "target") && *P(r, "target")))
        return "target is required";
    return NULL;
}

/* [I] errors: HTTP 400 with the API's namespaced <error> */
static void script_error(reply *out, const char *msg)
{
    reply_xml(out, xml_error(G.cfg.ns_command, msg));
    out->status = 400;
}

void handle_client_script(const req *r, reply *out)
{
    if (strcmp(r->method, "GET") && strcmp(r->method, "POST")) {
        script_error(out, "Method not allowed");
        out->status = 405;
        return;
    }
    const char *type = P(r, "type"), *op = P(r, "operation"), *action = P(r, "action");
    if (!type || strcmp(type, "rep") != 0) {
        script_error(out, "Invalid or missing type; expected rep");
        return;
    }
    if (!op || strcmp(op, "generate") != 0) {
        script_error(out, "Invalid or missing operation; expected generate");
        return;
    }
    const cmd_def *d = NULL;
    for (size_t i = 0; action && i < sizeof CMDS / sizeof *CMDS; i++)
        if (!strcmp(CMDS[i].action, action) && (G.cfg.pra ? CMDS[i].pra : CMDS[i].rs))
            d = &CMDS[i];
    if (!d) {
        script_error(out, "Invalid or missing action");
        return;
    }
    char buf[200];
    const char *e = script_check(d, r, buf, sizeof buf);
    const char *ext = NULL;
    bt_kvs custom = {0};
    collect_session_custom(&r->params, &custom, &ext);
    if (!e)
        e = custom_values_check(&custom, ext);
    char *msg = NULL;
    if (!e) {
        pthread_mutex_lock(&G.mu);
        const char *undefined = custom_fields_undefined(&custom);
        if (undefined)
            msg = custom_field_error(undefined);
        pthread_mutex_unlock(&G.mu);
    }
    kvs_free(&custom);
    if (e || msg) {
        script_error(out, e ? e : msg);
        free(msg);
        return;
    }
    /* [V] BRCS1.0, then one command per line, RFC 3986 percent-encoded */
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "BRCS1.0\n");
    tb_buf_printf(&b, "action=%s", d->action);
    for (size_t i = 0; i < r->params.n; i++) {
        const char *k = r->params.items[i].k, *v = r->params.items[i].v;
        if (!strcmp(k, "type") || !strcmp(k, "operation") || !strcmp(k, "action"))
            continue;
        char *ek = curl_easy_escape(NULL, k, 0), *ev = curl_easy_escape(NULL, v, 0);
        tb_buf_printf(&b, "&%s=%s", ek ? ek : "", ev ? ev : "");
        curl_free(ek);
        curl_free(ev);
    }
    tb_buf_appends(&b, "\n");
    out->status = 200;
    out->ctype = "application/octet-stream"; /* [I] */
    out->body = tb_buf_take(&b);
    char *cd = bt_strdupf("attachment; filename=\"%s.brcs-%s\"", d->action, G.cfg.company_site);
    reply_header(out, "Content-Disposition", cd);
    free(cd);
}
