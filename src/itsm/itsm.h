/* The ticket store behind one small interface (OpenSMTPD queue_backend style):
 * itsm.c is the front end that validates arguments once; backends
 * (itsm_embedded.c now, itsm_servicenow.c later) implement struct itsm_ops.
 *
 * Records use ServiceNow's table and field names. A record is a flat list of
 * (field, value) string pairs, exactly as the ServiceNow Table API returns
 * them with sysparm_exclude_reference_link=true: reference fields hold the
 * referenced sys_id, datetimes are "YYYY-MM-DD HH:MM:SS" UTC, everything is a
 * string. Ownership: every itsm_record returned through an out-parameter
 * belongs to the caller and is released with itsm_record_free().
 * Threads: a handle is used by one thread at a time; open one per thread. */
#ifndef TB_ITSM_ITSM_H
#define TB_ITSM_ITSM_H

#include <stddef.h>
#include "core/err.h"

#define ITSM_SYS_ID_LEN 32

/* Input caps, checked by the front end (TB_ERR_TOO_LARGE past them). */
#define ITSM_MAX_NAME 80                        /* field / table name */
#define ITSM_MAX_VALUE (64u * 1024)             /* any field value ... */
#define ITSM_MAX_TEXT (1024u * 1024)            /* ... except long text fields and journal entries */
#define ITSM_MAX_FIELDS 256                     /* kv pairs per call */
#define ITSM_MAX_ATTACHMENT (32u * 1024 * 1024) /* attachment bytes */
#define ITSM_MAX_ROWS 10000                     /* query rows; limit 0 means this */

typedef struct itsm_field {
    char *name;
    char *value;
} itsm_field;

typedef struct itsm_record {
    char table[64];
    char sys_id[ITSM_SYS_ID_LEN + 1];
    size_t nfields;
    itsm_field *fields;
} itsm_record;

/* Input pair for create/update/query; strings are borrowed. */
typedef struct itsm_kv {
    const char *name;
    const char *value;
} itsm_kv;

typedef struct itsm itsm;

struct itsm_ops {
    const char *name;
    /* Create a record; number, sys_id and sys_ timestamps are filled in by the
     * store when not given. */
    tb_err (*create)(itsm *, const char *table, const itsm_kv *kv, size_t n, itsm_record **out);
    tb_err (*get)(itsm *, const char *table, const char *sys_id, itsm_record **out);
    tb_err (*update)(itsm *, const char *table, const char *sys_id, const itsm_kv *kv, size_t n);
    /* Find a task by number (e.g. INC0010001) or sys_id in the given task
     * tables (NULL-terminated; NULL = every task table). */
    tb_err (*find_task)(itsm *, const char *number_or_sys_id, const char *const *tables, itsm_record **out);
    /* All records of table whose fields equal every kv (AND); value
     * comparison case-insensitive when ci != 0. Ordered by creation. */
    tb_err (*query)(itsm *, const char *table, const itsm_kv *kv, size_t n, int ci,
                    size_t limit, size_t offset, itsm_record ***out, size_t *nout);
    /* Append a journal entry (element = "work_notes" or "comments") to a
     * record: a sys_journal_field row, as ServiceNow stores it. */
    tb_err (*add_journal)(itsm *, const char *table, const char *sys_id, const char *element,
                          const char *text, const char *author);
    /* Attach a file to a record (sys_attachment). */
    tb_err (*attach)(itsm *, const char *table, const char *sys_id, const char *file_name,
                     const char *content_type, const void *data, size_t len, itsm_record **out);
    void (*close)(itsm *);
    /* Optional operations (NULL: the front end answers TB_ERR_DISABLED, or
     * for attach_by falls back to attach). */
    /* Deletes a record with its journal entries and attachments, or the
     * attachment itself for table sys_attachment. TB_ERR_NOT_FOUND when it
     * does not exist. */
    tb_err (*remove)(itsm *, const char *table, const char *sys_id);
    /* attach, with the user who attaches as sys_created_by (NULL: system). */
    tb_err (*attach_by)(itsm *, const char *table, const char *sys_id, const char *file_name,
                        const char *content_type, const void *data, size_t len, const char *author,
                        itsm_record **out);
};

