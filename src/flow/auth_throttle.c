#include "flow/auth_throttle.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4

typedef struct counter {
    bool used;
    unsigned char key[AUTH_KEY_BYTES];
    int64_t window_start_ms;
    int failures;
} counter;

struct auth_throttle {
    pthread_mutex_t mu;
    size_t nsets;
    int max_failures;
    int64_t window_ms;
    counter *v;
};

tb_err auth_throttle_new(size_t slots, int max_failures, int64_t window_ms, auth_throttle **out)
{
    auth_throttle *t = calloc(1, sizeof *t);
    if (!t)
        return TB_ERR_NOMEM;
    t->nsets = slots < WAYS ? 1 : (slots + WAYS - 1) / WAYS;
    t->max_failures = max_failures > 0 ? max_failures : 1;
    t->window_ms = window_ms > 0 ? window_ms : 1;
    t->v = calloc(t->nsets * WAYS, sizeof *t->v);
    if (!t->v) {
        free(t);
        return TB_ERR_NOMEM;
    }
    pthread_mutex_init(&t->mu, NULL);
    *out = t;
    return TB_OK;
}

void auth_throttle_free(auth_throttle *t)
{
    if (!t)
        return;
    free(t->v);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static counter *set_of(auth_throttle *t, const unsigned char *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return &t->v[(h % t->nsets) * WAYS];
}

static counter *find(counter *set, const unsigned char *key)
{
    for (int i = 0; i < WAYS; i++)
        if (set[i].used && !memcmp(set[i].key, key, AUTH_KEY_BYTES))
            return &set[i];
    return NULL;
}

bool auth_throttle_blocked(auth_throttle *t, const unsigned char key[AUTH_KEY_BYTES], int64_t now_ms,
                           int64_t *retry_ms)
{
    pthread_mutex_lock(&t->mu);
    counter *c = find(set_of(t, key), key);
    bool blocked = c && now_ms - c->window_start_ms < t->window_ms && c->failures >= t->max_failures;
    if (blocked && retry_ms)
        *retry_ms = c->window_start_ms + t->window_ms - now_ms;
    pthread_mutex_unlock(&t->mu);
    return blocked;
}

bool auth_throttle_fail(auth_throttle *t, const unsigned char key[AUTH_KEY_BYTES], int64_t now_ms)
{
    pthread_mutex_lock(&t->mu);
    counter *set = set_of(t, key);
    counter *c = find(set, key);
    if (!c) {
        /* a free slot, else the one whose window started longest ago */
        for (int i = 0; i < WAYS; i++) {
            if (!set[i].used) {
                c = &set[i];
                break;
            }
            if (!c || set[i].window_start_ms < c->window_start_ms)
                c = &set[i];
        }
        c->used = true;
        memcpy(c->key, key, AUTH_KEY_BYTES);
        c->window_start_ms = now_ms;
        c->failures = 0;
    }
    if (now_ms - c->window_start_ms >= t->window_ms) {
        c->window_start_ms = now_ms;
        c->failures = 0;
    }
    c->failures++;
    bool reached = c->failures == t->max_failures;
    pthread_mutex_unlock(&t->mu);
    return reached;
}
