/* OAuth clients, their access tokens (API tokens) and refresh tokens. */
#include "store/store_oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_sqlite.h"

static tb_err run(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}

tb_err store_oauth_client_add(tb_store *st, const char *client_id, const char *secret_hash,
                              const char *run_as, int64_t lifetime)
{
    int64_t account = 0;
    sqlite3_stmt *s;
    int rc;
    if (run_as && *run_as) {
        rc = sqlite3_prepare_v2(st->db, "SELECT id FROM tb_account WHERE username = ?", -1, &s, NULL);
        if (rc != SQLITE_OK)
            return store_rc(rc);
        sqlite3_bind_text(s, 1, run_as, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            account = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        if (rc != SQLITE_ROW)
            return rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    }
    rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_oauth_client(client_id, secret_hash, run_as, lifetime, created_at)"
        " VALUES(?1, ?2, ?3, ?4, ?5)", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, client_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, secret_hash, -1, SQLITE_STATIC);
    if (account)
        sqlite3_bind_int64(s, 3, account);
    else
        sqlite3_bind_null(s, 3);
    sqlite3_bind_int64(s, 4, lifetime);
    sqlite3_bind_int64(s, 5, (int64_t)time(NULL));
    return run(s);
}

#define CLIENT_COLS                                                                                \
    "SELECT c.id, c.client_id, c.secret_hash, coalesce(a.username, ''), c.lifetime, c.created_at," \
    " (SELECT count(*) FROM tb_oauth_access x JOIN tb_api_token t ON t.id = x.token_id"            \
    "  WHERE x.client = c.id AND x.expires_at > ?1 AND t.revoked_at IS NULL)"                      \
    " FROM tb_oauth_client c LEFT JOIN tb_account a ON a.id = c.run_as"

static void read_client(sqlite3_stmt *s, tb_oauth_client *c)
{
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(s, 0);
    snprintf(c->client_id, sizeof c->client_id, "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(c->secret_hash, sizeof c->secret_hash, "%s", (const char *)sqlite3_column_text(s, 2));
    snprintf(c->run_as, sizeof c->run_as, "%s", (const char *)sqlite3_column_text(s, 3));
    c->lifetime = sqlite3_column_int64(s, 4);
    c->created_at = sqlite3_column_int64(s, 5);
    c->live_tokens = sqlite3_column_int64(s, 6);
}

tb_err store_oauth_client_find(tb_store *st, const char *client_id, tb_oauth_client *out)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, CLIENT_COLS " WHERE c.client_id = ?2", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, (int64_t)time(NULL));
    sqlite3_bind_text(s, 2, client_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_client(s, out);
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return TB_OK;
    return rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
}

tb_err store_oauth_client_list(tb_store *st, tb_oauth_client **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, CLIENT_COLS " ORDER BY c.client_id", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, (int64_t)time(NULL));
    tb_oauth_client *v = NULL;
    size_t cnt = 0, cap = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            tb_oauth_client *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                sqlite3_finalize(s);
                free(v);
                return TB_ERR_NOMEM;
            }
            v = nv;
            cap = ncap;
        }
        read_client(s, &v[cnt++]);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(v);
        return store_rc(rc);
    }
    *out = v;
    *n = cnt;
    return TB_OK;
}

static tb_err exec_id(tb_store *st, const char *sql, int64_t id)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, id);
    return run(s);
}

tb_err store_oauth_client_remove(tb_store *st, const char *client_id)
{
    tb_err e = store_begin(st);
    if (e)
        return e;
    tb_oauth_client c;
    e = store_oauth_client_find(st, client_id, &c);
    if (!e)
        e = exec_id(st, "DELETE FROM tb_api_token WHERE id IN"
                        " (SELECT token_id FROM tb_oauth_access WHERE client = ?)", c.id);
    if (!e)
        e = exec_id(st, "DELETE FROM tb_oauth_client WHERE id = ?", c.id);
    if (!e)
        e = store_commit(st);
    if (e)
        store_rollback(st);
    return e;
}

tb_err store_oauth_purge(tb_store *st, int64_t now)
{
    tb_err e = exec_id(st, "DELETE FROM tb_api_token WHERE id IN"
                           " (SELECT token_id FROM tb_oauth_access WHERE expires_at <= ?)", now);
    if (!e)
        e = exec_id(st, "DELETE FROM tb_oauth_refresh WHERE expires_at <= ?", now);
    return e;
}

tb_err store_oauth_access_add(tb_store *st, int64_t client, const char *username, const char *token_hash,
                              const char *prefix, int64_t expires_at, int64_t *token_id)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT client_id FROM tb_oauth_client WHERE id = ?", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, client);
    char name[OAUTH_CLIENT_ID_MAX + CREDENTIAL_TOKEN_SHOWN + 16];
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        snprintf(name, sizeof name, "oauth %s %s", (const char *)sqlite3_column_text(s, 0), prefix);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    int64_t id = 0;
    tb_err e = store_token_add(st, username, name, token_hash, prefix, expires_at, &id);
    if (e)
        return e;
    rc = sqlite3_prepare_v2(st->db, "INSERT INTO tb_oauth_access(token_id, client, expires_at) VALUES(?, ?, ?)",
                            -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, client);
    sqlite3_bind_int64(s, 3, expires_at);
    e = run(s);
    if (!e && token_id)
        *token_id = id;
    return e;
}

tb_err store_oauth_refresh_add(tb_store *st, int64_t client, const char *username, const char *token_hash,
                               int64_t now, int64_t expires_at)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_oauth_refresh(client, account_id, token_hash, created_at, expires_at)"
        " SELECT ?1, id, ?3, ?4, ?5 FROM tb_account WHERE username = ?2", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_int64(s, 1, client);
    sqlite3_bind_text(s, 2, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, token_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);
    sqlite3_bind_int64(s, 5, expires_at);
    tb_err e = run(s);
    if (!e && !sqlite3_changes(st->db))
        e = TB_ERR_NOT_FOUND;
    return e;
}

tb_err store_oauth_refresh_find(tb_store *st, int64_t client, const char *token_hash, int64_t now,
                                char *username)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "SELECT a.username FROM tb_oauth_refresh r JOIN tb_account a ON a.id = r.account_id"
        " WHERE r.token_hash = ?1 AND r.client = ?2 AND r.expires_at > ?3", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, token_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, client);
    sqlite3_bind_int64(s, 3, now);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        snprintf(username, CREDENTIAL_USERNAME_MAX + 1, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return TB_OK;
    return rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
}
