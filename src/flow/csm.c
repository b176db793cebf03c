#define _GNU_SOURCE     /* strcasestr */
#include "flow/csm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bt/api.h"
#include "bt/case_fields.h"
#include "bt/oauth.h"
#include "bt/outbound_event.h"
#include "bt/report.h"
#include "core/clock.h"
#include "core/log.h"
#include "flow/csm_rules.h"
#include "http/client.h"
#include "itsm/itsm_servicenow.h"
#include "itsm/snquery.h"

#define JOB_TIMEOUT_MS 60000L
#define REP_JOINED_EVENT "support_conference_member_added"
/* Remote case search: active cases read, a page at a time, at most this many. */
#define REMOTE_SEARCH_PAGE 200
#define REMOTE_SEARCH_MAX 2000

static const char *const case_tables[] = {CSM_CASE_TABLE, NULL};

struct csm {
    csm_opts opt;
    char *db_path;
    bt_oauth_cache *tokens;         /* opt.tokens, or owned_tokens */
    bt_oauth_cache *owned_tokens;
    pthread_key_t tls;
    itsm_table *catalog;            /* only for the case table's columns */
    const snq_table *case_cols;
    /* The ticket store on the writer's connection: a case and the record
     * that it is the session's case commit together. Writer thread only. */
    itsm *writer_tickets;
};

/* Per thread: libcurl and SQLite handles are single-threaded. */
struct csm_tls {
    tb_http_client *http;
    itsm *tickets;
    tb_store *reader;
    itsm_table *table;              /* opened on first search */
};

static void tls_free(void *p)
{
    struct csm_tls *t = p;
    if (!t)
        return;
    tb_http_client_free(t->http);
    itsm_close(t->tickets);
    store_close(t->reader);
    itsm_table_close(t->table);
    free(t);
}

static struct csm_tls *tls_get(csm *c, tb_err *err)
{
    struct csm_tls *t = pthread_getspecific(c->tls);
    if (t)
        return t;
    t = calloc(1, sizeof *t);
    tb_err e = t ? tb_http_client_new(&t->http) : TB_ERR_NOMEM;
    if (!e)
        e = ticket_store_open(c->opt.tickets, &t->tickets, NULL, 0);
    if (!e)
        e = store_open(c->db_path, STORE_READ_ONLY, &t->reader);
    if (!e && pthread_setspecific(c->tls, t))
        e = TB_ERR_NOMEM;
    if (e) {
        tls_free(t);
        *err = e;
        return NULL;
    }
    return t;
}

tb_err csm_new(const csm_opts *opt, csm **out)
{
    csm *c = calloc(1, sizeof *c);
    if (!c)
        return TB_ERR_NOMEM;
    c->opt = *opt;
    c->db_path = strdup(opt->db_path);
    tb_err e = !c->db_path ? TB_ERR_NOMEM : opt->tokens ? TB_OK : bt_oauth_cache_new(&c->owned_tokens);
    c->tokens = opt->tokens ? opt->tokens : c->owned_tokens;
    /* The case table's columns come from ticketbridge's own ticket schema,
     * which every database has: with a remote store they are the ServiceNow
     * base fields it models (docs/csm.md). Without it, a remote store's
     * cases are built unchecked and the instance decides. */
    if (!e && (e = itsm_table_open(opt->db_path, &c->catalog)) && opt->tickets &&
        ticket_store_is_remote(opt->tickets)) {
        TB_LOGW("no ticket schema in the database: case fields are not checked", "err=\"%s\"", tb_strerror(e));
        c->catalog = NULL;
        e = TB_OK;
    }
    if (!e && c->catalog)
        c->case_cols = snq_catalog_table(itsm_table_catalog(c->catalog), CSM_CASE_TABLE);
    if (!e && pthread_key_create(&c->tls, tls_free))
        e = TB_ERR_NOMEM;
    else if (!e)
        c->opt.db_path = c->db_path;
    if (e) {
        itsm_table_close(c->catalog);
        bt_oauth_cache_free(c->owned_tokens);
        free(c->db_path);
        free(c);
        return e;
    }
    *out = c;
    return TB_OK;
}

void csm_free(csm *c)
{
    if (!c)
        return;
    tls_free(pthread_getspecific(c->tls));
    pthread_setspecific(c->tls, NULL);
    pthread_key_delete(c->tls);
    itsm_close(c->writer_tickets);
    itsm_table_close(c->catalog);
    bt_oauth_cache_free(c->owned_tokens);
    free(c->db_path);
    free(c);
}

itsm *csm_tickets(csm *c, tb_err *e)
{
    struct csm_tls *t = tls_get(c, e);
    return t ? t->tickets : NULL;
}

ticket_store *csm_ticket_store(csm *c)
{
    return c->opt.tickets;
}

appliance_cache *csm_appliances(csm *c)
{
    return c->opt.appliances;
}

tb_err csm_config(csm *c, int64_t appliance_id, tb_csm_config *out)
{
    tb_err e;
    struct csm_tls *t = tls_get(c, &e);
    return t ? store_csm_config_get(t->reader, appliance_id, out) : e;
}

