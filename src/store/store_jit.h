/* EPM just-in-time access (seed 004): the configuration record "Default"
 * (x_bets_pmc_jit_configuration), the requests EPM's webhooks created
 * (application-access and admin tickets, with every detail of the payload
 * and the raw payload), and the decisions sent back to EPM.
 *
 * Ownership as in store.h: out-parameters own their strings (free them with
 * the matching *_clear / *_free); insert records borrow theirs. */
#ifndef TB_STORE_STORE_JIT_H
#define TB_STORE_STORE_JIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define EPM_CONFIG_DEFAULT "Default"
#define JIT_TICKET_JOB "jit_ticket"         /* a created event: make the ticket */
#define JIT_UPDATE_JOB "jit_update"         /* a decision-updated event: status sync */
#define JIT_DECISION_JOB "jit_decision"     /* send a decision to EPM */

/* ---- configuration ---- */
typedef struct tb_epm_config {
    int64_t id;
    char *name;
    char *host;                     /* PMC Service Host Name, or a URL */
    char *tenant_id;
    char *client_id;
    char *client_secret_sealed;     /* tb_secret_seal output or "" */
    char *ticket_type;              /* incident | change_request | sc_task | sc_req_item */
    char *active_states;            /* "New, In Progress" (names or values); "" = every open state */
    char *short_description;
    char *assignment_group;         /* group name or sys_id; "" = none */
    char *category;
    bool auto_close;
    char *webhook_auth_sealed;      /* EPM "Custom" Authorization header value, sealed, or "" */
    char *token_url;                /* "" = <host>/oauth/connect/token */
    char *ticket_url_base;          /* ticketUrl = <base>/<table>.do?sys_id=<id>; "" = none */
    /* EPM API paths and names ("" = the default in bt/epm_wire.h) */
    char *app_decision_path;
    char *admin_decision_path;
    char *admin_decision_method;
    char *app_read_path;
    char *admin_id_field;
    int64_t created_at, updated_at;
} tb_epm_config;

void tb_epm_config_clear(tb_epm_config *c);
/* TB_ERR_NOT_FOUND when there is no record of that name. */
tb_err store_epm_config_get(tb_store *st, const char *name, tb_epm_config *out);
/* Creates the Default record with its defaults unless it exists;
 * *created = whether it did. */
tb_err store_epm_config_init(tb_store *st, int64_t now, bool *created);
tb_err store_epm_config_update(tb_store *st, const tb_epm_config *c);     /* by id */

/* ---- requests ---- */
typedef struct tb_jit_request_rec {
    const char *request_id;
    const char *kind;               /* "application" | "admin" */
    const char *tenant_id, *epm_ticket, *requested_at;
    const char *user_name, *host, *application, *reason;
    const char *details;            /* the payload as JSON (duplicates resolved) */
    const char *raw;                /* the payload as received */
    int64_t incoming_id;
    const char *task_table, *task_sys_id, *task_number;
    int64_t created_ms;
} tb_jit_request_rec;

/* TB_ERR_EXISTS when the request id is already stored. */
tb_err store_jit_request_insert(tb_store *st, const tb_jit_request_rec *r, int64_t *id);

typedef struct tb_jit_request {
    int64_t id;
    char *request_id, *kind, *tenant_id, *epm_ticket, *requested_at;
    char *user_name, *host, *application, *reason;
    char *task_table, *task_sys_id, *task_number;
    char *decision_state;           /* none | pending | accepted | failed */
    bool final;                     /* EPM has a decision that cannot change */
    char *epm_decision, *epm_decision_time, *epm_decided_by, *epm_duration, *epm_start_time, *epm_end_time;
    int64_t update_incoming_id;     /* the decision-updated event applied; 0 = none */
    int64_t created_ms, updated_at;
} tb_jit_request;

void tb_jit_request_clear(tb_jit_request *r);
void tb_jit_requests_free(tb_jit_request *v, size_t n);
/* By EPM request id, ticket number, or EPM ticket number (in that order).
 * TB_ERR_NOT_FOUND when none matches. */
tb_err store_jit_request_find(tb_store *st, const char *key, tb_jit_request *out);
/* By EPM request id only (case-insensitive), as the webhook jobs look up. */
tb_err store_jit_request_get(tb_store *st, const char *request_id, tb_jit_request *out);

typedef struct tb_jit_filter {
    const char *state;              /* decision_state; NULL = any */
    size_t limit;                   /* newest first; default 50 */
} tb_jit_filter;

tb_err store_jit_request_list(tb_store *st, const tb_jit_filter *f, tb_jit_request **out, size_t *n);
/* One request as a JSON object (json_t *, caller json_decref()s): its
 * columns, "details" (the payload) and "decisions" (oldest first). */
tb_err store_jit_request_json(tb_store *st, const char *key, void **json_out);

/* What EPM's decision-updated event said. */
typedef struct tb_jit_epm_update {
    const char *decision, *decision_time, *decided_by, *duration, *start_time, *end_time;
} tb_jit_epm_update;

/* Records the update and marks the request final. */
tb_err store_jit_request_epm_update(tb_store *st, int64_t id, const tb_jit_epm_update *u, int64_t incoming_id,
                                    int64_t now);

/* ---- decisions ---- */
typedef struct tb_jit_decision_rec {
    int64_t request;                /* tb_jit_request.id */
    const char *request_id;         /* its EPM id: the job's key */
    const char *decision;           /* "Approved" | "Denied" */
    const char *reason, *duration, *performed_by, *decision_time;
    const char *body;               /* exactly what is sent */
    int64_t now;
} tb_jit_decision_rec;

/* Inserts the decision, its jit_decision job, and marks the request
 * pending, inside the caller's transaction. */
tb_err store_jit_decision_insert(tb_store *st, const tb_jit_decision_rec *r, int64_t *decision_id,
                                 int64_t *job_id);

typedef struct tb_jit_decision {
    int64_t id, request, job_id;
    char *request_id, *kind;
    char *decision, *reason, *duration, *performed_by, *decision_time, *body;
    char *state;                    /* queued | accepted | failed */
    char *error;
    int http_status, attempts;
    char *task_table, *task_sys_id, *task_number;
    int64_t created_at, finished_at;
} tb_jit_decision;

void tb_jit_decision_clear(tb_jit_decision *d);
/* The decision a jit_decision job sends. TB_ERR_NOT_FOUND if none. */
tb_err store_jit_decision_by_job(tb_store *st, int64_t job_id, tb_jit_decision *out);
/* A failed attempt that will be retried: its error, counted. */
tb_err store_jit_decision_attempt(tb_store *st, int64_t id, int http_status, const char *error);
/* The outcome: "accepted" (the request becomes final, decision_state
 * accepted) or "failed" (decision_state failed; final when EPM said the
 * request already has a final decision). Only a queued decision changes;
 * *changed says whether it did. */
tb_err store_jit_decision_finish(tb_store *st, int64_t id, const char *state, int http_status, const char *error,
                                 bool final, int64_t now, bool *changed);

/* ---- reading what a webhook delivered ---- */
/* The stored body of an incoming request (NUL-terminated, caller frees).
 * TB_ERR_NOT_FOUND if there is no such row. */
tb_err store_incoming_body(tb_store *st, int64_t id, char **body, size_t *len);

#endif
