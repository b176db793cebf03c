#include "flow/auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/secret.h"
#include "flow/auth_cache.h"
#include "flow/auth_header.h"
#include "flow/auth_throttle.h"
#include "store/store.h"

#define TOUCH_QUEUE_MAX 1024
/* A flood of bad credentials must not become a flood of log lines. */
#define FAILURE_LOGS_PER_SECOND 20
/* The background thread's writes (last uses) give way to the daemon's
 * writer instead of queueing behind it; they are retried next round. */
#define TOUCH_BUSY_TIMEOUT_MS 100

struct touch {
    int64_t token_id;
    int64_t at;                     /* unix seconds */
};

struct auth {
    auth_opts o;
    unsigned char key[crypto_generichash_KEYBYTES];     /* per process: cache and throttle keys */
    char dummy_hash[128];           /* verified for unknown users, so they cost the same */
    auth_cache *cache;
    auth_throttle *by_peer, *by_user;
    atomic_uint_fast64_t generation;

    pthread_mutex_t read_mu;        /* guards reader */
    tb_store *reader;

    pthread_mutex_t refresh_mu;     /* guards bg, version, version_failing, flushing */
    tb_store *bg;
    int64_t version;
    bool version_failing;
    struct touch flushing[TOUCH_QUEUE_MAX];

    pthread_mutex_t touch_mu;       /* guards touches, ntouches */
    struct touch touches[TOUCH_QUEUE_MAX];
    size_t ntouches;

    pthread_mutex_t stop_mu;        /* guards stop */
    pthread_cond_t stop_cv;
    bool stop;
    bool thread_started;
    pthread_t thread;

    pthread_mutex_t log_mu;         /* guards the failure-log budget */
    int64_t log_second;
    int logged;
    uint64_t suppressed;

    atomic_uint_fast64_t verifications, cache_hits, failures, throttled;
};

void auth_opts_default(auth_opts *o)
{
    *o = (auth_opts){
        .ttl_ms = 60000,
        .failure_ttl_ms = 60000,
        .check_interval_ms = 500,
        .touch_interval_ms = 60000,
        .cache_entries = 4096,
        .peer_failures = 20,
        .user_failures = 10,
        .failure_window_ms = 60000,
    };
}

static int64_t mono_ms(void)
{
    return tb_mono_ns() / 1000000;
}

/* ---- keys ---- */

static void cred_key(const auth *a, const auth_credentials *c, unsigned char out[AUTH_KEY_BYTES])
{
    crypto_generichash_state st;
    unsigned char tag = c->scheme == AUTH_SCHEME_BASIC ? 'B' : 'T';
    crypto_generichash_init(&st, a->key, sizeof a->key, AUTH_KEY_BYTES);
    crypto_generichash_update(&st, &tag, 1);
    crypto_generichash_update(&st, (const unsigned char *)c->user, strlen(c->user) + 1);
    crypto_generichash_update(&st, (const unsigned char *)c->secret, strlen(c->secret));
    crypto_generichash_final(&st, out, AUTH_KEY_BYTES);
    sodium_memzero(&st, sizeof st);
}

static void name_key(const auth *a, unsigned char tag, const char *s, unsigned char out[AUTH_KEY_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, a->key, sizeof a->key, AUTH_KEY_BYTES);
    crypto_generichash_update(&st, &tag, 1);
    crypto_generichash_update(&st, (const unsigned char *)s, strlen(s));
    crypto_generichash_final(&st, out, AUTH_KEY_BYTES);
}

/* ---- logging ---- */

static void log_failure(auth *a, const char *scheme, const char *user, const char *token, const char *peer,
                        const char *reason)
{
    int64_t sec = (int64_t)time(NULL);
    uint64_t dropped = 0;
    pthread_mutex_lock(&a->log_mu);
    if (sec != a->log_second) {
        dropped = a->suppressed;
        a->log_second = sec;
        a->logged = 0;
        a->suppressed = 0;
    }
    bool log = a->logged < FAILURE_LOGS_PER_SECOND;
    if (log)
        a->logged++;
    else
        a->suppressed++;
    pthread_mutex_unlock(&a->log_mu);
    if (dropped)
        TB_LOGW("login failures not logged", "count=%llu", (unsigned long long)dropped);
    if (!log)
        return;
    char qu[160], qp[96];
    TB_LOGW("login failed", "scheme=%s user=%s token=%s peer=%s reason=%s", scheme,
            tb_log_quote(qu, sizeof qu, user ? user : "-"), token ? token : "-",
            tb_log_quote(qp, sizeof qp, peer), reason);
}

/* ---- last use of tokens ---- */

