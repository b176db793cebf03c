/* The JIT decision endpoints (protocol A3 application access, A4 admin access)
 * and the request read. Bodies are validated as EPM would plausibly do it
 * (ASP.NET Core model validation [I]); every decision that reaches a handler
 * is recorded with its raw body, parsed fields and the answer given. */
#include "epmsim.h"
#include "core/log.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { OPT, REQ, REQ_IF_APPROVED };
enum { CHK_NONE, CHK_GUID, CHK_DECISION, CHK_STATUS, CHK_TIME, CHK_DURATION };

typedef struct rule {
    const char *name;
    int need;
    size_t max;
    int check;
} rule;

/* [observed] A3 field names, all JSON strings. Which of them EPM requires is
 * not documented [I]: the ones the ServiceNow app always has are required;
 * duration only for an approval; message because the app makes a reason
 * mandatory for every decision (seed 004, "Decision validation"). */
static const rule app_rules[] = {
    {"itsmRequestId", REQ, 64, CHK_GUID},
    {"systemId", REQ, 256, CHK_NONE},
    {"ticketId", REQ, 256, CHK_NONE},
    {"ticketUrl", OPT, 2048, CHK_NONE},
    {"decision", REQ, 64, CHK_DECISION},
    {"status", REQ, 64, CHK_STATUS},
    {"decisionTime", REQ, 64, CHK_TIME},
    {"duration", REQ_IF_APPROVED, 64, CHK_DURATION},
    {"decisionPerformedByUser", REQ, 256, CHK_NONE},
    {"message", REQ, 4000, CHK_NONE},
    {NULL, 0, 0, 0},
};

/* [I] A4: the page lists descriptions only; names by analogy with A3 and the
 * v3 create call (decision, decisionTime, decisionPerformedByUser verified there). */
static const rule admin_rules[] = {
    {"requestId", REQ, 64, CHK_GUID},
    {"decision", REQ, 64, CHK_DECISION},
    {"duration", REQ_IF_APPROVED, 64, CHK_DURATION},
    {"decisionPerformedByUser", REQ, 256, CHK_NONE},
    {"message", REQ, 4000, CHK_NONE},
    {"systemId", OPT, 256, CHK_NONE},
    {"ticketId", OPT, 256, CHK_NONE},
    {"ticketUrl", OPT, 2048, CHK_NONE},
    {"decisionTime", OPT, 64, CHK_TIME},
    {NULL, 0, 0, 0},
};

static void add_error(json_t *errors, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_error(json_t *errors, const char *field, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *list = json_object_get(errors, field);
    if (!list) {
        list = json_array();
        json_object_set_new(errors, field, list);
    }
    json_array_append_new(list, json_string(msg));
}

static const char *str_of(json_t *obj, const char *k)
{
    return json_string_value(json_object_get(obj, k));
}

/* Fills errors; returns the number of fields with errors. */
static size_t validate(json_t *obj, const rule *rules, json_t *errors)
{
    const char *decision = str_of(obj, "decision");
    bool approved = decision && strcmp(decision, "Approved") == 0;
    for (const rule *ru = rules; ru->name; ru++) {
        json_t *v = json_object_get(obj, ru->name);
        if (v && json_is_null(v))
            v = NULL;
        if (v && !json_is_string(v)) {
            add_error(errors, ru->name,
                      "The JSON value could not be converted to System.String. Path: $.%s",
                      ru->name);
            continue;
        }
        const char *s = v ? json_string_value(v) : NULL;
        bool needed = ru->need == REQ || (ru->need == REQ_IF_APPROVED && approved);
        if (!s || !*s) {
            if (needed)
                add_error(errors, ru->name, "The %s field is required.", ru->name);
            continue;
        }
        if (json_string_length(v) != strlen(s)) {
            add_error(errors, ru->name, "The field %s must not contain NUL characters.",
                      ru->name);
            continue;
        }
        if (strlen(s) > ru->max) {
            add_error(errors, ru->name, "The field %s must be a string with a maximum length of %zu.",
                      ru->name, ru->max);
            continue;
        }
        switch (ru->check) {
        case CHK_GUID:
            if (!ep_is_guid(s))
                add_error(errors, ru->name, "The value '%.60s' is not a valid GUID.", s);
            break;
        case CHK_DECISION:
            if (strcmp(s, "Approved") != 0 && strcmp(s, "Denied") != 0)
                add_error(errors, ru->name,
                          "The value '%.60s' is not valid: decision must be Approved or Denied.",
                          s);
            break;
        case CHK_STATUS:
            if (strcmp(s, "2000") != 0 && strcmp(s, "2001") != 0)
                add_error(errors, ru->name,
                          "The value '%.60s' is not valid: status must be 2000 (Approved) or "
                          "2001 (Denied).", s);
            else if (decision && ((strcmp(decision, "Approved") == 0 && strcmp(s, "2000") != 0) ||
                                  (strcmp(decision, "Denied") == 0 && strcmp(s, "2001") != 0)))
                add_error(errors, ru->name, "status %s does not match the decision.", s);
            break;
        case CHK_TIME:
            if (!ep_is_decision_time(s))
                add_error(errors, ru->name,
                          "The value '%.60s' is not valid: use YYYY-MM-DD HH:MM:SS (UTC, no T, "
                          "zone or fraction).", s);
            break;
        case CHK_DURATION:
            if (!ep_is_duration(s))
                add_error(errors, ru->name,
                          "The value '%.60s' is not valid: duration must be Once or a number of "
                          "seconds.", s);
            break;
        }
    }
    return json_object_size(errors);
}

static bool json_content_type(const ep_req *r)
{
    const char *ct = req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct)
        return false;
    size_t n = strcspn(ct, "; ");
    /* [I] the A4 page lists application/json, text/json and text/plain for
     * answers; ASP.NET accepts these JSON types for input */
    return (n == 16 && strncasecmp(ct, "application/json", n) == 0) ||
           (n == 9 && strncasecmp(ct, "text/json", n) == 0) ||
           (n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
            strncasecmp(ct + n - 5, "+json", 5) == 0);
}

