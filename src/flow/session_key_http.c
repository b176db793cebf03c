#include "flow/session_key_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "flow/call_pool.h"
#include "flow/session_key.h"
#include "store/store_session_key.h"

struct session_key_http {
    session_key_http_opts opt;
    call_pool *pool;
};

/* One POST on its way: pool thread, then writer, then the answer. */
struct sk_task {
    tb_write_req w;
    session_key_http *h;
    tb_http_req *req;
    char user[CREDENTIAL_USERNAME_MAX + 1];
    sk_check_result chk;
    sk_result res;
    tb_session_key_rec rec;         /* borrows from chk, res and user */
    int64_t id;
};

static void task_free(struct sk_task *t)
{
    sk_result_free(&t->res);
    free(t);
}

static void reply_result(struct sk_task *t)
{
    tb_http_req *req = t->req;
    if (t->w.rc) {
        TB_LOGE("session key attempt not recorded", "ticket=%s err=\"%s\"", t->chk.ticket.number,
                tb_strerror(t->w.rc));
        if (t->res.ok) {
            /* Unremembered, the key could not be tied to the ticket: it is
             * not handed out, and expires unused on the appliance. */
            tb_http_reply_error(req, 503, "Session key not recorded", tb_strerror(t->w.rc));
            return;
        }
    }
    if (!t->res.ok) {
        tb_http_reply_error(req, t->res.status, t->res.message, t->res.detail);
        return;
    }
    char *json = sk_result_json(&t->chk, &t->res, t->id);
    if (json)
        tb_http_reply_json(req, 200, json);
    else
        tb_http_reply_error(req, 500, "Internal error", "out of memory");
    free(json);
}

/* ---- writer side ---- */

static tb_err write_record(tb_store *st, void *arg)
{
    struct sk_task *t = arg;
    return store_session_key_insert(st, &t->rec, &t->id);
}

static void on_committed(tb_write_req *w)
{
    struct sk_task *t = w->arg;
    reply_result(t);
    tb_http_resume(t->req);
    task_free(t);
}

/* ---- pool side ---- */

static void run(void *arg)
{
    struct sk_task *t = arg;
    sk_generate(t->h->opt.import, &t->chk, t->user, SK_TIMEOUT_MS, &t->res);
    sk_record(&t->chk, &t->res, t->user, &t->rec);
    t->w.kind = WRITE_FN;
    t->w.fn = write_record;
    t->w.fn_arg = t;
    t->w.done = on_committed;
    t->w.arg = t;
    if (writer_submit(t->h->opt.writer, &t->w)) {
        tb_http_reply_error(t->req, 503, "Shutting down", "try again in a moment");
        tb_http_resume(t->req);
        task_free(t);
    }
}

/* ---- HTTP side ---- */

static void refuse(tb_http_req *req, const auth_principal *who, const sk_check_result *chk, const char *number)
{
    char detail[1024];
    sk_verdict_text(&chk->verdict, detail, sizeof detail);
    TB_LOGI("session key refused", "ticket=%.64s user=\"%s\" status=%d reasons=\"%.600s\"", number, who->username,
            chk->verdict.status, detail);
    tb_http_reply_error(req, chk->verdict.status, "Session key not allowed", detail);
}

void session_key_http_handle(tb_http_req *req, const char *number, void *ctx, const auth_principal *who)
{
    session_key_http *h = ctx;
    struct sk_task *t = calloc(1, sizeof *t);
    if (!t) {
        tb_http_reply_error(req, 503, "Out of memory", "");
        return;
    }
    char err[256];
    tb_err e = sk_check(h->opt.import, number, who->roles, &t->chk, err, sizeof err);
    if (e) {
        TB_LOGE("session key check failed", "ticket=%.64s err=\"%s\"", number, err);
        tb_http_reply_error(req, e == TB_ERR_BUSY || e == TB_ERR_TIMEOUT ? 503 : 500, "Ticket store unavailable", err);
        free(t);
        return;
    }
    if (!strcmp(tb_http_req_method(req), "GET")) {
        char *json = sk_verdict_json(&t->chk);
        if (json)
            tb_http_reply_json(req, 200, json);
        else
            tb_http_reply_error(req, 500, "Internal error", "out of memory");
        free(json);
        free(t);
        return;
    }
    if (!t->chk.verdict.allowed) {
        refuse(req, who, &t->chk, number);
        free(t);
        return;
    }
    t->h = h;
    t->req = req;
    snprintf(t->user, sizeof t->user, "%s", who->username);
    if (!tb_http_try_suspend(req)) {
        tb_http_reply_error(req, 503, "Shutting down", "try again in a moment");
        free(t);
        return;
    }
    e = call_pool_submit(h->pool, run, t);
    if (e) {
        tb_http_reply_error(req, 503, e == TB_ERR_BUSY ? "Too many session keys in progress" : "Shutting down",
                            "try again in a moment");
        tb_http_resume(req);
        free(t);
    }
}

tb_err session_key_http_new(const session_key_http_opts *opt, session_key_http **out)
{
    session_key_http *h = calloc(1, sizeof *h);
    if (!h)
        return TB_ERR_NOMEM;
    h->opt = *opt;
    tb_err e = call_pool_start(opt->threads > 0 ? opt->threads : SK_HTTP_THREADS,
                               opt->queue_max ? opt->queue_max : SK_HTTP_QUEUE_MAX, &h->pool);
    if (e) {
        free(h);
        return e;
    }
    *out = h;
    return TB_OK;
}

void session_key_http_free(session_key_http *h)
{
    if (!h)
        return;
    call_pool_stop(h->pool);
    free(h);
}