tb_err csm_session_case(csm *c, int64_t appliance_id, const char *lsid, tb_csm_case *out)
{
    tb_err e;
    struct csm_tls *t = tls_get(c, &e);
    return t ? store_csm_case_get(t->reader, appliance_id, lsid, out) : e;
}

static const char *origin_name(csm_origin o)
{
    return o == CSM_ORIGIN_EVENT ? "event" : o == CSM_ORIGIN_LINK ? "link" : "association";
}

/* ---- the record of decisions (writer) ---- */

static tb_err do_log(tb_store *st, void *arg)
{
    return store_csm_log_insert(st, arg);
}

static void record(csm *c, int64_t appliance_id, const char *lsid, csm_origin o, const char *outcome,
                   const char *number, const char *detail)
{
    tb_csm_log_rec r = {.at = tb_now_ms() / 1000, .appliance_id = appliance_id, .lsid = lsid,
                        .origin = origin_name(o), .outcome = outcome, .case_number = number, .detail = detail};
    tb_err e = writer_call(c->opt.writer, do_log, &r);
    if (e)
        TB_LOGE("case decision not recorded", "lsid=%s outcome=%s err=\"%s\"", lsid, outcome, tb_strerror(e));
}

static bool transient(tb_err e)
{
    return e == TB_ERR_BUSY || e == TB_ERR_HTTP || e == TB_ERR_TIMEOUT || e == TB_ERR_IO;
}

/* ---- the appliance ---- */

static tb_err appliance_conn(const appliance_entry *a, long timeout_ms, char *base, size_t basesz, bt_conn *conn,
                             char *err, size_t errsz)
{
    if (!a->client_id[0] || !a->client_secret) {
        snprintf(err, errsz, "appliance '%s' has no OAuth client id/secret: set them with 'ticketbridge appliance set'",
                 a->name);
        return TB_ERR_CONFIG;
    }
    if (bt_api_base_url(a->hostname, base, basesz)) {
        snprintf(err, errsz, "appliance '%s' has no usable hostname ('%s')", a->name, a->hostname);
        return TB_ERR_CONFIG;
    }
    long t = timeout_ms > 0 ? timeout_ms : JOB_TIMEOUT_MS;
    *conn = (bt_conn){.appliance_id = a->id, .base_url = base, .client_id = a->client_id,
                      .client_secret = a->client_secret, .connect_timeout_ms = t < 10000 ? t : 10000,
                      .timeout_ms = t, .report_timeout_ms = t};
    return TB_OK;
}

struct fetch {
    const char *lsid, *rep, *appliance;
    bt_case_values *out;
    bool found;
};

static tb_err on_session(const bt_session *s, void *ctx)
{
    struct fetch *f = ctx;
    if (f->found || !s->lsid || strcmp(s->lsid, f->lsid))
        return TB_OK;
    tb_err e = bt_case_values_from_session(s, f->rep, f->appliance, f->out);
    f->found = !e;
    return e;
}

static tb_err feed(void *ctx, const char *data, size_t len)
{
    return bt_report_parser_feed(ctx, data, len);
}

/* The live session's values, from its SupportSession report. */
static tb_err fetch_session(csm *c, struct csm_tls *t, const bt_conn *conn, const appliance_entry *a,
                            const char *lsid, const char *rep, bt_case_values *out, char *err, size_t errsz)
{
    struct fetch f = {.lsid = lsid, .rep = rep, .appliance = a->name, .out = out};
    bt_report_parser *p = bt_report_parser_new(NULL, on_session, &f);
    if (!p)
        return TB_ERR_NOMEM;
    bt_param params[] = {{"lsid", lsid}};
    bt_api_result ar;
    tb_err e = bt_api_report(c->tokens, t->http, conn, "SupportSession", params, 1, feed, p, &ar);
    if (!e)
        e = bt_report_parser_finish(p);
    if ((e == TB_ERR_NOT_FOUND && bt_report_parser_api_error(p)) || (!e && !f.found)) {
        snprintf(err, errsz, "appliance '%s' reports no session %s", a->name, lsid);
        e = TB_ERR_NOT_FOUND;
    } else if (e) {
        const char *pe = bt_report_parser_error(p);
        snprintf(err, errsz, "%s", ar.err[0] ? ar.err : pe && *pe ? pe : tb_strerror(e));
        if (e == TB_ERR_TOO_LARGE)
            e = TB_ERR_INVALID;
    }
    if (e && f.found)
        bt_case_values_clear(out);
    bt_report_parser_free(p);
    return e;
}

/* Writes the case's sys_id into the live session's snow_case_id. */
static tb_err set_case_attribute(csm *c, struct csm_tls *t, const bt_conn *conn, const char *lsid,
                                 const char *sys_id, char *err, size_t errsz)
{
    bt_param params[] = {{"lsid", lsid}, {"session.custom.snow_case_id", sys_id}};
    tb_buf out;
    bt_api_result ar;
    tb_err e = bt_api_command(c->tokens, t->http, conn, "set_session_attributes", params, 2, &out, &ar);
    tb_buf_free(&out);
    if (e)
        snprintf(err, errsz, "%s", ar.err[0] ? ar.err : tb_strerror(e));
    return e;
}

