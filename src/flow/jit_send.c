#include "flow/jit_send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/epm_api.h"
#include "bt/epm_wire.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "flow/epm_int.h"
#include "store/store_jit.h"

struct outcome_arg {
    epm *m;
    const tb_jit_decision *d;
    const char *state;              /* accepted | failed | NULL (an attempt to retry) */
    int http_status;
    const char *error;
    bool final;
    const char *note;               /* NULL = none */
};

/* Writer thread: the decision's outcome and its work note, together. */
static tb_err do_outcome(tb_store *st, void *arg)
{
    struct outcome_arg *a = arg;
    bool changed = true;
    tb_err e = a->state ? store_jit_decision_finish(st, a->d->id, a->state, a->http_status, a->error, a->final,
                                                    tb_now_ms() / 1000, &changed)
                        : store_jit_decision_attempt(st, a->d->id, a->http_status, a->error);
    if (e || !changed || !a->note)
        return e;
    itsm *t;
    if ((e = epm_writer_tickets(a->m, st, &t)))
        return e;
    return itsm_add_journal(t, a->d->task_table, a->d->task_sys_id, "work_notes", a->note, "ticketbridge");
}

static char *note(const tb_jit_decision *d, const char *what, const char *why)
{
    tb_buf b;
    tb_buf_init(&b, 16 * 1024);
    char dur[64];
    epm_duration_text(d->duration, dur, sizeof dur);
    tb_buf_printf(&b, "%s: %s", what, d->decision);
    if (!strcmp(d->decision, "Approved"))
        tb_buf_printf(&b, " (%s)", dur);
    tb_buf_printf(&b, " by %s at %s UTC\n", d->performed_by, d->decision_time);
    if (why && *why)
        tb_buf_printf(&b, "%s\n", why);
    return tb_buf_take(&b);
}

static tb_err record(epm *m, const tb_jit_decision *d, const char *state, int status, const char *error, bool final,
                     const char *text)
{
    struct outcome_arg a = {m, d, state, status, error, final, text};
    return writer_call(m->writer, do_outcome, &a);
}

tb_err jit_send_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz)
{
    epm *m = ctx;
    tb_store *rd;
    tb_http_client *http;
    tb_err e = epm_reader(m, &rd);
    if (!e)
        e = epm_http(m, &http);
    if (e) {
        snprintf(err, errsz, "cannot open the database or an HTTP client: %s", tb_strerror(e));
        return e == TB_ERR_NOMEM ? e : TB_ERR_IO;
    }
    tb_jit_decision d;
    if ((e = store_jit_decision_by_job(rd, job->id, &d))) {
        snprintf(err, errsz, "no decision belongs to this job: %s", tb_strerror(e));
        return e == TB_ERR_NOT_FOUND ? TB_ERR_INVALID : TB_ERR_IO;
    }
    if (strcmp(d.state, "queued")) {
        TB_LOGI("EPM decision already sent", "request=%s state=%s", d.request_id, d.state);
        tb_jit_decision_clear(&d);
        return TB_OK;
    }
    epm_settings *s = epm_settings_acquire(m->settings);
    epm_conn conn = epm_settings_conn(s);
    bool admin = !strcmp(d.kind, "admin");
    epm_api_result res;
    e = epm_api_send(m->tokens, http, &conn, admin ? s->admin_decision_method : "POST",
                     admin ? s->admin_decision_path : s->app_decision_path, d.body, d.request_id, &res);
    epm_settings_release(m->settings, s);
    char *text = NULL;
    tb_err re = TB_OK;
    if (!e) {
        text = note(&d, "EPM accepted the decision", NULL);
        re = record(m, &d, "accepted", (int)res.status, "", false, text);
        TB_LOGI("EPM decision accepted", "request=%s decision=%s", d.request_id, d.decision);
    } else if (e == TB_ERR_INVALID) {
        bool final = res.status == EPM_FINAL_DECISION_STATUS;
        const char *why = final ? EPM_MSG_FINAL : res.message;
        char line[EPM_API_MSG + 64];
        snprintf(line, sizeof line, "Decision failed: %s", why);
        text = note(&d, "EPM refused the decision", line);
        re = record(m, &d, "failed", (int)res.status, final ? EPM_MSG_FINAL : res.message, final, text);
        snprintf(err, errsz, "EPM refused the decision for request %s: %s", d.request_id, why);
    } else {
        /* Retried (transient), or waiting for an administrator: the decision
         * stays queued, with the reason. Only the first failure is noted. */
        bool transient = e == TB_ERR_HTTP || e == TB_ERR_TIMEOUT || e == TB_ERR_IO;
        if (d.attempts == 0) {
            char line[EPM_API_MSG + 160];
            snprintf(line, sizeof line, "%s%s", res.message,
                     transient ? " (it is retried)" : " (it is sent once an administrator fixes this and runs "
                                                      "'ticketbridge jobs retry --failed')");
            text = note(&d, "The decision is not sent to EPM yet", line);
        }
        re = record(m, &d, NULL, (int)res.status, res.message, false, text);
        if (transient && res.retry_after > 0)
            workers_retry_after(res.retry_after * 1000);
        snprintf(err, errsz, "%s", res.message[0] ? res.message : tb_strerror(e));
    }
    if (re) {
        TB_LOGE("EPM decision outcome not recorded", "request=%s err=\"%s\"", d.request_id, tb_strerror(re));
        if (!e) {
            /* Sent, but not recorded: a retry re-sends, and EPM answers
             * that the decision is final, which is then recorded. */
            snprintf(err, errsz, "decision sent but not recorded: %s", tb_strerror(re));
            e = TB_ERR_IO;
        }
    }
    free(text);
    tb_jit_decision_clear(&d);
    return e;
}
