/* The ServiceNow backend's wire side without a network: URLs, encoded
 * queries, JSON bodies, answers (well-formed and hostile), error mapping,
 * the retry rule, OAuth token answers, configuration keys and opening. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "core/config.h"
#include "itsm/itsm.h"
#include "itsm/itsm_servicenow.h"
#include "itsm/itsm_servicenow_auth.h"
#include "itsm/itsm_servicenow_wire.h"

static void test_table_url(void **st)
{
    (void)st;
    tb_buf b;
    tb_buf_init(&b, 0);
    sn_param p[] = {{"sysparm_query", "number=INC0010001^ORDERBYsys_created_on"},
                    {"sysparm_limit", "1"}, {NULL, NULL}};
    assert_int_equal(sn_table_url(&b, "https://x.service-now.com/", "incident", NULL, p), TB_OK);
    assert_string_equal(b.data, "https://x.service-now.com/api/now/table/incident?sysparm_query="
                                "number%3DINC0010001%5EORDERBYsys_created_on&sysparm_limit=1");
    tb_buf_reset(&b);
    assert_int_equal(sn_table_url(&b, "https://x", "incident", "0123456789abcdef0123456789abcdef",
                                  NULL), TB_OK);
    assert_string_equal(b.data, "https://x/api/now/table/incident/0123456789abcdef0123456789abcdef");
    tb_buf_reset(&b);
    /* hostile pieces are encoded, never new path segments or parameters */
    sn_param h[] = {{"file_name", "../a b&c=d?#"}, {NULL, NULL}};
    assert_int_equal(sn_attachment_url(&b, "https://x//", "/file", h), TB_OK);
    assert_string_equal(b.data, "https://x/api/now/attachment/file?file_name=..%2Fa%20b%26c%3Dd%3F%23");
    tb_buf_reset(&b);
    assert_int_equal(sn_table_url(&b, "https://x", "a/b", "c?d", NULL), TB_OK);
    assert_string_equal(b.data, "https://x/api/now/table/a%2Fb/c%3Fd");
    tb_buf_reset(&b);
    assert_int_equal(sn_plain_url(&b, "https://x/", "/oauth_token.do"), TB_OK);
    assert_string_equal(b.data, "https://x/oauth_token.do");
    tb_buf_free(&b);
}

static void test_equality_query(void **st)
{
    (void)st;
    tb_buf b;
    tb_buf_init(&b, 0);
    itsm_kv kv[] = {{"user_name", "jdoe"}, {"email", ""}, {"name", NULL}};
    assert_int_equal(sn_equality_query(&b, kv, 3), TB_OK);
    assert_string_equal(b.data, "user_name=jdoe^emailISEMPTY^nameISEMPTY^ORDERBYsys_created_on");
    tb_buf_reset(&b);
    assert_int_equal(sn_equality_query(&b, NULL, 0), TB_OK);
    assert_string_equal(b.data, "ORDERBYsys_created_on");
    tb_buf_reset(&b);
    itsm_kv bad[] = {{"name", "a^ORnumber=1"}};
    assert_int_equal(sn_equality_query(&b, bad, 1), TB_ERR_INVALID);
    tb_buf_free(&b);
}

static void test_json_object(void **st)
{
    (void)st;
    tb_buf b;
    tb_buf_init(&b, 0);
    itsm_kv kv[] = {{"short_description", "say \"hi\"\n\\"}, {"assigned_to", NULL}};
    assert_int_equal(sn_json_object(&b, kv, 2), TB_OK);
    assert_string_equal(b.data, "{\"short_description\":\"say \\\"hi\\\"\\n\\\\\",\"assigned_to\":null}");
    tb_buf_free(&b);
}

