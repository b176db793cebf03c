#include "flow/api_pra.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/outbound_event.h"
#include "core/roles.h"
#include "flow/auth.h"
#include "flow/gateway.h"
#include "flow/jump.h"
#include "flow/thread_handles.h"
#include "store/store_approval.h"

struct api_pra {
    appliance_cache *appliances;
    thread_handles *threads;
};

static api_pra *ctx_of(tb_http_req *req)
{
    return tb_http_route_ctx(req);
}

static bool authorize(tb_http_req *req, const char *role)
{
    auth_principal who;
    return auth_require(gateway_auth(tb_http_app(req)), req, role, &who);
}

static void reply_json_value(tb_http_req *req, int status, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    if (s)
        tb_http_reply_json(req, status, s);
    else
        tb_http_reply_error(req, 500, "Internal error", "cannot render the answer");
    free(s);
    json_decref(v);
}

/* ---- POST /api/tb/v1/jump ---- */

/* The named appliance, else the first enabled PRA one, else Default. */
static const appliance_entry *jump_appliance(const appliance_snapshot *s, const char *name)
{
    if (name)
        return appliance_find_name(s, name);
    for (size_t i = 0; s && i < s->n; i++)
        if (!strcmp(s->v[i].product, "pra") && s->v[i].enabled)
            return &s->v[i];
    return appliance_find_name(s, "Default");
}

static const char *opt_string(json_t *o, const char *key, bool *bad)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

static void handle_jump(tb_http_req *req)
{
    if (!authorize(req, "x_bmgr_bomgar_pam.jump_user"))
        return;
    api_pra *c = ctx_of(req);
    size_t len;
    const char *body = tb_http_body(req, &len);
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        char d[200];
        snprintf(d, sizeof d, o ? "the body must be a JSON object" : "invalid JSON at line %d column %d: %s", je.line,
                 je.column, je.text);
        json_decref(o);
        tb_http_reply_error(req, 400, "Malformed body", d);
        return;
    }
    bool bad = false;
    const char *task = opt_string(o, "task", &bad), *ci = opt_string(o, "ci", &bad);
    const char *name = opt_string(o, "appliance", &bad), *method = opt_string(o, "method", &bad);
    if (bad || (!task && !ci)) {
        json_decref(o);
        tb_http_reply_error(req, 400, "Invalid body",
                            "give \"task\" (number or sys_id) and/or \"ci\" (name or sys_id) as strings; optional "
                            "\"appliance\" and \"method\"");
        return;
    }
    appliance_snapshot *snap = appliance_cache_acquire(c->appliances);
    const appliance_entry *a = jump_appliance(snap, name);
    tb_err e;
    itsm *t = a ? thread_tickets(c->threads, &e) : NULL;
    if (!a) {
        tb_http_reply_error(req, 404, "Unknown appliance",
                            name ? "no appliance with that name" : "no PRA appliance and no Default appliance");
    } else if (!t) {
        tb_http_reply_error(req, 503, "Ticket store unavailable", tb_strerror(e));
    } else {
        jump_link l;
        char err[256];
        e = jump_build(t, a->hostname, task, ci, method, &l, err, sizeof err);
        if (e) {
            int status = e == TB_ERR_NOT_FOUND ? 404 : e == TB_ERR_INVALID ? 400 : 503;
            tb_http_reply_error(req, status, status == 404 ? "Not found" : status == 400 ? "Invalid request"
                                                                                          : "Ticket store unavailable",
                                err);
        } else {
            char *s = jump_link_json(&l);
            if (s)
                tb_http_reply_json(req, 200, s);
            else
                tb_http_reply_error(req, 500, "Internal error", "cannot render the answer");
            free(s);
            jump_link_free(&l);
        }
    }
    appliance_cache_release(c->appliances, snap);
    json_decref(o);
}

/* ---- GET /api/tb/v1/approvals ---- */

static void handle_approvals(tb_http_req *req)
{
    if (!authorize(req, "x_bmgr_bomgar_pam.data_viewer"))
        return;
    api_pra *c = ctx_of(req);
    tb_approval_filter f = {.limit = 50};
    f.appliance = tb_http_query(req, "appliance");
    f.ticket_id = tb_http_query(req, "ticket");
    const char *outcome = tb_http_query(req, "outcome"), *limit = tb_http_query(req, "limit");
    if (outcome)
        f.outcome = !strcmp(outcome, "allowed") ? 1 : !strcmp(outcome, "denied") ? -1 : 2;
    if (limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        f.limit = (*end || end == limit || v < 1 || v > 1000) ? 0 : (size_t)v;
    }
    if (f.outcome == 2 || (limit && !f.limit)) {
        tb_http_reply_error(req, 400, "Invalid parameter", "outcome is allowed or denied; limit is 1-1000");
        return;
    }
    tb_err e;
    tb_store *st = thread_reader(c->threads, &e);
    tb_approval *v = NULL;
    size_t n = 0;
    if (st)
        e = store_approval_list(st, &f, &v, &n);
    if (!st || e) {
        tb_http_reply_error(req, 503, "Database unavailable", tb_strerror(e));
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        const tb_approval *a = &v[i];
        json_t *o = json_pack("{s:I, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s, s:i, s:s?, s:s?, s:I, s:b}",
                              "id", (json_int_t)a->id, "at_ms", (json_int_t)a->at_ms, "appliance", a->appliance,
                              "source_ip", a->source_ip, "ticket_id", a->ticket_id, "username", a->username,
                              "jump_item", a->jump_item, "hostname", a->hostname,
                              "outcome", a->http_status != 200 ? "refused" : a->allowed ? "allow" : "deny",
                              "http_status", a->http_status, "reason", a->reason, "task_number", a->task_number,
                              "latency_us", (json_int_t)a->latency_us, "work_note", a->noted);
        /* A value that is not UTF-8 leaves that record out rather than the answer. */
        if (o)
            json_array_append_new(arr, o);
    }
    tb_approvals_free(v, n);
    reply_json_value(req, 200, json_pack("{s:o}", "result", arr));
}

