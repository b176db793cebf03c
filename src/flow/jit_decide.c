#include "flow/jit_decide.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "flow/jit_states.h"
#include "store/store_jit.h"

static void refuse(jit_decision_outcome *out, int status, const char *message, const char *detail)
{
    out->status = status;
    snprintf(out->message, sizeof out->message, "%s", message);
    snprintf(out->detail, sizeof out->detail, "%s", detail ? detail : "");
}

static bool blank(const char *s)
{
    for (; s && *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

bool jit_decision_check_input(const jit_decision_input *in, jit_decision_outcome *out)
{
    memset(out, 0, sizeof *out);
    if (blank(in->reason)) {
        refuse(out, 400, EPM_MSG_REASON, "a reason is required for every decision");
        return false;
    }
    if (strlen(in->reason) > JIT_REASON_MAX) {
        refuse(out, 400, "The reason is too long", "at most 4000 bytes");
        return false;
    }
    if (!in->approve) {
        if (in->unit != EPM_DUR_NONE) {
            refuse(out, 400, "A denial has no duration", "give a duration only when approving");
            return false;
        }
        snprintf(out->decision, sizeof out->decision, "Denied");
        return true;
    }
    const char *msg;
    if (epm_duration_value(in->unit, in->amount, out->duration, sizeof out->duration, &msg)) {
        refuse(out, 400, msg,
               in->unit == EPM_DUR_NONE ? "approve --once, --minutes N (5-1440) or --hours N (1-24)" : "");
        return false;
    }
    snprintf(out->decision, sizeof out->decision, "Approved");
    return true;
}

static char *note_text(const jit_decision_input *in, const jit_decision_outcome *out)
{
    tb_buf b;
    tb_buf_init(&b, 16 * 1024);
    char dur[64];
    epm_duration_text(out->duration, dur, sizeof dur);
    tb_buf_printf(&b, "EPM JIT decision submitted: %s", out->decision);
    if (in->approve)
        tb_buf_printf(&b, " (%s)", dur);
    tb_buf_printf(&b, " by %s\nReason: %s\nIt is being sent to EPM.\n", in->performed_by, in->reason);
    return tb_buf_take(&b);
}

tb_err jit_ticket_state_read(tb_store *rd, itsm *tickets, const char *request, jit_ticket_state *out, bool *found,
                             char *why, size_t whysz)
{
    memset(out, 0, sizeof *out);
    *found = false;
    why[0] = '\0';
    tb_jit_request r;
    tb_err e = store_jit_request_find(rd, request, &r);
    if (e == TB_ERR_NOT_FOUND)
        return TB_OK;
    if (e) {
        snprintf(why, whysz, "cannot read the request: %s", tb_strerror(e));
        return e;
    }
    *found = true;
    snprintf(out->sys_id, sizeof out->sys_id, "%s", r.task_sys_id);
    itsm_record *t = NULL;
    e = itsm_get(tickets, r.task_table, r.task_sys_id, &t);
    if (e == TB_ERR_NOT_FOUND) {
        out->gone = true;
        e = TB_OK;
    } else if (e) {
        const char *m = itsm_errmsg(tickets);
        snprintf(why, whysz, "%s", *m ? m : tb_strerror(e));
    } else {
        const char *state = itsm_record_get(t, "state");
        snprintf(out->state, sizeof out->state, "%s", state ? state : "");
    }
    itsm_record_free(t);
    tb_jit_request_clear(&r);
    return e;
}

tb_err jit_decide(tb_store *st, itsm *tickets, const epm_settings *s, const jit_decision_input *in,
                  const jit_ticket_state *known, int64_t now, jit_decision_outcome *out)
{
    if (!jit_decision_check_input(in, out))
        return TB_OK;
    tb_jit_request r;
    tb_err e = store_jit_request_find(st, in->request, &r);
    if (e == TB_ERR_NOT_FOUND) {
        char d[200];
        snprintf(d, sizeof d, "no EPM request, ticket or EPM ticket number '%.100s'", in->request);
        refuse(out, 404, "No such JIT request", d);
        return TB_OK;
    }
    if (e)
        return e;
    snprintf(out->request_id, sizeof out->request_id, "%s", r.request_id);
    snprintf(out->ticket, sizeof out->ticket, "%s", r.task_number);
    char *body = NULL, *note = NULL;
    itsm_record *t = NULL;
    if (r.final) {
        char d[160] = "";
        if (r.epm_decision[0])
            snprintf(d, sizeof d, "EPM's decision: %.100s", r.epm_decision);
        refuse(out, 409, EPM_MSG_FINAL, d);
        goto out;
    }
    if (!strcmp(r.decision_state, "pending")) {
        refuse(out, 409, "A decision for this request is being sent to EPM",
               "wait for EPM's answer ('ticketbridge jit show')");
        goto out;
    }
    const char *state = NULL;
    if (known) {
        if (strcmp(known->sys_id, r.task_sys_id)) {
            /* the request changed between the read and this transaction */
            refuse(out, 503, "The request changed, try again", "");
            goto out;
        }
        e = known->gone ? TB_ERR_NOT_FOUND : TB_OK;
        state = known->gone ? NULL : known->state;
    } else {
        e = itsm_get(tickets, r.task_table, r.task_sys_id, &t);
        state = t ? itsm_record_get(t, "state") : NULL;
    }
    if (e == TB_ERR_NOT_FOUND || (!e && !jit_state_active(r.task_table, s->active_states, state))) {
        char d[200];
        snprintf(d, sizeof d, "ticket %s is %s", r.task_number,
                 e == TB_ERR_NOT_FOUND ? "gone" : jit_state_name(r.task_table, state ? state : ""));
        refuse(out, 409, EPM_MSG_INACTIVE, d);
        e = TB_OK;
        goto out;
    }
    if (e)
        goto out;
    char when[24], url[EPM_URL_MAX + 128] = "";
    epm_format_time(now, when, sizeof when);
    if (s->ticket_url_base[0])
        snprintf(url, sizeof url, "%s/%s.do?sys_id=%s", s->ticket_url_base, r.task_table, r.task_sys_id);
    epm_decision_fields f = {
        .admin = !strcmp(r.kind, "admin"),
        .approved = in->approve,
        .request_id = r.request_id,
        .system_id = r.task_sys_id,
        .ticket_id = r.task_number,
        .ticket_url = url,
        .decision_time = when,
        .duration = out->duration,
        .performed_by = in->performed_by,
        .message = in->reason,
        .admin_id_field = s->admin_id_field,
    };
    body = epm_decision_body(&f);
    note = note_text(in, out);
    if (!body || !note) {
        e = TB_ERR_NOMEM;
        goto out;
    }
    tb_jit_decision_rec d = {
        .request = r.id,
        .request_id = r.request_id,
        .decision = out->decision,
        .reason = in->reason,
        .duration = out->duration,
        .performed_by = in->performed_by,
        .decision_time = when,
        .body = body,
        .now = now,
    };
    if ((e = store_jit_decision_insert(st, &d, &out->decision_id, &out->job_id)))
        goto out;
    if ((e = itsm_add_journal(tickets, r.task_table, r.task_sys_id, "work_notes", note, in->performed_by)))
        goto out;
    out->status = 200;
    snprintf(out->message, sizeof out->message, "Decision recorded; it is being sent to EPM");
out:
    itsm_record_free(t);
    free(body);
    free(note);
    tb_jit_request_clear(&r);
    return e;
}
