/* The Table API's pure parts (paths, parameters, Link headers, roles,
 * choices, bodies, multipart, queries from terms), then representation and
 * filters against a real embedded store, and the store additions it uses
 * (remove, attach_by, attachment content). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/roles.h"
#include "flow/multipart.h"
#include "flow/table_api_int.h"
#include "itsm/snquery_build.h"

/* --- paths and parameters ---------------------------------------------------- */

static void test_paths(void **state)
{
    (void)state;
    tapi_path p;
    assert_int_equal(tapi_parse_path("incident", &p), TAPI_PATH_OK);
    assert_string_equal(p.table, "incident");
    assert_false(p.has_id);
    assert_int_equal(tapi_parse_path("incident/", &p), TAPI_PATH_OK);
    assert_false(p.has_id);
    assert_int_equal(tapi_parse_path("incident/0123456789ABCDEF0123456789abcdef", &p), TAPI_PATH_OK);
    assert_true(p.has_id && p.id_valid);
    assert_string_equal(p.sys_id, "0123456789abcdef0123456789abcdef");
    assert_int_equal(tapi_parse_path("incident/0123456789abcdef0123456789abcdef/", &p), TAPI_PATH_OK);
    assert_true(p.id_valid);
    assert_int_equal(tapi_parse_path("incident/nope", &p), TAPI_PATH_OK);
    assert_true(p.has_id && !p.id_valid);
    assert_int_equal(tapi_parse_path("incident/0123456789abcdef0123456789abcdeg", &p), TAPI_PATH_OK);
    assert_false(p.id_valid);
    assert_int_equal(tapi_parse_path("incident/0123456789abcdef0123456789abcdef0", &p), TAPI_PATH_OK);
    assert_false(p.id_valid);
    assert_int_equal(tapi_parse_path("incident/a/b", &p), TAPI_PATH_NO_RESOURCE);
    assert_int_equal(tapi_parse_path("", &p), TAPI_PATH_NO_RESOURCE);
    assert_int_equal(tapi_parse_path("/incident", &p), TAPI_PATH_NO_RESOURCE);
    /* the server decodes %2F and ".." before we see them */
    assert_int_equal(tapi_parse_path("../x", &p), TAPI_PATH_BAD_TABLE);
    assert_string_equal(p.table, "..");
    assert_int_equal(tapi_parse_path("Incident", &p), TAPI_PATH_BAD_TABLE);
    assert_int_equal(tapi_parse_path("inc'; drop table incident;--", &p), TAPI_PATH_BAD_TABLE);
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(tapi_parse_path(longname, &p), TAPI_PATH_BAD_TABLE);
    assert_int_equal(strlen(p.table), ITSM_MAX_NAME);
}

static void test_params(void **state)
{
    (void)state;
    assert_true(tapi_param_true("true"));
    assert_true(tapi_param_true("TRUE"));
    assert_false(tapi_param_true("yes"));
    assert_false(tapi_param_true(NULL));
    assert_int_equal(tapi_parse_display("all"), TAPI_DV_ALL);
    assert_int_equal(tapi_parse_display("True"), TAPI_DV_TRUE);
    assert_int_equal(tapi_parse_display("false"), TAPI_DV_FALSE);
    assert_int_equal(tapi_parse_display("x"), TAPI_DV_FALSE);
    assert_int_equal(tapi_parse_display(NULL), TAPI_DV_FALSE);
    size_t n = 0;
    assert_true(tapi_parse_count("0", 10, &n) && n == 0);
    assert_true(tapi_parse_count("10", 10, &n) && n == 10);
    assert_false(tapi_parse_count("11", 10, &n));
    assert_false(tapi_parse_count("-1", 10, &n));
    assert_false(tapi_parse_count("1e3", 10000, &n));
    assert_false(tapi_parse_count("", 10, &n));
    assert_false(tapi_parse_count("99999999999999999999999", SIZE_MAX, &n));
    assert_false(tapi_parse_count(" 1", 10, &n));
}

static char *page_links(size_t offset, size_t limit, long long total, size_t rows)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    assert_int_equal(tapi_link_header("https://h/api/now/table/incident", "sysparm_query=active%3Dtrue",
                                      offset, limit, total, rows, &b), TB_OK);
    return b.data ? b.data : strdup("");
}

