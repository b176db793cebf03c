#include "flow/epm_webhook.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bt/epm_wire.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/roles.h"
#include "core/secret.h"
#include "flow/auth.h"
#include "flow/epm_int.h"
#include "flow/gateway.h"
#include "flow/intake_write.h"
#include "store/store_jit.h"

static void reject(epm *m, tb_http_req *req, int status, const char *message, const char *detail, const char *event,
                   const char *request_id)
{
    tb_http_reply_error(req, status, message, detail);
    intake_record_rejection(m->writer, req, 0, status, message, detail, event, request_id, NULL);
}

/* Authenticates the webhook; on failure it has answered and recorded. */
static bool authenticate(epm *m, tb_http_req *req)
{
    const char *authz = tb_http_header(req, "Authorization");
    epm_settings *s = epm_settings_acquire(m->settings);
    bool custom = s && s->webhook_auth && authz && tb_secret_equal(authz, s->webhook_auth);
    epm_settings_release(m->settings, s);
    if (custom)
        return true;
    auth_principal who;
    int64_t retry_ms = 0;
    auth_result r = auth_check(gateway_auth(tb_http_app(req)), authz, tb_http_peer_str(req), &who, &retry_ms);
    if (r == AUTH_OK) {
        if (auth_principal_has(&who, ROLE_JIT_API))
            return true;
        char detail[160];
        snprintf(detail, sizeof detail, "user %s", who.username);
        auth_reply_forbidden(req, &who, ROLE_JIT_API);
        intake_record_rejection(m->writer, req, 0, 403, "User lacks role " ROLE_JIT_API, detail, NULL, NULL, NULL);
        return false;
    }
    if (r == AUTH_THROTTLED) {
        char secs[24], detail[64];
        long long sec = retry_ms > 0 ? (retry_ms + 999) / 1000 : 1;
        snprintf(secs, sizeof secs, "%lld", sec);
        snprintf(detail, sizeof detail, "try again in %lld s", sec);
        tb_http_reply_header(req, "Retry-After", secs);
        reject(m, req, 429, "Too many failed logins", detail, NULL, NULL);
    } else if (r == AUTH_ERROR) {
        reject(m, req, 503, "Authentication unavailable", "the user database cannot be read; try again", NULL, NULL);
    } else {
        const char *detail = r == AUTH_MISSING ? "Required to provide Auth information"
                           : r == AUTH_MALFORMED ? "malformed Authorization header"
                                                 : "invalid user name, password or token";
        tb_http_reply_header(req, "WWW-Authenticate", "Basic realm=\"ticketbridge\"");
        reject(m, req, 401, "User Not Authenticated", detail, NULL, NULL);
    }
    return false;
}

static bool json_content(tb_http_req *req)
{
    const char *ct = tb_http_header(req, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16))
        return false;
    return ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ';
}

/* (EventType, RequestId) identifies an event. Unlike the appliance's
 * events, nothing in it grows with time (a retry may carry a new Timestamp,
 * and RequestId is a random GUID), so these keys land anywhere in the
 * index. */
static void dedup_key(epm_event ev, const char *request_id, unsigned char out[32])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    static const unsigned char tag[] = "epm-webhook";
    crypto_generichash_update(&h, tag, sizeof tag);
    const char *name = epm_event_name(ev);
    crypto_generichash_update(&h, (const unsigned char *)name, strlen(name) + 1);
    /* GUIDs arrive in either case */
    for (const char *p = request_id; *p; p++) {
        unsigned char c = (unsigned char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        crypto_generichash_update(&h, &c, 1);
    }
    crypto_generichash_final(&h, out, 32);
}

void epm_webhook_handle(tb_http_req *req)
{
    epm *m = tb_http_route_ctx(req);
    char detail[256];
    if (tb_http_refusal(req) == 413) {
        snprintf(detail, sizeof detail, "the limit is %zu bytes", tb_http_body_max(req));
        reject(m, req, 413, "Request body too large", detail, NULL, NULL);
        return;
    }
    if (tb_http_refusal(req) == 405) {
        snprintf(detail, sizeof detail, "%.16s is not allowed; webhooks are POSTed", tb_http_req_method(req));
        reject(m, req, 405, "Method not allowed", detail, NULL, NULL);
        return;
    }
    if (!authenticate(m, req))
        return;
    if (!json_content(req)) {
        const char *ct = tb_http_header(req, "Content-Type");
        snprintf(detail, sizeof detail, "Content-Type is '%.100s'; set the webhook's Content Type to application/json",
                 ct ? ct : "");
        reject(m, req, 415, "Unsupported Media Type", detail, NULL, NULL);
        return;
    }
    size_t blen;
    const char *body = tb_http_body(req, &blen);
    epm_payload p;
    char perr[200];
    tb_err e = epm_payload_parse(body, blen, &p, perr, sizeof perr);
    if (e) {
        reject(m, req, e == TB_ERR_NOMEM ? 503 : 400, e == TB_ERR_NOMEM ? "Out of memory" : "Malformed body", perr,
               NULL, NULL);
        return;
    }
    const char *type = epm_payload_get(&p, "EventType");
    const char *rid = epm_payload_get(&p, "RequestId");
    epm_event ev = epm_event_parse(type);
    if (!type || !*type) {
        reject(m, req, 400, "Missing field", "EventType", NULL, rid);
    } else if (ev == EPM_EV_UNKNOWN) {
        snprintf(detail, sizeof detail,
                 "EventType '%.64s' is not one of URM_Native_Ticket_Created, URM_NATIVE_DECISION_UPDATE, "
                 "JIT_ADMIN_TICKET_CREATED, JIT_ADMIN_TICKET_UPDATED", type);
        reject(m, req, 400, "Unknown EventType", detail, type, rid);
    } else if (!rid || !*rid) {
        reject(m, req, 400, "Missing field", "RequestId", type, NULL);
    } else if (!epm_valid_request_id(rid)) {
        reject(m, req, 400, "Invalid field",
               "RequestId must be 1-64 characters of letters, digits, '-', '_', '{' or '}'", type, rid);
    } else {
        intake_write *iw = intake_write_new(req, m->jobs);
        if (iw) {
            iw->event = strdup(epm_event_name(ev));
            iw->lsid = strdup(rid);
            iw->body = malloc(blen + 1);
        }
        if (!iw || !iw->event || !iw->lsid || !iw->body) {
            intake_write_free(iw);
            tb_http_reply_error(req, 503, "Out of memory", "");
        } else {
            memcpy(iw->body, body, blen);
            iw->body[blen] = '\0';
            tb_intake_rec *r = &iw->w.rec;
            r->body = iw->body;
            r->body_len = blen;
            r->event = iw->event;
            r->lsid = iw->lsid;
            r->http_status = 200;
            r->status = INCOMING_ACCEPTED;
            r->job_kind = epm_event_is_created(ev) ? JIT_TICKET_JOB : JIT_UPDATE_JOB;
            dedup_key(ev, rid, iw->key);
            r->dedup_key = iw->key;
            r->received_ms = tb_now_ms();
            intake_write_submit(m->writer, req, iw);
        }
    }
    epm_payload_free(&p);
}
