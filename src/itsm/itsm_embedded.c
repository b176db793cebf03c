/* Embedded backend of itsm.h: the tickets live in the daemon's SQLite file
 * under ServiceNow's table and field names (schema in itsm_embedded_schema.c).
 * Field names coming from callers are matched against the columns read with
 * PRAGMA table_info at open, and only those cached names ever reach SQL text;
 * values are always bound. A handle owns one connection and is used by one
 * thread at a time. */
#include "itsm/itsm.h"
#include "itsm/itsm_embedded_int.h"
#include "core/buf.h"
#include "core/clock.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#define SQL_MAX (64u * 1024)

typedef struct emb_table {
    const char *name;
    size_t ncols;
    char **cols;        /* readable, writable columns in table order (no BLOBs) */
    char *select_list;  /* "col1","col2",... */
} emb_table;

/* Prepared statements kept per handle: the same few statements run again
 * and again (lookups, journal entries, savepoints), and parsing them is most
 * of their cost. Keyed by SQL text; a statement still in use when its text
 * is asked for again gets a one-off copy. */
#define STMT_CACHE 64

typedef struct stmt_slot {
    uint64_t hash;
    char *sql;
    sqlite3_stmt *st;
    bool in_use;
} stmt_slot;

typedef struct emb {
    itsm base;
    sqlite3 *db;
    stmt_slot cache[STMT_CACHE];
    unsigned next_evict;
    /* Borrowed connection (itsm_embedded_wrap): writes nest in the owner's
     * open transaction as savepoints, and close leaves the connection open. */
    bool borrowed;
    size_t ntables;
    emb_table tables[16];
} emb;

/* A column/value pair while building an INSERT or UPDATE. */
typedef struct pair {
    const char *name;
    const char *value;  /* NULL binds SQL NULL */
} pair;

static emb *E(itsm *h) { return (emb *)h; }

static emb_table *table_of(emb *e, const char *name)
{
    for (size_t i = 0; i < e->ntables; i++)
        if (strcmp(e->tables[i].name, name) == 0)
            return &e->tables[i];
    return NULL;
}

static int has_col(const emb_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i], name) == 0)
            return 1;
    return 0;
}

static void now_utc(char out[20])
{
    tb_fmt_utc(tb_now_ms() / 1000, out, 20);
}

/* 32 hex digits like ServiceNow's, but the first 12 are the creation time
 * in milliseconds (80 random bits follow): new rows land at the end of the
 * sys_id index instead of on a random page, which halves the pages a busy
 * commit writes (work notes, approval records). */
static void new_sys_id(char out[ITSM_SYS_ID_LEN + 1])
{
    unsigned char b[ITSM_SYS_ID_LEN / 2];
    uint64_t ms = (uint64_t)tb_now_ms();
    for (int i = 5; i >= 0; i--, ms >>= 8)
        b[i] = (unsigned char)(ms & 0xff);
    randombytes_buf(b + 6, sizeof b - 6);
    sodium_bin2hex(out, ITSM_SYS_ID_LEN + 1, b, sizeof b);
}