static void test_link_header(void **state)
{
    (void)state;
    char *l = page_links(0, 10, 25, 10);
    assert_string_equal(l, "<https://h/api/now/table/incident?sysparm_query=active%3Dtrue&sysparm_offset=0&sysparm_limit=10>;rel=\"first\","
                           "<https://h/api/now/table/incident?sysparm_query=active%3Dtrue&sysparm_offset=10&sysparm_limit=10>;rel=\"next\","
                           "<https://h/api/now/table/incident?sysparm_query=active%3Dtrue&sysparm_offset=20&sysparm_limit=10>;rel=\"last\"");
    free(l);
    l = page_links(10, 10, 25, 10);
    assert_non_null(strstr(l, "sysparm_offset=0&sysparm_limit=10>;rel=\"prev\""));
    assert_non_null(strstr(l, "sysparm_offset=20&sysparm_limit=10>;rel=\"next\""));
    free(l);
    l = page_links(20, 10, 25, 5);          /* last page: no next */
    assert_null(strstr(l, "rel=\"next\""));
    assert_non_null(strstr(l, "sysparm_offset=10&sysparm_limit=10>;rel=\"prev\""));
    assert_non_null(strstr(l, "sysparm_offset=20&sysparm_limit=10>;rel=\"last\""));
    free(l);
    l = page_links(0, 10, 0, 0);            /* nothing matches */
    assert_null(strstr(l, "rel=\"next\""));
    assert_non_null(strstr(l, "sysparm_offset=0&sysparm_limit=10>;rel=\"last\""));
    free(l);
    l = page_links(0, 10, 20, 10);          /* exactly two pages */
    assert_non_null(strstr(l, "sysparm_offset=10&sysparm_limit=10>;rel=\"last\""));
    free(l);
    l = page_links(5, 10, -1, 10);          /* sysparm_no_count: next when the page was full, no last */
    assert_non_null(strstr(l, "sysparm_offset=15&sysparm_limit=10>;rel=\"next\""));
    assert_non_null(strstr(l, "sysparm_offset=0&sysparm_limit=10>;rel=\"prev\""));
    assert_null(strstr(l, "rel=\"last\""));
    free(l);
    l = page_links(5, 10, -1, 3);
    assert_null(strstr(l, "rel=\"next\""));
    free(l);
    tb_buf b;
    tb_buf_init(&b, 0);
    assert_int_equal(tapi_link_header("u", "", 0, 0, 1, 0, &b), TB_ERR_INVALID);
    tb_buf_free(&b);
    tb_buf_init(&b, 64);                /* capped: a long header is refused, not cut */
    assert_int_equal(tapi_link_header("https://h/api/now/table/incident", "", 0, 10, 100, 10, &b),
                     TB_ERR_TOO_LARGE);
    tb_buf_free(&b);
}

static void test_url_encode(void **state)
{
    (void)state;
    tb_buf b;
    tb_buf_init(&b, 0);
    assert_int_equal(tapi_url_encode(&b, "a=b^ORc d&e/\xc3\xa9~_.-"), TB_OK);
    assert_string_equal(b.data, "a%3Db%5EORc%20d%26e%2F%C3%A9~_.-");
    tb_buf_free(&b);
}

static void test_roles_and_tables(void **state)
{
    (void)state;
    assert_true(tapi_table_served("incident"));
    assert_true(tapi_table_served("sys_attachment"));
    assert_false(tapi_table_served("tb_account"));
    assert_false(tapi_table_served("sys_number"));
    assert_false(tapi_table_served(NULL));
    assert_string_equal(tapi_required_role("incident", TAPI_READ), ROLE_ITIL);
    assert_string_equal(tapi_required_role("incident", TAPI_WRITE), ROLE_ITIL);
    assert_string_equal(tapi_required_role("incident", TAPI_DELETE), ROLE_ADMIN);
    assert_null(tapi_required_role("sys_user", TAPI_READ));
    assert_string_equal(tapi_required_role("sys_user", TAPI_WRITE), ROLE_ADMIN);
    assert_string_equal(tapi_required_role("sys_journal_field", TAPI_READ), ROLE_ITIL);
    assert_string_equal(tapi_required_role("sys_journal_field", TAPI_WRITE), ROLE_ADMIN);
    assert_string_equal(tapi_required_role("tb_account", TAPI_READ), ROLE_ADMIN);
    /* what the roles mean for users */
    assert_true(roles_grant("itil", tapi_required_role("change_request", TAPI_WRITE)));
    assert_true(roles_grant("x_bmgr_bomgar_inte.itil", tapi_required_role("incident", TAPI_READ)));
    assert_false(roles_grant("x_bmgr_bomgar_pam.data_viewer", tapi_required_role("incident", TAPI_READ)));
    assert_true(roles_grant("admin", tapi_required_role("incident", TAPI_DELETE)));
    assert_false(roles_grant("itil", tapi_required_role("sys_user", TAPI_WRITE)));
}

