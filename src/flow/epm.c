#include "flow/epm.h"
#include "flow/epm_int.h"

#include <stdlib.h>
#include <string.h>

#include "bt/epm_wire.h"
#include "core/log.h"
#include "flow/epm_webhook.h"
#include "flow/jit_http.h"
#include "flow/jit_send.h"
#include "flow/jit_ticket.h"
#include "flow/jit_update.h"
#include "store/store_jit.h"

static void tls_free(void *p)
{
    struct epm_tls *t = p;
    if (!t)
        return;
    store_close(t->reader);
    itsm_close(t->tickets);
    tb_http_client_free(t->http);
    free(t);
}

static tb_err tls_get(epm *m, struct epm_tls **out)
{
    struct epm_tls *t = pthread_getspecific(m->tls);
    if (!t) {
        if (!(t = calloc(1, sizeof *t)))
            return TB_ERR_NOMEM;
        if (pthread_setspecific(m->tls, t)) {
            free(t);
            return TB_ERR_NOMEM;
        }
    }
    *out = t;
    return TB_OK;
}

tb_err epm_reader(epm *m, tb_store **out)
{
    struct epm_tls *t;
    tb_err e = tls_get(m, &t);
    if (!e && !t->reader)
        e = store_open(m->db_path, STORE_READ_ONLY, &t->reader);
    if (!e)
        *out = t->reader;
    return e;
}

tb_err epm_tickets(epm *m, itsm **out)
{
    struct epm_tls *t;
    tb_err e = tls_get(m, &t);
    if (!e && !t->tickets)
        e = ticket_store_open(m->ticket_store, &t->tickets, NULL, 0);
    if (!e)
        *out = t->tickets;
    return e;
}

tb_err epm_http(epm *m, tb_http_client **out)
{
    struct epm_tls *t;
    tb_err e = tls_get(m, &t);
    if (!e && !t->http)
        e = tb_http_client_new(&t->http);
    if (!e)
        *out = t->http;
    return e;
}

tb_err epm_writer_tickets(epm *m, tb_store *st, itsm **out)
{
    if (!m->writer_tickets) {
        tb_err e = ticket_store_wrap(m->ticket_store, st, &m->writer_tickets);
        if (e)
            return e;
    }
    *out = m->writer_tickets;
    return TB_OK;
}

tb_err epm_new(const char *db_path, ticket_store *tickets, const tb_secret_key *key, epm **out)
{
    epm *m = calloc(1, sizeof *m);
    if (!m)
        return TB_ERR_NOMEM;
    m->ticket_store = tickets;
    tb_err e = (m->db_path = strdup(db_path)) ? TB_OK : TB_ERR_NOMEM;
    if (!e)
        e = epm_settings_cache_open(db_path, key, &m->settings);
    if (!e)
        e = bt_oauth_cache_new(&m->tokens);
    if (!e && pthread_key_create(&m->tls, tls_free))
        e = TB_ERR_NOMEM;
    if (e) {
        bt_oauth_cache_free(m->tokens);
        epm_settings_cache_close(m->settings);
        free(m->db_path);
        free(m);
        return e;
    }
    *out = m;
    return TB_OK;
}

tb_err epm_attach(epm *m, tb_writer *w, workers *jobs)
{
    m->writer = w;
    m->jobs = jobs;
    tb_err e = workers_register(jobs, JIT_TICKET_JOB, jit_ticket_job, m);
    if (!e)
        e = workers_register(jobs, JIT_UPDATE_JOB, jit_update_job, m);
    if (!e)
        e = workers_register(jobs, JIT_DECISION_JOB, jit_send_job, m);
    return e;
}

tb_route epm_webhook_route(epm *m)
{
    return (tb_route){EPM_WEBHOOK_PATH, TB_M_POST, EPM_WEBHOOK_MAX, epm_webhook_handle, "epm_webhook", true, true, m};
}

tb_route epm_api_route(epm *m)
{
    return (tb_route){JIT_API_PREFIX "*", TB_M_GET | TB_M_POST, JIT_API_BODY_MAX, jit_http_handle, "jit_api", false,
                      false, m};
}

void epm_tick(epm *m)
{
    if (m)
        epm_settings_cache_refresh(m->settings);
}

void epm_free(epm *m)
{
    if (!m)
        return;
    /* The calling thread's handles; other threads freed theirs at exit. */
    tls_free(pthread_getspecific(m->tls));
    pthread_setspecific(m->tls, NULL);
    pthread_key_delete(m->tls);
    itsm_close(m->writer_tickets);
    bt_oauth_cache_free(m->tokens);
    epm_settings_cache_close(m->settings);
    free(m->db_path);
    free(m);
}