struct itsm {
    const struct itsm_ops *ops;
};

/* Front end: argument checks, then dispatch. */
tb_err itsm_create(itsm *, const char *table, const itsm_kv *kv, size_t n, itsm_record **out);
tb_err itsm_get(itsm *, const char *table, const char *sys_id, itsm_record **out);
tb_err itsm_update(itsm *, const char *table, const char *sys_id, const itsm_kv *kv, size_t n);
tb_err itsm_find_task(itsm *, const char *number_or_sys_id, const char *const *tables, itsm_record **out);
tb_err itsm_query(itsm *, const char *table, const itsm_kv *kv, size_t n, int ci, size_t limit,
                  size_t offset, itsm_record ***out, size_t *nout);
tb_err itsm_add_journal(itsm *, const char *table, const char *sys_id, const char *element,
                        const char *text, const char *author);
tb_err itsm_attach(itsm *, const char *table, const char *sys_id, const char *file_name,
                   const char *content_type, const void *data, size_t len, itsm_record **out);
tb_err itsm_attach_by(itsm *, const char *table, const char *sys_id, const char *file_name,
                      const char *content_type, const void *data, size_t len, const char *author,
                      itsm_record **out);
tb_err itsm_remove(itsm *, const char *table, const char *sys_id);
/* create, unless a record of table already has key_field = key_value (the
 * record a previous attempt created: the key is among kv). *created says
 * which; *out is the record either way. For jobs that create records on a
 * remote store, where an attempt can fail after the store acted. */
tb_err itsm_create_once(itsm *, const char *table, const char *key_field, const char *key_value,
                        const itsm_kv *kv, size_t n, itsm_record **out, int *created);
void itsm_close(itsm *);

const char *itsm_record_get(const itsm_record *r, const char *field); /* NULL if absent */
void itsm_record_free(itsm_record *r);
void itsm_records_free(itsm_record **v, size_t n);

/* Task tables the embedded store knows, NULL-terminated. */
extern const char *const itsm_task_tables[];
int itsm_is_task_table(const char *table);
int itsm_is_known_table(const char *table);
/* Cap for a value of the named field: ITSM_MAX_TEXT for long text fields
 * (description, close_notes, ...), ITSM_MAX_VALUE otherwise. */
size_t itsm_value_cap(const char *field);

/* Embedded backend: opens its own connection to the SQLite file at path
 * (WAL, busy timeout). itsm_embedded_schema creates its tables if missing. */
tb_err itsm_embedded_open(const char *db_path, itsm **out);
/* The embedded backend on a connection someone else owns (the writer's), so
 * ticket writes join that connection's open transaction: each write is a
 * savepoint inside it, and commits with it. itsm_close leaves db open. Use
 * only from the thread that owns db, while its transaction is open. */
struct sqlite3;
tb_err itsm_embedded_wrap(struct sqlite3 *db, itsm **out);
tb_err itsm_embedded_schema(const char *db_path);
/* How long an embedded handle waits for a lock before TB_ERR_BUSY (default
 * 5000 ms): a caller with a deadline (the approval endpoint) sets its own. */
tb_err itsm_embedded_busy_timeout(itsm *h, int ms);

/* The ticket store the configuration names (ticket_store = embedded, the
 * database file; = servicenow, itsm_servicenow.h), so callers need not care
 * which. On failure err says why. itsm_errmsg: the readable reason of a
 * handle's last failed call when its backend keeps one, else "". */
struct tb_config;
tb_err itsm_open(const struct tb_config *cfg, itsm **out, char *err, size_t errsz);
const char *itsm_errmsg(itsm *h);
int itsm_is_remote(const struct tb_config *cfg);

#endif
