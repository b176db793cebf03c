/* Accounts that may log in to ticketbridge and their API tokens (passwords
 * and tokens stored only as hashes). */
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
        "INSERT INTO tb_account(username, password_hash, roles, created_at, updated_at, password_changed_at)"
        " VALUES(?1, ?2, ?3, ?4, ?4, ?4)", -1, &s, NULL);
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
    tb_account a;
    tb_err e = store_account_find(st, username, &a, hash);
    if (e)
        return e;
    *roles = a.roles;
    a.roles = NULL;
    tb_account_clear(&a);
    return TB_OK;
}

void tb_account_clear(tb_account *a)
{
    free(a->username);
    free(a->roles);
    memset(a, 0, sizeof *a);
}

void tb_accounts_free(tb_account *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tb_account_clear(&v[i]);
    free(v);
}

#define ACCOUNT_COLS                                                                               \
    "a.id, a.username, a.roles, a.disabled, a.created_at, a.updated_at, a.password_changed_at,"    \
    " (SELECT count(*) FROM tb_api_token t WHERE t.account_id = a.id AND t.revoked_at IS NULL"     \
    "   AND (t.expires_at IS NULL OR t.expires_at > strftime('%s','now'))), a.password_hash"

static tb_err row_to_account(sqlite3_stmt *s, tb_account *a)
{
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(s, 0);
    a->username = store_col_strdup(s, 1);
    a->roles = store_col_strdup(s, 2);
    a->disabled = sqlite3_column_int(s, 3) != 0;
    a->created_at = sqlite3_column_int64(s, 4);
    a->updated_at = sqlite3_column_int64(s, 5);
    a->password_changed_at = sqlite3_column_int64(s, 6);
    a->tokens = sqlite3_column_int64(s, 7);
    if (!a->username || !a->roles) {
        tb_account_clear(a);
        return TB_ERR_NOMEM;
    }
    return TB_OK;
}

tb_err store_account_find(tb_store *st, const char *username, tb_account *out, char *hash)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT " ACCOUNT_COLS " FROM tb_account a WHERE a.username = ?",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, username, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    tb_err e;
    if (rc == SQLITE_ROW) {
        e = row_to_account(s, out);
        if (!e && hash) {
            const unsigned char *h = sqlite3_column_text(s, 8);
            snprintf(hash, 128, "%s", h ? (const char *)h : "");
        }
    } else {
        e = rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    }
    sqlite3_finalize(s);
    return e;
}

tb_err store_account_list(tb_store *st, tb_account **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT " ACCOUNT_COLS " FROM tb_account a ORDER BY a.username",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    tb_account *v = NULL;
    size_t cnt = 0, cap = 0;
    tb_err e = TB_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            tb_account *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                e = TB_ERR_NOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        if ((e = row_to_account(s, &v[cnt])))
            break;
        cnt++;
    }
    if (!e && rc != SQLITE_DONE)
        e = store_rc(rc);
    sqlite3_finalize(s);
    if (e) {
        tb_accounts_free(v, cnt);
        return e;
    }
    *out = v;
    *n = cnt;
    return TB_OK;
}

/* Runs an UPDATE of one account: ?1 username, ?2 now, ?3 the new value;
 * NOT_FOUND when no row changed. */
static tb_err account_change(tb_store *st, const char *sql, const char *username, const char *text,
                             int64_t num)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (int64_t)time(NULL));
    if (text)
        sqlite3_bind_text(s, 3, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(s, 3, num);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    return sqlite3_changes(st->db) ? TB_OK : TB_ERR_NOT_FOUND;
}

tb_err store_account_set_password(tb_store *st, const char *username, const char *password_hash)
{
    return account_change(st,
        "UPDATE tb_account SET password_hash = ?3, updated_at = ?2, password_changed_at = ?2"
        " WHERE username = ?1", username, password_hash, 0);
}

tb_err store_account_set_roles(tb_store *st, const char *username, const char *roles)
{
    return account_change(st, "UPDATE tb_account SET roles = ?3, updated_at = ?2 WHERE username = ?1",
                          username, roles, 0);
}

tb_err store_account_set_disabled(tb_store *st, const char *username, bool disabled)
{
    return account_change(st, "UPDATE tb_account SET disabled = ?3, updated_at = ?2 WHERE username = ?1",
                          username, NULL, disabled ? 1 : 0);
}

tb_err store_account_delete(tb_store *st, const char *username)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "DELETE FROM tb_account WHERE username = ?", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, username, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    return sqlite3_changes(st->db) ? TB_OK : TB_ERR_NOT_FOUND;
}

