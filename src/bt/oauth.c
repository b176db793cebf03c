#include "bt/oauth.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "core/log.h"

#define DEFAULT_TIMEOUT_MS 30000L

/* One cached token per (appliance id, client id). Fields below the mutex line
 * are guarded by the cache mutex. An entry is freed when it is dead (unlinked
 * by bt_oauth_forget or replaced) and no thread is using it. */
typedef struct entry {
    struct entry *next;
    int64_t appliance_id;
    char *client_id;
    char *secret;               /* copy of the caller's plaintext; wiped on free */
    char *base_url;             /* where tokens come from: token_url, else base_url */
    pthread_cond_t cond;        /* signalled when a refresh finishes */
    /* --- guarded by bt_oauth_cache.mu --- */
    char *token;                /* NULL = none; wiped on free */
    uint64_t gen;               /* bumped for every installed token */
    int64_t expires_ms;         /* monotonic */
    int64_t refresh_ms;         /* monotonic: refresh from here on */
    bool refreshing;            /* one thread is talking to /oauth2/token */
    uint64_t refresh_seq;       /* completed refreshes */
    uint64_t config_seq;        /* bumped when secret/base URL change */
    tb_err last_rc;             /* result of the last completed refresh */
    char last_err[TB_HTTP_ERRMSG];
    int users;                  /* threads inside bt_oauth_get on this entry */
    bool dead;
} entry;

struct bt_oauth_cache {
    pthread_mutex_t mu;
    entry *head;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wipe_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

static void entry_free(entry *e)
{
    wipe_free(e->token);
    wipe_free(e->secret);
    free(e->client_id);
    free(e->base_url);
    pthread_cond_destroy(&e->cond);
    free(e);
}

tb_err bt_oauth_cache_new(bt_oauth_cache **out)
{
    *out = NULL;
    bt_oauth_cache *c = calloc(1, sizeof *c);
    if (!c)
        return TB_ERR_NOMEM;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return TB_ERR_NOMEM;
    }
    *out = c;
    return TB_OK;
}

