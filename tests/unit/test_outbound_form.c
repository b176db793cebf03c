/* Outbound event bodies: strict form parsing, JSON bodies, identifier checks
 * and token redaction. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/outbound_event.h"
#include "core/buf.h"

/* ---- helpers ---- */

static tb_err parse_str(const char *body, bt_form *f, char *err, size_t errsz)
{
    return bt_form_parse(body, strlen(body), f, err, errsz);
}

static void expect_form_invalid(const char *body, size_t len)
{
    bt_form f;
    char err[256] = "";
    tb_err e = bt_form_parse(body, len, &f, err, sizeof err);
    if (e != TB_ERR_INVALID)
        fail_msg("bt_form_parse('%.60s') = %d, expected TB_ERR_INVALID", body, e);
    assert_int_equal(f.n, 0);
    assert_null(f.v);
    assert_true(err[0] != '\0');
    bt_form_free(&f); /* harmless on an empty form */
}

static void expect_json_invalid(const char *body)
{
    bt_form f;
    char err[256] = "";
    tb_err e = bt_form_parse_json(body, strlen(body), &f, err, sizeof err);
    if (e != TB_ERR_INVALID)
        fail_msg("bt_form_parse_json('%.60s') = %d, expected TB_ERR_INVALID", body, e);
    assert_int_equal(f.n, 0);
    assert_null(f.v);
    assert_true(err[0] != '\0');
}

static bt_form parse_ok(const char *body)
{
    bt_form f;
    char err[256] = "";
    tb_err e = parse_str(body, &f, err, sizeof err);
    if (e != TB_OK)
        fail_msg("bt_form_parse('%.60s') = %d: %s", body, e, err);
    return f;
}

/* ---- bt_form_parse ---- */

static void test_form_appliance_body(void **state)
{
    (void)state;
    const char *body = "event=support_conference_end&version=3&timestamp=1733240467"
                       "&appliance_id=abc123def456&lsid=c2f1e4d0a9b84c7d8e6f5a4b3c2d1e0f"
                       "&external_key=INC0010001";
    bt_form f = parse_ok(body);
    assert_int_equal(f.n, 6);
    assert_string_equal(f.v[0].name, "event");
    assert_string_equal(f.v[0].value, "support_conference_end");
    assert_string_equal(f.v[5].name, "external_key");
    assert_string_equal(bt_form_get(&f, "event"), "support_conference_end");
    assert_string_equal(bt_form_get(&f, "version"), "3");
    assert_string_equal(bt_form_get(&f, "timestamp"), "1733240467");
    assert_string_equal(bt_form_get(&f, "appliance_id"), "abc123def456");
    assert_string_equal(bt_form_get(&f, "lsid"), "c2f1e4d0a9b84c7d8e6f5a4b3c2d1e0f");
    assert_string_equal(bt_form_get(&f, "external_key"), "INC0010001");
    assert_null(bt_form_get(&f, "missing"));
    assert_null(bt_form_get(&f, "Event"));      /* names are case-sensitive */
    assert_null(bt_form_get(&f, "even"));
    bt_form_free(&f);
    assert_int_equal(f.n, 0);
    assert_null(f.v);
    bt_form_free(&f);

    /* only the given length is parsed, the rest of the buffer is ignored */
    char err[64];
    assert_int_equal(bt_form_parse("a=1&b=2", 3, &f, err, sizeof err), TB_OK);
    assert_int_equal(f.n, 1);
    assert_string_equal(bt_form_get(&f, "a"), "1");
    bt_form_free(&f);

    /* empty body */
    assert_int_equal(bt_form_parse("", 0, &f, err, sizeof err), TB_OK);
    assert_int_equal(f.n, 0);
    bt_form_free(&f);
}

