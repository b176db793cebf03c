#include "flow/oauth_token_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "bt/outbound_event.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/secret.h"
#include "store/store_oauth.h"

struct oauth_token_api {
    char *db_path;
    auth *auth;
    tb_writer *writer;
};

tb_err oauth_token_api_new(const char *db_path, auth *a, tb_writer *w, oauth_token_api **out)
{
    oauth_token_api *api = calloc(1, sizeof *api);
    if (!api || !(api->db_path = strdup(db_path))) {
        free(api);
        return TB_ERR_NOMEM;
    }
    api->auth = a;
    api->writer = w;
    *out = api;
    return TB_OK;
}

void oauth_token_api_free(oauth_token_api *api)
{
    if (api) {
        free(api->db_path);
        free(api);
    }
}

static void reply_oauth_error(tb_http_req *req, int status, const char *error)
{
    char body[160];
    snprintf(body, sizeof body, "{\"error\":\"%s\",\"error_description\":\"%s\"}", error, error);
    tb_http_reply_json(req, status, body);
}

/* What one request issues, filled on the HTTP thread and written by the writer. */
typedef struct issue {
    int64_t client;
    int64_t lifetime;
    const char *username;
    char access[CREDENTIAL_TOKEN_LEN + 1];
    char refresh[CREDENTIAL_TOKEN_LEN + 1];     /* "" = none to store (refresh_token grant reuses its own) */
    bool new_refresh;
    int64_t now;
} issue;

static tb_err issue_write(tb_store *st, void *arg)
{
    issue *is = arg;
    tb_err e = store_oauth_purge(st, is->now - 1);
    char hash[CREDENTIAL_TOKEN_HASH_HEX + 1], shown[CREDENTIAL_TOKEN_SHOWN + 1];
    credential_token_hash(is->access, hash);
    credential_token_shown(is->access, shown);
    if (!e)
        e = store_oauth_access_add(st, is->client, is->username, hash, shown, is->now + is->lifetime, NULL);
    if (!e && is->new_refresh) {
        credential_token_hash(is->refresh, hash);
        e = store_oauth_refresh_add(st, is->client, is->username, hash, is->now,
                                    is->now + OAUTH_REFRESH_LIFETIME);
    }
    return e;
}

/* The password check of Basic authentication, with its throttling. */
static bool password_ok(oauth_token_api *api, tb_http_req *req, const char *user, const char *password,
                        int *status)
{
    *status = 401;
    if (!credential_username_valid(user) || strlen(password) > CREDENTIAL_PASSWORD_MAX)
        return false;
    size_t plain_len = strlen(user) + 1 + strlen(password);
    char *plain = malloc(plain_len + 1);
    size_t b64_len = sodium_base64_ENCODED_LEN(plain_len, sodium_base64_VARIANT_ORIGINAL);
    char *hdr = malloc(b64_len + 8);
    bool ok = false;
    if (plain && hdr) {
        snprintf(plain, plain_len + 1, "%s:%s", user, password);
        memcpy(hdr, "Basic ", 6);
        sodium_bin2base64(hdr + 6, b64_len, (const unsigned char *)plain, plain_len,
                          sodium_base64_VARIANT_ORIGINAL);
        auth_principal who;
        int64_t retry_ms = 0;
        auth_result r = auth_check(api->auth, hdr, tb_http_peer_str(req), &who, &retry_ms);
        ok = r == AUTH_OK;
        if (r == AUTH_THROTTLED) {
            char ra[24];
            snprintf(ra, sizeof ra, "%lld", (long long)(retry_ms + 999) / 1000);
            tb_http_reply_header(req, "Retry-After", ra);
            *status = 429;
        }
        else if (r == AUTH_ERROR)
            *status = 503;
    } else
        *status = 503;
    if (plain) {
        sodium_memzero(plain, plain_len);
        free(plain);
    }
    if (hdr) {
        sodium_memzero(hdr, b64_len + 6);
        free(hdr);
    }
    return ok;
}

typedef enum { GRANT_UNSUPPORTED, GRANT_PASSWORD, GRANT_CLIENT, GRANT_REFRESH } grant_kind;

