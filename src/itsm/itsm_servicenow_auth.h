/* Credentials of the ServiceNow backend: the secret files, and OAuth tokens
 * from <instance>/oauth_token.do (password grant when a user is configured,
 * else client_credentials), cached per process and refreshed shortly before
 * they expire or when the instance refuses one. Secrets are wiped on free. */
#ifndef TB_ITSM_SERVICENOW_AUTH_H
#define TB_ITSM_SERVICENOW_AUTH_H

#include <stddef.h>

#include "core/err.h"
#include "http/client.h"

typedef struct sn_creds {
    const char *base;           /* instance URL */
    const char *user;           /* "" = none */
    char *password;             /* owned; NULL = none */
    const char *client_id;      /* "" = Basic auth */
    char *client_secret;        /* owned */
    const char *ca_file;
    const char *proxy;          /* as tb_http_request.proxy */
    long timeout_ms;
} sn_creds;

/* First line of path (at most 4 KiB), without its line ending; non-empty. */
tb_err sn_read_secret_file(const char *path, char **out, char *err, size_t errsz);
void sn_creds_wipe(sn_creds *c);

/* A bearer token for c into tok. force drops the cached one first (after a
 * 401). Errors carry a message in err. */
tb_err sn_oauth_token(tb_http_client *http, const sn_creds *c, int force, char *tok, size_t toksz,
                      char *err, size_t errsz);

/* Parses a token answer: access_token and expires_in (seconds; 1800 when
 * absent). */
tb_err sn_oauth_parse(const char *body, size_t len, char *tok, size_t toksz, long *expires_in);

#endif
