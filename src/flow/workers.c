#include "flow/workers.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"

#define MAX_THREADS 64

struct handler {
    const char *kind;
    job_handler_fn fn;
    void *ctx;
};

struct workers {
    tb_writer *writer;
    workers_opts opt;
    struct handler handlers[STORE_JOB_KINDS_MAX];
    const char *kinds[STORE_JOB_KINDS_MAX];
    size_t nhandlers;
    pthread_t threads[MAX_THREADS];
    int nthreads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    unsigned wakeups;               /* guarded by mu */
    workers_stats stats;            /* guarded by mu */
};

/* Arguments of the writer functions below (they run on the writer thread). */
struct claim_arg {
    workers *p;
    int64_t now;
    tb_job_claim job;
};

static tb_err do_claim(tb_store *st, void *arg)
{
    struct claim_arg *a = arg;
    return store_job_claim(st, a->p->kinds, a->p->nhandlers, a->now, &a->job);
}

struct finish_arg {
    int64_t id;
    const char *state;
    int64_t run_after;
    const char *err;
    int64_t now;
    /* Optionally claim the next job in the same transaction: one commit per
     * job instead of two. */
    workers *p;
    bool claim_next;
    bool claimed;               /* out */
    tb_job_claim next;          /* out, when claimed */
};

static tb_err do_finish(tb_store *st, void *arg)
{
    struct finish_arg *a = arg;
    tb_err e = store_job_finish(st, a->id, a->state, a->run_after, a->err, a->now);
    a->claimed = false;
    if (e || !a->claim_next)
        return e;
    e = store_job_claim(st, a->p->kinds, a->p->nhandlers, a->now, &a->next);
    if (e == TB_ERR_NOT_FOUND)
        return TB_OK;
    a->claimed = !e;
    return e;
}

struct recover_arg {
    int64_t now;
    int64_t count;
};

static tb_err do_recover(tb_store *st, void *arg)
{
    struct recover_arg *a = arg;
    return store_job_recover(st, a->now, &a->count);
}

static bool transient(tb_err e)
{
    return e == TB_ERR_BUSY || e == TB_ERR_HTTP || e == TB_ERR_TIMEOUT || e == TB_ERR_IO;
}

/* base * 2^(attempt-1), capped, then ±25% jitter so retries of many jobs
 * against one recovering appliance do not arrive in lockstep. */
static int64_t backoff_ms(const workers_opts *o, int attempt)
{
    double d = o->backoff_base_ms;
    for (int i = 1; i < attempt && d < o->backoff_max_ms; i++)
        d *= 2;
    if (d > o->backoff_max_ms)
        d = o->backoff_max_ms;
    if (d <= 0)
        return 0;
    double jitter = ((double)randombytes_uniform(5001) / 10000.0) - 0.25;
    return (int64_t)(d * (1.0 + jitter));
}

/* Set by the running handler (workers_retry_after), read when it returns. */
static _Thread_local int64_t retry_after_ms;

void workers_retry_after(int64_t ms)
{
    retry_after_ms = ms;
}

static const struct handler *find_handler(workers *p, const char *kind)
{
    for (size_t i = 0; i < p->nhandlers; i++)
        if (!strcmp(p->handlers[i].kind, kind))
            return &p->handlers[i];
    return NULL;
}

/* Runs job, records its outcome and, unless the pool is stopping, claims
 * the next due job in the same commit. Returns whether *next was claimed. */
