#include "flow/approval_http.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bt/outbound_event.h"
#include "bt/ticket_system.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "flow/appliance_auth.h"
#include "flow/approval.h"
#include "flow/thread_handles.h"
#include "itsm/itsm.h"
#include "itsm/itsm_servicenow.h"
#include "store/store_approval.h"

/* Bytes of an unreadable body kept in its record for the administrator. */
#define RAW_KEEP 4096

struct approval_http {
    approval_http_opts opt;
    thread_handles *threads;        /* ticket-store handle per HTTP thread */
    itsm *writer_tickets;           /* writer thread only */
};

/* One decision on its way through the writer. */
struct pending {
    tb_write_req w;
    approval_http *h;
    tb_http_req *http;              /* NULL for refusals (already answered) */
    tb_approval_rec rec;
    approval_decision d;
    char *strs[8];                  /* owned copies the record borrows */
    char *note;
    size_t nattrs;
    ts_attr attrs[2];
};

static void pending_free(struct pending *p)
{
    for (size_t i = 0; i < sizeof p->strs / sizeof *p->strs; i++)
        free(p->strs[i]);
    free(p->note);
    free(p);
}

static const char *own(struct pending *p, int slot, const char *s)
{
    p->strs[slot] = s ? strdup(s) : NULL;
    return p->strs[slot];
}

static void reply_decision(tb_http_req *req, bool allowed, const char *reason, const ts_attr *attrs, size_t n,
                           long long id)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    if (ts_response_json(allowed, reason, attrs, n, id, &b))
        tb_http_reply_json(req, 200, "{\"is_valid\":false,\"error_message\":\"ticket system unavailable\"}");
    else
        tb_http_reply_json(req, 200, b.data);
    tb_buf_free(&b);
}

/* ---- writer side ---- */

static tb_err write_decision(tb_store *st, void *arg)
{
    struct pending *p = arg;
    int64_t id = 0;
    /* The note and the record commit together or not at all, so the record
     * can say "noted" up front. */
    p->rec.noted = p->note && p->d.task_sys_id[0];
    tb_err e = store_approval_insert(st, &p->rec, &id);
    if (e || !p->rec.noted)
        goto out;
    if (!p->h->writer_tickets && (e = ticket_store_wrap(p->h->opt.tickets, st, &p->h->writer_tickets)))
        goto out;
    e = itsm_add_journal(p->h->writer_tickets, p->d.task_table, p->d.task_sys_id, "work_notes", p->note,
                         "ticketbridge");
out:
    p->w.res.incoming_id = id;      /* the decision's id, for the answer */
    return e;
}

static void on_committed(tb_write_req *w)
{
    struct pending *p = w->arg;
    if (p->http) {
        if (w->rc) {
            TB_LOGE("approval not recorded; denying", "ticket=\"%s\" err=\"%s\"", p->rec.ticket_id ? p->rec.ticket_id : "",
                    tb_strerror(w->rc));
            reply_decision(p->http, false, "ticket system unavailable: the decision could not be recorded", NULL, 0,
                           0);
        } else {
            reply_decision(p->http, p->d.allowed, p->d.reason, p->attrs, p->nattrs, (long long)w->res.incoming_id);
        }
        tb_http_resume(p->http);
    } else if (w->rc) {
        TB_LOGE("refused approval request not recorded", "err=\"%s\"", tb_strerror(w->rc));
    }
    pending_free(p);
}

static struct pending *pending_new(approval_http *h, tb_http_req *req)
{
    struct pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->h = h;
    p->w.kind = WRITE_FN;
    p->w.fn = write_decision;
    p->w.fn_arg = p;
    p->w.done = on_committed;
    p->w.arg = p;
    p->rec.at_ms = tb_now_ms();
    p->rec.source_ip = own(p, 0, tb_http_peer_str(req));
    return p;
}

/* ---- refusals ---- */

static bool is_json(tb_http_req *req, const char *body, size_t len)
{
    const char *ct = tb_http_header(req, "Content-Type");
    if (ct)
        return !strncasecmp(ct, "application/json", 16);
    while (len && (*body == ' ' || *body == '\n' || *body == '\r' || *body == '\t'))
        body++, len--;
    return len && *body == '{';
}

/* The body as the record keeps it: capped, token redacted. */
static char *raw_copy(tb_http_req *req)
{
    size_t len;
    const char *body = tb_http_body(req, &len);
    if (!body || !len)
        return NULL;
    size_t keep = len < RAW_KEEP ? len : RAW_KEEP, outlen;
    return is_json(req, body, len) ? bt_json_redact_token(body, keep, &outlen)
                                   : bt_form_redact_token(body, keep, &outlen);
}

