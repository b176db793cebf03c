/* OAuth clients of the ServiceNow-compatible token endpoint (/oauth_token.do)
 * and what they were issued. A client's secret is stored only as a
 * tb_password_hash string; its access tokens are API tokens (tb_api_token,
 * checked by the usual Bearer authentication) linked to the client; refresh
 * tokens only as credential_token_hash hex. */
#ifndef TB_STORE_OAUTH_H
#define TB_STORE_OAUTH_H

#include <stdint.h>

#include "core/credential.h"
#include "core/err.h"
#include "store/store.h"

#define OAUTH_CLIENT_ID_MAX 64
#define OAUTH_LIFETIME_DEFAULT 1800
#define OAUTH_LIFETIME_MAX (30 * 86400)
#define OAUTH_REFRESH_LIFETIME (100 * 86400)

typedef struct tb_oauth_client {
    int64_t id;
    char client_id[OAUTH_CLIENT_ID_MAX + 1];
    char secret_hash[128];
    char run_as[CREDENTIAL_USERNAME_MAX + 1];   /* "" = none */
    int64_t lifetime;                           /* seconds of an access token */
    int64_t created_at;
    int64_t live_tokens;                        /* unexpired access tokens (lists only) */
} tb_oauth_client;

/* run_as NULL or "" = none. TB_ERR_EXISTS: client_id taken; TB_ERR_NOT_FOUND:
 * no such run_as user. */
tb_err store_oauth_client_add(tb_store *st, const char *client_id, const char *secret_hash,
                              const char *run_as, int64_t lifetime);
/* TB_ERR_NOT_FOUND when there is no such client. */
tb_err store_oauth_client_find(tb_store *st, const char *client_id, tb_oauth_client *out);
/* Ordered by client_id; caller frees *out. */
tb_err store_oauth_client_list(tb_store *st, tb_oauth_client **out, size_t *n);
/* Removes the client, its access tokens and its refresh tokens, in one
 * transaction. TB_ERR_NOT_FOUND when there is no such client. */
tb_err store_oauth_client_remove(tb_store *st, const char *client_id);

/* Deletes expired access tokens of every client and expired refresh tokens. */
tb_err store_oauth_purge(tb_store *st, int64_t now);
/* A new access token for username issued to client (its database id):
 * an API token named "oauth <client_id> <prefix>". TB_ERR_NOT_FOUND: no such
 * user. Run inside a transaction (the writer's). */
tb_err store_oauth_access_add(tb_store *st, int64_t client, const char *username, const char *token_hash,
                              const char *prefix, int64_t expires_at, int64_t *token_id);
tb_err store_oauth_refresh_add(tb_store *st, int64_t client, const char *username, const char *token_hash,
                               int64_t now, int64_t expires_at);
/* The user a live refresh token of client was issued to (username:
 * CREDENTIAL_USERNAME_MAX + 1 bytes). TB_ERR_NOT_FOUND: unknown, another
 * client's, or expired at now. */
tb_err store_oauth_refresh_find(tb_store *st, int64_t client, const char *token_hash, int64_t now,
                                char *username);

#endif
