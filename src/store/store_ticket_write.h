/* The outbox of writes to a remote ticket store. A flow that records
 * something of its own and writes to the ticket (a work note, a state) in
 * one writer transaction cannot make the remote write part of that
 * transaction; instead the write is stored here, with a ticket_write job, in
 * that same transaction, and a worker sends it (flow/ticket_outbox.c). So
 * the write is as durable as the record that says it happened. */
#ifndef TB_STORE_TICKET_WRITE_H
#define TB_STORE_TICKET_WRITE_H

#include <stdint.h>
#include "store/store.h"

#define TICKET_WRITE_JOB "ticket_write"

typedef enum tb_ticket_write_op {
    TICKET_WRITE_JOURNAL,   /* body = the entry's text, marker included */
    TICKET_WRITE_UPDATE,    /* body = a JSON object of field: value */
} tb_ticket_write_op;

typedef struct tb_ticket_write {
    int64_t id;
    int64_t job_id;
    tb_ticket_write_op op;
    char *table, *sys_id;
    char *element;          /* journal: work_notes | comments */
    char *author;           /* journal: who wrote it, for the log (the instance records its API user) */
    char *marker;           /* journal: the unique text that finds an entry already written */
    char *body;
    int64_t created_at;
} tb_ticket_write;

/* Inside the caller's transaction: the write and its job. Strings are
 * borrowed. *id (may be NULL) = the write's id. */
tb_err store_ticket_write_queue(tb_store *st, const tb_ticket_write *w, int64_t now, int64_t *id);
/* The write a ticket_write job carries; TB_ERR_NOT_FOUND when none. */
tb_err store_ticket_write_by_job(tb_store *st, int64_t job_id, tb_ticket_write *out);
void tb_ticket_write_clear(tb_ticket_write *w);

#endif
