/* Appliance records. */
#include "store/store_sqlite.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define APPLIANCE_COLS                                                                         \
    "id, name, product, hostname, appliance_guid, client_id, client_secret,"                  \
    " outbound_event_token, integration_enabled, import_external_sessions,"                    \
    " auto_associate_user, auto_associate_ci, accepted_ips, events_to_import,"                 \
    " created_at, updated_at, poll_interval, override_change_management, approval_record_type,"   \
    " approval_timeout_ms"

void tb_appliance_clear(tb_appliance *a)
{
    free(a->name);
    free(a->product);
    free(a->hostname);
    free(a->appliance_guid);
    free(a->client_id);
    free(a->client_secret_sealed);
    free(a->outbound_token_sealed);
    free(a->accepted_ips);
    free(a->events_to_import);
    free(a->approval_record_type);
    memset(a, 0, sizeof *a);
}

void tb_appliances_free(tb_appliance *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tb_appliance_clear(&v[i]);
    free(v);
}

static tb_err row_to_appliance(sqlite3_stmt *s, tb_appliance *a)
{
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(s, 0);
    a->name = store_col_strdup(s, 1);
    a->product = store_col_strdup(s, 2);
    a->hostname = store_col_strdup(s, 3);
    a->appliance_guid = store_col_strdup(s, 4);
    a->client_id = store_col_strdup(s, 5);
    a->client_secret_sealed = store_col_strdup(s, 6);
    a->outbound_token_sealed = store_col_strdup(s, 7);
    a->integration_enabled = sqlite3_column_int(s, 8) != 0;
    a->import_external_sessions = sqlite3_column_int(s, 9) != 0;
    a->auto_associate_user = sqlite3_column_int(s, 10) != 0;
    a->auto_associate_ci = sqlite3_column_int(s, 11) != 0;
    a->accepted_ips = store_col_strdup(s, 12);
    a->events_to_import = store_col_strdup(s, 13);
    a->created_at = sqlite3_column_int64(s, 14);
    a->updated_at = sqlite3_column_int64(s, 15);
    a->poll_interval = sqlite3_column_int64(s, 16);
    a->override_change_management = sqlite3_column_int(s, 17) != 0;
    a->approval_record_type = store_col_strdup(s, 18);
    a->approval_timeout_ms = sqlite3_column_int64(s, 19);
    if (!a->approval_record_type || !a->name || !a->product || !a->hostname || !a->appliance_guid || !a->client_id ||
        !a->client_secret_sealed || !a->outbound_token_sealed || !a->accepted_ips ||
        !a->events_to_import) {
        tb_appliance_clear(a);
        return TB_ERR_NOMEM;
    }
    return TB_OK;
}

tb_err store_appliance_list(tb_store *st, tb_appliance **out, size_t *n)
{
    sqlite3_stmt *s;
    *out = NULL;
    *n = 0;
    int rc = sqlite3_prepare_v2(st->db, "SELECT " APPLIANCE_COLS " FROM tb_appliance ORDER BY id",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    tb_appliance *v = NULL;
    size_t cnt = 0, cap = 0;
    tb_err e = TB_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 4;
            tb_appliance *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                e = TB_ERR_NOMEM;
                break;
            }
            v = nv;
        }
        if ((e = row_to_appliance(s, &v[cnt])))
            break;
        cnt++;
    }
    if (!e && rc != SQLITE_DONE)
        e = store_rc(rc);
    sqlite3_finalize(s);
    if (e) {
        tb_appliances_free(v, cnt);
        return e;
    }
    *out = v;
    *n = cnt;
    return TB_OK;
}

tb_err store_appliance_get(tb_store *st, const char *name, tb_appliance *out)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT " APPLIANCE_COLS " FROM tb_appliance WHERE name = ?",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    tb_err e = rc == SQLITE_ROW ? row_to_appliance(s, out)
             : rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
    sqlite3_finalize(s);
    return e;
}

static void bind_appliance(sqlite3_stmt *s, const tb_appliance *a)
{
    sqlite3_bind_text(s, 1, a->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, a->product ? a->product : "rs", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, a->hostname ? a->hostname : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, a->appliance_guid ? a->appliance_guid : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, a->client_id ? a->client_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, a->client_secret_sealed ? a->client_secret_sealed : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, a->outbound_token_sealed ? a->outbound_token_sealed : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 8, a->integration_enabled);
    sqlite3_bind_int(s, 9, a->import_external_sessions);
    sqlite3_bind_int(s, 10, a->auto_associate_user);
    sqlite3_bind_int(s, 11, a->auto_associate_ci);
    sqlite3_bind_text(s, 12, a->accepted_ips ? a->accepted_ips : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 13, a->events_to_import ? a->events_to_import : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 14, (int64_t)time(NULL));
    sqlite3_bind_int64(s, 16, a->poll_interval);
    sqlite3_bind_int(s, 17, a->override_change_management);
    sqlite3_bind_text(s, 18, a->approval_record_type ? a->approval_record_type : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 19, a->approval_timeout_ms > 0 ? a->approval_timeout_ms : 3000);
}

tb_err store_appliance_insert(tb_store *st, const tb_appliance *a, int64_t *id)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "INSERT INTO tb_appliance(name, product, hostname, appliance_guid, client_id, client_secret,"
        " outbound_event_token, integration_enabled, import_external_sessions, auto_associate_user,"
        " auto_associate_ci, accepted_ips, events_to_import, created_at, updated_at, poll_interval,"
        " override_change_management, approval_record_type, approval_timeout_ms)"
        " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?14,?14,?16,?17,?18,?19)", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    bind_appliance(s, a);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (id)
        *id = sqlite3_last_insert_rowid(st->db);
    return TB_OK;
}

tb_err store_appliance_update(tb_store *st, const tb_appliance *a)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
        "UPDATE tb_appliance SET name=?1, product=?2, hostname=?3, appliance_guid=?4, client_id=?5,"
        " client_secret=?6, outbound_event_token=?7, integration_enabled=?8,"
        " import_external_sessions=?9, auto_associate_user=?10, auto_associate_ci=?11,"
        " accepted_ips=?12, events_to_import=?13, updated_at=?14, poll_interval=?16,"
        " override_change_management=?17, approval_record_type=?18, approval_timeout_ms=?19 WHERE id=?15", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    bind_appliance(s, a);
    sqlite3_bind_int64(s, 15, a->id);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    return sqlite3_changes(st->db) ? TB_OK : TB_ERR_NOT_FOUND;
}

tb_err store_appliance_delete(tb_store *st, const char *name)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "DELETE FROM tb_appliance WHERE name = ?", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    return sqlite3_changes(st->db) ? TB_OK : TB_ERR_NOT_FOUND;
}
