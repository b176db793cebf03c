/* Ticket states for the JIT flow, by name as the seed's configuration
 * shows them ("Active States: New, In Progress, On Hold"), for the four
 * ticket types the EPM integration supports, and how a ticket of each type
 * is closed after a decision (seed 004, "Attempt to Auto-Close Ticket").
 * State values are ServiceNow's (the embedded store uses the same). */
#ifndef TB_FLOW_JIT_STATES_H
#define TB_FLOW_JIT_STATES_H

#include <stdbool.h>
#include <stddef.h>

#include "itsm/itsm.h"

/* incident | change_request | sc_task | sc_req_item */
bool jit_ticket_type_valid(const char *table);

/* Checks a comma-separated list of state names (case-insensitive) or
 * values for table; "" is valid (= every state that is not closed).
 * On failure err names the bad item and the table's state names. */
bool jit_states_valid(const char *table, const char *spec, char *err, size_t errsz);
/* Whether state (the ticket's value, e.g. "2") is active under spec. An
 * item of spec that table does not know is ignored; when none is known,
 * every state that is not closed is active. */
bool jit_state_active(const char *table, const char *spec, const char *state);
/* "In Progress" for ("incident", "2"); the value itself when unknown. */
const char *jit_state_name(const char *table, const char *state);

/* The fields that close a ticket of table after a decision: the closed
 * state, and for incidents and changes a close code; close_notes = notes.
 * kv needs room for 4 pairs; strings point into static data, state_buf
 * and notes. Returns the number of pairs. */
size_t jit_close_fields(const char *table, bool approved, const char *notes, char state_buf[8], itsm_kv kv[4]);

#endif
