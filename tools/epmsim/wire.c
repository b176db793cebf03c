/* The EPM wire facts that public sources do not settle, in one place
 * (protocol file, "Not verified / open gaps" 3 and 4). Each default names its
 * source; every one can be changed with --path / --final-decision-status /
 * --invalid-client-status / --accept-unknown-requests or POST /_epmsim/config. */
#include "epmsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wire_defaults(ep_wire *w)
{
    memset(w, 0, sizeof *w);
    /* [V] A1: token endpoint on the -services host. */
    w->token_path = ep_strdup("/oauth/connect/token");
    /* [observed] A3: three public clients post here; one uses /api/v2/... */
    w->app_decision_path = ep_strdup("/management-api/v2/AuthorizationRequest/notification");
    /* [observed] A3: XSOAR reads GET {base}/AuthorizationRequest/{id} */
    w->app_read_path = ep_strdup("/management-api/v2/AuthorizationRequest");
    /* [I] A4: the reference page shows no method or path; the create call is v3. */
    w->admin_decision_path = ep_strdup("/management-api/v3/AdminAccessRequest");
    w->admin_decision_method = ep_strdup("PUT");
    /* [I] by analogy with the application-access read. */
    w->admin_read_path = ep_strdup("/management-api/v3/AdminAccessRequest");
    /* [I] gap 4: EPM's answer to a second decision is unknown; 409 Conflict. */
    w->final_decision_status = 409;
    /* [I] RFC 6749 5.2 allows 400 or 401 for invalid_client. */
    w->invalid_client_status = 401;
    /* [I] EPM only knows requests it created. */
    w->accept_unknown_requests = false;
}

void wire_free(ep_wire *w)
{
    free(w->token_path);
    free(w->app_decision_path);
    free(w->app_read_path);
    free(w->admin_decision_path);
    free(w->admin_decision_method);
    free(w->admin_read_path);
    memset(w, 0, sizeof *w);
}

void wire_copy(ep_wire *dst, const ep_wire *src)
{
    *dst = *src;
    dst->token_path = ep_strdup(src->token_path);
    dst->app_decision_path = ep_strdup(src->app_decision_path);
    dst->app_read_path = ep_strdup(src->app_read_path);
    dst->admin_decision_path = ep_strdup(src->admin_decision_path);
    dst->admin_decision_method = ep_strdup(src->admin_decision_method);
    dst->admin_read_path = ep_strdup(src->admin_read_path);
}

static bool path_ok(const char *p, char *why, size_t whysz)
{
    size_t n = strlen(p);
    if (n < 2 || p[0] != '/' || n > 256) {
        snprintf(why, whysz, "a path must start with / and have 2 to 256 characters");
        return false;
    }
    if (p[n - 1] == '/') {
        snprintf(why, whysz, "a path must not end with /");
        return false;
    }
    if (strncmp(p, "/_epmsim", 8) == 0) {
        snprintf(why, whysz, "/_epmsim/ is reserved for the control API");
        return false;
    }
    for (const char *c = p; *c; c++) {
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '?' || *c == '#' ||
            *c == '%') {
            snprintf(why, whysz, "a path may hold printable ASCII only, without ? # %% or spaces");
            return false;
        }
    }
    return true;
}

tb_err wire_set(ep_wire *w, const char *name, const char *value, char *why, size_t whysz)
{
    if (strcmp(name, "admin_decision_method") == 0) {
        if (strcmp(value, "PUT") != 0 && strcmp(value, "POST") != 0 &&
            strcmp(value, "PATCH") != 0) {
            snprintf(why, whysz, "admin_decision_method must be PUT, POST or PATCH");
            return TB_ERR_INVALID;
        }
        ep_set_str(&w->admin_decision_method, value);
        return TB_OK;
    }
    char **slot = NULL;
    if (strcmp(name, "token") == 0)
        slot = &w->token_path;
    else if (strcmp(name, "app_decision") == 0)
        slot = &w->app_decision_path;
    else if (strcmp(name, "app_read") == 0)
        slot = &w->app_read_path;
    else if (strcmp(name, "admin_decision") == 0)
        slot = &w->admin_decision_path;
    else if (strcmp(name, "admin_read") == 0)
        slot = &w->admin_read_path;
    if (!slot) {
        snprintf(why, whysz, "unknown path \"%.60s\" (token, app_decision, app_read, "
                 "admin_decision, admin_decision_method, admin_read)", name);
        return TB_ERR_INVALID;
    }
    char sub[160];
    if (!path_ok(value, sub, sizeof sub)) {
        snprintf(why, whysz, "path %s: %s", name, sub);
        return TB_ERR_INVALID;
    }
    ep_set_str(slot, value);
    return TB_OK;
}

json_t *wire_json(const ep_wire *w)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "token", w->token_path, "app_decision",
                     w->app_decision_path, "app_read", w->app_read_path, "admin_decision",
                     w->admin_decision_path, "admin_decision_method", w->admin_decision_method,
                     "admin_read", w->admin_read_path);
}
