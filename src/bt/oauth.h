/* OAuth 2 client-credentials tokens for BeyondTrust appliances (protocol
 * notes §1): POST <base>/oauth2/token with HTTP Basic client auth and
 * grant_type=client_credentials; the answer carries access_token, token_type
 * (compared case-insensitively) and expires_in (used as given, never assumed).
 *
 * Why a cache, and why at most one token per appliance: an API account keeps
 * at most 30 live tokens and the 31st silently evicts the oldest, which may
 * belong to another integration sharing the account. So the cache holds one
 * token per (appliance id, client id), refreshes it shortly before it expires,
 * and lets exactly one thread per appliance talk to /oauth2/token at a time.
 *
 * Concurrency: bt_oauth_get is thread-safe. When a refresh is needed and
 * another thread is already refreshing, the caller waits (condvar) and takes
 * that refresh's result, token or error, instead of asking again. A caller
 * that still holds a valid (not yet expired) token while a near-expiry refresh
 * runs elsewhere simply uses the current token. The cache mutex is never held
 * across network I/O.
 *
 * Secrets: the caller passes the client secret in plaintext (decrypted from
 * the store) in bt_conn; the cache keeps its own copy, compares it on every
 * call (a changed secret or base URL drops the token) and wipes it
 * (sodium_memzero) when the entry is freed. Tokens are copied out into caller
 * buffers that the caller should wipe after use; they are never logged. */
#ifndef TB_BT_OAUTH_H
#define TB_BT_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "http/client.h"

#define BT_OAUTH_TOKEN_MAX 2048        /* bytes incl. NUL for a copied-out token */
#define BT_OAUTH_REPLY_MAX (16 * 1024) /* cap on the /oauth2/token answer */
/* [I] expires_in is documented as always present (3600); if an appliance
 * omits it, the token is assumed to live this long. */
#define BT_OAUTH_FALLBACK_TTL_S 600
/* A token is refreshed once less than max(10% of its lifetime, 60 s) remains
 * (never more than half its lifetime, so short-lived tokens stay usable). */
#define BT_OAUTH_REFRESH_MIN_S 60

#define BT_OAUTH_DENIED_MSG \
    "appliance refused the OAuth client id/secret: check the API account's OAuth client id and secret"

/* One appliance connection, as the API layer needs it. All strings are
 * borrowed; nothing here is kept past the call except what the cache copies
 * (client id, secret, base URL). */
typedef struct bt_conn {
    int64_t appliance_id;       /* cache key, together with client_id */
    const char *base_url;       /* "https://host[:port]" without a trailing '/'
                                 * (bt_api_base_url builds it from the record) */
    const char *client_id;
    const char *client_secret;  /* plaintext */
    /* Other OAuth servers (EPM, protocol A1): the token URL, and the client
     * id and secret sent in the form (client_secret_post) instead of HTTP
     * Basic. NULL / false: <base_url>/oauth2/token with Basic. */
    const char *token_url;
    bool token_form_auth;
    const char *ca_bundle;      /* PEM file; NULL/"" = system store */
    const char *proxy;          /* NULL = environment, "" = none, else proxy URL */
    long connect_timeout_ms;    /* 0 = 10 s */
    long timeout_ms;            /* token and command calls; 0 = 30 s */
    long report_timeout_ms;     /* report calls; 0 = 300 s */
    size_t command_max;         /* cap on a command answer; 0 = 1 MiB */
} bt_conn;

typedef struct bt_oauth_cache bt_oauth_cache;

tb_err bt_oauth_cache_new(bt_oauth_cache **out);
/* Frees every entry, wiping secrets and tokens. No call may be in flight. */
void bt_oauth_cache_free(bt_oauth_cache *c);

/* Copies a valid access token for conn into tok (NUL-terminated; toksz should
 * be BT_OAUTH_TOKEN_MAX) and, when gen is not NULL, the token's generation
 * for a later bt_oauth_invalidate. http is the calling thread's own client,
 * used if this thread performs the refresh.
 * Errors (err gets a readable message): TB_ERR_DENIED with BT_OAUTH_DENIED_MSG
 * when the token endpoint answers 401/403 (or 400 invalid_client, RFC 6749 5.2); TB_ERR_HTTP for 5xx and other
 * statuses, transport failures and malformed answers; TB_ERR_TIMEOUT;
 * TB_ERR_INVALID when conn lacks a base URL, client id or secret. */
tb_err bt_oauth_get(bt_oauth_cache *c, tb_http_client *http, const bt_conn *conn, char *tok,
                    size_t toksz, uint64_t *gen, char *err, size_t errsz);

/* The appliance rejected the token of generation gen (HTTP 401): drop it so
 * the next bt_oauth_get fetches a new one. A stale gen (the token was already
 * replaced by another thread) is ignored, so many threads seeing the same
 * 401 cause one refresh, not many. */
void bt_oauth_invalidate(bt_oauth_cache *c, const bt_conn *conn, uint64_t gen);

/* Drops every entry of an appliance (deleted or reconfigured). */
void bt_oauth_forget(bt_oauth_cache *c, int64_t appliance_id);

#endif