static void queue_touch(auth *a, int64_t token_id)
{
    int64_t at = (int64_t)time(NULL);
    pthread_mutex_lock(&a->touch_mu);
    size_t i = 0;
    while (i < a->ntouches && a->touches[i].token_id != token_id)
        i++;
    if (i < a->ntouches)
        a->touches[i].at = at;
    else if (a->ntouches < TOUCH_QUEUE_MAX)     /* full: this use goes unrecorded; the next one will not */
        a->touches[a->ntouches++] = (struct touch){token_id, at};
    pthread_mutex_unlock(&a->touch_mu);
}

/* Called with refresh_mu held. */
static void flush_touches(auth *a)
{
    pthread_mutex_lock(&a->touch_mu);
    size_t n = a->ntouches;
    memcpy(a->flushing, a->touches, n * sizeof *a->touches);
    a->ntouches = 0;
    pthread_mutex_unlock(&a->touch_mu);
    if (!n)
        return;
    tb_err e = store_begin(a->bg);
    for (size_t i = 0; !e && i < n; i++)
        e = store_token_touch(a->bg, a->flushing[i].token_id, a->flushing[i].at);
    if (!e)
        e = store_commit(a->bg);
    if (!e)
        return;
    store_rollback(a->bg);
    if (e != TB_ERR_BUSY)
        TB_LOGW("token last use not stored", "tokens=%zu err=\"%s\"", n, tb_strerror(e));
    pthread_mutex_lock(&a->touch_mu);
    for (size_t i = 0; i < n && a->ntouches < TOUCH_QUEUE_MAX; i++)
        a->touches[a->ntouches++] = a->flushing[i];
    pthread_mutex_unlock(&a->touch_mu);
}

void auth_refresh(auth *a)
{
    pthread_mutex_lock(&a->refresh_mu);
    int64_t v = 0;
    tb_err e = store_auth_version(a->bg, &v);
    if (e) {
        /* Cannot tell whether anything was revoked: trust nothing remembered. */
        atomic_fetch_add(&a->generation, 1);
        if (!a->version_failing)
            TB_LOGE("cannot read the auth version; every request is verified again", "err=\"%s\"",
                    tb_strerror(e));
        a->version_failing = true;
    } else {
        if (a->version_failing)
            TB_LOGI("auth version readable again", "version=%lld", (long long)v);
        a->version_failing = false;
        if (v != a->version) {
            a->version = v;
            atomic_fetch_add(&a->generation, 1);
            TB_LOGD("accounts or tokens changed; remembered credentials retired", "version=%lld", (long long)v);
        }
    }
    flush_touches(a);
    pthread_mutex_unlock(&a->refresh_mu);
}

static void *refresher(void *arg)
{
    auth *a = arg;
    pthread_mutex_lock(&a->stop_mu);
    while (!a->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (a->o.check_interval_ms % 1000) * 1000000;
        ts.tv_sec += a->o.check_interval_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&a->stop_cv, &a->stop_mu, &ts);
        if (a->stop)
            break;
        pthread_mutex_unlock(&a->stop_mu);
        auth_refresh(a);
        pthread_mutex_lock(&a->stop_mu);
    }
    pthread_mutex_unlock(&a->stop_mu);
    return NULL;
}

/* ---- open / close ---- */

tb_err auth_open(const char *db_path, auth **out)
{
    auth_opts o;
    auth_opts_default(&o);
    return auth_open_opts(db_path, &o, out);
}

tb_err auth_open_opts(const char *db_path, const auth_opts *o, auth **out)
{
    auth *a = calloc(1, sizeof *a);
    if (!a)
        return TB_ERR_NOMEM;
    a->o = *o;
    randombytes_buf(a->key, sizeof a->key);
    atomic_init(&a->generation, 1);
    pthread_mutex_init(&a->read_mu, NULL);
    pthread_mutex_init(&a->refresh_mu, NULL);
    pthread_mutex_init(&a->touch_mu, NULL);
    pthread_mutex_init(&a->stop_mu, NULL);
    pthread_mutex_init(&a->log_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->stop_cv, &ca);
    pthread_condattr_destroy(&ca);

    char junk[CREDENTIAL_PASSWORD_GENERATED + 1];
    tb_random_token(junk, CREDENTIAL_PASSWORD_GENERATED);
    tb_err e = tb_password_hash(junk, a->dummy_hash);
    sodium_memzero(junk, sizeof junk);
    if (!e)
        e = auth_cache_new(o->cache_entries, &a->cache);
    if (!e)
        e = auth_throttle_new(o->cache_entries, o->peer_failures, o->failure_window_ms, &a->by_peer);
    if (!e)
        e = auth_throttle_new(o->cache_entries, o->user_failures, o->failure_window_ms, &a->by_user);
    if (!e)
        e = store_open(db_path, STORE_READ_ONLY, &a->reader);
    if (!e)
        e = store_open(db_path, 0, &a->bg);
    if (!e) {
        store_busy_timeout(a->bg, TOUCH_BUSY_TIMEOUT_MS);
        e = store_auth_version(a->bg, &a->version);
    }
    if (!e && o->check_interval_ms > 0) {
        if (pthread_create(&a->thread, NULL, refresher, a))
            e = TB_ERR_NOMEM;
        else
            a->thread_started = true;
    }
    if (e) {
        auth_close(a);
        return e;
    }
    *out = a;
    return TB_OK;
}

