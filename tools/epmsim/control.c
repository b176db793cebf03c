/* The control API under /_epmsim/ (no auth, JSON). Errors use the project's
 * shape {"error":{"message","detail"},"status":"failure"}. */
#include "epmsim.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *stats_json(void)
{
    double now = ep_now();
    pthread_mutex_lock(&E.mu);
    size_t live = 0;
    for (size_t i = 0; i < E.ntok; i++)
        if (E.tokens[i].expires > now)
            live++;
    const ep_stats *s = &E.st;
    json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
                          "tokens_issued", (json_int_t)s->tokens_issued, "tokens_live",
                          (json_int_t)live, "token_rejects", (json_int_t)s->token_rejects,
                          "bearer_rejects", (json_int_t)s->bearer_rejects, "decisions_received",
                          (json_int_t)s->decisions_received, "decisions_accepted",
                          (json_int_t)s->decisions_accepted, "decisions_rejected",
                          (json_int_t)s->decisions_rejected, "reads", (json_int_t)s->reads,
                          "requests_known", (json_int_t)registry_count(), "sink_received",
                          (json_int_t)s->sink_received, "faults_fired",
                          (json_int_t)s->faults_fired, "faults_pending", (json_int_t)E.nfaults,
                          "http_requests", (json_int_t)s->requests_total);
    pthread_mutex_lock(&E.qmu);
    json_object_set_new(j, "webhooks_queued", json_integer((json_int_t)E.wh_queued));
    json_object_set_new(j, "webhooks_delivered", json_integer((json_int_t)E.wh_delivered));
    json_object_set_new(j, "webhooks_failed", json_integer((json_int_t)E.wh_failed));
    json_object_set_new(j, "webhook_attempts", json_integer((json_int_t)E.wh_attempts));
    json_object_set_new(j, "webhook_retries", json_integer((json_int_t)E.wh_retried));
    json_object_set_new(j, "webhook_queue_depth", json_integer((json_int_t)E.qdepth));
    pthread_mutex_unlock(&E.qmu);
    pthread_mutex_unlock(&E.mu);
    json_object_set_new(j, "down", json_boolean(server_is_down()));
    return j;
}

static void config_post(ep_req *r, ep_reply *out)
{
    char why[300];
    json_t *body = ep_parse_object(r, why, sizeof why);
    if (!body) {
        reply_ctl_error(out, 400, "bad config", why);
        return;
    }
    ep_config next;
    pthread_mutex_lock(&E.mu);
    config_copy(&next, &E.cfg);
    pthread_mutex_unlock(&E.mu);
    /* validated on a copy: nothing is half-applied */
    tb_err rc = config_apply_json(&next, body, why, sizeof why);
    if (!rc)
        rc = config_check(&next, why, sizeof why);
    json_decref(body);
    if (rc) {
        config_free(&next);
        reply_ctl_error(out, 400, "bad config", why);
        return;
    }
    pthread_mutex_lock(&E.mu);
    /* the listener's own address and port do not change at run time */
    ep_config old = E.cfg;
    E.cfg = next;
    json_t *j = config_json(&E.cfg);
    pthread_mutex_unlock(&E.mu);
    config_free(&old);
    TB_LOGI("config changed", "%s", "");
    reply_json(out, 200, j);
}

static void webhooks_send(ep_req *r, ep_reply *out)
{
    char why[300];
    json_t *body = ep_parse_object(r, why, sizeof why);
    if (!body) {
        reply_ctl_error(out, 400, "bad webhook request", why);
        return;
    }
    json_t *res = NULL;
    int status = 400;
    if (webhook_send(body, &res, &status, why, sizeof why))
        reply_ctl_error(out, status, "webhook not sent", why);
    else
        reply_json(out, 200, res);
    json_decref(body);
}

static void webhooks_burst(ep_req *r, ep_reply *out)
{
    char why[300];
    json_t *body = ep_parse_object(r, why, sizeof why);
    if (!body) {
        reply_ctl_error(out, 400, "bad burst request", why);
        return;
    }
    json_t *res = NULL;
    if (burst_run(body, &res, why, sizeof why))
        reply_ctl_error(out, 400, "bad burst request", why);
    else
        reply_json(out, 200, res);
    json_decref(body);
}

static void faults_post_handler(ep_req *r, ep_reply *out)
{
    char why[300];
    json_t *body = ep_parse_object(r, why, sizeof why);
    if (!body) {
        reply_ctl_error(out, 400, "bad fault", why);
        return;
    }
    json_t *res = NULL;
    tb_err rc = faults_post(body, &res, why, sizeof why);
    json_decref(body);
    if (rc)
        reply_ctl_error(out, rc == TB_ERR_TOO_LARGE ? 409 : 400, "bad fault", why);
    else
        reply_json(out, 200, res);
}