static uint64_t sql_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;        /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static tb_err prepare(emb *e, const char *sql, sqlite3_stmt **st)
{
    uint64_t h = sql_hash(sql);
    for (size_t i = 0; i < STMT_CACHE; i++) {
        stmt_slot *c = &e->cache[i];
        if (c->st && c->hash == h && !c->in_use && !strcmp(c->sql, sql)) {
            c->in_use = true;
            *st = c->st;
            return TB_OK;
        }
    }
    int src = sqlite3_prepare_v3(e->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (src != SQLITE_OK)
        return emb_err(src);
    stmt_slot *c = NULL;
    for (size_t i = 0; i < STMT_CACHE && !c; i++)
        if (!e->cache[i].st)
            c = &e->cache[i];
    for (size_t tries = 0; !c && tries < STMT_CACHE; tries++) {
        stmt_slot *v = &e->cache[e->next_evict++ % STMT_CACHE];
        if (!v->in_use) {
            sqlite3_finalize(v->st);
            free(v->sql);
            *v = (stmt_slot){0};
            c = v;
        }
    }
    char *copy = c ? strdup(sql) : NULL;
    if (copy)
        *c = (stmt_slot){h, copy, *st, true};
    return TB_OK;   /* not cached (all slots busy, or no memory): done_stmt finalizes it */
}

/* Gives a statement from prepare back: reset for its next use, or finalized
 * when it was a one-off. */
static void done_stmt(emb *e, sqlite3_stmt *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < STMT_CACHE; i++)
        if (e->cache[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            e->cache[i].in_use = false;
            return;
        }
    sqlite3_finalize(st);
}

static void cache_clear(emb *e)
{
    for (size_t i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(e->cache[i].st);
        free(e->cache[i].sql);
        e->cache[i] = (stmt_slot){0};
    }
}

static tb_err exec(emb *e, const char *sql)
{
    sqlite3_stmt *st = NULL;
    tb_err rc = prepare(e, sql, &st);
    if (rc)
        return rc;
    int src = sqlite3_step(st);
    rc = src == SQLITE_DONE || src == SQLITE_ROW ? TB_OK : emb_err(sqlite3_extended_errcode(e->db));
    done_stmt(e, st);
    return rc;
}

static tb_err begin(emb *e)
{
    return exec(e, e->borrowed ? "SAVEPOINT itsm_write" : "BEGIN IMMEDIATE");
}

static tb_err finish(emb *e, tb_err rc)
{
    if (e->borrowed) {
        if (rc || (rc = exec(e, "RELEASE itsm_write"))) {
            exec(e, "ROLLBACK TO itsm_write");
            exec(e, "RELEASE itsm_write");
        }
        return rc;
    }
    if (rc || (rc = exec(e, "COMMIT")))
        exec(e, "ROLLBACK");
    return rc;
}

static tb_err step_done(sqlite3_stmt *st)
{
    int src = SQLITE_DONE;
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        ;
    return src == SQLITE_DONE ? TB_OK : emb_err(sqlite3_extended_errcode(sqlite3_db_handle(st)));
}

static void bind_pairs(sqlite3_stmt *st, const pair *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i].value)
            sqlite3_bind_text(st, (int)i + 1, p[i].value, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, (int)i + 1);
    }
}

/* --- records ------------------------------------------------------------ */

static tb_err row_to_record(sqlite3_stmt *st, const char *table, const emb_table *t,
                            itsm_record **out)
{
    itsm_record *r = calloc(1, sizeof *r);
    if (!r || !(r->fields = calloc(t->ncols, sizeof *r->fields))) {
        free(r);
        return TB_ERR_NOMEM;
    }
    snprintf(r->table, sizeof r->table, "%s", table);
    for (size_t i = 0; i < t->ncols; i++) {
        const char *v = (const char *)sqlite3_column_text(st, (int)i);
        itsm_field *f = &r->fields[r->nfields];
        f->name = strdup(t->cols[i]);
        f->value = strdup(v ? v : "");
        if (!f->name || !f->value) {
            free(f->name);
            free(f->value);
            itsm_record_free(r);
            return TB_ERR_NOMEM;
        }
        r->nfields++;
        if (strcmp(t->cols[i], "sys_id") == 0)
            snprintf(r->sys_id, sizeof r->sys_id, "%s", f->value);
    }
    *out = r;
    return TB_OK;
}

/* One record by a column equal to key (column is a cached name). */
static tb_err get_by(emb *e, const char *table, const char *col, const char *key, int nocase,
                     itsm_record **out)
{
    emb_table *t = table_of(e, table);
    if (!t)
        return TB_ERR_INVALID;
    char sql[SQL_MAX];
    snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\" WHERE \"%s\" = ?1%s LIMIT 1",
             t->select_list, table, col, nocase ? " COLLATE NOCASE" : "");
    sqlite3_stmt *st = NULL;
    tb_err rc = prepare(e, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        rc = row_to_record(st, table, t, out);
    else
        rc = src == SQLITE_DONE ? TB_ERR_NOT_FOUND : emb_err(src);
    done_stmt(e, st);
    return rc;
}

static tb_err emb_get(itsm *h, const char *table, const char *sys_id, itsm_record **out)
{
    return get_by(E(h), table, "sys_id", sys_id, 0, out);
}

/* --- create / update ---------------------------------------------------- */

static const char *find_pair(const pair *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0)
            return p[i].value ? p[i].value : "";
    return NULL;
}

static int has_pair(const pair *p, size_t n, const char *name)
{
    return find_pair(p, n, name) != NULL;
}

