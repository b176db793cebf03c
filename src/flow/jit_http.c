#include "flow/jit_http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/roles.h"
#include "flow/auth.h"
#include "flow/epm_int.h"
#include "flow/gateway.h"
#include "store/store_jit.h"

#define KEY_MAX 100

static bool bad(jit_decision_outcome *out, const char *message, const char *detail)
{
    out->status = 400;
    snprintf(out->message, sizeof out->message, "%s", message);
    snprintf(out->detail, sizeof out->detail, "%s", detail);
    return false;
}

/* A whole number from a JSON number or a string of digits; false otherwise. */
static bool whole(json_t *v, long *n)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < -1000000 || x > 1000000)
            return false;
        *n = (long)x;
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    long x = strtol(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (end == s || *end || x < -1000000 || x > 1000000)
        return false;
    *n = x;
    return true;
}

bool jit_decision_parse(const char *body, size_t len, jit_decision_input *in, void **hold, jit_decision_outcome *out)
{
    memset(out, 0, sizeof *out);
    *hold = NULL;
    json_error_t jerr;
    json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return bad(out, "Malformed body", jerr.text);
    *hold = j;
    if (!json_is_object(j))
        return bad(out, "Malformed body", "the body must be a JSON object");
    int durations = 0;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
        if (!strcmp(k, "decision")) {
            const char *d = json_string_value(v);
            if (d && (!strcasecmp(d, "approve") || !strcasecmp(d, "approved")))
                in->approve = true;
            else if (d && (!strcasecmp(d, "deny") || !strcasecmp(d, "denied")))
                in->approve = false;
            else
                return bad(out, "Invalid field", "decision must be \"approve\" or \"deny\"");
        } else if (!strcmp(k, "reason")) {
            if (!json_is_string(v) && !json_is_null(v))
                return bad(out, "Invalid field", "reason must be a string");
            in->reason = json_is_string(v) ? json_string_value(v) : "";
        } else if (!strcmp(k, "once")) {
            if (!json_is_true(v) && !(json_is_string(v) && !strcasecmp(json_string_value(v), "true"))) {
                if (json_is_false(v))
                    continue;
                return bad(out, "Invalid field", "once must be true");
            }
            in->unit = EPM_DUR_ONCE;
            durations++;
        } else if (!strcmp(k, "minutes") || !strcmp(k, "hours")) {
            bool minutes = k[0] == 'm';
            in->unit = minutes ? EPM_DUR_MINUTES : EPM_DUR_HOURS;
            if (!whole(v, &in->amount))
                return bad(out, minutes ? EPM_MSG_MINUTES : EPM_MSG_HOURS, "not a whole number");
            durations++;
        } else {
            char d[160];
            snprintf(d, sizeof d, "unknown field '%.60s' (decision, reason, once, minutes, hours)", k);
            return bad(out, "Invalid field", d);
        }
    }
    if (!json_object_get(j, "decision"))
        return bad(out, "Missing field", "decision (\"approve\" or \"deny\")");
    if (durations > 1)
        return bad(out, "Choose one duration", "give one of once, minutes or hours");
    if (!in->reason)
        in->reason = "";
    return true;
}

void jit_hold_free(void *hold)
{
    json_decref(hold);
}

/* ---- the decision, through the writer ---- */

struct decide_call {
    tb_write_req w;
    epm *m;
    tb_http_req *http;
    jit_decision_input in;
    char *request, *reason, *performed_by;
    jit_ticket_state known;
    bool remote;                        /* known holds the ticket's state */
    jit_decision_outcome out;
};

static void call_free(struct decide_call *c)
{
    free(c->request);
    free(c->reason);
    free(c->performed_by);
    free(c);
}

static tb_err do_decide(tb_store *st, void *arg)
{
    struct decide_call *c = arg;
    itsm *t;
    tb_err e = epm_writer_tickets(c->m, st, &t);
    if (e)
        return e;
    epm_settings *s = epm_settings_acquire(c->m->settings);
    e = jit_decide(st, t, s, &c->in, c->remote ? &c->known : NULL, tb_now_ms() / 1000, &c->out);
    epm_settings_release(c->m->settings, s);
    return e;
}

static void reply_outcome(tb_http_req *req, const jit_decision_outcome *o)
{
    if (o->status != 200) {
        tb_http_reply_error(req, o->status, o->message, o->detail);
        return;
    }
    json_t *j = json_pack("{s:{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s}}", "result", "request_id", o->request_id, "ticket",
                          o->ticket, "decision", o->decision, "duration", o->duration, "state", "pending",
                          "decision_id", (json_int_t)o->decision_id, "job_id", (json_int_t)o->job_id, "message",
                          o->message);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (s)
        tb_http_reply_json(req, 200, s);
    else
        tb_http_reply_error(req, 503, "Out of memory", "the decision was recorded");
    free(s);
    json_decref(j);
}

static void on_decided(tb_write_req *w)
{
    struct decide_call *c = w->arg;
    if (w->rc) {
        TB_LOGE("JIT decision not recorded", "request=\"%.64s\" err=\"%s\"", c->request, tb_strerror(w->rc));
        tb_http_reply_error(c->http, 503, "Decision not recorded, try again", tb_strerror(w->rc));
    } else {
        if (c->out.status == 200) {
            TB_LOGI("JIT decision recorded", "request=%s decision=%s duration=%s by=\"%s\"", c->out.request_id,
                    c->out.decision, c->out.duration, c->performed_by);
            workers_notify(c->m->jobs);
        }
        reply_outcome(c->http, &c->out);
    }
    tb_http_resume(c->http);
    call_free(c);
}