static void refuse(approval_http *h, tb_http_req *req, int64_t appliance_id, const ts_request *r, int status,
                   const char *message, const char *detail, bool keep_raw)
{
    tb_http_reply_error(req, status, message, detail);
    char reason[512];
    snprintf(reason, sizeof reason, "%s%s%s", message, detail && *detail ? ": " : "", detail ? detail : "");
    TB_LOGW("approval request refused", "peer=%s status=%d reason=\"%s\"", tb_http_peer_str(req), status, reason);
    struct pending *p = pending_new(h, req);
    if (!p)
        return;
    p->rec.appliance_id = appliance_id;
    p->rec.http_status = status;
    p->rec.reason = own(p, 1, reason);
    p->rec.latency_us = (tb_mono_ns() - tb_http_start_ns(req)) / 1000;
    if (r) {
        p->rec.ticket_id = own(p, 2, r->v[TS_TICKET_ID]);
        p->rec.username = own(p, 3, r->v[TS_USERNAME]);
        p->rec.jump_item = own(p, 4, r->v[TS_JUMP_ITEM_NAME]);
        p->rec.hostname = own(p, 5, r->v[TS_HOSTNAME]);
    }
    if (keep_raw) {
        p->strs[6] = raw_copy(req);
        p->rec.raw = p->strs[6];
        if (p->rec.raw)
            TB_LOGW("unreadable approval request", "peer=%s body=\"%.300s\"", tb_http_peer_str(req), p->rec.raw);
    }
    if (writer_submit(h->opt.writer, &p->w))
        pending_free(p);
}

/* ---- the handler ---- */

static char *work_note(const appliance_entry *a, const ts_request *r, const approval_decision *d)
{
    tb_buf b;
    tb_buf_init(&b, 16 * 1024);
    tb_buf_printf(&b, "BeyondTrust access request %s\n", d->allowed ? "ALLOWED" : "DENIED");
    tb_buf_printf(&b, "Reason: %s\n", d->reason);
    tb_buf_printf(&b, "User: %s", *ts_get(r, TS_USERNAME) ? ts_get(r, TS_USERNAME) : "(not given)");
    if (*ts_get(r, TS_USER_DISPLAY_NAME))
        tb_buf_printf(&b, " (%s)", ts_get(r, TS_USER_DISPLAY_NAME));
    tb_buf_printf(&b, "\nJump item: %s", *ts_get(r, TS_JUMP_ITEM_NAME) ? ts_get(r, TS_JUMP_ITEM_NAME) : "(not given)");
    if (*ts_get(r, TS_HOSTNAME))
        tb_buf_printf(&b, " on %s", ts_get(r, TS_HOSTNAME));
    if (*ts_get(r, TS_JUMP_GROUP_NAME))
        tb_buf_printf(&b, ", Jump group %s", ts_get(r, TS_JUMP_GROUP_NAME));
    tb_buf_printf(&b, "\nAppliance: %s\n", a->name);
    return tb_buf_take(&b);
}

