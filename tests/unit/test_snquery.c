/* ServiceNow encoded queries: the parser on its own, then compiled and run
 * against a real embedded store (fresh SQLite file per test), then through
 * `ticket list --query`. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "itsm/itsm.h"
#include "itsm/itsm_table.h"
#include "itsm/snquery.h"

/* --- parser ----------------------------------------------------------------- */

static snquery *parse_ok(const char *s)
{
    char err[256];
    snquery *q = NULL;
    tb_err rc = snquery_parse(s, strlen(s), &q, err, sizeof err);
    if (rc)
        fail_msg("parse '%s': %s (%s)", s, tb_strerror(rc), err);
    assert_non_null(q);
    return q;
}

static tb_err parse_rc(const char *s, size_t len, char *err, size_t errsz)
{
    snquery *q = NULL;
    tb_err rc = snquery_parse(s, len, &q, err, errsz);
    if (rc)
        assert_null(q);
    snquery_free(q);
    return rc;
}

static void test_parse_operators(void **state)
{
    (void)state;
    static const struct {
        const char *query;
        snq_op op;
        const char *field;
        size_t nvalues;
        const char *v0, *v1;
    } cases[] = {
        {"number=INC0010001", SNQ_EQ, "number", 1, "INC0010001", NULL},
        {"number!=INC0010001", SNQ_NE, "number", 1, "INC0010001", NULL},
        {"priority<3", SNQ_LT, "priority", 1, "3", NULL},
        {"priority<=3", SNQ_LE, "priority", 1, "3", NULL},
        {"priority>3", SNQ_GT, "priority", 1, "3", NULL},
        {"priority>=3", SNQ_GE, "priority", 1, "3", NULL},
        {"short_descriptionLIKEprinter", SNQ_LIKE, "short_description", 1, "printer", NULL},
        {"short_descriptionNOT LIKEprinter", SNQ_NOT_LIKE, "short_description", 1, "printer", NULL},
        {"short_descriptionSTARTSWITHPr", SNQ_STARTSWITH, "short_description", 1, "Pr", NULL},
        {"short_descriptionENDSWITHfire", SNQ_ENDSWITH, "short_description", 1, "fire", NULL},
        {"short_description*fire", SNQ_LIKE, "short_description", 1, "fire", NULL},
        {"short_description!*fire", SNQ_NOT_LIKE, "short_description", 1, "fire", NULL},
        {"short_description%fire", SNQ_ENDSWITH, "short_description", 1, "fire", NULL},
        {"impactIN1,,2,", SNQ_IN, "impact", 2, "1", "2"},
        {"impactNOT IN3,2", SNQ_NOT_IN, "impact", 2, "3", "2"},
        {"numberININC1", SNQ_IN, "number", 1, "INC1", NULL},
        {"assigned_toISEMPTY", SNQ_ISEMPTY, "assigned_to", 0, NULL, NULL},
        {"assigned_toISNOTEMPTY", SNQ_ISNOTEMPTY, "assigned_to", 0, NULL, NULL},
        {"descriptionEMPTYSTRING", SNQ_EMPTYSTRING, "description", 0, NULL, NULL},
        {"numberANYTHING", SNQ_ANYTHING, "number", 0, NULL, NULL},
        {"category=", SNQ_ISEMPTY, "category", 0, NULL, NULL},
        {"category!=", SNQ_ISNOTEMPTY, "category", 0, NULL, NULL},
        {"priorityBETWEEN1@3", SNQ_BETWEEN, "priority", 2, "1", "3"},
        {"opened_at>=javascript:gs.dateGenerate('2024-01-02','03:04:05')", SNQ_GE, "opened_at", 1,
         "2024-01-02 03:04:05", NULL},
        {"opened_atBETWEENjavascript:gs.dateGenerate('2024-01-01','00:00:00')"
         "@javascript:gs.dateGenerate(\"2024-12-31\", \"23:59:59\")",
         SNQ_BETWEEN, "opened_at", 2, "2024-01-01 00:00:00", "2024-12-31 23:59:59"},
        {"assigned_to.user_name=bob", SNQ_EQ, "assigned_to.user_name", 1, "bob", NULL},
        {"descriptionLIKEa=b<c", SNQ_LIKE, "description", 1, "a=b<c", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snquery *q = parse_ok(cases[i].query);
        if (q->nconds != 1 || q->nignored != 0)
            fail_msg("'%s': %zu conditions, %zu ignored", cases[i].query, q->nconds, q->nignored);
        const snq_cond *c = &q->conds[0];
        assert_int_equal(c->op, cases[i].op);
        assert_string_equal(c->field, cases[i].field);
        assert_int_equal(c->nvalues, cases[i].nvalues);
        if (cases[i].v0)
            assert_string_equal(q->values[c->first_value], cases[i].v0);
        if (cases[i].v1)
            assert_string_equal(q->values[c->first_value + 1], cases[i].v1);
        assert_int_equal(c->offset, 0);
        assert_int_equal(c->len, strlen(cases[i].query));
        snquery_free(q);
    }
}

static void test_parse_links_and_order(void **state)
{
    (void)state;
    snquery *q = parse_ok("a=1^b=2^ORc=3^NQd=4^ORDERBYnumber^ORDERBYDESCstate^EQ");
    assert_int_equal(q->nconds, 4);
    assert_int_equal(q->conds[1].link, SNQ_LINK_AND);
    assert_int_equal(q->conds[2].link, SNQ_LINK_OR);
    assert_int_equal(q->conds[3].link, SNQ_LINK_NQ);
    assert_string_equal(q->conds[3].field, "d");
    assert_int_equal(q->norders, 2);
    assert_string_equal(q->orders[0].field, "number");
    assert_false(q->orders[0].desc);
    assert_string_equal(q->orders[1].field, "state");
    assert_true(q->orders[1].desc);
    assert_int_equal(q->nignored, 0);
    /* The original text stays intact for reports. */
    assert_string_equal(q->query, "a=1^b=2^ORc=3^NQd=4^ORDERBYnumber^ORDERBYDESCstate^EQ");
    snquery_free(q);

    /* A dropped part hands its connector on: the loosest wins. */
    q = parse_ok("a=1^b~2^ORc=3");
    assert_int_equal(q->nconds, 2);
    assert_int_equal(q->conds[1].link, SNQ_LINK_AND);
    assert_int_equal(q->nignored, 1);
    snquery_free(q);
    q = parse_ok("a=1^ORb~2^ORc=3");
    assert_int_equal(q->conds[1].link, SNQ_LINK_OR);
    snquery_free(q);
    q = parse_ok("a=1^NQ^ORc=3");
    assert_int_equal(q->conds[1].link, SNQ_LINK_NQ);
    snquery_free(q);
    /* ORDERBY parts are not conditions and hand nothing on. */
    q = parse_ok("a=1^ORDERBYx^ORc=3");
    assert_int_equal(q->conds[1].link, SNQ_LINK_OR);
    snquery_free(q);
}

static void test_parse_ignored_parts(void **state)
{
    (void)state;
    static const struct {
        const char *query;
        size_t nconds, nignored;
        const char *reason;     /* of the first ignored part */
    } cases[] = {
        {"", 0, 0, NULL},
        {"^", 0, 2, "empty part"},
        {"^^^", 0, 4, "empty part"},
        {"=", 0, 1, "no field name (field names are lower case)"},
        {"=x", 0, 1, "no field name (field names are lower case)"},
        {"ORDERBY", 0, 1, "ORDERBY without a field"},
        {"ORDERBYDESC", 0, 1, "ORDERBY without a field"},
        {"ORDERBYnum;ber", 0, 1, "bad field name"},
        {"number", 0, 1, "no operator"},
        {"NUMBER=INC1", 0, 1, "no field name (field names are lower case)"},
        {"numberlike", 0, 1, "no operator"},
        {"number~x", 0, 1, "unknown operator"},
        {"numberINSTANCEOFtask", 0, 1, "operator not supported"},
        {"numberSAMEASstate", 0, 1, "operator not supported"},
        {"caller_idDYNAMIC90d1921e5f510100a9ad2572f2b477fe", 0, 1, "operator not supported"},
        {"GROUPBYstate", 0, 1, "GROUPBY is not supported"},
        {"a..b=1", 0, 1, "bad field name"},
        {".a=1", 0, 1, "bad field name"},
        {"a.=1", 0, 1, "bad field name"},
        {"caller_id=javascript:gs.getUserID()", 0, 1, "javascript: values are not supported"},
        {"opened_atBETWEEN2024", 0, 1, "BETWEEN needs two values: a@b"},
        {"opened_atBETWEENjavascript:x()@2024", 0, 1, "javascript: values are not supported"},
        {"^OR", 0, 2, "empty part"},
        {"^NQ", 0, 2, "empty part"},
        {"OR", 0, 1, "no field name (field names are lower case)"},
        {"a=1^^ORb=2^", 2, 2, "empty part"},
        {"number'; DROP TABLE incident;--=x", 0, 1, "unknown operator"},
        {"\"number\"=x", 0, 1, "no field name (field names are lower case)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snquery *q = parse_ok(cases[i].query);
        if (q->nconds != cases[i].nconds || q->nignored != cases[i].nignored)
            fail_msg("'%s': %zu conditions, %zu ignored", cases[i].query, q->nconds, q->nignored);
        if (cases[i].reason)
            assert_string_equal(q->ignored[0].reason, cases[i].reason);
        for (size_t k = 0; k < q->nignored; k++) {
            const snq_ignored *p = &q->ignored[k];
            assert_true(p->offset + p->len <= strlen(cases[i].query));
            assert_ptr_equal(p->part, q->query + p->offset);
        }
        snquery_free(q);
    }
    snquery *q = parse_ok("number~x^state=1");
    assert_int_equal(q->ignored[0].offset, 0);
    assert_int_equal(q->ignored[0].len, 8);
    assert_memory_equal(q->ignored[0].part, "number~x", 8);
    snquery_free(q);
}

static char *repeat(const char *first, const char *unit, size_t n)
{
    size_t fl = strlen(first), ul = strlen(unit);
    char *s = malloc(fl + ul * n + 1);
    assert_non_null(s);
    memcpy(s, first, fl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + fl + i * ul, unit, ul);
    s[fl + ul * n] = '\0';
    return s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_parse_caps(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(parse_rc(NULL, 0, err, sizeof err), TB_OK);
    assert_int_equal(parse_rc(NULL, 3, err, sizeof err), TB_ERR_INVALID);
    assert_int_equal(snquery_parse("a=1", 3, NULL, err, sizeof err), TB_ERR_INVALID);

    /* A megabyte is refused at once, before any scanning. */
    size_t big = 1024 * 1024;
    char *s = malloc(big);
    assert_non_null(s);
    memset(s, 'a', big);
    double t0 = now_s();
    assert_int_equal(parse_rc(s, big, err, sizeof err), TB_ERR_TOO_LARGE);
    assert_true(now_s() - t0 < 0.5);
    assert_non_null(strstr(err, "65536"));
    assert_int_equal(parse_rc(s, SNQ_MAX_QUERY + 1, err, sizeof err), TB_ERR_TOO_LARGE);
    memcpy(s, "number=", 7);
    assert_int_equal(parse_rc(s, SNQ_MAX_QUERY, err, sizeof err), TB_OK);

    /* NUL bytes inside the given length. */
    memcpy(s, "number=INC1\0^state=1", 20);
    assert_int_equal(parse_rc(s, 20, err, sizeof err), TB_ERR_INVALID);
    assert_string_equal(err, "query contains a NUL byte");
    assert_int_equal(parse_rc(s, 11, err, sizeof err), TB_OK);
    free(s);

    /* Parts, IN items, values. */
    s = repeat("a=1", "^ORa=1", SNQ_MAX_PARTS - 1);
    assert_int_equal(parse_rc(s, strlen(s), err, sizeof err), TB_OK);
    free(s);
    s = repeat("a=1", "^ORa=1", SNQ_MAX_PARTS);
    assert_int_equal(parse_rc(s, strlen(s), err, sizeof err), TB_ERR_TOO_LARGE);
    free(s);
    s = repeat("^", "^", SNQ_MAX_PARTS);
    assert_int_equal(parse_rc(s, strlen(s), err, sizeof err), TB_ERR_TOO_LARGE);
    free(s);
    s = repeat("a=1", "^ORa=1", 10000);     /* 10,000-deep OR chain */
    assert_true(strlen(s) <= SNQ_MAX_QUERY);
    assert_int_equal(parse_rc(s, strlen(s), err, sizeof err), TB_ERR_TOO_LARGE);
    free(s);
    s = repeat("aIN1", ",1", SNQ_MAX_IN_ITEMS - 1);
    assert_int_equal(parse_rc(s, strlen(s), err, sizeof err), TB_OK);
    free(s);
    s = repeat("aIN1", ",1", SNQ_MAX_IN_ITEMS);
    assert_int_equal(parse_rc(s, strlen(s), err, sizeof err), TB_ERR_TOO_LARGE);
    assert_non_null(strstr(err, "IN list"));
    free(s);
    /* 11 lists of 1000 items: over SNQ_MAX_VALUES in all. */
    char *list = repeat("aIN1", ",1", SNQ_MAX_IN_ITEMS - 1);
    tb_buf b;
    tb_buf_init(&b, 0);
    for (int i = 0; i < 11; i++)
        assert_int_equal(tb_buf_printf(&b, "%s%s", i ? "^" : "", list), TB_OK);
    assert_int_equal(parse_rc(b.data, b.len, err, sizeof err), TB_ERR_TOO_LARGE);
    assert_non_null(strstr(err, "values"));
    tb_buf_free(&b);
    free(list);
}

/* --- against the store -------------------------------------------------------- */

typedef struct fixture {
    char path[512];
    itsm *h;
    itsm_table *t;
    char user_alice[ITSM_SYS_ID_LEN + 1];
    char inc2[ITSM_SYS_ID_LEN + 1];
    char ignored[32][160];      /* reasons reported through on_ignored */
    size_t nignored;
} fixture;

static void create(itsm *h, const char *table, const itsm_kv *kv, size_t n, char *sys_id)
{
    itsm_record *r = NULL;
    tb_err rc = itsm_create(h, table, kv, n, &r);
    if (rc)
        fail_msg("create %s: %s", table, tb_strerror(rc));
    if (sys_id)
        snprintf(sys_id, ITSM_SYS_ID_LEN + 1, "%s", r->sys_id);
    itsm_record_free(r);
}

/* Five incidents (INC0010001..5) that tell the operators apart:
 *   #  short_description    state prio category  assigned  opened_at
 *   1  Printer on fire       1    1    hardware   alice     2024-01-10 08:00:00
 *   2  VPN down              2    2    network    bob       2024-02-10 08:00:00
 *   3  Disk 100% full_now    3    3    Hardware   -         2024-03-10 08:00:00
 *   4  Email slow            7    4    -          alice     2024-04-10 08:00:00  (inactive)
 *   5  printer jam           6    5    software   carol     2024-05-10 08:00:00  description "" */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(test_db_path(f->path, sizeof f->path, "test_snquery"), 0);
    assert_int_equal(itsm_embedded_schema(f->path), TB_OK);
    assert_int_equal(itsm_embedded_open(f->path, &f->h), TB_OK);

    char bob[ITSM_SYS_ID_LEN + 1], carol[ITSM_SYS_ID_LEN + 1];
    itsm_kv u1[] = {{"user_name", "alice"}, {"name", "Alice Adams"}};
    itsm_kv u2[] = {{"user_name", "bob"}, {"name", "Bob Brown"}};
    itsm_kv u3[] = {{"user_name", "carol"}, {"name", "Carol Clark"}};
    create(f->h, "sys_user", u1, 2, f->user_alice);
    create(f->h, "sys_user", u2, 2, bob);
    create(f->h, "sys_user", u3, 2, carol);

    const struct {
        const char *sd, *state, *prio, *cat, *who, *opened, *desc;
    } inc[] = {
        {"Printer on fire", "1", "1", "hardware", f->user_alice, "2024-01-10 08:00:00", NULL},
        {"VPN down", "2", "2", "network", bob, "2024-02-10 08:00:00", NULL},
        {"Disk 100% full_now", "3", "3", "Hardware", NULL, "2024-03-10 08:00:00", NULL},
        {"Email slow", "7", "4", NULL, f->user_alice, "2024-04-10 08:00:00", NULL},
        {"printer jam", "6", "5", "software", carol, "2024-05-10 08:00:00", ""},
    };
    for (size_t i = 0; i < 5; i++) {
        itsm_kv kv[8];
        size_t n = 0;
        kv[n++] = (itsm_kv){"short_description", inc[i].sd};
        kv[n++] = (itsm_kv){"state", inc[i].state};
        kv[n++] = (itsm_kv){"priority", inc[i].prio};
        kv[n++] = (itsm_kv){"opened_at", inc[i].opened};
        if (inc[i].cat)
            kv[n++] = (itsm_kv){"category", inc[i].cat};
        if (inc[i].who)
            kv[n++] = (itsm_kv){"assigned_to", inc[i].who};
        if (inc[i].desc)
            kv[n++] = (itsm_kv){"description", inc[i].desc};
        create(f->h, "incident", kv, n, i == 1 ? f->inc2 : NULL);
    }
    assert_int_equal(itsm_table_open(f->path, &f->t), TB_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    itsm_table_close(f->t);
    itsm_close(f->h);
    test_db_remove(f->path);
    free(f);
    return 0;
}

static void collect_ignored(void *ctx, const snq_ignored *p)
{
    fixture *f = ctx;
    if (f->nignored < 32)
        snprintf(f->ignored[f->nignored++], sizeof f->ignored[0], "%.*s: %s", (int)p->len, p->part,
                 p->reason);
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Runs query on table and returns the records' numbers without the
 * "INC00100" prefix, comma-separated ("1,4"): in result order when the query
 * sorts, else ascending (without ORDERBY the order is the search's). */
static const char *run_full(fixture *f, const char *table, const char *query,
                            const char *const *fields, size_t limit, size_t offset, size_t *total)
{
    static char out[4096];
    snquery *q = parse_ok(query);
    itsm_table_query req = {.table = table, .q = q, .fields = fields, .limit = limit,
                            .offset = offset, .on_ignored = collect_ignored, .ctx = f};
    itsm_record **v = NULL;
    size_t n = 0;
    f->nignored = 0;
    tb_err rc = itsm_embedded_table_query(f->t, &req, &v, &n, total);
    if (rc)
        fail_msg("query '%s': %s", query, tb_strerror(rc));
    out[0] = '\0';
    int nums[64];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        const char *num = itsm_record_get(v[i], "number");
        assert_non_null(num);
        nums[i] = atoi(num + 3) - 10000;
    }
    if (!strstr(query, "ORDERBY"))
        qsort(nums, n, sizeof nums[0], cmp_int);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, sizeof out - len, "%s%d", i ? "," : "", nums[i]);
    }
    itsm_records_free(v, n);
    snquery_free(q);
    return out;
}

static const char *run(fixture *f, const char *query)
{
    return run_full(f, "incident", query, NULL, 0, 0, NULL);
}

#define EXPECT(f, query, want)                                                        \
    do {                                                                              \
        const char *got_ = run(f, query);                                             \
        if (strcmp(got_, want) != 0)                                                  \
            fail_msg("'%s': got [%s], want [%s]", query, got_, want);                 \
    } while (0)

static void test_operators(void **state)
{
    fixture *f = *state;
    EXPECT(f, "", "1,2,3,4,5");
    EXPECT(f, "number=INC0010002", "2");
    EXPECT(f, "number=inc0010002", "2");                 /* case-insensitive */
    EXPECT(f, "short_description=PRINTER ON FIRE", "1");
    EXPECT(f, "category!=hardware", "2,4,5");            /* empty fields match != */
    EXPECT(f, "priority!=1", "2,3,4,5");
    EXPECT(f, "priority<3", "1,2");
    EXPECT(f, "priority<=3", "1,2,3");
    EXPECT(f, "priority>3", "4,5");
    EXPECT(f, "priority>=4", "4,5");
    EXPECT(f, "state<10", "1,2,3,4,5");                  /* numeric, not text */
    EXPECT(f, "state>-1", "1,2,3,4,5");
    EXPECT(f, "short_descriptionLIKEprinter", "1,5");
    EXPECT(f, "short_description*PRINTER", "1,5");
    EXPECT(f, "short_descriptionNOT LIKEprinter", "2,3,4");
    EXPECT(f, "short_description!*printer", "2,3,4");
    EXPECT(f, "short_descriptionSTARTSWITHprinter", "1,5");
    EXPECT(f, "short_descriptionSTARTSWITHjam", "");
    EXPECT(f, "short_descriptionENDSWITHJAM", "5");
    EXPECT(f, "short_description%jam", "5");
    EXPECT(f, "short_descriptionLIKE100%", "3");         /* % and _ match themselves */
    EXPECT(f, "short_descriptionLIKE_", "3");
    EXPECT(f, "short_descriptionLIKE%", "3");
    EXPECT(f, "short_descriptionLIKE\\", "");
    EXPECT(f, "numberININC0010001,INC0010003", "1,3");
    EXPECT(f, "numberINinc0010004", "4");
    EXPECT(f, "priorityIN1,5", "1,5");
    EXPECT(f, "categoryINHARDWARE", "1,3");
    EXPECT(f, "categoryNOT INhardware,network", "4,5");
    EXPECT(f, "numberIN,,", "");                         /* no items: nothing matches */
    EXPECT(f, "numberNOT IN,", "1,2,3,4,5");
    EXPECT(f, "categoryISEMPTY", "4");
    EXPECT(f, "category=", "4");
    EXPECT(f, "category!=", "1,2,3,5");
    EXPECT(f, "assigned_toISEMPTY", "3");
    EXPECT(f, "assigned_toISNOTEMPTY", "1,2,4,5");
    EXPECT(f, "descriptionEMPTYSTRING", "5");
    EXPECT(f, "descriptionISEMPTY", "1,2,3,4,5");
    EXPECT(f, "numberANYTHING", "1,2,3,4,5");
    EXPECT(f, "priorityBETWEEN2@3", "2,3");
    EXPECT(f, "opened_atBETWEEN2024-02-01 00:00:00@2024-04-30 23:59:59", "2,3,4");
    EXPECT(f, "opened_atBETWEENjavascript:gs.dateGenerate('2024-02-01','00:00:00')"
              "@javascript:gs.dateGenerate('2024-04-30','23:59:59')", "2,3,4");
    EXPECT(f, "opened_at>2024-03-10 08:00:00", "4,5");
    EXPECT(f, "opened_at>=2024-03-10 08:00:00", "3,4,5");
    EXPECT(f, "opened_at<2024-02", "1");
    EXPECT(f, "active=true", "1,2,3,5");
    EXPECT(f, "active=FALSE", "4");
    EXPECT(f, "active!=true", "4");

    char q[128];
    snprintf(q, sizeof q, "sys_id=%s", f->inc2);
    EXPECT(f, q, "2");
    for (char *p = q + strlen("sys_id="); *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    EXPECT(f, q, "2");                                  /* sys_ids in upper case too */
    snprintf(q, sizeof q, "assigned_to=%s", f->user_alice);
    EXPECT(f, q, "1,4");
}

static void test_precedence(void **state)
{
    fixture *f = *state;
    /* a^b^ORc = a AND (b OR c), not (a AND b) OR c */
    EXPECT(f, "category=hardware^priority=1^ORpriority=2", "1");
    EXPECT(f, "priority=2^ORpriority=5^category=software", "5");
    EXPECT(f, "priority=1^ORpriority=2^ORpriority=3^category=hardware", "1,3");
    /* ^NQ: OR of whole queries */
    EXPECT(f, "priority=1^category=network^NQpriority=2^category=network", "2");
    EXPECT(f, "priority=1^NQpriority=2^ORpriority=3^category=hardware", "1,3");
    EXPECT(f, "priority=1^NQpriority=5^NQpriority=3", "1,3,5");
    /* A dropped condition leaves its connector: (bogus OR p2) -> p2 */
    EXPECT(f, "category=network^bogus=1^ORpriority=2", "2");
    EXPECT(f, "category=hardware^ORbogus=1^priority=3", "3");
    /* A query group left empty is dropped, not "match everything". */
    EXPECT(f, "priority=1^NQbogus=2", "1");
    EXPECT(f, "bogus=1", "1,2,3,4,5");
}

static void test_orderby(void **state)
{
    fixture *f = *state;
    EXPECT(f, "ORDERBYpriority", "1,2,3,4,5");
    EXPECT(f, "ORDERBYDESCpriority", "5,4,3,2,1");
    EXPECT(f, "ORDERBYDESCnumber", "5,4,3,2,1");
    /* Case-insensitive text order, empty first; then the second key. */
    EXPECT(f, "ORDERBYcategory^ORDERBYnumber", "4,1,3,2,5");
    EXPECT(f, "ORDERBYDESCcategory^ORDERBYDESCnumber", "5,2,3,1,4");
    EXPECT(f, "ORDERBYassigned_to.user_name^ORDERBYDESCnumber", "3,4,1,2,5");
    EXPECT(f, "active=true^ORDERBYDESCopened_at", "5,3,2,1");
    EXPECT(f, "ORDERBYbogus^ORDERBYDESCstate", "4,5,3,2,1");
    assert_int_equal(f->nignored, 1);
    assert_string_equal(f->ignored[0], "ORDERBYbogus: unknown field");
}

static void test_dot_walk(void **state)
{
    fixture *f = *state;
    EXPECT(f, "assigned_to.user_name=ALICE", "1,4");
    EXPECT(f, "assigned_to.nameLIKEbrown", "2");
    EXPECT(f, "assigned_to.user_nameINbob,carol", "2,5");
    EXPECT(f, "assigned_to.user_nameISEMPTY", "3");
    EXPECT(f, "assigned_to.user_name!=alice", "2,3,5");
    EXPECT(f, "assigned_to.user_name=alice^ORassigned_to.name=Carol Clark", "1,4,5");

    static const struct {
        const char *query, *ignored;
    } dropped[] = {
        {"assigned_to.bogus=1", "assigned_to.bogus=1: unknown field in the referenced table"},
        {"assigned_to.manager.user_name=x",
         "assigned_to.manager.user_name=x: dot-walk deeper than one level is not supported"},
        {"company.name=Acme", "company.name=Acme: dot-walk into a table the store does not have"},
        {"short_description.x=1",
         "short_description.x=1: dot-walk through a field that is not a reference"},
        {"bogus.name=1", "bogus.name=1: unknown field"},
    };
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++) {
        EXPECT(f, dropped[i].query, "1,2,3,4,5");
        assert_int_equal(f->nignored, 1);
        assert_string_equal(f->ignored[0], dropped[i].ignored);
    }

    /* The same reference walked in fields and in the query shares one join. */
    const char *fields[] = {"number", "assigned_to.user_name", "assigned_to.name", NULL};
    snquery *q = parse_ok("assigned_to.user_name=bob");
    itsm_table_query req = {.table = "incident", .q = q, .fields = fields};
    itsm_record **v = NULL;
    size_t n = 0;
    assert_int_equal(itsm_embedded_table_query(f->t, &req, &v, &n, NULL), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0]->nfields, 3);
    assert_string_equal(itsm_record_get(v[0], "assigned_to.user_name"), "bob");
    assert_string_equal(itsm_record_get(v[0], "assigned_to.name"), "Bob Brown");
    itsm_records_free(v, n);
    snq_sql s;
    assert_int_equal(snquery_compile(q, itsm_table_catalog(f->t), "incident", fields, &s, NULL, 0),
                     TB_OK);
    assert_non_null(strstr(s.from.data, " j0 "));
    assert_null(strstr(s.from.data, " j1 "));
    assert_non_null(strstr(s.where.data,
                           "t.\"assigned_to\" IN (SELECT s.\"sys_id\" FROM \"sys_user\" s WHERE"));
    assert_string_equal(s.count_from.data, "\"incident\" t");
    snq_sql_free(&s);
    snquery_free(q);
}

static void test_ignored_reported(void **state)
{
    fixture *f = *state;
    EXPECT(f, "bogus=1^number=INC0010001^^numberFOOx^priority=abc", "1");
    assert_int_equal(f->nignored, 4);
    /* The parser's parts first, then the compiler's. */
    assert_string_equal(f->ignored[0], ": empty part");
    assert_string_equal(f->ignored[1], "numberFOOx: unknown operator");
    assert_string_equal(f->ignored[2], "bogus=1: unknown field");
    assert_string_equal(f->ignored[3],
                        "priority=abc: value is not an integer, and the field is numeric");
    EXPECT(f, "priorityIN1,x", "1,2,3,4,5");
    assert_int_equal(f->nignored, 1);
    EXPECT(f, "priority<1.5", "1,2,3,4,5");
    EXPECT(f, "priority=99999999999999999999999", "1,2,3,4,5");
}

static void test_limit_offset_total_fields(void **state)
{
    fixture *f = *state;
    size_t total = 99;
    const char *got = run_full(f, "incident", "ORDERBYnumber", NULL, 2, 1, &total);
    assert_string_equal(got, "2,3");
    assert_int_equal(total, 5);
    got = run_full(f, "incident", "active=true^ORDERBYDESCnumber", NULL, 1, 0, &total);
    assert_string_equal(got, "5");
    assert_int_equal(total, 4);
    got = run_full(f, "incident", "", NULL, 0, 10, &total);
    assert_string_equal(got, "");
    assert_int_equal(total, 5);
    got = run_full(f, "incident", "", NULL, ITSM_MAX_ROWS + 5, 0, NULL);
    assert_string_equal(got, "1,2,3,4,5");

    itsm_table_query req = {.table = "incident", .offset = ((size_t)1 << 40) + 1};
    itsm_record **v = (itsm_record **)&req;
    size_t n = 7;
    assert_int_equal(itsm_embedded_table_query(f->t, &req, &v, &n, &total), TB_ERR_INVALID);
    assert_null(v);
    assert_int_equal(n, 0);

    /* Fields: unknown ones and duplicates dropped, dot-walks kept as named. */
    const char *fields[] = {"number", "bogus", "", "assigned_to.user_name", "number",
                            "number; DROP TABLE incident", "\"sys_id\"", NULL};
    req = (itsm_table_query){.table = "incident", .fields = fields, .limit = 1,
                             .on_ignored = collect_ignored, .ctx = f};
    f->nignored = 0;
    assert_int_equal(itsm_embedded_table_query(f->t, &req, &v, &n, NULL), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0]->nfields, 2);
    assert_string_equal(v[0]->fields[0].name, "number");
    assert_string_equal(v[0]->fields[0].value, "INC0010001");
    assert_string_equal(v[0]->fields[1].name, "assigned_to.user_name");
    assert_string_equal(v[0]->fields[1].value, "alice");
    assert_int_equal(strlen(v[0]->sys_id), ITSM_SYS_ID_LEN);
    assert_string_equal(v[0]->table, "incident");
    itsm_records_free(v, n);
    assert_int_equal(f->nignored, 3);
    assert_string_equal(f->ignored[0], "bogus: unknown field");
    assert_string_equal(f->ignored[1], "number; DROP TABLE incident: bad field name");

    /* Every column by default, as strings; NULL is "". */
    req = (itsm_table_query){.table = "incident", .limit = 1};
    assert_int_equal(itsm_embedded_table_query(f->t, &req, &v, &n, NULL), TB_OK);
    assert_string_equal(itsm_record_get(v[0], "priority"), "1");
    assert_string_equal(itsm_record_get(v[0], "close_code"), "");
    assert_non_null(itsm_record_get(v[0], "sys_created_on"));
    itsm_records_free(v, n);

    /* Other tables of the store. */
    snquery *q = parse_ok("user_name=BOB");
    req = (itsm_table_query){.table = "sys_user", .q = q};
    assert_int_equal(itsm_embedded_table_query(f->t, &req, &v, &n, &total), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(total, 1);
    assert_string_equal(itsm_record_get(v[0], "name"), "Bob Brown");
    itsm_records_free(v, n);
    snquery_free(q);
}

static void test_unknown_tables(void **state)
{
    fixture *f = *state;
    static const char *const tables[] = {
        "bogus", "tb_job", "tb_account", "sqlite_schema", "sys_number", "task", "",
        "incident; DROP TABLE incident", "INCIDENT", "incident\"",
    };
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        itsm_table_query req = {.table = tables[i]};
        itsm_record **v = NULL;
        size_t n = 0, total = 0;
        assert_int_equal(itsm_embedded_table_query(f->t, &req, &v, &n, &total), TB_ERR_NOT_FOUND);
        assert_null(v);
    }
    itsm_record **v = NULL;
    size_t n = 0;
    itsm_table_query req = {.table = NULL};
    assert_int_equal(itsm_embedded_table_query(f->t, &req, &v, &n, NULL), TB_ERR_INVALID);
    assert_int_equal(itsm_embedded_table_query(NULL, &req, &v, &n, NULL), TB_ERR_INVALID);
    assert_int_equal(itsm_embedded_table_query(f->t, NULL, &v, &n, NULL), TB_ERR_INVALID);
}