/* ---- GET /api/tb/v1/sessions/{lsid} ---- */

static void handle_session(tb_http_req *req)
{
    if (!authorize(req, "x_bmgr_bomgar_pam.data_viewer"))
        return;
    api_pra *c = ctx_of(req);
    const char *path = tb_http_path(req);
    const char *lsid = path + strlen(API_SESSIONS_PREFIX);
    if (!bt_valid_lsid(lsid)) {
        tb_http_reply_error(req, 400, "Invalid session id", "an lsid is 1-64 letters, digits, '-' or '_'");
        return;
    }
    tb_err e;
    tb_store *st = thread_reader(c->threads, &e);
    void *doc = NULL;
    if (st)
        e = store_session_json(st, lsid, &doc);
    if (e == TB_ERR_NOT_FOUND)
        tb_http_reply_error(req, 404, "No such session", lsid);
    else if (!st || e)
        tb_http_reply_error(req, 503, "Database unavailable", tb_strerror(e));
    else
        reply_json_value(req, 200, json_pack("{s:o}", "result", (json_t *)doc));
}

/* ---- GET /api/tb/v1/appliances ---- */

static void handle_appliances(tb_http_req *req)
{
    if (!authorize(req, "x_bmgr_bomgar_pam.app_admin"))
        return;
    api_pra *c = ctx_of(req);
    tb_err e;
    tb_store *st = thread_reader(c->threads, &e);
    tb_appliance *v = NULL;
    size_t n = 0;
    if (st)
        e = store_appliance_list(st, &v, &n);
    if (!st || e) {
        tb_http_reply_error(req, 503, "Database unavailable", tb_strerror(e));
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        const tb_appliance *a = &v[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:s, s:s, s:I, s:b, s:s, s:I}",
                              "name", a->name, "product", a->product, "hostname", a->hostname, "appliance_id",
                              a->appliance_guid, "client_id", a->client_id, "client_secret_set",
                              a->client_secret_sealed[0] != 0, "outbound_event_token_set",
                              a->outbound_token_sealed[0] != 0, "integration_enabled", a->integration_enabled,
                              "import_external_sessions", a->import_external_sessions, "auto_associate_ci",
                              a->auto_associate_ci, "accepted_ips", a->accepted_ips, "events_to_import",
                              a->events_to_import, "poll_interval", (json_int_t)a->poll_interval,
                              "override_change_management", a->override_change_management, "approval_record_type",
                              a->approval_record_type, "approval_timeout_ms", (json_int_t)a->approval_timeout_ms);
        if (o)
            json_array_append_new(arr, o);
    }
    tb_appliances_free(v, n);
    reply_json_value(req, 200, json_pack("{s:o}", "result", arr));
}

/* ---- setup ---- */

tb_err api_pra_new(ticket_store *tickets, appliance_cache *appliances, api_pra **out)
{
    api_pra *c = calloc(1, sizeof *c);
    if (!c)
        return TB_ERR_NOMEM;
    c->appliances = appliances;
    tb_err e = thread_handles_new(ticket_store_config(tickets), &c->threads);
    if (e) {
        free(c);
        return e;
    }
    *out = c;
    return TB_OK;
}

void api_pra_free(api_pra *c)
{
    if (!c)
        return;
    thread_handles_free(c->threads);
    free(c);
}

size_t api_pra_routes(api_pra *c, tb_route *out)
{
    size_t n = 0;
    out[n++] = (tb_route){"/api/tb/v1/jump", TB_M_POST, 16 * 1024, handle_jump, "api_jump", false, false, c};
    out[n++] = (tb_route){"/api/tb/v1/approvals", TB_M_GET, 0, handle_approvals, "api_approvals", false, false, c};
    out[n++] = (tb_route){API_SESSIONS_PREFIX "*", TB_M_GET, 0, handle_session, "api_session", false, false, c};
    out[n++] = (tb_route){"/api/tb/v1/appliances", TB_M_GET, 0, handle_appliances, "api_appliances", false, false, c};
    return n;
}
