#include "flow/jit_ticket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "flow/epm_int.h"
#include "itsm/itsm.h"
#include "store/store_jit.h"

#define DESCRIPTION_MAX (512 * 1024)

/* The details an approver needs first (seed 004, "ServiceNow ticket form"),
 * by payload field, with their labels. */
typedef struct labelled {
    const char *field;
    const char *label;
} labelled;

static const labelled app_fields[] = {
    {"user", "User"},
    {"hostName", "Host"},
    {"filePathObjectId", "Application path"},
    {"productName", "Product"},
    {"productVersion", "Product version"},
    {"fileVersion", "File version"},
    {"publisher", "Publisher"},
    {"productDescription", "Description"},
    {"sha1Hash", "SHA-1 hash"},
    {"sha256Hash", "SHA-256 hash"},
    {"reason", "Reason"},
    {"cmdArgs", "Command line"},
    {"workstyle", "Workstyle"},
    {"applicationGroup", "Application group"},
    {NULL, NULL},
};

static const labelled admin_fields[] = {
    {"UserName", "User name"},
    {"UserId", "User ID"},
    {"ComputerId", "Computer ID"},
    {"GroupId", "Group ID"},
    {"DurationRequested", "Requested duration"},
    {"Reason", "Reason"},
    {NULL, NULL},
};

/* Shown in the heading, so not again under "Other details". */
static const char *const heading_fields[] = {"EventType", "RequestId", "TicketNumber", "Timestamp", NULL};

void jit_summarize(const epm_payload *p, bool admin, jit_summary *out)
{
    if (admin) {
        out->user = epm_payload_str(p, "UserName");
        out->host = epm_payload_str(p, "ComputerId");
        out->application = "";
        out->reason = epm_payload_str(p, "Reason");
        return;
    }
    out->user = epm_payload_str(p, "user");
    out->host = epm_payload_str(p, "hostName");
    out->application = epm_payload_str(p, "filePathObjectId");
    if (!*out->application)
        out->application = epm_payload_str(p, "productName");
    out->reason = epm_payload_str(p, "reason");
}

static bool listed(const labelled *v, const char *name)
{
    for (; v->field; v++)
        if (!strcasecmp(v->field, name))
            return true;
    for (const char *const *h = heading_fields; *h; h++)
        if (!strcasecmp(*h, name))
            return true;
    return false;
}

struct others {
    tb_buf *b;
    const labelled *shown;
    bool header;
};

static void add_other(void *ctx, const char *name, const char *value)
{
    struct others *o = ctx;
    if (listed(o->shown, name))
        return;
    if (!o->header) {
        tb_buf_appends(o->b, "\nOther details:\n");
        o->header = true;
    }
    tb_buf_printf(o->b, "  %s: %s\n", name, value);
}

char *jit_ticket_description(const epm_payload *p, bool admin)
{
    tb_buf b;
    tb_buf_init(&b, DESCRIPTION_MAX);
    tb_buf_printf(&b, "BeyondTrust EPM just-in-time %s access request\n", admin ? "admin" : "application");
    tb_buf_printf(&b, "EPM request ID: %s\n", epm_payload_str(p, "RequestId"));
    const char *num = epm_payload_str(p, "TicketNumber");
    if (*num)
        tb_buf_printf(&b, "EPM ticket number: %s\n", num);
    const char *ts = epm_payload_str(p, "Timestamp");
    if (*ts)
        tb_buf_printf(&b, "Requested at: %s\n", ts);
    tb_buf_appends(&b, "\n");
    const labelled *fields = admin ? admin_fields : app_fields;
    for (const labelled *f = fields; f->field; f++) {
        const char *v = epm_payload_get(p, f->field);
        if (!v || !*v)
            continue;
        if (!strcmp(f->field, "DurationRequested")) {
            char text[64];
            epm_duration_text(v, text, sizeof text);
            if (strcmp(text, v))
                tb_buf_printf(&b, "%s: %s (%s seconds)\n", f->label, text, v);
            else
                tb_buf_printf(&b, "%s: %s\n", f->label, v);
        } else {
            tb_buf_printf(&b, "%s: %s\n", f->label, v);
        }
    }
    struct others o = {&b, fields, false};
    epm_payload_each(p, add_other, &o);
    if (!b.data)
        return NULL;
    if (b.len >= DESCRIPTION_MAX - 1)
        TB_LOGW("EPM request description truncated", "request=%.64s", epm_payload_str(p, "RequestId"));
    return tb_buf_take(&b);
}

/* ---- the job ---- */

