/* BeyondTrust EPM (PM Cloud) just-in-time access on the wire (protocol notes
 * Part A, seed 004): the four webhook events, their payloads, the decision
 * bodies sent back to EPM's management API, durations and times.
 *
 * What the public sources leave unverified is decided here, in one place,
 * and marked [I]: the admin-access decision's method, path and key names
 * (A4), the API version prefixes (gap 3), that a second decision answers 409
 * (gap 4). The paths and the admin request-id key can be changed per
 * installation (`ticketbridge epm config set --api NAME=VALUE`); these are
 * the defaults. */
#ifndef TB_BT_EPM_WIRE_H
#define TB_BT_EPM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* [V] A1: token endpoint on the -services host. */
#define EPM_DEFAULT_TOKEN_PATH "/oauth/connect/token"
/* [observed] A3: three public clients post application decisions here. */
#define EPM_DEFAULT_APP_DECISION_PATH "/management-api/v2/AuthorizationRequest/notification"
/* [observed] A3: GET {base}/AuthorizationRequest/{id}; also the connection test's read. */
#define EPM_DEFAULT_APP_READ_PATH "/management-api/v2/AuthorizationRequest"
/* [I] A4: the reference page shows neither method nor path. */
#define EPM_DEFAULT_ADMIN_DECISION_PATH "/management-api/v3/AdminAccessRequest"
#define EPM_DEFAULT_ADMIN_DECISION_METHOD "PUT"
/* [I] A4: key names not shown; by analogy with A3's itsmRequestId. */
#define EPM_DEFAULT_ADMIN_ID_FIELD "requestId"
/* [I] gap 4: EPM's answer to a decision for a request already decided. */
#define EPM_FINAL_DECISION_STATUS 409

/* Seed 004, "Decision validation errors": the app's own messages. */
#define EPM_MSG_REASON "Please enter a reason"
#define EPM_MSG_MINUTES "Enter a number between 5 and 1440"
#define EPM_MSG_HOURS "Enter a number between 1 and 24"
#define EPM_MSG_INACTIVE "You cannot modify the decision because this request is inactive"
#define EPM_MSG_FINAL "The server has accepted the decision. It is now final and cannot be changed"

/* Webhook body cap (the 256 KiB). */
#define EPM_WEBHOOK_MAX (256 * 1024)

/* Seed 004, "Webhook event types". */
typedef enum {
    EPM_EV_UNKNOWN,
    EPM_EV_APP_CREATED,     /* URM_Native_Ticket_Created */
    EPM_EV_APP_UPDATED,     /* URM_NATIVE_DECISION_UPDATE */
    EPM_EV_ADMIN_CREATED,   /* JIT_ADMIN_TICKET_CREATED */
    EPM_EV_ADMIN_UPDATED,   /* JIT_ADMIN_TICKET_UPDATED */
} epm_event;

/* Case-insensitive: the seed itself mixes URM_Native_ and URM_NATIVE_. */
epm_event epm_event_parse(const char *s);
const char *epm_event_name(epm_event e);       /* the seed's spelling */
bool epm_event_is_created(epm_event e);
bool epm_event_is_admin(epm_event e);

/* A parsed webhook body. Duplicate keys are allowed (the application
 * template repeats "workstyle"; EPM fills templates by text substitution):
 * the last one wins. Unknown fields are kept. */
typedef struct epm_payload {
    void *root;                 /* json_t object */
    void *info;                 /* its "requestInfo" object, or NULL */
} epm_payload;

/* TB_ERR_INVALID (err says why) unless body is one JSON object of valid
 * UTF-8; TB_ERR_NOMEM. */
tb_err epm_payload_parse(const char *body, size_t len, epm_payload *out, char *err, size_t errsz);
void epm_payload_free(epm_payload *p);
/* A field by name, case-insensitively: top level first, then requestInfo.
 * Strings as they are, numbers and booleans as text; NULL when absent,
 * null, or an object/array. The pointer lives as long as the payload. */
const char *epm_payload_get(const epm_payload *p, const char *name);
/* Same, but "" for absent. */
const char *epm_payload_str(const epm_payload *p, const char *name);
/* The payload as compact JSON (duplicates resolved); caller frees. */
char *epm_payload_json(const epm_payload *p);
/* Calls fn for every field with a non-empty value: top level (but not
 * requestInfo itself), then requestInfo's, in arrival order. */
void epm_payload_each(const epm_payload *p, void (*fn)(void *ctx, const char *name, const char *value),
                      void *ctx);

/* A RequestId as EPM sends it (a GUID, observed A3): 1-64 characters of
 * letters, digits, '-', '_', '{' or '}'. */
bool epm_valid_request_id(const char *s);

/* ---- decisions (A3, A4) ---- */
typedef enum { EPM_DUR_NONE, EPM_DUR_ONCE, EPM_DUR_MINUTES, EPM_DUR_HOURS } epm_duration_unit;

/* The duration EPM takes: "Once" or seconds (A3, A4: "in seconds").
 * Minutes 5-1440, hours 1-24 (seed 004, "Duration settings"); out of range:
 * TB_ERR_INVALID with *msg the seed's message. out needs 16 bytes. */
tb_err epm_duration_value(epm_duration_unit unit, long n, char *out, size_t outsz, const char **msg);
/* "Once", "30 minutes", "2 hours", "90 seconds" from a wire duration. */
void epm_duration_text(const char *wire, char *out, size_t outsz);
/* "YYYY-MM-DD HH:MM:SS" UTC, no T, zone or fraction (observed A3). out ≥ 20 bytes. */
void epm_format_time(int64_t unix_s, char *out, size_t outsz);

typedef struct epm_decision_fields {
    bool admin;                     /* A4 AdminAccessRequest, else A3 AuthorizationRequest */
    bool approved;
    const char *request_id;
    const char *system_id;          /* the ticket's sys_id */
    const char *ticket_id;          /* the ticket's number */
    const char *ticket_url;         /* "" when unknown */
    const char *decision_time;      /* epm_format_time */
    const char *duration;           /* epm_duration_value; ignored for a denial */
    const char *performed_by;
    const char *message;            /* the approver's reason */
    const char *admin_id_field;     /* NULL = EPM_DEFAULT_ADMIN_ID_FIELD */
} epm_decision_fields;

/* The JSON body, every value a string, keys in the documented order; a
 * denial carries no duration. Caller frees; NULL on OOM. */
char *epm_decision_body(const epm_decision_fields *f);

/* A readable message from an EPM error body: ProblemDetails "detail",
 * "title" and "errors", or OAuth "error_description"/"error"; else the
 * body's first line. out is NUL-terminated. */
void epm_error_message(const char *body, char *out, size_t outsz);

#endif
