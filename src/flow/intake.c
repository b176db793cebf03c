#include "flow/intake.h"
#include "flow/appliance_auth.h"
#include "flow/intake_write.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bt/outbound_event.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/store.h"

#define JOB_SESSION_IMPORT "session_import"
#define JOB_CASE_EVENT "case_event"

const tb_route intake_routes[] = {
    {"/api/x_bmgr_bomgar_pam/outbound_event/session_end", TB_M_POST, INTAKE_BODY_MAX, intake_handle,
     "pra_session_end", true, true, NULL},
    {"/api/x_bmgr_crm/outbound_event/session_end", TB_M_POST, INTAKE_BODY_MAX, intake_handle,
     "crm_session_end", true, true, NULL},
    {"/api/x_bmgr_crm/outbound_event/case", TB_M_POST, INTAKE_BODY_MAX, intake_handle, "crm_case", true, true, NULL},
    {"/x_bmgr_bomgar_pam_bomgar_post.do", TB_M_POST, INTAKE_BODY_MAX, intake_handle, "legacy_pam_post", true, true, NULL},
    {"/x_bmgr_support_ent_bomgar_post.do", TB_M_POST, INTAKE_BODY_MAX, intake_handle, "legacy_support_post", true, true, NULL},
    {0},
};

static bool is_json(tb_http_req *req)
{
    const char *ct = tb_http_header(req, "Content-Type");
    return ct && !strncasecmp(ct, "application/json", 16);
}

/* The copy of the body that is stored: the token never is. */
static char *storable_body(tb_http_req *req, const char *body, size_t len, size_t *outlen)
{
    return is_json(req) ? bt_json_redact_token(body, len, outlen) : bt_form_redact_token(body, len, outlen);
}

/* Answers a refusal and records it (without waiting for its commit). */
static void reject(tb_http_req *req, int64_t appliance_id, int status, const char *message, const char *detail)
{
    tb_http_reply_error(req, status, message, detail);
    intake_ctx *ctx = tb_http_app(req);
    intake_record_rejection(ctx->writer, req, appliance_id, status, message, detail, NULL, NULL, storable_body);
}

/* 8 bytes of big-endian event time (so the index grows at its end, see
 * store.h), then 24 bytes of hash over what identifies the event. */
static void dedup_key(const appliance_entry *a, const char *route, const bt_form *f, const char *body,
                      size_t blen, unsigned char out[32])
{
    const char *tsv = bt_form_get(f, "timestamp");
    uint64_t t = 0;
    if (tsv) {
        char *end;
        unsigned long long v = strtoull(tsv, &end, 10);
        if (end != tsv && !*end)
            t = v;
    }
    for (int i = 7; i >= 0; i--, t >>= 8)
        out[i] = (unsigned char)(t & 0xff);
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 24);
    char id[32];
    snprintf(id, sizeof id, "%lld|", (long long)a->id);
    crypto_generichash_update(&h, (const unsigned char *)id, strlen(id));
    crypto_generichash_update(&h, (const unsigned char *)route, strlen(route) + 1);
    const char *ts = bt_form_get(f, "timestamp");
    if (ts && *ts) {
        /* A retried delivery repeats the same event: same name, session and
         * event time. */
        static const char *const parts[] = {"event", "lsid", "timestamp", "appliance_id", "member_id",
                                            "user_id", "username", "type"};
        for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
            const char *v = bt_form_get(f, parts[i]);
            crypto_generichash_update(&h, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
            if (v)
                crypto_generichash_update(&h, (const unsigned char *)v, strlen(v) + 1);
        }
    } else {
        crypto_generichash_update(&h, (const unsigned char *)body, blen);
    }
    crypto_generichash_final(&h, out + 8, 24);
}