/* Copies kv into p after checking every name is a writable column. */
static tb_err take_kv(const emb_table *t, const itsm_kv *kv, size_t n,
                      const char *const *readonly, pair *p)
{
    for (size_t i = 0; i < n; i++) {
        if (!has_col(t, kv[i].name))
            return TB_ERR_INVALID;
        for (size_t k = 0; readonly[k]; k++)
            if (strcmp(kv[i].name, readonly[k]) == 0)
                return TB_ERR_INVALID;
        p[i].name = kv[i].name;
        p[i].value = kv[i].value;
    }
    return TB_OK;
}

/* ServiceNow's business rules, reduced: a closing state makes the task
 * inactive and stamps closed_at; any other state makes it active again. */
static size_t derive_state(const char *table, pair *p, size_t n, const char *now)
{
    const emb_task_meta *m = emb_task_meta_of(table);
    const char *state = find_pair(p, n, "state");
    if (!m || !state || !*state)
        return n;
    char *end;
    long s = strtol(state, &end, 10);
    if (*end)
        return n;   /* not an integer: the CHECK constraint rejects it */
    int closed = 0;
    for (int i = 0; i < m->n_closed; i++)
        closed |= m->closed_states[i] == s;
    if (!has_pair(p, n, "active"))
        p[n++] = (pair){"active", closed ? "false" : "true"};
    if (closed && !has_pair(p, n, "closed_at"))
        p[n++] = (pair){"closed_at", now};
    return n;
}

static tb_err next_number(emb *e, const char *table, const char *now, char *out, size_t outsz)
{
    sqlite3_stmt *st = NULL;
    tb_err rc = prepare(e,
                        "UPDATE sys_number SET number = number + 1, sys_updated_on = ?2,"
                        " sys_mod_count = sys_mod_count + 1 WHERE category = ?1"
                        " RETURNING number - 1, prefix, maximum_digits", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const char *prefix = (const char *)sqlite3_column_text(st, 1);
        int digits = sqlite3_column_int(st, 2);
        if (digits < 1 || digits > 18)
            digits = 7;
        snprintf(out, outsz, "%s%0*lld", prefix ? prefix : "", digits,
                 (long long)sqlite3_column_int64(st, 0));
        rc = step_done(st);
    } else {
        rc = src == SQLITE_DONE ? TB_ERR_DB : emb_err(src);
    }
    done_stmt(e, st);
    return rc;
}

static tb_err build_insert(const char *table, const pair *p, size_t n, tb_buf *sql)
{
    tb_err rc = tb_buf_printf(sql, "INSERT INTO \"%s\" (", table);
    for (size_t i = 0; !rc && i < n; i++)
        rc = tb_buf_printf(sql, "%s\"%s\"", i ? "," : "", p[i].name);
    if (!rc)
        rc = tb_buf_appends(sql, ") VALUES (");
    for (size_t i = 0; !rc && i < n; i++)
        rc = tb_buf_printf(sql, "%s?%zu", i ? "," : "", i + 1);
    return rc ? rc : tb_buf_appends(sql, ")");
}

static tb_err insert_pairs(emb *e, const char *table, const pair *p, size_t n)
{
    tb_buf sql;
    tb_buf_init(&sql, SQL_MAX);
    sqlite3_stmt *st = NULL;
    tb_err rc = build_insert(table, p, n, &sql);
    if (!rc)
        rc = prepare(e, sql.data, &st);
    if (!rc) {
        bind_pairs(st, p, n);
        rc = step_done(st);
    }
    done_stmt(e, st);
    tb_buf_free(&sql);
    return rc;
}

static const char *const create_readonly[] = {"sys_mod_count", NULL};

