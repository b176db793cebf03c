/* Live sessions: started, joined, chatted in and ended one step at a time
 * through the control API (and /api/start_session). Every step appends its
 * events to the session report and, with an outbound recipient, sends the
 * matching outbound event at once (begin, member_added, owner_changed, end),
 * subject to --events-to-send. */
#include "handler.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_MAX 16384          /* [I] characters in one chat message */
#define DETAILS_MAX 4096        /* [I] customer.details has no documented limit */
#define NAME_MAX_CHARS 255

/* Checks one optional text field: UTF-8 and at most max characters. */
static const char *text_check(const char *v, long max)
{
    if (!v)
        return NULL;
    long n = bt_utf8_len(v);
    if (n < 0)
        return "is not valid UTF-8";
    if (n > max)
        return "is too long";
    return NULL;
}

static int parse_bool(const char *v, bool *out)
{
    if (!v)
        return 0;
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) {
        *out = true;
        return 1;
    }
    if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) {
        *out = false;
        return 1;
    }
    return -1;
}

const char *customer_fields_check(const char *name, const char *company, const char *code,
                                  const char *details, const char **field)
{
    /* [V] §6.2: customer.name, .company and .company_code are ≤ 100 chars */
    const struct { const char *v, *f; long max; } c[] = {
        {name, "customer name", 100}, {company, "customer company", 100},
        {code, "customer company code", 100}, {details, "customer details", DETAILS_MAX},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        const char *e = text_check(c[i].v, c[i].max);
        if (e) {
            *field = c[i].f;
            return e;
        }
    }
    return NULL;
}

/* ---------------- steps (G.mu held) ---------------- */
void live_started(bt_session *s)
{
    outbound_session_event(s, G.cfg.begin_event, NULL, NULL);
    outbound_session_event(s, G.cfg.member_event, NULL, &s->custs[0]);
    if (s->nreps > 0) {
        outbound_session_event(s, G.cfg.member_event, &s->reps[0], NULL);
        outbound_session_event(s, G.cfg.owner_event, &s->reps[0], NULL);
    }
}

void session_end_now(bt_session *s)
{
    end_session(s, (int64_t)bt_now());
    outbound_session_event(s, G.cfg.end_event, NULL, NULL);
}

/* ---------------- starting ---------------- */
typedef struct start_args {
    bt_gen_opts o;
    bt_kvs custom;          /* owned */
    char *external_key;     /* owned */
    char *rep;              /* owned */
} start_args;

static void start_args_free(start_args *a)
{
    kvs_free(&a->custom);
    free(a->external_key);
    free(a->rep);
}

/* Reads the fields both start routes accept; returns an error message (with
 * *status) or NULL. */
