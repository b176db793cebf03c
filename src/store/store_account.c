/* Accounts that may log in to ticketbridge (passwords stored as hashes). */
#include "store/store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

tb_err store_account_add(tb_store *st, const char *username, const char *password_hash,
                         const char *roles)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_account(username, password_hash, roles, created_at) VALUES(?,?,?,?)", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, password_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, roles ? roles : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}

tb_err store_account_get(tb_store *st, const char *username, char hash[128], char **roles)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT password_hash, roles FROM tb_account WHERE username = ?",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, username, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    tb_err e;
    if (rc == SQLITE_ROW) {
        const unsigned char *h = sqlite3_column_text(s, 0);
        snprintf(hash, 128, "%s", h ? (const char *)h : "");
        *roles = store_col_strdup(s, 1);
        e = *roles ? TB_OK : TB_ERR_NOMEM;
    } else {
        e = rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    }
    sqlite3_finalize(s);
    return e;
}
