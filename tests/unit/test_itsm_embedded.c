/* Embedded ticket store against a real SQLite file, fresh for every test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "itsm/itsm.h"

typedef struct fixture {
    char path[512];
    itsm *h;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(test_db_path(f->path, sizeof f->path, "test_itsm"), 0);
    assert_int_equal(itsm_embedded_schema(f->path), TB_OK);
    assert_int_equal(itsm_embedded_schema(f->path), TB_OK); /* idempotent */
    assert_int_equal(itsm_embedded_open(f->path, &f->h), TB_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    itsm_close(f->h);
    test_db_remove(f->path);
    free(f);
    return 0;
}

static itsm_record *create_inc(itsm *h, const char *table, const char *sd)
{
    itsm_kv kv[] = {{"short_description", sd}};
    itsm_record *r = NULL;
    assert_int_equal(itsm_create(h, table, kv, 1, &r), TB_OK);
    assert_non_null(r);
    return r;
}

static int is_lower_hex32(const char *s)
{
    if (!s || strlen(s) != 32)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static void test_create_get_round_trip(void **state)
{
    fixture *f = *state;
    itsm_kv kv[] = {
        {"short_description", "Printer on fire"},
        {"description", "Line one\nLine two"},
        {"category", "hardware"},
        {"correlation_id", "bt:lsid:abc"},
    };
    itsm_record *r = NULL;
    assert_int_equal(itsm_create(f->h, "incident", kv, 4, &r), TB_OK);
    assert_true(is_lower_hex32(r->sys_id));
    assert_string_equal(r->table, "incident");
    assert_string_equal(itsm_record_get(r, "number"), "INC0010001");
    assert_string_equal(itsm_record_get(r, "state"), "1");
    assert_string_equal(itsm_record_get(r, "active"), "true");
    assert_string_equal(itsm_record_get(r, "approval"), "not requested");
    assert_string_equal(itsm_record_get(r, "sys_mod_count"), "0");
    assert_string_equal(itsm_record_get(r, "sys_class_name"), "incident");
    assert_int_equal(strlen(itsm_record_get(r, "opened_at")), 19);
    assert_int_equal(strlen(itsm_record_get(r, "sys_created_on")), 19);
    assert_string_equal(itsm_record_get(r, "assigned_to"), "");
    assert_null(itsm_record_get(r, "no_such_field"));

    itsm_record *g = NULL;
    assert_int_equal(itsm_get(f->h, "incident", r->sys_id, &g), TB_OK);
    assert_int_equal(g->nfields, r->nfields);
    for (size_t i = 0; i < g->nfields; i++)
        assert_string_equal(itsm_record_get(r, g->fields[i].name), g->fields[i].value);
    assert_string_equal(itsm_record_get(g, "description"), "Line one\nLine two");

    itsm_record *none = NULL;
    assert_int_equal(itsm_get(f->h, "incident", "0123456789abcdef0123456789abcdef", &none),
                     TB_ERR_NOT_FOUND);
    assert_null(none);
    assert_int_equal(itsm_get(f->h, "incident", "0123456789ABCDEF0123456789ABCDEF", &none),
                     TB_ERR_INVALID);
    assert_int_equal(itsm_get(f->h, "tb_jobs", r->sys_id, &none), TB_ERR_INVALID);
    itsm_record_free(g);
    itsm_record_free(r);
}

static void test_numbering(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *table, *first, *second;
    } cases[] = {
        {"incident", "INC0010001", "INC0010002"},
        {"change_request", "CHG0030001", "CHG0030002"},
        {"problem", "PRB0040001", "PRB0040002"},
        {"sc_task", "SCTASK0010001", "SCTASK0010002"},
        {"sc_req_item", "RITM0010001", "RITM0010002"},
        {"sn_customerservice_case", "CS0001001", "CS0001002"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        itsm_record *a = create_inc(f->h, cases[i].table, "a");
        itsm_record *b = create_inc(f->h, cases[i].table, "b");
        assert_string_equal(itsm_record_get(a, "number"), cases[i].first);
        assert_string_equal(itsm_record_get(b, "number"), cases[i].second);
        itsm_record_free(a);
        itsm_record_free(b);
    }
    /* New-state defaults per table. */
    itsm_record *c = create_inc(f->h, "change_request", "c");
    assert_string_equal(itsm_record_get(c, "state"), "-5");
    itsm_record_free(c);
    itsm_record *p = create_inc(f->h, "problem", "p");
    assert_string_equal(itsm_record_get(p, "state"), "101");
    itsm_record_free(p);

    /* A failed insert does not consume a number; numbers survive reopen. */
    itsm_kv bad[] = {{"short_description", "x"}, {"state", "not-a-number"}};
    itsm_record *r = NULL;
    assert_int_equal(itsm_create(f->h, "incident", bad, 2, &r), TB_ERR_INVALID);
    assert_null(r);
    itsm_close(f->h);
    assert_int_equal(itsm_embedded_schema(f->path), TB_OK);
    assert_int_equal(itsm_embedded_open(f->path, &f->h), TB_OK);
    r = create_inc(f->h, "incident", "after reopen");
    assert_string_equal(itsm_record_get(r, "number"), "INC0010003");
    itsm_record_free(r);

    /* An explicit duplicate number is refused. */
    itsm_kv dup[] = {{"number", "inc0010001"}};
    assert_int_equal(itsm_create(f->h, "incident", dup, 1, NULL), TB_ERR_EXISTS);
}

static void test_find_task(void **state)
{
    fixture *f = *state;
    itsm_record *inc = create_inc(f->h, "incident", "i");
    itsm_record *cs = create_inc(f->h, "sn_customerservice_case", "c");
    itsm_record *r = NULL;

    assert_int_equal(itsm_find_task(f->h, "INC0010001", NULL, &r), TB_OK);
    assert_string_equal(r->sys_id, inc->sys_id);
    assert_string_equal(r->table, "incident");
    itsm_record_free(r);

    assert_int_equal(itsm_find_task(f->h, "cs0001001", NULL, &r), TB_OK);
    assert_string_equal(r->table, "sn_customerservice_case");
    itsm_record_free(r);

    assert_int_equal(itsm_find_task(f->h, cs->sys_id, NULL, &r), TB_OK);
    assert_string_equal(itsm_record_get(r, "number"), "CS0001001");
    itsm_record_free(r);

    const char *only_inc[] = {"incident", NULL};
    r = NULL;
    assert_int_equal(itsm_find_task(f->h, "CS0001001", only_inc, &r), TB_ERR_NOT_FOUND);
    assert_null(r);
    assert_int_equal(itsm_find_task(f->h, "INC0099999", NULL, &r), TB_ERR_NOT_FOUND);
    assert_int_equal(itsm_find_task(f->h, "ffffffffffffffffffffffffffffffff", NULL, &r),
                     TB_ERR_NOT_FOUND);
    const char *bad_tables[] = {"sys_user", NULL};
    assert_int_equal(itsm_find_task(f->h, "INC0010001", bad_tables, &r), TB_ERR_INVALID);
    assert_int_equal(itsm_find_task(f->h, "", NULL, &r), TB_ERR_INVALID);
    itsm_record_free(inc);
    itsm_record_free(cs);
}

static void test_unknown_field_rejected(void **state)
{
    fixture *f = *state;
    itsm_record *r = NULL;
    itsm_kv unknown[] = {{"short_description", "x"}, {"u_no_such_column", "y"}};
    assert_int_equal(itsm_create(f->h, "incident", unknown, 2, &r), TB_ERR_INVALID);
    assert_null(r);
    itsm_kv inject[] = {{"short_description\" ) ; DROP TABLE incident; --", "y"}};
    assert_int_equal(itsm_create(f->h, "incident", inject, 1, &r), TB_ERR_INVALID);
    itsm_kv upper[] = {{"Short_Description", "y"}};
    assert_int_equal(itsm_create(f->h, "incident", upper, 1, &r), TB_ERR_INVALID);
    itsm_kv blob[] = {{"content", "y"}};
    assert_int_equal(itsm_create(f->h, "sys_attachment", blob, 1, &r), TB_ERR_INVALID);
    itsm_kv twice[] = {{"category", "a"}, {"category", "b"}};
    assert_int_equal(itsm_create(f->h, "incident", twice, 2, &r), TB_ERR_INVALID);
    /* caller_id is an incident field, not a change_request one */
    itsm_kv caller[] = {{"caller_id", "x"}};
    assert_int_equal(itsm_create(f->h, "change_request", caller, 1, &r), TB_ERR_INVALID);
    assert_int_equal(itsm_create(f->h, "no_table", NULL, 0, &r), TB_ERR_INVALID);

    itsm_record *ok = create_inc(f->h, "incident", "ok");
    assert_int_equal(itsm_update(f->h, "incident", ok->sys_id, unknown, 2), TB_ERR_INVALID);
    itsm_kv ro[] = {{"sys_id", "0123456789abcdef0123456789abcdef"}};
    assert_int_equal(itsm_update(f->h, "incident", ok->sys_id, ro, 1), TB_ERR_INVALID);
    itsm_record **v = NULL;
    size_t nv = 0;
    assert_int_equal(itsm_query(f->h, "incident", unknown + 1, 1, 0, 0, 0, &v, &nv),
                     TB_ERR_INVALID);
    itsm_record_free(ok);
}

static void test_hostile_values(void **state)
{
    fixture *f = *state;
    const char *values[] = {
        "O'Brien \"quoted\"",
        "'; DROP TABLE incident; --",
        "Robert'); DELETE FROM sys_user WHERE ('1'='1",
        "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5 \x01\x7f tab\there",
        "%s%s%n%x",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        itsm_kv kv[] = {{"short_description", values[i]}, {"description", values[i]}};
        itsm_record *r = NULL;
        assert_int_equal(itsm_create(f->h, "incident", kv, 2, &r), TB_OK);
        itsm_record *g = NULL;
        assert_int_equal(itsm_get(f->h, "incident", r->sys_id, &g), TB_OK);
        assert_string_equal(itsm_record_get(g, "short_description"), values[i]);
        assert_string_equal(itsm_record_get(g, "description"), values[i]);
        itsm_record **v = NULL;
        size_t nv = 0;
        assert_int_equal(itsm_query(f->h, "incident", kv, 1, 0, 0, 0, &v, &nv), TB_OK);
        assert_int_equal(nv, 1);
        itsm_records_free(v, nv);
        itsm_record_free(g);
        itsm_record_free(r);
    }

    /* Invalid UTF-8 is refused. */
    itsm_kv bad_utf8[] = {{"short_description", "\xc3\x28 \xed\xa0\x80 \xc0\xaf"}};
    assert_int_equal(itsm_create(f->h, "incident", bad_utf8, 1, NULL), TB_ERR_INVALID);

    /* Size caps: 64 KiB per field, 1 MiB for long text. */
    size_t big = 1024 * 1024 + 1;
    char *s = malloc(big + 1);
    assert_non_null(s);
    memset(s, 'a', big);
    s[big] = '\0';
    itsm_kv huge_desc[] = {{"description", s}};
    assert_int_equal(itsm_create(f->h, "incident", huge_desc, 1, NULL), TB_ERR_TOO_LARGE);
    s[ITSM_MAX_TEXT] = '\0';    /* exactly 1 MiB: accepted as description */
    assert_int_equal(itsm_create(f->h, "incident", huge_desc, 1, NULL), TB_OK);
    itsm_kv huge_sd[] = {{"short_description", s}};
    assert_int_equal(itsm_create(f->h, "incident", huge_sd, 1, NULL), TB_ERR_TOO_LARGE);
    s[ITSM_MAX_VALUE + 1] = '\0';
    assert_int_equal(itsm_create(f->h, "incident", huge_sd, 1, NULL), TB_ERR_TOO_LARGE);
    s[ITSM_MAX_VALUE] = '\0';
    assert_int_equal(itsm_create(f->h, "incident", huge_sd, 1, NULL), TB_OK);

    /* The tables are all still there. */
    itsm_record **v = NULL;
    size_t nv = 0;
    assert_int_equal(itsm_query(f->h, "incident", NULL, 0, 0, 0, 0, &v, &nv), TB_OK);
    assert_int_equal(nv, 7);
    itsm_records_free(v, nv);
    free(s);
}

static void test_query(void **state)
{
    fixture *f = *state;
    itsm_kv u1[] = {{"user_name", "JDoe"}, {"u_beyondtrust_username", "John.Doe"},
                    {"email", "jdoe@example.com"}};
    itsm_kv u2[] = {{"user_name", "asmith"}, {"u_beyondtrust_username", "ASmith"}};
    assert_int_equal(itsm_create(f->h, "sys_user", u1, 3, NULL), TB_OK);
    assert_int_equal(itsm_create(f->h, "sys_user", u2, 2, NULL), TB_OK);
    itsm_kv dup[] = {{"user_name", "jdoe"}};
    assert_int_equal(itsm_create(f->h, "sys_user", dup, 1, NULL), TB_ERR_EXISTS);

    itsm_record **v = NULL;
    size_t nv = 0;
    itsm_kv q[] = {{"u_beyondtrust_username", "john.doe"}};
    assert_int_equal(itsm_query(f->h, "sys_user", q, 1, 0, 0, 0, &v, &nv), TB_OK);
    assert_int_equal(nv, 0);
    itsm_records_free(v, nv);
    assert_int_equal(itsm_query(f->h, "sys_user", q, 1, 1, 0, 0, &v, &nv), TB_OK);
    assert_int_equal(nv, 1);
    assert_string_equal(itsm_record_get(v[0], "user_name"), "JDoe");
    assert_string_equal(itsm_record_get(v[0], "active"), "true");
    itsm_records_free(v, nv);

    /* AND of equalities; integer columns compare as ServiceNow strings. */
    for (int i = 0; i < 5; i++) {
        itsm_kv kv[] = {{"short_description", "q"}, {"category", i % 2 ? "network" : "Software"}};
        assert_int_equal(itsm_create(f->h, "incident", kv, 2, NULL), TB_OK);
    }
    itsm_kv q2[] = {{"category", "software"}, {"state", "1"}};
    assert_int_equal(itsm_query(f->h, "incident", q2, 2, 1, 0, 0, &v, &nv), TB_OK);
    assert_int_equal(nv, 3);
    assert_string_equal(itsm_record_get(v[0], "number"), "INC0010001");
    assert_string_equal(itsm_record_get(v[2], "number"), "INC0010005");
    itsm_records_free(v, nv);
    assert_int_equal(itsm_query(f->h, "incident", q2, 2, 1, 2, 1, &v, &nv), TB_OK);
    assert_int_equal(nv, 2);
    assert_string_equal(itsm_record_get(v[0], "number"), "INC0010003");
    itsm_records_free(v, nv);
    itsm_kv empty[] = {{"assigned_to", ""}};
    assert_int_equal(itsm_query(f->h, "incident", empty, 1, 0, 0, 0, &v, &nv), TB_OK);
    assert_int_equal(nv, 5);
    itsm_records_free(v, nv);
}

static int count_journal(fixture *f, const char *sys_id, itsm_record ***v, size_t *nv)
{
    itsm_kv q[] = {{"element_id", sys_id}};
    assert_int_equal(itsm_query(f->h, "sys_journal_field", q, 1, 0, 0, 0, v, nv), TB_OK);
    return (int)*nv;
}

static void test_journal(void **state)
{
    fixture *f = *state;
    itsm_record *r = create_inc(f->h, "incident", "j");
    assert_int_equal(itsm_add_journal(f->h, "incident", r->sys_id, "work_notes", "first", "alice"),
                     TB_OK);
    assert_int_equal(itsm_add_journal(f->h, "incident", r->sys_id, "comments", "second", NULL),
                     TB_OK);
    itsm_record **v = NULL;
    size_t nv = 0;
    assert_int_equal(count_journal(f, r->sys_id, &v, &nv), 2);
    assert_string_equal(itsm_record_get(v[0], "value"), "first");
    assert_string_equal(itsm_record_get(v[0], "element"), "work_notes");
    assert_string_equal(itsm_record_get(v[0], "name"), "incident");
    assert_string_equal(itsm_record_get(v[0], "sys_created_by"), "alice");
    assert_string_equal(itsm_record_get(v[1], "value"), "second");
    assert_string_equal(itsm_record_get(v[1], "sys_created_by"), "system");
    itsm_records_free(v, nv);

    itsm_record *g = NULL;
    assert_int_equal(itsm_get(f->h, "incident", r->sys_id, &g), TB_OK);
    assert_string_equal(itsm_record_get(g, "sys_mod_count"), "2");
    itsm_record_free(g);

    assert_int_equal(itsm_add_journal(f->h, "incident", r->sys_id, "close_notes", "x", NULL),
                     TB_ERR_INVALID);
    assert_int_equal(itsm_add_journal(f->h, "incident", "0123456789abcdef0123456789abcdef",
                                      "work_notes", "x", NULL), TB_ERR_NOT_FOUND);
    assert_int_equal(count_journal(f, "0123456789abcdef0123456789abcdef", &v, &nv), 0);
    itsm_records_free(v, nv);
    /* Wrong table for the sys_id: not found, and nothing written. */
    assert_int_equal(itsm_add_journal(f->h, "problem", r->sys_id, "work_notes", "x", NULL),
                     TB_ERR_NOT_FOUND);
    assert_int_equal(count_journal(f, r->sys_id, &v, &nv), 2);
    itsm_records_free(v, nv);

    char *big = malloc(ITSM_MAX_TEXT + 2);
    assert_non_null(big);
    memset(big, 'n', ITSM_MAX_TEXT + 1);
    big[ITSM_MAX_TEXT + 1] = '\0';
    assert_int_equal(itsm_add_journal(f->h, "incident", r->sys_id, "work_notes", big, NULL),
                     TB_ERR_TOO_LARGE);
    free(big);
    itsm_record_free(r);
}

static void test_attachment(void **state)
{
    fixture *f = *state;
    itsm_record *r = create_inc(f->h, "incident", "a");
    const unsigned char data[] = {0x00, 0x01, 0xff, 'a', 'b', 'c', 0x00};
    itsm_record *a = NULL;
    assert_int_equal(itsm_attach(f->h, "incident", r->sys_id, "session.bin",
                                 "application/octet-stream", data, sizeof data, &a), TB_OK);
    unsigned char hash[crypto_hash_sha256_BYTES];
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    crypto_hash_sha256(hash, data, sizeof data);
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    assert_string_equal(itsm_record_get(a, "hash"), hex);
    assert_string_equal(itsm_record_get(a, "size_bytes"), "7");
    assert_string_equal(itsm_record_get(a, "table_sys_id"), r->sys_id);
    assert_string_equal(itsm_record_get(a, "table_name"), "incident");
    assert_string_equal(itsm_record_get(a, "file_name"), "session.bin");
    assert_null(itsm_record_get(a, "content"));

    /* The bytes are stored as given. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT content FROM sys_attachment WHERE sys_id = ?",
                                        -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, a->sys_id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_bytes(st, 0), sizeof data);
    assert_memory_equal(sqlite3_column_blob(st, 0), data, sizeof data);
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* Empty file: sha256 of nothing. */
    itsm_record *e = NULL;
    assert_int_equal(itsm_attach(f->h, "incident", r->sys_id, "empty.txt", NULL, NULL, 0, &e),
                     TB_OK);
    assert_string_equal(itsm_record_get(e, "hash"),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    itsm_record_free(e);

    assert_int_equal(itsm_attach(f->h, "incident", "0123456789abcdef0123456789abcdef", "x",
                                 NULL, data, 1, NULL), TB_ERR_NOT_FOUND);
    assert_int_equal(itsm_attach(f->h, "incident", r->sys_id, "", NULL, data, 1, NULL),
                     TB_ERR_INVALID);
    itsm_record_free(a);
    itsm_record_free(r);
}

static void test_update(void **state)
{
    fixture *f = *state;
    itsm_record *r = create_inc(f->h, "incident", "before");
    itsm_kv kv[] = {{"short_description", "after"}, {"state", "2"}, {"sys_updated_by", "bob"}};
    assert_int_equal(itsm_update(f->h, "incident", r->sys_id, kv, 3), TB_OK);
    itsm_record *g = NULL;
    assert_int_equal(itsm_get(f->h, "incident", r->sys_id, &g), TB_OK);
    assert_string_equal(itsm_record_get(g, "short_description"), "after");
    assert_string_equal(itsm_record_get(g, "state"), "2");
    assert_string_equal(itsm_record_get(g, "sys_updated_by"), "bob");
    assert_string_equal(itsm_record_get(g, "sys_mod_count"), "1");
    assert_string_equal(itsm_record_get(g, "number"), "INC0010001");
    assert_string_equal(itsm_record_get(g, "active"), "true");
    assert_string_equal(itsm_record_get(g, "closed_at"), "");
    itsm_record_free(g);

    /* Closing makes the task inactive and stamps closed_at. */
    itsm_kv close[] = {{"state", "7"}, {"close_code", "Solved (Permanently)"}};
    assert_int_equal(itsm_update(f->h, "incident", r->sys_id, close, 2), TB_OK);
    assert_int_equal(itsm_get(f->h, "incident", r->sys_id, &g), TB_OK);
    assert_string_equal(itsm_record_get(g, "active"), "false");
    assert_int_equal(strlen(itsm_record_get(g, "closed_at")), 19);
    assert_string_equal(itsm_record_get(g, "sys_mod_count"), "2");
    itsm_record_free(g);

    itsm_kv appr[] = {{"approval", "approved"}};
    assert_int_equal(itsm_update(f->h, "incident", r->sys_id, appr, 1), TB_OK);
    itsm_kv bad_appr[] = {{"approval", "maybe"}};
    assert_int_equal(itsm_update(f->h, "incident", r->sys_id, bad_appr, 1), TB_ERR_INVALID);
    assert_int_equal(itsm_update(f->h, "incident", "0123456789abcdef0123456789abcdef", kv, 1),
                     TB_ERR_NOT_FOUND);
    itsm_record_free(r);
}

typedef struct writer {
    const char *path;
    int ok;
} writer;

static void *write_many(void *arg)
{
    writer *w = arg;
    itsm *h = NULL;
    if (itsm_embedded_open(w->path, &h) != TB_OK)
        return NULL;
    itsm_kv kv[] = {{"short_description", "concurrent"}};
    for (int i = 0; i < 40; i++)
        w->ok += itsm_create(h, "incident", kv, 1, NULL) == TB_OK;
    itsm_close(h);
    return NULL;
}

/* Numbers are allocated atomically across connections: no gaps, no repeats. */
static void test_numbering_concurrent(void **state)
{
    fixture *f = *state;
    writer w[3] = {{f->path, 0}, {f->path, 0}, {f->path, 0}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, write_many, &w[i]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(w[0].ok + w[1].ok + w[2].ok, 120);
    itsm_record **v = NULL;
    size_t nv = 0;
    assert_int_equal(itsm_query(f->h, "incident", NULL, 0, 0, 0, 0, &v, &nv), TB_OK);
    assert_int_equal(nv, 120);
    char seen[120] = {0};
    for (size_t i = 0; i < nv; i++) {
        const char *num = itsm_record_get(v[i], "number");
        assert_int_equal(strncmp(num, "INC", 3), 0);
        long k = strtol(num + 3, NULL, 10) - 10001;
        assert_true(k >= 0 && k < 120);
        assert_false(seen[k]);
        seen[k] = 1;
    }
    itsm_records_free(v, nv);
}

/* A wrapped (borrowed) connection: writes join the owner's transaction and
 * live or die with it; closing the wrapper leaves the connection open. */
static void test_wrap_joins_owner_transaction(void **state)
{
    fixture *f = *state;
    itsm_kv kv[] = {{"short_description", "wrapped"}};
    itsm_record *inc = NULL;
    assert_int_equal(itsm_create(f->h, "incident", kv, 1, &inc), TB_OK);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    itsm *w = NULL;
    assert_int_equal(itsm_embedded_wrap(db, &w), TB_OK);
    itsm_kv q[] = {{"element_id", inc->sys_id}};
    itsm_record **v = NULL;
    size_t n = 0;

    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(itsm_add_journal(w, "incident", inc->sys_id, "work_notes", "rolled back", "t"), TB_OK);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(itsm_query(f->h, "sys_journal_field", q, 1, 0, 0, 0, &v, &n), TB_OK);
    assert_int_equal(n, 0);
    itsm_records_free(v, n);

    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(itsm_add_journal(w, "incident", inc->sys_id, "work_notes", "kept", "t"), TB_OK);
    /* a failing write undoes only itself */
    assert_int_not_equal(itsm_add_journal(w, "nope_table", inc->sys_id, "work_notes", "x", "t"), TB_OK);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(itsm_query(f->h, "sys_journal_field", q, 1, 0, 0, 0, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_string_equal(itsm_record_get(v[0], "value"), "kept");
    itsm_records_free(v, n);

    itsm_close(w);
    assert_int_equal(sqlite3_exec(db, "SELECT 1", NULL, NULL, NULL), SQLITE_OK);   /* still open */
    sqlite3_close(db);
    itsm_record_free(inc);
}

static void test_open_errors(void **state)
{
    fixture *f = *state;
    itsm *h = NULL;
    char missing[600];
    snprintf(missing, sizeof missing, "%s.missing", f->path);
    assert_int_not_equal(itsm_embedded_open(missing, &h), TB_OK);
    assert_null(h);
    assert_int_equal(itsm_embedded_open(NULL, &h), TB_ERR_INVALID);
    assert_int_equal(itsm_create(NULL, "incident", NULL, 0, NULL), TB_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_get_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_task, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_field_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrap_joins_owner_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attachment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbering_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
