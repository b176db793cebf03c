/* Fault injection: "the next N requests to an endpoint" answer a status,
 * wait, or lose their connection; the listener goes down and up; tokens
 * expire. Faults are taken in the order they were added. */
#include "epmsim.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    unsigned mask;
} endpoint_names[] = {
    {"token", EP_EP_TOKEN},
    {"app_decision", EP_EP_APP_DECISION},
    {"admin_decision", EP_EP_ADMIN_DECISION},
    {"decision", EP_EP_APP_DECISION | EP_EP_ADMIN_DECISION},
    {"app_read", EP_EP_APP_READ},
    {"admin_read", EP_EP_ADMIN_READ},
    {"read", EP_EP_APP_READ | EP_EP_ADMIN_READ},
    {"api", EP_EP_TOKEN | EP_EP_APP_DECISION | EP_EP_ADMIN_DECISION | EP_EP_APP_READ |
                EP_EP_ADMIN_READ},
    {"sink", EP_EP_SINK},
};

static const char *mask_name(unsigned m)
{
    for (size_t i = 0; i < sizeof endpoint_names / sizeof endpoint_names[0]; i++)
        if (endpoint_names[i].mask == m)
            return endpoint_names[i].name;
    return "?";
}

static const char *const kind_names[] = {"status", "delay", "drop"};

bool fault_take(unsigned endpoint, ep_fault *out)
{
    bool hit = false;
    pthread_mutex_lock(&E.mu);
    for (size_t i = 0; i < E.nfaults; i++) {
        ep_fault *f = &E.faults[i];
        if (!(f->endpoints & endpoint))
            continue;
        *out = *f;
        out->message = ep_strdup(f->message);
        hit = true;
        E.st.faults_fired++;
        if (f->remaining > 0 && --f->remaining == 0) {
            free(f->message);
            memmove(f, f + 1, (E.nfaults - i - 1) * sizeof *f);
            E.nfaults--;
        }
        break;
    }
    pthread_mutex_unlock(&E.mu);
    return hit;
}

void fault_clear_all(void)
{
    pthread_mutex_lock(&E.mu);
    for (size_t i = 0; i < E.nfaults; i++)
        free(E.faults[i].message);
    E.nfaults = 0;
    pthread_mutex_unlock(&E.mu);
}

json_t *faults_json(void)
{
    json_t *a = json_array();
    pthread_mutex_lock(&E.mu);
    for (size_t i = 0; i < E.nfaults; i++) {
        const ep_fault *f = &E.faults[i];
        json_t *j = json_pack("{s:s,s:s,s:I}", "action", kind_names[f->kind], "endpoint",
                              mask_name(f->endpoints), "remaining", (json_int_t)f->remaining);
        if (f->kind == EP_FAULT_STATUS) {
            json_object_set_new(j, "status", json_integer(f->status));
            if (f->retry_after >= 0)
                json_object_set_new(j, "retry_after", json_integer(f->retry_after));
            if (f->message)
                json_object_set_new(j, "message", json_string(f->message));
        } else if (f->kind == EP_FAULT_DELAY) {
            json_object_set_new(j, "ms", json_integer(f->delay_ms));
        }
        json_array_append_new(a, j);
    }
    bool down = E.want_down;
    double until = E.down_until;
    pthread_mutex_unlock(&E.mu);
    json_t *j = json_pack("{s:o,s:b}", "faults", a, "down", down || server_is_down());
    if (down && until > 0)
        json_object_set_new(j, "down_for_ms", json_integer((json_int_t)((until - ep_now()) * 1000)));
    return j;
}

static tb_err get_int(json_t *body, const char *k, long lo, long hi, long dflt, long *out,
                      char *why, size_t whysz)
{
    json_t *v = json_object_get(body, k);
    if (!v) {
        *out = dflt;
        return TB_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(why, whysz, "%s must be an integer from %ld to %ld", k, lo, hi);
        return TB_ERR_INVALID;
    }
    *out = (long)json_integer_value(v);
    return TB_OK;
}

