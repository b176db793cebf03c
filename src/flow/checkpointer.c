#include "flow/checkpointer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "store/store.h"

struct checkpointer {
    tb_store *st;
    int interval_ms;
    int64_t truncate_bytes;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static void *run(void *arg)
{
    checkpointer *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)c->interval_ms * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!c->stop && pthread_cond_timedwait(&c->cv, &c->mu, &until) != ETIMEDOUT)
            ;
        if (c->stop)
            break;
        pthread_mutex_unlock(&c->mu);
        int64_t wal = 0;
        tb_err e = store_checkpoint_bounded(c->st, c->truncate_bytes, &wal);
        if (e && e != TB_ERR_BUSY)
            TB_LOGW("WAL checkpoint failed", "err=\"%s\" wal_bytes=%lld", tb_strerror(e), (long long)wal);
        else if (wal > c->truncate_bytes)
            TB_LOGI("WAL started over", "wal_bytes=%lld", (long long)wal);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

tb_err checkpointer_start(const char *db_path, int interval_ms, int64_t truncate_bytes, checkpointer **out)
{
    checkpointer *c = calloc(1, sizeof *c);
    if (!c)
        return TB_ERR_NOMEM;
    c->interval_ms = interval_ms > 0 ? interval_ms : 100;
    c->truncate_bytes = truncate_bytes;
    tb_err e = store_open(db_path, 0, &c->st);
    if (e) {
        free(c);
        return e;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->thread, NULL, run, c)) {
        store_close(c->st);
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        free(c);
        return TB_ERR_NOMEM;
    }
    *out = c;
    return TB_OK;
}

void checkpointer_stop(checkpointer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    store_close(c->st);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
