#include "flow/intake_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"

void intake_write_free(intake_write *iw)
{
    if (!iw)
        return;
    free(iw->event);
    free(iw->lsid);
    free(iw->reason);
    free(iw->content_type);
    free(iw->body);
    free(iw);
}

static void on_committed(tb_write_req *w)
{
    intake_write *iw = (intake_write *)w;
    if (w->rc)
        TB_LOGE("incoming request not stored", "route=%s event=%s lsid=%s err=\"%s\"", iw->route,
                iw->event ? iw->event : "-", iw->lsid ? iw->lsid : "-", tb_strerror(w->rc));
    if (!w->rc && w->res.job_id)
        workers_notify(iw->jobs);
    if (iw->http) {
        tb_http_req *req = iw->http;
        if (w->rc) {
            tb_http_reply_error(req, 503, "Event not stored, retry later", tb_strerror(w->rc));
        } else {
            char body[256];
            const char *status = w->res.duplicate_of ? "duplicate"
                               : w->res.job_id ? "accepted" : "ignored";
            snprintf(body, sizeof body,
                     "{\"result\":{\"status\":\"%s\",\"incoming_id\":%lld,\"job_id\":%lld%s}}", status,
                     (long long)w->res.incoming_id, (long long)w->res.job_id,
                     w->res.duplicate_of ? ",\"duplicate\":true" : "");
            tb_http_reply_json(req, 200, body);
        }
        tb_http_resume(req);    /* req must not be touched after this */
    }
    intake_write_free(iw);
}

intake_write *intake_write_new(tb_http_req *req, workers *jobs)
{
    intake_write *iw = calloc(1, sizeof *iw);
    if (!iw)
        return NULL;
    snprintf(iw->route, sizeof iw->route, "%s", tb_http_route_name(req));
    snprintf(iw->method, sizeof iw->method, "%s", tb_http_req_method(req));
    snprintf(iw->source_ip, sizeof iw->source_ip, "%s", tb_http_peer_str(req));
    const char *ct = tb_http_header(req, "Content-Type");
    iw->content_type = ct ? strndup(ct, 200) : NULL;
    iw->w.kind = WRITE_INTAKE;
    iw->w.done = on_committed;
    iw->jobs = jobs;
    tb_intake_rec *r = &iw->w.rec;
    r->route = iw->route;
    r->method = iw->method;
    r->source_ip = iw->source_ip;
    r->content_type = iw->content_type;
    return iw;
}

void intake_record_rejection(tb_writer *w, tb_http_req *req, int64_t appliance_id, int status, const char *message,
                             const char *detail, const char *event, const char *lsid, intake_redact_fn redact)
{
    intake_write *iw = intake_write_new(req, NULL);
    if (!iw)
        return;
    tb_intake_rec *r = &iw->w.rec;
    size_t blen;
    const char *body = tb_http_body(req, &blen);
    if (blen) {
        size_t keep = blen < INTAKE_REJECTED_BODY_KEEP ? blen : INTAKE_REJECTED_BODY_KEEP;
        size_t rlen = keep;
        if (redact) {
            iw->body = redact(req, body, keep, &rlen);
        } else if ((iw->body = malloc(keep + 1))) {
            memcpy(iw->body, body, keep);
            iw->body[keep] = '\0';
        }
        r->body = iw->body;
        r->body_len = iw->body ? rlen : 0;
        r->body_truncated = keep < blen || tb_http_body_too_large(req);
    } else if (tb_http_body_too_large(req)) {
        r->body_truncated = true;
    }
    char reason[512];
    snprintf(reason, sizeof reason, "%s%s%s", message, detail && *detail ? ": " : "", detail ? detail : "");
    iw->reason = strdup(reason);
    iw->event = event ? strndup(event, 200) : NULL;
    iw->lsid = lsid ? strndup(lsid, 200) : NULL;
    r->reason = iw->reason;
    r->event = iw->event;
    r->lsid = iw->lsid;
    r->status = INCOMING_REJECTED;
    r->http_status = status;
    r->appliance_id = appliance_id;
    TB_LOGW("incoming request rejected", "route=%s peer=%s status=%d reason=\"%s\"", iw->route, iw->source_ip,
            status, message);
    r->received_ms = tb_now_ms();
    if (writer_submit(w, &iw->w))
        intake_write_free(iw);
}

void intake_write_submit(tb_writer *w, tb_http_req *req, intake_write *iw)
{
    if (!tb_http_try_suspend(req)) {
        intake_write_free(iw);
        tb_http_reply_error(req, 503, "Shutting down, retry later", "the event was not stored");
        return;
    }
    iw->http = req;
    tb_err e = writer_submit(w, &iw->w);
    if (e) {
        iw->http = NULL;
        intake_write_free(iw);
        tb_http_reply_error(req, 503, "Shutting down, retry later", tb_strerror(e));
        tb_http_resume(req);
    }
}
