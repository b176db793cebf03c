/* Building one webhook from a template: defaults for every placeholder, the
 * caller's overrides, the request registry, then the sender's queue. */
#include "epmsim.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ep_send *new_send(const char *event_type, const char *request_id)
{
    ep_send *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->event_type = ep_strdup(event_type);
    snprintf(s->request_id, sizeof s->request_id, "%s", request_id ? request_id : "");
    return s;
}

void webhook_queue_update(const ep_request *r)
{
    const ep_tpl *t = tpl_find(r->kind == EP_KIND_APP ? "URM_NATIVE_DECISION_UPDATE"
                                                      : "JIT_ADMIN_TICKET_UPDATED");
    if (!E.cfg.webhook_url || !*E.cfg.webhook_url) {
        TB_LOGW("decision update not sent: no webhook URL", "request_id=%s", r->id);
        return;
    }
    json_t *values = tpl_defaults(t, r);
    ep_send *s = new_send(t->name, r->id);
    s->body = tpl_render(t, values, false);
    json_decref(values);
    send_settings_from_config(s, NULL);
    if (!sender_queue(s))
        TB_LOGW("decision update not sent: queue full", "request_id=%s", r->id);
}

static json_t *result_json(uint64_t id, const char *tname, const char *request_id,
                           const char *ticket, const char *raw, json_t *state)
{
    json_t *body = json_loads(raw, 0, NULL);    /* a repeated key: the last one wins */
    json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:o,s:s}", "id", (json_int_t)id, "template", tname,
                          "request_id", request_id, "ticket_number", ticket ? ticket : "",
                          "body", body ? body : json_null(), "raw", raw);
    if (state) {
        static const char *const keep[] = {"state", "attempts", "last_status", "last_error"};
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
            json_object_set(j, keep[i], json_object_get(state, keep[i]));
        json_decref(state);
    }
    return j;
}

static tb_err fail(int *status, int code, char *why, size_t whysz, const char *msg)
{
    *status = code;
    snprintf(why, whysz, "%s", msg);
    return code == 400 ? TB_ERR_INVALID : TB_ERR_BUSY;
}

tb_err webhook_send(json_t *body, json_t **result, int *status, char *why, size_t whysz)
{
    static const char *const keys[] = {"template", "fields", "url", "wait", "ascii", "resend",
                                       NULL};
    *status = 400;
    if (ep_check_keys(body, keys, why, whysz))
        return TB_ERR_INVALID;
    json_t *urlv = json_object_get(body, "url");
    if (urlv && (!json_is_string(urlv) || !*json_string_value(urlv) ||
                 !config_url_ok(json_string_value(urlv))))
        return fail(status, 400, why, whysz, "url must be an http:// or https:// URL");
    json_t *waitv = json_object_get(body, "wait"), *asciiv = json_object_get(body, "ascii");
    if ((waitv && !json_is_boolean(waitv)) || (asciiv && !json_is_boolean(asciiv)))
        return fail(status, 400, why, whysz, "wait and ascii must be true or false");
    bool wait = json_is_true(waitv), ascii = json_is_true(asciiv);
    const char *url = urlv ? json_string_value(urlv) : NULL;

    ep_send *s = NULL;
    const char *tname = NULL;
    char ticket[64] = "";
    json_t *resend = json_object_get(body, "resend");
    if (resend) {
        if (json_object_get(body, "template") || json_object_get(body, "fields") || ascii)
            return fail(status, 400, why, whysz,
                        "resend takes no template, fields or ascii: it repeats a send as it was");
        if (!json_is_integer(resend) || json_integer_value(resend) < 1)
            return fail(status, 400, why, whysz, "resend must be the id of an earlier send");
        s = sender_clone((uint64_t)json_integer_value(resend));
        if (!s)
            return fail(status, 404, why, whysz, "no send with that id");
        tname = tpl_find(s->event_type) ? tpl_find(s->event_type)->name : "resend";
        pthread_mutex_lock(&E.mu);
        const ep_request *k = registry_find(s->request_id);
        if (k)
            snprintf(ticket, sizeof ticket, "%s", k->ticket_number);
    } else {
        const ep_tpl *t = tpl_find(json_string_value(json_object_get(body, "template")));
        if (!t)
            return fail(status, 400, why, whysz,
                        "template must be one of URM_Native_Ticket_Created, "
                        "URM_NATIVE_DECISION_UPDATE, JIT_ADMIN_TICKET_CREATED, "
                        "JIT_ADMIN_TICKET_UPDATED");
        json_t *fields = json_object_get(body, "fields");
        if (tpl_check_overrides(t, fields, why, whysz))
            return TB_ERR_INVALID;
        tname = t->name;
        const char *rid = json_string_value(json_object_get(fields, "RequestId"));
        pthread_mutex_lock(&E.mu);
        ep_request *known = rid ? registry_find(rid) : NULL;
        json_t *values;
        if (known && known->kind != t->kind)
            known = NULL;
        if (known && t->creates && known->values) {
            /* the same request once more: same values, a fresh Timestamp */
            values = json_deep_copy(known->values);
            char ts[40];
            ep_iso_ms(ep_now(), ts, sizeof ts);
            json_object_set_new(values, "Timestamp", json_string(ts));
            json_object_set_new(values, "EventType", json_string(t->name));
        } else {
            values = tpl_defaults(t, t->creates ? NULL : known);
        }
        if (fields)
            json_object_update(values, fields);
        if (t->creates && !registry_add(t->kind, values, true) &&
            ep_is_guid(json_string_value(json_object_get(values, "RequestId")))) {
            pthread_mutex_unlock(&E.mu);
            json_decref(values);
            return fail(status, 503, why, whysz, "the request registry is full");
        }
        s = new_send(t->name, json_string_value(json_object_get(values, "RequestId")));
        snprintf(ticket, sizeof ticket, "%s",
                 json_string_value(json_object_get(values, "TicketNumber")));
        s->body = tpl_render(t, values, ascii);
        json_decref(values);
    }
    const char *target = url ? url : E.cfg.webhook_url;
    if (!target || !*target) {
        pthread_mutex_unlock(&E.mu);
        send_free(s);
        return fail(status, 409, why, whysz,
                    "no webhook URL: start with --webhook-url or set webhook_url in /_epmsim/config");
    }
    send_settings_from_config(s, url);
    int attempts = s->max_attempts;
    double per = s->timeout + s->retry_interval;
    pthread_mutex_unlock(&E.mu);

    char request_id[64];
    snprintf(request_id, sizeof request_id, "%s", s->request_id);
    char *raw = ep_strdup(s->body);
    uint64_t id = sender_queue(s);
    if (!id) {
        free(raw);
        return fail(status, 503, why, whysz, "the webhook queue is full");
    }
    double limit = attempts * per + 1;
    json_t *state = sender_wait_json(id, wait ? (limit > 300 ? 300 : limit) : 0, false);
    *result = result_json(id, tname, request_id, ticket, raw, state);
    free(raw);
    *status = 200;
    return TB_OK;
}