static const char *start_fields(const req *r, start_args *a, int *status, char *err, size_t errsz)
{
    bt_gen_opts *o = &a->o;
    *status = 400;
    o->customer_name = P(r, "customer_name");
    o->company = P(r, "customer_company") ? P(r, "customer_company") : P(r, "company");
    o->company_code = P(r, "company_code") ? P(r, "company_code") : P(r, "customer_company_code");
    o->details = P(r, "details") ? P(r, "details") : P(r, "customer_details");
    o->issue = P(r, "issue");
    o->customer_host = P(r, "customer_host");
    o->public_portal = P(r, "public_portal");
    const char *field = NULL;
    const char *e = customer_fields_check(o->customer_name, o->company, o->company_code,
                                          o->details, &field);
    if (e) {
        snprintf(err, errsz, "%s %s", field, e);
        return err;
    }
    const struct { const char *v, *f; } t[] = {
        {o->issue, "issue"}, {o->customer_host, "customer_host"},
        {o->public_portal, "public_portal"}, {P(r, "rep"), "rep"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        if ((e = text_check(t[i].v, NAME_MAX_CHARS))) {
            snprintf(err, errsz, "%s %s", t[i].f, e);
            return err;
        }
    }
    bool att;
    int b = parse_bool(P(r, "attended"), &att);
    if (b < 0)
        return "attended must be true or false";
    o->attended = b ? (att ? 1 : -1) : 0;
    for (size_t i = 0; i < r->params.n; i++)
        if (strncmp(r->params.items[i].k, "custom.", 7) == 0)
            kvs_set(&a->custom, r->params.items[i].k + 7, r->params.items[i].v);
    /* seed 003: the auto-create custom fields customer_email / customer_username */
    if (P(r, "customer_email"))
        kvs_set(&a->custom, "customer_email", P(r, "customer_email"));
    if (P(r, "customer_username"))
        kvs_set(&a->custom, "customer_username", P(r, "customer_username"));
    const char *ext = P(r, "external_key");
    if ((e = custom_values_check(&a->custom, ext)))
        return e;
    if (ext)
        a->external_key = bt_strdup(ext);
    const char *rep = P(r, "rep");
    if (rep && !rep_username_known(rep)) {
        *status = 404;
        return "unknown representative";
    }
    a->rep = bt_strdup(rep);
    return NULL;
}

/* Resolves short_key / ticket_id into a, G.mu held. */
static const char *start_source(const req *r, start_args *a, bool rs_key_required, int *status,
                                json_t *detail)
{
    const char *sk = P(r, "short_key");
    const char *ticket = P(r, "ticket_id");
    if (sk) {
        bt_key_state st;
        bt_key *k = key_lookup(sk, &st);
        json_object_set_new(detail, "short_key", json_string(sk));
        if (st == BT_KEY_UNKNOWN) {
            *status = 404;
            return "unknown session key";
        }
        if (st == BT_KEY_EXPIRED) {
            *status = 410;
            json_object_set_new(detail, "expired_at", json_integer((json_int_t)k->expires));
            return "session key expired";
        }
        k->uses++;
        bt_kvs merged = {0};
        kvs_copy(&merged, &k->custom);
        for (size_t i = 0; i < a->custom.n; i++)
            kvs_set(&merged, a->custom.items[i].k, a->custom.items[i].v);
        kvs_free(&a->custom);
        a->custom = merged;
        if (!a->external_key)
            a->external_key = bt_strdup(k->external_key);
        a->o.queue_id = k->queue_id;
        if (!a->rep && k->rep_username)
            a->rep = bt_strdup(k->rep_username);
        return NULL;
    }
    if (ticket) {
        const char *item = P(r, "jump_item_id") ? P(r, "jump_item_id") : P(r, "jump_item.id");
        const bt_grant *g = grant_find(ticket, item);
        json_object_set_new(detail, "ticket_id", json_string(ticket));
        if (!g) {
            *status = 404;
            return "no allowed ticket-system answer for this ticket ID and jump item";
        }
        bt_kvs merged = {0};
        kvs_copy(&merged, &g->custom);
        for (size_t i = 0; i < a->custom.n; i++)
            kvs_set(&merged, a->custom.items[i].k, a->custom.items[i].v);
        kvs_free(&a->custom);
        a->custom = merged;
        a->o.grant = g;
        return NULL;
    }
    if (rs_key_required) {
        *status = 400;
        return "short_key required";
    }
    return NULL;
}

static json_t *session_summary_json(const bt_session *s)
{
    json_t *cu = json_object();
    for (size_t i = 0; i < s->custom.n; i++)
        json_object_set_new(cu, s->custom.items[i].k, json_string(s->custom.items[i].v));
    return json_pack("{s:s,s:s,s:s?,s:s,s:o,s:s,s:b,s:I}", "lsid", s->lsid, "queue_id",
                     s->queue_id, "rep", s->nreps ? s->reps[0].username : NULL,
                     "external_key", s->external_key, "custom", cu, "public_site",
                     s->site_name, "attended", s->attended, "lseq", (json_int_t)s->nev);
}

/* sessions/start: a session with a representative present (the key's, the
 * approved user's, the given one or any); customer/start: a customer waiting
 * in the key's queue until someone joins. */
static void start_common(const req *r, reply *out, bool waiting)
{
    start_args a = {0};
    int status;
    char err[160];
    const char *e = start_fields(r, &a, &status, err, sizeof err);
    if (e) {
        start_args_free(&a);
        reply_error(out, status, "%s", e);
        return;
    }
    json_t *detail = json_object();
    pthread_mutex_lock(&G.mu);
    e = start_source(r, &a, waiting, &status, detail);
    if (e) {
        pthread_mutex_unlock(&G.mu);
        start_args_free(&a);
        json_object_set_new(detail, "error", json_string(e));
        reply_json(out, status, detail);
        return;
    }
    json_decref(detail);
    a.o.live = true;
    a.o.waiting = waiting;
    a.o.custom = &a.custom;
    a.o.external_key = a.external_key;
    if (!waiting)
        a.o.rep_username = a.rep;
    bt_session *s = gen_session(&a.o);
    live_started(s);
    json_t *j = session_summary_json(s);
    pthread_mutex_unlock(&G.mu);
    start_args_free(&a);
    reply_json(out, 200, j);
}

void ctl_sessions_start(const req *r, reply *out) { start_common(r, out, false); }
void ctl_customer_start(const req *r, reply *out) { start_common(r, out, true); }

/* ---------------- steps on one session ---------------- */
static const bt_rep *rep_in(const bt_session *s, const char *username)
{
    for (int i = 0; i < s->nreps; i++)
        if (!s->reps[i].left && (!username || strcmp(s->reps[i].username, username) == 0))
            return &s->reps[i];
    return NULL;
}

static const char *act_chat(bt_session *s, const req *r, int *status, const char **type)
{
    const char *from = P(r, "from"), *text = P(r, "text");
    *status = 400;
    if (!from || (strcmp(from, "customer") && strcmp(from, "rep") && strcmp(from, "representative")))
        return "from must be customer or rep";
    if (!text || !*text)
        return "text required";
    if (text_check(text, CHAT_MAX))
        return bt_utf8_len(text) < 0 ? "text is not valid UTF-8" : "text is too long";
    int64_t now = (int64_t)bt_now();
    *type = "Chat Message";
    if (strcmp(from, "customer") == 0) {
        const bt_cust *c = &s->custs[0];
        sess_chat(s, now, "customer", c->gsnumber, sess_cust_display(s, c), text);
        return NULL;
    }
    const bt_rep *rp = rep_in(s, P(r, "rep"));
    if (!rp) {
        *status = 409;
        return "no such representative in the session";
    }
    sess_chat(s, now, "representative", rp->gsnumber, rp->public_display_name, text);
    return NULL;
}

static const char *act_file(bt_session *s, const req *r, int *status, const char **type)
{
    const char *name = P(r, "name"), *size = P(r, "size"), *dir = P(r, "direction");
    *status = 400;
    if (!name || !*name)
        return "name required";
    if (text_check(name, NAME_MAX_CHARS))
        return "name must be UTF-8 and at most 255 characters";
    char *end = NULL;
    long long sz = size ? strtoll(size, &end, 10) : -1;
    if (!size || !*size || *end || sz < 0 || sz > (1LL << 50))
        return "size must be a number of bytes";
    if (!dir || (strcmp(dir, "upload") && strcmp(dir, "download")))
        return "direction must be upload or download";
    bool up = strcmp(dir, "upload") == 0;
    bool failed = false;
    if (parse_bool(P(r, "failed"), &failed) < 0)
        return "failed must be true or false";
    const bt_rep *rp = rep_in(s, P(r, "rep"));
    if (!rp) {
        *status = 409;
        return "no representative in the session to transfer files";
    }
    int64_t now = (int64_t)bt_now();
    char szs[24];
    snprintf(szs, sizeof szs, "%lld", sz);
    if (G.cfg.pra) {
        /* [V] PRA reports File Transfer Complete with filename and sha256; the
         * direction is not in the event [I]; failures are not reported [I] */
        *type = "File Transfer Complete";
        if (failed)
            return "PRA reports only completed transfers";
        bt_event *ev = sess_event(s, now, *type);
        sess_actor(&ev->by, "representative", rp->gsnumber, rp->public_display_name);
        kvs_add(&ev->data, "filename", name);
        unsigned char h[crypto_hash_sha256_BYTES];
        char *seed = bt_strdupf("%s\n%s\n%lld", s->lsid, name, sz);
        crypto_hash_sha256(h, (const unsigned char *)seed, strlen(seed));
        free(seed);
        char hex[2 * sizeof h + 1];
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        kvs_add(&ev->data, "sha256", hex);
        s->ft_count++;
        return NULL;
    }
    *type = up ? (failed ? "File Upload Failed" : "File Upload")
               : (failed ? "File Download Failed" : "File Download");
    bt_event *ev = sess_event(s, now, *type);
    sess_actor(&ev->by, "representative", rp->gsnumber, rp->public_display_name);
    kvs_add(&ev->data, "filename", name);
    kvs_add(&ev->data, "filesize", szs);
    char *path = bt_strdupf("C:\\Users\\Public\\Downloads\\%s", name);
    kvs_add(&ev->data, "path", path);
    free(path);
    if (!failed)
        s->ft_count++;
    return NULL;
}

const char *live_join(bt_session *s, const char *u, int *status)
{
    *status = 400;
    if (!u || !*u)
        return "rep required";
    if (!rep_username_known(u)) {
        *status = 404;
        return "unknown representative";
    }
    *status = 409;
    if (rep_in(s, u))
        return "representative already in the session";
    bool first = rep_in(s, NULL) == NULL;
    int64_t now = (int64_t)bt_now();
    bt_rep *rp = sess_add_rep(s, u, NULL, NULL, now);
    if (!rp)
        return "session is full";
    outbound_session_event(s, G.cfg.member_event, rp, NULL);
    if (first) {
        for (int i = 0; i < s->nreps; i++)
            s->reps[i].owner = &s->reps[i] == rp;
        sess_owner_changed(s, now, "representative", rp->gsnumber, rp->public_display_name);
        outbound_session_event(s, G.cfg.owner_event, rp, NULL);
    }
    return NULL;
}

static const char *act_join(bt_session *s, const req *r, int *status, const char **type)
{
    *type = "Conference Member Added";
    return live_join(s, P(r, "rep"), status);
}

void ctl_session_action(const char *lsid, const char *action, const req *r, reply *out)
{
    const char *(*fn)(bt_session *, const req *, int *, const char **) = NULL;
    if (strcmp(action, "chat") == 0)
        fn = act_chat;
    else if (strcmp(action, "file") == 0)
        fn = act_file;
    else if (strcmp(action, "join") == 0)
        fn = act_join;
    else if (strcmp(action, "end") != 0) {
        reply_error(out, 404, "not found");
        return;
    }
    pthread_mutex_lock(&G.mu);
    bt_session *s = find_session(lsid);
    if (!s || !s->active) {
        pthread_mutex_unlock(&G.mu);
        reply_error(out, s ? 409 : 404, s ? "session has ended" : "unknown session");
        return;
    }
    int status = 200;
    const char *type = "Session End";
    const char *e = NULL;
    if (fn)
        e = fn(s, r, &status, &type);
    else
        session_end_now(s);
    if (e) {
        pthread_mutex_unlock(&G.mu);
        reply_error(out, status, "%s", e);
        return;
    }
    json_t *j = json_pack("{s:s,s:s,s:I,s:b}", "lsid", s->lsid, "event", type, "lseq",
                          (json_int_t)s->nev, "active", s->active);
    pthread_mutex_unlock(&G.mu);
    reply_json(out, 200, j);
}
