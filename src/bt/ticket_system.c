#include "bt/ticket_system.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const ts_field_info ts_fields[TS_FIELD__COUNT] = {
    [TS_TICKET_ID] = {"ticket_id", "the ticket ID the user typed"},
    [TS_APPLIANCE_ID] = {"appliance_id", "the appliance's id (GUID or host name)"},
    [TS_TOKEN] = {"token", "shared secret (the appliance record's outbound event token)"},
    [TS_USER_ID] = {"user_id", "the user's id on the appliance"},
    [TS_USERNAME] = {"username", "the user's username on the appliance"},
    [TS_USER_DISPLAY_NAME] = {"user_display_name", "the user's public display name"},
    [TS_USER_EMAIL] = {"user_email", "the user's email address"},
    [TS_JUMP_ITEM_ID] = {"jump_item_id", "the Jump item's id"},
    [TS_JUMP_ITEM_NAME] = {"jump_item_name", "the Jump item's name"},
    [TS_HOSTNAME] = {"hostname", "the computer being jumped to"},
    [TS_JUMP_METHOD] = {"jump_method", "the Jump method (push, pinned, rdp, vnc, shelljump, ...)"},
    [TS_JUMP_GROUP_ID] = {"jump_group_id", "the Jump group's id"},
    [TS_JUMP_GROUP_NAME] = {"jump_group_name", "the Jump group's name"},
    [TS_JUMP_GROUP_TYPE] = {"jump_group_type", "the Jump group's type (shared, personal)"},
    [TS_JUMPOINT_ID] = {"jumpoint_id", "the Jumpoint's id"},
    [TS_JUMPOINT_NAME] = {"jumpoint_name", "the Jumpoint's name"},
};

/* [I] The suggested shape of protocol notes §5, and a few plausible
 * spellings. Administrators add names the real appliance uses. */
const ts_wire_name ts_default_wire_names[] = {
    {"ticketId", "ticket_id"},
    {"ticket", "ticket_id"},
    {"ticket_number", "ticket_id"},
    {"outbound_event_token", "token"},
    {"user.id", "user_id"},
    {"user.username", "username"},
    {"user.user_name", "username"},
    {"user.public_display_name", "user_display_name"},
    {"user.display_name", "user_display_name"},
    {"user.email", "user_email"},
    {"user.email_address", "user_email"},
    {"jump_item.id", "jump_item_id"},
    {"jump_item.name", "jump_item_name"},
    {"jump_item.hostname", "hostname"},
    {"jump_item.host", "hostname"},
    {"jump_item.computer_name", "hostname"},
    {"jump_item.method", "jump_method"},
    {"jump_item.jump_method", "jump_method"},
    {"jump_item.jump_group.id", "jump_group_id"},
    {"jump_item.jump_group.name", "jump_group_name"},
    {"jump_item.jump_group.type", "jump_group_type"},
    {"jump_item.jumpoint.id", "jumpoint_id"},
    {"jump_item.jumpoint.name", "jumpoint_name"},
    {"jump_group.id", "jump_group_id"},
    {"jump_group.name", "jump_group_name"},
    {"jump_group.type", "jump_group_type"},
    {"jumpoint.id", "jumpoint_id"},
    {"jumpoint.name", "jumpoint_name"},
    {"computer_name", "hostname"},
    {NULL, NULL},
};

int ts_field_by_name(const char *name)
{
    for (int i = 0; i < TS_FIELD__COUNT; i++)
        if (!strcmp(ts_fields[i].name, name))
            return i;
    return -1;
}

static tb_err map_set(ts_field_map *m, size_t *cap, const char *wire, int field)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcasecmp(m->v[i].wire, wire)) {
            m->v[i].field = field;
            return TB_OK;
        }
    if (m->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        struct ts_map_entry *nv = realloc(m->v, *cap * sizeof *nv);
        if (!nv)
            return TB_ERR_NOMEM;
        m->v = nv;
    }
    char *w = strdup(wire);
    if (!w)
        return TB_ERR_NOMEM;
    m->v[m->n++] = (struct ts_map_entry){w, field};
    return TB_OK;
}