static tb_err do_mark_set(tb_store *st, void *arg)
{
    const tb_csm_case *k = arg;
    return store_csm_case_attribute_set(st, k->appliance_id, k->lsid, k->attribute_set_at);
}

/* Sets snow_case_id and records that it is set; the outcome goes to res. */
static void write_attribute(csm *c, struct csm_tls *t, const bt_conn *conn, int64_t appliance_id,
                            const char *lsid, csm_result *res)
{
    res->attribute_rc = set_case_attribute(c, t, conn, lsid, res->case_sys_id, res->attribute_error,
                                           sizeof res->attribute_error);
    if (res->attribute_rc) {
        TB_LOGW("snow_case_id not set on the session", "lsid=%s case=%s err=\"%s\"", lsid, res->case_number,
                res->attribute_error);
        return;
    }
    res->attribute_set = true;
    tb_csm_case k = {.appliance_id = appliance_id, .lsid = (char *)lsid, .attribute_set_at = tb_now_ms() / 1000};
    tb_err e = writer_call(c->opt.writer, do_mark_set, &k);
    if (e)
        TB_LOGW("snow_case_id set but not recorded", "lsid=%s err=\"%s\"", lsid, tb_strerror(e));
}

/* ---- lookups on the worker's ticket-store handle ---- */

struct lookup_ctx {
    itsm *t;
    tb_err unreachable;             /* the first transient failure: retry rather than lose the field */
};

static tb_err lookup(void *ctx, const char *table, const char *field, const char *value,
                     char sys_id[ITSM_SYS_ID_LEN + 1], size_t *matches)
{
    struct lookup_ctx *lc = ctx;
    if (!itsm_is_known_table(table))
        return TB_ERR_INVALID;
    itsm_kv kv = {field, value};
    itsm_record **v = NULL;
    size_t n = 0;
    tb_err e = itsm_query(lc->t, table, &kv, 1, 1, 2, 0, &v, &n);
    if (transient(e) && !lc->unreachable)
        lc->unreachable = e;
    if (!e && !n)
        e = TB_ERR_NOT_FOUND;
    if (!e) {
        snprintf(sys_id, ITSM_SYS_ID_LEN + 1, "%s", v[0]->sys_id);
        *matches = n;
    }
    itsm_records_free(v, n);
    return e;
}

/* ---- creation (writer) ---- */

struct create_arg {
    csm *c;
    int64_t appliance_id;
    const char *lsid, *rep, *origin;
    const bt_case_values *values;
    const csm_case_fields *fields;
    const char *case_sys_id;        /* association, or the case made before the writer call (remote) */
    const char *case_number;
    const char *base_warnings;      /* the mapping's warnings */
    const char *key;                /* correlation_id: case_key() */
    bool premade;                   /* remote store: the case exists already, only record it */
    /* out */
    bool existed;
    bool fallback;                  /* the store refused the mapped fields */
    char sys_id[ITSM_SYS_ID_LEN + 1], number[64], warnings[CSM_WARNINGS_MAX + 256];
    int64_t attribute_set_at;
};

/* The session's case, if it has one, into a. */
static tb_err existing(tb_store *st, struct create_arg *a)
{
    tb_csm_case k;
    tb_err e = store_csm_case_get(st, a->appliance_id, a->lsid, &k);
    if (e)
        return e;
    a->existed = true;
    snprintf(a->sys_id, sizeof a->sys_id, "%s", k.case_sys_id);
    snprintf(a->number, sizeof a->number, "%s", k.case_number);
    a->attribute_set_at = k.attribute_set_at;
    tb_csm_case_clear(&k);
    return TB_OK;
}

static tb_err writer_tickets(csm *c, tb_store *st, itsm **out)
{
    if (!c->writer_tickets) {
        tb_err e = ticket_store_wrap(c->opt.tickets, st, &c->writer_tickets);
        if (e)
            return e;
    }
    *out = c->writer_tickets;
    return TB_OK;
}

static tb_err record_created(tb_store *st, struct create_arg *a);

/* The key of a session's case, its correlation_id in either store: what a
 * retried job finds the case it made by on a remote store. */
static void case_key(int64_t appliance_id, const char *lsid, char *out, size_t outsz)
{
    snprintf(out, outsz, "csm:%lld:%s", (long long)appliance_id, lsid);
}

/* The fields every case gets (the fallback when the store refuses the
 * mapped ones), keyed. */
static tb_err default_fields(const bt_case_values *v, const char *key, csm_case_fields *d)
{
    tb_err e = csm_case_fields_defaults(v, d);
    return e ? e : csm_case_fields_set(d, "correlation_id", key);
}

/* The fallback's line in the case's warnings. */
static void note_fallback(char *warnings, size_t sz)
{
    size_t len = strlen(warnings);
    snprintf(warnings + len, sz - len,
             "%sthe ticket store refused the mapped fields; the case was created without them", len ? "\n" : "");
}

