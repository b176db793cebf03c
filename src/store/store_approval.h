/* Change-management approval records (seed 000 "Set Up Change Management
 * Workflow", "Override Change Management"): override rules per appliance,
 * the administrator's request field names, active task states, and the
 * record of every decision.
 *
 * Ownership as in store.h: out-parameters own their strings; free them with
 * the matching *_free function. Insert records borrow theirs. */
#ifndef TB_STORE_STORE_APPROVAL_H
#define TB_STORE_STORE_APPROVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/store.h"

/* ---- override rules: all must pass; they replace the default checks ---- */
typedef struct tb_override_rule {
    int64_t id;
    int position;                   /* 1-based evaluation order */
    char *task_field;               /* field of the task, e.g. "approval" */
    char comparator;                /* '=', '<' or '>' */
    bool reference;                 /* value names a request field ("Bomgar Field") */
    char *value;                    /* static value, or the request field's name */
    char *message;                  /* error message template (%TaskFieldName% ...) */
} tb_override_rule;

tb_err store_override_list(tb_store *st, int64_t appliance_id, tb_override_rule **out, size_t *n);
void tb_override_rules_free(tb_override_rule *v, size_t n);
/* Appended last; *id = the new rule's id. */
tb_err store_override_add(tb_store *st, int64_t appliance_id, const tb_override_rule *r, int64_t *id);
tb_err store_override_remove(tb_store *st, int64_t appliance_id, int64_t id);
/* Moves the rule to position (1-based, clamped) and renumbers the others. */
tb_err store_override_move(tb_store *st, int64_t appliance_id, int64_t id, int position);

/* ---- request field names the administrator added (wire name → field) ---- */
typedef struct tb_wire_field {
    char *wire;
    char *field;                    /* internal name, or "-" = ignore */
} tb_wire_field;

tb_err store_wire_fields_list(tb_store *st, tb_wire_field **out, size_t *n);
void tb_wire_fields_free(tb_wire_field *v, size_t n);
tb_err store_wire_field_set(tb_store *st, const char *wire, const char *field);
tb_err store_wire_field_remove(tb_store *st, const char *wire);

/* ---- active states per task table ("<3" or a list "-5,-4,-3") ---- */
typedef struct tb_active_states {
    char *table;
    char *states;
} tb_active_states;

tb_err store_active_states_list(tb_store *st, tb_active_states **out, size_t *n);
void tb_active_states_free(tb_active_states *v, size_t n);
tb_err store_active_states_set(tb_store *st, const char *table, const char *states);
tb_err store_active_states_remove(tb_store *st, const char *table);

/* ---- decisions ---- */
typedef struct tb_approval_rec {
    int64_t at_ms;
    int64_t appliance_id;           /* 0 = unknown */
    const char *source_ip;
    const char *ticket_id, *username, *jump_item, *hostname;
    bool allowed;
    int http_status;                /* 200 for a decision; 4xx/5xx for a refused request */
    const char *reason;
    int64_t latency_us;
    const char *task_table, *task_sys_id, *task_number;    /* "" when no task was found */
    const char *raw;                /* request body (secrets removed) when it could not be read; may be NULL */
    bool noted;                     /* a work note is written in the same transaction */
} tb_approval_rec;

tb_err store_approval_insert(tb_store *st, const tb_approval_rec *r, int64_t *id);

typedef struct tb_approval {
    int64_t id, at_ms, latency_us;
    char *appliance, *source_ip, *ticket_id, *username, *jump_item, *hostname, *reason;
    char *task_table, *task_number, *raw;
    bool allowed, noted;
    int http_status;
} tb_approval;

typedef struct tb_approval_filter {
    const char *appliance;          /* NULL = any */
    const char *ticket_id;          /* NULL = any */
    int outcome;                    /* 0 any, 1 allowed, -1 denied or refused */
    size_t limit;                   /* newest first; default 50 */
} tb_approval_filter;

tb_err store_approval_list(tb_store *st, const tb_approval_filter *f, tb_approval **out, size_t *n);
void tb_approvals_free(tb_approval *v, size_t n);

#endif
