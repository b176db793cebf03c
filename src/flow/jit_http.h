/* ticketbridge's JIT API (role x_bets_pmc_jit.user):
 *
 *   GET  /api/tb/v1/jit/{request}            the request, its details and decisions
 *   POST /api/tb/v1/jit/{request}/decision   approve or deny (flow/jit_decide.h)
 *
 * {request} is the EPM request id, the ticket number or the EPM ticket
 * number. The decision body is a JSON object:
 *   {"decision": "approve" | "deny", "reason": "...",
 *    and for an approval one of "once": true, "minutes": 5-1440, "hours": 1-24}
 * (numbers may be JSON numbers or strings). It is answered after the
 * decision and its job are committed; sending it to EPM is the job's. */
#ifndef TB_FLOW_JIT_HTTP_H
#define TB_FLOW_JIT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "flow/jit_decide.h"
#include "http/server.h"

#define JIT_API_PREFIX "/api/tb/v1/jit/"
#define JIT_API_BODY_MAX (16 * 1024)

/* Parses a decision body into in (not in->request nor in->performed_by).
 * in->reason points into *hold, which the caller frees with jit_hold_free.
 * False, with out set to a 400, on bad input. */
bool jit_decision_parse(const char *body, size_t len, jit_decision_input *in, void **hold,
                        jit_decision_outcome *out);
void jit_hold_free(void *hold);

/* The handler; tb_http_route_ctx(req) is the epm context. */
void jit_http_handle(tb_http_req *req);

#endif