static tb_err do_create(tb_store *st, void *arg)
{
    struct create_arg *a = arg;
    a->existed = a->fallback = false;
    a->sys_id[0] = a->number[0] = '\0';
    snprintf(a->warnings, sizeof a->warnings, "%s", a->base_warnings);
    tb_err e = existing(st, a);
    if (e != TB_ERR_NOT_FOUND)
        return e;
    if (a->premade) {
        snprintf(a->sys_id, sizeof a->sys_id, "%s", a->case_sys_id);
        snprintf(a->number, sizeof a->number, "%s", a->case_number);
        return record_created(st, a);
    }
    itsm *t;
    if ((e = writer_tickets(a->c, st, &t)))
        return e;
    itsm_record *r = NULL;
    e = itsm_create(t, CSM_CASE_TABLE, a->fields->kv, a->fields->n, &r);
    if (e == TB_ERR_INVALID || e == TB_ERR_TOO_LARGE) {
        /* A mapped value the store will not take must not cost the case. */
        csm_case_fields d;
        e = default_fields(a->values, a->key, &d);
        if (!e)
            e = itsm_create(t, CSM_CASE_TABLE, d.kv, d.n, &r);
        csm_case_fields_clear(&d);
        a->fallback = !e;
        if (!e)
            note_fallback(a->warnings, sizeof a->warnings);
    }
    if (e)
        return e;
    snprintf(a->sys_id, sizeof a->sys_id, "%s", r->sys_id);
    const char *num = itsm_record_get(r, "number");
    snprintf(a->number, sizeof a->number, "%s", num ? num : "");
    itsm_record_free(r);
    return record_created(st, a);
}

/* The new case (a->sys_id, a->number) as the session's, and the decision. */
static tb_err record_created(tb_store *st, struct create_arg *a)
{
    tb_err e;
    tb_csm_case k = {.appliance_id = a->appliance_id, .lsid = (char *)a->lsid, .case_sys_id = a->sys_id,
                     .case_number = a->number, .origin = (char *)a->origin, .rep_username = (char *)a->rep,
                     .warnings = a->warnings};
    if ((e = store_csm_case_insert(st, &k)))
        return e;
    tb_csm_log_rec l = {.appliance_id = a->appliance_id, .lsid = a->lsid, .origin = a->origin,
                        .outcome = "created", .case_number = a->number, .detail = a->warnings};
    return store_csm_log_insert(st, &l);
}

/* Records an existing case as the session's (association, or a session
 * that named its case already). */
static tb_err do_link(tb_store *st, void *arg)
{
    struct create_arg *a = arg;
    a->existed = false;
    tb_err e = existing(st, a);
    if (e != TB_ERR_NOT_FOUND)
        return e;
    snprintf(a->sys_id, sizeof a->sys_id, "%s", a->case_sys_id);
    snprintf(a->number, sizeof a->number, "%s", a->case_number);
    tb_csm_case k = {.appliance_id = a->appliance_id, .lsid = (char *)a->lsid, .case_sys_id = a->sys_id,
                     .case_number = a->number, .origin = (char *)a->origin, .rep_username = (char *)a->rep,
                     .warnings = "", .attribute_set_at = a->attribute_set_at};
    if ((e = store_csm_case_insert(st, &k)))
        return e;
    tb_csm_log_rec l = {.appliance_id = a->appliance_id, .lsid = a->lsid, .origin = a->origin,
                        .outcome = "associated", .case_number = a->number, .detail = ""};
    return store_csm_log_insert(st, &l);
}

/* ---- the steps shared by creation and association ---- */

struct ctx {
    csm *c;
    struct csm_tls *t;
    appliance_snapshot *snap;
    const appliance_entry *a;
    tb_csm_config cfg;
    char base[BT_API_URL_MAX];
    bt_conn conn;
    bool conn_ok;
};

static void ctx_done(struct ctx *x)
{
    tb_csm_config_clear(&x->cfg);
    if (x->snap)
        appliance_cache_release(x->c->opt.appliances, x->snap);
}

/* Appliance, settings and the gate of the origin. A closed gate is a skip
 * (res filled, TB_OK and *skip set). */
