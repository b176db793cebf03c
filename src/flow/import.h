/* F1 session import: the handler of "session_import" jobs.
 *
 * For a job (appliance, lsid): take an OAuth token from the shared cache, ask
 * the appliance for the session report (AccessSession for PRA,
 * SupportSession for RS) and stream it into the report parser. For each
 * complete session: link it to a task (snow_task_id, snow_case_id or the
 * external key, as number or sys_id), a configuration item (snow_cmdb_ci_id,
 * else the endpoint's name when Auto Associate With Config Item is on) and a
 * user (the primary rep, when Auto Associate With User is on); save it with
 * its children through the writer; then write one work note on the task and
 * the CI. A session is stored whole or not at all, and importing it again
 * updates it and never adds a second note.
 *
 * Threads: one import_ctx serves every worker; each worker thread gets its
 * own HTTP client and ticket-store handle (thread-local, freed at thread
 * exit). */
#ifndef TB_FLOW_IMPORT_H
#define TB_FLOW_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt/oauth.h"
#include "bt/report.h"
#include "core/err.h"
#include "flow/appliance_cache.h"
#include "flow/workers.h"
#include "store/writer.h"

#include "flow/ticket_store.h"

#define IMPORT_JOB_KIND "session_import"
#define IMPORT_NOTE_MAX (256 * 1024)

typedef struct import_ctx import_ctx;

typedef struct import_opts {
    const char *db_path;            /* the gateway's database */
    ticket_store *tickets;          /* borrowed: the configured ticket store */
    appliance_cache *appliances;    /* borrowed */
    tb_writer *writer;              /* borrowed */
    bt_report_limits limits;        /* zeroes = defaults */
    long report_timeout_ms;         /* 0 = default */
} import_opts;

tb_err import_ctx_new(const import_opts *opt, import_ctx **out);
/* The importer's appliance tokens, to share with other flows calling the
 * same appliances (borrowed, lives as long as c). */
struct bt_oauth_cache *import_tokens(import_ctx *c);
void import_ctx_free(import_ctx *c);

/* What one import did (for the CLI and tests). */
typedef struct import_result {
    size_t sessions;                /* sessions saved */
    size_t skipped_external;        /* not linked to a task, and the appliance does not import those */
    size_t notes;                   /* work notes written */
    char task_number[64];           /* last session's task, "" if none */
    char ci_sys_id[33];
    char user_sys_id[33];
} import_result;

/* Imports one session now. err receives a readable reason on failure. */
tb_err import_lsid(import_ctx *c, int64_t appliance_id, const char *lsid, import_result *res, char *err,
                   size_t errsz);

/* job_handler_fn for IMPORT_JOB_KIND. */
tb_err import_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz);

/* The work note text for a session (exposed for tests). Caller frees. */
char *import_note_text(const bt_session *s, const char *product, const char *appliance_name);

#endif