static void test_catalog(void **state)
{
    fixture *f = *state;
    const snq_catalog *cat = itsm_table_catalog(f->t);
    const snq_table *inc = snq_catalog_table(cat, "incident");
    assert_non_null(inc);
    assert_int_equal(snq_table_column(inc, "number")->kind, SNQ_TEXT);
    assert_int_equal(snq_table_column(inc, "state")->kind, SNQ_INTEGER);
    assert_int_equal(snq_table_column(inc, "active")->kind, SNQ_BOOLEAN);
    assert_int_equal(snq_table_column(inc, "opened_at")->kind, SNQ_DATETIME);
    assert_int_equal(snq_table_column(inc, "sys_id")->kind, SNQ_ID);
    const snq_column *c = snq_table_column(inc, "assigned_to");
    assert_int_equal(c->kind, SNQ_ID);
    assert_string_equal(c->ref, "sys_user");
    assert_string_equal(snq_table_column(inc, "parent")->ref, "task");
    const snq_table *user = snq_catalog_table(cat, "sys_user");
    assert_true(snq_table_column(user, "user_name")->lower_index);
    assert_false(snq_table_column(user, "name")->lower_index);
    assert_string_equal(snq_table_column(snq_catalog_table(cat, "sys_user_group"), "parent")->ref,
                        "sys_user_group");
    assert_null(snq_table_column(snq_catalog_table(cat, "sys_attachment"), "content"));
    assert_null(snq_catalog_table(cat, "tb_job"));
    assert_null(snq_catalog_table(cat, "sys_number"));
}