static tb_err begin(csm *c, const csm_call *call, struct ctx *x, csm_result *res, bool *skip, char *err,
                    size_t errsz)
{
    memset(x, 0, sizeof *x);
    memset(res, 0, sizeof *res);
    *skip = false;
    x->c = c;
    tb_err e;
    if (!(x->t = tls_get(c, &e))) {
        snprintf(err, errsz, "cannot open the ticket store or HTTP client: %s", tb_strerror(e));
        return e;
    }
    x->snap = appliance_cache_acquire(c->opt.appliances);
    x->a = appliance_find_row(x->snap, call->appliance_id);
    if (!x->a) {
        snprintf(err, errsz, "the appliance no longer exists");
        return TB_ERR_NOT_FOUND;
    }
    if (!x->a->enabled) {
        snprintf(err, errsz, "integration is disabled on appliance '%s'", x->a->name);
        return TB_ERR_DISABLED;
    }
    if ((e = store_csm_config_get(x->t->reader, x->a->id, &x->cfg))) {
        snprintf(err, errsz, "cannot read the CSM settings: %s", tb_strerror(e));
        return e;
    }
    const char *why = NULL;
    if (strcmp(x->a->product, "rs"))
        why = "case creation is for Remote Support appliances";
    else if (!x->cfg.auto_create)
        why = "auto-create is off for this appliance";
    else if (call->origin == CSM_ORIGIN_EVENT && !x->cfg.outbound_event)
        why = "case creation by outbound event (option 1) is off for this appliance";
    else if (call->origin != CSM_ORIGIN_EVENT && !x->cfg.custom_links)
        why = "case creation from custom links (options 2 and 3) is off for this appliance";
    if (why) {
        res->kind = CSM_SKIPPED;
        snprintf(res->detail, sizeof res->detail, "%s", why);
        *skip = true;
        return TB_OK;
    }
    if ((e = appliance_conn(x->a, call->timeout_ms, x->base, sizeof x->base, &x->conn, err, errsz)))
        return e;
    x->conn_ok = true;
    return TB_OK;
}

/* The task the session's custom attribute names (NULL when it names none
 * the store has). A store that cannot be reached is an error: the decision
 * waits for it rather than making a second case. */
static tb_err named_record(struct ctx *x, const bt_case_values *v, const char *attribute,
                           const char *const *tables, itsm_record **out, char *err, size_t errsz)
{
    *out = NULL;
    const char *id = bt_case_values_custom(v, attribute);
    if (!id || !*id || strlen(id) > 64)
        return TB_OK;
    tb_err e = itsm_find_task(x->t->tickets, id, tables, out);
    if (!transient(e)) {
        if (e)
            *out = NULL;
        return TB_OK;
    }
    const char *why = itsm_servicenow_errmsg(x->t->tickets);
    snprintf(err, errsz, "cannot read the ticket store: %s", why && *why ? why : tb_strerror(e));
    return e;
}

static void result_case(csm_result *res, const char *sys_id, const char *number)
{
    snprintf(res->case_sys_id, sizeof res->case_sys_id, "%s", sys_id);
    snprintf(res->case_number, sizeof res->case_number, "%s", number);
}

/* ---- creation on a remote store (worker thread, before the writer call) ---- */

struct premade {
    char sys_id[ITSM_SYS_ID_LEN + 1], number[64], warnings[CSM_WARNINGS_MAX + 256];
    int created;                    /* this attempt made it (not an earlier one) */
};

/* The outbox takes no creates: the case is made here, on the worker's own
 * handle, keyed by a->key so that a job retried after the instance acted
 * finds the case instead of making a second one. a then records it. */
static tb_err create_remote(struct ctx *x, struct create_arg *a, struct premade *pm, char *err, size_t errsz)
{
    itsm *t = x->t->tickets;
    itsm_record *r = NULL;
    snprintf(pm->warnings, sizeof pm->warnings, "%s", a->base_warnings);
    tb_err e = itsm_create_once(t, CSM_CASE_TABLE, "correlation_id", a->key, a->fields->kv, a->fields->n, &r,
                                &pm->created);
    if (e == TB_ERR_INVALID || e == TB_ERR_TOO_LARGE) {
        /* A mapped value the store will not take must not cost the case. */
        csm_case_fields d;
        e = default_fields(a->values, a->key, &d);
        if (!e)
            e = itsm_create_once(t, CSM_CASE_TABLE, "correlation_id", a->key, d.kv, d.n, &r, &pm->created);
        csm_case_fields_clear(&d);
        if (!e)
            note_fallback(pm->warnings, sizeof pm->warnings);
    }
    if (e) {
        const char *why = itsm_servicenow_errmsg(t);
        snprintf(err, errsz, "cannot create the case: %s", why && *why ? why : tb_strerror(e));
        return e;
    }
    const char *num = itsm_record_get(r, "number");
    snprintf(pm->sys_id, sizeof pm->sys_id, "%s", r->sys_id);
    snprintf(pm->number, sizeof pm->number, "%s", num ? num : "");
    itsm_record_free(r);
    a->premade = true;
    a->case_sys_id = pm->sys_id;
    a->case_number = pm->number;
    a->base_warnings = pm->warnings;
    return TB_OK;
}

/* Two attempts for one session made a case each at the same moment (the
 * key is looked up before the create, not locked); the one that was not
 * recorded goes, so the session keeps one. */
static void drop_duplicate(struct ctx *x, const struct premade *pm)
{
    tb_err e = itsm_remove(x->t->tickets, CSM_CASE_TABLE, pm->sys_id);
    if (e)
        TB_LOGW("duplicate case not removed", "case=%s err=\"%s\"", pm->number, tb_strerror(e));
    else
        TB_LOGI("duplicate case removed", "case=%s", pm->number);
}

