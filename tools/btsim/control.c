/* The simulator's control API under /_btsim/ (docs/btsim.md): no auth, JSON
 * answers, parameters from the query, a form body or a JSON object body.
 * Errors are {"error": "<message>"} with a 4xx status. */
#include "handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *stats_json(void)
{
    pthread_mutex_lock(&G.mu);
    json_t *j = json_pack("{s:I,s:I,s:I,s:I}", "tokens_issued", (json_int_t)G.tokens_issued,
                          "tokens_live", (json_int_t)G.ntok, "token_rejects",
                          (json_int_t)G.token_rejects, "api_requests",
                          (json_int_t)G.api_requests);
    json_object_set_new(j, "sessions", json_integer((json_int_t)G.nsess));
    json_object_set_new(j, "session_keys", json_integer((json_int_t)G.nkeys));
    pthread_mutex_lock(&G.qmu);
    json_object_set_new(j, "events_queued", json_integer((json_int_t)G.ev_queued));
    json_object_set_new(j, "events_delivered", json_integer((json_int_t)G.ev_delivered));
    json_object_set_new(j, "events_attempts", json_integer((json_int_t)G.ev_attempts));
    json_object_set_new(j, "events_retried", json_integer((json_int_t)G.ev_retried));
    json_object_set_new(j, "events_dropped", json_integer((json_int_t)G.ev_dropped));
    json_object_set_new(j, "queue_depth", json_integer((json_int_t)G.qdepth));
    pthread_mutex_unlock(&G.qmu);
    pthread_mutex_unlock(&G.mu);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static json_t *kvs_json(const bt_kvs *l)
{
    json_t *o = json_object();
    for (size_t i = 0; i < l->n; i++)
        json_object_set_new(o, l->items[i].k, json_string(l->items[i].v));
    return o;
}

/* ---------------- generated sessions ---------------- */
static void ctl_sessions_post(const req *r, reply *out)
{
    const char *cs = P(r, "count");
    char *end = NULL;
    long count = cs ? strtol(cs, &end, 10) : 1;
    if ((cs && *end) || count < 1 || count > 1000000) {
        reply_error(out, 400, "bad count");
        return;
    }
    bt_kvs custom = {0};
    for (size_t i = 0; i < r->params.n; i++)
        if (strncmp(r->params.items[i].k, "custom.", 7) == 0 && r->params.items[i].k[7])
            kvs_set(&custom, r->params.items[i].k + 7, r->params.items[i].v);
    const char *bad = custom_values_check(&custom, P(r, "external_key"));
    if (bad) {
        kvs_free(&custom);
        reply_error(out, 400, "%s", bad);
        return;
    }
    const char *act = P(r, "active");
    bt_gen_opts o = {
        .active = act && strcmp(act, "0") != 0 && strcmp(act, "false") != 0,
        .external_key = P(r, "external_key"),
        .custom = &custom,
        .rep_username = P(r, "rep"),
        .customer_host = P(r, "customer_host"),
    };
    bt_session **made = malloc((size_t)count * sizeof *made);
    if (!made)
        abort();
    pthread_mutex_lock(&G.mu);
    for (long i = 0; i < count; i++) {
        bt_session *s = gen_session(&o);
        made[i] = s;
        if (s->active) {
            if (G.cfg.lifecycle_events) {
                outbound_session_event(s, G.cfg.begin_event, NULL, NULL);
                outbound_session_event(s, G.cfg.member_event, NULL, &s->custs[0]);
                outbound_session_event(s, G.cfg.member_event, &s->reps[0], NULL);
            }
        } else {
            outbound_session_event(s, G.cfg.end_event, NULL, NULL);
        }
    }
    json_t *a = json_array();
    for (long i = 0; i < count; i++)
        json_array_append_new(a, json_string(made[i]->lsid));
    pthread_mutex_unlock(&G.mu);
    free(made);
    kvs_free(&custom);
    reply_json(out, 200, json_pack("{s:o}", "lsids", a));
}

static void ctl_sessions_end(const req *r, reply *out)
{
    const char *lsid = P(r, "lsid");
    pthread_mutex_lock(&G.mu);
    bt_session *s = lsid ? find_session(lsid) : NULL;
    if (!s || !s->active) {
        pthread_mutex_unlock(&G.mu);
        reply_error(out, 404, "no such active session");
        return;
    }
    session_end_now(s);
    pthread_mutex_unlock(&G.mu);
    reply_json(out, 200, json_pack("{s:s}", "lsid", lsid));
}

static void ctl_sessions_get(reply *out)
{
    json_t *a = json_array();
    pthread_mutex_lock(&G.mu);
    for (size_t i = 0; i < G.nsess; i++) {
        bt_session *s = G.sess[i];
        const bt_cust *c = &s->custs[0];
        json_t *o = json_pack("{s:s,s:b,s:I,s:I,s:s,s:o,s:s?,s:s,s:b}", "lsid", s->lsid,
                              "active", s->active, "start_time", (json_int_t)s->start,
                              "end_time", (json_int_t)s->end, "external_key", s->external_key,
                              "custom", kvs_json(&s->custom), "rep",
                              s->nreps ? s->reps[0].username : NULL, "customer_host",
                              c->hostname, "has_recording", s->has_recording);
        json_t *reps = json_array();
        for (int k = 0; k < s->nreps; k++)
            json_array_append_new(reps, json_string(s->reps[k].username));
        json_object_set_new(o, "reps", reps);
        json_object_set_new(o, "live", json_boolean(s->live));
        json_object_set_new(o, "queue_id", json_string(s->queue_id));
        json_object_set_new(o, "public_site", json_string(s->site_name));
        json_object_set_new(o, "attended", json_boolean(s->attended));
        json_object_set_new(o, "customer_name", json_string(c->name));
        json_object_set_new(o, "customer_company", json_string(c->company));
        json_object_set_new(o, "lseq", json_integer((json_int_t)s->nev));
        if (s->ticket_id)
            json_object_set_new(o, "ticket_id", json_string(s->ticket_id));
        json_array_append_new(a, o);
    }
    pthread_mutex_unlock(&G.mu);
    reply_json(out, 200, json_pack("{s:o}", "sessions", a));
}

/* ---------------- session keys and custom fields ---------------- */
static void ctl_keys(reply *out)
{
    json_t *a = json_array();
    pthread_mutex_lock(&G.mu);
    int64_t now = (int64_t)bt_now();
    for (size_t i = 0; i < G.nkeys; i++) {
        const bt_key *k = &G.keys[i];
        json_array_append_new(a, json_pack("{s:s,s:s,s:s?,s:s,s:o,s:I,s:I,s:b,s:i}",
            "short_key", k->short_key, "queue_id", k->queue_id, "rep", k->rep_username,
            "external_key", k->external_key, "custom", kvs_json(&k->custom),
            "created", (json_int_t)k->created, "expires", (json_int_t)k->expires,
            "expired", k->expires <= now, "uses", k->uses));
    }
    pthread_mutex_unlock(&G.mu);
    reply_json(out, 200, json_pack("{s:o}", "keys", a));
}

static void custom_fields_reply(reply *out)
{
    json_t *a = json_array();
    pthread_mutex_lock(&G.mu);
    for (size_t i = 0; i < G.custom_fields.n; i++)
        json_array_append_new(a, json_string(G.custom_fields.items[i].k));
    const char *style = G.cfg.custom_error_code_name ? "code-name" : "validating";
    pthread_mutex_unlock(&G.mu);
    reply_json(out, 200, json_pack("{s:o,s:s}", "fields", a, "error_style", style));
}

/* PUT replaces the list, POST adds to it; both take {"fields":[...]} and an
 * optional "error_style". Everything is checked before anything changes. */
static void ctl_custom_fields(const req *r, reply *out, bool replace)
{
    json_t *fields = r->json ? json_object_get(r->json, "fields") : NULL;
    const char *style = P(r, "error_style");
    if (fields && !json_is_array(fields)) {
        reply_error(out, 400, "fields must be an array of code names");
        return;
    }
    if (!fields && !style) {
        reply_error(out, 400, "fields (an array of code names) or error_style required");
        return;
    }
    if (style && strcmp(style, "validating") && strcmp(style, "code-name")) {
        reply_error(out, 400, "error_style must be validating or code-name");
        return;
    }
    if (json_array_size(fields) > BT_MAX_CUSTOM_FIELDS) {
        reply_error(out, 400, "at most %d custom fields", BT_MAX_CUSTOM_FIELDS);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(fields, i, v) {
        if (!json_is_string(v) || !custom_field_name_valid(json_string_value(v))) {
            reply_error(out, 400, "fields[%zu] is not a code name (a-z, 0-9 and _, at most %d)",
                        i, BT_CODE_NAME_MAX);
            return;
        }
    }
    pthread_mutex_lock(&G.mu);
    bt_kvs next = {0};
    if (!replace || !fields)
        kvs_copy(&next, &G.custom_fields);
    json_array_foreach(fields, i, v)
        kvs_set(&next, json_string_value(v), "");
    bool over = next.n > BT_MAX_CUSTOM_FIELDS;
    if (!over) {
        kvs_free(&G.custom_fields);
        G.custom_fields = next;
        if (style)
            G.cfg.custom_error_code_name = strcmp(style, "code-name") == 0;
    } else {
        kvs_free(&next);
    }
    pthread_mutex_unlock(&G.mu);
    if (over) {
        reply_error(out, 400, "at most %d custom fields", BT_MAX_CUSTOM_FIELDS);
        return;
    }
    custom_fields_reply(out);
}

static void ctl_custom_field_delete(const char *name, reply *out)
{
    pthread_mutex_lock(&G.mu);
    bool had = kvs_get(&G.custom_fields, name) != NULL;
    kvs_del(&G.custom_fields, name);
    pthread_mutex_unlock(&G.mu);
    if (!had) {
        reply_error(out, 404, "no such custom field");
        return;
    }
    custom_fields_reply(out);
}

/* ---------------- arbitrary events, faults ---------------- */
static void ctl_events(const req *r, reply *out)
{
    const char *ev = P(r, "event");
    if (!ev || !*ev) {
        reply_error(out, 400, "event required");
        return;
    }
    if (!G.cfg.outbound_url) {
        reply_error(out, 409, "no --outbound-url configured");
        return;
    }
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)bt_now());
    const char *lsid = P(r, "lsid");
    char *sess_ext = NULL;
    if (!P(r, "external_key") && lsid) {
        pthread_mutex_lock(&G.mu);
        bt_session *s = find_session(lsid);
        if (s)
            sess_ext = bt_strdup(s->external_key);
        pthread_mutex_unlock(&G.mu);
    }
    const char *ext = P(r, "external_key") ? P(r, "external_key") : sess_ext;
    bt_kvs std = {0};
    kvs_add(&std, "event", ev);
    kvs_add(&std, "version", P(r, "version") ? P(r, "version") : G.cfg.event_version);
    kvs_add(&std, "timestamp", P(r, "timestamp") ? P(r, "timestamp") : ts);
    kvs_add(&std, "appliance_id", P(r, "appliance_id") ? P(r, "appliance_id") : G.cfg.appliance_id);
    kvs_add(&std, "lsid", lsid ? lsid : "");
    kvs_add(&std, "external_key", ext ? ext : "");
    free(sess_ext);
    for (size_t i = 0; i < r->params.n; i++)
        if (!kvs_get(&std, r->params.items[i].k))
            kvs_add(&std, r->params.items[i].k, r->params.items[i].v);
    outbound_queue(&std);
    reply_json(out, 200, json_pack("{s:b}", "queued", 1));
}

