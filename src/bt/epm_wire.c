#include "bt/epm_wire.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

static const char *const event_names[] = {
    [EPM_EV_UNKNOWN] = "",
    [EPM_EV_APP_CREATED] = "URM_Native_Ticket_Created",
    [EPM_EV_APP_UPDATED] = "URM_NATIVE_DECISION_UPDATE",
    [EPM_EV_ADMIN_CREATED] = "JIT_ADMIN_TICKET_CREATED",
    [EPM_EV_ADMIN_UPDATED] = "JIT_ADMIN_TICKET_UPDATED",
};

epm_event epm_event_parse(const char *s)
{
    if (!s)
        return EPM_EV_UNKNOWN;
    for (int e = EPM_EV_APP_CREATED; e <= EPM_EV_ADMIN_UPDATED; e++)
        if (!strcasecmp(s, event_names[e]))
            return (epm_event)e;
    return EPM_EV_UNKNOWN;
}

const char *epm_event_name(epm_event e)
{
    return (unsigned)e <= EPM_EV_ADMIN_UPDATED ? event_names[e] : "";
}

bool epm_event_is_created(epm_event e)
{
    return e == EPM_EV_APP_CREATED || e == EPM_EV_ADMIN_CREATED;
}

bool epm_event_is_admin(epm_event e)
{
    return e == EPM_EV_ADMIN_CREATED || e == EPM_EV_ADMIN_UPDATED;
}

/* ---- payloads ---- */

tb_err epm_payload_parse(const char *body, size_t len, epm_payload *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    /* Not JSON_REJECT_DUPLICATES: see epm_payload in the header. */
    json_t *root = json_loadb(body ? body : "", len, 0, &jerr);
    if (!root) {
        snprintf(err, errsz, "not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return TB_ERR_INVALID;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, errsz, "the body must be a JSON object");
        return TB_ERR_INVALID;
    }
    out->root = root;
    json_t *info = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (!strcasecmp(k, "requestInfo") && json_is_object(v))
            info = v;
    }
    out->info = info;
    return TB_OK;
}

void epm_payload_free(epm_payload *p)
{
    json_decref(p->root);
    memset(p, 0, sizeof *p);
}

/* Numbers and booleans get a text form kept on the payload, so the
 * returned pointer lives as long as it does. */
static const char *as_text(json_t *obj, const char *key, json_t *v)
{
    if (json_is_string(v))
        return json_string_value(v);
    char buf[64];
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
    else if (json_is_true(v))
        snprintf(buf, sizeof buf, "true");
    else if (json_is_false(v))
        snprintf(buf, sizeof buf, "false");
    else
        return NULL;
    json_t *s = json_string(buf);
    if (!s || json_object_set_new(obj, key, s))
        return NULL;
    return json_string_value(s);
}

static const char *lookup(json_t *obj, const char *name)
{
    if (!obj)
        return NULL;
    json_t *v = json_object_get(obj, name);
    const char *key = name;
    if (!v) {
        const char *k;
        json_t *x;
        json_object_foreach(obj, k, x) {
            if (!strcasecmp(k, name)) {
                v = x;
                key = k;
                break;
            }
        }
    }
    return v ? as_text(obj, key, v) : NULL;
}

const char *epm_payload_get(const epm_payload *p, const char *name)
{
    const char *v = lookup(p->root, name);
    return v ? v : lookup(p->info, name);
}

const char *epm_payload_str(const epm_payload *p, const char *name)
{
    const char *v = epm_payload_get(p, name);
    return v ? v : "";
}

char *epm_payload_json(const epm_payload *p)
{
    return p->root ? json_dumps(p->root, JSON_COMPACT) : NULL;
}

static void each_in(json_t *obj, json_t *skip, void (*fn)(void *, const char *, const char *), void *ctx)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (v == skip)
            continue;
        const char *s = as_text(obj, k, v);
        if (s && *s)
            fn(ctx, k, s);
    }
}

void epm_payload_each(const epm_payload *p, void (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
    if (!p->root)
        return;
    each_in(p->root, p->info, fn, ctx);
    if (p->info)
        each_in(p->info, NULL, fn, ctx);
}

bool epm_valid_request_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '{' && *s != '}')
            return false;
    return true;
}

/* ---- decisions ---- */

tb_err epm_duration_value(epm_duration_unit unit, long n, char *out, size_t outsz, const char **msg)
{
    *msg = NULL;
    switch (unit) {
    case EPM_DUR_ONCE:
        snprintf(out, outsz, "Once");
        return TB_OK;
    case EPM_DUR_MINUTES:
        if (n < 5 || n > 1440) {
            *msg = EPM_MSG_MINUTES;
            return TB_ERR_INVALID;
        }
        snprintf(out, outsz, "%ld", n * 60);
        return TB_OK;
    case EPM_DUR_HOURS:
        if (n < 1 || n > 24) {
            *msg = EPM_MSG_HOURS;
            return TB_ERR_INVALID;
        }
        snprintf(out, outsz, "%ld", n * 3600);
        return TB_OK;
    case EPM_DUR_NONE:
        break;
    }
    *msg = "Choose a duration: once, minutes or hours";
    return TB_ERR_INVALID;
}

