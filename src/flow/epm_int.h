/* Shared by the EPM flow's files only (epm*.c, jit_*.c): the context and
 * the per-thread handles. */
#ifndef TB_FLOW_EPM_INT_H
#define TB_FLOW_EPM_INT_H

#include <pthread.h>

#include "bt/oauth.h"
#include "flow/epm.h"
#include "flow/epm_settings.h"
#include "http/client.h"
#include "itsm/itsm.h"
#include "store/store.h"

struct epm {
    char *db_path;
    ticket_store *ticket_store;     /* borrowed */
    epm_settings_cache *settings;
    bt_oauth_cache *tokens;         /* one EPM token, shared by every worker */
    tb_writer *writer;              /* set by epm_attach */
    workers *jobs;
    pthread_key_t tls;              /* struct epm_tls per thread */
    /* The ticket store on the writer's connection, so that a ticket and the
     * records about it commit together. Writer thread only. */
    itsm *writer_tickets;
};

/* Per thread (HTTP threads and workers), each opened on first use. */
struct epm_tls {
    tb_store *reader;               /* read-only */
    itsm *tickets;
    tb_http_client *http;
};

tb_err epm_reader(epm *m, tb_store **out);
tb_err epm_tickets(epm *m, itsm **out);
tb_err epm_http(epm *m, tb_http_client **out);
/* From a function running on the writer thread (st is the writer's). */
tb_err epm_writer_tickets(epm *m, tb_store *st, itsm **out);

#endif
