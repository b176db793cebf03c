#include "flow/appliance_auth.h"

#include <stdio.h>
#include <string.h>

#include "bt/outbound_event.h"
#include "core/secret.h"

static const appliance_entry *refuse(appliance_refusal *why, const appliance_entry *a, int status,
                                     const char *message)
{
    why->status = status;
    why->message = message;
    why->appliance_id = a ? a->id : 0;
    return NULL;
}

const appliance_entry *appliance_authorize(const appliance_snapshot *s, tb_http_req *req, const char *appliance_id,
                                           const char *body_token, appliance_refusal *why)
{
    memset(why, 0, sizeof *why);
    const appliance_entry *a;
    const char *by_name = tb_http_query(req, "appliance");
    if (by_name) {
        a = appliance_find_name(s, by_name);
        if (!a)
            snprintf(why->detail, sizeof why->detail, "no appliance named '%.100s'", by_name);
    } else {
        a = appliance_find_id(s, appliance_id);
        if (!a)
            a = appliance_find_name(s, "Default");
        if (!a)
            snprintf(why->detail, sizeof why->detail,
                     "no appliance matches appliance_id '%.100s' and there is no Default appliance",
                     appliance_id ? appliance_id : "");
    }
    if (!a)
        return refuse(why, NULL, 404, "Unknown appliance");
    if (!a->enabled) {
        snprintf(why->detail, sizeof why->detail, "integration is disabled on appliance '%.100s'", a->name);
        return refuse(why, a, 403, "Integration disabled");
    }
    if (a->outbound_token) {
        const char *tok = tb_http_query(req, BT_OUTBOUND_TOKEN_PARAM);
        if (!tok)
            tok = body_token;
        if (!tok) {
            snprintf(why->detail, sizeof why->detail, "this appliance requires the %s parameter",
                     BT_OUTBOUND_TOKEN_PARAM);
            return refuse(why, a, 403, "Outbound event token missing");
        }
        if (!tb_secret_equal(tok, a->outbound_token))
            return refuse(why, a, 403, "Outbound event token does not match");
    }
    if (a->accepted.n && !tb_ipacl_match(&a->accepted, tb_http_peer(req))) {
        snprintf(why->detail, sizeof why->detail,
                 "source %s is not in the accepted IP addresses of appliance '%.100s'", tb_http_peer_str(req),
                 a->name);
        return refuse(why, a, 403, "Source IP not accepted");
    }
    return a;
}
