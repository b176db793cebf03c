/* ticketbridge's own API for the PRA integration (seed 000), each route
 * behind its role ("Assign Users Appropriate Roles"; no hierarchy between
 * them, the deprecated x_bmgr_bomgar_pam.user may use and view but not
 * configure):
 *
 *   POST /api/tb/v1/jump            x_bmgr_bomgar_pam.jump_user    Jump to CI link (flow/jump.h)
 *   GET  /api/tb/v1/approvals       x_bmgr_bomgar_pam.data_viewer  change-management decisions
 *   GET  /api/tb/v1/sessions/LSID   x_bmgr_bomgar_pam.data_viewer  an imported session, with its lists
 *   GET  /api/tb/v1/appliances      x_bmgr_bomgar_pam.app_admin    appliance records (no secrets)
 */
#ifndef TB_FLOW_API_PRA_H
#define TB_FLOW_API_PRA_H

#include <stddef.h>
#include "flow/appliance_cache.h"
#include "flow/ticket_store.h"
#include "http/server.h"

#define API_SESSIONS_PREFIX "/api/tb/v1/sessions/"
#define API_PRA_ROUTES 4

typedef struct api_pra api_pra;

tb_err api_pra_new(ticket_store *tickets, appliance_cache *appliances, api_pra **out);
/* After the HTTP server has stopped. */
void api_pra_free(api_pra *c);
/* Writes its API_PRA_ROUTES routes to out; returns how many. */
size_t api_pra_routes(api_pra *c, tb_route *out);

#endif