static void record(json_t *rec, const ep_reply *out, bool accepted, json_t *errors)
{
    json_object_set_new(rec, "status", json_integer(out->status));
    json_object_set_new(rec, "accepted", json_boolean(accepted));
    json_object_set(rec, "errors", errors ? errors : json_null());
    pthread_mutex_lock(&E.mu);
    E.st.decisions_received++;
    if (accepted)
        E.st.decisions_accepted++;
    else
        E.st.decisions_rejected++;
    json_object_set_new(rec, "seq", json_integer((json_int_t)++E.decision_seq));
    if (json_array_size(E.decisions) >= EP_MAX_LOG) {
        json_array_remove(E.decisions, 0);
        E.decisions_dropped++;
    }
    json_array_append_new(E.decisions, rec);
    pthread_mutex_unlock(&E.mu);
}

void handle_decision(ep_req *r, ep_kind kind, ep_reply *out)
{
    char now[40];
    ep_iso_ms(ep_now(), now, sizeof now);
    const char *corr = req_header(r, "x-correlation-id");
    const char *ct = req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    json_t *rec = json_pack("{s:s,s:s,s:s,s:s}", "kind", kind_name(kind), "method", r->method,
                            "path", r->url, "received_at", now);
    json_object_set_new(rec, "correlation_id", corr ? ep_json_text(corr, strlen(corr)) : json_null());
    json_object_set_new(rec, "content_type", ct ? ep_json_text(ct, strlen(ct)) : json_null());
    json_object_set_new(rec, "body", ep_json_text(r->body.data ? r->body.data : "", r->body.len));
    json_object_set_new(rec, "fields", json_null());
    json_object_set_new(rec, "request_id", json_null());

    if (!bearer_ok(r, out)) {
        json_t *errors = json_pack("{s:[s]}", "$", "missing, unknown or expired bearer token");
        record(rec, out, false, errors);
        json_decref(errors);
        return;
    }
    if (!json_content_type(r)) {
        reply_problem(out, 415, "Unsupported Media Type", NULL, NULL);
        json_t *errors = json_pack("{s:[s]}", "$", "Content-Type must be application/json");
        record(rec, out, false, errors);
        json_decref(errors);
        return;
    }
    json_error_t jerr;
    json_t *obj = r->body.len ? json_loadb(r->body.data, r->body.len, JSON_ALLOW_NUL, &jerr) : NULL;
    json_t *errors = json_object();
    if (!obj) {
        char m[300];
        if (r->body.len)
            snprintf(m, sizeof m, "malformed JSON: %s. LineNumber: %d | BytePositionInLine: %d.",
                     jerr.text, jerr.line, jerr.column);
        else
            snprintf(m, sizeof m, "A non-empty request body is required.");
        json_object_set_new(errors, "$", json_pack("[s]", m));
    } else if (!json_is_object(obj)) {
        json_object_set_new(errors, "$", json_pack("[s]", "The JSON value must be an object."));
    } else {
        json_object_set(rec, "fields", obj);
        validate(obj, kind == EP_KIND_APP ? app_rules : admin_rules, errors);
    }
    if (json_object_size(errors)) {
        json_t *copy = json_deep_copy(errors);
        reply_problem(out, 400, "One or more validation errors occurred.", NULL, copy);
        record(rec, out, false, errors);
        json_decref(errors);
        json_decref(obj);
        return;
    }
    const char *rid = str_of(obj, kind == EP_KIND_APP ? "itsmRequestId" : "requestId");
    char id[37];
    ep_lower_guid(rid, id);
    json_object_set_new(rec, "request_id", json_string(id));
    bool accepted = false;
    char detail[200];
    pthread_mutex_lock(&E.mu);
    ep_request *q = registry_find(id);
    if (!q && E.cfg.wire.accept_unknown_requests) {
        json_t *v = json_pack("{s:s,s:s,s:s}", "RequestId", id, "TicketNumber", "",
                              "TenantId", E.cfg.tenant_id);
        q = registry_add(kind, v, false);
        json_decref(v);
    }
    int final_status = E.cfg.wire.final_decision_status;
    if (!q || q->kind != kind) {
        pthread_mutex_unlock(&E.mu);
        snprintf(detail, sizeof detail, "No JIT %s access request with id %s.",
                 kind == EP_KIND_APP ? "application" : "admin", id);
        reply_problem(out, 404, "Not Found", detail, NULL);  /* [I] */
    } else if (q->state != EP_PENDING) {
        pthread_mutex_unlock(&E.mu);
        snprintf(detail, sizeof detail,
                 "A decision for request %s has already been accepted. It is final and cannot "
                 "be changed.", id);
        const char *phrase = MHD_get_reason_phrase_for((unsigned)final_status);
        reply_problem(out, final_status, phrase && *phrase ? phrase : "Conflict", detail, NULL);
    } else {
        q->state = strcmp(str_of(obj, "decision"), "Approved") == 0 ? EP_APPROVED : EP_DENIED;
        q->decision = json_deep_copy(obj);
        ep_set_str(&q->decided_at, now);
        bool auto_update = E.cfg.auto_update;
        if (auto_update)
            webhook_queue_update(q);
        pthread_mutex_unlock(&E.mu);
        reply_empty(out, 200);  /* [observed] A3: 200, the body may be empty */
        accepted = true;
        char qid[40];
        snprintf(qid, sizeof qid, "%s", id);
        TB_LOGI("decision accepted", "kind=%s request_id=%s decision=%s", kind_name(kind), qid,
                str_of(obj, "decision"));
    }
    record(rec, out, accepted, NULL);
    json_decref(errors);
    json_decref(obj);
}

