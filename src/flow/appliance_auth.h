/* Which appliance a request comes from, and whether it may send: shared by
 * the outbound-event intake and the ticket-system (approval) endpoint, so
 * both refuse in exactly the same way. */
#ifndef TB_FLOW_APPLIANCE_AUTH_H
#define TB_FLOW_APPLIANCE_AUTH_H

#include "flow/appliance_cache.h"
#include "http/server.h"

typedef struct appliance_refusal {
    int status;                     /* 404 unknown appliance, 403 otherwise */
    const char *message;
    char detail[256];
    int64_t appliance_id;           /* 0 when unknown */
} appliance_refusal;

/* The appliance is named by the "appliance" query parameter, else found by
 * the appliance_id the request carries (GUID, then host name), else the one
 * named Default. It must be enabled, present its token (query parameter
 * outbound_event_token, else body_token) when it has one, and come from an
 * accepted address. Returns the entry (valid while s is held) or NULL with
 * why filled in. */
const appliance_entry *appliance_authorize(const appliance_snapshot *s, tb_http_req *req, const char *appliance_id,
                                           const char *body_token, appliance_refusal *why);

#endif
