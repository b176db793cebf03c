/* OAuth 2 client credentials (protocol doc §1): /oauth2/token issues 40-char
 * bearer tokens; at most --max-tokens live per account, the next evicts the
 * oldest [V]. */
#include "handler.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

static void expire_tokens_locked(double now)
{
    int w = 0;
    for (int i = 0; i < G.ntok; i++)
        if (G.tokens[i].expires > now)
            G.tokens[w++] = G.tokens[i];
    G.ntok = w;
}

void handle_token(const req *r, reply *out)
{
    if (strcmp(r->method, "POST") != 0) {
        reply_json(out, 405, json_pack("{s:s}", "error", "invalid_request"));
        return;
    }
    if (take_fault(&G.faults.token_5xx)) {
        reply_text(out, 503, NULL, "Service Unavailable");
        return;
    }
    bool good = r->basic_user && r->basic_pass && strcmp(r->basic_user, G.cfg.client_id) == 0 &&
                strcmp(r->basic_pass, G.cfg.client_secret) == 0;
    if (!good) {
        pthread_mutex_lock(&G.mu);
        G.token_rejects++;
        pthread_mutex_unlock(&G.mu);
        reply_json(out, 401, json_pack("{s:s}", "error", "invalid_client"));
        reply_header(out, "WWW-Authenticate", "Basic realm=\"btsim\"");
        return;
    }
    const char *gt = P(r, "grant_type");
    if (!gt || strcmp(gt, "client_credentials") != 0) {
        reply_json(out, 400, json_pack("{s:s}", "error", "unsupported_grant_type"));
        return;
    }
    static const char alnum[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char tok[41];
    for (int i = 0; i < 40; i++)
        tok[i] = alnum[randombytes_uniform(sizeof alnum - 1)];
    tok[40] = 0;
    double now = bt_now();
    pthread_mutex_lock(&G.mu);
    expire_tokens_locked(now);
    if (G.ntok >= G.cfg.max_tokens) { /* [V] the 31st evicts the oldest */
        memmove(&G.tokens[0], &G.tokens[1], (size_t)(G.ntok - 1) * sizeof G.tokens[0]);
        G.ntok--;
    }
    bt_token *t = &G.tokens[G.ntok++];
    memcpy(t->tok, tok, sizeof tok);
    t->expires = now + G.cfg.token_ttl;
    t->serial = ++G.tok_serial;
    G.tokens_issued++;
    pthread_mutex_unlock(&G.mu);
    json_t *j = json_pack("{s:s,s:s,s:I}", "access_token", tok, "token_type", "Bearer",
                          "expires_in", (json_int_t)(G.cfg.token_ttl + 0.5));
    reply_json(out, 200, j);
    sodium_memzero(tok, sizeof tok);
}

bool bearer_ok(const req *r)
{
    const char *h = r->authorization;
    bool ok = false;
    pthread_mutex_lock(&G.mu);
    G.api_requests++;
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *t = h + 7;
        while (*t == ' ')
            t++;
        expire_tokens_locked(bt_now());
        for (int i = 0; i < G.ntok; i++)
            if (strcmp(G.tokens[i].tok, t) == 0)
                ok = true;
    }
    if (!ok)
        G.token_rejects++;
    pthread_mutex_unlock(&G.mu);
    return ok;
}
