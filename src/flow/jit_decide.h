/* An approver's decision on a JIT request (seed 004, "Approval UI actions"
 * and "Decision validation"), the same for the API and the CLI: the seed's
 * checks and messages, then, in the caller's transaction, the decision with
 * the exact body EPM will receive, its jit_decision job (a durable send,
 * flow/jit_send.h) and a work note on the ticket. Nothing is written when a
 * check refuses. */
#ifndef TB_FLOW_JIT_DECIDE_H
#define TB_FLOW_JIT_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "bt/epm_wire.h"
#include "flow/epm_settings.h"
#include "itsm/itsm.h"
#include "store/store.h"

#define JIT_REASON_MAX 4000         /* EPM's message field (epmsim: ≤ 4000) */

typedef struct jit_decision_input {
    const char *request;            /* EPM request id, ticket number or EPM ticket number */
    bool approve;
    const char *reason;
    epm_duration_unit unit;         /* approvals only */
    long amount;                    /* minutes or hours */
    const char *performed_by;
} jit_decision_input;

typedef struct jit_decision_outcome {
    int status;                     /* 200 recorded; 400, 404 or 409 refused */
    char message[160];              /* the seed's message, or what is wrong */
    char detail[256];
    int64_t decision_id, job_id;
    char request_id[72];
    char decision[16];              /* Approved | Denied */
    char duration[16];              /* "Once", seconds, or "" */
    char ticket[64];                /* the ticket's number */
} jit_decision_outcome;

/* The checks that need nothing stored: reason, duration. False (out set
 * to a 400) when one fails. */
bool jit_decision_check_input(const jit_decision_input *in, jit_decision_outcome *out);

/* The ticket's state, read before the writer call when the ticket store is
 * remote (the writer's handle then only queues writes, ticket_outbox.h). */
typedef struct jit_ticket_state {
    char sys_id[ITSM_SYS_ID_LEN + 1];   /* the ticket read */
    bool gone;                          /* the store has no such ticket */
    char state[32];
} jit_ticket_state;

/* Reads the state of the ticket of the request in->request names, on a
 * handle of the calling thread (rd: a reader of ticketbridge's database).
 * TB_OK with *found false when there is no such request (jit_decide then
 * refuses it). Another error when the ticket store cannot answer: why says
 * the reason (itsm_errmsg, else the error). */
tb_err jit_ticket_state_read(tb_store *rd, itsm *tickets, const char *request, jit_ticket_state *out, bool *found,
                             char *why, size_t whysz);

/* Checks and records the decision inside the caller's open transaction on
 * st; tickets is the writer's ticket-store handle (ticket_store_wrap).
 * known: the ticket's state read beforehand (remote store), or NULL to
 * read it through tickets (the embedded store on st's connection). Returns
 * an error only when the database failed (roll back); a refusal is TB_OK
 * with out->status != 200. */
tb_err jit_decide(tb_store *st, itsm *tickets, const epm_settings *s, const jit_decision_input *in,
                  const jit_ticket_state *known, int64_t now, jit_decision_outcome *out);

#endif
