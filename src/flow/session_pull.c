#include "flow/session_pull.h"
#include "flow/import_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"

/* ---- the housekeeping tick ---- */

struct tick_arg {
    int64_t now;
    bool force;
    int64_t changed, queued;
};

static tb_err do_tick(tb_store *st, void *arg)
{
    struct tick_arg *a = arg;
    tb_rs_settings s;
    tb_err e = store_rs_settings_get(st, &s);
    if (!e)
        e = store_session_key_sweep(st, a->now, s.key_grace_s, &a->changed);
    if (!e)
        e = store_session_key_pull_schedule(st, a->now, a->force, &a->queued);
    return e;
}

tb_err session_pull_schedule(tb_writer *w, int64_t *queued)
{
    struct tick_arg a = {.now = tb_now_ms() / 1000};
    tb_err e = writer_call(w, do_tick, &a);
    if (!e && queued)
        *queued = a.queued;
    return e;
}

/* ---- the job ---- */

struct key {
    int64_t id, created_at;
    char sys_id[33], number[65], lsid[65], bt_username[256];
    bool taken;                     /* matched in this pull */
};

/* What the assignment needs of a session that may belong to a key. */
#define SEEN_REPS 4
#define SEEN_MAX 10000
struct seen {
    char lsid[65];
    int64_t start;
    bool ended;
    char task_id[65], case_id[65], ext[65];
    char reps[SEEN_REPS][65];
    int nreps;
};

struct match {
    int64_t key_id;
    char lsid[65];
    bool ended;
};

struct pull {
    struct key *keys;               /* oldest first */
    size_t nkeys;
    struct seen *seen;              /* in report order */
    size_t nseen, capseen;
    struct match *m;
    size_t nm, capm;
};

static bool same(const char *a, const char *b)
{
    return a && b && *a && !strcmp(a, b);
}

static bool carries_ticket(const struct seen *s, const struct key *k)
{
    return same(s->task_id, k->sys_id) || same(s->case_id, k->sys_id) || same(s->ext, k->number) ||
           same(s->ext, k->sys_id);
}

static bool has_rep(const struct seen *s, const char *username)
{
    for (int i = 0; i < s->nreps; i++)
        if (same(s->reps[i], username))
            return true;
    return false;
}

static void copy64(char out[65], const char *v)
{
    snprintf(out, 65, "%s", v && strlen(v) <= 64 ? v : "");
}

/* Keeps the sessions that may belong to a pending key: its known session,
 * or one carrying a pending key's ticket. Assignment waits for the whole
 * report (assign()). */
static tb_err on_session(const bt_session *s, void *ctx)
{
    struct pull *p = ctx;
    if (!s->lsid || !*s->lsid || strlen(s->lsid) > 64)
        return TB_OK;
    struct seen v;
    memset(&v, 0, sizeof v);
    copy64(v.lsid, s->lsid);
    copy64(v.task_id, bt_session_custom(s, "snow_task_id"));
    copy64(v.case_id, bt_session_custom(s, "snow_case_id"));
    copy64(v.ext, s->external_key);
    bool wanted = false;
    for (size_t i = 0; i < p->nkeys && !wanted; i++)
        wanted = same(p->keys[i].lsid, v.lsid) || (!p->keys[i].lsid[0] && carries_ticket(&v, &p->keys[i]));
    if (!wanted)
        return TB_OK;
    v.start = s->start_time;
    v.ended = s->end_time != 0;
    for (size_t i = 0; i < s->nusers && v.nreps < SEEN_REPS; i++)
        if (s->users[i].kind == BT_USER_REP && s->users[i].username && strlen(s->users[i].username) <= 64)
            copy64(v.reps[v.nreps++], s->users[i].username);
    if (p->nseen == SEEN_MAX)
        return TB_ERR_TOO_LARGE;
    if (p->nseen == p->capseen) {
        size_t cap = p->capseen ? p->capseen * 2 : 16;
        struct seen *nv = realloc(p->seen, cap * sizeof *nv);
        if (!nv)
            return TB_ERR_NOMEM;
        p->seen = nv;
        p->capseen = cap;
    }
    p->seen[p->nseen++] = v;
    return TB_OK;
}

