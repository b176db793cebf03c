/* GET /api/tb/v1/me: who the credentials belong to and their roles.
 * ?require=ROLE answers 403 unless the caller holds ROLE, so a client (or a
 * test) can check a permission before relying on it. */
#ifndef TB_FLOW_API_ME_H
#define TB_FLOW_API_ME_H

#include "http/server.h"

#define API_ME_PATH "/api/tb/v1/me"

/* tb_http_app(req) must be the gateway (gateway_auth). */
void api_me_handle(tb_http_req *req);

#endif
