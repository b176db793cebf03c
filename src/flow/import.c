#include "flow/import.h"
#include "flow/import_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bt/api.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "http/client.h"
#include "itsm/itsm.h"
#include "store/store.h"
#include "store/store_session_key.h"


static void tls_free(void *p)
{
    struct import_tls *t = p;
    if (!t)
        return;
    tb_http_client_free(t->http);
    itsm_close(t->tickets);
    store_close(t->reader);
    free(t);
}

tb_err import_tls_get(import_ctx *c, struct import_tls **out)
{
    struct import_tls *t = pthread_getspecific(c->tls);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t)
            return TB_ERR_NOMEM;
        tb_err e = tb_http_client_new(&t->http);
        if (!e)
            e = ticket_store_open(c->opt.tickets, &t->tickets, NULL, 0);
        if (!e)
            e = store_open(c->db_path, STORE_READ_ONLY, &t->reader);
        if (e || pthread_setspecific(c->tls, t)) {
            tls_free(t);
            return e ? e : TB_ERR_NOMEM;
        }
    }
    *out = t;
    return TB_OK;
}

tb_err import_ctx_new(const import_opts *opt, import_ctx **out)
{
    import_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return TB_ERR_NOMEM;
    c->opt = *opt;
    c->db_path = strdup(opt->db_path);
    tb_err e = c->db_path ? bt_oauth_cache_new(&c->tokens) : TB_ERR_NOMEM;
    if (!e && pthread_key_create(&c->tls, tls_free))
        e = TB_ERR_NOMEM;
    if (e) {
        bt_oauth_cache_free(c->tokens);
        free(c->db_path);
        free(c);
        return e;
    }
    *out = c;
    return TB_OK;
}

void import_ctx_free(import_ctx *c)
{
    if (!c)
        return;
    /* The calling thread's own handles; worker threads freed theirs at exit. */
    tls_free(pthread_getspecific(c->tls));
    pthread_setspecific(c->tls, NULL);
    pthread_key_delete(c->tls);
    itsm_close(c->writer_tickets);     /* frees only its own memory */
    bt_oauth_cache_free(c->tokens);
    free(c->db_path);
    free(c);
}

/* ---- the work note ---- */