/* Remote ticket store: the ticket's state, read here on this thread's own
 * handle, since the writer's handle only queues writes. False when the
 * request was answered (the store cannot be reached). */
static bool read_ticket_state(epm *m, tb_http_req *req, const char *key, jit_ticket_state *known)
{
    tb_store *rd;
    itsm *tickets;
    char why[300] = "";
    bool found;
    tb_err e = epm_reader(m, &rd);
    if (!e)
        e = epm_tickets(m, &tickets);
    if (e)
        snprintf(why, sizeof why, "cannot open the ticket store: %s", tb_strerror(e));
    else
        e = jit_ticket_state_read(rd, tickets, key, known, &found, why, sizeof why);
    if (!e)
        return true;
    char qw[340];
    TB_LOGW("JIT decision refused: ticket system unavailable", "request=%s reason=%s", key,
            tb_log_quote(qw, sizeof qw, why));
    tb_http_reply_error(req, 503, "Ticket system unavailable", why);
    return false;
}

static bool json_content(tb_http_req *req)
{
    const char *ct = tb_http_header(req, "Content-Type");
    return ct && !strncasecmp(ct, "application/json", 16) && (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

static void decide(epm *m, tb_http_req *req, const char *key, const auth_principal *who)
{
    if (!json_content(req)) {
        tb_http_reply_error(req, 415, "Unsupported Media Type", "send the decision as application/json");
        return;
    }
    size_t blen;
    const char *body = tb_http_body(req, &blen);
    jit_decision_input in = {0};
    jit_decision_outcome out;
    void *hold;
    if (!jit_decision_parse(body, blen, &in, &hold, &out) || !jit_decision_check_input(&in, &out)) {
        tb_http_reply_error(req, out.status, out.message, out.detail);
        jit_hold_free(hold);
        return;
    }
    struct decide_call *c = calloc(1, sizeof *c);
    if (c) {
        c->request = strdup(key);
        c->reason = strdup(in.reason);
        c->performed_by = strdup(who->username);
    }
    jit_hold_free(hold);
    if (!c || !c->request || !c->reason || !c->performed_by) {
        if (c)
            call_free(c);
        tb_http_reply_error(req, 503, "Out of memory", "");
        return;
    }
    c->remote = ticket_store_is_remote(m->ticket_store);
    if (c->remote && !read_ticket_state(m, req, c->request, &c->known)) {
        call_free(c);
        return;
    }
    c->m = m;
    c->in = in;
    c->in.request = c->request;
    c->in.reason = c->reason;
    c->in.performed_by = c->performed_by;
    c->w.kind = WRITE_FN;
    c->w.fn = do_decide;
    c->w.fn_arg = c;
    c->w.done = on_decided;
    c->w.arg = c;
    if (!tb_http_try_suspend(req)) {
        call_free(c);
        tb_http_reply_error(req, 503, "Shutting down, retry later", "the decision was not recorded");
        return;
    }
    c->http = req;
    tb_err e = writer_submit(m->writer, &c->w);
    if (e) {
        call_free(c);
        tb_http_reply_error(req, 503, "Shutting down, retry later", tb_strerror(e));
        tb_http_resume(req);
    }
}

static void show(epm *m, tb_http_req *req, const char *key)
{
    tb_store *rd;
    void *j = NULL;
    tb_err e = epm_reader(m, &rd);
    if (!e)
        e = store_jit_request_json(rd, key, &j);
    if (e == TB_ERR_NOT_FOUND) {
        tb_http_reply_error(req, 404, "No such JIT request", "no EPM request, ticket or EPM ticket number matches");
        return;
    }
    char *s = NULL;
    if (!e) {
        json_t *wrap = json_pack("{s:o}", "result", (json_t *)j);
        s = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
        json_decref(wrap);
    }
    if (s)
        tb_http_reply_json(req, 200, s);
    else
        tb_http_reply_error(req, 503, "Cannot read the request", tb_strerror(e ? e : TB_ERR_NOMEM));
    free(s);
}

/* "{key}" or "{key}/decision" after the prefix; key is letters, digits and
 * - _ . { }. */
static bool split_path(const char *path, char *key, size_t keysz, bool *decision)
{
    size_t pl = strlen(JIT_API_PREFIX);
    if (strncmp(path, JIT_API_PREFIX, pl))
        return false;
    const char *p = path + pl;
    size_t n = strcspn(p, "/");
    if (n == 0 || n > KEY_MAX || n >= keysz)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && !strchr("-_.{}", p[i]))
            return false;
    memcpy(key, p, n);
    key[n] = '\0';
    p += n;
    if (!*p) {
        *decision = false;
        return true;
    }
    *decision = !strcmp(p, "/decision");
    return *decision;
}

void jit_http_handle(tb_http_req *req)
{
    epm *m = tb_http_route_ctx(req);
    char key[KEY_MAX + 1];
    bool decision;
    if (!split_path(tb_http_path(req), key, sizeof key, &decision)) {
        tb_http_reply_error(req, 404, "Not found",
                            "use /api/tb/v1/jit/{request} or /api/tb/v1/jit/{request}/decision");
        return;
    }
    auth_principal who;
    if (!auth_require(gateway_auth(tb_http_app(req)), req, ROLE_JIT_USER, &who))
        return;
    bool post = !strcmp(tb_http_req_method(req), "POST");
    if (decision != post) {
        tb_http_reply_error(req, 405, "Method not allowed",
                            decision ? "POST a decision" : "GET a request; decisions go to .../decision");
        return;
    }
    if (decision)
        decide(m, req, key, &who);
    else
        show(m, req, key);
}