void auth_close(auth *a)
{
    if (!a)
        return;
    if (a->thread_started) {
        pthread_mutex_lock(&a->stop_mu);
        a->stop = true;
        pthread_cond_signal(&a->stop_cv);
        pthread_mutex_unlock(&a->stop_mu);
        pthread_join(a->thread, NULL);
    }
    if (a->bg) {
        pthread_mutex_lock(&a->refresh_mu);
        flush_touches(a);       /* last uses seen before the stop are kept */
        pthread_mutex_unlock(&a->refresh_mu);
    }
    store_close(a->reader);
    store_close(a->bg);
    auth_cache_free(a->cache);
    auth_throttle_free(a->by_peer);
    auth_throttle_free(a->by_user);
    pthread_cond_destroy(&a->stop_cv);
    pthread_mutex_destroy(&a->read_mu);
    pthread_mutex_destroy(&a->refresh_mu);
    pthread_mutex_destroy(&a->touch_mu);
    pthread_mutex_destroy(&a->stop_mu);
    pthread_mutex_destroy(&a->log_mu);
    sodium_memzero(a->key, sizeof a->key);
    free(a);
}

/* ---- checks ---- */

static void fill(auth_principal *who, const auth_cache_entry *e)
{
    memset(who, 0, sizeof *who);
    who->account_id = e->account_id;
    who->token_id = e->token_id;
    memcpy(who->username, e->username, sizeof who->username);
    memcpy(who->roles, e->roles, sizeof who->roles);
}

static void remember_failure(auth *a, const unsigned char *key, auth_result r, uint64_t gen, int64_t now)
{
    auth_cache_entry ce;
    memset(&ce, 0, sizeof ce);
    ce.failure = (int)r;
    ce.generation = gen;
    ce.expires_ms = now + a->o.failure_ttl_ms;
    auth_cache_put(a->cache, key, &ce, now);
    atomic_fetch_add(&a->failures, 1);
}

static auth_result check_token(auth *a, const auth_credentials *cr, const unsigned char *key, int64_t now,
                               uint64_t gen, const char *peer, auth_principal *who)
{
    char hash[CREDENTIAL_TOKEN_HASH_HEX + 1], shown[CREDENTIAL_TOKEN_SHOWN + 1];
    credential_token_hash(cr->secret, hash);
    credential_token_shown(cr->secret, shown);
    tb_token_owner o;
    pthread_mutex_lock(&a->read_mu);
    tb_err e = store_token_owner(a->reader, hash, &o);
    pthread_mutex_unlock(&a->read_mu);
    if (e && e != TB_ERR_NOT_FOUND) {
        TB_LOGE("cannot read API tokens", "err=\"%s\"", tb_strerror(e));
        return AUTH_ERROR;
    }
    int64_t wall_ms = tb_now_ms();
    const char *reason = NULL;
    auth_result r = AUTH_BAD_CREDENTIALS;
    if (e)
        reason = "unknown_token";
    else if (o.revoked_at)
        reason = "token_revoked";
    else if (o.expires_at && o.expires_at * 1000 <= wall_ms)
        reason = "token_expired";
    else if (o.disabled) {
        reason = "user_disabled";
        r = AUTH_DISABLED;
    }
    if (reason) {
        remember_failure(a, key, r, gen, now);
        log_failure(a, "bearer", e ? NULL : o.username, shown, peer, reason);
        return r;
    }
    auth_cache_entry ce;
    memset(&ce, 0, sizeof ce);
    ce.ok = true;
    ce.account_id = o.account_id;
    ce.token_id = o.token_id;
    memcpy(ce.username, o.username, sizeof ce.username);
    memcpy(ce.roles, o.roles, sizeof ce.roles);
    ce.generation = gen;
    ce.expires_ms = now + a->o.ttl_ms;
    if (o.expires_at && now + (o.expires_at * 1000 - wall_ms) < ce.expires_ms)
        ce.expires_ms = now + (o.expires_at * 1000 - wall_ms);
    ce.touched_ms = now;
    auth_cache_put(a->cache, key, &ce, now);
    queue_touch(a, o.token_id);
    fill(who, &ce);
    return AUTH_OK;
}

