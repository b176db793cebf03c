/* F5 Customer Service Management: one sn_customerservice_case per
 * BeyondTrust RS session (seed 003 "Automatic or Manual Case Creation").
 *
 * A case is made for a live session in one of three ways:
 *   - option 1: a representative joins; the outbound event reaches
 *     /api/x_bmgr_crm/outbound_event/case and its "case_event" job runs
 *     csm_job: when the appliance's conditions hold (portal, required custom
 *     fields, attended/unattended), the case is created;
 *   - option 2: the rep console's custom link creates it (csm_create);
 *   - option 3: the rep associates the session with an existing case
 *     (csm_associate) or creates one from the link's page.
 * Then the case's sys_id is written into the live session's snow_case_id
 * (set_session_attributes), so the rep console shows it and the import at
 * session end writes its work note on that case.
 *
 * Steps of a creation: the appliance's settings and mappings (database),
 * the session's report from the appliance (SupportSession by lsid, while
 * it is active), the mapped fields (lookups on the ticket store), then one
 * writer transaction that creates the case, records it as the session's
 * case and records the decision; a session that already has its case
 * (whichever way it was made) gets no second one. Every decision is
 * recorded (store_csm.h): created, existing, associated, skipped with the
 * reason, failed.
 *
 * Threads: job workers and HTTP threads call in concurrently; each thread
 * gets its own HTTP client, ticket-store handle and read connection
 * (thread-local, freed when the thread exits). Writes go through the
 * writer. OAuth tokens come from a cache of its own (one more token per
 * appliance besides the importer's). */
#ifndef TB_FLOW_CSM_H
#define TB_FLOW_CSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "flow/appliance_cache.h"
#include "flow/workers.h"
#include "itsm/itsm.h"
#include "itsm/itsm_table.h"
#include "store/store.h"
#include "store/store_csm.h"
#include "store/writer.h"

#include "bt/oauth.h"
#include "flow/ticket_store.h"

#define CSM_JOB_KIND "case_event"
#define CSM_CASE_TABLE "sn_customerservice_case"

typedef struct csm csm;

typedef struct csm_opts {
    const char *db_path;            /* the gateway's database */
    ticket_store *tickets;          /* borrowed: the configured ticket store */
    appliance_cache *appliances;    /* borrowed */
    tb_writer *writer;              /* borrowed */
    /* borrowed: the appliance tokens the importer holds too, so that each
     * API account has one token, not one per flow; NULL = its own */
    bt_oauth_cache *tokens;
} csm_opts;

tb_err csm_new(const csm_opts *opt, csm **out);
/* After the HTTP server and the workers have stopped, before the writer
 * closes its connection. */
void csm_free(csm *c);

/* job_handler_fn for CSM_JOB_KIND: reads the job's stored event; a
 * representative joining (support_conference_member_added, type
 * representative) may create the case, any other event needs nothing. A
 * session the appliance does not report yet, an unreachable appliance, or
 * snow_case_id not written for a passing reason: retried. */
tb_err csm_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz);

typedef enum csm_origin { CSM_ORIGIN_EVENT, CSM_ORIGIN_LINK, CSM_ORIGIN_ASSOCIATION } csm_origin;

typedef enum csm_result_kind {
    CSM_CREATED,                    /* a new case */
    CSM_ASSOCIATED,                 /* linked to an existing case */
    CSM_EXISTING,                   /* the session had its case already */
    CSM_SKIPPED,                    /* nothing made: detail says why */
} csm_result_kind;

typedef struct csm_result {
    csm_result_kind kind;
    char case_sys_id[ITSM_SYS_ID_LEN + 1];
    char case_number[64];
    char detail[4608];              /* skip reason, or the mapping warnings */
    bool attribute_set;             /* snow_case_id is on the live session */
    tb_err attribute_rc;            /* why not, when it is not */
    char attribute_error[300];
} csm_result;

typedef struct csm_call {
    int64_t appliance_id;
    const char *lsid;
    const char *rep_username;       /* the rep who joined or clicked; NULL: the primary rep */
    csm_origin origin;
    long timeout_ms;                /* each appliance call; 0 = the job defaults */
} csm_call;

/* Creates the session's case, or reports the one it has. Option 1's
 * conditions apply to CSM_ORIGIN_EVENT only. Errors (err says why):
 * TB_ERR_NOT_FOUND the appliance (or the session on it) is unknown;
 * TB_ERR_DISABLED the integration is off; TB_ERR_CONFIG the appliance has
 * no API account; TB_ERR_HTTP / _TIMEOUT / _BUSY / _DENIED the appliance
 * call failed; others from the stores. A skip is not an error. */
tb_err csm_create(csm *c, const csm_call *call, csm_result *res, char *err, size_t errsz);
/* Links the session to an existing case (number or sys_id). TB_ERR_EXISTS
 * when the session has another case (res describes it); TB_ERR_NOT_FOUND
 * when there is no such case (err says so). */
tb_err csm_associate(csm *c, const csm_call *call, const char *case_key, csm_result *res, char *err,
                     size_t errsz);
/* The session's case; TB_ERR_NOT_FOUND when it has none. */
tb_err csm_session_case(csm *c, int64_t appliance_id, const char *lsid, tb_csm_case *out);
/* The appliance's CSM settings. */
tb_err csm_config(csm *c, int64_t appliance_id, tb_csm_config *out);
/* Active cases whose number contains q (at most limit), newest first. */
tb_err csm_search_cases(csm *c, const char *q, size_t limit, itsm_record ***out, size_t *n);
/* The calling thread's ticket-store handle (NULL with *e set on failure). */
itsm *csm_tickets(csm *c, tb_err *e);
appliance_cache *csm_appliances(csm *c);
/* The configured ticket store (borrowed). */
ticket_store *csm_ticket_store(csm *c);

#endif
