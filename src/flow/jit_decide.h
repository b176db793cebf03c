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

/* Checks and records the decision inside the caller's open transaction on
 * st; tickets is the ticket store on the same connection. Returns an error
 * only when the database failed (roll back); a refusal is TB_OK with
 * out->status != 200. */
tb_err jit_decide(tb_store *st, itsm *tickets, const epm_settings *s, const jit_decision_input *in, int64_t now,
                  jit_decision_outcome *out);

#endif