static tb_err emb_create(itsm *h, const char *table, const itsm_kv *kv, size_t n,
                         itsm_record **out)
{
    emb *e = E(h);
    emb_table *t = table_of(e, table);
    pair *p = calloc(n + 12, sizeof *p);
    if (!t || !p) {
        free(p);
        return t ? TB_ERR_NOMEM : TB_ERR_INVALID;
    }
    char now[20], sys_id[ITSM_SYS_ID_LEN + 1], number[64];
    now_utc(now);
    tb_err rc = take_kv(t, kv, n, create_readonly, p);
    if (rc) {
        free(p);
        return rc;
    }
    size_t np = n;
    const char *id = find_pair(p, np, "sys_id");
    if (!id) {
        new_sys_id(sys_id);
        p[np++] = (pair){"sys_id", id = sys_id};
    }
    if (!has_pair(p, np, "sys_created_on"))
        p[np++] = (pair){"sys_created_on", now};
    if (!has_pair(p, np, "sys_updated_on"))
        p[np++] = (pair){"sys_updated_on", find_pair(p, np, "sys_created_on")};
    const char *by = find_pair(p, np, "sys_created_by");
    if (by && !has_pair(p, np, "sys_updated_by"))
        p[np++] = (pair){"sys_updated_by", by};
    int task = itsm_is_task_table(table);
    if (task && !has_pair(p, np, "opened_at"))
        p[np++] = (pair){"opened_at", now};
    if (task)
        np = derive_state(table, p, np, now);

    if (!(rc = begin(e))) {
        if (task && !has_pair(p, np, "number")) {
            rc = next_number(e, table, now, number, sizeof number);
            p[np++] = (pair){"number", number};
        }
        if (!rc)
            rc = insert_pairs(e, table, p, np);
        if (!rc && out)
            rc = emb_get(h, table, id, out);
        rc = finish(e, rc);
        if (rc && out) {
            itsm_record_free(*out);
            *out = NULL;
        }
    }
    free(p);
    return rc;
}

static const char *const update_readonly[] = {
    "sys_id", "sys_created_on", "sys_created_by", "sys_updated_on", "sys_mod_count", NULL,
};

static tb_err emb_update(itsm *h, const char *table, const char *sys_id, const itsm_kv *kv,
                         size_t n)
{
    emb *e = E(h);
    emb_table *t = table_of(e, table);
    pair *p = calloc(n + 4, sizeof *p);
    if (!t || !p) {
        free(p);
        return t ? TB_ERR_NOMEM : TB_ERR_INVALID;
    }
    char now[20];
    now_utc(now);
    tb_err rc = take_kv(t, kv, n, update_readonly, p);
    size_t np = n;
    if (!rc) {
        np = derive_state(table, p, np, now);
        p[np++] = (pair){"sys_updated_on", now};
    }
    tb_buf sql;
    tb_buf_init(&sql, SQL_MAX);
    if (!rc)
        rc = tb_buf_printf(&sql, "UPDATE \"%s\" SET ", table);
    for (size_t i = 0; !rc && i < np; i++)
        rc = tb_buf_printf(&sql, "\"%s\" = ?%zu, ", p[i].name, i + 1);
    if (!rc)
        rc = tb_buf_printf(&sql, "sys_mod_count = sys_mod_count + 1 WHERE sys_id = ?%zu", np + 1);
    sqlite3_stmt *st = NULL;
    if (!rc)
        rc = prepare(e, sql.data, &st);
    if (!rc) {
        bind_pairs(st, p, np);
        sqlite3_bind_text(st, (int)np + 1, sys_id, -1, SQLITE_STATIC);
        rc = step_done(st);
        if (!rc && sqlite3_changes(e->db) == 0)
            rc = TB_ERR_NOT_FOUND;
    }
    done_stmt(e, st);
    tb_buf_free(&sql);
    free(p);
    return rc;
}

/* --- find / query ------------------------------------------------------- */

static tb_err emb_find_task(itsm *h, const char *key, const char *const *tables,
                            itsm_record **out)
{
    emb *e = E(h);
    const char *const *list = tables ? tables : itsm_task_tables;
    for (size_t i = 0; list[i]; i++) {
        tb_err rc = get_by(e, list[i], "number", key, 1, out);
        if (rc != TB_ERR_NOT_FOUND)
            return rc;
    }
    char id[ITSM_SYS_ID_LEN + 1];
    size_t len = strlen(key);
    if (len != ITSM_SYS_ID_LEN)
        return TB_ERR_NOT_FOUND;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return TB_ERR_NOT_FOUND;
        id[i] = c;
    }
    id[len] = '\0';
    for (size_t i = 0; list[i]; i++) {
        tb_err rc = get_by(e, list[i], "sys_id", id, 0, out);
        if (rc != TB_ERR_NOT_FOUND)
            return rc;
    }
    return TB_ERR_NOT_FOUND;
}

