#include "flow/tickets_api.h"

#include <stdio.h>
#include <string.h>

#include "flow/gateway.h"
#include "flow/session_key.h"
#include "flow/session_key_http.h"

static const struct action {
    const char *name;
    unsigned methods;
    tickets_api_fn fn;
    size_t ctx_offset;              /* of the action's member in tickets_api */
} actions[] = {
    {"session_key", TB_M_GET | TB_M_POST, session_key_http_handle, offsetof(tickets_api, session_key)},
};

tb_err tickets_api_split(const char *path, char *number, size_t numsz, char *action, size_t actsz)
{
    size_t plen = strlen(TICKETS_API_PREFIX);
    if (!path || strncmp(path, TICKETS_API_PREFIX, plen))
        return TB_ERR_NOT_FOUND;
    const char *rest = path + plen;
    const char *slash = strchr(rest, '/');
    if (!slash || slash == rest || !slash[1] || strchr(slash + 1, '/'))
        return TB_ERR_NOT_FOUND;
    size_t nl = (size_t)(slash - rest), al = strlen(slash + 1);
    if (al >= actsz)
        return TB_ERR_NOT_FOUND;
    if (nl >= numsz)
        return TB_ERR_TOO_LARGE;
    memcpy(number, rest, nl);
    number[nl] = '\0';
    memcpy(action, slash + 1, al + 1);
    return TB_OK;
}

static void methods_text(unsigned m, char *out, size_t outsz)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        {TB_M_GET, "GET"}, {TB_M_POST, "POST"}, {TB_M_PUT, "PUT"}, {TB_M_PATCH, "PATCH"}, {TB_M_DELETE, "DELETE"},
    };
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (m & names[i].bit)
            len += (size_t)snprintf(out + len, outsz - len, "%s%s", len ? ", " : "", names[i].name);
}

static void handle(tb_http_req *req)
{
    tickets_api *api = tb_http_route_ctx(req);
    auth_principal who;
    if (!auth_require(gateway_auth(tb_http_app(req)), req, NULL, &who))
        return;
    char number[SK_NUMBER_MAX + 2], name[TICKETS_API_ACTION_MAX + 1];
    tb_err e = tickets_api_split(tb_http_path(req), number, sizeof number, name, sizeof name);
    if (e == TB_ERR_TOO_LARGE) {
        tb_http_reply_error(req, 400, "Invalid ticket number", "longer than 64 characters");
        return;
    }
    if (e) {
        tb_http_reply_error(req, 404, "Not found", "expected " TICKETS_API_PREFIX "{number}/{action}");
        return;
    }
    const struct action *a = NULL;
    for (size_t i = 0; i < sizeof actions / sizeof *actions && !a; i++)
        if (!strcmp(actions[i].name, name))
            a = &actions[i];
    if (!a) {
        tb_http_reply_error(req, 404, "Not found", "unknown ticket action");
        return;
    }
    if (!sk_number_valid(number)) {
        tb_http_reply_error(req, 400, "Invalid ticket number",
                            "a ticket number or sys_id: 1 to 64 ASCII letters and digits");
        return;
    }
    const char *m = tb_http_req_method(req);
    unsigned bit = !strcmp(m, "GET") ? TB_M_GET : !strcmp(m, "POST") ? TB_M_POST : !strcmp(m, "HEAD") ? TB_M_HEAD : 0;
    if (!(a->methods & bit)) {
        /* the server adds Allow (the route's methods); the detail names this action's */
        char allow[64];
        methods_text(a->methods, allow, sizeof allow);
        tb_http_reply_error(req, 405, "Method not allowed", allow);
        return;
    }
    a->fn(req, number, *(void **)((char *)api + a->ctx_offset), &who);
}

tb_route tickets_api_route(tickets_api *api)
{
    unsigned methods = 0;
    for (size_t i = 0; i < sizeof actions / sizeof *actions; i++)
        methods |= actions[i].methods;
    return (tb_route){TICKETS_API_PATH, methods, TICKETS_API_BODY_MAX, handle, "tickets_api", false, false, api};
}
