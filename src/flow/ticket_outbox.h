/* The ticket-store handle for the writer thread when the ticket store is
 * remote (ticket_store = servicenow). add_journal and update do not reach
 * the instance from inside the writer's transaction (a network call there
 * would stall every other write, and could not roll back with it): each is
 * queued in that transaction (store_ticket_write.h) and sent by a worker,
 * ticket_outbox_job. Reads and creates are refused with TB_ERR_DISABLED:
 * flows read before their writer call and create records from their job
 * (itsm_create_once), then record the result through the writer.
 *
 * Idempotence: every queued journal entry ends with a marker line
 * "[tb:<16 hex>]", and the job writes it only if the record has no entry
 * holding that marker yet (itsm_servicenow_journal_once), so a job retried
 * after the instance acted never writes the note twice. Updates set fields
 * to fixed values, which is idempotent as it is.
 *
 * Order: writes are sent in job order, but several workers run jobs at once,
 * so two writes to one record may land in either order. The flows only queue
 * writes that commute (notes, and the closing fields). */
#ifndef TB_FLOW_TICKET_OUTBOX_H
#define TB_FLOW_TICKET_OUTBOX_H

#include "itsm/itsm.h"
#include "store/store.h"
#include "flow/ticket_store.h"

/* A handle queueing into st's open transaction; st is borrowed and must
 * outlive it. Writer thread only. Released with itsm_close. */
tb_err ticket_outbox_wrap(tb_store *st, itsm **out);

/* The ticket_write job (ctx: the ticket_store): sends one queued write to
 * the remote store on the worker's own handle. */
tb_err ticket_outbox_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz);

#endif
