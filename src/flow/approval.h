/* Change-management approval of PRA Jump requests (seed 000 "Set Up Change
 * Management Workflow" and "Override Change Management").
 *
 * Default approval processing, in order; the first failing check denies
 * with its own message:
 *   1. find the task by number, else by sys_id, in the record type's table
 *      (or any task table);
 *   2. the rep's username equals the task's assigned_to user's user_name or
 *      BeyondTrust username (u_beyondtrust_username);
 *   3. the task's configuration item's name equals the computer being
 *      jumped to (case-insensitive);
 *   4. the task's approval is "approved";
 *   5. the task's state is active for its table (approval_states_active).
 *
 * With Override Change Management on and override rules defined, the rules
 * replace checks 2-5 (the task must still be found): every rule must pass.
 * Override on without rules only changes the record type, as the seed's
 * first use of the override does.
 *
 * Fail closed: any error of the ticket store, or passing the deadline,
 * denies with unavailable set. Nothing here allows on an error path. */
#ifndef TB_FLOW_APPROVAL_H
#define TB_FLOW_APPROVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt/ticket_system.h"
#include "itsm/itsm.h"
#include "store/store_approval.h"

/* Active states of one task table: "<N", "<=N", ">N", ">=N" or a list of
 * values "-5,-4,-3". */
typedef struct approval_states {
    const char *table;
    const char *spec;
} approval_states;

/* Built-in active states (seed 000: state < 3), overridable per table. */
extern const approval_states approval_default_states[];

/* Whether spec is well-formed (for the CLI); err explains. */
bool approval_states_valid(const char *spec, char *err, size_t errsz);
/* Whether state is active under spec. */
bool approval_state_matches(const char *spec, const char *state);

typedef struct approval_policy {
    bool override;                      /* Override Change Management */
    const char *record_type;            /* "" = any task table */
    const tb_override_rule *rules;      /* used when override && nrules */
    size_t nrules;
    const tb_active_states *states;     /* administrator's, checked before the defaults */
    size_t nstates;
    int64_t deadline_ns;                /* tb_mono_ns() limit; 0 = none */
} approval_policy;

typedef struct approval_decision {
    bool allowed;
    bool unavailable;                   /* denied because the ticket store failed or was slow */
    char reason[512];
    char task_table[64];
    char task_sys_id[ITSM_SYS_ID_LEN + 1];
    char task_number[64];
    char ci_sys_id[ITSM_SYS_ID_LEN + 1];
} approval_decision;

void approval_decide(itsm *t, const approval_policy *p, const ts_request *r, approval_decision *out);

/* Applies an override rule's error message template: %TaskFieldName% (the
 * task's value), %ComparatorSymbol%, %FieldValue% (the compared value). */
void approval_render_message(const char *tmpl, const char *task_value, char cmp, const char *field_value,
                             char *out, size_t outsz);

/* Compares like the override rules: numerically when both sides are
 * numbers, else as strings. cmp is '=', '<' or '>'. */
bool approval_compare(const char *task_value, char cmp, const char *value);

#endif