void intake_handle(tb_http_req *req)
{
    intake_ctx *ctx = tb_http_app(req);
    char detail[256];

    if (tb_http_refusal(req) == 413) {
        snprintf(detail, sizeof detail, "the limit is %zu bytes", tb_http_body_max(req));
        reject(req, 0, 413, "Request body too large", detail);
        return;
    }
    if (tb_http_refusal(req) == 405) {
        snprintf(detail, sizeof detail, "%.16s is not allowed; outbound events are POSTed", tb_http_req_method(req));
        reject(req, 0, 405, "Method not allowed", detail);
        return;
    }

    size_t blen;
    const char *body = tb_http_body(req, &blen);
    bt_form form;
    char perr[200];
    tb_err e;
    if (is_json(req))
        e = bt_form_parse_json(body, blen, &form, perr, sizeof perr);
    else
        e = bt_form_parse(body, blen, &form, perr, sizeof perr);
    if (e) {
        reject(req, 0, e == TB_ERR_NOMEM ? 503 : 400,
               e == TB_ERR_NOMEM ? "Out of memory" : "Malformed body", e == TB_ERR_NOMEM ? "" : perr);
        return;
    }

    appliance_snapshot *snap = appliance_cache_acquire(ctx->appliances);
    appliance_refusal why;
    const appliance_entry *a = appliance_authorize(snap, req, bt_form_get(&form, "appliance_id"),
                                                   bt_form_get(&form, BT_OUTBOUND_TOKEN_PARAM), &why);
    if (!a) {
        reject(req, why.appliance_id, why.status, why.message, why.detail);
        goto out;
    }
    const char *event = bt_form_get(&form, "event");
    const char *lsid = bt_form_get(&form, "lsid");
    if (!event || !*event) {
        reject(req, a->id, 400, "Missing field", "event");
        goto out;
    }
    if (!bt_valid_event_name(event)) {
        reject(req, a->id, 400, "Invalid field", "event must be 1-64 characters of letters, digits, '_' or '.'");
        goto out;
    }
    if (!lsid || !*lsid) {
        reject(req, a->id, 400, "Missing field", "lsid");
        goto out;
    }
    if (!bt_valid_lsid(lsid)) {
        reject(req, a->id, 400, "Invalid field", "lsid must be 1-64 characters of letters, digits, '-' or '_'");
        goto out;
    }

    if (ctx->bench_no_store) {
        tb_http_reply_json(req, 200, "{\"result\":{\"status\":\"not stored (benchmark baseline)\"}}");
        goto out;
    }
    intake_write *iw = intake_write_new(req, ctx->jobs);
    if (!iw) {
        tb_http_reply_error(req, 503, "Out of memory", "");
        goto out;
    }
    tb_intake_rec *r = &iw->w.rec;
    const char *route = tb_http_route_name(req);
    bool case_route = !strcmp(route, "crm_case");
    iw->event = strdup(event);
    iw->lsid = strdup(lsid);
    if (bt_form_get(&form, BT_OUTBOUND_TOKEN_PARAM)) {
        iw->body = storable_body(req, body, blen, &r->body_len);
    } else {
        iw->body = malloc(blen + 1);
        if (iw->body) {
            memcpy(iw->body, body, blen);
            iw->body[blen] = '\0';
        }
        r->body_len = blen;
    }
    if (!iw->event || !iw->lsid || !iw->body) {
        intake_write_free(iw);
        tb_http_reply_error(req, 503, "Out of memory", "");
        goto out;
    }
    r->body = iw->body;
    r->event = iw->event;
    r->lsid = iw->lsid;
    r->appliance_id = a->id;
    r->http_status = 200;
    r->received_ms = tb_now_ms();
    const char *auto_create = case_route ? tb_http_query(req, "auto_create") : NULL;
    if (case_route && auto_create && strcmp(auto_create, "true") && strcmp(auto_create, "1")) {
        /* The recipient's URL opts out of case creation (seed 003 gives
         * it ?auto_create=true); the event is kept, nothing is queued. */
        r->status = INCOMING_IGNORED;
        r->job_kind = NULL;
        snprintf(detail, sizeof detail, "auto_create=%.32s on the recipient URL: no case is created", auto_create);
        iw->reason = strdup(detail);
        r->reason = iw->reason;
    } else if (case_route) {
        r->status = INCOMING_ACCEPTED;
        r->job_kind = JOB_CASE_EVENT;
    } else if (bt_event_ends_session(event)) {
        r->status = INCOMING_ACCEPTED;
        r->job_kind = JOB_SESSION_IMPORT;
    } else {
        r->status = INCOMING_IGNORED;
        r->job_kind = NULL;
        snprintf(detail, sizeof detail, "event '%.64s' does not start an import", event);
        iw->reason = strdup(detail);
        r->reason = iw->reason;
    }
    dedup_key(a, route, &form, body, blen, iw->key);
    r->dedup_key = iw->key;
    intake_write_submit(ctx->writer, req, iw);
out:
    appliance_cache_release(ctx->appliances, snap);
    bt_form_free(&form);
}