static void fmt_time(int64_t t, char *out, size_t outsz)
{
    if (t > 0)
        tb_fmt_utc(t, out, outsz);
    else
        snprintf(out, outsz, "-");
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* Events an approver or auditor wants to see in a PRA note. */
static bool notable(const char *type)
{
    static const char *const names[] = {
        "Command Shell Session Started", "Special Action Executed", "Credential Injection Attempt",
        "Credential Injection Attempt Failed", "Service Access Allowed", "Registry Exported",
        "Registry Imported", "Jump Item Authorization Request", "Show My Screen Recording",
        "Session Transferred to Queue", "Session Note Added", NULL,
    };
    for (const char *const *p = names; *p; p++)
        if (!strcmp(*p, type))
            return true;
    return false;
}

char *import_note_text(const bt_session *s, const char *product, const char *appliance_name)
{
    tb_buf b;
    tb_buf_init(&b, IMPORT_NOTE_MAX);
    bool pra = product && !strcmp(product, "pra");
    char start[32], end[32];
    fmt_time(s->start_time, start, sizeof start);
    fmt_time(s->end_time, end, sizeof end);
    /* First line: names the session, so a note can be traced back to it. */
    tb_buf_printf(&b, "BeyondTrust session %s\n", s->lsid);
    tb_buf_printf(&b, "%s session on appliance %s\n", pra ? "Privileged Remote Access" : "Remote Support",
                  or_dash(appliance_name));
    tb_buf_printf(&b, "Start: %s UTC  End: %s UTC  Duration: %s\n", start, end, or_dash(s->duration_text));
    tb_buf_printf(&b, "%s: %s\n", pra ? "User" : "Representative", or_dash(s->primary_rep.name));
    tb_buf_printf(&b, "%s: %s\n", pra ? "Endpoint" : "Customer", or_dash(s->primary_customer.name));
    if (pra && s->jumpoint.name)
        tb_buf_printf(&b, "Jumpoint: %s  Jump group: %s\n", s->jumpoint.name, or_dash(s->jump_group.name));
    if (!pra && s->public_site.name)
        tb_buf_printf(&b, "Public site: %s\n", s->public_site.name);
    for (size_t i = 0; i < s->nusers; i++) {
        const bt_user *u = &s->users[i];
        tb_buf_printf(&b, "  %s: %s (%s) %s %s\n", u->kind == BT_USER_REP ? "rep" : "customer",
                      or_dash(u->display_name ? u->display_name : u->username), or_dash(u->username),
                      or_dash(u->hostname), or_dash(u->public_ip));
    }
    if (s->nfiles) {
        tb_buf_printf(&b, "Files (%zu):\n", s->nfiles);
        for (size_t i = 0; i < s->nfiles && i < 50; i++) {
            const bt_file_transfer *f = &s->files[i];
            tb_buf_printf(&b, "  %s %s %s%s", bt_file_direction_name(f->direction), or_dash(f->name),
                          or_dash(f->path), f->success ? "" : " (failed)");
            if (f->size >= 0)
                tb_buf_printf(&b, " %lld bytes", f->size);
            tb_buf_appends(&b, "\n");
        }
        if (s->nfiles > 50)
            tb_buf_printf(&b, "  ... %zu more\n", s->nfiles - 50);
    }
    tb_buf_printf(&b, "Recording: %s\n", s->has_recording ? or_dash(s->recording_view_url) : "none");
    if (s->chat_view_url)
        tb_buf_printf(&b, "Chat: %s\n", s->chat_view_url);
    bool header = false;
    for (size_t i = 0; i < s->nevents; i++) {
        const bt_event *e = &s->events[i];
        bool chat = e->event_type && !strcmp(e->event_type, "Chat Message") && e->body;
        bool show = chat || (pra && e->event_type && notable(e->event_type));
        if (!show)
            continue;
        if (!header) {
            tb_buf_appends(&b, chat && !pra ? "Chat transcript:\n" : "Events:\n");
            header = true;
        }
        char when[32];
        fmt_time(e->timestamp, when, sizeof when);
        if (chat)
            tb_buf_printf(&b, "  [%s] %s: %s\n", when + 11, or_dash(e->performed_by.name), e->body);
        else
            tb_buf_printf(&b, "  [%s] %s %s\n", when + 11, e->event_type, or_dash(e->performed_by.name));
        if (b.len > IMPORT_NOTE_MAX - 1024) {
            tb_buf_appends(&b, "  ... (truncated)\n");
            break;
        }
    }
    if (!b.data)
        return NULL;
    return tb_buf_take(&b);
}

/* ---- association ---- */

static bool is_sys_id(const char *s)
{
    if (!s || strlen(s) != 32)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

struct links {
    char task_table[64], task_sys_id[33], task_number[64];
    char ci_sys_id[33], user_sys_id[33];
};

static void find_task(itsm *t, const bt_session *s, struct links *l)
{
    const char *candidates[] = {bt_session_custom(s, "snow_task_id"), bt_session_custom(s, "snow_case_id"),
                                s->external_key};
    for (size_t i = 0; i < 3; i++) {
        const char *v = candidates[i];
        if (!v || !*v || strlen(v) > 64)
            continue;
        itsm_record *r = NULL;
        if (itsm_find_task(t, v, NULL, &r) == TB_OK && r) {
            snprintf(l->task_table, sizeof l->task_table, "%s", r->table);
            snprintf(l->task_sys_id, sizeof l->task_sys_id, "%s", r->sys_id);
            snprintf(l->task_number, sizeof l->task_number, "%s", or_dash(itsm_record_get(r, "number")));
            itsm_record_free(r);
            return;
        }
    }
}

/* A session started with a key generated from a ticket belongs to that
 * ticket even when the appliance dropped the custom field and the external
 * key no longer names it: the remembered key knows (store_session_key.h). */
static void find_task_by_session_key(itsm *t, tb_store *reader, int64_t appliance_id, const bt_session *s,
                                     struct links *l)
{
    char table[64], sys_id[33], number[64];
    if (store_session_key_task(reader, appliance_id, s->lsid, s->external_key, table, sys_id, number))
        return;
    itsm_record *r = NULL;
    if (itsm_get(t, table, sys_id, &r) == TB_OK && r) {
        snprintf(l->task_table, sizeof l->task_table, "%s", r->table);
        snprintf(l->task_sys_id, sizeof l->task_sys_id, "%s", r->sys_id);
        snprintf(l->task_number, sizeof l->task_number, "%s", or_dash(itsm_record_get(r, "number")));
    }
    itsm_record_free(r);
}

static void find_one(itsm *t, const char *table, const char *field, const char *value, char out[33])
{
    if (!value || !*value || !strcasecmp(value, "Unknown") || strlen(value) > 255)
        return;
    itsm_kv kv = {field, value};
    itsm_record **v = NULL;
    size_t n = 0;
    if (itsm_query(t, table, &kv, 1, 1, 2, 0, &v, &n) == TB_OK && n >= 1)
        snprintf(out, 33, "%s", v[0]->sys_id);
    itsm_records_free(v, n);
}

static void find_ci(itsm *t, const appliance_entry *a, const bt_session *s, struct links *l)
{
    const char *ci = bt_session_custom(s, "snow_cmdb_ci_id");
    if (is_sys_id(ci)) {
        itsm_record *r = NULL;
        if (itsm_get(t, "cmdb_ci", ci, &r) == TB_OK && r)
            snprintf(l->ci_sys_id, sizeof l->ci_sys_id, "%s", r->sys_id);
        itsm_record_free(r);
        if (l->ci_sys_id[0])
            return;
    } else if (ci && *ci) {
        find_one(t, "cmdb_ci", "name", ci, l->ci_sys_id);
        if (l->ci_sys_id[0])
            return;
    }
    if (!a->auto_associate_ci)
        return;
    /* The endpoint: PRA's primary customer is the Jump item; RS customers
     * report their host name. */
    find_one(t, "cmdb_ci", "name", s->primary_customer.name, l->ci_sys_id);
    for (size_t i = 0; !l->ci_sys_id[0] && i < s->nusers; i++)
        if (s->users[i].kind == BT_USER_CUSTOMER)
            find_one(t, "cmdb_ci", "name", s->users[i].hostname, l->ci_sys_id);
}

static void find_user(itsm *t, const appliance_entry *a, const bt_session *s, struct links *l)
{
    if (!a->auto_associate_user)
        return;
    const char *username = NULL;
    for (size_t i = 0; i < s->nusers; i++) {
        const bt_user *u = &s->users[i];
        if (u->kind != BT_USER_REP)
            continue;
        if ((s->primary_rep.gsnumber >= 0 && u->gsnumber == s->primary_rep.gsnumber) || u->session_owner == 1 ||
            !username)
            username = u->username;
        if (s->primary_rep.gsnumber >= 0 && u->gsnumber == s->primary_rep.gsnumber)
            break;
    }
    find_one(t, "sys_user", "user_name", username, l->user_sys_id);
    if (!l->user_sys_id[0])
        find_one(t, "sys_user", "u_beyondtrust_username", username, l->user_sys_id);
}

/* ---- one session ---- */

struct run {
    import_ctx *c;
    const appliance_entry *a;
    itsm *tickets;
    tb_store *reader;
    const char *want_lsid;
    import_result *res;
    char *err;
    size_t errsz;
};

struct save_arg {
    import_ctx *c;
    const appliance_entry *a;
    const bt_session *s;
    const struct links *l;
    const char *note;               /* NULL when there is nothing to note on */
    bool noted;                     /* out: a note was already recorded, or written now */
    bool wrote;                     /* out: written by this call */
};

static bool keep_event(const struct bt_event *e, void *ctx)
{
    return appliance_imports_event(ctx, e->event_type ? e->event_type : "");
}

/* Runs on the writer thread, inside its transaction: the session, its
 * related lists, its work notes and the record that they exist commit
 * together or not at all, so a note is never written twice nor lost. */
static tb_err do_save(tb_store *st, void *arg)
{
    struct save_arg *sa = arg;
    tb_session_links links = {sa->l->task_table, sa->l->task_sys_id, sa->l->task_number, sa->l->ci_sys_id,
                              sa->l->user_sys_id};
    int64_t now = tb_now_ms() / 1000, id = 0;
    tb_err e = store_session_save(st, sa->a->id, sa->a->product, sa->s, &links, keep_event, (void *)sa->a, now,
                                  &id, &sa->noted, NULL);
    if (e || sa->noted || !sa->note)
        return e;
    if (!sa->c->writer_tickets && (e = ticket_store_wrap(sa->c->opt.tickets, st, &sa->c->writer_tickets)))
        return e;
    itsm *t = sa->c->writer_tickets;
    if (sa->l->task_sys_id[0])
        e = itsm_add_journal(t, sa->l->task_table, sa->l->task_sys_id, "work_notes", sa->note, "ticketbridge");
    if (!e && sa->l->ci_sys_id[0])
        e = itsm_add_journal(t, "cmdb_ci", sa->l->ci_sys_id, "work_notes", sa->note, "ticketbridge");
    if (!e)
        e = store_session_mark_noted(st, id, now);
    sa->wrote = !e;
    return e;
}

static tb_err on_session(const bt_session *s, void *ctx)
{
    struct run *r = ctx;
    if (r->want_lsid && (!s->lsid || strcmp(s->lsid, r->want_lsid)))
        return TB_OK;       /* not the one asked for */
    if (!s->end_time) {
        snprintf(r->err, r->errsz, "session %s is still in progress; it will be imported when it ends", s->lsid);
        return TB_ERR_BUSY;
    }
    struct links l;
    memset(&l, 0, sizeof l);
    find_task(r->tickets, s, &l);
    if (!l.task_sys_id[0])
        find_task_by_session_key(r->tickets, r->reader, r->a->id, s, &l);
    if (!l.task_sys_id[0] && !r->a->import_external_sessions) {
        r->res->skipped_external++;
        TB_LOGI("session not imported", "lsid=%s appliance=%s reason=\"external session (no task) and Import External Sessions is off\"",
                s->lsid, r->a->name);
        return TB_OK;
    }
    find_ci(r->tickets, r->a, s, &l);
    find_user(r->tickets, r->a, s, &l);
    char *note = NULL;
    if (l.task_sys_id[0] || l.ci_sys_id[0]) {
        note = import_note_text(s, r->a->product, r->a->name);
        if (!note) {
            snprintf(r->err, r->errsz, "out of memory writing the work note");
            return TB_ERR_NOMEM;
        }
    }
    struct save_arg sa = {.c = r->c, .a = r->a, .s = s, .l = &l, .note = note};
    tb_err e = writer_call(r->c->opt.writer, do_save, &sa);
    free(note);
    if (e) {
        snprintf(r->err, r->errsz, "cannot store session %s: %s", s->lsid, tb_strerror(e));
        return e;
    }
    r->res->sessions++;
    r->res->notes += sa.wrote;
    snprintf(r->res->task_number, sizeof r->res->task_number, "%s", l.task_number);
    snprintf(r->res->ci_sys_id, sizeof r->res->ci_sys_id, "%s", l.ci_sys_id);
    snprintf(r->res->user_sys_id, sizeof r->res->user_sys_id, "%s", l.user_sys_id);
    return TB_OK;
}

static tb_err feed(void *ctx, const char *data, size_t len)
{
    return bt_report_parser_feed(ctx, data, len);
}

struct bt_oauth_cache *import_tokens(import_ctx *c)
{
    return c->tokens;
}

tb_err import_lsid(import_ctx *c, int64_t appliance_id, const char *lsid, import_result *res, char *err,
                   size_t errsz)
{
    memset(res, 0, sizeof *res);
    err[0] = '\0';
    struct import_tls *t;
    tb_err e = import_tls_get(c, &t);
    if (e) {
        snprintf(err, errsz, "cannot open the ticket store or HTTP client: %s", tb_strerror(e));
        return e;
    }
    appliance_snapshot *snap = appliance_cache_acquire(c->opt.appliances);
    const appliance_entry *a = appliance_find_row(snap, appliance_id);
    char base[BT_API_URL_MAX];
    bt_report_parser *p = NULL;
    if (!a) {
        snprintf(err, errsz, "the appliance of this job no longer exists");
        e = TB_ERR_NOT_FOUND;
        goto out;
    }
    if (!a->enabled) {
        snprintf(err, errsz, "integration is disabled on appliance '%s'", a->name);
        e = TB_ERR_DISABLED;
        goto out;
    }
    bt_conn conn;
    if ((e = import_conn(c, a, base, sizeof base, &conn, err, errsz)))
        goto out;
    struct run r = {.c = c, .a = a, .tickets = t->tickets, .reader = t->reader, .want_lsid = lsid, .res = res,
                    .err = err, .errsz = errsz};
    p = bt_report_parser_new(&c->opt.limits, on_session, &r);
    if (!p) {
        e = TB_ERR_NOMEM;
        goto out;
    }
    bt_param params[] = {{"lsid", lsid}};
    const char *report = !strcmp(a->product, "pra") ? "AccessSession" : "SupportSession";
    bt_api_result ar;
    e = bt_api_report(c->tokens, t->http, &conn, report, params, 1, feed, p, &ar);
    if (!e)
        e = bt_report_parser_finish(p);
    if (e == TB_ERR_NOT_FOUND && bt_report_parser_api_error(p)) {
        /* 200 with <error>: the report is not (yet) there. Worth a retry:
         * reports can lag the session-end event. */
        snprintf(err, errsz, "appliance has no report for session %s yet: %s", lsid, bt_report_parser_api_error(p));
        e = TB_ERR_BUSY;
    } else if (e && !err[0]) {
        const char *pe = bt_report_parser_error(p);
        if (ar.err[0] && (e == TB_ERR_HTTP || e == TB_ERR_TIMEOUT || e == TB_ERR_DENIED || e == TB_ERR_BUSY))
            snprintf(err, errsz, "%s", ar.err);
        else if (pe && *pe)
            snprintf(err, errsz, "report for session %s is unusable: %s", lsid, pe);
        else
            snprintf(err, errsz, "%s", ar.err[0] ? ar.err : tb_strerror(e));
        if (e == TB_ERR_TOO_LARGE)
            e = TB_ERR_INVALID;     /* a limit hit again on retry: fail now */
    } else if (!e && !res->sessions && !res->skipped_external) {
        snprintf(err, errsz, "the appliance's report did not contain session %s", lsid);
        e = TB_ERR_BUSY;
    }
out:
    bt_report_parser_free(p);
    appliance_cache_release(c->opt.appliances, snap);
    return e;
}

tb_err import_conn(import_ctx *c, const appliance_entry *a, char *base, size_t basesz, bt_conn *conn, char *err,
                   size_t errsz)
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
    *conn = (bt_conn){.appliance_id = a->id, .base_url = base, .client_id = a->client_id,
                      .client_secret = a->client_secret, .report_timeout_ms = c->opt.report_timeout_ms};
    return TB_OK;
}

tb_err import_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz)
{
    import_ctx *c = ctx;
    import_result res;
    if (!job->lsid[0]) {
        snprintf(err, errsz, "job has no session id");
        return TB_ERR_INVALID;
    }
    /* An event and a reconciler poll can both queue the same session; so can
     * a retried delivery after a restart. If it was imported after this job
     * was requested, there is nothing new to fetch. */
    struct import_tls *t;
    int64_t saved_at = 0;
    if (!import_tls_get(c, &t) && !store_session_saved_at(t->reader, job->appliance_id, job->lsid, &saved_at) &&
        saved_at > job->requested_at) {
        TB_LOGI("session already imported", "lsid=%s", job->lsid);
        return TB_OK;
    }
    tb_err e = import_lsid(ctx, job->appliance_id, job->lsid, &res, err, errsz);
    if (!e)
        TB_LOGI("session imported", "lsid=%s task=%s notes=%zu skipped_external=%zu", job->lsid,
                res.task_number[0] ? res.task_number : "-", res.notes, res.skipped_external);
    return e;
}
