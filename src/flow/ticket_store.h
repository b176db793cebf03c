/* The daemon's way to the ticket store the configuration names (the
 * embedded SQLite store, or a ServiceNow instance), so that no flow needs to
 * know which:
 *  - ticket_store_open: a new handle for the calling thread, for reads and
 *    for writes made outside the writer (a job creating a case);
 *  - ticket_store_wrap: a handle for the writer thread whose writes commit
 *    with the writer's transaction. Embedded: the store on the writer's own
 *    connection. Remote: the outbox (ticket_outbox.h), which queues them in
 *    that transaction for a worker to send.
 *  - ticket_store_thread / _reader: per-thread handles (closed when the
 *    thread exits) for code that has no handles of its own, such as the
 *    outbox's job.
 * One ticket_store lives as long as the gateway; it keeps a copy of the
 * configuration it was made from. */
#ifndef TB_FLOW_TICKET_STORE_H
#define TB_FLOW_TICKET_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include "core/config.h"
#include "itsm/itsm.h"
#include "store/store.h"

typedef struct ticket_store ticket_store;

tb_err ticket_store_new(const tb_config *cfg, ticket_store **out);
void ticket_store_free(ticket_store *ts);

bool ticket_store_is_remote(const ticket_store *ts);
const tb_config *ticket_store_config(const ticket_store *ts);

/* Caller owns *out (itsm_close). err (may be NULL) says why it failed. */
tb_err ticket_store_open(ticket_store *ts, itsm **out, char *err, size_t errsz);
/* Writer thread; st is the writer's store. Caller owns *out (itsm_close
 * leaves st open), and may keep it for later writer calls. */
tb_err ticket_store_wrap(ticket_store *ts, tb_store *st, itsm **out);

/* Borrowed per-thread handles; NULL with *e set when they cannot be opened. */
itsm *ticket_store_thread(ticket_store *ts, tb_err *e);
tb_store *ticket_store_reader(ticket_store *ts, tb_err *e);

#endif