static bool parse_id(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s < '0' || *s > '9')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v == 0)
        return false;
    *out = v;
    return true;
}

static void no_method(ep_reply *out, const char *allowed)
{
    char d[80];
    snprintf(d, sizeof d, "allowed: %s", allowed);
    reply_ctl_error(out, 405, "method not allowed", d);
}

void handle_control(ep_req *r, ep_reply *out)
{
    const char *u = r->url, *m = r->method;
    bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0,
         del = strcmp(m, "DELETE") == 0;
    if (strcmp(u, "/_epmsim/stats") == 0) {
        if (!get)
            { no_method(out, "GET"); return; }
        reply_json(out, 200, stats_json());
    } else if (strcmp(u, "/_epmsim/config") == 0) {
        if (get) {
            pthread_mutex_lock(&E.mu);
            json_t *j = config_json(&E.cfg);
            pthread_mutex_unlock(&E.mu);
            reply_json(out, 200, j);
        } else if (post) {
            config_post(r, out);
        } else {
            no_method(out, "GET, POST");
        }
    } else if (strcmp(u, "/_epmsim/decisions") == 0) {
        if (get)
            reply_json(out, 200, decisions_json());
        else if (del) {
            decisions_clear();
            reply_json(out, 200, json_pack("{s:b}", "ok", 1));
        } else
            no_method(out, "GET, DELETE");
    } else if (strcmp(u, "/_epmsim/faults") == 0) {
        if (get)
            reply_json(out, 200, faults_json());
        else if (post)
            faults_post_handler(r, out);
        else if (del) {
            fault_clear_all();
            reply_json(out, 200, json_pack("{s:b}", "ok", 1));
        } else
            no_method(out, "GET, POST, DELETE");
    } else if (strcmp(u, "/_epmsim/requests") == 0) {
        if (!get)
            { no_method(out, "GET"); return; }
        pthread_mutex_lock(&E.mu);
        json_t *a = registry_list_json();
        pthread_mutex_unlock(&E.mu);
        reply_json(out, 200, json_pack("{s:o}", "requests", a));
    } else if (strncmp(u, "/_epmsim/requests/", 18) == 0) {
        if (!get)
            { no_method(out, "GET"); return; }
        const char *id = u + 18;
        pthread_mutex_lock(&E.mu);
        const ep_request *q = ep_is_guid(id) ? registry_find(id) : NULL;
        json_t *j = q ? registry_request_json(q) : NULL;
        pthread_mutex_unlock(&E.mu);
        if (j)
            reply_json(out, 200, j);
        else
            reply_ctl_error(out, 404, "no such request", "requests are created by the "
                            "URM_Native_Ticket_Created and JIT_ADMIN_TICKET_CREATED webhooks");
    } else if (strcmp(u, "/_epmsim/webhooks") == 0) {
        if (get)
            reply_json(out, 200, json_pack("{s:o}", "webhooks", sender_list_json()));
        else if (del) {
            sender_clear_finished();
            reply_json(out, 200, json_pack("{s:b}", "ok", 1));
        } else
            no_method(out, "GET, DELETE");
    } else if (strcmp(u, "/_epmsim/webhooks/send") == 0) {
        if (!post)
            { no_method(out, "POST"); return; }
        webhooks_send(r, out);
    } else if (strcmp(u, "/_epmsim/webhooks/burst") == 0) {
        if (!post)
            { no_method(out, "POST"); return; }
        webhooks_burst(r, out);
    } else if (strncmp(u, "/_epmsim/webhooks/", 18) == 0) {
        uint64_t id;
        if (!parse_id(u + 18, &id)) {
            reply_ctl_error(out, 404, "not found", u);
            return;
        }
        if (!get)
            { no_method(out, "GET"); return; }
        json_t *j = sender_wait_json(id, 0, true);
        if (j)
            reply_json(out, 200, j);
        else
            reply_ctl_error(out, 404, "no such webhook send", "");
    } else if (strcmp(u, "/_epmsim/sink") == 0) {
        if (get)
            reply_json(out, 200, sink_json());
        else if (del) {
            sink_clear();
            reply_json(out, 200, json_pack("{s:b}", "ok", 1));
        } else
            no_method(out, "GET, DELETE, POST");
    } else {
        reply_ctl_error(out, 404, "not found", "unknown control path; see docs/epmsim.md");
    }
}