static tb_err build_query(const emb_table *t, const itsm_kv *kv, size_t n, int ci, tb_buf *sql)
{
    tb_err rc = tb_buf_printf(sql, "SELECT %s FROM \"%s\" WHERE 1", t->select_list, t->name);
    for (size_t i = 0; !rc && i < n; i++) {
        if (!has_col(t, kv[i].name))
            return TB_ERR_INVALID;
        const char *c = kv[i].name;
        if (!kv[i].value || !*kv[i].value)
            rc = tb_buf_printf(sql, " AND (\"%s\" IS NULL OR \"%s\" = '')", c, c);
        else if (ci)
            rc = tb_buf_printf(sql, " AND lower(\"%s\") = lower(?%zu)", c, i + 1);
        else
            rc = tb_buf_printf(sql, " AND \"%s\" = ?%zu", c, i + 1);
    }
    if (!rc)
        rc = tb_buf_printf(sql, " ORDER BY sys_created_on, rowid LIMIT ?%zu OFFSET ?%zu",
                           n + 1, n + 2);
    return rc;
}

static tb_err emb_query(itsm *h, const char *table, const itsm_kv *kv, size_t n, int ci,
                        size_t limit, size_t offset, itsm_record ***out, size_t *nout)
{
    emb *e = E(h);
    emb_table *t = table_of(e, table);
    if (!t)
        return TB_ERR_INVALID;
    tb_buf sql;
    tb_buf_init(&sql, SQL_MAX);
    sqlite3_stmt *st = NULL;
    tb_err rc = build_query(t, kv, n, ci, &sql);
    if (!rc)
        rc = prepare(e, sql.data, &st);
    tb_buf_free(&sql);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (kv[i].value && *kv[i].value)
            sqlite3_bind_text(st, (int)i + 1, kv[i].value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, (int)n + 1, (sqlite3_int64)limit);
    sqlite3_bind_int64(st, (int)n + 2, (sqlite3_int64)offset);

    itsm_record **v = NULL;
    size_t nv = 0, cap = 0;
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (nv == cap) {
            size_t nc = cap ? cap * 2 : 16;
            itsm_record **nvp = realloc(v, nc * sizeof *v);
            if (!nvp) {
                rc = TB_ERR_NOMEM;
                break;
            }
            v = nvp;
            cap = nc;
        }
        if (!(rc = row_to_record(st, table, t, &v[nv])))
            nv++;
    }
    if (!rc && src != SQLITE_DONE)
        rc = emb_err(src);
    done_stmt(e, st);
    if (rc) {
        itsm_records_free(v, nv);
        return rc;
    }
    *out = v;
    *nout = nv;
    return TB_OK;
}

/* --- journal / attachments ---------------------------------------------- */

/* Marks a record updated by who; TB_ERR_NOT_FOUND when it does not exist. */
static tb_err touch(emb *e, const char *table, const char *sys_id, const char *who,
                    const char *now)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE \"%s\" SET sys_updated_on = ?1, sys_updated_by = ?2,"
             " sys_mod_count = sys_mod_count + 1 WHERE sys_id = ?3", table);
    sqlite3_stmt *st = NULL;
    tb_err rc = prepare(e, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, who, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sys_id, -1, SQLITE_STATIC);
    rc = step_done(st);
    done_stmt(e, st);
    if (!rc && sqlite3_changes(e->db) == 0)
        rc = TB_ERR_NOT_FOUND;
    return rc;
}

static tb_err emb_add_journal(itsm *h, const char *table, const char *sys_id,
                              const char *element, const char *text, const char *author)
{
    emb *e = E(h);
    if (!table_of(e, table))
        return TB_ERR_INVALID;
    const char *who = author && *author ? author : "system";
    char now[20], id[ITSM_SYS_ID_LEN + 1];
    now_utc(now);
    new_sys_id(id);
    pair p[] = {
        {"sys_id", id}, {"sys_created_on", now}, {"sys_updated_on", now},
        {"sys_created_by", who}, {"sys_updated_by", who}, {"element_id", sys_id},
        {"name", table}, {"element", element}, {"value", text},
    };
    tb_err rc = begin(e);
    if (rc)
        return rc;
    rc = touch(e, table, sys_id, who, now);
    if (!rc)
        rc = insert_pairs(e, "sys_journal_field", p, sizeof p / sizeof p[0]);
    return finish(e, rc);
}

