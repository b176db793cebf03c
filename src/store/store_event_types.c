/* The event-type catalogue. */
#include "store/store_sqlite.h"

#include <stdio.h>
#include <time.h>

#include "bt/event_types.h"

tb_err store_event_types_update(tb_store *st, int64_t *added)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "INSERT OR IGNORE INTO tb_event_type(name, product, added_at) VALUES(?,?,?)",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    int64_t n = 0;
    for (size_t i = 0; i < bt_event_types_count; i++) {
        sqlite3_bind_text(s, 1, bt_event_types[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, bt_event_types[i].product, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            break;
        n += sqlite3_changes(st->db);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (added)
        *added = n;
    return TB_OK;
}

tb_err store_event_type_find(tb_store *st, const char *name, char *canonical, size_t cansz)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT name FROM tb_event_type WHERE name = ?", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && canonical)
        snprintf(canonical, cansz, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? TB_OK : rc == SQLITE_DONE ? TB_ERR_NOT_FOUND : store_rc(rc);
}

tb_err store_event_types_each(tb_store *st, void (*fn)(void *ctx, const char *name, const char *product),
                              void *ctx)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT name, product FROM tb_event_type ORDER BY name", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1));
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? TB_OK : store_rc(rc);
}
