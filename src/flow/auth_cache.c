#include "flow/auth_cache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4

typedef struct slot {
    bool used;
    unsigned char key[AUTH_KEY_BYTES];
    int64_t last_access_ms;
    auth_cache_entry e;
} slot;

/* One mutex: the critical sections are a few hundred nanoseconds, far
 * below what would make several HTTP threads wait on each other. */
struct auth_cache {
    pthread_mutex_t mu;
    size_t nsets;
    slot *slots;
};

tb_err auth_cache_new(size_t entries, auth_cache **out)
{
    auth_cache *c = calloc(1, sizeof *c);
    if (!c)
        return TB_ERR_NOMEM;
    c->nsets = entries < WAYS ? 1 : (entries + WAYS - 1) / WAYS;
    c->slots = calloc(c->nsets * WAYS, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return TB_ERR_NOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return TB_OK;
}

void auth_cache_free(auth_cache *c)
{
    if (!c)
        return;
    sodium_memzero(c->slots, c->nsets * WAYS * sizeof *c->slots);
    free(c->slots);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static slot *set_of(auth_cache *c, const unsigned char *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof h);      /* keys are uniformly random already */
    return &c->slots[(h % c->nsets) * WAYS];
}

static slot *find(slot *set, const unsigned char *key)
{
    for (int i = 0; i < WAYS; i++)
        if (set[i].used && !sodium_memcmp(set[i].key, key, AUTH_KEY_BYTES))
            return &set[i];
    return NULL;
}

auth_cache_result auth_cache_get(auth_cache *c, const unsigned char key[AUTH_KEY_BYTES], int64_t now_ms,
                                 uint64_t generation, auth_cache_entry *out)
{
    pthread_mutex_lock(&c->mu);
    slot *s = find(set_of(c, key), key);
    auth_cache_result r = AUTH_CACHE_MISS;
    if (s) {
        s->last_access_ms = now_ms;
        *out = s->e;
        r = s->e.generation == generation && now_ms < s->e.expires_ms ? AUTH_CACHE_HIT : AUTH_CACHE_STALE;
    }
    pthread_mutex_unlock(&c->mu);
    return r;
}

/* Where a new entry goes: its own slot, a free one, else the least recently
 * used failure, else (only for a success) the least recently used. */
static slot *victim(slot *set, const unsigned char *key, bool ok)
{
    slot *s = find(set, key);
    if (s)
        return s;
    slot *lru_fail = NULL, *lru = NULL;
    for (int i = 0; i < WAYS; i++) {
        if (!set[i].used)
            return &set[i];
        if (!set[i].e.ok && (!lru_fail || set[i].last_access_ms < lru_fail->last_access_ms))
            lru_fail = &set[i];
        if (!lru || set[i].last_access_ms < lru->last_access_ms)
            lru = &set[i];
    }
    if (lru_fail)
        return lru_fail;
    return ok ? lru : NULL;
}

void auth_cache_put(auth_cache *c, const unsigned char key[AUTH_KEY_BYTES], const auth_cache_entry *e,
                    int64_t now_ms)
{
    pthread_mutex_lock(&c->mu);
    slot *s = victim(set_of(c, key), key, e->ok);
    if (s) {
        s->used = true;
        memcpy(s->key, key, AUTH_KEY_BYTES);
        s->last_access_ms = now_ms;
        s->e = *e;
    }
    pthread_mutex_unlock(&c->mu);
}

bool auth_cache_touch_due(auth_cache *c, const unsigned char key[AUTH_KEY_BYTES], int64_t now_ms,
                          int64_t interval_ms)
{
    pthread_mutex_lock(&c->mu);
    slot *s = find(set_of(c, key), key);
    bool due = s && s->e.ok && now_ms - s->e.touched_ms >= interval_ms;
    if (due)
        s->e.touched_ms = now_ms;
    pthread_mutex_unlock(&c->mu);
    return due;
}