static tb_err emb_attach_by(itsm *h, const char *table, const char *sys_id,
                            const char *file_name, const char *content_type, const void *data,
                            size_t len, const char *author, itsm_record **out)
{
    emb *e = E(h);
    if (!table_of(e, table))
        return TB_ERR_INVALID;
    unsigned char hash[crypto_hash_sha256_BYTES];
    char hex[crypto_hash_sha256_BYTES * 2 + 1], now[20], id[ITSM_SYS_ID_LEN + 1], size[32];
    crypto_hash_sha256(hash, len ? data : (const void *)"", len);
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    now_utc(now);
    new_sys_id(id);
    snprintf(size, sizeof size, "%zu", len);

    tb_err rc = begin(e);
    if (rc)
        return rc;
    itsm_record *target = NULL;
    rc = emb_get(h, table, sys_id, &target);
    itsm_record_free(target);
    sqlite3_stmt *st = NULL;
    if (!rc)
        rc = prepare(e,
                     "INSERT INTO sys_attachment (sys_id, sys_created_on, sys_updated_on,"
                     " table_name, table_sys_id, file_name, content_type, size_bytes, hash,"
                     " content, sys_created_by, sys_updated_by)"
                     " VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)", &st);
    if (!rc) {
        const char *v[] = {id, now, table, sys_id, file_name, content_type, size, hex};
        for (int i = 0; i < 8; i++)
            if (v[i])
                sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, author && *author ? author : "system", -1, SQLITE_STATIC);
        if (len)
            sqlite3_bind_blob(st, 9, data, (int)len, SQLITE_STATIC);
        else
            sqlite3_bind_zeroblob(st, 9, 0);
        rc = step_done(st);
    }
    done_stmt(e, st);
    if (!rc && out)
        rc = emb_get(h, "sys_attachment", id, out);
    rc = finish(e, rc);
    if (rc && out) {
        itsm_record_free(*out);
        *out = NULL;
    }
    return rc;
}

static tb_err emb_attach(itsm *h, const char *table, const char *sys_id, const char *file_name,
                         const char *content_type, const void *data, size_t len,
                         itsm_record **out)
{
    return emb_attach_by(h, table, sys_id, file_name, content_type, data, len, NULL, out);
}

/* --- delete ------------------------------------------------------------- */

/* Runs a DELETE whose ?1 is a sys_id and ?2 (if used) a table name; the
 * number of rows it removed goes to *changes. */
static tb_err delete_where(emb *e, const char *sql, const char *sys_id, const char *table,
                           int *changes)
{
    sqlite3_stmt *st = NULL;
    tb_err rc = prepare(e, sql, &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, sys_id, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) > 1)
        sqlite3_bind_text(st, 2, table, -1, SQLITE_STATIC);
    rc = step_done(st);
    if (!rc && changes)
        *changes = sqlite3_changes(e->db);
    done_stmt(e, st);
    return rc;
}

/* A record goes with what hangs off it (ServiceNow's cascade delete of
 * attachments; journal entries have no meaning without their record). */
static tb_err emb_remove(itsm *h, const char *table, const char *sys_id)
{
    emb *e = E(h);
    if (!table_of(e, table))
        return TB_ERR_INVALID;
    char sql[160];
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE sys_id = ?1", table);
    tb_err rc = begin(e);
    if (rc)
        return rc;
    int n = 0;
    rc = delete_where(e, sql, sys_id, table, &n);
    if (!rc && n == 0)
        rc = TB_ERR_NOT_FOUND;
    if (!rc && strcmp(table, "sys_attachment") != 0)
        rc = delete_where(e, "DELETE FROM sys_attachment WHERE table_sys_id = ?1 AND table_name = ?2",
                          sys_id, table, NULL);
    if (!rc && strcmp(table, "sys_journal_field") != 0)
        rc = delete_where(e, "DELETE FROM sys_journal_field WHERE element_id = ?1 AND name = ?2",
                          sys_id, table, NULL);
    return finish(e, rc);
}

/* --- open / close ------------------------------------------------------- */

static void free_table(emb_table *t)
{
    for (size_t i = 0; i < t->ncols; i++)
        free(t->cols[i]);
    free(t->cols);
    free(t->select_list);
}

static void emb_close(itsm *h)
{
    emb *e = E(h);
    cache_clear(e);
    for (size_t i = 0; i < e->ntables; i++)
        free_table(&e->tables[i]);
    if (!e->borrowed)
        sqlite3_close(e->db);
    free(e);
}

