#include "flow/ticket_outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "flow/workers.h"
#include "itsm/itsm_servicenow.h"
#include "store/store_ticket_write.h"

typedef struct outbox {
    itsm base;
    tb_store *st;               /* borrowed: the writer's */
} outbox;

static tb_store *ST(itsm *h) { return ((outbox *)h)->st; }

/* ---- queueing (writer thread) ---- */

static tb_err ob_journal(itsm *h, const char *table, const char *sys_id, const char *element, const char *text,
                         const char *author)
{
    unsigned char r[8];
    randombytes_buf(r, sizeof r);
    char hex[17], marker[24];
    sodium_bin2hex(hex, sizeof hex, r, sizeof r);
    snprintf(marker, sizeof marker, "[tb:%s]", hex);
    tb_buf b;
    tb_buf_init(&b, strlen(text) + sizeof marker + 2);
    tb_err e = tb_buf_printf(&b, "%s%s%s", text, text[0] && text[strlen(text) - 1] == '\n' ? "" : "\n", marker);
    if (!e) {
        tb_ticket_write w = {.op = TICKET_WRITE_JOURNAL, .table = (char *)table, .sys_id = (char *)sys_id,
                             .element = (char *)element, .author = (char *)author, .marker = marker,
                             .body = b.data};
        e = store_ticket_write_queue(ST(h), &w, tb_now_ms() / 1000, NULL);
    }
    tb_buf_free(&b);
    return e;
}

static tb_err ob_update(itsm *h, const char *table, const char *sys_id, const itsm_kv *kv, size_t n)
{
    json_t *o = json_object();
    tb_err e = o ? TB_OK : TB_ERR_NOMEM;
    for (size_t i = 0; !e && i < n; i++)
        if (json_object_set_new(o, kv[i].name, kv[i].value ? json_string(kv[i].value) : json_null()))
            e = TB_ERR_NOMEM;
    char *body = e ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!e && !body)
        e = TB_ERR_NOMEM;
    if (!e) {
        tb_ticket_write w = {.op = TICKET_WRITE_UPDATE, .table = (char *)table, .sys_id = (char *)sys_id,
                             .body = body};
        e = store_ticket_write_queue(ST(h), &w, tb_now_ms() / 1000, NULL);
    }
    free(body);
    return e;
}

/* What the outbox does not do: see ticket_outbox.h. */
static tb_err ob_create(itsm *h, const char *t, const itsm_kv *kv, size_t n, itsm_record **out)
{
    (void)h, (void)t, (void)kv, (void)n, (void)out;
    return TB_ERR_DISABLED;
}

static tb_err ob_get(itsm *h, const char *t, const char *id, itsm_record **out)
{
    (void)h, (void)t, (void)id, (void)out;
    return TB_ERR_DISABLED;
}

static tb_err ob_find_task(itsm *h, const char *key, const char *const *tables, itsm_record **out)
{
    (void)h, (void)key, (void)tables, (void)out;
    return TB_ERR_DISABLED;
}

static tb_err ob_query(itsm *h, const char *t, const itsm_kv *kv, size_t n, int ci, size_t limit, size_t offset,
                       itsm_record ***out, size_t *nout)
{
    (void)h, (void)t, (void)kv, (void)n, (void)ci, (void)limit, (void)offset, (void)out, (void)nout;
    return TB_ERR_DISABLED;
}

static tb_err ob_attach(itsm *h, const char *t, const char *id, const char *name, const char *ct, const void *data,
                        size_t len, itsm_record **out)
{
    (void)h, (void)t, (void)id, (void)name, (void)ct, (void)data, (void)len, (void)out;
    return TB_ERR_DISABLED;
}

static void ob_close(itsm *h)
{
    free(h);
}

static const struct itsm_ops outbox_ops = {
    .name = "outbox",
    .create = ob_create,
    .get = ob_get,
    .update = ob_update,
    .find_task = ob_find_task,
    .query = ob_query,
    .add_journal = ob_journal,
    .attach = ob_attach,
    .close = ob_close,
};

