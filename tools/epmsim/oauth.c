/* OAuth 2.0 client credentials (protocol A1) and the Bearer check in front of
 * the management API. Tokens are opaque random strings kept in a list; an
 * expired token stays listed (so a 401 can say "expired") until evicted. */
#include "epmsim.h"
#include "core/log.h"
#include "core/secret.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EP_SCOPE "urn:management:api"

static void oauth_error(ep_reply *out, int status, const char *error, const char *desc)
{
    reply_json(out, status, json_pack("{s:s,s:s}", "error", error, "error_description", desc));
    out->no_store = true;
}

static void reject_client(ep_reply *out, const char *desc)
{
    pthread_mutex_lock(&E.mu);
    E.st.token_rejects++;
    int status = E.cfg.wire.invalid_client_status;
    pthread_mutex_unlock(&E.mu);
    oauth_error(out, status, "invalid_client", desc);
    if (status == 401)
        out->www_auth = ep_strdup("Basic realm=\"epmsim\"");
}

static bool form_content_type(const ep_req *r)
{
    const char *ct = req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    static const char want[] = "application/x-www-form-urlencoded";
    return ct && strncasecmp(ct, want, sizeof want - 1) == 0 &&
           (ct[sizeof want - 1] == 0 || ct[sizeof want - 1] == ';' || ct[sizeof want - 1] == ' ');
}

static bool scope_ok(const char *scope)
{
    /* space-separated list; each must be the one scope EPM documents */
    const char *p = scope;
    bool any = false;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n != strlen(EP_SCOPE) || strncmp(p, EP_SCOPE, n) != 0)
            return false;
        any = true;
        p += n;
    }
    return any;
}

void handle_token(ep_req *r, ep_reply *out)
{
    if (!form_content_type(r)) {
        oauth_error(out, 400, "invalid_request",
                    "the request must be application/x-www-form-urlencoded");
        return;
    }
    if (r->form_bad) {
        oauth_error(out, 400, "invalid_request", "malformed form body");
        return;
    }
    static const char *const single[] = {"grant_type", "client_id", "client_secret", "scope"};
    for (size_t i = 0; i < 4; i++) {
        if (kvs_count(&r->form, single[i]) > 1) {
            char d[80];
            snprintf(d, sizeof d, "parameter %s is repeated", single[i]);
            oauth_error(out, 400, "invalid_request", d);
            return;
        }
    }
    char *bpass = NULL;
    char *buser = MHD_basic_auth_get_username_password(r->conn, &bpass);
    const char *fid = kvs_get(&r->form, "client_id");
    const char *fsec = kvs_get(&r->form, "client_secret");
    if (buser && (fid || fsec)) {
        MHD_free(buser);
        if (bpass)
            MHD_free(bpass);
        oauth_error(out, 400, "invalid_request", "more than one client authentication method");
        return;
    }
    char *id = ep_strdup(buser ? buser : fid);
    char *sec = ep_strdup(buser ? (bpass ? bpass : "") : fsec);
    if (buser)
        MHD_free(buser);
    if (bpass) {
        sodium_memzero(bpass, strlen(bpass));
        MHD_free(bpass);
    }
    if (!id || !sec || !*id) {
        free(id);
        ep_free_secret(sec);
        reject_client(out, "client_id and client_secret are required");
        return;
    }
    pthread_mutex_lock(&E.mu);
    char *want_id = ep_strdup(E.cfg.client_id);
    char *want_sec = ep_strdup(E.cfg.client_secret);
    pthread_mutex_unlock(&E.mu);
    bool good = tb_secret_equal(id, want_id);
    good &= tb_secret_equal(sec, want_sec);
    free(want_id);
    ep_free_secret(want_sec);
    ep_free_secret(sec);
    if (!good) {
        char qid[80];
        tb_log_quote(qid, sizeof qid, id);
        TB_LOGI("token refused", "client_id=%s", qid);
        free(id);
        reject_client(out, "unknown client or wrong secret");
        return;
    }
    free(id);
    const char *gt = kvs_get(&r->form, "grant_type");
    if (!gt || !*gt) {
        oauth_error(out, 400, "invalid_request", "grant_type is required");
        return;
    }
    if (strcmp(gt, "client_credentials") != 0) {
        oauth_error(out, 400, "unsupported_grant_type", "only client_credentials is supported");
        return;
    }
    const char *scope = kvs_get(&r->form, "scope");   /* optional [V] A1 */
    if (scope && !scope_ok(scope)) {
        oauth_error(out, 400, "invalid_scope", "the only scope is " EP_SCOPE);
        return;
    }
    char tok[49];
    tb_random_token(tok, 48);
    double now = ep_now();
    pthread_mutex_lock(&E.mu);
    if (E.ntok >= EP_MAX_TOKENS) {
        memmove(&E.tokens[0], &E.tokens[1], (E.ntok - 1) * sizeof E.tokens[0]);
        E.ntok--;
    }
    ep_token *t = &E.tokens[E.ntok++];
    memcpy(t->tok, tok, sizeof tok);
    double ttl = E.cfg.token_ttl;
    t->expires = now + ttl;
    E.st.tokens_issued++;
    pthread_mutex_unlock(&E.mu);
    json_int_t expires_in = (json_int_t)ttl;
    if ((double)expires_in < ttl)
        expires_in++;
    /* [V] A1: key order and the capital-S "Scope" as documented */
    json_t *j = json_pack("{s:s,s:s,s:I,s:s}", "access_token", tok, "token_type", "Bearer",
                          "expires_in", expires_in, "Scope", EP_SCOPE);
    sodium_memzero(tok, sizeof tok);
    reply_json(out, 200, j);
    out->no_store = true;
}

void tokens_expire_all(void)
{
    double now = ep_now();
    pthread_mutex_lock(&E.mu);
    for (size_t i = 0; i < E.ntok; i++)
        if (E.tokens[i].expires > now)
            E.tokens[i].expires = now;
    pthread_mutex_unlock(&E.mu);
}

bool bearer_ok(ep_req *r, ep_reply *out)
{
    const char *h = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    int verdict = 0;    /* 0 missing, 1 unknown, 2 expired, 3 ok */
    double expired_at = 0;
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *t = h + 7;
        while (*t == ' ')
            t++;
        size_t tl = strlen(t);
        verdict = 1;
        double now = ep_now();
        pthread_mutex_lock(&E.mu);
        for (size_t i = 0; i < E.ntok; i++) {
            if (tl == 48 && sodium_memcmp(E.tokens[i].tok, t, 48) == 0) {
                verdict = E.tokens[i].expires > now ? 3 : 2;
                expired_at = E.tokens[i].expires;
                break;
            }
        }
        if (verdict != 3)
            E.st.bearer_rejects++;
        pthread_mutex_unlock(&E.mu);
    } else {
        pthread_mutex_lock(&E.mu);
        E.st.bearer_rejects++;
        pthread_mutex_unlock(&E.mu);
    }
    if (verdict == 3)
        return true;
    /* [I] ASP.NET JwtBearer style: empty body, the reason in WWW-Authenticate */
    reply_empty(out, 401);
    if (verdict == 0) {
        out->www_auth = ep_strdup("Bearer");
    } else if (verdict == 1) {
        out->www_auth = ep_strdup("Bearer error=\"invalid_token\"");
    } else {
        char when[32];
        ep_datetime(expired_at, when, sizeof when);
        out->www_auth = ep_strdupf(
            "Bearer error=\"invalid_token\", error_description=\"The token expired at '%s'\"",
            when);
    }
    return false;
}