static tb_err add_match(struct pull *p, int64_t key_id, const char *lsid, bool ended)
{
    if (p->nm == p->capm) {
        size_t cap = p->capm ? p->capm * 2 : 16;
        struct match *nv = realloc(p->m, cap * sizeof *nv);
        if (!nv)
            return TB_ERR_NOMEM;
        p->m = nv;
        p->capm = cap;
    }
    struct match *m = &p->m[p->nm++];
    m->key_id = key_id;
    snprintf(m->lsid, sizeof m->lsid, "%s", lsid);
    m->ended = ended;
    return TB_OK;
}

/* Ties sessions to keys: a key's known session first; then each other
 * session not held by any key (an imported one, say) goes to a pending key
 * of its ticket made before it started. Keys of one ticket are told apart
 * by the session's representative (the key's queue was theirs), then by
 * age: the newest key is the one the customer most likely used. */
static tb_err assign(struct pull *p, tb_store *rd)
{
    for (size_t j = 0; j < p->nseen; j++) {
        struct seen *s = &p->seen[j];
        for (size_t i = 0; i < p->nkeys; i++)
            if (same(p->keys[i].lsid, s->lsid) && !p->keys[i].taken) {
                p->keys[i].taken = true;
                tb_err e = add_match(p, p->keys[i].id, s->lsid, s->ended);
                if (e)
                    return e;
                s->lsid[0] = '\0';     /* assigned */
            }
    }
    for (size_t j = 0; j < p->nseen; j++) {
        struct seen *s = &p->seen[j];
        if (!s->lsid[0])
            continue;
        struct key *best = NULL;
        int best_score = 0;
        for (size_t i = 0; i < p->nkeys; i++) {
            struct key *k = &p->keys[i];
            if (k->lsid[0] || k->taken || (s->start && s->start < k->created_at - SESSION_KEY_CLOCK_SKEW_S) ||
                !carries_ticket(s, k))
                continue;
            int score = has_rep(s, k->bt_username) ? 2 : 1;
            if (score >= best_score) {  /* keys are oldest first: a tie goes to the newer */
                best_score = score;
                best = k;
            }
        }
        if (!best)
            continue;
        bool claimed = false;
        tb_err e = store_session_key_claimed(rd, s->lsid, &claimed);
        if (e)
            return e;
        if (claimed)
            continue;
        best->taken = true;
        if ((e = add_match(p, best->id, s->lsid, s->ended)))
            return e;
    }
    return TB_OK;
}

static tb_err feed(void *ctx, const char *data, size_t len)
{
    return bt_report_parser_feed(ctx, data, len);
}

struct apply_arg {
    const struct pull *p;
    int64_t now;
    int64_t queued, running;
};

static tb_err do_apply(tb_store *st, void *arg)
{
    struct apply_arg *a = arg;
    for (size_t i = 0; i < a->p->nm; i++) {
        const struct match *m = &a->p->m[i];
        int q = 0;
        tb_err e = store_session_key_seen(st, m->key_id, m->lsid, m->ended, a->now, &q);
        if (e && e != TB_ERR_NOT_FOUND)
            return e;
        a->queued += q;
        a->running += !m->ended;
    }
    return TB_OK;
}

struct sweep_arg {
    int64_t now;
};

static tb_err do_sweep(tb_store *st, void *arg)
{
    struct sweep_arg *a = arg;
    tb_rs_settings s;
    tb_err e = store_rs_settings_get(st, &s);
    return e ? e : store_session_key_sweep(st, a->now, s.key_grace_s, NULL);
}

/* The keys this pull looks after, oldest first: issued and in_session ones
 * are looked for in the report; import_queued ones whose import was queued
 * by someone else (an outbound event) are queued again if that import
 * ended without storing the session. */
static tb_err load_keys(tb_store *rd, int64_t appliance_id, struct pull *p)
{
    tb_session_key *v = NULL, *q = NULL;
    size_t n = 0, nq = 0;
    tb_session_key_filter f = {.appliance_id = appliance_id, .pending = true, .limit = 100000};
    tb_session_key_filter fq = {.appliance_id = appliance_id, .state = "import_queued", .limit = 100000};
    tb_err e = store_session_key_list(rd, &f, &v, &n);
    if (!e)
        e = store_session_key_list(rd, &fq, &q, &nq);
    if (!e && (p->keys = calloc(n ? n : 1, sizeof *p->keys)) == NULL)
        e = TB_ERR_NOMEM;
    for (size_t i = 0; !e && i < n; i++) {
        const tb_session_key *s = &v[n - 1 - i];
        struct key *k = &p->keys[p->nkeys++];
        k->id = s->id;
        k->created_at = s->created_at;
        snprintf(k->sys_id, sizeof k->sys_id, "%s", s->task_sys_id);
        snprintf(k->number, sizeof k->number, "%s", s->task_number);
        snprintf(k->lsid, sizeof k->lsid, "%s", s->lsid);
        snprintf(k->bt_username, sizeof k->bt_username, "%s", s->bt_username);
    }
    for (size_t i = 0; !e && i < nq; i++)
        if (!q[i].import_job_id && q[i].lsid[0])
            e = add_match(p, q[i].id, q[i].lsid, true);
    tb_session_keys_free(v, n);
    tb_session_keys_free(q, nq);
    return e;
}