tb_err ticket_outbox_wrap(tb_store *st, itsm **out)
{
    if (!st || !out)
        return TB_ERR_INVALID;
    outbox *o = calloc(1, sizeof *o);
    if (!o)
        return TB_ERR_NOMEM;
    o->base.ops = &outbox_ops;
    o->st = st;
    *out = &o->base;
    return TB_OK;
}

/* ---- sending (a worker) ---- */

static tb_err send_update(itsm *t, const tb_ticket_write *w)
{
    json_error_t jerr;
    json_t *o = json_loads(w->body, 0, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        return TB_ERR_INVALID;
    }
    size_t n = json_object_size(o), i = 0;
    itsm_kv *kv = calloc(n ? n : 1, sizeof *kv);
    if (!kv) {
        json_decref(o);
        return TB_ERR_NOMEM;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) kv[i++] = (itsm_kv){k, json_is_string(v) ? json_string_value(v) : NULL};
    tb_err e = itsm_update(t, w->table, w->sys_id, kv, n);
    free(kv);
    json_decref(o);
    return e;
}

/* itsm_servicenow_journal_once for any other store: the record's entries of
 * that element are read back and the marker looked for before writing. */
static tb_err journal_once(itsm *t, const tb_ticket_write *w, int *written)
{
    const itsm_kv kv[] = {{"element_id", w->sys_id}, {"element", w->element}};
    itsm_record **rows = NULL;
    size_t n = 0;
    tb_err e = itsm_query(t, "sys_journal_field", kv, 2, 0, 0, 0, &rows, &n);
    if (e)
        return e;
    *written = 1;
    for (size_t i = 0; i < n && *written; i++) {
        const char *v = itsm_record_get(rows[i], "value");
        if (v && strstr(v, w->marker))
            *written = 0;
    }
    itsm_records_free(rows, n);
    return *written ? itsm_add_journal(t, w->table, w->sys_id, w->element, w->body, w->author) : TB_OK;
}

tb_err ticket_outbox_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz)
{
    ticket_store *ts = ctx;
    tb_err e;
    tb_store *rd = ticket_store_reader(ts, &e);
    if (!rd) {
        snprintf(err, errsz, "cannot open the database: %s", tb_strerror(e));
        return e == TB_ERR_NOMEM ? e : TB_ERR_IO;
    }
    itsm *t = ticket_store_thread(ts, &e);
    if (!t) {
        snprintf(err, errsz, "cannot open the ticket store: %s (see the log)", tb_strerror(e));
        return e == TB_ERR_NOMEM ? e : TB_ERR_CONFIG;
    }
    tb_ticket_write w;
    if ((e = store_ticket_write_by_job(rd, job->id, &w))) {
        snprintf(err, errsz, "job %lld carries no ticket write: %s", (long long)job->id, tb_strerror(e));
        return e == TB_ERR_NOT_FOUND ? TB_ERR_INVALID : TB_ERR_IO;
    }
    int written = 1;
    if (w.op == TICKET_WRITE_UPDATE)
        e = send_update(t, &w);
    else if (ticket_store_is_remote(ts))
        e = itsm_servicenow_journal_once(t, w.table, w.sys_id, w.element, w.marker, w.body, &written);
    else
        e = journal_once(t, &w, &written);
    if (e) {
        /* The instance said when to come back (429 / 503): not before. */
        long ra = itsm_servicenow_retry_after_ms(t);
        if (ra > 0)
            workers_retry_after(ra);
        const char *why = itsm_errmsg(t);
        snprintf(err, errsz, "%s %s/%s: %s", w.op == TICKET_WRITE_UPDATE ? "update of" : "work note on", w.table,
                 w.sys_id, why[0] ? why : tb_strerror(e));
    } else {
        TB_LOGI("ticket write sent", "job=%lld op=%s table=%s sys_id=%s%s", (long long)job->id,
                w.op == TICKET_WRITE_UPDATE ? "update" : "journal", w.table, w.sys_id,
                written ? "" : " already=yes");
    }
    tb_ticket_write_clear(&w);
    return e;
}