static auth_result check_password(auth *a, const auth_credentials *cr, const unsigned char *key, int64_t now,
                                  uint64_t gen, bool verified_before, const char *peer, auth_principal *who,
                                  int64_t *retry_ms)
{
    unsigned char pk[AUTH_KEY_BYTES], uk[AUTH_KEY_BYTES];
    name_key(a, 'P', peer, pk);
    name_key(a, 'U', cr->user, uk);
    if (!verified_before) {
        int64_t rp = 0, ru = 0;
        bool bp = auth_throttle_blocked(a->by_peer, pk, now, &rp);
        bool bu = auth_throttle_blocked(a->by_user, uk, now, &ru);
        if (bp || bu) {
            atomic_fetch_add(&a->throttled, 1);
            if (retry_ms)
                *retry_ms = rp > ru ? rp : ru;
            return AUTH_THROTTLED;
        }
    }
    tb_account acc;
    char hash[128];
    pthread_mutex_lock(&a->read_mu);
    tb_err e = store_account_find(a->reader, cr->user, &acc, hash);
    pthread_mutex_unlock(&a->read_mu);
    if (e && e != TB_ERR_NOT_FOUND) {
        TB_LOGE("cannot read accounts", "err=\"%s\"", tb_strerror(e));
        return AUTH_ERROR;
    }
    bool found = !e;
    bool valid = tb_password_verify(found ? hash : a->dummy_hash, cr->secret) && found;
    sodium_memzero(hash, sizeof hash);
    atomic_fetch_add(&a->verifications, 1);
    now = mono_ms();        /* the TTL counts from the verification's end */
    const char *reason = NULL;
    auth_result r = AUTH_BAD_CREDENTIALS;
    if (!found)
        reason = "unknown_user";
    else if (!valid)
        reason = "wrong_password";
    else if (acc.disabled) {
        reason = "user_disabled";
        r = AUTH_DISABLED;
    }
    if (reason) {
        char q[160];
        if (auth_throttle_fail(a->by_peer, pk, now))
            TB_LOGW("login throttled", "peer=%s failures=%d window_s=%lld", tb_log_quote(q, sizeof q, peer),
                    a->o.peer_failures, (long long)(a->o.failure_window_ms / 1000));
        if (auth_throttle_fail(a->by_user, uk, now))
            TB_LOGW("login throttled", "user=%s failures=%d window_s=%lld", tb_log_quote(q, sizeof q, cr->user),
                    a->o.user_failures, (long long)(a->o.failure_window_ms / 1000));
        remember_failure(a, key, r, gen, now);
        log_failure(a, "basic", cr->user, NULL, peer, reason);
        if (found)
            tb_account_clear(&acc);
        return r;
    }
    auth_cache_entry ce;
    memset(&ce, 0, sizeof ce);
    ce.ok = true;
    ce.account_id = acc.id;
    snprintf(ce.username, sizeof ce.username, "%s", acc.username);
    snprintf(ce.roles, sizeof ce.roles, "%s", acc.roles);
    ce.generation = gen;
    ce.expires_ms = now + a->o.ttl_ms;
    tb_account_clear(&acc);
    auth_cache_put(a->cache, key, &ce, now);
    fill(who, &ce);
    return AUTH_OK;
}

auth_result auth_check(auth *a, const char *authorization, const char *peer, auth_principal *who,
                       int64_t *retry_ms)
{
    memset(who, 0, sizeof *who);
    if (!peer)
        peer = "";
    if (!authorization)
        return AUTH_MISSING;
    auth_credentials cr;
    tb_err e = auth_header_parse(authorization, &cr);
    if (e) {
        atomic_fetch_add(&a->failures, 1);
        log_failure(a, "-", NULL, NULL, peer, e == TB_ERR_TOO_LARGE ? "oversized_header" : "malformed_header");
        return AUTH_MALFORMED;
    }
    unsigned char key[AUTH_KEY_BYTES];
    cred_key(a, &cr, key);
    int64_t now = mono_ms();
    /* Read before the database: an entry made from rows older than a change
     * then carries the old generation and is retired with it. */
    uint64_t gen = atomic_load(&a->generation);
    auth_cache_entry ce;
    auth_cache_result cached = auth_cache_get(a->cache, key, now, gen, &ce);
    auth_result r;
    if (cached == AUTH_CACHE_HIT) {
        atomic_fetch_add(&a->cache_hits, 1);
        if (ce.ok) {
            fill(who, &ce);
            if (ce.token_id && auth_cache_touch_due(a->cache, key, now, a->o.touch_interval_ms))
                queue_touch(a, ce.token_id);
            r = AUTH_OK;
        } else {
            atomic_fetch_add(&a->failures, 1);
            r = (auth_result)ce.failure;
        }
    } else if (cr.scheme == AUTH_SCHEME_BEARER) {
        r = check_token(a, &cr, key, now, gen, peer, who);
    } else {
        r = check_password(a, &cr, key, now, gen, cached == AUTH_CACHE_STALE && ce.ok, peer, who, retry_ms);
    }
    auth_credentials_wipe(&cr);
    sodium_memzero(&ce, sizeof ce);
    return r;
}