static void handle(tb_http_req *req)
{
    approval_http *h = tb_http_route_ctx(req);
    char detail[256];
    if (tb_http_refusal(req) == 413) {
        snprintf(detail, sizeof detail, "the limit is %zu bytes", tb_http_body_max(req));
        refuse(h, req, 0, NULL, 413, "Request body too large", detail, false);
        return;
    }
    if (tb_http_refusal(req) == 405) {
        snprintf(detail, sizeof detail, "%.16s is not allowed; ticket-system requests are POSTed",
                 tb_http_req_method(req));
        refuse(h, req, 0, NULL, 405, "Method not allowed", detail, false);
        return;
    }

    size_t blen;
    const char *body = tb_http_body(req, &blen);
    bt_form form;
    char perr[200];
    tb_err e = is_json(req, body, blen) ? bt_form_parse_json_nested(body, blen, &form, perr, sizeof perr)
                                        : bt_form_parse(body, blen, &form, perr, sizeof perr);
    if (e) {
        refuse(h, req, 0, NULL, e == TB_ERR_NOMEM ? 503 : 400, e == TB_ERR_NOMEM ? "Out of memory" : "Malformed body",
               e == TB_ERR_NOMEM ? "" : perr, true);
        return;
    }

    appliance_snapshot *snap = appliance_cache_acquire(h->opt.appliances);
    ts_request r;
    e = ts_request_from_form(&form, &snap->ts_map, &r, perr, sizeof perr);
    bt_form_free(&form);
    if (e) {
        refuse(h, req, 0, NULL, e == TB_ERR_NOMEM ? 503 : 400, e == TB_ERR_NOMEM ? "Out of memory" : "Malformed body",
               e == TB_ERR_NOMEM ? "" : perr, true);
        appliance_cache_release(h->opt.appliances, snap);
        return;
    }
    appliance_refusal why;
    const appliance_entry *a =
        appliance_authorize(snap, req, r.v[TS_APPLIANCE_ID], r.v[TS_TOKEN], &why);
    if (!a) {
        refuse(h, req, why.appliance_id, &r, why.status, why.message, why.detail, false);
        goto out;
    }

    struct pending *p = pending_new(h, req);
    if (!p) {
        reply_decision(req, false, "ticket system unavailable: out of memory", NULL, 0, 0);
        goto out;
    }
    int64_t start = tb_http_start_ns(req);
    approval_policy pol = {
        .override = a->override_change_management,
        .record_type = a->approval_record_type,
        .rules = a->rules,
        .nrules = a->nrules,
        .states = snap->states,
        .nstates = snap->nstates,
        .deadline_ns = start + a->approval_timeout_ms * 1000000,
    };
    itsm *t = thread_tickets(h->threads, &e);
    if (t) {
        /* The appliance gives up after its approval timeout: the store gets
         * what is left of it, so a slow store yields a deny, never a hang. */
        int64_t left_ms = (pol.deadline_ns - tb_mono_ns()) / 1000000;
        int left = left_ms < 1 ? 1 : left_ms > INT_MAX ? INT_MAX : (int)left_ms;
        if (ticket_store_is_remote(h->opt.tickets))
            itsm_servicenow_deadline(t, left);
        else
            itsm_embedded_busy_timeout(t, left);
        approval_decide(t, &pol, &r, &p->d);
        if (ticket_store_is_remote(h->opt.tickets))
            itsm_servicenow_deadline(t, 0);
    } else {
        p->d.unavailable = true;
        snprintf(p->d.reason, sizeof p->d.reason, "ticket system unavailable: %s", tb_strerror(e));
    }
    approval_decision *d = &p->d;
    if (d->allowed) {
        p->attrs[p->nattrs++] = (ts_attr){"snow_task_id", d->task_sys_id};
        if (d->ci_sys_id[0])
            p->attrs[p->nattrs++] = (ts_attr){"snow_cmdb_ci_id", d->ci_sys_id};
    }
    p->rec.appliance_id = a->id;
    p->rec.ticket_id = own(p, 2, r.v[TS_TICKET_ID]);
    p->rec.username = own(p, 3, r.v[TS_USERNAME]);
    p->rec.jump_item = own(p, 4, r.v[TS_JUMP_ITEM_NAME]);
    p->rec.hostname = own(p, 5, r.v[TS_HOSTNAME]);
    p->rec.allowed = d->allowed;
    p->rec.http_status = 200;
    p->rec.reason = d->reason;
    p->rec.latency_us = (tb_mono_ns() - start) / 1000;
    p->rec.task_table = d->task_table;
    p->rec.task_sys_id = d->task_sys_id;
    p->rec.task_number = d->task_sys_id[0] ? d->task_number : "";
    if (d->task_sys_id[0])
        p->note = work_note(a, &r, d);
    TB_LOGI("approval", "appliance=%s ticket=\"%.64s\" user=\"%.64s\" computer=\"%.64s\" outcome=%s us=%lld "
            "reason=\"%s\"", a->name, ts_get(&r, TS_TICKET_ID), ts_get(&r, TS_USERNAME), ts_request_computer(&r),
            d->allowed ? "allow" : "deny", (long long)p->rec.latency_us, d->reason);
    if (!tb_http_try_suspend(req)) {
        /* Shutting down: the decision cannot be recorded, so it cannot allow. */
        reply_decision(req, false, "ticket system unavailable: shutting down", NULL, 0, 0);
        pending_free(p);
        goto out;
    }
    p->http = req;
    if (writer_submit(h->opt.writer, &p->w)) {
        p->http = NULL;
        reply_decision(req, false, "ticket system unavailable: shutting down", NULL, 0, 0);
        tb_http_resume(req);
        pending_free(p);
    }
out:
    ts_request_free(&r);
    appliance_cache_release(h->opt.appliances, snap);
}

tb_err approval_http_new(const approval_http_opts *opt, approval_http **out)
{
    approval_http *h = calloc(1, sizeof *h);
    if (!h)
        return TB_ERR_NOMEM;
    h->opt = *opt;
    tb_err e = thread_handles_new(ticket_store_config(opt->tickets), &h->threads);
    if (e) {
        free(h);
        return e;
    }
    *out = h;
    return TB_OK;
}

void approval_http_free(approval_http *h)
{
    if (!h)
        return;
    thread_handles_free(h->threads);
    itsm_close(h->writer_tickets);
    free(h);
}

tb_route approval_http_route(approval_http *h)
{
    return (tb_route){APPROVAL_PATH, TB_M_POST, APPROVAL_BODY_MAX, handle, "endpoint_approval", false, true, h};
}