void handle_read(ep_req *r, ep_kind kind, const char *id, ep_reply *out)
{
    if (!bearer_ok(r, out))
        return;
    pthread_mutex_lock(&E.mu);
    E.st.reads++;
    ep_request *q = ep_is_guid(id) ? registry_find(id) : NULL;
    if (!q || q->kind != kind) {
        pthread_mutex_unlock(&E.mu);
        reply_problem(out, 404, "Not Found", "No such request.", NULL);
        return;
    }
    json_t *d = q->decision;
    const char *tid = d ? str_of(d, "ticketId") : NULL;
    const char *sid = d ? str_of(d, "systemId") : NULL;
    const char *url = d ? str_of(d, "ticketUrl") : NULL;
    /* [observed] A3: serviceTicket.{ticketId,systemId,url}, requestInfo.{user,created},
     * accessDecision.status; everything else here is [I] */
    json_t *j = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:s,s:s,s:s},s:{s:s}}", "id", q->id,
                          "ticketNumber", q->ticket_number, "serviceTicket", "ticketId",
                          tid ? tid : "", "systemId", sid ? sid : "", "url", url ? url : "",
                          "requestInfo", "user", q->user, "created", q->created, "reason",
                          q->reason, "accessDecision", "status", state_name(q->state));
    json_t *ri = json_object_get(j, "requestInfo");
    if (kind == EP_KIND_APP) {
        json_object_set_new(ri, "hostName", json_string(q->host));
    } else {
        json_object_set_new(ri, "computerId", json_string(q->host));
        json_object_set_new(ri, "durationRequested",
                            json_string(q->duration_requested ? q->duration_requested : ""));
    }
    if (d) {
        json_t *ad = json_object_get(j, "accessDecision");
        static const char *const keep[] = {"decision", "decisionTime", "decisionPerformedByUser",
                                           "duration", "message"};
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
            json_t *v = json_object_get(d, keep[i]);
            if (v)
                json_object_set(ad, keep[i], v);
        }
    }
    pthread_mutex_unlock(&E.mu);
    reply_json(out, 200, j);
}

json_t *decisions_json(void)
{
    pthread_mutex_lock(&E.mu);
    json_t *j = json_pack("{s:O,s:I}", "decisions", E.decisions, "dropped",
                          (json_int_t)E.decisions_dropped);
    json_t *copy = json_deep_copy(j);
    json_decref(j);
    pthread_mutex_unlock(&E.mu);
    return copy;
}

void decisions_clear(void)
{
    pthread_mutex_lock(&E.mu);
    json_array_clear(E.decisions);
    E.decisions_dropped = 0;
    pthread_mutex_unlock(&E.mu);
}
