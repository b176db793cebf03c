/* Private to store_sqlite*.c: the connection struct and statement helpers. */
#ifndef TB_STORE_SQLITE_H
#define TB_STORE_SQLITE_H

#include <sqlite3.h>
#include "store/store.h"

enum {
    STMT_INC_FIND_DEDUP,
    STMT_INC_INSERT,
    STMT_JOB_INSERT,
    STMT_APPROVAL_INSERT,
    STMT__COUNT
};

struct tb_store {
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT__COUNT];    /* hot-path statements, prepared lazily */
};

tb_err store_exec(tb_store *st, const char *sql);
/* Prepared statement for a hot-path slot; reset and cleared before return. */
tb_err store_stmt(tb_store *st, int slot, const char *sql, sqlite3_stmt **out);
tb_err store_rc(int sqlite_rc);
/* A growable array of fixed-size elements, for rows read into a caller's
 * array: set elem, push (each new element zeroed), hand v and n over. */
typedef struct store_vec {
    void *v;
    size_t n, cap, elem;
} store_vec;
/* The new element, or NULL when out of memory (v stays valid). */
void *store_vec_push(store_vec *a);
/* Binds v (borrowed until the statement is reset) as text, or NULL as SQL
 * NULL. */
void store_bind_text(sqlite3_stmt *s, int i, const char *v);
/* The same for NOT NULL columns: NULL binds "". */
void store_bind_text_nn(sqlite3_stmt *s, int i, const char *v);
/* Copies a column as malloc'd string ("" for NULL); NULL on OOM. */
char *store_col_strdup(sqlite3_stmt *s, int col);

#endif