static void ctl_faults(const req *r, reply *out)
{
    if (strcmp(r->method, "DELETE") == 0) {
        pthread_mutex_lock(&G.mu);
        memset(&G.faults, 0, sizeof G.faults);
        pthread_mutex_unlock(&G.mu);
    } else if (fault_add(P(r, "spec")) != TB_OK) {
        reply_error(out, 400, "bad fault spec");
        return;
    }
    reply_json(out, 200, json_pack("{s:b}", "ok", 1));
}

static void ctl_stats(reply *out)
{
    out->status = 200;
    out->ctype = "application/json";
    out->body = stats_json();
}

/* ---------------- routing ---------------- */
typedef enum { M_GET = 1, M_POST = 2, M_PUT = 4, M_DELETE = 8 } method_bit;

static int method_of(const char *m)
{
    return !strcmp(m, "GET") ? M_GET : !strcmp(m, "POST") ? M_POST : !strcmp(m, "PUT") ? M_PUT
           : !strcmp(m, "DELETE") ? M_DELETE : 0;
}

/* /_btsim/<a>/<b>/<c>: up to three segments, each at most 127 bytes. */
static int split(const char *path, char seg[3][128])
{
    int n = 0;
    const char *p = path;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 3 || len == 0 || len >= 128)
            return -1;
        memcpy(seg[n], p, len);
        seg[n][len] = 0;
        n++;
        p += len;
        if (*p == '/')
            p++;
    }
    return n;
}

