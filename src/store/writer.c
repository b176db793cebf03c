#include "store/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

/* A committed batch waiting for its replies. */
struct done_batch {
    tb_write_req *head;
    struct done_batch *next;
};

struct tb_writer {
    pthread_t thread;
    pthread_t reply_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t reply_cv;
    struct done_batch *done_head, *done_tail;   /* guarded by mu */
    bool writer_exited;                          /* guarded by mu */
    tb_write_req *head, *tail;
    uint64_t pending;
    bool stopping;
    int batch_max;
    tb_store *st;
    tb_writer_stats stats;
};

static tb_err run_one(tb_store *st, tb_write_req *r)
{
    switch (r->kind) {
    case WRITE_INTAKE:
        return store_intake_apply(st, &r->rec, &r->res);
    case WRITE_PING:
        return store_touch(st);
    case WRITE_FN:
        return r->fn(st, r->fn_arg);
    }
    return TB_ERR_INVALID;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void run_done(tb_writer *w, tb_write_req *batch)
{
    uint64_t t0 = mono_us();
    /* done may free r: read next first */
    for (tb_write_req *r = batch, *next; r; r = next) {
        next = r->next;
        r->done(r);
    }
    uint64_t t1 = mono_us();
    pthread_mutex_lock(&w->mu);
    w->stats.done_us += t1 - t0;
    pthread_mutex_unlock(&w->mu);
}

static void commit_batch(tb_writer *w, tb_write_req *batch, uint64_t n)
{
    uint64_t t0 = mono_us(), t1 = t0;
    bool any_failed = false;
    tb_err e = store_begin(w->st);
    if (!e) {
        for (tb_write_req *r = batch; r && !any_failed; r = r->next)
            any_failed = (r->rc = run_one(w->st, r)) != TB_OK;
        t1 = mono_us();
        if (any_failed) {
            /* A request failed half-way: undo the batch, then give every
             * request a transaction of its own so one bad request cannot
             * take the others down, and none is half-written. */
            store_rollback(w->st);
            for (tb_write_req *r = batch; r; r = r->next) {
                if ((r->rc = store_begin(w->st)))
                    continue;
                if ((r->rc = run_one(w->st, r)) || (r->rc = store_commit(w->st)))
                    store_rollback(w->st);
            }
        } else {
            e = store_commit(w->st);
            if (e)
                store_rollback(w->st);
        }
    }
    uint64_t t2 = mono_us();
    if (e) {
        TB_LOGE("batch commit failed", "requests=%llu err=\"%s\" sqlite=\"%s\"",
                (unsigned long long)n, tb_strerror(e), store_errmsg(w->st));
        for (tb_write_req *r = batch; r; r = r->next)
            r->rc = e;
    }
    pthread_mutex_lock(&w->mu);
    w->stats.batches++;
    w->stats.requests += n;
    w->stats.apply_us += t1 - t0;
    w->stats.commit_us += t2 - t1;
    if (e)
        w->stats.failed_batches++;
    if (n > w->stats.max_batch)
        w->stats.max_batch = n;
    w->pending -= n;
    pthread_mutex_unlock(&w->mu);
    /* Replies (and the resumes behind them) go to the reply thread, so the
     * next transaction starts while this batch is being answered. */
    struct done_batch *db = malloc(sizeof *db);
    if (!db) {
        run_done(w, batch);     /* no memory for the hand-off: answer here */
        return;
    }
    db->head = batch;
    db->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->done_tail)
        w->done_tail->next = db;
    else
        w->done_head = db;
    w->done_tail = db;
    pthread_cond_signal(&w->reply_cv);
    pthread_mutex_unlock(&w->mu);
}