void epm_duration_text(const char *wire, char *out, size_t outsz)
{
    if (!wire || !*wire) {
        snprintf(out, outsz, "-");
        return;
    }
    char *end;
    long long s = strtoll(wire, &end, 10);
    if (*end || end == wire || s <= 0)
        snprintf(out, outsz, "%s", wire);
    else if (s % 3600 == 0)
        snprintf(out, outsz, "%lld hour%s", s / 3600, s == 3600 ? "" : "s");
    else if (s % 60 == 0)
        snprintf(out, outsz, "%lld minute%s", s / 60, s == 60 ? "" : "s");
    else
        snprintf(out, outsz, "%lld seconds", s);
}

void epm_format_time(int64_t unix_s, char *out, size_t outsz)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outsz, "%Y-%m-%d %H:%M:%S", &tm);
}

static int set_str(json_t *o, const char *k, const char *v)
{
    return json_object_set_new(o, k, json_string(v ? v : ""));
}

char *epm_decision_body(const epm_decision_fields *f)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = 0;
    if (!f->admin) {
        /* A3 (observed), in the order of the documented example. */
        rc |= set_str(o, "itsmRequestId", f->request_id);
        rc |= set_str(o, "systemId", f->system_id);
        rc |= set_str(o, "ticketId", f->ticket_id);
        rc |= set_str(o, "ticketUrl", f->ticket_url);
        rc |= set_str(o, "decision", f->approved ? "Approved" : "Denied");
        rc |= set_str(o, "status", f->approved ? "2000" : "2001");
        rc |= set_str(o, "decisionTime", f->decision_time);
        if (f->approved)
            rc |= set_str(o, "duration", f->duration);
        rc |= set_str(o, "decisionPerformedByUser", f->performed_by);
        rc |= set_str(o, "message", f->message);
    } else {
        /* A4, in the reference page's order; decisionTime's key is verified
         * by the create call, the others are [I]. */
        const char *idk = f->admin_id_field && *f->admin_id_field ? f->admin_id_field : EPM_DEFAULT_ADMIN_ID_FIELD;
        rc |= set_str(o, idk, f->request_id);
        rc |= set_str(o, "decision", f->approved ? "Approved" : "Denied");
        if (f->approved)
            rc |= set_str(o, "duration", f->duration);
        rc |= set_str(o, "decisionPerformedByUser", f->performed_by);
        rc |= set_str(o, "message", f->message);
        rc |= set_str(o, "systemId", f->system_id);
        rc |= set_str(o, "ticketId", f->ticket_id);
        rc |= set_str(o, "ticketUrl", f->ticket_url);
        rc |= set_str(o, "decisionTime", f->decision_time);
    }
    char *s = rc ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

void epm_error_message(const char *body, char *out, size_t outsz)
{
    out[0] = '\0';
    if (!body || !*body)
        return;
    json_t *j = json_loads(body, JSON_DISABLE_EOF_CHECK, NULL);
    if (json_is_object(j)) {
        const char *detail = json_string_value(json_object_get(j, "detail"));
        const char *title = json_string_value(json_object_get(j, "title"));
        const char *desc = json_string_value(json_object_get(j, "error_description"));
        const char *oerr = json_string_value(json_object_get(j, "error"));
        size_t n = 0;
        if (detail && *detail)
            n += (size_t)snprintf(out + n, outsz - n, "%s", detail);
        else if (title && *title)
            n += (size_t)snprintf(out + n, outsz - n, "%s", title);
        else if (desc && *desc)
            n += (size_t)snprintf(out + n, outsz - n, "%s", desc);
        else if (oerr && *oerr)
            n += (size_t)snprintf(out + n, outsz - n, "%s", oerr);
        if (n >= outsz)
            n = outsz - 1;
        /* ValidationProblemDetails: {"errors":{"field":["message", ...]}} */
        json_t *errors = json_object_get(j, "errors");
        const char *k;
        json_t *v;
        if (json_is_object(errors)) {
            json_object_foreach(errors, k, v) {
                size_t i;
                json_t *m;
                json_array_foreach(v, i, m) {
                    if (n + 4 >= outsz || !json_is_string(m))
                        break;
                    n += (size_t)snprintf(out + n, outsz - n, "%s%s: %s", n ? "; " : "", k, json_string_value(m));
                    if (n >= outsz)
                        n = outsz - 1;
                }
            }
        }
        json_decref(j);
        if (n)
            return;
    } else {
        json_decref(j);
    }
    size_t len = strcspn(body, "\r\n");
    if (len >= outsz)
        len = outsz - 1;
    for (size_t i = 0; i < len; i++)
        out[i] = (unsigned char)body[i] < 0x20 ? ' ' : body[i];
    out[len] = '\0';
}