tb_err ts_field_map_build(const ts_wire_name *extra, size_t nextra, ts_field_map *out)
{
    out->n = 0;
    out->v = NULL;
    size_t cap = 0;
    tb_err e = TB_OK;
    for (int i = 0; !e && i < TS_FIELD__COUNT; i++)
        e = map_set(out, &cap, ts_fields[i].name, i);
    for (const ts_wire_name *w = ts_default_wire_names; !e && w->wire; w++)
        e = map_set(out, &cap, w->wire, ts_field_by_name(w->field));
    for (size_t i = 0; !e && i < nextra; i++) {
        int f = strcmp(extra[i].field, "-") ? ts_field_by_name(extra[i].field) : -1;
        if (f < 0 && strcmp(extra[i].field, "-"))
            continue;           /* validated when stored; an old name is skipped */
        e = map_set(out, &cap, extra[i].wire, f);
    }
    if (e)
        ts_field_map_free(out);
    return e;
}

void ts_field_map_free(ts_field_map *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].wire);
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

static int map_find(const ts_field_map *m, const char *wire, bool *known)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcasecmp(m->v[i].wire, wire)) {
            *known = true;
            return m->v[i].field;
        }
    *known = false;
    return -1;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

tb_err ts_request_from_form(const bt_form *f, const ts_field_map *m, ts_request *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < f->n; i++) {
        bool known;
        int fld = map_find(m, f->v[i].name, &known);
        if (fld < 0) {
            if (!known)
                out->unmapped++;
            continue;
        }
        const char *v = f->v[i].value;
        if (strlen(v) > TS_VALUE_MAX) {
            snprintf(err, errsz, "field '%.64s' is longer than %d characters", f->v[i].name, TS_VALUE_MAX);
            ts_request_free(out);
            return TB_ERR_INVALID;
        }
        if (has_control(v)) {
            snprintf(err, errsz, "field '%.64s' contains control characters", f->v[i].name);
            ts_request_free(out);
            return TB_ERR_INVALID;
        }
        if (out->v[fld])
            continue;           /* the first spelling present wins */
        if (!(out->v[fld] = strdup(v))) {
            ts_request_free(out);
            return TB_ERR_NOMEM;
        }
    }
    const char *t = out->v[TS_TICKET_ID];
    size_t tl = t ? strlen(t) : 0;
    while (tl && (t[tl - 1] == ' '))
        tl--;
    if (!tl) {
        snprintf(err, errsz, "no ticket ID in the request (looked for ticket_id and its configured aliases)");
        ts_request_free(out);
        return TB_ERR_INVALID;
    }
    return TB_OK;
}

void ts_request_free(ts_request *r)
{
    for (int i = 0; i < TS_FIELD__COUNT; i++) {
        free(r->v[i]);
        r->v[i] = NULL;
    }
}

const char *ts_request_computer(const ts_request *r)
{
    const char *h = ts_get(r, TS_HOSTNAME);
    return *h ? h : ts_get(r, TS_JUMP_ITEM_NAME);
}

/* Request values end up in messages; invalid UTF-8 must not void the answer. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s ? s : "");
    return j ? j : json_string("(text not valid UTF-8)");
}

tb_err ts_response_json(bool allowed, const char *message, const ts_attr *attrs, size_t n, long long decision_id,
                        tb_buf *out)
{
    json_t *o = json_object(), *ca = json_object();
    if (!o || !ca) {
        json_decref(o);
        json_decref(ca);
        return TB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        json_object_set_new(ca, attrs[i].name, jstr(attrs[i].value));
    json_object_set_new(o, "is_valid", json_boolean(allowed));
    json_object_set_new(o, "error_message", jstr(allowed ? "" : message));
    json_object_set_new(o, "message", jstr(message));
    json_object_set_new(o, "custom_attributes", ca);
    if (decision_id > 0)
        json_object_set_new(o, "decision_id", json_integer(decision_id));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return TB_ERR_NOMEM;
    tb_err e = tb_buf_append(out, s, strlen(s));
    free(s);
    return e;
}
