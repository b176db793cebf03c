/* EPM's management API, as a JIT decision maker calls it (protocol A1, A3,
 * A4): OAuth client credentials at the token URL (client id and secret in
 * the form, as EPM documents), then JSON with a Bearer token. Tokens come
 * from the shared cache (bt/oauth.h), one per EPM configuration, reused
 * until shortly before they expire. A 401 drops the token and the call is
 * made once more with a new one.
 *
 * Threads: as bt/oauth.h; http is the calling thread's own client. */
#ifndef TB_BT_EPM_API_H
#define TB_BT_EPM_API_H

#include <stddef.h>

#include "bt/oauth.h"
#include "core/err.h"
#include "http/client.h"

#define EPM_API_MSG 512

typedef struct epm_conn {
    const char *base_url;           /* "https://acme-services.pm.beyondtrustcloud.com" */
    const char *token_url;          /* full URL */
    const char *client_id;
    const char *client_secret;      /* plaintext */
    long timeout_ms;                /* per call; 0 = 30 s */
} epm_conn;

typedef struct epm_api_result {
    long status;                    /* HTTP status of the last answer; 0 = none */
    long retry_after;               /* seconds, from Retry-After; -1 = absent */
    char message[EPM_API_MSG];      /* readable: EPM's own message, or the transport error */
} epm_api_result;

/* Sends json to base_url + path with method "POST" or "PUT" and the header
 * x-correlation-id (observed A3) when correlation_id is set.
 *   TB_OK            2xx
 *   TB_ERR_HTTP, TB_ERR_TIMEOUT   network error, 5xx or 429: worth a retry
 *   TB_ERR_DENIED    the token endpoint refused the client credentials, or
 *                    the API answered 401 with a fresh token, or 403
 *   TB_ERR_INVALID   any other answer (4xx): EPM refused the call; status
 *                    and message say why
 *   TB_ERR_CONFIG    conn incomplete */
tb_err epm_api_send(bt_oauth_cache *tokens, tb_http_client *http, const epm_conn *c, const char *method,
                    const char *path, const char *json, const char *correlation_id, epm_api_result *res);

/* The connection test: a token, then an authorised GET of
 * read_path/00000000-0000-0000-0000-000000000000. 2xx or 404 (the request
 * does not exist, but the token was accepted) is TB_OK; errors as above. */
tb_err epm_api_test(bt_oauth_cache *tokens, tb_http_client *http, const epm_conn *c, const char *read_path,
                    epm_api_result *res);

#endif
