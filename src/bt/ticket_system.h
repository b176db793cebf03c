/* PRA Jump Policy "Ticket System" requests (protocol notes §5): when a Jump
 * Policy requires a ticket ID, the appliance POSTs the ticket ID the user
 * typed, with user and Jump item details, to the Ticket System URL and waits
 * for allow or deny.
 *
 * None of the wire format is publicly documented [I]. Everything unverified
 * lives here, in one place:
 *   - the request field names (ts_default_wire_names: JSON objects are
 *     flattened to dotted names, so {"user":{"username":..}} is
 *     "user.username"; form bodies use the names as given). An administrator
 *     adds or overrides names with `ticketbridge approval fields`, which end
 *     up in a ts_field_map;
 *   - the response shape (ts_response_json): {"is_valid", "error_message",
 *     "custom_attributes"}, the shape the notes suggest.
 *
 * Ownership: a ts_field_map owns its strings; a ts_request owns its values. */
#ifndef TB_BT_TICKET_SYSTEM_H
#define TB_BT_TICKET_SYSTEM_H

#include <stdbool.h>
#include <stddef.h>
#include "bt/outbound_event.h"
#include "core/buf.h"
#include "core/err.h"

/* What ticketbridge understands of a request. These names are also the
 * "Bomgar Field" choices of a reference override rule. */
typedef enum ts_field {
    TS_TICKET_ID,
    TS_APPLIANCE_ID,
    TS_TOKEN,
    TS_USER_ID,
    TS_USERNAME,
    TS_USER_DISPLAY_NAME,
    TS_USER_EMAIL,
    TS_JUMP_ITEM_ID,
    TS_JUMP_ITEM_NAME,
    TS_HOSTNAME,
    TS_JUMP_METHOD,
    TS_JUMP_GROUP_ID,
    TS_JUMP_GROUP_NAME,
    TS_JUMP_GROUP_TYPE,
    TS_JUMPOINT_ID,
    TS_JUMPOINT_NAME,
    TS_FIELD__COUNT
} ts_field;

#define TS_VALUE_MAX 1024       /* longest accepted value of any field */

typedef struct ts_field_info {
    const char *name;           /* internal name, e.g. "username" */
    const char *description;
} ts_field_info;

extern const ts_field_info ts_fields[TS_FIELD__COUNT];
/* Internal field by name; -1 when unknown. */
int ts_field_by_name(const char *name);

typedef struct ts_wire_name {
    const char *wire;           /* name in the request, e.g. "user.username" */
    const char *field;          /* internal name, or "-" to ignore it */
} ts_wire_name;

/* Built-in wire names, terminated by {NULL, NULL}. Every internal name also
 * maps to itself. */
extern const ts_wire_name ts_default_wire_names[];

typedef struct ts_field_map {
    size_t n;
    struct ts_map_entry {
        char *wire;
        int field;              /* ts_field, or -1 = ignore */
    } *v;
} ts_field_map;

/* Builds the effective map: defaults, then every (wire, field) of extra
 * over them (field "-" removes a name). extra may be NULL. */
tb_err ts_field_map_build(const ts_wire_name *extra, size_t nextra, ts_field_map *out);
void ts_field_map_free(ts_field_map *m);

typedef struct ts_request {
    char *v[TS_FIELD__COUNT];   /* NULL when absent */
    size_t unmapped;            /* wire fields nothing maps to */
} ts_request;

/* Maps a parsed body (form, or nested JSON flattened) onto internal fields.
 * TB_ERR_INVALID with a reason in err when a field is too long or holds
 * control characters, or the ticket ID is missing. */
tb_err ts_request_from_form(const bt_form *f, const ts_field_map *m, ts_request *out, char *err, size_t errsz);
void ts_request_free(ts_request *r);
/* The computer being jumped to: hostname, else the Jump item's name; "" if neither. */
const char *ts_request_computer(const ts_request *r);
static inline const char *ts_get(const ts_request *r, ts_field f)
{
    return r->v[f] ? r->v[f] : "";
}

/* The answer to the appliance. attrs are (code_name, value) pairs; n may be 0. */
typedef struct ts_attr {
    const char *name;
    const char *value;
} ts_attr;
tb_err ts_response_json(bool allowed, const char *message, const ts_attr *attrs, size_t n, long long decision_id,
                        tb_buf *out);

#endif
