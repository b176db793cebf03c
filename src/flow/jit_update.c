#include "flow/jit_update.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "flow/epm_int.h"
#include "flow/jit_states.h"
#include "store/store_jit.h"

char *jit_update_note(const epm_payload *p, bool closing)
{
    tb_buf b;
    tb_buf_init(&b, 16 * 1024);
    const char *decision = epm_payload_str(p, "Decision");
    tb_buf_printf(&b, "EPM decision update: %s\n", *decision ? decision : "(no decision given)");
    const char *by = epm_payload_str(p, "DecisionPerformedByUser");
    const char *when = epm_payload_str(p, "DecisionTime");
    if (*by)
        tb_buf_printf(&b, "Decision performed by: %s\n", by);
    if (*when)
        tb_buf_printf(&b, "Decision time: %s\n", when);
    const char *dur = epm_payload_str(p, "Duration");
    if (*dur) {
        char text[64];
        epm_duration_text(dur, text, sizeof text);
        tb_buf_printf(&b, "Duration: %s\n", text);
    }
    const char *start = epm_payload_str(p, "StartTime"), *end = epm_payload_str(p, "EndTime");
    if (*start || *end)
        tb_buf_printf(&b, "Access from %s to %s\n", *start ? start : "-", *end ? end : "-");
    if (closing)
        tb_buf_appends(&b, "The ticket is closed (auto-close after decision).\n");
    return tb_buf_take(&b);
}

struct update_arg {
    epm *m;
    const char *request_id;
    int64_t incoming_id;
    tb_jit_epm_update u;
    bool auto_close;
    bool approved;
    const epm_payload *p;
    /* Remote store: the ticket's "active", read by the job before the
     * writer call (the writer's handle only queues writes). */
    bool remote, known;
    char known_sys_id[ITSM_SYS_ID_LEN + 1];
    bool known_active;
    bool missing;                   /* out: no such request (yet) */
    bool applied;                   /* out: false when this event was applied before */
    bool closed;                    /* out */
    char ticket[64];                /* out */
};

/* Writer thread, one transaction: the request's EPM decision, the note
 * and the closing. */
static tb_err do_update(tb_store *st, void *arg)
{
    struct update_arg *a = arg;
    a->missing = a->applied = a->closed = false;
    tb_jit_request r;
    tb_err e = store_jit_request_get(st, a->request_id, &r);
    if (e == TB_ERR_NOT_FOUND) {
        a->missing = true;
        return TB_OK;
    }
    if (e)
        return e;
    snprintf(a->ticket, sizeof a->ticket, "%s", r.task_number);
    char *text = NULL;
    itsm_record *t = NULL;
    if (r.update_incoming_id == a->incoming_id)
        goto out;
    itsm *tickets;
    if ((e = epm_writer_tickets(a->m, st, &tickets)))
        goto out;
    if ((e = store_jit_request_epm_update(st, r.id, &a->u, a->incoming_id, tb_now_ms() / 1000)))
        goto out;
    bool close = false;
    if (a->auto_close && a->remote) {
        if (!a->known || strcmp(a->known_sys_id, r.task_sys_id)) {
            e = TB_ERR_BUSY;    /* the request appeared or changed since the read: retry */
            goto out;
        }
        close = a->known_active;
    } else if (a->auto_close) {
        e = itsm_get(tickets, r.task_table, r.task_sys_id, &t);
        if (e && e != TB_ERR_NOT_FOUND)
            goto out;
        const char *active = t ? itsm_record_get(t, "active") : NULL;
        close = active && !strcmp(active, "true");
        e = TB_OK;
    }
    text = jit_update_note(a->p, close);
    if (!text) {
        e = TB_ERR_NOMEM;
        goto out;
    }
    if ((e = itsm_add_journal(tickets, r.task_table, r.task_sys_id, "work_notes", text, "ticketbridge")))
        goto out;
    if (close) {
        char state[8];
        itsm_kv kv[4];
        size_t n = jit_close_fields(r.task_table, a->approved, text, state, kv);
        if ((e = itsm_update(tickets, r.task_table, r.task_sys_id, kv, n)))
            goto out;
        a->closed = true;
    }
    a->applied = true;
out:
    itsm_record_free(t);
    free(text);
    tb_jit_request_clear(&r);
    return e;
}