static void test_choices_and_display(void **state)
{
    (void)state;
    assert_string_equal(tapi_choice_label("incident", "state", "2"), "In Progress");
    assert_string_equal(tapi_choice_label("change_request", "state", "-5"), "New");
    assert_string_equal(tapi_choice_label("problem", "state", "107"), "Closed");
    assert_string_equal(tapi_choice_label("sc_task", "state", "3"), "Closed Complete");
    assert_string_equal(tapi_choice_label("sn_customerservice_case", "state", "18"), "Awaiting Info");
    assert_string_equal(tapi_choice_label("incident", "priority", "1"), "1 - Critical");
    assert_string_equal(tapi_choice_label("incident", "impact", "3"), "3 - Low");
    assert_string_equal(tapi_choice_label("incident", "approval", "not requested"), "Not Yet Requested");
    assert_null(tapi_choice_label("incident", "state", "99"));
    assert_null(tapi_choice_label("sys_user", "name", "x"));
    assert_string_equal(tapi_choice_value("incident", "state", "closed"), "7");
    assert_string_equal(tapi_choice_value("incident", "state", "IN PROGRESS"), "2");
    assert_string_equal(tapi_choice_value("incident", "state", "7"), "7");
    assert_null(tapi_choice_value("incident", "state", "Done"));
    assert_string_equal(tapi_display_field("incident"), "number");
    assert_string_equal(tapi_display_field("sys_user"), "name");
    assert_string_equal(tapi_display_field("cmdb_ci"), "name");
    assert_null(tapi_display_field("core_company"));
    assert_true(tapi_is_journal("incident", "work_notes"));
    assert_true(tapi_is_journal("cmdb_ci", "comments"));
    assert_false(tapi_is_journal("sys_user", "comments"));
    assert_false(tapi_is_journal("incident", "description"));
}

static void test_json_str(void **state)
{
    (void)state;
    json_t *j = tapi_json_str("caf\xc3\xa9");
    assert_string_equal(json_string_value(j), "caf\xc3\xa9");
    json_decref(j);
    j = tapi_json_str("a\xff" "b\xc3");     /* invalid bytes become U+FFFD */
    assert_string_equal(json_string_value(j), "a\xef\xbf\xbd" "b\xef\xbf\xbd");
    json_decref(j);
    j = tapi_json_str("\xed\xa0\x80");       /* a surrogate */
    assert_non_null(j);
    json_decref(j);
    assert_true(tapi_utf8("ok", 2));
    assert_false(tapi_utf8("\xc0\xaf", 2)); /* overlong '/' */
}

/* --- queries from terms ------------------------------------------------------ */

static void test_terms(void **state)
{
    (void)state;
    snq_term t[] = {
        {"number", SNQ_EQ, SNQ_LINK_AND, "INC^0010001"},         /* '^' is just a character here */
        {"state", SNQ_IN, SNQ_LINK_AND, "1,,2,3"},
        {"Bad Field", SNQ_EQ, SNQ_LINK_OR, "x"},
        {"assigned_to.user_name", SNQ_EQ, SNQ_LINK_OR, "jdoe"},
        {"caller_id", SNQ_EQ, SNQ_LINK_AND, ""},
        {"opened_at", SNQ_BETWEEN, SNQ_LINK_AND, "2024-01-01 00:00:00@2024-12-31 23:59:59"},
    };
    snquery *q = NULL;
    assert_int_equal(snquery_from_terms(t, 6, &q), TB_OK);
    assert_int_equal(q->nconds, 5);
    assert_int_equal(q->nignored, 1);
    assert_string_equal(q->ignored[0].reason, "bad field name");
    assert_string_equal(q->conds[0].field, "number");
    assert_string_equal(q->values[q->conds[0].first_value], "INC^0010001");
    assert_int_equal(q->conds[1].nvalues, 3);
    assert_string_equal(q->values[q->conds[1].first_value + 2], "3");
    assert_int_equal(q->conds[2].link, SNQ_LINK_OR);
    assert_int_equal(q->conds[3].op, SNQ_ISEMPTY);
    assert_int_equal(q->conds[4].nvalues, 2);
    snquery_free(q);
    assert_int_equal(snquery_from_terms(NULL, 0, &q), TB_OK);
    assert_int_equal(q->nconds, 0);
    snquery_free(q);
    snq_term bad = {NULL, SNQ_EQ, SNQ_LINK_AND, "x"};
    assert_int_equal(snquery_from_terms(&bad, 1, &q), TB_ERR_INVALID);
    assert_null(q);
    /* caps */
    size_t n = SNQ_MAX_PARTS + 1;
    snq_term *many = calloc(n, sizeof *many);
    for (size_t i = 0; i < n; i++)
        many[i] = (snq_term){"number", SNQ_EQ, SNQ_LINK_OR, "x"};
    assert_int_equal(snquery_from_terms(many, n, &q), TB_ERR_TOO_LARGE);
    free(many);
    char *list = malloc(4 * (SNQ_MAX_IN_ITEMS + 1) + 1);
    list[0] = '\0';
    for (size_t i = 0; i <= SNQ_MAX_IN_ITEMS; i++)
        strcat(list, "1,");
    snq_term in = {"state", SNQ_IN, SNQ_LINK_AND, list};
    assert_int_equal(snquery_from_terms(&in, 1, &q), TB_ERR_TOO_LARGE);
    free(list);
}

