/* /api/tb/v1/tickets/{number}/{action}: one prefix route for what can be done
 * from a ticket, dispatched here by action (session_key, ...). The caller is
 * authenticated first (any user; each action checks its own roles), then
 * the path is checked: exactly two segments after the prefix, a known
 * action, a ticket number of ASCII letters and digits. The server has
 * already percent-decoded the path, so an encoded slash or dot is seen as
 * one and refused like a literal one.
 *
 * Adding an action: one line in the table in tickets_api.c, and its
 * context as a member of tickets_api. */
#ifndef TB_FLOW_TICKETS_API_H
#define TB_FLOW_TICKETS_API_H

#include <stddef.h>

#include "core/err.h"
#include "flow/auth.h"
#include "http/server.h"

#define TICKETS_API_PATH "/api/tb/v1/tickets/*"
#define TICKETS_API_PREFIX "/api/tb/v1/tickets/"
#define TICKETS_API_BODY_MAX 4096
#define TICKETS_API_ACTION_MAX 32

/* The contexts of the actions (borrowed). */
typedef struct tickets_api {
    struct session_key_http *session_key;
} tickets_api;

/* An action's handler: number is valid (see sk_number_valid), the method
 * allowed, who authenticated; ctx is the action's member of tickets_api. */
typedef void (*tickets_api_fn)(tb_http_req *req, const char *number, void *ctx, const auth_principal *who);

/* The route, with api as its context; tb_http_app(req) must be the gateway. */
tb_route tickets_api_route(tickets_api *api);

/* Splits a decoded path into its number and action. TB_ERR_NOT_FOUND when
 * it is not "<prefix><number>/<action>" with both segments non-empty (or the
 * action is longer than actsz allows), TB_ERR_TOO_LARGE when the number does
 * not fit numsz; the number's characters are not checked here. */
tb_err tickets_api_split(const char *path, char *number, size_t numsz, char *action, size_t actsz);

#endif
