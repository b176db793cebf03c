#include "itsm/itsm_servicenow_auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/clock.h"
#include "itsm/itsm_servicenow_wire.h"

#define SECRET_MAX 4096
#define TOKEN_MAX 2048
#define TOKEN_SLOTS 8
#define REFRESH_EARLY_S 60

tb_err sn_read_secret_file(const char *path, char **out, char *err, size_t errsz)
{
    *out = NULL;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        tb_errmsg(err, errsz, "cannot read %s: %s", path, strerror(errno));
        return TB_ERR_CONFIG;
    }
    char *buf = malloc(SECRET_MAX + 2);
    if (!buf) {
        fclose(fp);
        return TB_ERR_NOMEM;
    }
    size_t n = fgets(buf, SECRET_MAX + 2, fp) ? strlen(buf) : 0;
    fclose(fp);
    int too_long = n > SECRET_MAX && buf[n - 1] != '\n';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (!n || too_long) {
        sodium_memzero(buf, SECRET_MAX + 2);
        free(buf);
        tb_errmsg(err, errsz, "%s: %s", path, n ? "longer than 4096 bytes" : "empty");
        return TB_ERR_CONFIG;
    }
    *out = buf;
    return TB_OK;
}

static void wipe_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

void sn_creds_wipe(sn_creds *c)
{
    wipe_free(c->password);
    wipe_free(c->client_secret);
    c->password = c->client_secret = NULL;
}

tb_err sn_oauth_parse(const char *body, size_t len, char *tok, size_t toksz, long *expires_in)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *t = json_string_value(json_object_get(root, "access_token"));
    json_t *e = json_object_get(root, "expires_in");
    tb_err rc = TB_OK;
    if (!t || !*t || strlen(t) >= toksz || strpbrk(t, "\r\n "))
        rc = TB_ERR_INVALID;
    else {
        snprintf(tok, toksz, "%s", t);
        *expires_in = 1800;
        if (json_is_integer(e) && json_integer_value(e) > 0)
            *expires_in = (long)json_integer_value(e);
        else if (json_is_string(e) && atol(json_string_value(e)) > 0)
            *expires_in = atol(json_string_value(e));
    }
    json_decref(root);
    return rc;
}

/* The process-wide token cache: a few slots keyed by instance, client, user. */
typedef struct token_slot {
    unsigned char key[32];
    int used;
    char token[TOKEN_MAX];
    int64_t expires_ms;
} token_slot;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static token_slot g_slots[TOKEN_SLOTS];

static void slot_key(const sn_creds *c, unsigned char key[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    const char *parts[] = {c->base, c->client_id, c->user ? c->user : ""};
    for (size_t i = 0; i < 3; i++)
        crypto_generichash_update(&st, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
    crypto_generichash_final(&st, key, 32);
}

static token_slot *slot_find(const unsigned char key[32], int make)
{
    token_slot *oldest = &g_slots[0];
    for (size_t i = 0; i < TOKEN_SLOTS; i++) {
        if (g_slots[i].used && !memcmp(g_slots[i].key, key, 32))
            return &g_slots[i];
        if (!g_slots[i].used || g_slots[i].expires_ms < oldest->expires_ms)
            oldest = &g_slots[i];
    }
    return make ? oldest : NULL;
}

static tb_err fetch_token(tb_http_client *http, const sn_creds *c, char *tok, size_t toksz,
                          long *expires_in, char *err, size_t errsz)
{
    tb_buf url, form, body;
    tb_buf_init(&url, 0);
    tb_buf_init(&form, 64 * 1024);
    tb_buf_init(&body, 64 * 1024);
    int pw = c->user && *c->user;
    tb_err rc = sn_plain_url(&url, c->base, "/oauth_token.do");
    if (!rc)
        rc = tb_http_form_add(&form, "grant_type", pw ? "password" : "client_credentials");
    if (!rc)
        rc = tb_http_form_add(&form, "client_id", c->client_id);
    if (!rc)
        rc = tb_http_form_add(&form, "client_secret", c->client_secret ? c->client_secret : "");
    if (!rc && pw)
        rc = tb_http_form_add(&form, "username", c->user);
    if (!rc && pw)
        rc = tb_http_form_add(&form, "password", c->password ? c->password : "");
    tb_http_response rs;
    if (!rc) {
        tb_http_request rq = {.method = TB_HTTP_POST, .url = url.data, .form = form.data,
                              .timeout_ms = c->timeout_ms, .ca_bundle = c->ca_file,
                              .proxy = c->proxy, .body = &body};
        rc = tb_http_perform(http, &rq, &rs);
        int refused = rc && (rs.status == 400 || rs.status == 401);
        if (refused)
            tb_errmsg(err, errsz, "ServiceNow OAuth token: HTTP %ld; check "
                      "servicenow_oauth_client_id, its secret file and the user", rs.status);
        else if (rc)
            tb_errmsg(err, errsz, "ServiceNow OAuth token: %s", rs.err);
        if (refused)
            rc = TB_ERR_DENIED;
    }
    if (!rc && (rc = sn_oauth_parse(body.data, body.len, tok, toksz, expires_in)))
        tb_errmsg(err, errsz, "ServiceNow OAuth token: the answer has no access_token");
    if (form.data)
        sodium_memzero(form.data, form.len);
    tb_buf_free(&url);
    tb_buf_free(&form);
    if (body.data)
        sodium_memzero(body.data, body.len);
    tb_buf_free(&body);
    return rc;
}

tb_err sn_oauth_token(tb_http_client *http, const sn_creds *c, int force, char *tok, size_t toksz,
                      char *err, size_t errsz)
{
    unsigned char key[32];
    slot_key(c, key);
    int64_t now = tb_now_ms();
    pthread_mutex_lock(&g_lock);
    token_slot *s = slot_find(key, 0);
    if (s && force)
        sodium_memzero(s, sizeof *s);
    else if (s && s->expires_ms > now && strlen(s->token) < toksz) {
        snprintf(tok, toksz, "%s", s->token);
        pthread_mutex_unlock(&g_lock);
        return TB_OK;
    }
    pthread_mutex_unlock(&g_lock);

    /* Two threads may both fetch at expiry; both tokens are valid, the last
     * one stays cached. */
    long expires_in = 0;
    tb_err rc = fetch_token(http, c, tok, toksz, &expires_in, err, errsz);
    if (rc)
        return rc;
    pthread_mutex_lock(&g_lock);
    s = slot_find(key, 1);
    memcpy(s->key, key, 32);
    s->used = 1;
    snprintf(s->token, sizeof s->token, "%s", tok);
    long life = expires_in > 2 * REFRESH_EARLY_S ? expires_in - REFRESH_EARLY_S : expires_in / 2;
    s->expires_ms = now + (int64_t)life * 1000;
    pthread_mutex_unlock(&g_lock);
    return TB_OK;
}