/* Caches the table's non-BLOB columns; TB_ERR_DB when the table is missing. */
static tb_err load_table(emb *e, const char *name, emb_table *t)
{
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA table_info(\"%s\")", name);
    sqlite3_stmt *st = NULL;
    tb_err rc = prepare(e, sql, &st);
    if (rc)
        return rc;
    tb_buf list;
    tb_buf_init(&list, SQL_MAX);
    size_t cap = 0;
    t->name = name;
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(st, 1);
        const char *type = (const char *)sqlite3_column_text(st, 2);
        if (!col || (type && strcmp(type, "BLOB") == 0))
            continue;
        if (t->ncols == cap) {
            cap = cap ? cap * 2 : 32;
            char **nc = realloc(t->cols, cap * sizeof *nc);
            if (!nc) {
                rc = TB_ERR_NOMEM;
                break;
            }
            t->cols = nc;
        }
        if (!(t->cols[t->ncols] = strdup(col)))
            rc = TB_ERR_NOMEM;
        else
            t->ncols++;
        if (!rc)
            rc = tb_buf_printf(&list, "%s\"%s\"", t->ncols > 1 ? "," : "", col);
    }
    if (!rc && src != SQLITE_DONE)
        rc = emb_err(src);
    done_stmt(e, st);
    if (!rc && (t->ncols == 0 || !has_col(t, "sys_id")))
        rc = TB_ERR_DB;
    if (!rc)
        t->select_list = tb_buf_take(&list);
    tb_buf_free(&list);
    return rc;
}

static const struct itsm_ops embedded_ops = {
    .name = "embedded",
    .create = emb_create,
    .get = emb_get,
    .update = emb_update,
    .find_task = emb_find_task,
    .query = emb_query,
    .add_journal = emb_add_journal,
    .attach = emb_attach,
    .close = emb_close,
    .remove = emb_remove,
    .attach_by = emb_attach_by,
};

static const char *const all_tables[] = {
    "incident", "change_request", "problem", "sc_task", "sc_req_item",
    "sn_customerservice_case", "cmdb_ci", "sys_user", "sys_user_group",
    "sys_user_grmember", "sys_journal_field", "sys_attachment", NULL,
};

tb_err itsm_embedded_wrap(sqlite3 *db, itsm **out)
{
    if (!out || !db)
        return TB_ERR_INVALID;
    *out = NULL;
    emb *e = calloc(1, sizeof *e);
    if (!e)
        return TB_ERR_NOMEM;
    e->base.ops = &embedded_ops;
    e->db = db;
    e->borrowed = true;
    tb_err rc = TB_OK;
    for (size_t i = 0; !rc && all_tables[i]; i++) {
        rc = load_table(e, all_tables[i], &e->tables[i]);
        e->ntables = i + 1;
    }
    if (rc) {
        emb_close(&e->base);
        return rc;
    }
    *out = &e->base;
    return TB_OK;
}

tb_err itsm_embedded_open(const char *db_path, itsm **out)
{
    if (!out)
        return TB_ERR_INVALID;
    *out = NULL;
    if (!db_path || !*db_path)
        return TB_ERR_INVALID;
    if (sodium_init() < 0)
        return TB_ERR_CRYPTO;
    emb *e = calloc(1, sizeof *e);
    if (!e)
        return TB_ERR_NOMEM;
    e->base.ops = &embedded_ops;
    /* NOMUTEX: a handle is used by one thread at a time (itsm.h). */
    int src = sqlite3_open_v2(db_path, &e->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    tb_err rc = src == SQLITE_OK ? emb_configure(e->db) : emb_err(src);
    for (size_t i = 0; !rc && all_tables[i]; i++) {
        rc = load_table(e, all_tables[i], &e->tables[i]);
        e->ntables = i + 1;
    }
    if (rc) {
        emb_close(&e->base);
        return rc;
    }
    *out = &e->base;
    return TB_OK;
}

tb_err itsm_embedded_busy_timeout(itsm *h, int ms)
{
    if (!h || h->ops != &embedded_ops || ms < 0)
        return TB_ERR_INVALID;
    return sqlite3_busy_timeout(E(h)->db, ms) == SQLITE_OK ? TB_OK : TB_ERR_DB;
}
