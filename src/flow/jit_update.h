/* EPM's decision-updated events (URM_NATIVE_DECISION_UPDATE,
 * JIT_ADMIN_TICKET_UPDATED; seed 004, "Status updates"): the jit_update job
 * records the decision, its time, who made it and the duration on the
 * request, adds a work note, and closes the ticket when auto-close is on
 * (incidents with a close code and close notes, the other types with their
 * closed state). All in one commit, once per event.
 *
 * An update that arrives before its request's ticket exists is retried
 * (the created event may still be on its way).
 *
 * With a remote ticket store the job reads whether the ticket is still
 * active on its own handle before the writer call; the note and the
 * closing are queued in the transaction (ticket_outbox.h) and sent by a
 * worker, once. */
#ifndef TB_FLOW_JIT_UPDATE_H
#define TB_FLOW_JIT_UPDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "bt/epm_wire.h"
#include "flow/workers.h"

/* The work note for an update (exposed for tests). Caller frees. */
char *jit_update_note(const epm_payload *p, bool closing);

/* job_handler_fn for JIT_UPDATE_JOB (ctx: the epm context). */
tb_err jit_update_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz);

#endif
