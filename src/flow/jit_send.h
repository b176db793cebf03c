/* Sends a recorded decision to EPM's management API (protocol A3 for
 * application access, A4 for admin access): the jit_decision job.
 *
 *   2xx                    accepted: the request is final; work note
 *   network error, 5xx, 429  retried with backoff (at least Retry-After);
 *                          the attempt's error is kept on the decision
 *   409                    failed with the seed's "It is now final" message;
 *                          the request is final
 *   other 4xx              failed with EPM's message; a new decision may be made
 *   credentials refused, no configuration
 *                          the job fails and the decision waits: fix the
 *                          configuration, then `ticketbridge jobs retry`
 * Every outcome is written on the ticket once. The same bytes are sent on
 * every attempt. */
#ifndef TB_FLOW_JIT_SEND_H
#define TB_FLOW_JIT_SEND_H

#include <stddef.h>

#include "flow/workers.h"

/* job_handler_fn for JIT_DECISION_JOB (ctx: the epm context). */
tb_err jit_send_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz);

#endif