void handle_control(const req *r, reply *out)
{
    char seg[3][128];
    int n = split(r->url + strlen("/_btsim/"), seg);
    int m = method_of(r->method);
    int allowed = 0;
#define ROUTE(cond, methods, call)      \
    if (cond) {                         \
        allowed = (methods);            \
        if (m & (methods)) {            \
            call;                       \
            return;                     \
        }                               \
    }
#define IS(i, s) (strcmp(seg[i], s) == 0)
    if (n == 1) {
        ROUTE(IS(0, "sessions"), M_GET | M_POST,
              m == M_GET ? ctl_sessions_get(out) : ctl_sessions_post(r, out));
        ROUTE(IS(0, "events"), M_POST, ctl_events(r, out));
        ROUTE(IS(0, "faults"), M_POST | M_DELETE, ctl_faults(r, out));
        ROUTE(IS(0, "stats"), M_GET, ctl_stats(out));
        ROUTE(IS(0, "keys"), M_GET, ctl_keys(out));
        ROUTE(IS(0, "custom_fields"), M_GET | M_PUT | M_POST,
              m == M_GET ? custom_fields_reply(out) : ctl_custom_fields(r, out, m == M_PUT));
    } else if (n == 2) {
        ROUTE(IS(0, "sessions") && IS(1, "start"), M_POST, ctl_sessions_start(r, out));
        ROUTE(IS(0, "sessions") && IS(1, "end"), M_POST, ctl_sessions_end(r, out));
        ROUTE(IS(0, "customer") && IS(1, "start"), M_POST, ctl_customer_start(r, out));
        ROUTE(IS(0, "custom_fields"), M_DELETE, ctl_custom_field_delete(seg[1], out));
        ROUTE(IS(0, "jump") && IS(1, "config"), M_GET | M_PUT, ctl_jump_config(r, out));
        ROUTE(IS(0, "jump") && IS(1, "request"), M_POST, ctl_jump_request(r, out));
        ROUTE(IS(0, "jump") && IS(1, "burst"), M_POST, ctl_jump_burst(r, out));
        ROUTE(IS(0, "jump") && IS(1, "grants"), M_GET, ctl_jump_grants(out));
    } else if (n == 3) {
        ROUTE(IS(0, "sessions") && (IS(2, "chat") || IS(2, "file") || IS(2, "join") ||
                                    IS(2, "end")),
              M_POST, ctl_session_action(seg[1], seg[2], r, out));
    }
#undef IS
#undef ROUTE
    if (allowed)
        reply_error(out, 405, "method not allowed");
    else
        reply_error(out, 404, "not found");
}
