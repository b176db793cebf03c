#include "flow/call_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct call {
    call_pool_fn fn;
    void *arg;
};

struct call_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct call *ring;
    size_t cap, head, len;
    bool stopping;
    int nthreads;
    pthread_t *threads;
};

static void *run(void *arg)
{
    call_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->len && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->len)
            break;                  /* stopping and nothing left */
        struct call c = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        pthread_mutex_unlock(&p->mu);
        c.fn(c.arg);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

tb_err call_pool_start(int threads, size_t queue_max, call_pool **out)
{
    if (threads < 1 || queue_max < 1)
        return TB_ERR_INVALID;
    call_pool *p = calloc(1, sizeof *p);
    if (!p)
        return TB_ERR_NOMEM;
    p->ring = calloc(queue_max, sizeof *p->ring);
    p->threads = calloc((size_t)threads, sizeof *p->threads);
    if (!p->ring || !p->threads) {
        free(p->ring);
        free(p->threads);
        free(p);
        return TB_ERR_NOMEM;
    }
    p->cap = queue_max;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (; p->nthreads < threads; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, run, p)) {
            call_pool_stop(p);
            return TB_ERR_NOMEM;
        }
    *out = p;
    return TB_OK;
}

tb_err call_pool_submit(call_pool *p, call_pool_fn fn, void *arg)
{
    pthread_mutex_lock(&p->mu);
    tb_err e = p->stopping ? TB_ERR_SHUTDOWN : p->len == p->cap ? TB_ERR_BUSY : TB_OK;
    if (!e) {
        p->ring[(p->head + p->len) % p->cap] = (struct call){fn, arg};
        p->len++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return e;
}

void call_pool_stop(call_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->ring);
    free(p->threads);
    free(p);
}