/* --- hostile input ------------------------------------------------------------ */

static int table_exists(fixture *f, const char *name)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema WHERE name = ?1",
                                        -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_hostile_sql(void **state)
{
    fixture *f = *state;
    static const char *const queries[] = {
        "short_description=x'); DROP TABLE incident;--",
        "short_description=x\"; DROP TABLE incident;--",
        "short_descriptionLIKE%'; DELETE FROM incident;--",
        "numberIN1','2');DROP TABLE incident;--,x",
        "number'; DROP TABLE incident;--=x",
        "number;DROP TABLE incident=x",
        "ORDERBYnumber; DROP TABLE incident",
        "ORDERBYnumber DESC",
        "priority=1 OR 1=1",
        "priority=1) OR (1=1",
        "assigned_to.user_name=' OR ''='",
        "opened_atBETWEEN'@'); DROP TABLE incident;--",
        "short_description=\xff\xfe\x80 invalid utf-8",
    };
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        const char *got = run(f, queries[i]);
        /* Each either matches nothing or was dropped whole (every row). */
        if (*got && strcmp(got, "1,2,3,4,5") != 0)
            fail_msg("'%s': got [%s]", queries[i], got);
        /* Nothing from the query text reaches the SQL: only ?N placeholders. */
        snquery *q = parse_ok(queries[i]);
        snq_sql s;
        assert_int_equal(
            snquery_compile(q, itsm_table_catalog(f->t), "incident", NULL, &s, NULL, 0), TB_OK);
        assert_null(strstr(s.where.data, "DROP"));
        assert_null(strstr(s.where.data, "DELETE"));
        assert_null(strstr(s.where.data, "''"));
        assert_null(strstr(s.order.data, "DROP"));
        assert_null(strstr(s.order.data, "DESC"));
        snq_sql_free(&s);
        snquery_free(q);
    }
    EXPECT(f, "priority=1 OR 1=1", "1,2,3,4,5");
    assert_int_equal(f->nignored, 1);
    assert_true(table_exists(f, "incident"));
    EXPECT(f, "", "1,2,3,4,5");
}