tb_err session_pull_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz)
{
    import_ctx *c = ctx;
    struct import_tls *t;
    tb_err e = import_tls_get(c, &t);
    if (e) {
        snprintf(err, errsz, "cannot open an HTTP client: %s", tb_strerror(e));
        return e;
    }
    struct pull p = {0};
    bt_report_parser *rp = NULL;
    appliance_snapshot *snap = appliance_cache_acquire(c->opt.appliances);
    const appliance_entry *a = appliance_find_row(snap, job->appliance_id);
    struct sweep_arg sw = {.now = tb_now_ms() / 1000};
    if ((e = writer_call(c->opt.writer, do_sweep, &sw))) {
        snprintf(err, errsz, "cannot update the remembered keys: %s", tb_strerror(e));
        goto out;
    }
    if ((e = load_keys(t->reader, job->appliance_id, &p))) {
        snprintf(err, errsz, "cannot read the remembered keys: %s", tb_strerror(e));
        goto out;
    }
    if (p.nkeys) {
        if (!a) {
            snprintf(err, errsz, "the appliance of this job no longer exists");
            e = TB_ERR_NOT_FOUND;
            goto out;
        }
        if (!a->enabled)
            goto out;       /* switched off since: nothing to do */
        char base[BT_API_URL_MAX];
        bt_conn conn;
        if ((e = import_conn(c, a, base, sizeof base, &conn, err, errsz)))
            goto out;
        int64_t since = p.keys[0].created_at;
        for (size_t i = 1; i < p.nkeys; i++)
            if (p.keys[i].created_at < since)
                since = p.keys[i].created_at;
        since -= SESSION_KEY_CLOCK_SKEW_S;
        if (!(rp = bt_report_parser_new(&c->opt.limits, on_session, &p))) {
            e = TB_ERR_NOMEM;
            goto out;
        }
        char since_s[32];
        snprintf(since_s, sizeof since_s, "%lld", (long long)since);
        bt_param params[] = {{"start_time", since_s}, {"duration", "0"}};
        const char *report = !strcmp(a->product, "pra") ? "AccessSession" : "SupportSession";
        bt_api_result ar;
        e = bt_api_report(c->tokens, t->http, &conn, report, params, 2, feed, rp, &ar);
        if (!e)
            e = bt_report_parser_finish(rp);
        if (e == TB_ERR_NOT_FOUND && bt_report_parser_api_error(rp))
            e = TB_OK;      /* "no sessions matched" */
        if (e) {
            const char *pe = bt_report_parser_error(rp);
            snprintf(err, errsz, "%s", ar.err[0] ? ar.err : pe && *pe ? pe : tb_strerror(e));
            if (e == TB_ERR_TOO_LARGE)
                e = TB_ERR_INVALID;     /* the same report would be too large again */
            goto out;
        }
        if ((e = assign(&p, t->reader))) {
            snprintf(err, errsz, "cannot match sessions to keys: %s", tb_strerror(e));
            goto out;
        }
    }
    struct apply_arg aa = {.p = &p, .now = tb_now_ms() / 1000};
    if (p.nm && (e = writer_call(c->opt.writer, do_apply, &aa))) {
        snprintf(err, errsz, "cannot record the sessions found: %s", tb_strerror(e));
        goto out;
    }
    TB_LOGI("session keys pulled", "appliance=%s keys=%zu sessions=%zu running=%lld imports_queued=%lld",
            a ? a->name : "-", p.nkeys, p.nm, (long long)aa.running, (long long)aa.queued);
out:
    bt_report_parser_free(rp);
    appliance_cache_release(c->opt.appliances, snap);
    free(p.keys);
    free(p.seen);
    free(p.m);
    return e;
}