static void test_form_decoding(void **state)
{
    (void)state;
    bt_form f = parse_ok("a=hello+world&b=hello%20world&c=%2B1&d=100%25&e=a%26b%3Dc"
                         "&my+name=x&na%6De=y&f=%41%42%43&g=%e2%82%ac");
    assert_string_equal(bt_form_get(&f, "a"), "hello world");
    assert_string_equal(bt_form_get(&f, "b"), "hello world");
    assert_string_equal(bt_form_get(&f, "c"), "+1");
    assert_string_equal(bt_form_get(&f, "d"), "100%");
    assert_string_equal(bt_form_get(&f, "e"), "a&b=c");
    assert_string_equal(bt_form_get(&f, "my name"), "x");
    assert_string_equal(bt_form_get(&f, "name"), "y");
    assert_string_equal(bt_form_get(&f, "f"), "ABC");
    assert_string_equal(bt_form_get(&f, "g"), "\xe2\x82\xac");
    bt_form_free(&f);

    /* a value may contain '=' */
    f = parse_ok("q=a=b=c");
    assert_string_equal(bt_form_get(&f, "q"), "a=b=c");
    bt_form_free(&f);
}

static void test_form_utf8(void **state)
{
    (void)state;
    bt_form f = parse_ok("summary=caf%C3%A9+%E2%9C%93&raw=\xc3\xa9t\xc3\xa9&emoji=%F0%9F%94%91");
    assert_string_equal(bt_form_get(&f, "summary"), "caf\xc3\xa9 \xe2\x9c\x93");
    assert_string_equal(bt_form_get(&f, "raw"), "\xc3\xa9t\xc3\xa9");
    assert_string_equal(bt_form_get(&f, "emoji"), "\xf0\x9f\x94\x91");
    bt_form_free(&f);
}

static void test_form_bad_escapes(void **state)
{
    (void)state;
    expect_form_invalid("a=%00", 5);
    expect_form_invalid("a=x%00y", 7);
    expect_form_invalid("%00=x", 5);
    expect_form_invalid("a=%", 3);
    expect_form_invalid("%", 1);
    expect_form_invalid("a=%4", 4);
    expect_form_invalid("a=%4&b=1", 8);
    expect_form_invalid("a=%zz", 5);
    expect_form_invalid("a=%g0", 5);
    expect_form_invalid("a=%0g", 5);
    expect_form_invalid("a=% 1", 5);
    expect_form_invalid("a=1&b=%%41", 10);
    /* a raw NUL byte inside the given length */
    expect_form_invalid("a=1\0b=2", 7);
    /* '%' as the very last byte of the given length, even if more follows */
    expect_form_invalid("a=%41", 4);
}

static void test_form_names(void **state)
{
    (void)state;
    expect_form_invalid("=x", 2);
    expect_form_invalid("a=1&=x", 6);
    expect_form_invalid("=", 1);

    /* a field without '=' has an empty value */
    bt_form f = parse_ok("flag&a=1");
    assert_int_equal(f.n, 2);
    assert_string_equal(bt_form_get(&f, "flag"), "");
    assert_string_equal(bt_form_get(&f, "a"), "1");
    bt_form_free(&f);

    /* empty value */
    f = parse_ok("a=&b=2");
    assert_string_equal(bt_form_get(&f, "a"), "");
    bt_form_free(&f);

    /* repeated and leading/trailing '&' are skipped */
    f = parse_ok("&&a=1&&&b=2&&");
    assert_int_equal(f.n, 2);
    assert_string_equal(f.v[0].name, "a");
    assert_string_equal(f.v[1].name, "b");
    bt_form_free(&f);
    f = parse_ok("&&&");
    assert_int_equal(f.n, 0);
    bt_form_free(&f);

    /* repeated names: bt_form_get returns the first value */
    f = parse_ok("lsid=first&lsid=second&x=1&lsid=third");
    assert_int_equal(f.n, 4);
    assert_string_equal(bt_form_get(&f, "lsid"), "first");
    bt_form_free(&f);

    /* name length: 128 accepted, 129 rejected; counted after decoding */
    char body[1024];
    memset(body, 'n', 128);
    strcpy(body + 128, "=v");
    f = parse_ok(body);
    assert_int_equal(f.n, 1);
    assert_int_equal(strlen(f.v[0].name), 128);
    bt_form_free(&f);
    memset(body, 'n', 129);
    strcpy(body + 129, "=v");
    expect_form_invalid(body, strlen(body));
    memset(body, 'n', 129);
    body[129] = '\0';       /* without '=' too */
    expect_form_invalid(body, strlen(body));
    body[0] = '\0';
    for (int i = 0; i < 128; i++)
        strcat(body, "%41");
    strcat(body, "=v");
    f = parse_ok(body);
    assert_int_equal(strlen(f.v[0].name), 128);
    bt_form_free(&f);
    /* an over-long name after valid fields */
    memset(body, 0, sizeof body);
    strcpy(body, "a=1&");
    memset(body + 4, 'n', 200);
    strcpy(body + 204, "=v");
    expect_form_invalid(body, strlen(body));
}

