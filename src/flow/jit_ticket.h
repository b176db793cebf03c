/* A created event becomes a request record and a ticket (seed 004, "Create
 * a request"): the application-access or admin record with every detail of
 * the payload, and a ticket of the configured type with the default short
 * description, assignment group and category, and a description listing
 * what an approver needs. Both commit together, once per request: a retried
 * job, or a second created event for the same request, finds the record
 * and creates nothing.
 *
 * The ticket's correlation_id is "epm:<RequestId>". With a remote ticket
 * store the job creates the ticket itself (itsm_create_once on that key, so
 * a retried job finds the ticket an earlier attempt created) and then
 * records the request through the writer. */
#ifndef TB_FLOW_JIT_TICKET_H
#define TB_FLOW_JIT_TICKET_H

#include <stdbool.h>
#include <stddef.h>

#include "bt/epm_wire.h"
#include "flow/workers.h"

#define JIT_CORRELATION_PREFIX "epm:"

/* What the record and the lists show of a request. Pointers into the
 * payload ("" when absent). */
typedef struct jit_summary {
    const char *user;
    const char *host;               /* application: hostName; admin: ComputerId */
    const char *application;        /* application: the file path (else product); admin: "" */
    const char *reason;
} jit_summary;

void jit_summarize(const epm_payload *p, bool admin, jit_summary *out);

/* The ticket description: the details an approver needs first, then every
 * other non-empty field of the payload. Caller frees; NULL on OOM. */
char *jit_ticket_description(const epm_payload *p, bool admin);

/* job_handler_fn for JIT_TICKET_JOB (ctx: the epm context). */
tb_err jit_ticket_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz);

#endif
