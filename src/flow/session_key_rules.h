/* When a session key may be generated from a ticket: the conditions of the
 * seeds' "Session Key" UI actions, as pure functions over what the caller
 * looked up (unit-tested without a database).
 *
 *   - the integration properties enable session-key generation;
 *   - an appliance named exactly "Default" exists, is enabled, is a Remote
 *     Support appliance (PRA has no generate_session_key) and has an API
 *     account (seed 003 Troubleshooting: any other name hides the button);
 *   - the ticket's state is allowed: an incident's state is below
 *     incident_state_below (6 by default: not Resolved, Closed or Canceled)
 *     and not one of incident_states_excluded (seed 001's
 *     "&& current.incident_state != 8"); a case's state is one of
 *     case_states (1, 10, 18 by default; seed 003 adds 27 as an example);
 *     any other task must be active;
 *   - the user holds the role: itil (x_bmgr_bomgar_inte.itil counts) for
 *     incidents and other tasks, x_bmgr_crm.agent for cases.
 * Every unmet condition is reported, not only the first. */
#ifndef TB_FLOW_SESSION_KEY_RULES_H
#define TB_FLOW_SESSION_KEY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store_session_key.h"

#define SK_APPLIANCE_NAME "Default"
#define SK_CASE_TABLE "sn_customerservice_case"
#define SK_STATES_MAX 64                /* entries in a state list */

typedef enum sk_reason_code {
    SK_R_TICKET_NOT_FOUND,
    SK_R_DISABLED,                      /* session keys switched off in the properties */
    SK_R_NO_APPLIANCE,                  /* no appliance named exactly Default */
    SK_R_APPLIANCE_DISABLED,
    SK_R_APPLIANCE_NOT_RS,
    SK_R_APPLIANCE_NO_API,              /* no OAuth client id / secret */
    SK_R_STATE,
    SK_R_ROLE,
    SK_R__COUNT
} sk_reason_code;

typedef struct sk_reason {
    sk_reason_code code;
    char message[200];
} sk_reason;

typedef struct sk_verdict {
    bool allowed;
    size_t n;
    sk_reason reasons[SK_R__COUNT];
    int status;                         /* HTTP status for a refusal (of the first reason) */
} sk_verdict;

/* What the rules look at; the caller fills it from the store, the ticket
 * store, the appliance records and the authenticated user. */
typedef struct sk_facts {
    bool ticket_found;
    const char *table;                  /* the ticket's table */
    const char *number;
    int64_t state;
    bool has_state;                     /* state read and numeric */
    bool active;                        /* the ticket's active flag */
    bool appliance_found;               /* named exactly Default */
    bool appliance_enabled;
    bool appliance_rs;
    bool appliance_api;                 /* has an OAuth client id and secret */
    const char *roles;                  /* the user's roles (comma-separated) */
} sk_facts;

void sk_rules_evaluate(const tb_rs_settings *s, const sk_facts *f, sk_verdict *out);
const char *sk_reason_name(sk_reason_code c);      /* "state_not_allowed", ... */
/* The role a user needs for a ticket of table, and the custom field that
 * carries the ticket's sys_id to the session. */
const char *sk_role_for(const char *table);
const char *sk_custom_field_for(const char *table);

/* ---- the properties' values ---- */
void sk_settings_default(tb_rs_settings *s);
/* A comma-separated list of integers ("1, 10,18"): at most SK_STATES_MAX,
 * each within ±1000000, written normalized ("1,10,18") to out. "" is an
 * empty list. TB_ERR_INVALID with err saying why. */
tb_err sk_state_list_parse(const char *csv, char *out, size_t outsz, char *err, size_t errsz);
bool sk_state_listed(const char *normalized_csv, int64_t state);
/* general, rep:<id>, team:<id>, rep_username:<name>, issue:<code name>
 * (protocol notes §2.1); at most 255 bytes, no control characters. */
bool sk_queue_id_valid(const char *q);
/* Checks every field of s; err names the first bad one. */
tb_err sk_settings_check(const tb_rs_settings *s, char *err, size_t errsz);

#endif
