#include "flow/snapshot_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct snapshot_cache {
    pthread_mutex_t mu;             /* guards cur and every snapshot's refs */
    pthread_mutex_t reload_mu;      /* one rebuild at a time; guards st, version, loaded */
    tb_store *st;
    snapshot_build_fn build;
    snapshot_free_fn free_fn;
    void *ctx;
    void (*ctx_free)(void *);
    int64_t version;
    bool loaded;
    snapshot_hdr *cur;
};

tb_err snapshot_cache_open(const char *db_path, snapshot_build_fn build, snapshot_free_fn free_fn, void *ctx,
                           void (*ctx_free)(void *), snapshot_cache **out)
{
    snapshot_cache *c = calloc(1, sizeof *c);
    if (!c) {
        if (ctx_free)
            ctx_free(ctx);
        return TB_ERR_NOMEM;
    }
    c->ctx = ctx;
    c->ctx_free = ctx_free;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->reload_mu, NULL);
    tb_err e = store_open(db_path, 0, &c->st);
    if (e) {
        snapshot_cache_close(c);
        return e;
    }
    c->build = build;
    c->free_fn = free_fn;
    if ((e = snapshot_cache_refresh(c))) {
        snapshot_cache_close(c);
        return e;
    }
    *out = c;
    return TB_OK;
}

static void key_free(void *k)
{
    tb_secret_key_wipe(k);
    free(k);
}

tb_err snapshot_cache_open_keyed(const char *db_path, snapshot_build_fn build, snapshot_free_fn free_fn,
                                 const tb_secret_key *key, snapshot_cache **out)
{
    tb_secret_key *k = malloc(sizeof *k);
    if (!k)
        return TB_ERR_NOMEM;
    *k = *key;
    return snapshot_cache_open(db_path, build, free_fn, k, key_free, out);
}

void snapshot_cache_close(snapshot_cache *c)
{
    if (!c)
        return;
    if (c->cur)
        c->free_fn(c->cur);
    if (c->ctx_free)
        c->ctx_free(c->ctx);
    store_close(c->st);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->reload_mu);
    free(c);
}

tb_err snapshot_cache_refresh(snapshot_cache *c)
{
    pthread_mutex_lock(&c->reload_mu);
    int64_t v = 0;
    tb_err e = store_data_version(c->st, &v);
    if (!e && (!c->loaded || v != c->version)) {
        snapshot_hdr *s = NULL;
        if (!(e = c->build(c->st, c->ctx, &s))) {
            s->refs = 1;
            pthread_mutex_lock(&c->mu);
            snapshot_hdr *old = c->cur;
            c->cur = s;
            bool free_old = old && --old->refs == 0;
            pthread_mutex_unlock(&c->mu);
            if (free_old)
                c->free_fn(old);
            c->version = v;
            c->loaded = true;
        }
    }
    pthread_mutex_unlock(&c->reload_mu);
    return e;
}

snapshot_hdr *snapshot_cache_acquire(snapshot_cache *c)
{
    pthread_mutex_lock(&c->mu);
    snapshot_hdr *s = c->cur;
    if (s)
        s->refs++;
    pthread_mutex_unlock(&c->mu);
    return s;
}

void snapshot_cache_release(snapshot_cache *c, snapshot_hdr *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&c->mu);
    bool free_it = --s->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (free_it)
        c->free_fn(s);
}