static void test_form_field_limit(void **state)
{
    (void)state;
    tb_buf b;
    tb_buf_init(&b, 0);
    for (int i = 0; i < BT_FORM_MAX_FIELDS; i++)
        assert_int_equal(tb_buf_printf(&b, "%sf%d=%d", i ? "&" : "", i, i), TB_OK);
    bt_form f = parse_ok(b.data);
    assert_int_equal(f.n, BT_FORM_MAX_FIELDS);
    assert_string_equal(bt_form_get(&f, "f255"), "255");
    bt_form_free(&f);
    /* empty segments do not count */
    assert_int_equal(tb_buf_appends(&b, "&&&"), TB_OK);
    f = parse_ok(b.data);
    assert_int_equal(f.n, BT_FORM_MAX_FIELDS);
    bt_form_free(&f);
    assert_int_equal(tb_buf_appends(&b, "extra=1"), TB_OK);
    expect_form_invalid(b.data, b.len);
    /* far more fields */
    for (int i = 0; i < 5000; i++)
        assert_int_equal(tb_buf_appends(&b, "&x"), TB_OK);
    expect_form_invalid(b.data, b.len);
    tb_buf_free(&b);
}

static void test_form_large_value(void **state)
{
    (void)state;
    size_t n = 200000;
    char *body = malloc(n + 16);
    assert_non_null(body);
    memcpy(body, "big=", 4);
    memset(body + 4, 'v', n);
    strcpy(body + 4 + n, "&z=1");
    bt_form f = parse_ok(body);
    assert_int_equal(f.n, 2);
    assert_int_equal(strlen(bt_form_get(&f, "big")), n);
    assert_string_equal(bt_form_get(&f, "z"), "1");
    bt_form_free(&f);
    free(body);
}

/* ---- bt_form_parse_json ---- */

static void test_json_object(void **state)
{
    (void)state;
    const char *body = "{\"event\":\"support_conference_end\",\"version\":3,\"ratio\":1.5,"
                       "\"neg\":-42,\"ok\":true,\"bad\":false,\"none\":null,"
                       "\"text\":\"caf\\u00e9 \\\"q\\\" \\n\",\"lsid\":\"abc\"}";
    bt_form f;
    char err[256];
    assert_int_equal(bt_form_parse_json(body, strlen(body), &f, err, sizeof err), TB_OK);
    assert_int_equal(f.n, 9);
    assert_string_equal(bt_form_get(&f, "event"), "support_conference_end");
    assert_string_equal(bt_form_get(&f, "version"), "3");
    assert_string_equal(bt_form_get(&f, "ratio"), "1.5");
    assert_string_equal(bt_form_get(&f, "neg"), "-42");
    assert_string_equal(bt_form_get(&f, "ok"), "true");
    assert_string_equal(bt_form_get(&f, "bad"), "false");
    assert_string_equal(bt_form_get(&f, "none"), "");
    assert_string_equal(bt_form_get(&f, "text"), "caf\xc3\xa9 \"q\" \n");
    assert_string_equal(bt_form_get(&f, "lsid"), "abc");
    bt_form_free(&f);

    /* '+' and '%' are not decoded in JSON */
    body = "{\"a\":\"x+y%20z\"}";
    assert_int_equal(bt_form_parse_json(body, strlen(body), &f, err, sizeof err), TB_OK);
    assert_string_equal(bt_form_get(&f, "a"), "x+y%20z");
    bt_form_free(&f);

    /* empty object */
    assert_int_equal(bt_form_parse_json("{}", 2, &f, err, sizeof err), TB_OK);
    assert_int_equal(f.n, 0);
    bt_form_free(&f);
    assert_int_equal(bt_form_parse_json(" \n{ } \n", 7, &f, err, sizeof err), TB_OK);
    bt_form_free(&f);
}