tb_err faults_post(json_t *body, json_t **result, char *why, size_t whysz)
{
    json_t *av = json_object_get(body, "action");
    const char *action = json_string_value(av);
    if (!action) {
        snprintf(why, whysz, "action is required: status, delay, drop, down, up or expire_tokens");
        return TB_ERR_INVALID;
    }
    if (strcmp(action, "up") == 0 || strcmp(action, "expire_tokens") == 0) {
        static const char *const keys[] = {"action", NULL};
        if (ep_check_keys(body, keys, why, whysz))
            return TB_ERR_INVALID;
        if (strcmp(action, "up") == 0) {
            pthread_mutex_lock(&E.mu);
            E.want_down = false;
            E.down_until = 0;
            pthread_mutex_unlock(&E.mu);
            TB_LOGI("listener up requested", "%s", "");
        } else {
            tokens_expire_all();
        }
        *result = json_pack("{s:b}", "ok", 1);
        return TB_OK;
    }
    if (strcmp(action, "down") == 0) {
        static const char *const keys[] = {"action", "for_ms", NULL};
        if (ep_check_keys(body, keys, why, whysz))
            return TB_ERR_INVALID;
        long for_ms;
        if (get_int(body, "for_ms", 1, 3600000, 0, &for_ms, why, whysz))
            return TB_ERR_INVALID;
        if (for_ms == 0 && server_control_port() < 0) {
            snprintf(why, whysz, "down without for_ms needs --control-port: nothing could bring "
                     "the listener up again");
            return TB_ERR_INVALID;
        }
        pthread_mutex_lock(&E.mu);
        E.want_down = true;
        E.down_until = for_ms ? ep_now() + for_ms / 1000.0 : 0;
        pthread_mutex_unlock(&E.mu);
        TB_LOGI("listener down requested", "for_ms=%ld", for_ms);
        *result = json_pack("{s:b,s:I}", "ok", 1, "for_ms", (json_int_t)for_ms);
        return TB_OK;
    }
    ep_fault f = {.retry_after = -1};
    if (strcmp(action, "status") == 0) {
        static const char *const keys[] = {"action", "endpoint", "count", "status",
                                           "retry_after", "message", NULL};
        if (ep_check_keys(body, keys, why, whysz))
            return TB_ERR_INVALID;
        f.kind = EP_FAULT_STATUS;
        long st;
        if (!json_object_get(body, "status")) {
            snprintf(why, whysz, "status is required for action status");
            return TB_ERR_INVALID;
        }
        if (get_int(body, "status", 400, 599, 0, &st, why, whysz) ||
            get_int(body, "retry_after", 0, 86400, -1, &f.retry_after, why, whysz))
            return TB_ERR_INVALID;
        f.status = (int)st;
        json_t *m = json_object_get(body, "message");
        if (m) {
            if (!json_is_string(m) || json_string_length(m) > 1024 ||
                strlen(json_string_value(m)) != json_string_length(m)) {
                snprintf(why, whysz, "message must be a string of at most 1024 characters");
                return TB_ERR_INVALID;
            }
        }
        f.message = m ? ep_strdup(json_string_value(m)) : NULL;
    } else if (strcmp(action, "delay") == 0) {
        static const char *const keys[] = {"action", "endpoint", "count", "ms", NULL};
        if (ep_check_keys(body, keys, why, whysz))
            return TB_ERR_INVALID;
        f.kind = EP_FAULT_DELAY;
        if (!json_object_get(body, "ms")) {
            snprintf(why, whysz, "ms is required for action delay");
            return TB_ERR_INVALID;
        }
        if (get_int(body, "ms", 1, 600000, 0, &f.delay_ms, why, whysz))
            return TB_ERR_INVALID;
    } else if (strcmp(action, "drop") == 0) {
        static const char *const keys[] = {"action", "endpoint", "count", NULL};
        if (ep_check_keys(body, keys, why, whysz))
            return TB_ERR_INVALID;
        f.kind = EP_FAULT_DROP;
    } else {
        snprintf(why, whysz, "unknown action \"%.40s\": status, delay, drop, down, up or "
                 "expire_tokens", action);
        return TB_ERR_INVALID;
    }
    tb_err rc = TB_OK;
    json_t *ev = json_object_get(body, "endpoint");
    const char *ep = ev ? json_string_value(ev) : "api";
    f.endpoints = 0;
    for (size_t i = 0; ep && i < sizeof endpoint_names / sizeof endpoint_names[0]; i++)
        if (strcmp(ep, endpoint_names[i].name) == 0)
            f.endpoints = endpoint_names[i].mask;
    if (!f.endpoints) {
        snprintf(why, whysz, "endpoint must be one of token, app_decision, admin_decision, "
                 "decision, app_read, admin_read, read, api, sink");
        rc = TB_ERR_INVALID;
    } else if (json_object_get(body, "count") &&
               (!json_is_integer(json_object_get(body, "count")) ||
                json_integer_value(json_object_get(body, "count")) == 0 ||
                json_integer_value(json_object_get(body, "count")) < -1 ||
                json_integer_value(json_object_get(body, "count")) > 1000000)) {
        snprintf(why, whysz, "count must be an integer from 1 to 1000000, or -1 (until cleared)");
        rc = TB_ERR_INVALID;
    }
    if (rc) {
        free(f.message);
        return rc;
    }
    json_t *cv = json_object_get(body, "count");
    f.remaining = cv ? (long)json_integer_value(cv) : 1;
    pthread_mutex_lock(&E.mu);
    if (E.nfaults >= EP_MAX_FAULTS) {
        pthread_mutex_unlock(&E.mu);
        free(f.message);
        snprintf(why, whysz, "too many pending faults (%d); DELETE /_epmsim/faults first",
                 EP_MAX_FAULTS);
        return TB_ERR_TOO_LARGE;
    }
    E.faults[E.nfaults++] = f;
    size_t n = E.nfaults;
    pthread_mutex_unlock(&E.mu);
    *result = json_pack("{s:b,s:I}", "ok", 1, "pending", (json_int_t)n);
    return TB_OK;
}