/* ---- API tokens ---- */

void tb_api_tokens_free(tb_api_token *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].username);
        free(v[i].name);
        free(v[i].prefix);
    }
    free(v);
}

tb_err store_token_add(tb_store *st, const char *username, const char *name, const char *token_hash,
                       const char *prefix, int64_t expires_at, int64_t *id)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_api_token(account_id, name, token_hash, prefix, created_at, expires_at)"
        " SELECT id, ?2, ?3, ?4, ?5, ?6 FROM tb_account WHERE username = ?1", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, token_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (int64_t)time(NULL));
    if (expires_at)
        sqlite3_bind_int64(s, 6, expires_at);
    else
        sqlite3_bind_null(s, 6);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (!sqlite3_changes(st->db))
        return TB_ERR_NOT_FOUND;
    if (id)
        *id = sqlite3_last_insert_rowid(st->db);
    return TB_OK;
}

tb_err store_token_list(tb_store *st, const char *username, tb_api_token **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT t.id, t.account_id, a.username, t.name, t.prefix, t.created_at,"
        " coalesce(t.expires_at, 0), coalesce(t.last_used_at, 0), coalesce(t.revoked_at, 0)"
        " FROM tb_api_token t JOIN tb_account a ON a.id = t.account_id"
        " WHERE ?1 IS NULL OR a.username = ?1 ORDER BY t.id", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    if (username)
        sqlite3_bind_text(s, 1, username, -1, SQLITE_STATIC);
    tb_api_token *v = NULL;
    size_t cnt = 0, cap = 0;
    tb_err e = TB_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            tb_api_token *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                e = TB_ERR_NOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        tb_api_token *t = &v[cnt];
        memset(t, 0, sizeof *t);
        cnt++;
        t->id = sqlite3_column_int64(s, 0);
        t->account_id = sqlite3_column_int64(s, 1);
        t->username = store_col_strdup(s, 2);
        t->name = store_col_strdup(s, 3);
        t->prefix = store_col_strdup(s, 4);
        t->created_at = sqlite3_column_int64(s, 5);
        t->expires_at = sqlite3_column_int64(s, 6);
        t->last_used_at = sqlite3_column_int64(s, 7);
        t->revoked_at = sqlite3_column_int64(s, 8);
        if (!t->username || !t->name || !t->prefix) {
            e = TB_ERR_NOMEM;
            break;
        }
    }
    if (!e && rc != SQLITE_DONE)
        e = store_rc(rc);
    sqlite3_finalize(s);
    if (e) {
        tb_api_tokens_free(v, cnt);
        return e;
    }
    *out = v;
    *n = cnt;
    return TB_OK;
}

tb_err store_token_revoke(tb_store *st, int64_t id, int64_t now)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "UPDATE tb_api_token SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (sqlite3_changes(st->db))
        return TB_OK;
    rc = sqlite3_prepare_v2(st->db, "SELECT 1 FROM tb_api_token WHERE id = ?", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return TB_ERR_EXISTS;
    return rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
}

tb_err store_token_touch(tb_store *st, int64_t id, int64_t at)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "UPDATE tb_api_token SET last_used_at = ?2 WHERE id = ?1"
        " AND (last_used_at IS NULL OR last_used_at < ?2)", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, at);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}

tb_err store_token_owner(tb_store *st, const char *token_hash, tb_token_owner *out)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT t.id, a.id, a.username, a.roles, a.disabled, coalesce(t.expires_at, 0),"
        " coalesce(t.revoked_at, 0)"
        " FROM tb_api_token t JOIN tb_account a ON a.id = t.account_id WHERE t.token_hash = ?", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, token_hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    tb_err e = TB_OK;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->token_id = sqlite3_column_int64(s, 0);
        out->account_id = sqlite3_column_int64(s, 1);
        const unsigned char *u = sqlite3_column_text(s, 2), *r = sqlite3_column_text(s, 3);
        snprintf(out->username, sizeof out->username, "%s", u ? (const char *)u : "");
        snprintf(out->roles, sizeof out->roles, "%s", r ? (const char *)r : "");
        out->disabled = sqlite3_column_int(s, 4) != 0;
        out->expires_at = sqlite3_column_int64(s, 5);
        out->revoked_at = sqlite3_column_int64(s, 6);
    } else {
        e = rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    }
    sqlite3_finalize(s);
    return e;
}

tb_err store_auth_version(tb_store *st, int64_t *out)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT CAST(value AS INTEGER) FROM tb_meta WHERE key = 'auth_version'",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}
