/* ServiceNow Table API reads over the embedded ticket store: an encoded query
 * (snquery.h) run against the store's SQLite tables, with ServiceNow's
 * sysparm_fields / sysparm_limit / sysparm_offset and the X-Total-Count.
 *
 * A handle holds a connection and the column catalogue read from its schema
 * once (the whitelist the compiler names columns from). Use a handle from one
 * thread at a time; open one per thread. Records come back as itsm_record
 * (all values strings, "" for NULL), owned by the caller. */
#ifndef TB_ITSM_ITSM_TABLE_H
#define TB_ITSM_ITSM_TABLE_H

#include <stddef.h>
#include "core/buf.h"
#include "core/err.h"
#include "itsm/itsm.h"
#include "itsm/snquery.h"

typedef struct itsm_table itsm_table;

/* Opens its own connection to the store at db_path, read-only in effect
 * (PRAGMA query_only). The schema must exist (itsm_embedded_schema). */
tb_err itsm_table_open(const char *db_path, itsm_table **out);
/* Uses db, which the caller keeps owning and must outlive the handle. */
struct sqlite3;
tb_err itsm_table_wrap(struct sqlite3 *db, itsm_table **out);
void itsm_table_close(itsm_table *t);
/* The whitelist: the tables the Table API may read and their columns. */
const snq_catalog *itsm_table_catalog(const itsm_table *t);

typedef struct itsm_table_query {
    const char *table;
    const snquery *q;               /* NULL: every row. Without ORDERBY, rows come in the
                                     * order the search finds them (no sort), as in ServiceNow */
    const char *const *fields;      /* NULL-terminated; NULL: every column */
    size_t limit;                   /* 0 or over ITSM_MAX_ROWS: ITSM_MAX_ROWS */
    size_t offset;                  /* at most 2^40 */
    unsigned timeout_ms;            /* stop a query running longer: TB_ERR_TIMEOUT; 0: none */
    /* Called for every ignored part, the parser's first, then unknown
     * fields, sort keys and sysparm_fields entries. NULL: not reported. */
    snq_ignored_fn on_ignored;
    void *ctx;
} itsm_table_query;

/* Runs req. *out gets *n records (itsm_records_free). total, when not
 * NULL, gets the number of rows matching regardless of limit and offset,
 * read in the same transaction (a second query: ask only when needed).
 * TB_ERR_NOT_FOUND: table is not in the store. TB_ERR_TOO_LARGE: the query
 * compiles past the SQL size cap or names over SNQ_MAX_PARTS fields.
 * TB_ERR_INVALID: a NULL argument or an offset over 2^40. TB_ERR_TIMEOUT:
 * past timeout_ms (checked while SQLite works, and between rows). */
tb_err itsm_embedded_table_query(itsm_table *t, const itsm_table_query *req,
                                 itsm_record ***out, size_t *n, size_t *total);

/* The bytes of attachment sys_id (sys_attachment.content, which the
 * catalogue leaves out). *data is malloc'd and the caller's (NULL when the
 * file is empty). TB_ERR_NOT_FOUND: no such attachment. */
tb_err itsm_table_attachment_content(itsm_table *t, const char *sys_id, void **data, size_t *len);

/* SQLite's EXPLAIN QUERY PLAN for req, one line per plan step, into plan
 * (for tests and for diagnosing slow queries). */
tb_err itsm_table_explain(itsm_table *t, const itsm_table_query *req, tb_buf *plan);

#endif