static void test_hostile_shapes(void **state)
{
    fixture *f = *state;
    static const char *const queries[] = {
        "^^^", "=", "ORDERBY", "ORDERBYDESC", "^OR", "^NQ", "^", "OR", "NQ", "^ORDERBY^",
        "IN", "numberIN", "^EQ", "EQ^EQ", "^OR^OR^NQ^NQ", "ORDERBY.", "ORDERBY..", ".",
        "a", "a.b.c.d.e=1", "number=^", "=^=^=", "@", "numberBETWEEN@", "numberBETWEEN@@",
        "opened_atBETWEENjavascript:gs.dateGenerate('2024-01-01','00:00:00')@",
        "x=javascript:gs.dateGenerate('", "number NOT IN", "numberNOT", "numberNOT LIK",
    };
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        size_t total = 0;
        run_full(f, "incident", queries[i], NULL, 0, 0, &total);
        assert_true(total <= 5);
    }
}

/* Chains up to the part cap must run: the compiler nests them balanced, as
 * SQLite refuses expressions deeper than 1000. */
static void test_long_chains(void **state)
{
    fixture *f = *state;
    double t0 = now_s();
    char *s = repeat("number=INC0010004", "^ORnumber=INC0010002", SNQ_MAX_PARTS - 1);
    EXPECT(f, s, "2,4");
    free(s);
    s = repeat("priority>1", "^priority!=3", SNQ_MAX_PARTS - 1);
    EXPECT(f, s, "2,4,5");
    free(s);
    s = repeat("priority=5", "^NQpriority=1", SNQ_MAX_PARTS - 1);
    EXPECT(f, s, "1,5");
    free(s);
    s = repeat("priority=5", "^ORDERBYDESCnumber", SNQ_MAX_PARTS - 1);
    EXPECT(f, s, "5");
    free(s);
    s = repeat("assigned_to.user_name=bob", "^ORassigned_to.name=Carol Clark", SNQ_MAX_PARTS - 1);
    EXPECT(f, s, "2,5");
    free(s);
    /* 10 lists of 999 items each: 9990 bound values. */
    char *list = repeat("priorityIN3", ",9", SNQ_MAX_IN_ITEMS - 1);
    tb_buf b;
    tb_buf_init(&b, 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(tb_buf_printf(&b, "%s%s", i ? "^OR" : "", list), TB_OK);
    EXPECT(f, b.data, "3");
    tb_buf_free(&b);
    free(list);
    assert_true(now_s() - t0 < 20);
}

/* A time budget stops a query that would scan for long. */
static void test_timeout(void **state)
{
    fixture *f = *state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(
        sqlite3_exec(db,
                     "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)"
                     " INSERT INTO incident (sys_id, sys_created_on, sys_updated_on, number,"
                     " short_description) SELECT lower(hex(randomblob(16))), '2024-01-01 00:00:00',"
                     " '2024-01-01 00:00:00', 'GEN' || i, 'generated ' || i FROM n",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    char *s = repeat("short_descriptionLIKEzz0", "^ORshort_descriptionLIKEzz1", 20);
    snquery *q = parse_ok(s);
    itsm_table_query req = {.table = "incident", .q = q, .timeout_ms = 1};
    itsm_record **v = NULL;
    size_t n = 0, total = 0;
    assert_int_equal(itsm_embedded_table_query(f->t, &req, &v, &n, &total), TB_ERR_TIMEOUT);
    assert_null(v);
    assert_int_equal(n, 0);
    assert_int_equal(total, 0);
    snquery_free(q);
    free(s);
    /* The handle is usable afterwards, and holds no old snapshot: a record
     * written since is seen. */
    itsm_kv kv[] = {{"short_description", "after the timeout"}};
    create(f->h, "incident", kv, 1, NULL);
    q = parse_ok("short_description=after the timeout");
    req = (itsm_table_query){.table = "incident", .q = q, .timeout_ms = 60000};
    assert_int_equal(itsm_embedded_table_query(f->t, &req, &v, &n, &total), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(total, 1);
    itsm_records_free(v, n);
    snquery_free(q);
}

/* Random token soup: every parse either succeeds or hits a cap, and every
 * successful parse runs. */
static void test_fuzz(void **state)
{
    fixture *f = *state;
    static const char *const tok[] = {
        "^", "^OR", "^NQ", "^EQ", "number", "state", "priority", "assigned_to", ".", "user_name",
        "assigned_to.user_name", "opened_at", "active", "=", "!=", "<", ">=", "IN", "NOT IN",
        "LIKE", "NOT LIKE", "STARTSWITH", "ISEMPTY", "BETWEEN", "@", "ORDERBY", "ORDERBYDESC",
        "GROUPBY", "'", "\"", ";", ",", "%", "_", "\\", "javascript:", "1", "-5", "INC0010001",
        "true", "\xff", " ", "--", "DROP TABLE incident", "*", "!*", "OR", "NQ", "2024-01-01",
    };
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    char buf[512];
    double t0 = now_s();
    for (int i = 0; i < 3000; i++) {
        size_t len = 0;
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        int ntok = (int)(rng % 24);
        for (int k = 0; k < ntok; k++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            const char *t = tok[rng % (sizeof tok / sizeof tok[0])];
            size_t tl = strlen(t);
            if (len + tl >= sizeof buf)
                break;
            memcpy(buf + len, t, tl);
            len += tl;
        }
        buf[len] = '\0';
        char err[256];
        snquery *q = NULL;
        tb_err rc = snquery_parse(buf, len, &q, err, sizeof err);
        if (rc)
            fail_msg("fuzz parse '%s': %s", buf, tb_strerror(rc));
        itsm_table_query req = {.table = rng & 1 ? "incident" : "sys_user", .q = q, .limit = 3};
        itsm_record **v = NULL;
        size_t n = 0, total = 0;
        rc = itsm_embedded_table_query(f->t, &req, &v, &n, &total);
        if (rc)
            fail_msg("fuzz query '%s': %s", buf, tb_strerror(rc));
        itsm_records_free(v, n);
        snquery_free(q);
    }
    assert_true(now_s() - t0 < 60);
    assert_true(table_exists(f, "incident"));
}

/* --- index use ---------------------------------------------------------------- */

static char *plan_of(fixture *f, const char *table, const char *query)
{
    snquery *q = parse_ok(query);
    itsm_table_query req = {.table = table, .q = q, .limit = 10};
    tb_buf plan;
    tb_buf_init(&plan, 0);
    assert_int_equal(itsm_table_explain(f->t, &req, &plan), TB_OK);
    snquery_free(q);
    return tb_buf_take(&plan);
}

#define EXPECT_PLAN(f, table, query, needle)                                          \
    do {                                                                              \
        char *plan_ = plan_of(f, table, query);                                       \
        if (!strstr(plan_, needle))                                                   \
            fail_msg("plan of '%s' lacks '%s':\n%s", query, needle, plan_);           \
        free(plan_);                                                                  \
    } while (0)

static void test_index_use(void **state)
{
    fixture *f = *state;
    char q[128];
    EXPECT_PLAN(f, "incident", "number=INC0012345", "USING INDEX incident_number (number=?)");
    EXPECT_PLAN(f, "incident", "numberININC1,INC2", "USING INDEX incident_number (number=?)");
    snprintf(q, sizeof q, "sys_id=%s", f->inc2);
    EXPECT_PLAN(f, "incident", q, "(sys_id=?)");
    EXPECT_PLAN(f, "incident", q, "USING INDEX sqlite_autoindex_incident_1");
    EXPECT_PLAN(f, "incident", "active=true^state<3",
                "USING INDEX incident_active_state (active=? AND state<?)");
    snprintf(q, sizeof q, "assigned_to=%s", f->user_alice);
    EXPECT_PLAN(f, "incident", q, "USING INDEX incident_assigned_to (assigned_to=?)");
    EXPECT_PLAN(f, "sys_user", "user_name=bob", "USING INDEX sys_user_user_name");
    EXPECT_PLAN(f, "change_request", "number=CHG0030001", "USING INDEX change_request_number");
    /* A walk that needs a match starts from the referenced table's index and
     * reaches the rows through the reference's; one that also matches empty
     * references joins on the referenced table's primary key. */
    EXPECT_PLAN(f, "incident", "assigned_to.user_name=bob", "USING INDEX sys_user_user_name");
    EXPECT_PLAN(f, "incident", "assigned_to.user_name=bob", "USING INDEX incident_assigned_to");
    EXPECT_PLAN(f, "incident", "assigned_to.user_name!=bob", "sqlite_autoindex_sys_user_1");
    /* Sorting by an indexed column needs no sort step. */
    char *plan = plan_of(f, "incident", "ORDERBYDESCnumber");
    assert_null(strstr(plan, "TEMP B-TREE"));
    free(plan);
}

/* --- ticket list --query ----------------------------------------------------- */

/* Runs `ticketbridge ticket ARGS...` in process; its stdout into out. */
static int cli(fixture *f, char *out, size_t outsz, int argc, const char **args)
{
    tb_cli c;
    memset(&c, 0, sizeof c);
    tb_config_defaults(&c.cfg);
    snprintf(c.cfg.database, sizeof c.cfg.database, "%s", f->path);
    char path[600];
    snprintf(path, sizeof path, "%s.out", f->path);
    fflush(stdout);
    int saved = dup(1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    char *argv[16];
    argv[0] = "ticket";
    for (int i = 0; i < argc; i++)
        argv[i + 1] = (char *)args[i];
    argv[argc + 1] = NULL;
    int ret = cli_ticket(&c, argc + 1, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(out, 1, outsz - 1, fp);
    out[n] = '\0';
    fclose(fp);
    unlink(path);
    return ret;
}

static void test_cli(void **state)
{
    fixture *f = *state;
    char out[8192];
    const char *a1[] = {"list", "--query", "priority=2^ORpriority=5^ORDERBYDESCnumber",
                        "--fields", "number,assigned_to.user_name,bogus,short_description"};
    assert_int_equal(cli(f, out, sizeof out, 5, a1), 0);
    assert_string_equal(out, "number\tassigned_to.user_name\tshort_description\n"
                             "INC0010005\tcarol\tprinter jam\n"
                             "INC0010002\tbob\tVPN down\n");
    const char *a2[] = {"list", "--query", "active=false"};
    assert_int_equal(cli(f, out, sizeof out, 3, a2), 0);
    assert_non_null(strstr(out, "INC0010004"));
    assert_non_null(strstr(out, "alice"));
    assert_null(strstr(out, "INC0010001"));
    const char *a3[] = {"list", "--table", "sys_user", "--query", "user_nameSTARTSWITHc",
                        "--fields", "user_name,name"};
    assert_int_equal(cli(f, out, sizeof out, 7, a3), 0);
    assert_string_equal(out, "user_name\tname\ncarol\tCarol Clark\n");
    const char *a4[] = {"list", "--query", "ORDERBYnumber", "--limit", "2", "--fields", "number"};
    assert_int_equal(cli(f, out, sizeof out, 7, a4), 0);
    assert_string_equal(out, "number\nINC0010001\nINC0010002\n");

    /* Bad input: a message and exit 1, nothing written. */
    const char *b1[] = {"list", "--table", "tb_job", "--query", "id=1"};
    assert_int_equal(cli(f, out, sizeof out, 5, b1), 1);
    char *many = repeat("a=1", "^a=1", SNQ_MAX_PARTS);
    const char *b2[] = {"list", "--query", many};
    assert_int_equal(cli(f, out, sizeof out, 3, b2), 1);
    free(many);
    many = repeat("number", ",number", SNQ_MAX_PARTS);
    const char *b3[] = {"list", "--query", "", "--fields", many};
    assert_int_equal(cli(f, out, sizeof out, 5, b3), 1);
    free(many);
    const char *b4[] = {"list", "--query", "number'; DROP TABLE incident;--=x", "--fields",
                        "number"};
    assert_int_equal(cli(f, out, sizeof out, 5, b4), 0);
    assert_true(table_exists(f, "incident"));
    const char *b5[] = {"list", "--query"};
    assert_int_equal(cli(f, out, sizeof out, 2, b5), 2);
    const char *b6[] = {"list", "--query", "a=1", "extra"};
    assert_int_equal(cli(f, out, sizeof out, 4, b6), 2);
    /* Values with tabs and newlines stay on one line. */
    itsm_kv kv[] = {{"short_description", "tab\there\nnew\\line"}};
    create(f->h, "incident", kv, 1, NULL);
    const char *a5[] = {"list", "--query", "number=INC0010006", "--fields", "short_description"};
    assert_int_equal(cli(f, out, sizeof out, 5, a5), 0);
    assert_string_equal(out, "short_description\ntab\\there\\nnew\\\\line\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_operators),
        cmocka_unit_test(test_parse_links_and_order),
        cmocka_unit_test(test_parse_ignored_parts),
        cmocka_unit_test(test_parse_caps),
        cmocka_unit_test_setup_teardown(test_operators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orderby, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dot_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ignored_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_offset_total_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_sql, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_chains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