static void handle(tb_http_req *req)
{
    oauth_token_api *api = tb_http_route_ctx(req);
    size_t len;
    const char *body = tb_http_body(req, &len);
    bt_form f = {0};
    char perr[128];
    if (bt_form_parse(body ? body : "", body ? len : 0, &f, perr, sizeof perr)) {
        reply_oauth_error(req, 400, "invalid_request");
        return;
    }
    const char *grant = bt_form_get(&f, "grant_type");
    const char *cid = bt_form_get(&f, "client_id");
    const char *csecret = bt_form_get(&f, "client_secret");
    grant_kind kind = !grant                                 ? GRANT_UNSUPPORTED
                      : !strcmp(grant, "password")           ? GRANT_PASSWORD
                      : !strcmp(grant, "client_credentials") ? GRANT_CLIENT
                      : !strcmp(grant, "refresh_token")      ? GRANT_REFRESH
                                                             : GRANT_UNSUPPORTED;
    const char *user = bt_form_get(&f, "username"), *password = bt_form_get(&f, "password");
    const char *refresh = bt_form_get(&f, "refresh_token");
    tb_store *st = NULL;
    issue is = {0};
    char username[CREDENTIAL_USERNAME_MAX + 1] = "";
    const char *why = NULL;
    int status = 401;
    if (kind == GRANT_UNSUPPORTED) {
        reply_oauth_error(req, 400, "unsupported_grant_type");
        goto out;
    }
    if (!cid || !*cid || !csecret || (kind == GRANT_PASSWORD && (!user || !password)) ||
        (kind == GRANT_REFRESH && !refresh)) {
        reply_oauth_error(req, 400, "invalid_request");
        goto out;
    }
    tb_oauth_client c = {0};
    tb_err e = strlen(cid) > OAUTH_CLIENT_ID_MAX ? TB_ERR_NOT_FOUND
                                                 : store_open(api->db_path, STORE_READ_ONLY, &st);
    if (!e)
        e = store_oauth_client_find(st, cid, &c);
    if (e == TB_ERR_NOT_FOUND || (!e && !tb_password_verify(c.secret_hash, csecret)))
        why = "bad_client";
    else if (e) {
        TB_LOGE("cannot read OAuth clients", "err=\"%s\"", tb_strerror(e));
        status = 503;
        why = "store";
    } else if (kind == GRANT_PASSWORD) {
        if (password_ok(api, req, user, password, &status))
            snprintf(username, sizeof username, "%s", user);
        else
            why = status == 401 ? "bad_user" : "user_check";
    } else if (kind == GRANT_CLIENT) {
        if (!c.run_as[0])
            why = "no_run_as";
        else
            snprintf(username, sizeof username, "%s", c.run_as);
    } else {
        char hash[CREDENTIAL_TOKEN_HASH_HEX + 1];
        credential_token_hash(refresh, hash);
        e = credential_token_well_formed(refresh)
                ? store_oauth_refresh_find(st, c.id, hash, (int64_t)time(NULL), username)
                : TB_ERR_NOT_FOUND;
        if (e == TB_ERR_NOT_FOUND)
            why = "bad_refresh_token";
        else if (e) {
            status = 503;
            why = "store";
        }
    }
    if (!why && kind != GRANT_PASSWORD) {
        tb_account a;
        e = store_account_find(st, username, &a, NULL);
        if (e == TB_ERR_NOT_FOUND || (!e && a.disabled))
            why = "user_disabled_or_removed";
        else if (e) {
            status = 503;
            why = "store";
        }
        if (!e)
            tb_account_clear(&a);
    }
    if (why) {
        /* an unknown client id is the caller's text: not logged */
        TB_LOGW("oauth token refused", "client=%s grant=%s reason=%s peer=%s",
                strcmp(why, "bad_client") ? c.client_id : "-", grant, why, tb_http_peer_str(req));
        if (status == 401)
            reply_oauth_error(req, 401, "access_denied");
        else if (status == 429)
            reply_oauth_error(req, 429, "too_many_requests");
        else
            reply_oauth_error(req, 503, "server_error");
        goto out;
    }
    is.client = c.id;
    is.lifetime = c.lifetime;
    is.username = username;
    /* rounded up, so that a token lives at least its lifetime */
    is.now = (tb_now_ms() + 999) / 1000;
    credential_token_new(is.access);
    if (kind == GRANT_REFRESH)
        snprintf(is.refresh, sizeof is.refresh, "%s", refresh);
    else if (kind == GRANT_PASSWORD) {
        credential_token_new(is.refresh);
        is.new_refresh = true;
    }
    e = writer_call(api->writer, issue_write, &is);
    if (e == TB_ERR_NOT_FOUND) {
        reply_oauth_error(req, 401, "access_denied");
        goto out;
    }
    if (e) {
        TB_LOGE("cannot store an OAuth token", "client=%s err=\"%s\"", cid, tb_strerror(e));
        reply_oauth_error(req, 503, "server_error");
        goto out;
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "access_token", is.access, "scope", "useraccount",
                          "token_type", "Bearer", "expires_in", (json_int_t)c.lifetime);
    if (o && is.refresh[0])
        json_object_set_new(o, "refresh_token", json_string(is.refresh));
    char *js = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (js) {
        TB_LOGI("oauth token issued", "client=%s grant=%s user=%s expires_in=%lld", cid, grant, username,
                (long long)c.lifetime);
        tb_http_reply_header(req, "Cache-Control", "no-store");
        tb_http_reply_json(req, 200, js);
        sodium_memzero(js, strlen(js));
    } else
        reply_oauth_error(req, 503, "server_error");
    free(js);
    json_decref(o);
out:
    sodium_memzero(&is, sizeof is);
    if (st)
        store_close(st);
    bt_form_free(&f);
}

tb_route oauth_token_api_route(oauth_token_api *api)
{
    return (tb_route){OAUTH_TOKEN_PATH, TB_M_POST, OAUTH_TOKEN_BODY_MAX, handle, "oauth_token",
                      false, false, api};
}