bool auth_principal_has(const auth_principal *who, const char *role)
{
    return who && roles_grant(who->roles, role);
}

void auth_reply_forbidden(tb_http_req *req, const auth_principal *who, const char *role)
{
    char msg[160], detail[256], qu[160];
    snprintf(msg, sizeof msg, "User lacks role %s", role);
    snprintf(detail, sizeof detail, "an administrator can grant it: ticketbridge user roles %s --add %s",
             who->username, role);
    TB_LOGI("access denied", "user=%s role=%s route=%s", tb_log_quote(qu, sizeof qu, who->username), role,
            tb_http_route_name(req));
    tb_http_reply_error(req, 403, msg, detail);
}

bool auth_require(auth *a, tb_http_req *req, const char *role, auth_principal *who)
{
    auth_principal tmp;
    if (!who)
        who = &tmp;
    int64_t retry_ms = 0;
    auth_result r = auth_check(a, tb_http_header(req, "Authorization"), tb_http_peer_str(req), who, &retry_ms);
    if (r == AUTH_OK) {
        if (!role || !*role || auth_principal_has(who, role))
            return true;
        auth_reply_forbidden(req, who, role);
    } else if (r == AUTH_THROTTLED) {
        char secs[24], detail[64];
        long long s = retry_ms > 0 ? (retry_ms + 999) / 1000 : 1;
        snprintf(secs, sizeof secs, "%lld", s);
        snprintf(detail, sizeof detail, "try again in %lld s", s);
        tb_http_reply_header(req, "Retry-After", secs);
        tb_http_reply_error(req, 429, "Too many failed logins", detail);
    } else if (r == AUTH_ERROR) {
        tb_http_reply_error(req, 503, "Authentication unavailable", "the user database cannot be read; try again");
    } else {
        const char *detail = r == AUTH_MISSING ? "send Authorization: Basic (user name and password) or Bearer (API token)"
                           : r == AUTH_MALFORMED ? "malformed Authorization header"
                                                 : "invalid user name, password or API token";
        tb_http_reply_header(req, "WWW-Authenticate", "Basic realm=\"ticketbridge\"");
        tb_http_reply_error(req, 401, "Authentication required", detail);
    }
    memset(who, 0, sizeof *who);
    return false;
}

void auth_get_stats(auth *a, auth_stats *out)
{
    out->verifications = atomic_load(&a->verifications);
    out->cache_hits = atomic_load(&a->cache_hits);
    out->failures = atomic_load(&a->failures);
    out->throttled = atomic_load(&a->throttled);
    out->generation = atomic_load(&a->generation);
}

void auth_metrics(auth *a, tb_buf *out)
{
    auth_stats s;
    auth_get_stats(a, &s);
    tb_buf_printf(out,
                  "# HELP tb_auth_verifications_total Password (Argon2id) verifications.\n"
                  "# TYPE tb_auth_verifications_total counter\ntb_auth_verifications_total %llu\n"
                  "# HELP tb_auth_cache_hits_total Requests authenticated (or refused) from remembered checks.\n"
                  "# TYPE tb_auth_cache_hits_total counter\ntb_auth_cache_hits_total %llu\n"
                  "# HELP tb_auth_failures_total Requests refused for their credentials.\n"
                  "# TYPE tb_auth_failures_total counter\ntb_auth_failures_total %llu\n"
                  "# HELP tb_auth_throttled_total Requests refused after too many failed logins.\n"
                  "# TYPE tb_auth_throttled_total counter\ntb_auth_throttled_total %llu\n",
                  (unsigned long long)s.verifications, (unsigned long long)s.cache_hits,
                  (unsigned long long)s.failures, (unsigned long long)s.throttled);
}