static bool is_sys_id(const char *s)
{
    if (strlen(s) != 32)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

/* The configured assignment group's sys_id, by sys_id or name ("" when
 * there is none). An error when the store cannot answer: the job is retried
 * rather than the ticket left unassigned. */
static tb_err find_group(itsm *t, const char *group, char out[ITSM_SYS_ID_LEN + 1])
{
    out[0] = '\0';
    if (!*group)
        return TB_OK;
    itsm_record *r = NULL;
    tb_err e = TB_ERR_NOT_FOUND;
    if (is_sys_id(group) && (e = itsm_get(t, "sys_user_group", group, &r)) == TB_OK && r) {
        snprintf(out, ITSM_SYS_ID_LEN + 1, "%s", r->sys_id);
        itsm_record_free(r);
        return TB_OK;
    }
    if (e != TB_ERR_NOT_FOUND)
        return e;
    itsm_kv kv = {"name", group};
    itsm_record **v = NULL;
    size_t n = 0;
    if ((e = itsm_query(t, "sys_user_group", &kv, 1, 1, 1, 0, &v, &n)))
        return e;
    if (n)
        snprintf(out, ITSM_SYS_ID_LEN + 1, "%s", v[0]->sys_id);
    itsm_records_free(v, n);
    if (!out[0])
        TB_LOGW("EPM assignment group not found; ticket left unassigned", "group=\"%.100s\"", group);
    return TB_OK;
}

struct create_arg {
    epm *m;
    const char *table;
    const itsm_kv *kv;
    size_t nkv;
    const itsm_record *ticket;          /* remote store: created by the job, else NULL */
    tb_jit_request_rec rec;
    bool existed;                       /* out */
    char number[64];                    /* out */
};

/* Writer thread, one transaction, once per request id. Embedded store: the
 * ticket and the request record commit together. Remote store: the job
 * created the ticket (a.ticket) before this call; only the record is
 * written here. */
static tb_err do_create(tb_store *st, void *arg)
{
    struct create_arg *a = arg;
    a->existed = false;
    a->number[0] = '\0';
    tb_jit_request old;
    tb_err e = store_jit_request_get(st, a->rec.request_id, &old);
    if (!e) {
        a->existed = true;
        snprintf(a->number, sizeof a->number, "%s", old.task_number);
        tb_jit_request_clear(&old);
        return TB_OK;
    }
    if (e != TB_ERR_NOT_FOUND)
        return e;
    itsm_record *r = NULL;
    const itsm_record *ticket = a->ticket;
    if (!ticket) {
        itsm *t;
        if ((e = epm_writer_tickets(a->m, st, &t)))
            return e;
        if ((e = itsm_create(t, a->table, a->kv, a->nkv, &r)))
            return e;
        ticket = r;
    }
    const char *number = itsm_record_get(ticket, "number");
    snprintf(a->number, sizeof a->number, "%s", number ? number : "");
    a->rec.task_table = a->table;
    a->rec.task_sys_id = ticket->sys_id;
    a->rec.task_number = a->number;
    e = store_jit_request_insert(st, &a->rec, NULL);
    itsm_record_free(r);
    return e;
}

/* Remote store: the ticket, created from the job on the worker's own
 * handle, found instead when a previous attempt created it (correlation_id
 * is the request's key). NULL *out when the request already has its record:
 * nothing to create. */
static tb_err remote_ticket(tb_store *rd, itsm *tickets, const char *table, const char *key, const itsm_kv *kv,
                            size_t n, const char *rid, itsm_record **out, char *err, size_t errsz)
{
    *out = NULL;
    tb_jit_request old;
    tb_err e = store_jit_request_get(rd, rid, &old);
    if (!e) {
        tb_jit_request_clear(&old);
        return TB_OK;
    }
    if (e != TB_ERR_NOT_FOUND) {
        snprintf(err, errsz, "cannot read request %s: %s", rid, tb_strerror(e));
        return TB_ERR_IO;
    }
    int created = 0;
    if ((e = itsm_create_once(tickets, table, "correlation_id", key, kv, n, out, &created))) {
        const char *why = itsm_errmsg(tickets);
        snprintf(err, errsz, "cannot create the %s ticket for request %s: %s", table, rid, *why ? why : tb_strerror(e));
        return e;   /* the backend's class: retried when the instance is down or busy */
    }
    if (!created)
        TB_LOGI("EPM request ticket found on the ticket store", "request=%s ticket=%s", rid,
                itsm_record_get(*out, "number") ? itsm_record_get(*out, "number") : "");
    return TB_OK;
}

tb_err jit_ticket_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz)
{
    epm *m = ctx;
    tb_store *rd;
    itsm *tickets;
    tb_err e = epm_reader(m, &rd);
    if (!e)
        e = epm_tickets(m, &tickets);
    if (e) {
        snprintf(err, errsz, "cannot open the database: %s", tb_strerror(e));
        return e == TB_ERR_NOMEM ? e : TB_ERR_IO;
    }
    char *raw = NULL;
    size_t rawlen = 0;
    if ((e = store_incoming_body(rd, job->incoming_id, &raw, &rawlen))) {
        snprintf(err, errsz, "cannot read incoming request %lld: %s", (long long)job->incoming_id, tb_strerror(e));
        return e == TB_ERR_NOT_FOUND ? TB_ERR_INVALID : TB_ERR_IO;
    }
    epm_payload p;
    char perr[200];
    if ((e = epm_payload_parse(raw, rawlen, &p, perr, sizeof perr))) {
        snprintf(err, errsz, "incoming request %lld: %s", (long long)job->incoming_id, perr);
        free(raw);
        return e;
    }
    epm_settings *s = epm_settings_acquire(m->settings);
    char *description = NULL, *details = NULL;
    epm_event ev = epm_event_parse(epm_payload_get(&p, "EventType"));
    const char *rid = epm_payload_str(&p, "RequestId");
    if (!epm_event_is_created(ev) || !epm_valid_request_id(rid)) {
        snprintf(err, errsz, "incoming request %lld is not a created event with a request id",
                 (long long)job->incoming_id);
        e = TB_ERR_INVALID;
        goto out;
    }
    if (!s || !s->exists) {
        snprintf(err, errsz, "there is no EPM configuration record 'Default': run 'ticketbridge epm init', "
                             "then 'ticketbridge jobs retry --failed'");
        e = TB_ERR_CONFIG;
        goto out;
    }
    bool admin = epm_event_is_admin(ev);
    jit_summary sum;
    jit_summarize(&p, admin, &sum);
    description = jit_ticket_description(&p, admin);
    details = epm_payload_json(&p);
    if (!description || !details) {
        e = TB_ERR_NOMEM;
        goto out;
    }
    char group[ITSM_SYS_ID_LEN + 1];
    if ((e = find_group(tickets, s->assignment_group, group))) {
        const char *why = itsm_errmsg(tickets);
        snprintf(err, errsz, "cannot look up assignment group '%.100s' for request %s: %s", s->assignment_group, rid,
                 *why ? why : tb_strerror(e));
        if (e == TB_ERR_DB)
            e = TB_ERR_IO;
        goto out;
    }
    itsm_kv kv[8];
    size_t n = 0;
    kv[n++] = (itsm_kv){"short_description", s->short_description};
    kv[n++] = (itsm_kv){"description", description};
    char key[sizeof JIT_CORRELATION_PREFIX + 64];
    snprintf(key, sizeof key, JIT_CORRELATION_PREFIX "%s", rid);
    kv[n++] = (itsm_kv){"correlation_id", key};
    kv[n++] = (itsm_kv){"correlation_display", "BeyondTrust EPM"};
    if (*s->category)
        kv[n++] = (itsm_kv){"category", s->category};
    if (group[0])
        kv[n++] = (itsm_kv){"assignment_group", group};
    struct create_arg a = {
        .m = m,
        .table = s->ticket_type,
        .kv = kv,
        .nkv = n,
        .rec = {.request_id = rid, .kind = admin ? "admin" : "application",
                .tenant_id = epm_payload_str(&p, "TenantId"), .epm_ticket = epm_payload_str(&p, "TicketNumber"),
                .requested_at = epm_payload_str(&p, "Timestamp"), .user_name = sum.user, .host = sum.host,
                .application = sum.application, .reason = sum.reason, .details = details, .raw = raw,
                .incoming_id = job->incoming_id, .created_ms = tb_now_ms()},
    };
    itsm_record *ticket = NULL;
    if (ticket_store_is_remote(m->ticket_store)) {
        if ((e = remote_ticket(rd, tickets, s->ticket_type, key, kv, n, rid, &ticket, err, errsz)))
            goto out;
        if (!ticket) {
            TB_LOGI("EPM request already has a ticket", "request=%s", rid);
            goto out;
        }
        a.ticket = ticket;
    }
    e = writer_call(m->writer, do_create, &a);
    itsm_record_free(ticket);
    if (e) {
        snprintf(err, errsz, "cannot create the %s ticket for request %s: %s", s->ticket_type, rid, tb_strerror(e));
        if (e == TB_ERR_DB)
            e = TB_ERR_IO;      /* worth a retry: the database may be busy */
    } else if (a.existed) {
        TB_LOGI("EPM request already has a ticket", "request=%s ticket=%s", rid, a.number);
    } else {
        TB_LOGI("EPM request ticket created", "request=%s kind=%s ticket=%s", rid, admin ? "admin" : "application",
                a.number);
    }
out:
    epm_settings_release(m->settings, s);
    free(description);
    free(details);
    epm_payload_free(&p);
    free(raw);
    return e;
}
