/* POST /api/x_bets_pmc_jit/authorization_request_webhook_handler: EPM's
 * webhooks (seed 004, "Configure webhook settings").
 *
 * Authentication: Basic (or Bearer) as a ticketbridge user holding
 * x_bets_pmc_jit.api, the seed's "webhook user account"; or, when the EPM
 * configuration has one, EPM's "Custom" Authorization header value
 * (protocol A6), compared in constant time.
 *
 * Contract as the outbound-event intake: 200 only after the incoming
 * request (the raw payload) and its job are committed; (EventType,
 * RequestId) identifies an event, so a retried webhook is stored as a
 * duplicate and queues nothing. Refusals answer the JSON error body and
 * leave a rejected record:
 *   401 missing or wrong credentials   403 a user without the api role
 *   429 too many failed logins         405 not POST
 *   413 body over 256 KiB              415 not application/json
 *   400 not a JSON object, unknown EventType, missing or bad RequestId */
#ifndef TB_FLOW_EPM_WEBHOOK_H
#define TB_FLOW_EPM_WEBHOOK_H

#include "http/server.h"

#define EPM_WEBHOOK_PATH "/api/x_bets_pmc_jit/authorization_request_webhook_handler"

/* The handler; tb_http_route_ctx(req) is the epm context and
 * tb_http_app(req) the gateway (for its authenticator). */
void epm_webhook_handle(tb_http_req *req);

#endif
