#include "flow/reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "flow/import_int.h"
#include "store/store.h"

struct schedule_arg {
    int64_t now;
    int64_t queued;
};

static tb_err do_schedule(tb_store *st, void *arg)
{
    struct schedule_arg *a = arg;
    return store_poll_schedule(st, a->now, &a->queued);
}

tb_err reconcile_schedule(tb_writer *w, int64_t *queued)
{
    struct schedule_arg a = {.now = tb_now_ms() / 1000};
    tb_err e = writer_call(w, do_schedule, &a);
    if (!e && queued)
        *queued = a.queued;
    return e;
}

/* The lsids of a listing, collected while the report streams in. */
struct lsids {
    char (*v)[65];
    size_t n, cap;
};

#define RECONCILE_MAX_LSIDS 100000

static tb_err on_summary(const bt_session_summary *s, void *ctx)
{
    struct lsids *l = ctx;
    if (!s->lsid || !*s->lsid || strlen(s->lsid) > 64)
        return TB_OK;
    if (l->n == RECONCILE_MAX_LSIDS)
        return TB_ERR_TOO_LARGE;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        void *nv = realloc(l->v, cap * sizeof *l->v);
        if (!nv)
            return TB_ERR_NOMEM;
        l->v = nv;
        l->cap = cap;
    }
    snprintf(l->v[l->n++], 65, "%s", s->lsid);
    return TB_OK;
}

static tb_err no_sessions(const bt_session *s, void *ctx)
{
    (void)s;
    (void)ctx;
    return TB_OK;
}

static tb_err feed(void *ctx, const char *data, size_t len)
{
    return bt_report_parser_feed(ctx, data, len);
}

struct since_arg {
    int64_t appliance_id, now, since;
};

static tb_err do_since(tb_store *st, void *arg)
{
    struct since_arg *a = arg;
    return store_poll_since(st, a->appliance_id, a->now, RECONCILE_FIRST_LOOKBACK_S, &a->since);
}

struct queue_arg {
    int64_t appliance_id, now, next_since, run_after;
    const struct lsids *l;
    int64_t queued;
};

static tb_err do_queue(tb_store *st, void *arg)
{
    struct queue_arg *a = arg;
    a->queued = 0;
    for (size_t i = 0; i < a->l->n; i++) {
        int q = 0;
        tb_err e = store_queue_import(st, a->appliance_id, a->l->v[i], a->now, a->run_after, &q);
        if (e)
            return e;
        a->queued += q;
    }
    return store_poll_done(st, a->appliance_id, a->next_since, a->now, (int64_t)a->l->n, a->queued);
}

tb_err reconcile_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz)
{
    import_ctx *c = ctx;
    struct import_tls *t;
    tb_err e = import_tls_get(c, &t);
    if (e) {
        snprintf(err, errsz, "cannot open an HTTP client: %s", tb_strerror(e));
        return e;
    }
    appliance_snapshot *snap = appliance_cache_acquire(c->opt.appliances);
    const appliance_entry *a = appliance_find_row(snap, job->appliance_id);
    bt_report_parser *p = NULL;
    struct lsids l = {0};
    char base[BT_API_URL_MAX];
    bt_conn conn;
    if (!a) {
        snprintf(err, errsz, "the appliance of this job no longer exists");
        e = TB_ERR_NOT_FOUND;
        goto out;
    }
    if (!a->enabled) {
        e = TB_OK;          /* switched off since it was scheduled: nothing to do */
        goto out;
    }
    if ((e = import_conn(c, a, base, sizeof base, &conn, err, errsz)))
        goto out;
    int64_t started = tb_now_ms() / 1000;
    struct since_arg sa = {.appliance_id = a->id, .now = started};
    if ((e = writer_call(c->opt.writer, do_since, &sa))) {
        snprintf(err, errsz, "cannot read the poll state: %s", tb_strerror(e));
        goto out;
    }
    p = bt_report_parser_new(&c->opt.limits, no_sessions, NULL);
    if (!p) {
        e = TB_ERR_NOMEM;
        goto out;
    }
    bt_report_parser_on_summary(p, on_summary, &l);
    char since_s[32];
    snprintf(since_s, sizeof since_s, "%lld", (long long)sa.since);
    bt_param params[] = {{"end_time", since_s}, {"duration", "0"}};
    const char *report = !strcmp(a->product, "pra") ? "AccessSessionListing" : "SupportSessionListing";
    bt_api_result ar;
    e = bt_api_report(c->tokens, t->http, &conn, report, params, 2, feed, p, &ar);
    if (!e)
        e = bt_report_parser_finish(p);
    if (e == TB_ERR_NOT_FOUND && bt_report_parser_api_error(p))
        e = TB_OK;          /* "no sessions": the listing is simply empty */
    if (e) {
        const char *pe = bt_report_parser_error(p);
        snprintf(err, errsz, "%s", ar.err[0] ? ar.err : pe && *pe ? pe : tb_strerror(e));
        goto out;
    }
    int64_t now = tb_now_ms() / 1000;
    int64_t grace = a->poll_interval < RECONCILE_GRACE_MAX_S ? a->poll_interval : RECONCILE_GRACE_MAX_S;
    struct queue_arg qa = {.appliance_id = a->id, .now = now, .next_since = started - RECONCILE_OVERLAP_S,
                           .run_after = now + grace, .l = &l};
    if ((e = writer_call(c->opt.writer, do_queue, &qa))) {
        snprintf(err, errsz, "cannot queue the missing sessions: %s", tb_strerror(e));
        goto out;
    }
    TB_LOGI("reconciled", "appliance=%s since=%lld listed=%zu queued=%lld", a->name, (long long)sa.since, l.n,
            (long long)qa.queued);
out:
    free(l.v);
    bt_report_parser_free(p);
    appliance_cache_release(c->opt.appliances, snap);
    return e;
}
