/* Shared by import.c, reconcile.c and the session-key flows (session_key.c,
 * session_pull.c): the importer's context and the per-thread handles they
 * use, so every appliance call shares one OAuth token cache. */
#ifndef TB_FLOW_IMPORT_INT_H
#define TB_FLOW_IMPORT_INT_H

#include <pthread.h>

#include "bt/api.h"
#include "flow/import.h"
#include "http/client.h"
#include "itsm/itsm.h"
#include "store/store.h"

struct import_ctx {
    import_opts opt;
    char *db_path;
    bt_oauth_cache *tokens;
    pthread_key_t tls;
    /* The ticket store on the writer's connection: work notes are written in
     * the same transaction as the session they describe. Touched only by
     * functions running on the writer thread. */
    itsm *writer_tickets;
};

/* Per worker thread: an HTTP client (curl handles are single-threaded) and
 * a ticket-store handle (one SQLite connection each). */
struct import_tls {
    tb_http_client *http;
    itsm *tickets;
    tb_store *reader;           /* read-only; writes go through the writer */
};

tb_err import_tls_get(import_ctx *c, struct import_tls **out);
/* The appliance's API connection; base (≥ BT_API_URL_MAX) backs conn->base_url.
 * TB_ERR_CONFIG with a message saying what to set when it is incomplete. */
tb_err import_conn(import_ctx *c, const appliance_entry *a, char *base, size_t basesz, bt_conn *conn, char *err,
                   size_t errsz);

#endif
