/* POST /oauth_token.do: ServiceNow's OAuth token endpoint, for clients
 * registered with `ticketbridge oauth-client add` (store_oauth.h).
 *
 *   grant_type=password            client_id, client_secret, username, password
 *   grant_type=client_credentials  client_id, client_secret (acts as the client's run-as user)
 *   grant_type=refresh_token       client_id, client_secret, refresh_token
 *
 * The access token is an API token with the client's lifetime, so Bearer
 * authentication (auth.h) accepts it until it expires. Passwords are checked
 * by auth_check, with its cache and failed-login throttling. Errors are
 * answered as ServiceNow answers them ({"error":..,"error_description":..}). */
#ifndef TB_FLOW_OAUTH_TOKEN_API_H
#define TB_FLOW_OAUTH_TOKEN_API_H

#include "core/err.h"
#include "flow/auth.h"
#include "http/server.h"
#include "store/writer.h"

#define OAUTH_TOKEN_PATH "/oauth_token.do"
#define OAUTH_TOKEN_BODY_MAX (16 * 1024)

typedef struct oauth_token_api oauth_token_api;

/* Borrows auth and writer; db_path is copied. */
tb_err oauth_token_api_new(const char *db_path, auth *a, tb_writer *w, oauth_token_api **out);
void oauth_token_api_free(oauth_token_api *api);
tb_route oauth_token_api_route(oauth_token_api *api);

#endif
