/* Per-thread database handles for HTTP handlers: a ticket-store handle and a
 * read-only gateway-store connection, opened on a thread's first use and
 * closed when the thread exits (libmicrohttpd's pool threads are long-lived,
 * so a handler pays the open once). SQLite connections must not be shared
 * between threads without locking; one per thread needs none. */
#ifndef TB_FLOW_THREAD_HANDLES_H
#define TB_FLOW_THREAD_HANDLES_H

#include "core/config.h"
#include "core/err.h"
#include "itsm/itsm.h"
#include "store/store.h"

typedef struct thread_handles thread_handles;

/* cfg is copied: the ticket store it names (itsm_open), its database. */
tb_err thread_handles_new(const tb_config *cfg, thread_handles **out);
/* After every thread that used it has exited (or stopped using it). */
void thread_handles_free(thread_handles *h);
/* The calling thread's handles; NULL (with *e set) when they cannot be opened. */
itsm *thread_tickets(thread_handles *h, tb_err *e);
tb_store *thread_reader(thread_handles *h, tb_err *e);

#endif
