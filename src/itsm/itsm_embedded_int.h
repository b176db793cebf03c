/* Shared between the embedded backend's files (not a public interface):
 * per-table metadata, connection setup, SQLite error mapping. */
#ifndef TB_ITSM_EMBEDDED_INT_H
#define TB_ITSM_EMBEDDED_INT_H

#include <sqlite3.h>
#include "core/err.h"

/* Task table facts: number prefix, first number, ServiceNow state values. */
typedef struct emb_task_meta {
    const char *table;
    const char *prefix;
    long first_number;
    int new_state;
    const int *closed_states;   /* states that make the task inactive (n_closed of them) */
    int n_closed;
} emb_task_meta;

const emb_task_meta *emb_task_meta_of(const char *table); /* NULL if not a task table */

/* Busy timeout and pragmas (WAL, foreign keys, synchronous FULL). */
tb_err emb_configure(sqlite3 *db);
tb_err emb_err(int sqlite_rc);

#endif