static void *reply_main(void *arg)
{
    tb_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->done_head && !w->writer_exited)
            pthread_cond_wait(&w->reply_cv, &w->mu);
        struct done_batch *db = w->done_head;
        if (!db)
            break;              /* writer gone and nothing left */
        w->done_head = db->next;
        if (!w->done_head)
            w->done_tail = NULL;
        pthread_mutex_unlock(&w->mu);
        run_done(w, db->head);
        free(db);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void *writer_main(void *arg)
{
    tb_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->head && w->stopping)
            break;
        tb_write_req *batch = w->head, *last = batch;
        uint64_t n = 1;
        while (last->next && n < (uint64_t)w->batch_max) {
            last = last->next;
            n++;
        }
        w->head = last->next;
        if (!w->head)
            w->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&w->mu);
        commit_batch(w, batch, n);
        pthread_mutex_lock(&w->mu);
    }
    w->writer_exited = true;
    pthread_cond_signal(&w->reply_cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

tb_err writer_start(const char *db_path, int batch_max, tb_writer **out)
{
    tb_writer *w = calloc(1, sizeof *w);
    if (!w)
        return TB_ERR_NOMEM;
    tb_err e = store_open(db_path, 0, &w->st);
    if (!e && (e = store_autocheckpoint_off(w->st)))
        store_close(w->st);
    if (e) {
        free(w);
        return e;
    }
    w->batch_max = batch_max > 0 ? batch_max : 512;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->reply_cv, NULL);
    if (pthread_create(&w->reply_thread, NULL, reply_main, w) != 0) {
        store_close(w->st);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        pthread_cond_destroy(&w->reply_cv);
        free(w);
        return TB_ERR_NOMEM;
    }
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_mutex_lock(&w->mu);
        w->writer_exited = true;
        pthread_cond_signal(&w->reply_cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->reply_thread, NULL);
        store_close(w->st);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        pthread_cond_destroy(&w->reply_cv);
        free(w);
        return TB_ERR_NOMEM;
    }
    *out = w;
    return TB_OK;
}

tb_err writer_submit(tb_writer *w, tb_write_req *req)
{
    req->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return TB_ERR_SHUTDOWN;
    }
    if (w->tail)
        w->tail->next = req;
    else
        w->head = req;
    w->tail = req;
    w->pending++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return TB_OK;
}

/* Heap-allocated so a caller that times out can walk away: whoever of the
 * writer (done) and the waiter comes last frees it. */
struct sync_req {
    tb_write_req req;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool finished;
    bool abandoned;
};

static void sync_done(tb_write_req *r)
{
    struct sync_req *s = r->arg;
    pthread_mutex_lock(&s->mu);
    s->finished = true;
    bool free_it = s->abandoned;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (free_it) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
    }
}

static tb_err run_sync(tb_writer *w, tb_write_kind kind, tb_write_fn fn, void *arg, int timeout_ms)
{
    struct sync_req *s = calloc(1, sizeof *s);
    if (!s)
        return TB_ERR_NOMEM;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->req.kind = kind;
    s->req.fn = fn;
    s->req.fn_arg = arg;
    s->req.done = sync_done;
    s->req.arg = s;
    tb_err e = writer_submit(w, &s->req);
    if (e) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return e;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&s->mu);
    while (!s->finished) {
        if (timeout_ms > 0) {
            if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT && !s->finished)
                break;
        } else {
            pthread_cond_wait(&s->cv, &s->mu);
        }
    }
    if (!s->finished) {
        s->abandoned = true;
        pthread_mutex_unlock(&s->mu);
        return TB_ERR_TIMEOUT;
    }
    e = s->req.rc;
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    return e;
}

tb_err writer_run_sync(tb_writer *w, tb_write_kind kind, int timeout_ms)
{
    return run_sync(w, kind, NULL, NULL, timeout_ms);
}

tb_err writer_call(tb_writer *w, tb_write_fn fn, void *arg)
{
    return run_sync(w, WRITE_FN, fn, arg, 0);
}

void writer_stop(tb_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_join(w->reply_thread, NULL);    /* every reply delivered */
    store_close(w->st);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->reply_cv);
    free(w);
}

void writer_stats(tb_writer *w, tb_writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}

uint64_t writer_pending(tb_writer *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t n = w->pending;
    pthread_mutex_unlock(&w->mu);
    return n;
}