static void test_json_rejects(void **state)
{
    (void)state;
    /* not an object */
    expect_json_invalid("[1,2]");
    expect_json_invalid("\"string\"");
    expect_json_invalid("42");
    expect_json_invalid("null");
    expect_json_invalid("true");
    /* nested values */
    expect_json_invalid("{\"a\":{\"b\":1}}");
    expect_json_invalid("{\"a\":\"x\",\"b\":[1]}");
    expect_json_invalid("{\"a\":[]}");
    /* invalid JSON */
    expect_json_invalid("");
    expect_json_invalid("{");
    expect_json_invalid("{\"a\":}");
    expect_json_invalid("{\"a\":1,}");
    expect_json_invalid("{'a':1}");
    expect_json_invalid("{\"a\":1} trailing");
    expect_json_invalid("{\"a\":\"unterminated}");
    expect_json_invalid("\xef\xbb\xbf{}x");
    expect_json_invalid("{\"a\":\"\xff\xfe\"}");        /* invalid UTF-8 */
    /* duplicate keys */
    expect_json_invalid("{\"lsid\":\"a\",\"lsid\":\"b\"}");
    /* NUL inside a string value or key */
    expect_json_invalid("{\"a\":\"x\\u0000y\"}");
    expect_json_invalid("{\"a\\u0000b\":\"x\"}");
    /* empty or over-long key */
    expect_json_invalid("{\"\":\"x\"}");
    char body[400];
    strcpy(body, "{\"");
    memset(body + 2, 'k', 129);
    strcpy(body + 131, "\":1}");
    expect_json_invalid(body);
    /* raw NUL byte inside the given length */
    bt_form f;
    char err[128];
    assert_int_equal(bt_form_parse_json("{\"a\":1}\0", 8, &f, err, sizeof err), TB_ERR_INVALID);
    assert_int_equal(f.n, 0);
}

static void test_json_field_limit(void **state)
{
    (void)state;
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "{");
    for (int i = 0; i < BT_FORM_MAX_FIELDS; i++)
        tb_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    tb_buf_appends(&b, "}");
    bt_form f;
    char err[128];
    assert_int_equal(bt_form_parse_json(b.data, b.len, &f, err, sizeof err), TB_OK);
    assert_int_equal(f.n, BT_FORM_MAX_FIELDS);
    bt_form_free(&f);
    b.len--;
    tb_buf_appends(&b, ",\"one_more\":1}");
    expect_json_invalid(b.data);
    tb_buf_free(&b);
}

/* ---- identifiers ---- */