/* Remote store, auto-close on: whether the request's ticket is still active,
 * read on the worker's own handle. Nothing read (a->known false) when the
 * request is not recorded yet or this event was applied before. */
static tb_err read_active(epm *m, tb_store *rd, struct update_arg *a, char *err, size_t errsz)
{
    tb_jit_request r;
    tb_err e = store_jit_request_get(rd, a->request_id, &r);
    if (e == TB_ERR_NOT_FOUND)
        return TB_OK;
    if (e) {
        snprintf(err, errsz, "cannot read request %s: %s", a->request_id, tb_strerror(e));
        return TB_ERR_IO;
    }
    itsm *tickets;
    itsm_record *t = NULL;
    if (r.update_incoming_id == a->incoming_id)
        goto out;
    if ((e = epm_tickets(m, &tickets))) {
        snprintf(err, errsz, "cannot open the ticket store: %s", tb_strerror(e));
        e = e == TB_ERR_NOMEM ? e : TB_ERR_IO;
        goto out;
    }
    e = itsm_get(tickets, r.task_table, r.task_sys_id, &t);
    if (e && e != TB_ERR_NOT_FOUND) {
        const char *why = itsm_errmsg(tickets);
        snprintf(err, errsz, "cannot read ticket %s of request %s: %s", r.task_number, a->request_id,
                 *why ? why : tb_strerror(e));
        goto out;
    }
    const char *active = t ? itsm_record_get(t, "active") : NULL;
    a->known = true;
    a->known_active = active && !strcmp(active, "true");
    snprintf(a->known_sys_id, sizeof a->known_sys_id, "%s", r.task_sys_id);
    e = TB_OK;
out:
    itsm_record_free(t);
    tb_jit_request_clear(&r);
    return e;
}

tb_err jit_update_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz)
{
    epm *m = ctx;
    tb_store *rd;
    tb_err e = epm_reader(m, &rd);
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
    const char *rid = epm_payload_str(&p, "RequestId");
    epm_settings *s = epm_settings_acquire(m->settings);
    struct update_arg a = {
        .m = m,
        .request_id = rid,
        .incoming_id = job->incoming_id,
        .u = {.decision = epm_payload_str(&p, "Decision"), .decision_time = epm_payload_str(&p, "DecisionTime"),
              .decided_by = epm_payload_str(&p, "DecisionPerformedByUser"),
              .duration = epm_payload_str(&p, "Duration"), .start_time = epm_payload_str(&p, "StartTime"),
              .end_time = epm_payload_str(&p, "EndTime")},
        .auto_close = s && s->auto_close,
        .approved = !strcasecmp(epm_payload_str(&p, "Decision"), "Approved"),
        .p = &p,
    };
    epm_settings_release(m->settings, s);
    a.remote = ticket_store_is_remote(m->ticket_store);
    if (a.auto_close && a.remote && (e = read_active(m, rd, &a, err, errsz)))
        goto out;
    e = writer_call(m->writer, do_update, &a);
    if (e) {
        snprintf(err, errsz, "cannot record EPM's decision for request %s: %s", rid, tb_strerror(e));
        if (e == TB_ERR_DB)
            e = TB_ERR_IO;
    } else if (a.missing) {
        snprintf(err, errsz, "request %s has no ticket yet (its created event has not been processed)", rid);
        e = TB_ERR_BUSY;
    } else {
        char qd[80];
        TB_LOGI("EPM decision update recorded", "request=%s ticket=%s decision=%s closed=%s first=%s", rid, a.ticket,
                tb_log_quote(qd, sizeof qd, a.u.decision), a.closed ? "yes" : "no", a.applied ? "yes" : "no");
    }
out:
    epm_payload_free(&p);
    free(raw);
    return e;
}