/* The session has its case already: say which, and make sure the console shows it. */
static tb_err report_existing(struct ctx *x, const csm_call *call, const char *sys_id, const char *number,
                              int64_t attribute_set_at, csm_result *res)
{
    res->kind = CSM_EXISTING;
    result_case(res, sys_id, number);
    snprintf(res->detail, sizeof res->detail, "the session has its case already");
    if (attribute_set_at)
        res->attribute_set = true;
    else
        write_attribute(x->c, x->t, &x->conn, x->a->id, call->lsid, res);
    record(x->c, x->a->id, call->lsid, call->origin, "existing", number, res->detail);
    return TB_OK;
}

tb_err csm_create(csm *c, const csm_call *call, csm_result *res, char *err, size_t errsz)
{
    err[0] = '\0';
    struct ctx x;
    bool skip;
    tb_err e = begin(c, call, &x, res, &skip, err, errsz);
    bt_case_values v = {0};
    csm_case_fields f = {0};
    tb_csm_mapping *maps = NULL;
    size_t nmaps = 0;
    if (e || skip)
        goto out;
    tb_csm_case k;
    if (!(e = store_csm_case_get(x.t->reader, x.a->id, call->lsid, &k))) {
        e = report_existing(&x, call, k.case_sys_id, k.case_number, k.attribute_set_at, res);
        tb_csm_case_clear(&k);
        goto out;
    }
    if (e != TB_ERR_NOT_FOUND) {
        snprintf(err, errsz, "cannot read the session's case: %s", tb_strerror(e));
        goto out;
    }
    if ((e = fetch_session(c, x.t, &x.conn, x.a, call->lsid, call->rep_username, &v, err, errsz)))
        goto out;
    res->kind = CSM_SKIPPED;
    if (!v.active) {
        snprintf(res->detail, sizeof res->detail, "the session has ended");
        goto out;
    }
    itsm_record *r;
    if ((e = named_record(&x, &v, "snow_case_id", case_tables, &r, err, errsz)))
        goto out;
    if (r) {
        /* Started from a case (session key, click-to-chat): that is its case. */
        struct create_arg a = {.c = c, .appliance_id = x.a->id, .lsid = call->lsid, .rep = call->rep_username,
                               .origin = "session", .case_sys_id = r->sys_id,
                               .case_number = itsm_record_get(r, "number") ? itsm_record_get(r, "number") : "",
                               .attribute_set_at = tb_now_ms() / 1000};
        e = writer_call(c->opt.writer, do_link, &a);
        itsm_record_free(r);
        if (e) {
            snprintf(err, errsz, "cannot record the session's case: %s", tb_strerror(e));
            goto out;
        }
        res->kind = CSM_EXISTING;
        result_case(res, a.sys_id, a.number);
        res->attribute_set = true;
        snprintf(res->detail, sizeof res->detail, "the session names its case already (snow_case_id)");
        goto out;
    }
    if (call->origin == CSM_ORIGIN_EVENT) {
        if ((e = named_record(&x, &v, "snow_task_id", NULL, &r, err, errsz)))
            goto out;
        if (r) {
            const char *num = itsm_record_get(r, "number");
            snprintf(res->detail, sizeof res->detail, "the session belongs to %s already (snow_task_id)",
                     num ? num : r->sys_id);
            itsm_record_free(r);
            goto out;
        }
        if (!csm_conditions_hold(&x.cfg, &v, res->detail, sizeof res->detail))
            goto out;
    }
    if ((e = store_csm_mapping_list(x.t->reader, x.a->id, &maps, &nmaps))) {
        snprintf(err, errsz, "cannot read the field mappings: %s", tb_strerror(e));
        goto out;
    }
    struct lookup_ctx lc = {.t = x.t->tickets};
    char key[128];
    case_key(x.a->id, call->lsid, key, sizeof key);
    if ((e = csm_case_fields_build(maps, nmaps, &v, c->case_cols, lookup, &lc, &f)) ||
        (e = csm_case_fields_set(&f, "correlation_id", key))) {
        snprintf(err, errsz, "cannot build the case: %s", tb_strerror(e));
        goto out;
    }
    if ((e = lc.unreachable)) {
        const char *why = itsm_servicenow_errmsg(x.t->tickets);
        snprintf(err, errsz, "cannot look the mapped values up: %s", why && *why ? why : tb_strerror(e));
        goto out;
    }
    struct create_arg a = {.c = c, .appliance_id = x.a->id, .lsid = call->lsid,
                           .rep = v.v[BT_CF_REP_USERNAME], .origin = origin_name(call->origin), .values = &v,
                           .fields = &f, .key = key, .base_warnings = f.warnings.data ? f.warnings.data : ""};
    struct premade pm = {0};
    if (ticket_store_is_remote(c->opt.tickets)) {
        if ((e = create_remote(&x, &a, &pm, err, errsz)))
            goto out;
    }
    if ((e = writer_call(c->opt.writer, do_create, &a))) {
        snprintf(err, errsz, "cannot record the case: %s", tb_strerror(e));
        goto out;
    }
    if (a.existed && pm.created && strcmp(a.sys_id, pm.sys_id))
        drop_duplicate(&x, &pm);
    if (a.existed) {
        /* another event or link won the race */
        e = report_existing(&x, call, a.sys_id, a.number, a.attribute_set_at, res);
        goto out;
    }
    res->kind = CSM_CREATED;
    result_case(res, a.sys_id, a.number);
    snprintf(res->detail, sizeof res->detail, "%s", a.warnings);
    TB_LOGI("case created", "appliance=%s lsid=%s case=%s origin=%s warnings=%d", x.a->name, call->lsid, a.number,
            origin_name(call->origin), a.warnings[0] != '\0');
    write_attribute(c, x.t, &x.conn, x.a->id, call->lsid, res);
out:
    if (!e && res->kind == CSM_SKIPPED) {
        TB_LOGI("no case created", "lsid=%s origin=%s reason=\"%s\"", call->lsid, origin_name(call->origin),
                res->detail);
        record(c, x.a ? x.a->id : call->appliance_id, call->lsid, call->origin, "skipped", "", res->detail);
    } else if (e && e != TB_ERR_NOT_FOUND && !transient(e) && x.a) {
        record(c, x.a->id, call->lsid, call->origin, "failed", "", err);
    }
    tb_csm_mappings_free(maps, nmaps);
    csm_case_fields_clear(&f);
    bt_case_values_clear(&v);
    ctx_done(&x);
    return e;
}