static bool run_job(workers *p, const tb_job_claim *job, tb_job_claim *next)
{
    const struct handler *h = find_handler(p, job->kind);
    char err[WORKERS_ERR_MAX] = "";
    int64_t t0 = tb_now_ms();
    retry_after_ms = 0;
    tb_err e = h ? h->fn(h->ctx, job, err, sizeof err) : TB_ERR_INVALID;
    if (e && !err[0])
        snprintf(err, sizeof err, "%s", tb_strerror(e));
    struct finish_arg f = {.id = job->id, .now = tb_now_ms() / 1000};
    const char *outcome;
    if (!e) {
        f.state = outcome = "done";
    } else if (transient(e) && job->attempts < p->opt.max_attempts) {
        f.state = "queued";
        outcome = "retry";
        int64_t wait = backoff_ms(&p->opt, job->attempts);
        if (retry_after_ms > wait)
            wait = retry_after_ms;
        f.run_after = (tb_now_ms() + wait) / 1000;
        f.err = err;
    } else {
        f.state = outcome = "failed";
        f.err = err;
    }
    pthread_mutex_lock(&p->mu);
    f.p = p;
    f.claim_next = !p->stopping;
    pthread_mutex_unlock(&p->mu);
    tb_err fe = writer_call(p->writer, do_finish, &f);
    if (fe && f.claim_next) {
        /* the claim part failed: record the outcome alone */
        f.claim_next = false;
        fe = writer_call(p->writer, do_finish, &f);
    }
    char qerr[WORKERS_ERR_MAX + 16];
    TB_LOGI("job", "id=%lld kind=%s lsid=%s attempt=%d outcome=%s dur_ms=%lld%s%s", (long long)job->id,
            job->kind, job->lsid[0] ? job->lsid : "-", job->attempts, outcome,
            (long long)(tb_now_ms() - t0), e ? " error=" : "", e ? tb_log_quote(qerr, sizeof qerr, err) : "");
    if (fe)
        TB_LOGE("job outcome not recorded", "id=%lld err=\"%s\"", (long long)job->id, tb_strerror(fe));
    pthread_mutex_lock(&p->mu);
    if (!e)
        p->stats.done++;
    else if (!strcmp(outcome, "retry"))
        p->stats.retried++;
    else
        p->stats.failed++;
    pthread_mutex_unlock(&p->mu);
    if (!fe && f.claimed)
        *next = f.next;
    return !fe && f.claimed;
}

static void *worker_main(void *arg)
{
    workers *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        bool stop = p->stopping;
        unsigned seen = p->wakeups;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        struct claim_arg c = {.p = p, .now = tb_now_ms() / 1000};
        tb_err e = writer_call(p->writer, do_claim, &c);
        if (!e) {
            tb_job_claim job = c.job, next;
            while (run_job(p, &job, &next))
                job = next;
            continue;
        }
        if (e != TB_ERR_NOT_FOUND && e != TB_ERR_SHUTDOWN)
            TB_LOGE("cannot claim a job", "err=\"%s\"", tb_strerror(e));
        /* Nothing due: sleep until notified or the next poll. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)p->opt.idle_poll_ms * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&p->mu);
        while (!p->stopping && p->wakeups == seen)
            if (pthread_cond_timedwait(&p->cv, &p->mu, &until))
                break;
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

tb_err workers_new(tb_writer *w, const workers_opts *opt, workers **out)
{
    workers *p = calloc(1, sizeof *p);
    if (!p)
        return TB_ERR_NOMEM;
    p->writer = w;
    p->opt = *opt;
    if (p->opt.threads < 0 || p->opt.threads > MAX_THREADS)
        p->opt.threads = 2;
    if (p->opt.max_attempts <= 0)
        p->opt.max_attempts = 8;
    if (p->opt.backoff_base_ms <= 0)
        p->opt.backoff_base_ms = 2000;
    if (p->opt.backoff_max_ms <= 0)
        p->opt.backoff_max_ms = 900000;
    if (p->opt.idle_poll_ms <= 0)
        p->opt.idle_poll_ms = 500;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    *out = p;
    return TB_OK;
}

tb_err workers_register(workers *p, const char *kind, job_handler_fn fn, void *ctx)
{
    if (p->nthreads)
        return TB_ERR_INVALID;
    if (p->nhandlers >= STORE_JOB_KINDS_MAX)
        return TB_ERR_TOO_LARGE;
    if (find_handler(p, kind))
        return TB_ERR_EXISTS;
    p->handlers[p->nhandlers] = (struct handler){kind, fn, ctx};
    p->kinds[p->nhandlers] = kind;
    p->nhandlers++;
    return TB_OK;
}

tb_err workers_start(workers *p)
{
    struct recover_arg r = {.now = tb_now_ms() / 1000};
    tb_err e = writer_call(p->writer, do_recover, &r);
    if (e)
        return e;
    if (r.count)
        TB_LOGW("jobs interrupted by the last stop are queued again", "count=%lld", (long long)r.count);
    if (!p->nhandlers)
        return TB_OK;           /* nothing to run: no threads */
    for (int i = 0; i < p->opt.threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
            return TB_ERR_NOMEM;
        p->nthreads++;
    }
    return TB_OK;
}

void workers_notify(workers *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->wakeups++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void workers_stop(workers *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

void workers_get_stats(workers *p, workers_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    pthread_mutex_unlock(&p->mu);
}
