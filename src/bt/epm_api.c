#include "bt/epm_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bt/epm_wire.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define REPLY_MAX (64 * 1024)
/* The oauth cache keys tokens by (id, client id); EPM has one configuration. */
#define EPM_TOKEN_KEY 0

#define DENIED_TOKEN_MSG \
    "EPM refused the client id/secret: check the API account's Client ID and Client Secret " \
    "('ticketbridge epm config set')"

static tb_err check_conn(const epm_conn *c, epm_api_result *res)
{
    if (!c->base_url || !*c->base_url || !c->token_url || !*c->token_url) {
        snprintf(res->message, sizeof res->message,
                 "no PMC service host name is configured ('ticketbridge epm config set --host')");
        return TB_ERR_CONFIG;
    }
    if (!c->client_id || !*c->client_id || !c->client_secret || !*c->client_secret) {
        snprintf(res->message, sizeof res->message,
                 "no client id and secret are configured ('ticketbridge epm config set --client-id ID "
                 "--client-secret-file FILE')");
        return TB_ERR_CONFIG;
    }
    return TB_OK;
}

static bt_conn oauth_conn(const epm_conn *c)
{
    return (bt_conn){.appliance_id = EPM_TOKEN_KEY, .base_url = c->base_url, .client_id = c->client_id,
                     .client_secret = c->client_secret, .token_url = c->token_url, .token_form_auth = true,
                     .timeout_ms = c->timeout_ms};
}

/* One call with a token; *gen is the token's generation for invalidation. */
static tb_err call_once(bt_oauth_cache *tokens, tb_http_client *http, const epm_conn *c, tb_http_method m,
                        const char *url, const char *json, const char *const *headers, uint64_t *gen,
                        epm_api_result *res)
{
    bt_conn oc = oauth_conn(c);
    char tok[BT_OAUTH_TOKEN_MAX];
    char err[TB_HTTP_ERRMSG];
    tb_err e = bt_oauth_get(tokens, http, &oc, tok, sizeof tok, gen, err, sizeof err);
    if (e) {
        if (e == TB_ERR_DENIED)
            snprintf(res->message, sizeof res->message, "%s", DENIED_TOKEN_MSG);
        else
            snprintf(res->message, sizeof res->message, "%s", err);
        return e;
    }
    tb_buf body;
    tb_buf_init(&body, REPLY_MAX);
    tb_http_request rq = {
        .method = m,
        .url = url,
        .json = json,
        .headers = headers,
        .bearer = tok,
        .timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : DEFAULT_TIMEOUT_MS,
        .body = &body,
    };
    tb_http_response rs;
    e = tb_http_perform(http, &rq, &rs);
    sodium_memzero(tok, sizeof tok);
    tb_buf_free(&body);
    res->status = rs.status;
    res->retry_after = rs.retry_after;
    if (!e) {
        res->message[0] = '\0';
        return TB_OK;
    }
    char epm_msg[EPM_API_MSG - 64];
    epm_error_message(rs.err_body, epm_msg, sizeof epm_msg);
    if (rs.status)
        snprintf(res->message, sizeof res->message, "EPM answered HTTP %ld%s%s", rs.status, epm_msg[0] ? ": " : "",
                 epm_msg);
    else
        snprintf(res->message, sizeof res->message, "%s", rs.err);
    if (e != TB_ERR_HTTP || !rs.status)
        return e;               /* transport failure, timeout, OOM */
    if (rs.status == 429 || rs.status >= 500)
        return TB_ERR_HTTP;
    if (rs.status == 401 || rs.status == 403)
        return TB_ERR_DENIED;
    return TB_ERR_INVALID;
}

static tb_err call(bt_oauth_cache *tokens, tb_http_client *http, const epm_conn *c, tb_http_method m,
                   const char *path, const char *json, const char *correlation_id, epm_api_result *res)
{
    memset(res, 0, sizeof *res);
    res->retry_after = -1;
    tb_err e = check_conn(c, res);
    if (e)
        return e;
    char url[2048];
    int n = snprintf(url, sizeof url, "%s%s", c->base_url, path);
    if (n < 0 || (size_t)n >= sizeof url) {
        snprintf(res->message, sizeof res->message, "EPM API URL too long");
        return TB_ERR_CONFIG;
    }
    char corr[160];
    const char *headers[2] = {NULL, NULL};
    if (correlation_id && *correlation_id) {
        snprintf(corr, sizeof corr, "x-correlation-id: %.100s", correlation_id);
        headers[0] = corr;
    }
    uint64_t gen = 0;
    e = call_once(tokens, http, c, m, url, json, headers, &gen, res);
    if (e == TB_ERR_DENIED && res->status == 401) {
        /* The token expired early or was revoked: one more try with a new one. */
        bt_conn oc = oauth_conn(c);
        bt_oauth_invalidate(tokens, &oc, gen);
        e = call_once(tokens, http, c, m, url, json, headers, &gen, res);
    }
    if (e == TB_ERR_DENIED && res->status == 401)
        snprintf(res->message, sizeof res->message, "EPM refused ticketbridge's token (HTTP 401)");
    else if (e == TB_ERR_DENIED && res->status == 403)
        snprintf(res->message, sizeof res->message,
                 "EPM refused the call (HTTP 403): give the API account JIT Full Access");
    return e;
}

tb_err epm_api_send(bt_oauth_cache *tokens, tb_http_client *http, const epm_conn *c, const char *method,
                    const char *path, const char *json, const char *correlation_id, epm_api_result *res)
{
    tb_http_method m = !strcmp(method, "PUT") ? TB_HTTP_PUT : TB_HTTP_POST;
    return call(tokens, http, c, m, path, json, correlation_id, res);
}

tb_err epm_api_test(bt_oauth_cache *tokens, tb_http_client *http, const epm_conn *c, const char *read_path,
                    epm_api_result *res)
{
    char path[600];
    snprintf(path, sizeof path, "%.500s/00000000-0000-0000-0000-000000000000", read_path);
    tb_err e = call(tokens, http, c, TB_HTTP_GET, path, NULL, NULL, res);
    if (e == TB_ERR_INVALID && res->status == 404) {
        res->message[0] = '\0';
        return TB_OK;
    }
    return e;
}