tb_err csm_associate(csm *c, const csm_call *call, const char *case_key, csm_result *res, char *err, size_t errsz)
{
    err[0] = '\0';
    struct ctx x;
    bool skip;
    tb_err e = begin(c, call, &x, res, &skip, err, errsz);
    itsm_record *r = NULL;
    if (e || skip)
        goto out;
    if (!case_key || !*case_key || strlen(case_key) > 64 ||
        (e = itsm_find_task(x.t->tickets, case_key, case_tables, &r)) == TB_ERR_NOT_FOUND || (!e && !r)) {
        snprintf(err, errsz, "there is no case %.64s", case_key ? case_key : "");
        e = TB_ERR_NOT_FOUND;
        goto out;
    }
    if (e) {
        snprintf(err, errsz, "cannot read the ticket store: %s", tb_strerror(e));
        goto out;
    }
    const char *num = itsm_record_get(r, "number");
    struct create_arg a = {.c = c, .appliance_id = x.a->id, .lsid = call->lsid,
                           .rep = call->rep_username ? call->rep_username : "", .origin = "association",
                           .case_sys_id = r->sys_id, .case_number = num ? num : ""};
    if ((e = writer_call(c->opt.writer, do_link, &a))) {
        snprintf(err, errsz, "cannot record the association: %s", tb_strerror(e));
        goto out;
    }
    result_case(res, a.sys_id, a.number);
    if (a.existed) {
        res->kind = CSM_EXISTING;
        if (strcmp(a.sys_id, r->sys_id)) {
            snprintf(err, errsz, "the session has another case already: %s", a.number);
            e = TB_ERR_EXISTS;
            goto out;
        }
        if (a.attribute_set_at)
            res->attribute_set = true;
        else
            write_attribute(c, x.t, &x.conn, x.a->id, call->lsid, res);
        goto out;
    }
    res->kind = CSM_ASSOCIATED;
    TB_LOGI("session associated with a case", "appliance=%s lsid=%s case=%s", x.a->name, call->lsid, a.number);
    write_attribute(c, x.t, &x.conn, x.a->id, call->lsid, res);
out:
    if (!e && res->kind == CSM_SKIPPED)
        record(c, x.a ? x.a->id : call->appliance_id, call->lsid, call->origin, "skipped", "", res->detail);
    itsm_record_free(r);
    ctx_done(&x);
    return e;
}

static int by_number_desc(const void *a, const void *b)
{
    const char *x = itsm_record_get(*(itsm_record *const *)a, "number");
    const char *y = itsm_record_get(*(itsm_record *const *)b, "number");
    return strcmp(y ? y : "", x ? x : "");
}

/* The remote store answers equality queries only (itsm.h): the active cases
 * are read page by page (at most REMOTE_SEARCH_MAX) and matched here. */
static tb_err search_remote(itsm *h, const char *q, size_t limit, itsm_record ***out, size_t *n)
{
    itsm_record **hits = NULL;
    size_t nhits = 0;
    tb_err e = TB_OK;
    itsm_kv active = {"active", "true"};
    for (size_t off = 0; !e && off < REMOTE_SEARCH_MAX; off += REMOTE_SEARCH_PAGE) {
        itsm_record **v = NULL;
        size_t nv = 0;
        if ((e = itsm_query(h, CSM_CASE_TABLE, &active, 1, 0, REMOTE_SEARCH_PAGE, off, &v, &nv)))
            break;
        for (size_t i = 0; i < nv; i++) {
            const char *num = itsm_record_get(v[i], "number");
            if (!num || !strcasestr(num, q))
                continue;
            itsm_record **grown = realloc(hits, (nhits + 1) * sizeof *hits);
            if (!grown) {
                e = TB_ERR_NOMEM;
                break;
            }
            hits = grown;
            hits[nhits++] = v[i];
            v[i] = NULL;
        }
        itsm_records_free(v, nv);
        if (nv < REMOTE_SEARCH_PAGE)
            break;
    }
    if (e) {
        itsm_records_free(hits, nhits);
        return e;
    }
    if (nhits)
        qsort(hits, nhits, sizeof *hits, by_number_desc);
    for (size_t i = limit; i < nhits; i++)
        itsm_record_free(hits[i]);
    *out = hits;
    *n = nhits < limit ? nhits : limit;
    return TB_OK;
}

