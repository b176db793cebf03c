/* F6, EPM just-in-time access (seed 004), as one unit the daemon starts and
 * stops: the webhook route (flow/epm_webhook.h), the decision API
 * (flow/jit_http.h), the three job kinds (ticket creation, decision
 * sending, status sync) and the configuration they share.
 *
 *   EPM webhook ─▶ incoming request + job (one commit) ─▶ jit_ticket: request
 *   record + ticket (one commit) ─▶ approver: POST .../decision or `jit
 *   approve` ─▶ decision + jit_decision job (one commit) ─▶ EPM management
 *   API ─▶ EPM's decision-updated webhook ─▶ jit_update: decision recorded,
 *   work note, ticket closed when auto-close is on (one commit) */
#ifndef TB_FLOW_EPM_H
#define TB_FLOW_EPM_H

#include "core/err.h"
#include "core/secret.h"
#include "flow/ticket_store.h"
#include "flow/workers.h"
#include "http/server.h"
#include "store/writer.h"

typedef struct epm epm;

/* Loads the configuration (key decrypts its secrets; the caller may wipe
 * its own copy afterwards). */
/* tickets: borrowed, the configured ticket store. */
tb_err epm_new(const char *db_path, ticket_store *tickets, const tb_secret_key *key, epm **out);
/* Before workers_start: registers the job kinds, on writer and jobs
 * (both borrowed for the life of m). */
tb_err epm_attach(epm *m, tb_writer *w, workers *jobs);
/* The webhook route and the /api/tb/v1/jit/ route, with m as context. */
tb_route epm_webhook_route(epm *m);
tb_route epm_api_route(epm *m);
/* Housekeeping tick: reloads the configuration when the database changed. */
void epm_tick(epm *m);
/* After the HTTP server and the workers have stopped and the writer has
 * committed what it queued, but before the writer closes its connection. */
void epm_free(epm *m);

#endif