/* --- bodies ------------------------------------------------------------------ */

static snq_column cols[] = {
    {"sys_id", SNQ_ID, NULL, false},         {"number", SNQ_TEXT, NULL, false},
    {"short_description", SNQ_TEXT, NULL, false}, {"state", SNQ_INTEGER, NULL, false},
    {"active", SNQ_BOOLEAN, NULL, false},    {"opened_at", SNQ_DATETIME, NULL, false},
    {"caller_id", SNQ_ID, "sys_user", false}, {"description", SNQ_TEXT, NULL, false},
    {"sys_created_by", SNQ_TEXT, NULL, false},
};
static snq_table incident = {"incident", cols, sizeof cols / sizeof cols[0]};

static const char *kv(const tapi_body *b, const char *name)
{
    for (size_t i = 0; i < b->nkv; i++)
        if (!strcmp(b->kv[i].name, name))
            return b->kv[i].value ? b->kv[i].value : "(null)";
    return NULL;
}

static tb_err body(const char *json, bool insert, tapi_body *b, tapi_body_err *e)
{
    return tapi_body_parse(&incident, json, strlen(json), insert, false, b, e);
}

static void test_body(void **state)
{
    (void)state;
    tapi_body b;
    tapi_body_err e;
    assert_int_equal(body("{\"short_description\":\"Disk\",\"state\":2,\"active\":\"TRUE\","
                          "\"opened_at\":\"2024-05-01T10:11:12Z\",\"caller_id\":\"ABCDEF0123456789abcdef0123456789\","
                          "\"unknown\":\"x\",\"sys_created_by\":\"mallory\",\"sys_id\":\"0123456789abcdef0123456789abcdef\","
                          "\"work_notes\":\"note\",\"comments\":\"\",\"description\":null}",
                          true, &b, &e), TB_OK);
    assert_string_equal(kv(&b, "short_description"), "Disk");
    assert_string_equal(kv(&b, "state"), "2");
    assert_string_equal(kv(&b, "active"), "true");
    assert_string_equal(kv(&b, "opened_at"), "2024-05-01 10:11:12");
    assert_string_equal(kv(&b, "caller_id"), "abcdef0123456789abcdef0123456789");
    assert_string_equal(kv(&b, "sys_id"), "0123456789abcdef0123456789abcdef");
    assert_string_equal(kv(&b, "description"), "");
    assert_null(kv(&b, "unknown"));
    assert_null(kv(&b, "sys_created_by"));      /* system fields are the store's */
    assert_string_equal(b.work_notes, "note");
    assert_null(b.comments);                      /* empty entry: nothing to add */
    assert_int_equal(b.skipped, 2);
    tapi_body_free(&b);

    /* sys_id is not writable on update; a reference may be given as {"value":...} */
    assert_int_equal(body("[{\"sys_id\":\"0123456789abcdef0123456789abcdef\",\"caller_id\":{\"link\":\"x\",\"value\":\"jdoe\"},"
                          "\"state\":\"\"},{\"state\":\"9\"}]", false, &b, &e), TB_OK);
    assert_null(kv(&b, "sys_id"));
    assert_string_equal(kv(&b, "caller_id"), "jdoe");
    assert_string_equal(kv(&b, "state"), "(null)");
    tapi_body_free(&b);
    assert_int_equal(body("{\"opened_at\":\"2024-05-01\"}", false, &b, &e), TB_OK);
    assert_string_equal(kv(&b, "opened_at"), "2024-05-01 00:00:00");
    tapi_body_free(&b);

    static const struct {
        const char *json, *message, *detail;
    } bad[] = {
        {"", "Exception while reading request", "empty"},
        {"{", "Exception while reading request", "not valid JSON"},
        {"{\"a\":1} x", "Exception while reading request", "not valid JSON"},
        {"\"text\"", "Exception while reading request", "not valid JSON"},
        {"[]", "Exception while reading request", "JSON object"},
        {"[1]", "Exception while reading request", "JSON object"},
        {"{\"state\":\"two\"}", "Invalid value", "state: 'two' is not an integer"},
        {"{\"state\":\"1; DROP TABLE incident\"}", "Invalid value", "not an integer"},
        {"{\"active\":\"maybe\"}", "Invalid value", "not true or false"},
        {"{\"opened_at\":\"yesterday\"}", "Invalid value", "not a date"},
        {"{\"opened_at\":\"2024-13-01 00:00:00\"}", "Invalid value", "not a date"},
        {"{\"sys_id\":\"../../etc\"}", "Invalid value", "not a sys_id"},
        {"{\"short_description\":[1,2]}", "Invalid value", "must be a string"},
        {"{\"short_description\":{\"a\":1}}", "Invalid value", "must be a string"},
        {"{\"short_description\":\"a\\u0000b\"}", "Exception while reading request", "not valid JSON"},
        {"{\"short_description\":\"\xff\"}", "Exception while reading request", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&e, 0, sizeof e);
        if (body(bad[i].json, true, &b, &e) != TB_ERR_INVALID)
            fail_msg("accepted: %s", bad[i].json);
        assert_string_equal(e.message, bad[i].message);
        if (!strstr(e.detail, bad[i].detail))
            fail_msg("%s: detail '%s' lacks '%s'", bad[i].json, e.detail, bad[i].detail);
        assert_null(b.kv);
    }
    /* too long for the field, and deeply nested */
    size_t big = ITSM_MAX_VALUE + 100;
    char *json = malloc(big + 64);
    strcpy(json, "{\"short_description\":\"");
    memset(json + strlen(json), 'x', big);
    strcpy(json + 22 + big, "\"}");
    assert_int_equal(body(json, true, &b, &e), TB_ERR_INVALID);
    assert_non_null(strstr(e.detail, "longer than"));
    free(json);
    size_t depth = 100000;
    json = malloc(2 * depth + 1);
    memset(json, '[', depth);
    memset(json + depth, ']', depth);
    json[2 * depth] = '\0';
    assert_int_equal(body(json, true, &b, &e), TB_ERR_INVALID);
    free(json);
}