static void test_parse_records(void **st)
{
    (void)st;
    const char *one = "{\"result\":{\"sys_id\":\"0123456789abcdef0123456789abcdef\",\"number\":"
                      "\"INC0010001\",\"caller_id\":{\"link\":\"https://x/api/now/table/sys_user/"
                      "aa\",\"value\":\"aa\"},\"active\":true,\"impact\":2,\"closed_at\":null,"
                      "\"tags\":[1],\"odd\":{\"x\":1}}}";
    itsm_record *r = NULL;
    assert_int_equal(sn_parse_record(one, strlen(one), "incident", &r), TB_OK);
    assert_string_equal(r->table, "incident");
    assert_string_equal(r->sys_id, "0123456789abcdef0123456789abcdef");
    assert_string_equal(itsm_record_get(r, "number"), "INC0010001");
    assert_string_equal(itsm_record_get(r, "caller_id"), "aa");
    assert_string_equal(itsm_record_get(r, "active"), "true");
    assert_string_equal(itsm_record_get(r, "impact"), "2");
    assert_string_equal(itsm_record_get(r, "closed_at"), "");
    assert_null(itsm_record_get(r, "tags"));
    assert_null(itsm_record_get(r, "odd"));
    itsm_record_free(r);

    const char *list = "{\"result\":[{\"sys_id\":\"short\"},{\"number\":\"X\"}]}";
    itsm_record **v = NULL;
    size_t n = 0;
    assert_int_equal(sn_parse_records(list, strlen(list), "problem", &v, &n), TB_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0]->sys_id, ""); /* not a sys_id: not taken as one */
    assert_string_equal(itsm_record_get(v[1], "number"), "X");
    itsm_records_free(v, n);
    const char *empty = "{\"result\":[]}";
    assert_int_equal(sn_parse_records(empty, strlen(empty), "problem", &v, &n), TB_OK);
    assert_int_equal(n, 0);

    /* hostile or wrong shapes */
    const char *bad[] = {"", "{", "[]", "{\"result\":\"x\"}", "{\"result\":[1]}",
                         "{\"result\":{\"a\":\"1\",\"a\":\"2\"}}", "<html>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(sn_parse_record(bad[i], strlen(bad[i]), "incident", &r), TB_OK);
        assert_null(r);
    }
    assert_int_not_equal(sn_parse_records("{\"result\":{}}", 13, "incident", &v, &n), TB_OK);
    assert_null(v);
    /* deeply nested input is refused by the JSON parser, not a crash */
    size_t deep = 100000;
    char *d = malloc(deep * 2 + 16);
    strcpy(d, "{\"result\":");
    size_t k = strlen(d);
    for (size_t i = 0; i < deep; i++)
        d[k++] = '[';
    d[k] = '\0';
    assert_int_not_equal(sn_parse_records(d, k, "incident", &v, &n), TB_OK);
    free(d);
}

static void test_error_map(void **st)
{
    (void)st;
    char m[512];
    const char *b = "{\"error\":{\"message\":\"No Record found\",\"detail\":\"Record doesn't exist\"},"
                    "\"status\":\"failure\"}";
    assert_int_equal(sn_error_map(404, b, strlen(b), "GET incident", m, sizeof m), TB_ERR_NOT_FOUND);
    assert_string_equal(m, "ServiceNow GET incident: HTTP 404: No Record found (Record doesn't exist)");
    const char *nd = "{\"error\":{\"message\":\"Invalid table x\",\"detail\":null}}";
    assert_int_equal(sn_error_map(400, nd, strlen(nd), "GET x", m, sizeof m), TB_ERR_INVALID);
    assert_string_equal(m, "ServiceNow GET x: HTTP 400: Invalid table x");
    assert_int_equal(sn_error_map(401, NULL, 0, "GET incident", m, sizeof m), TB_ERR_DENIED);
    assert_non_null(strstr(m, "check servicenow_user and servicenow_password_file"));
    assert_int_equal(sn_error_map(403, "<html>", 6, "POST sys_user", m, sizeof m), TB_ERR_DENIED);
    assert_int_equal(sn_error_map(413, NULL, 0, "w", m, sizeof m), TB_ERR_TOO_LARGE);
    assert_int_equal(sn_error_map(429, NULL, 0, "w", m, sizeof m), TB_ERR_BUSY);
    assert_int_equal(sn_error_map(503, NULL, 0, "w", m, sizeof m), TB_ERR_BUSY);
    assert_int_equal(sn_error_map(504, NULL, 0, "w", m, sizeof m), TB_ERR_TIMEOUT);
    assert_int_equal(sn_error_map(500, NULL, 0, "w", m, sizeof m), TB_ERR_HTTP);
    assert_string_equal(m, "ServiceNow w: HTTP 500");
    /* a huge message is cut, never overflows */
    size_t big = 100000;
    char *h = malloc(big + 64);
    strcpy(h, "{\"error\":{\"message\":\"");
    size_t k = strlen(h);
    memset(h + k, 'A', big);
    strcpy(h + k + big, "\"}}");
    char small[64];
    assert_int_equal(sn_error_map(400, h, strlen(h), "w", small, sizeof small), TB_ERR_INVALID);
    assert_int_equal(strlen(small), sizeof small - 1);
    free(h);
}