tb_err csm_search_cases(csm *c, const char *q, size_t limit, itsm_record ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    tb_err e;
    struct csm_tls *t = tls_get(c, &e);
    if (!t)
        return e;
    if (ticket_store_is_remote(c->opt.tickets))
        return search_remote(t->tickets, q, limit, out, n);
    if (!t->table && (e = itsm_table_open(c->db_path, &t->table)))
        return e;
    /* q is checked by the caller (letters and digits), so it cannot carry
     * a '^' into the encoded query. */
    char enc[160], perr[200];
    snprintf(enc, sizeof enc, "active=true^numberLIKE%s^ORDERBYDESCnumber", q);
    snquery *sq = NULL;
    if ((e = snquery_parse(enc, strlen(enc), &sq, perr, sizeof perr)))
        return e;
    static const char *const fields[] = {"number", "short_description", "state", NULL};
    itsm_table_query req = {.table = CSM_CASE_TABLE, .q = sq, .fields = fields, .limit = limit, .timeout_ms = 2000};
    e = itsm_embedded_table_query(t->table, &req, out, n, NULL);
    snquery_free(sq);
    return e;
}

/* ---- the job ---- */

/* The stored event of a job, parsed. */
static tb_err job_event(struct csm_tls *t, const tb_job_claim *job, bt_form *form, char *err, size_t errsz)
{
    tb_incoming *v = NULL;
    size_t n = 0;
    tb_incoming_filter f = {.id = job->incoming_id, .limit = 1};
    tb_err e = job->incoming_id ? store_incoming_list(t->reader, &f, &v, &n) : TB_ERR_NOT_FOUND;
    if (!e && !n)
        e = TB_ERR_NOT_FOUND;
    if (e) {
        snprintf(err, errsz, "the job's event is not stored (%s)", tb_strerror(e));
        tb_incoming_free(v, n);
        return e == TB_ERR_NOT_FOUND ? TB_ERR_INVALID : e;
    }
    char perr[200];
    bool json = v[0].content_type && !strncasecmp(v[0].content_type, "application/json", 16);
    e = json ? bt_form_parse_json(v[0].body, v[0].body_len, form, perr, sizeof perr)
             : bt_form_parse(v[0].body, v[0].body_len, form, perr, sizeof perr);
    if (e)
        snprintf(err, errsz, "the stored event cannot be read: %s", perr);
    tb_incoming_free(v, n);
    return e;
}

tb_err csm_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz)
{
    csm *c = ctx;
    tb_err e;
    struct csm_tls *t = tls_get(c, &e);
    if (!t) {
        snprintf(err, errsz, "cannot open the ticket store or HTTP client: %s", tb_strerror(e));
        return e;
    }
    if (!job->lsid[0]) {
        snprintf(err, errsz, "job has no session id");
        return TB_ERR_INVALID;
    }
    bt_form form = {0};
    if ((e = job_event(t, job, &form, err, errsz)))
        return e;
    const char *event = bt_form_get(&form, "event"), *type = bt_form_get(&form, "type");
    if (!event || strcmp(event, REP_JOINED_EVENT) || !type || strcasecmp(type, "representative")) {
        TB_LOGI("case event needs nothing", "lsid=%s event=%s", job->lsid, event ? event : "-");
        bt_form_free(&form);
        return TB_OK;
    }
    const char *user = bt_form_get(&form, "username");
    csm_call call = {.appliance_id = job->appliance_id, .lsid = job->lsid,
                     .rep_username = user && *user && strlen(user) <= 255 ? user : NULL,
                     .origin = CSM_ORIGIN_EVENT};
    csm_result res;
    e = csm_create(c, &call, &res, err, errsz);
    bt_form_free(&form);
    if (e == TB_ERR_NOT_FOUND && strstr(err, "reports no session"))
        return TB_ERR_BUSY;         /* reports can lag the event */
    if (e)
        return e;
    if ((res.kind == CSM_CREATED || res.kind == CSM_EXISTING) && !res.attribute_set) {
        snprintf(err, errsz, "case %s is the session's, but snow_case_id could not be set on it: %s",
                 res.case_number, res.attribute_error);
        return transient(res.attribute_rc) ? TB_ERR_BUSY : TB_ERR_INVALID;
    }
    return TB_OK;
}
