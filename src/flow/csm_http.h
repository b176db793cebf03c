/* The CSM pages (seed 003), plain server-rendered HTML:
 *
 *   GET|POST /x_bmgr_crm_auto_create_link.do   x_bmgr_crm.agent   options 2 and 3: the rep
 *            console's custom link creates the session's case (auto_create=true), or shows
 *            a page to associate the session with an existing case or create one
 *   GET  /nav_to.do?uri=...                    (none)             the custom links' entry:
 *            a record (sn_customerservice_case.do?sys_id=, task.do?sys_id=, any task
 *            table) redirects to the ticket's page; x_bmgr_crm_auto_create_link.do to the
 *            page above
 *   GET  /tickets/{number or sys_id}           agent, itil or data_viewer   a read-only ticket
 *   GET  /csm/chat[?case=&appliance=&issue=]   (none)             "Get Support Now": the
 *            click-to-chat form, embeddable in a portal's frame
 *   GET|POST /csm/chat/start                   (none)             redirects (303) to the
 *            appliance's /api/start_session with c2cjs=1, the customer's fields and, from
 *            a case, session.custom.snow_case_id
 *
 * Users authenticate as on the API (Basic or Bearer, see flow/auth.h).
 * Forms that change something carry a token bound to the user and the
 * session (a keyed hash with a per-process key), so another site cannot
 * make a logged-in browser post them. Bad input answers the JSON error of
 * every route (tb_http_reply_error). */
#ifndef TB_FLOW_CSM_HTTP_H
#define TB_FLOW_CSM_HTTP_H

#include <stddef.h>

#include "core/err.h"
#include "flow/csm.h"
#include "http/server.h"

#define CSM_HTTP_ROUTES 5
#define CSM_LINK_PATH "/x_bmgr_crm_auto_create_link.do"
#define CSM_NAV_PATH "/nav_to.do"
#define CSM_TICKETS_PREFIX "/tickets/"
#define CSM_CHAT_PATH "/csm/chat"
#define CSM_CHAT_START_PATH "/csm/chat/start"

typedef struct csm_http csm_http;

typedef struct csm_http_opts {
    csm *csm;                       /* borrowed */
    const char *ticket_store;       /* "embedded", or "servicenow"; NULL: csm's ticket store says */
    const char *instance_url;       /* the ServiceNow instance (https://x.service-now.com); NULL: the
                                     * configured servicenow_url */
} csm_http_opts;

tb_err csm_http_new(const csm_http_opts *opt, csm_http **out);
/* After the HTTP server has stopped. */
void csm_http_free(csm_http *h);
/* Writes its CSM_HTTP_ROUTES routes to out; returns how many. */
size_t csm_http_routes(csm_http *h, tb_route *out);

/* Where a record is shown: ticketbridge's own page for the embedded store
 * ("/tickets/<sys_id>"), the instance's nav_to.do for ServiceNow.
 * TB_ERR_INVALID for a table or sys_id that is not one, or a ServiceNow
 * store without an instance URL; TB_ERR_TOO_LARGE when out is short. */
tb_err csm_record_location(const char *store_kind, const char *instance_url, const char *table,
                           const char *sys_id, char *out, size_t outsz);

#endif