static void test_valid_lsid(void **state)
{
    (void)state;
    char s[100];
    assert_true(bt_valid_lsid("c2f1e4d0a9b84c7d8e6f5a4b3c2d1e0f"));
    assert_true(bt_valid_lsid("A-b_9"));
    assert_true(bt_valid_lsid("x"));
    memset(s, 'a', 64);
    s[64] = '\0';
    assert_true(bt_valid_lsid(s));
    s[64] = 'a';
    s[65] = '\0';
    assert_false(bt_valid_lsid(s));
    assert_false(bt_valid_lsid(""));
    const char *bad[] = {"a b", "a;rm -rf /", "$(id)", "`id`", "a|b", "a&b", "a>b", "../etc",
                         "a/b", "a.b", "a'b", "a\"b", "a\nb", "a\tb", "caf\xc3\xa9", "a*", "a?b",
                         "%41", "a+b", "a=b", "{a}", "a\\b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (bt_valid_lsid(bad[i]))
            fail_msg("lsid '%s' accepted", bad[i]);
}

static void test_valid_event_name(void **state)
{
    (void)state;
    char s[100];
    assert_true(bt_valid_event_name("support_conference_end"));
    assert_true(bt_valid_event_name("access_session_end"));
    assert_true(bt_valid_event_name("support_conference_member_added"));
    assert_true(bt_valid_event_name("Some.Event_2"));
    memset(s, 'e', 64);
    s[64] = '\0';
    assert_true(bt_valid_event_name(s));
    s[64] = 'e';
    s[65] = '\0';
    assert_false(bt_valid_event_name(s));
    assert_false(bt_valid_event_name(""));
    const char *bad[] = {"a b", "end;reboot", "$(id)", "`id`", "a|b", "a&b", "a>b", "a/b",
                         "a-b", "a'b", "a\"b", "a\nb", "caf\xc3\xa9", "a*", "a%20b", "a=b",
                         "a\\b", "\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (bt_valid_event_name(bad[i]))
            fail_msg("event name '%s' accepted", bad[i]);
}

static void test_event_ends_session(void **state)
{
    (void)state;
    assert_true(bt_event_ends_session("support_conference_end"));
    assert_true(bt_event_ends_session("access_session_end"));
    assert_true(bt_event_ends_session("session_end"));
    assert_false(bt_event_ends_session("support_conference_begin"));
    assert_false(bt_event_ends_session("support_conference_member_added"));
    assert_false(bt_event_ends_session("Support_Conference_End"));
    assert_false(bt_event_ends_session("support_conference_end "));
    assert_false(bt_event_ends_session("support_conference_ended"));
    assert_false(bt_event_ends_session("session"));
    assert_false(bt_event_ends_session(""));
}

/* ---- bt_form_redact_token ---- */

static char *redact(const char *body, size_t *outlen)
{
    size_t len = (size_t)-1;
    char *r = bt_form_redact_token(body, strlen(body), &len);
    assert_non_null(r);
    assert_int_equal(len, strlen(r));
    if (outlen)
        *outlen = len;
    return r;
}

/* The redacted body keeps every other field, in order, and never the secret. */
static void check_redacted(const char *body, const char *secret)
{
    char *r = redact(body, NULL);
    if (secret && strstr(r, secret)) {
        static char shown[512];
        snprintf(shown, sizeof shown, "%s", r);
        free(r);
        fail_msg("redacted body '%s' still contains the token '%s'", shown, secret);
    }
    bt_form in, out;
    char err[128];
    assert_int_equal(parse_str(body, &in, err, sizeof err), TB_OK);
    assert_int_equal(parse_str(r, &out, err, sizeof err), TB_OK);
    size_t j = 0;
    for (size_t i = 0; i < in.n; i++) {
        if (!strcmp(in.v[i].name, BT_OUTBOUND_TOKEN_PARAM))
            continue;
        while (j < out.n && !strcmp(out.v[j].name, BT_OUTBOUND_TOKEN_PARAM))
            j++;
        assert_true(j < out.n);
        assert_string_equal(out.v[j].name, in.v[i].name);
        assert_string_equal(out.v[j].value, in.v[i].value);
        j++;
    }
    for (; j < out.n; j++)
        assert_string_equal(out.v[j].name, BT_OUTBOUND_TOKEN_PARAM);
    /* whatever remains under the token name is not the secret */
    for (size_t k = 0; k < out.n; k++)
        if (!strcmp(out.v[k].name, BT_OUTBOUND_TOKEN_PARAM) && secret)
            assert_string_not_equal(out.v[k].value, secret);
    bt_form_free(&in);
    bt_form_free(&out);
    free(r);
}

static void test_redact_positions(void **state)
{
    (void)state;
    check_redacted("outbound_event_token=S3CRETtok&event=x&lsid=abc", "S3CRETtok");
    check_redacted("event=x&outbound_event_token=S3CRETtok&lsid=abc", "S3CRETtok");
    check_redacted("event=x&lsid=abc&outbound_event_token=S3CRETtok", "S3CRETtok");
    check_redacted("outbound_event_token=S3CRETtok", "S3CRETtok");
    check_redacted("outbound_event_token=S3CRETtok&outbound_event_token=S3CRETtwo", "S3CRETt");

    /* the exact format of the stored body */
    char *r = redact("event=x&outbound_event_token=S3CRETtok&lsid=abc", NULL);
    assert_string_equal(r, "event=x&" BT_OUTBOUND_TOKEN_PARAM "=REDACTED&lsid=abc");
    free(r);
    /* token without a value */
    r = redact("a=1&outbound_event_token&b=2", NULL);
    assert_null(strstr(r, "outbound_event_token&"));
    free(r);
}

static void test_redact_absent_and_lookalikes(void **state)
{
    (void)state;
    const char *bodies[] = {
        "event=support_conference_end&lsid=abc&external_key=INC0010001",
        "outbound_event_tokenX=keepme&a=1",
        "xoutbound_event_token=keepme",
        "outbound_event_toke=keepme",
        "a=outbound_event_token%3Dkeepme",
        "",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        size_t len;
        char *r = redact(bodies[i], &len);
        assert_string_equal(r, bodies[i]);
        assert_int_equal(len, strlen(bodies[i]));
        free(r);
    }
    /* empty segments are dropped, content kept */
    char *r = redact("&&a=1&&b=2&&", NULL);
    bt_form f;
    char err[64];
    assert_int_equal(parse_str(r, &f, err, sizeof err), TB_OK);
    assert_int_equal(f.n, 2);
    bt_form_free(&f);
    free(r);
}

/* The intake authenticates with bt_form_get(form, BT_OUTBOUND_TOKEN_PARAM),
 * which sees the decoded name; redaction must remove the token under any
 * spelling that decodes to that name, or the secret is stored in clear. */
static void test_redact_encoded_name(void **state)
{
    (void)state;
    const char *bodies[] = {
        "event=x&outbound%5Fevent%5Ftoken=S3CRETtok&lsid=abc",
        "event=x&%6Futbound_event_token=S3CRETtok",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        bt_form f = parse_ok(bodies[i]);
        assert_string_equal(bt_form_get(&f, BT_OUTBOUND_TOKEN_PARAM), "S3CRETtok");
        bt_form_free(&f);
        check_redacted(bodies[i], "S3CRETtok");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_appliance_body),
        cmocka_unit_test(test_form_decoding),
        cmocka_unit_test(test_form_utf8),
        cmocka_unit_test(test_form_bad_escapes),
        cmocka_unit_test(test_form_names),
        cmocka_unit_test(test_form_field_limit),
        cmocka_unit_test(test_form_large_value),
        cmocka_unit_test(test_json_object),
        cmocka_unit_test(test_json_rejects),
        cmocka_unit_test(test_json_field_limit),
        cmocka_unit_test(test_valid_lsid),
        cmocka_unit_test(test_valid_event_name),
        cmocka_unit_test(test_event_ends_session),
        cmocka_unit_test(test_redact_positions),
        cmocka_unit_test(test_redact_absent_and_lookalikes),
        cmocka_unit_test(test_redact_encoded_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
