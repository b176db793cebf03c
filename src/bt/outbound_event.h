/* Outbound events as the appliance sends them (protocol notes §4): a POST of
 * form fields event, version, timestamp, appliance_id, lsid, external_key and,
 * with "Send Custom Fields", every custom field. The exact Content-Type is
 * unverified, so application/json object bodies are accepted as well.
 *
 * Unverified wire facts live here, in one place:
 *   - which event names end a session (bt_event_ends_session);
 *   - the name of the token parameter (BT_OUTBOUND_TOKEN_PARAM). */
#ifndef TB_BT_OUTBOUND_EVENT_H
#define TB_BT_OUTBOUND_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include "core/err.h"

#define BT_OUTBOUND_TOKEN_PARAM "outbound_event_token"
#define BT_FORM_MAX_FIELDS 256
#define BT_FORM_MAX_NAME 128
#define BT_FORM_MAX_DEPTH 4     /* nested objects below the top level */

typedef struct bt_form_field {
    char *name;
    char *value;
} bt_form_field;

/* Parsed fields; owns a single allocation per field. */
typedef struct bt_form {
    size_t n;
    bt_form_field *v;
} bt_form;

/* Parses an application/x-www-form-urlencoded body strictly: every '%' must
 * start a valid escape, names are non-empty, decoded text has no NUL bytes,
 * at most BT_FORM_MAX_FIELDS fields. On TB_ERR_INVALID, err explains. */
tb_err bt_form_parse(const char *body, size_t len, bt_form *out, char *err, size_t errsz);
/* Parses a JSON object whose values are strings, numbers or booleans. */
tb_err bt_form_parse_json(const char *body, size_t len, bt_form *out, char *err, size_t errsz);
/* The same, but nested objects become dotted names ("user.username"), up to
 * BT_FORM_MAX_DEPTH levels; arrays are refused. */
tb_err bt_form_parse_json_nested(const char *body, size_t len, bt_form *out, char *err, size_t errsz);
void bt_form_free(bt_form *f);
/* First value of name, or NULL. */
const char *bt_form_get(const bt_form *f, const char *name);

/* Event names that mean "this session has ended, import its report". */
bool bt_event_ends_session(const char *event);
/* Syntax checks for identifiers arriving from the appliance. */
bool bt_valid_event_name(const char *s);
bool bt_valid_lsid(const char *s);

/* The body as it may be stored: the token parameter's value replaced by
 * REDACTED wherever its (decoded) name appears. Returns a malloc'd string or
 * NULL (OOM). */
char *bt_form_redact_token(const char *body, size_t len, size_t *outlen);
/* The same for a JSON object body; a body that is not a JSON object is
 * returned unchanged (it was refused and holds no parsed token). */
char *bt_json_redact_token(const char *body, size_t len, size_t *outlen);

#endif