static void test_body_input_display(void **state)
{
    (void)state;
    snq_column c[] = {{"state", SNQ_INTEGER, NULL, false}, {"approval", SNQ_TEXT, NULL, false}};
    snq_table t = {"incident", c, 2};
    tapi_body b;
    tapi_body_err e;
    const char *json = "{\"state\":\"In Progress\",\"approval\":\"Approved\"}";
    assert_int_equal(tapi_body_parse(&t, json, strlen(json), true, true, &b, &e), TB_OK);
    assert_string_equal(kv(&b, "state"), "2");
    assert_string_equal(kv(&b, "approval"), "approved");
    tapi_body_free(&b);
    assert_int_equal(tapi_body_parse(&t, json, strlen(json), true, false, &b, &e), TB_ERR_INVALID);
}

/* --- multipart ---------------------------------------------------------------- */

static void test_multipart(void **state)
{
    (void)state;
    static const char body[] =
        "preamble\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"table_name\"\r\n\r\nincident\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=table_sys_id\r\n\r\n0123\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a b.bin\"\r\n"
        "Content-Type: application/x-thing\r\n\r\n\x00\r\n--Xy\r\n\r\n"
        "--XyZ--\r\n";
    mp_part parts[MULTIPART_MAX_PARTS];
    size_t n = 0;
    char err[128];
    assert_int_equal(multipart_parse("multipart/form-data; boundary=\"XyZ\"", body, sizeof body - 1, parts, &n,
                                     err, sizeof err), TB_OK);
    assert_int_equal(n, 3);
    const mp_part *p = multipart_find(parts, n, "table_name");
    assert_non_null(p);
    assert_int_equal(p->data.n, 8);
    assert_memory_equal(p->data.p, "incident", 8);
    p = multipart_find(parts, n, "table_sys_id");
    assert_memory_equal(p->data.p, "0123", 4);
    p = &parts[2];
    assert_int_equal(p->filename.n, 7);
    assert_memory_equal(p->filename.p, "a b.bin", 7);
    assert_memory_equal(p->content_type.p, "application/x-thing", p->content_type.n);
    assert_int_equal(p->data.n, 9);             /* binary, with a CRLF and a near-delimiter inside */
    assert_memory_equal(p->data.p, "\x00\r\n--Xy\r\n", 9);
    assert_null(multipart_find(parts, n, "nope"));
    /* the first delimiter may open the body */
    static const char first[] = "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--";
    assert_int_equal(multipart_parse("multipart/form-data;boundary=b", first, sizeof first - 1, parts, &n,
                                     err, sizeof err), TB_OK);
    assert_int_equal(n, 1);

    static const struct {
        const char *ct, *body;
    } bad[] = {
        {"application/json", "--b\r\n"},
        {"multipart/form-data", "--b\r\n"},
        {"multipart/form-data; boundary=", "--b\r\n"},
        {"multipart/form-data; boundary=b", "no delimiter at all"},
        {"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nunterminated"},
        {"multipart/form-data; boundary=b", "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--"},
        {"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--"},
        {"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"x\""},
        {"multipart/form-data; boundary=b", "--bjunk"},
        {"multipart/form-data; boundary=\"b", "--b\r\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (multipart_parse(bad[i].ct, bad[i].body, strlen(bad[i].body), parts, &n, err, sizeof err) !=
            TB_ERR_INVALID)
            fail_msg("accepted case %zu", i);
    tb_buf many;
    tb_buf_init(&many, 0);
    for (int i = 0; i <= MULTIPART_MAX_PARTS; i++)
        tb_buf_appends(&many, "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n");
    tb_buf_appends(&many, "--b--");
    assert_int_equal(multipart_parse("multipart/form-data; boundary=b", many.data, many.len, parts, &n, err,
                                     sizeof err), TB_ERR_TOO_LARGE);
    tb_buf_free(&many);
}

/* --- against a real store ------------------------------------------------------ */

typedef struct fixture {
    char path[512];
    itsm *h;
    itsm_table *t;
    char user[33], ci[33], inc[33];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(test_db_path(f->path, sizeof f->path, "test_table_api"), 0);
    assert_int_equal(itsm_embedded_schema(f->path), TB_OK);
    assert_int_equal(itsm_embedded_open(f->path, &f->h), TB_OK);
    itsm_record *r = NULL;
    itsm_kv u[] = {{"user_name", "jdoe"}, {"name", "John Doe"}};
    assert_int_equal(itsm_create(f->h, "sys_user", u, 2, &r), TB_OK);
    strcpy(f->user, r->sys_id);
    itsm_record_free(r);
    itsm_kv c[] = {{"name", "WEB01"}};
    assert_int_equal(itsm_create(f->h, "cmdb_ci", c, 1, &r), TB_OK);
    strcpy(f->ci, r->sys_id);
    itsm_record_free(r);
    itsm_kv i[] = {{"short_description", "Disk full"}, {"assigned_to", f->user}, {"cmdb_ci", f->ci},
                   {"state", "2"}, {"company", "0123456789abcdef0123456789abcdef"}};
    assert_int_equal(itsm_create(f->h, "incident", i, 5, &r), TB_OK);
    strcpy(f->inc, r->sys_id);
    itsm_record_free(r);
    assert_int_equal(itsm_add_journal(f->h, "incident", f->inc, "work_notes", "first", "jdoe"), TB_OK);
    assert_int_equal(itsm_add_journal(f->h, "incident", f->inc, "comments", "for the caller", "someone"), TB_OK);
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

static json_t *one(fixture *f, tapi_display d, bool exclude, const char *fields)
{
    tapi_view v = {itsm_table_catalog(f->t), "incident", d, exclude, fields, "https://tb.example:8443"};
    json_t *rec = NULL;
    assert_int_equal(tapi_fetch_one(f->t, &v, f->inc, &rec), TB_OK);
    return rec;
}

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        fail_msg("%s is not a string", k);
    return json_string_value(v);
}

static void test_representation(void **state)
{
    fixture *f = *state;
    char link[200];
    snprintf(link, sizeof link, "https://tb.example:8443/api/now/table/sys_user/%s", f->user);

    json_t *r = one(f, TAPI_DV_FALSE, false, NULL);
    assert_string_equal(str(r, "state"), "2");
    assert_string_equal(str(r, "active"), "true");
    assert_string_equal(str(r, "priority"), "5");          /* numbers are strings */
    assert_string_equal(str(r, "caller_id"), "");          /* empty reference */
    assert_string_equal(str(r, "work_notes"), "");         /* journal fields read back empty */
    assert_string_equal(str(r, "comments"), "");
    assert_int_equal(strlen(str(r, "sys_created_on")), 19);
    json_t *ref = json_object_get(r, "assigned_to");
    assert_string_equal(str(ref, "link"), link);
    assert_string_equal(str(ref, "value"), f->user);
    assert_int_equal(json_object_size(ref), 2);
    /* a target the store does not have still links */
    assert_non_null(strstr(str(json_object_get(r, "company"), "link"), "/api/now/table/core_company/"));
    json_t *it;
    const char *key;
    json_object_foreach(r, key, it)
        if (!json_is_string(it) && !json_is_object(it))
            fail_msg("%s is neither a string nor a reference", key);
    json_decref(r);

    r = one(f, TAPI_DV_FALSE, true, NULL);
    assert_string_equal(str(r, "assigned_to"), f->user);
    json_decref(r);

    r = one(f, TAPI_DV_TRUE, false, "number,state,assigned_to,cmdb_ci,company,priority,work_notes,comments");
    assert_int_equal(json_object_size(r), 8);
    assert_string_equal(str(r, "state"), "In Progress");
    assert_string_equal(str(r, "priority"), "5 - Planning");
    ref = json_object_get(r, "assigned_to");
    assert_string_equal(str(ref, "display_value"), "John Doe");
    assert_string_equal(str(ref, "link"), link);
    assert_string_equal(str(json_object_get(r, "cmdb_ci"), "display_value"), "WEB01");
    assert_string_equal(str(json_object_get(r, "company"), "display_value"), "");
    assert_non_null(strstr(str(r, "work_notes"), " - John Doe (Work notes)\nfirst\n\n"));
    assert_non_null(strstr(str(r, "comments"), " - someone (Additional comments)\nfor the caller\n\n"));
    json_decref(r);

    r = one(f, TAPI_DV_TRUE, true, "assigned_to");
    assert_string_equal(str(r, "assigned_to"), "John Doe");
    json_decref(r);

    r = one(f, TAPI_DV_ALL, false, "state,assigned_to,caller_id,work_notes");
    json_t *s = json_object_get(r, "state");
    assert_string_equal(str(s, "display_value"), "In Progress");
    assert_string_equal(str(s, "value"), "2");
    ref = json_object_get(r, "assigned_to");
    assert_string_equal(str(ref, "display_value"), "John Doe");
    assert_string_equal(str(ref, "value"), f->user);
    assert_string_equal(str(ref, "link"), link);
    assert_string_equal(str(json_object_get(r, "caller_id"), "value"), "");
    assert_string_equal(str(json_object_get(r, "work_notes"), "value"), "");
    json_decref(r);

    /* unknown fields are left out; dot-walks come back under their path */
    r = one(f, TAPI_DV_FALSE, false, " number , nope,assigned_to.user_name,assigned_to.x,a.b.c,,number");
    assert_int_equal(json_object_size(r), 2);
    assert_string_equal(str(r, "assigned_to.user_name"), "jdoe");
    json_decref(r);

    tapi_view v = {itsm_table_catalog(f->t), "incident", TAPI_DV_FALSE, false, NULL, "https://h"};
    json_t *rec = NULL;
    assert_int_equal(tapi_fetch_one(f->t, &v, "0123456789abcdef0123456789abcdef", &rec), TB_ERR_NOT_FOUND);
    v.table = "no_such_table";
    assert_int_equal(tapi_fetch_one(f->t, &v, f->inc, &rec), TB_ERR_NOT_FOUND);
}

static json_t *filter(fixture *f, const char *name, const char *value, size_t *ignored)
{
    const char *names[] = {name, "active"}, *values[] = {value, "true"};
    snquery *q = NULL;
    assert_int_equal(tapi_filter_query(itsm_table_catalog(f->t), "incident", names, values, 2, &q, ignored),
                     TB_OK);
    tapi_view v = {itsm_table_catalog(f->t), "incident", TAPI_DV_FALSE, true, "number", "https://h"};
    tapi_fetch fe = {.view = &v, .q = q, .limit = 10};
    json_t *rows = NULL;
    size_t total = 0;
    assert_int_equal(tapi_fetch_rows(f->t, &fe, &rows, &total), TB_OK);
    assert_int_equal(total, json_array_size(rows));
    snquery_free(q);
    return rows;
}

static void test_filters(void **state)
{
    fixture *f = *state;
    size_t ignored = 0;
    static const struct {
        const char *name, *value;
    } cases[] = {
        {"assigned_to", "jdoe"},         /* user_name */
        {"assigned_to", "John Doe"},     /* display value */
        {"assigned_to", NULL},           /* sys_id: filled in below */
        {"cmdb_ci", "web01"},
        {"state", "in progress"},        /* choice label */
        {"state", "2"},
        {"assigned_to.user_name", "jdoe"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *rows = filter(f, cases[i].name, cases[i].value ? cases[i].value : f->user, &ignored);
        if (json_array_size(rows) != 1)
            fail_msg("%s=%s found %zu", cases[i].name, cases[i].value, json_array_size(rows));
        json_decref(rows);
    }
    json_t *rows = filter(f, "assigned_to", "nobody", &ignored);
    assert_int_equal(json_array_size(rows), 0);
    json_decref(rows);
    rows = filter(f, "state", "Closed", &ignored);
    assert_int_equal(json_array_size(rows), 0);
    json_decref(rows);
    rows = filter(f, "short_description", "x' OR '1'='1", &ignored);
    assert_int_equal(json_array_size(rows), 0);
    json_decref(rows);
    rows = filter(f, "no_such_field", "1", &ignored);   /* ignored: the rest still applies */
    assert_int_equal(ignored, 1);
    assert_int_equal(json_array_size(rows), 1);
    json_decref(rows);
}

static void test_store_additions(void **state)
{
    fixture *f = *state;
    itsm_record *a = NULL;
    assert_int_equal(itsm_attach_by(f->h, "incident", f->inc, "x.bin", "application/x", "\0\1\2", 3, "alice", &a),
                     TB_OK);
    assert_string_equal(itsm_record_get(a, "sys_created_by"), "alice");
    char aid[33];
    strcpy(aid, a->sys_id);
    itsm_record_free(a);
    void *data = NULL;
    size_t len = 0;
    assert_int_equal(itsm_table_attachment_content(f->t, aid, &data, &len), TB_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "\0\1\2", 3);
    free(data);
    assert_int_equal(itsm_table_attachment_content(f->t, "0123456789abcdef0123456789abcdef", &data, &len),
                     TB_ERR_NOT_FOUND);
    assert_int_equal(itsm_attach_by(f->h, "incident", f->inc, "x", NULL, "", 0, "a\x01\xff", NULL), TB_ERR_INVALID);
    assert_int_equal(itsm_attach(f->h, "incident", f->inc, "plain.txt", NULL, "x", 1, &a), TB_OK);
    assert_string_equal(itsm_record_get(a, "sys_created_by"), "system");
    itsm_record_free(a);

    /* removing a record takes its attachments and journal entries with it */
    assert_int_equal(itsm_remove(f->h, "incident", "0123456789abcdef0123456789abcdef"), TB_ERR_NOT_FOUND);
    assert_int_equal(itsm_remove(f->h, "incident", "not-an-id"), TB_ERR_INVALID);
    assert_int_equal(itsm_remove(f->h, "tb_account", f->inc), TB_ERR_INVALID);
    assert_int_equal(itsm_remove(f->h, "incident", f->inc), TB_OK);
    assert_int_equal(itsm_get(f->h, "incident", f->inc, &a), TB_ERR_NOT_FOUND);
    itsm_kv k[] = {{"element_id", f->inc}};
    itsm_record **rows = NULL;
    size_t n = 9;
    assert_int_equal(itsm_query(f->h, "sys_journal_field", k, 1, 0, 0, 0, &rows, &n), TB_OK);
    assert_int_equal(n, 0);
    free(rows);
    itsm_kv ka[] = {{"table_sys_id", f->inc}};
    assert_int_equal(itsm_query(f->h, "sys_attachment", ka, 1, 0, 0, 0, &rows, &n), TB_OK);
    assert_int_equal(n, 0);
    free(rows);
    assert_int_equal(itsm_remove(f->h, "incident", f->inc), TB_ERR_NOT_FOUND);
    /* the user stays (nothing cascades upward) */
    assert_int_equal(itsm_get(f->h, "sys_user", f->user, &a), TB_OK);
    itsm_record_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_link_header),
        cmocka_unit_test(test_url_encode),
        cmocka_unit_test(test_roles_and_tables),
        cmocka_unit_test(test_choices_and_display),
        cmocka_unit_test(test_json_str),
        cmocka_unit_test(test_terms),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_body_input_display),
        cmocka_unit_test(test_multipart),
        cmocka_unit_test_setup_teardown(test_representation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_additions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