void bt_oauth_cache_free(bt_oauth_cache *c)
{
    if (!c)
        return;
    entry *e = c->head;
    while (e) {
        entry *n = e->next;
        entry_free(e);
        e = n;
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static const char *token_source(const bt_conn *conn)
{
    return conn->token_url && *conn->token_url ? conn->token_url : conn->base_url;
}

static bool secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && sodium_memcmp(a, b, la) == 0;
}

static void unlink_entry(bt_oauth_cache *c, entry *e)
{
    for (entry **pp = &c->head; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    e->dead = true;
    if (e->users == 0)
        entry_free(e);
}

static entry *find(bt_oauth_cache *c, int64_t appliance_id, const char *client_id)
{
    for (entry *e = c->head; e; e = e->next)
        if (e->appliance_id == appliance_id && strcmp(e->client_id, client_id) == 0)
            return e;
    return NULL;
}

/* Finds or creates the entry for conn; a new entry replaces any entry of the
 * same appliance under another client id (one token per appliance). */
static entry *entry_for(bt_oauth_cache *c, const bt_conn *conn)
{
    entry *e = find(c, conn->appliance_id, conn->client_id);
    if (e)
        return e;
    e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->appliance_id = conn->appliance_id;
    e->client_id = strdup(conn->client_id);
    e->secret = strdup(conn->client_secret);
    e->base_url = strdup(token_source(conn));
    if (!e->client_id || !e->secret || !e->base_url ||
        pthread_cond_init(&e->cond, NULL) != 0) {
        wipe_free(e->secret);
        free(e->client_id);
        free(e->base_url);
        free(e);
        return NULL;
    }
    for (entry *o = c->head, *n; o; o = n) {
        n = o->next;
        if (o->appliance_id == conn->appliance_id)
            unlink_entry(c, o);
    }
    e->next = c->head;
    c->head = e;
    return e;
}

/* The caller's secret or base URL differs from the cached copy: adopt the new
 * values and drop the token (it belongs to the old credentials). */
static tb_err sync_config(entry *e, const bt_conn *conn)
{
    if (secret_equal(e->secret, conn->client_secret) && strcmp(e->base_url, token_source(conn)) == 0)
        return TB_OK;
    char *s = strdup(conn->client_secret);
    char *u = strdup(token_source(conn));
    if (!s || !u) {
        wipe_free(s);
        free(u);
        return TB_ERR_NOMEM;
    }
    wipe_free(e->secret);
    free(e->base_url);
    e->secret = s;
    e->base_url = u;
    wipe_free(e->token);
    e->token = NULL;
    e->config_seq++;
    return TB_OK;
}

static bool token_chars_ok(const char *t, size_t n)
{
    if (n == 0 || n >= BT_OAUTH_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
            return false;
    return true;
}

/* Parses the token answer. On success *tok is a malloc'd copy (wipe it). */
static tb_err parse_reply(const char *body, size_t len, char **tok, double *ttl_s, char *err,
                          size_t errsz)
{
    json_error_t jerr;
    json_t *j = json_loadb(body, len, 0, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        snprintf(err, errsz, "OAuth token answer is not a JSON object");
        return TB_ERR_HTTP;
    }
    tb_err rc = TB_ERR_HTTP;
    json_t *at = json_object_get(j, "access_token");
    json_t *tt = json_object_get(j, "token_type");
    json_t *ei = json_object_get(j, "expires_in");
    if (!json_is_string(at) || !token_chars_ok(json_string_value(at), json_string_length(at))) {
        snprintf(err, errsz, "OAuth token answer has no usable access_token");
        goto out;
    }
    /* [V] token_type is "Bearer"; clients in the wild see "bearer" too. */
    if (tt && (!json_is_string(tt) || strcasecmp(json_string_value(tt), "bearer") != 0)) {
        snprintf(err, errsz, "OAuth token answer has an unsupported token_type");
        goto out;
    }
    double ttl = 0;
    if (json_is_number(ei))
        ttl = json_number_value(ei);
    else if (json_is_string(ei))
        ttl = strtod(json_string_value(ei), NULL);
    if (!(ttl > 0)) {
        TB_LOGW("OAuth token answer without a usable expires_in", "assumed_s=%d",
                BT_OAUTH_FALLBACK_TTL_S);
        ttl = BT_OAUTH_FALLBACK_TTL_S;
    }
    if (ttl > 86400.0 * 366)
        ttl = 86400.0 * 366;
    *tok = strdup(json_string_value(at));
    if (!*tok) {
        rc = TB_ERR_NOMEM;
        goto out;
    }
    *ttl_s = ttl;
    rc = TB_OK;
out:
    json_decref(j);
    return rc;
}

/* One POST /oauth2/token. Runs without the cache mutex. */
static tb_err fetch_token(tb_http_client *http, const bt_conn *conn, char **tok, double *ttl_s,
                          char *err, size_t errsz)
{
    char url[1024];
    int un = conn->token_url && *conn->token_url ? snprintf(url, sizeof url, "%s", conn->token_url)
                                                 : snprintf(url, sizeof url, "%s/oauth2/token", conn->base_url);
    if (un < 0 || (size_t)un >= sizeof url) {
        snprintf(err, errsz, "token URL too long");
        return TB_ERR_INVALID;
    }
    tb_buf form;
    tb_buf_init(&form, 16 * 1024);
    tb_err rc = tb_http_form_add(&form, "grant_type", "client_credentials");
    if (!rc && conn->token_form_auth && !(rc = tb_http_form_add(&form, "client_id", conn->client_id)))
        rc = tb_http_form_add(&form, "client_secret", conn->client_secret);
    if (rc) {
        if (form.data)
            sodium_memzero(form.data, form.len);
        tb_buf_free(&form);
        snprintf(err, errsz, "cannot build the token request: %s", tb_strerror(rc));
        return rc;
    }
    tb_buf body;
    tb_buf_init(&body, BT_OAUTH_REPLY_MAX);
    tb_http_request rq = {
        .method = TB_HTTP_POST,
        .url = url,
        .form = form.data,
        .basic_user = conn->token_form_auth ? NULL : conn->client_id,
        .basic_pass = conn->token_form_auth ? NULL : conn->client_secret,
        .connect_timeout_ms = conn->connect_timeout_ms,
        .timeout_ms = conn->timeout_ms > 0 ? conn->timeout_ms : DEFAULT_TIMEOUT_MS,
        .ca_bundle = conn->ca_bundle,
        .proxy = conn->proxy,
        .forbid_reuse = true,
        .body = &body,
    };
    tb_http_response rs;
    rc = tb_http_perform(http, &rq, &rs);
    sodium_memzero(form.data, form.len);
    tb_buf_free(&form);
    if (rc == TB_ERR_HTTP && (rs.status == 401 || rs.status == 403 ||
                              (rs.status == 400 && strstr(rs.err_body, "\"invalid_client\"")))) {
        snprintf(err, errsz, "%s", BT_OAUTH_DENIED_MSG);
        rc = TB_ERR_DENIED;
    } else if (rc) {
        snprintf(err, errsz, "OAuth token request: %s", rs.err);
    } else {
        rc = parse_reply(body.data ? body.data : "", body.len, tok, ttl_s, err, errsz);
    }
    if (body.data)
        sodium_memzero(body.data, body.len);
    tb_buf_free(&body);
    return rc;
}

static tb_err copy_out(const char *t, char *tok, size_t toksz, char *err, size_t errsz)
{
    size_t n = strlen(t);
    if (n >= toksz) {
        snprintf(err, errsz, "OAuth token longer than the caller's buffer");
        return TB_ERR_INVALID;
    }
    memcpy(tok, t, n + 1);
    return TB_OK;
}

tb_err bt_oauth_get(bt_oauth_cache *c, tb_http_client *http, const bt_conn *conn, char *tok,
                    size_t toksz, uint64_t *gen, char *err, size_t errsz)
{
    char scratch[8];
    if (!err || !errsz) {
        err = scratch;
        errsz = sizeof scratch;
    }
    err[0] = '\0';
    if (toksz)
        tok[0] = '\0';
    if (!conn || !conn->base_url || !*conn->base_url || !conn->client_id || !*conn->client_id ||
        !conn->client_secret || !*conn->client_secret) {
        snprintf(err, errsz, "appliance has no API URL, OAuth client id or client secret");
        return TB_ERR_INVALID;
    }
    pthread_mutex_lock(&c->mu);
    entry *e = entry_for(c, conn);
    if (!e || sync_config(e, conn) != TB_OK) {
        pthread_mutex_unlock(&c->mu);
        snprintf(err, errsz, "out of memory");
        return TB_ERR_NOMEM;
    }
    e->users++;
    tb_err rc;
    for (;;) {
        int64_t now = mono_ms();
        if (e->token && (now < e->refresh_ms || (e->refreshing && now < e->expires_ms))) {
            rc = copy_out(e->token, tok, toksz, err, errsz);
            if (gen)
                *gen = e->gen;
            break;
        }
        if (e->refreshing) {
            uint64_t seq = e->refresh_seq;
            while (e->refreshing && e->refresh_seq == seq)
                pthread_cond_wait(&e->cond, &c->mu);
            if (e->refresh_seq != seq && e->last_rc != TB_OK) {
                rc = e->last_rc; /* share the failed refresh's result */
                snprintf(err, errsz, "%s", e->last_err);
                break;
            }
            continue;
        }
        /* This thread refreshes; everyone else waits on e->cond. */
        e->refreshing = true;
        uint64_t cfg = e->config_seq;
        pthread_mutex_unlock(&c->mu);

        char *fresh = NULL;
        double ttl_s = 0;
        int64_t start = mono_ms();
        rc = fetch_token(http, conn, &fresh, &ttl_s, err, errsz);

        pthread_mutex_lock(&c->mu);
        if (rc == TB_OK) {
            if (cfg == e->config_seq) {
                int64_t life = (int64_t)(ttl_s * 1000.0);
                int64_t margin = life / 10 > BT_OAUTH_REFRESH_MIN_S * 1000 ? life / 10
                                                                           : BT_OAUTH_REFRESH_MIN_S * 1000;
                if (margin > life / 2)
                    margin = life / 2;
                wipe_free(e->token);
                e->token = fresh;
                e->gen++;
                e->expires_ms = start + life;
                e->refresh_ms = e->expires_ms - margin;
                fresh = NULL;
                rc = copy_out(e->token, tok, toksz, err, errsz);
                if (gen)
                    *gen = e->gen;
            } else { /* credentials changed meanwhile: usable by us, not cached */
                rc = copy_out(fresh, tok, toksz, err, errsz);
                if (gen)
                    *gen = 0;
            }
            TB_LOGI("OAuth token obtained", "appliance_id=%" PRId64 " expires_in=%.0f",
                    conn->appliance_id, ttl_s);
        } else {
            char q[TB_HTTP_ERRMSG + 8];
            TB_LOGW("OAuth token request failed", "appliance_id=%" PRId64 " error=%s",
                    conn->appliance_id, tb_log_quote(q, sizeof q, err));
        }
        wipe_free(fresh);
        e->refreshing = false;
        e->refresh_seq++;
        e->last_rc = rc;
        snprintf(e->last_err, sizeof e->last_err, "%s", rc ? err : "");
        pthread_cond_broadcast(&e->cond);
        break;
    }
    e->users--;
    if (e->dead && e->users == 0)
        entry_free(e);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void bt_oauth_invalidate(bt_oauth_cache *c, const bt_conn *conn, uint64_t gen)
{
    if (!c || !conn || !conn->client_id)
        return;
    pthread_mutex_lock(&c->mu);
    entry *e = find(c, conn->appliance_id, conn->client_id);
    if (e && e->token && e->gen == gen) {
        wipe_free(e->token);
        e->token = NULL;
        TB_LOGI("OAuth token rejected by the appliance; will refresh",
                "appliance_id=%" PRId64, conn->appliance_id);
    }
    pthread_mutex_unlock(&c->mu);
}

void bt_oauth_forget(bt_oauth_cache *c, int64_t appliance_id)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    for (entry *e = c->head, *n; e; e = n) {
        n = e->next;
        if (e->appliance_id == appliance_id)
            unlink_entry(c, e);
    }
    pthread_mutex_unlock(&c->mu);
}
