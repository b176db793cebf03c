#include "flow/ticket_store.h"

#include <stdlib.h>
#include <string.h>

#include "flow/thread_handles.h"
#include "flow/ticket_outbox.h"

struct ticket_store {
    tb_config cfg;
    bool remote;
    thread_handles *threads;
};

tb_err ticket_store_new(const tb_config *cfg, ticket_store **out)
{
    ticket_store *ts = calloc(1, sizeof *ts);
    if (!ts)
        return TB_ERR_NOMEM;
    ts->cfg = *cfg;
    ts->remote = itsm_is_remote(cfg) != 0;
    tb_err e = thread_handles_new(&ts->cfg, &ts->threads);
    if (e) {
        free(ts);
        return e;
    }
    *out = ts;
    return TB_OK;
}

void ticket_store_free(ticket_store *ts)
{
    if (!ts)
        return;
    thread_handles_free(ts->threads);
    free(ts);
}

bool ticket_store_is_remote(const ticket_store *ts)
{
    return ts->remote;
}

const tb_config *ticket_store_config(const ticket_store *ts)
{
    return &ts->cfg;
}

tb_err ticket_store_open(ticket_store *ts, itsm **out, char *err, size_t errsz)
{
    char buf[256];
    if (!err) {
        err = buf;
        errsz = sizeof buf;
    }
    return itsm_open(&ts->cfg, out, err, errsz);
}

tb_err ticket_store_wrap(ticket_store *ts, tb_store *st, itsm **out)
{
    return ts->remote ? ticket_outbox_wrap(st, out) : itsm_embedded_wrap(store_sqlite3(st), out);
}

itsm *ticket_store_thread(ticket_store *ts, tb_err *e)
{
    return thread_tickets(ts->threads, e);
}

tb_store *ticket_store_reader(ticket_store *ts, tb_err *e)
{
    return thread_reader(ts->threads, e);
}
