#include "flow/api_me.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/roles.h"
#include "flow/auth.h"
#include "flow/gateway.h"

static void add_role(void *ctx, const char *name, size_t len)
{
    json_array_append_new(ctx, json_stringn(name, len));
}

void api_me_handle(tb_http_req *req)
{
    auth_principal who;
    if (!auth_require(gateway_auth(tb_http_app(req)), req, NULL, &who))
        return;
    const char *require = tb_http_query(req, "require");
    if (require && !role_known(require)) {
        tb_http_reply_error(req, 400, "Unknown role", "see 'ticketbridge user roles --list'");
        return;
    }
    if (require && !auth_principal_has(&who, require)) {
        auth_reply_forbidden(req, &who, require);
        return;
    }
    json_t *roles = json_array();
    json_t *body = json_pack("{s:s, s:o}", "username", who.username, "roles", roles);
    char *text = NULL;
    if (body) {
        roles_each(who.roles, add_role, roles);
        text = json_dumps(body, JSON_COMPACT);
    }
    if (text)
        tb_http_reply_json(req, 200, text);
    else
        tb_http_reply_error(req, 500, "Internal error", "out of memory");
    free(text);
    json_decref(body);
}