static void test_retry_rule(void **st)
{
    (void)st;
    assert_int_equal(sn_retry_wait_ms(429, 2, 0, 10000), 2000);
    assert_int_equal(sn_retry_wait_ms(503, -1, 0, 10000), 1000);
    assert_int_equal(sn_retry_wait_ms(503, -1, 2, 10000), 4000);
    assert_int_equal(sn_retry_wait_ms(429, 0, 1, 10000), 0);
    assert_int_equal(sn_retry_wait_ms(429, 11, 0, 10000), -1);     /* over the cap */
    assert_int_equal(sn_retry_wait_ms(429, 1, SN_MAX_RETRIES, 10000), -1);
    assert_int_equal(sn_retry_wait_ms(500, 1, 0, 10000), -1);      /* not retried */
    assert_int_equal(sn_retry_wait_ms(401, 1, 0, 10000), -1);
    assert_int_equal(sn_retry_wait_ms(429, 1L << 40, 0, 1L << 45), 86400000L); /* clamped */
}

static void test_oauth_parse(void **st)
{
    (void)st;
    char tok[64];
    long exp = 0;
    const char *a = "{\"access_token\":\"abc\",\"expires_in\":1799,\"token_type\":\"Bearer\"}";
    assert_int_equal(sn_oauth_parse(a, strlen(a), tok, sizeof tok, &exp), TB_OK);
    assert_string_equal(tok, "abc");
    assert_int_equal(exp, 1799);
    const char *s = "{\"access_token\":\"abc\",\"expires_in\":\"600\"}";
    assert_int_equal(sn_oauth_parse(s, strlen(s), tok, sizeof tok, &exp), TB_OK);
    assert_int_equal(exp, 600);
    const char *bad[] = {"{}", "{\"access_token\":\"\"}", "{\"access_token\":\"a\\r\\nX: y\"}",
                         "{\"access_token\":1}", "nope"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sn_oauth_parse(bad[i], strlen(bad[i]), tok, sizeof tok, &exp),
                         TB_ERR_INVALID);
    char longtok[200];
    snprintf(longtok, sizeof longtok, "{\"access_token\":\"%0100d\"}", 0);
    assert_int_equal(sn_oauth_parse(longtok, strlen(longtok), tok, sizeof tok, &exp), TB_ERR_INVALID);
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/tb-snow-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_config_and_open(void **st)
{
    (void)st;
    char err[512];
    tb_config cfg;
    char *pw = write_tmp("s3cret\n");
    char conf[2048];
    snprintf(conf, sizeof conf,
             "ticket_store = servicenow\nservicenow_url = https://x.example\nservicenow_user = u\n"
             "servicenow_password_file = %s\nservicenow_timeout_ms = 1500\n"
             "servicenow_max_connections = 2\nservicenow_proxy = none\n", pw);
    char *cf = write_tmp(conf);
    tb_config_defaults(&cfg);
    assert_int_equal(tb_config_load(cf, &cfg, err, sizeof err), TB_OK);
    assert_string_equal(cfg.ticket_store, "servicenow");
    assert_int_equal(cfg.servicenow_timeout_ms, 1500);
    assert_int_equal(cfg.servicenow_max_connections, 2);
    assert_true(itsm_is_remote(&cfg));
    itsm *h = NULL;
    assert_int_equal(itsm_open(&cfg, &h, err, sizeof err), TB_OK);
    assert_string_equal(h->ops->name, "servicenow");
    assert_string_equal(itsm_errmsg(h), "");
    /* the front end still checks arguments before anything is sent */
    itsm_record *r = NULL;
    assert_int_equal(itsm_get(h, "no_table", "0123456789abcdef0123456789abcdef", &r), TB_ERR_INVALID);
    int written = 1;
    assert_int_equal(itsm_servicenow_journal_once(h, "incident", "0123456789abcdef0123456789abcdef",
                                                  "work_notes", "a^b", "t", &written),
                     TB_ERR_INVALID);
    assert_int_equal(written, 0);
    itsm_close(h);

    /* bad configurations */
    const char *bad[] = {
        "ticket_store = servicenow\n",                       /* no URL */
        "ticket_store = remote\n",                           /* unknown store */
        "servicenow_url = ftp://x\n",
        "servicenow_timeout_ms = 5\n",
        "servicenow_max_connections = 0\n",
        "servicenow_retry_max_wait_ms = -1\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *f = write_tmp(bad[i]);
        tb_config_defaults(&cfg);
        assert_int_equal(tb_config_load(f, &cfg, err, sizeof err), TB_ERR_CONFIG);
        unlink(f);
        free(f);
    }
    tb_config_defaults(&cfg);
    snprintf(cfg.ticket_store, sizeof cfg.ticket_store, "servicenow");
    snprintf(cfg.servicenow_url, sizeof cfg.servicenow_url, "https://x");
    assert_int_equal(itsm_open(&cfg, &h, err, sizeof err), TB_ERR_CONFIG); /* no credentials */
    assert_non_null(strstr(err, "servicenow_user"));
    snprintf(cfg.servicenow_user, sizeof cfg.servicenow_user, "u");
    snprintf(cfg.servicenow_password_file, sizeof cfg.servicenow_password_file, "/nonexistent/pw");
    assert_int_equal(itsm_open(&cfg, &h, err, sizeof err), TB_ERR_CONFIG);
    assert_non_null(strstr(err, "cannot read /nonexistent/pw"));
    char *empty = write_tmp("\n");
    snprintf(cfg.servicenow_password_file, sizeof cfg.servicenow_password_file, "%s", empty);
    assert_int_equal(itsm_open(&cfg, &h, err, sizeof err), TB_ERR_CONFIG);
    assert_non_null(strstr(err, "empty"));
    cfg.servicenow_user[0] = '\0';
    snprintf(cfg.servicenow_oauth_client_id, sizeof cfg.servicenow_oauth_client_id, "cid");
    assert_int_equal(itsm_open(&cfg, &h, err, sizeof err), TB_ERR_CONFIG);
    assert_non_null(strstr(err, "client_secret_file"));
    unlink(empty);
    free(empty);
    unlink(cf);
    free(cf);
    unlink(pw);
    free(pw);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A caller's deadline cuts a request to an instance that never answers: a
 * loopback socket that listens but never accepts (the kernel completes the
 * connection, nobody reads the request). */
static void test_deadline(void **st)
{
    (void)st;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    char *pw = write_tmp("s3cret\n"), err[512];
    tb_config cfg;
    tb_config_defaults(&cfg);
    snprintf(cfg.ticket_store, sizeof cfg.ticket_store, "servicenow");
    snprintf(cfg.servicenow_url, sizeof cfg.servicenow_url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    snprintf(cfg.servicenow_user, sizeof cfg.servicenow_user, "u");
    snprintf(cfg.servicenow_password_file, sizeof cfg.servicenow_password_file, "%s", pw);
    snprintf(cfg.servicenow_proxy, sizeof cfg.servicenow_proxy, "none");
    cfg.servicenow_timeout_ms = 20000;
    itsm *h = NULL;
    assert_int_equal(itsm_open(&cfg, &h, err, sizeof err), TB_OK);
    assert_int_equal(itsm_servicenow_deadline(h, -1), TB_ERR_INVALID);
    assert_int_equal(itsm_servicenow_deadline(NULL, 10), TB_ERR_INVALID);
    assert_int_equal(itsm_servicenow_retry_after_ms(h), -1);

    assert_int_equal(itsm_servicenow_deadline(h, 300), TB_OK);
    itsm_record *r = NULL;
    int64_t t0 = now_ms();
    assert_int_equal(itsm_get(h, "incident", "0123456789abcdef0123456789abcdef", &r), TB_ERR_TIMEOUT);
    int64_t took = now_ms() - t0;
    assert_true(took >= 250 && took < 3000);
    assert_non_null(strstr(itsm_errmsg(h), "the caller's deadline"));
    assert_null(r);
    /* past the deadline nothing more is sent */
    t0 = now_ms();
    assert_int_equal(itsm_get(h, "incident", "0123456789abcdef0123456789abcdef", &r), TB_ERR_TIMEOUT);
    assert_true(now_ms() - t0 < 100);
    assert_non_null(strstr(itsm_errmsg(h), "no answer within the caller's deadline"));
    /* without one, the configured timeout applies again */
    assert_int_equal(itsm_servicenow_deadline(h, 0), TB_OK);
    itsm_close(h);
    close(fd);
    unlink(pw);
    free(pw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_url),
        cmocka_unit_test(test_equality_query),
        cmocka_unit_test(test_json_object),
        cmocka_unit_test(test_parse_records),
        cmocka_unit_test(test_error_map),
        cmocka_unit_test(test_retry_rule),
        cmocka_unit_test(test_oauth_parse),
        cmocka_unit_test(test_config_and_open),
        cmocka_unit_test(test_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
