/* CSM decisions that need only data: the auto-create conditions, the four
 * kinds of field mapping (with a lookup stand-in), a session's case-field
 * values, the click-to-chat start URL, HTML escaping and record links. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/case_fields.h"
#include "bt/start_session.h"
#include "flow/csm_http.h"
#include "flow/csm_rules.h"
#include "http/html.h"

/* ---- a session's values ---- */

static bt_user users[3];
static bt_custom_attr custom[4];
static bt_customer_info info = {"Bob <b>Smith</b>", "BobCo", "C042", "VPN is down", "Network"};

static bt_session make_session(void)
{
    memset(users, 0, sizeof users);
    users[0] = (bt_user){.kind = BT_USER_CUSTOMER, .gsnumber = 3, .username = "Bob", .hostname = "LAPTOP-7",
                         .os = "Windows 11", .public_ip = "[2001:db8::1]:5000", .primary = 1, .has_info = true,
                         .info = info};
    users[1] = (bt_user){.kind = BT_USER_REP, .gsnumber = 4, .username = "jdoe", .display_name = "John Doe",
                         .primary = 1};
    users[2] = (bt_user){.kind = BT_USER_REP, .gsnumber = 5, .username = "pobrien", .display_name = "Pat O'Brien"};
    custom[0] = (bt_custom_attr){"customer_email", "Customer Email", "bob@example.com"};
    custom[1] = (bt_custom_attr){"customer_username", "Customer Username", "b.smith"};
    custom[2] = (bt_custom_attr){"custom_field_2", "Custom Field 2", "gold"};
    custom[3] = (bt_custom_attr){"snow_case_id", "ServiceNow Case ID", ""};
    bt_session s = {.lsid = "c69a8e10bea9428f816cfababe9815fe", .start_time = 1733239565, .end_time = 0,
                    .external_key = "INC0010001", .custom_attributes = custom, .ncustom_attributes = 4,
                    .users = users, .nusers = 3, .customer_info = &info};
    s.public_site.name = "Partners";
    s.primary_customer.gsnumber = 3;
    s.primary_rep.gsnumber = 4;
    s.primary_rep.name = "John Doe";
    return s;
}

static void test_values_from_session(void **state)
{
    (void)state;
    bt_session s = make_session();
    bt_case_values v;
    assert_int_equal(bt_case_values_from_session(&s, "pobrien", "Default", &v), TB_OK);
    assert_string_equal(v.v[BT_CF_LSID], s.lsid);
    assert_string_equal(v.v[BT_CF_EXTERNAL_KEY], "INC0010001");
    assert_string_equal(v.v[BT_CF_PUBLIC_PORTAL], "Partners");
    assert_string_equal(v.v[BT_CF_CUSTOMER_NAME], "Bob <b>Smith</b>");
    assert_string_equal(v.v[BT_CF_CUSTOMER_COMPANY_CODE], "C042");
    assert_string_equal(v.v[BT_CF_CUSTOMER_DETAILS], "VPN is down");
    assert_string_equal(v.v[BT_CF_CUSTOMER_EMAIL], "bob@example.com");
    assert_string_equal(v.v[BT_CF_CUSTOMER_USERNAME], "b.smith");
    assert_string_equal(v.v[BT_CF_CUSTOMER_HOSTNAME], "LAPTOP-7");
    assert_string_equal(v.v[BT_CF_CUSTOM_FIELD_1], "");
    assert_string_equal(v.v[BT_CF_CUSTOM_FIELD_2], "gold");
    assert_string_equal(v.v[BT_CF_REP_USERNAME], "pobrien");
    assert_string_equal(v.v[BT_CF_REP_DISPLAY_NAME], "Pat O'Brien");
    assert_string_equal(v.v[BT_CF_START_TIME], "2024-12-03 15:26:05");
    assert_string_equal(v.v[BT_CF_APPLIANCE], "Default");
    assert_true(v.active);
    assert_true(v.attended);
    assert_string_equal(bt_case_values_custom(&v, "external_key"), "INC0010001");
    assert_string_equal(bt_case_values_custom(&v, "snow_case_id"), "");
    assert_null(bt_case_values_custom(&v, "custom_field_3"));
    bt_case_values_clear(&v);

    /* no rep named: the primary rep; no name given: unattended; ended */
    info.name = "";
    s.end_time = 1733240000;
    assert_int_equal(bt_case_values_from_session(&s, NULL, "Default", &v), TB_OK);
    assert_string_equal(v.v[BT_CF_REP_USERNAME], "jdoe");
    assert_string_equal(v.v[BT_CF_REP_DISPLAY_NAME], "John Doe");
    assert_false(v.attended);
    assert_false(v.active);
    bt_case_values_clear(&v);
    info.name = "Bob <b>Smith</b>";

    assert_int_equal(bt_case_field_find("customer_username"), BT_CF_CUSTOMER_USERNAME);
    assert_int_equal(bt_case_field_find("nope"), -1);
    assert_int_equal(bt_case_field_find(NULL), -1);
}

static bt_case_values values(void)
{
    bt_session s = make_session();
    bt_case_values v;
    assert_int_equal(bt_case_values_from_session(&s, "jdoe", "Default", &v), TB_OK);
    return v;
}

/* ---- conditions ---- */

static void test_conditions(void **state)
{
    (void)state;
    bt_case_values v = values();
    tb_csm_config c = {.auto_create = true, .outbound_event = true, .attended = true, .unattended = true,
                       .portals = "", .required_fields = ""};
    char why[512];
    assert_true(csm_conditions_hold(&c, &v, why, sizeof why));
    c.portals = " , ";
    assert_true(csm_conditions_hold(&c, &v, why, sizeof why));      /* only empty items: any portal */
    c.portals = "Main Site, VIP";
    assert_false(csm_conditions_hold(&c, &v, why, sizeof why));
    assert_non_null(strstr(why, "public portal 'Partners' is not in"));
    c.portals = "Main Site,  partners ";
    assert_true(csm_conditions_hold(&c, &v, why, sizeof why));      /* trimmed, case-insensitive */
    c.portals = "Partner";
    assert_false(csm_conditions_hold(&c, &v, why, sizeof why));     /* whole names only */
    c.portals = "";

    c.required_fields = "customer_email,custom_field_2";
    assert_true(csm_conditions_hold(&c, &v, why, sizeof why));
    c.required_fields = "customer_email, custom_field_1";
    assert_false(csm_conditions_hold(&c, &v, why, sizeof why));
    assert_string_equal(why, "required custom field 'custom_field_1' has no value");
    c.required_fields = "snow_case_id";
    assert_false(csm_conditions_hold(&c, &v, why, sizeof why));     /* present but empty */
    c.required_fields = "external_key";
    assert_true(csm_conditions_hold(&c, &v, why, sizeof why));
    c.required_fields = "";

    c.attended = false;
    assert_false(csm_conditions_hold(&c, &v, why, sizeof why));
    assert_non_null(strstr(why, "attended"));
    v.attended = false;
    assert_true(csm_conditions_hold(&c, &v, why, sizeof why));
    c.unattended = false;
    assert_false(csm_conditions_hold(&c, &v, why, sizeof why));
    assert_non_null(strstr(why, "unattended"));
    bt_case_values_clear(&v);
}

/* ---- mappings ---- */

struct lookups {
    int calls;
    const char *last_value;
};

static tb_err fake_lookup(void *ctx, const char *table, const char *field, const char *value,
                          char sys_id[ITSM_SYS_ID_LEN + 1], size_t *matches)
{
    struct lookups *l = ctx;
    l->calls++;
    l->last_value = value;
    if (!strcmp(table, "broken"))
        return TB_ERR_DB;
    if (!strcmp(table, "sys_user") && !strcmp(field, "user_name") &&
        (!strcmp(value, "bob.ross") || !strcmp(value, "b.smith"))) {
        snprintf(sys_id, ITSM_SYS_ID_LEN + 1, "%s", !strcmp(value, "bob.ross") ? "0123456789abcdef0123456789abcdef"
                                                                               : "fedcba9876543210fedcba9876543210");
        *matches = 1;
        return TB_OK;
    }
    if (!strcmp(table, "sys_user_group") && !strcmp(value, "Desk")) {
        snprintf(sys_id, ITSM_SYS_ID_LEN + 1, "%s", "11111111111111111111111111111111");
        *matches = 2;
        return TB_OK;
    }
    return TB_ERR_NOT_FOUND;
}

static snq_column case_columns[] = {
    {.name = "short_description", .kind = SNQ_TEXT}, {.name = "description", .kind = SNQ_TEXT},
    {.name = "state", .kind = SNQ_INTEGER},          {.name = "active", .kind = SNQ_BOOLEAN},
    {.name = "assigned_to", .kind = SNQ_ID},         {.name = "contact", .kind = SNQ_ID},
    {.name = "assignment_group", .kind = SNQ_ID},    {.name = "correlation_id", .kind = SNQ_TEXT},
    {.name = "correlation_display", .kind = SNQ_TEXT}, {.name = "number", .kind = SNQ_TEXT},
    {.name = "category", .kind = SNQ_TEXT},
};
static snq_table case_table = {.name = "sn_customerservice_case", .cols = case_columns,
                               .ncols = sizeof case_columns / sizeof *case_columns};

#define M(k, f, val, bt, lt, lf) \
    {.id = __LINE__, .kind = k, .label = "", .case_field = f, .value = val, .bt_field = bt, .lookup_table = lt, \
     .lookup_field = lf}

static void test_four_kinds(void **state)
{
    (void)state;
    bt_case_values v = values();
    tb_csm_mapping m[] = {
        M(CSM_MAP_STATIC, "state", "6", "", "", ""),
        M(CSM_MAP_DYNAMIC, "short_description", "", "customer_details", "", ""),
        M(CSM_MAP_LOOKUP, "assigned_to", "bob.ross", "", "sys_user", "user_name"),
        M(CSM_MAP_DYNAMIC_LOOKUP, "contact", "", "customer_username", "sys_user", "user_name"),
    };
    struct lookups l = {0};
    csm_case_fields f;
    assert_int_equal(csm_case_fields_build(m, 4, &v, &case_table, fake_lookup, &l, &f), TB_OK);
    assert_string_equal(csm_case_fields_get(&f, "state"), "6");
    assert_string_equal(csm_case_fields_get(&f, "short_description"), "VPN is down");   /* replaced the default */
    assert_string_equal(csm_case_fields_get(&f, "assigned_to"), "0123456789abcdef0123456789abcdef");
    assert_string_equal(csm_case_fields_get(&f, "contact"), "fedcba9876543210fedcba9876543210");
    assert_string_equal(csm_case_fields_get(&f, "correlation_id"), v.v[BT_CF_LSID]);
    assert_string_equal(csm_case_fields_get(&f, "correlation_display"), "BeyondTrust Remote Support");
    assert_int_equal(f.n, 6);
    assert_int_equal(l.calls, 2);
    assert_string_equal(f.warnings.data ? f.warnings.data : "", "");
    for (size_t i = 0; i < f.n; i++)      /* no field twice: the store refuses duplicates */
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(f.kv[i].name, f.kv[j].name);
    csm_case_fields_clear(&f);
    bt_case_values_clear(&v);
}

static void test_defaults(void **state)
{
    (void)state;
    bt_case_values v = values();
    csm_case_fields f;
    assert_int_equal(csm_case_fields_build(NULL, 0, &v, NULL, NULL, NULL, &f), TB_OK);
    assert_string_equal(csm_case_fields_get(&f, "short_description"), "BeyondTrust support session with Bob <b>Smith</b>");
    assert_null(csm_case_fields_get(&f, "state"));
    csm_case_fields_clear(&f);
    free(v.v[BT_CF_CUSTOMER_NAME]);
    v.v[BT_CF_CUSTOMER_NAME] = strdup("");
    assert_int_equal(csm_case_fields_defaults(&v, &f), TB_OK);
    assert_string_equal(csm_case_fields_get(&f, "short_description"), "BeyondTrust support session with LAPTOP-7");
    size_t n = f.n;
    assert_int_equal(csm_case_fields_set(&f, "correlation_id", "csm:7:x"), TB_OK);
    assert_int_equal(f.n, n);
    assert_string_equal(csm_case_fields_get(&f, "correlation_id"), "csm:7:x");
    assert_int_equal(csm_case_fields_set(&f, "u_extra", "y"), TB_OK);
    assert_int_equal(f.n, n + 1);
    csm_case_fields_clear(&f);
    bt_case_values_clear(&v);
}

static const char *warnings(const csm_case_fields *f)
{
    return f->warnings.data ? f->warnings.data : "";
}

/* Nothing a mapping can hold stops the case: each problem leaves its field
 * out with a warning. */
static void test_mapping_problems(void **state)
{
    (void)state;
    bt_case_values v = values();
    tb_csm_mapping m[] = {
        M(CSM_MAP_DYNAMIC_LOOKUP, "contact", "", "customer_email", "sys_user", "user_name"),   /* finds nothing */
        M(CSM_MAP_LOOKUP, "assignment_group", "Desk", "", "sys_user_group", "name"),           /* two match */
        M(CSM_MAP_LOOKUP, "category", "x", "", "broken", "name"),                              /* lookup fails */
        M(CSM_MAP_DYNAMIC, "description", "", "no_such_field", "", ""),
        M(CSM_MAP_DYNAMIC, "state", "", "customer_name", "", ""),                              /* not a number */
        M(CSM_MAP_STATIC, "active", "maybe", "", "", ""),
        M(CSM_MAP_STATIC, "u_missing", "x", "", "", ""),
        M(CSM_MAP_STATIC, "number", "CS1", "", "", ""),
        M(CSM_MAP_DYNAMIC, "category", "", "custom_field_1", "", ""),                         /* empty: left out */
        M(CSM_MAP_LOOKUP, "assigned_to", "", "", "sys_user", "user_name"),                     /* nothing to look up */
    };
    struct lookups l = {0};
    csm_case_fields f;
    assert_int_equal(csm_case_fields_build(m, sizeof m / sizeof *m, &v, &case_table, fake_lookup, &l, &f), TB_OK);
    const char *w = warnings(&f);
    assert_null(csm_case_fields_get(&f, "contact"));
    assert_non_null(strstr(w, "contact: no sys_user record has user_name = 'bob@example.com'; left empty"));
    assert_string_equal(csm_case_fields_get(&f, "assignment_group"), "11111111111111111111111111111111");
    assert_non_null(strstr(w, "assignment_group: more than one sys_user_group record"));
    assert_null(csm_case_fields_get(&f, "category"));
    assert_non_null(strstr(w, "category: lookup in broken.name failed"));
    assert_null(csm_case_fields_get(&f, "description"));
    assert_non_null(strstr(w, "'no_such_field' is not a BeyondTrust case field"));
    assert_null(csm_case_fields_get(&f, "state"));
    assert_non_null(strstr(w, "state: 'Bob <b>Smith</b>' is not a number"));
    assert_null(csm_case_fields_get(&f, "active"));
    assert_non_null(strstr(w, "active: 'maybe' is not true or false"));
    assert_null(csm_case_fields_get(&f, "u_missing"));
    assert_non_null(strstr(w, "u_missing: the case has no such field"));
    assert_null(csm_case_fields_get(&f, "number"));
    assert_null(csm_case_fields_get(&f, "assigned_to"));
    assert_non_null(strstr(w, "assigned_to: the default value is empty"));
    assert_int_equal(l.calls, 3);           /* no lookup for an empty value */
    assert_int_equal(f.n, 4);               /* the three defaults and assignment_group */
    csm_case_fields_clear(&f);

    /* an over-long value; a lookup without a lookup function */
    char *big = malloc(ITSM_MAX_VALUE + 2);
    memset(big, 'x', ITSM_MAX_VALUE + 1);
    big[ITSM_MAX_VALUE + 1] = '\0';
    tb_csm_mapping m2[] = {
        M(CSM_MAP_STATIC, "category", big, "", "", ""),
        M(CSM_MAP_LOOKUP, "assigned_to", "bob.ross", "", "sys_user", "user_name"),
    };
    assert_int_equal(csm_case_fields_build(m2, 2, &v, &case_table, NULL, NULL, &f), TB_OK);
    assert_null(csm_case_fields_get(&f, "category"));
    assert_non_null(strstr(warnings(&f), "longer than the field allows"));
    assert_null(csm_case_fields_get(&f, "assigned_to"));
    csm_case_fields_clear(&f);
    free(big);
    bt_case_values_clear(&v);
}

/* More mappings than fields: the rest are ignored with a warning; warnings
 * stay bounded. */
static void test_many_mappings(void **state)
{
    (void)state;
    bt_case_values v = values();
    enum { N = CSM_CASE_FIELDS_MAX + 40 };
    tb_csm_mapping *m = calloc(N, sizeof *m);
    char (*names)[16] = calloc(N, 16);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], 16, "u_f%d", i);
        m[i] = (tb_csm_mapping){.id = i + 1, .kind = CSM_MAP_STATIC, .label = "", .case_field = names[i],
                                .value = "v", .bt_field = "", .lookup_table = "", .lookup_field = ""};
    }
    csm_case_fields f;
    assert_int_equal(csm_case_fields_build(m, N, &v, NULL, NULL, NULL, &f), TB_OK);
    assert_int_equal(f.n, CSM_CASE_FIELDS_MAX);
    assert_non_null(strstr(warnings(&f), "more than 64 case fields"));
    assert_true(f.warnings.len <= CSM_WARNINGS_MAX);
    /* The case key replaces the default correlation_id even when full. */
    assert_int_equal(csm_case_fields_set(&f, "correlation_id", "csm:1:abc"), TB_OK);
    assert_int_equal(f.n, CSM_CASE_FIELDS_MAX);
    assert_string_equal(csm_case_fields_get(&f, "correlation_id"), "csm:1:abc");
    assert_int_equal(csm_case_fields_set(&f, "u_one_more", "x"), TB_ERR_TOO_LARGE);
    assert_null(csm_case_fields_get(&f, "u_one_more"));
    csm_case_fields_clear(&f);
    free(names);
    free(m);
    bt_case_values_clear(&v);
}

/* ---- click-to-chat URL ---- */

static void test_start_session_url(void **state)
{
    (void)state;
    tb_buf url;
    char err[200];
    bt_start_session s = {.customer_name = "Bob Smith & Co", .customer_company = "BobCo",
                          .customer_details = "line 1\nline 2", .issue = "issue_4", .click_to_chat = true};
    s.custom[0].name = "snow_case_id";
    s.custom[0].value = "0123456789abcdef0123456789abcdef";
    s.custom[1].name = "customer_email";
    s.custom[1].value = "";
    s.ncustom = 2;
    tb_buf_init(&url, 0);
    assert_int_equal(bt_start_session_url("https://support.example.com/", &s, &url, err, sizeof err), TB_OK);
    assert_string_equal(url.data, "https://support.example.com/api/start_session?issue_menu=1&codeName=issue_4"
                                  "&customer.name=Bob%20Smith%20%26%20Co&customer.company=BobCo"
                                  "&customer.details=line%201%0Aline%202"
                                  "&session.custom.snow_case_id=0123456789abcdef0123456789abcdef&c2cjs=1");
    tb_buf_free(&url);

    bt_start_session empty = {0};
    tb_buf_init(&url, 0);
    assert_int_equal(bt_start_session_url("http://127.0.0.1:9000", &empty, &url, err, sizeof err), TB_OK);
    assert_string_equal(url.data, "http://127.0.0.1:9000/api/start_session");
    tb_buf_free(&url);

    /* limits: 100 characters (not bytes) for names; UTF-8; no control characters */
    char name[400] = "";
    for (int i = 0; i < 100; i++)
        strcat(name, "\xc3\xa9");
    bt_start_session t = {.customer_name = name};
    tb_buf_init(&url, 0);
    assert_int_equal(bt_start_session_url("https://h", &t, &url, err, sizeof err), TB_OK);
    tb_buf_free(&url);
    strcat(name, "e");
    const struct {
        bt_start_session s;
        const char *base;
        const char *msg;
    } bad[] = {
        {{.customer_name = name}, "https://h", "at most 100"},
        {{.customer_company = "a\x01"}, "https://h", "control"},
        {{.customer_company_code = "\xff"}, "https://h", "UTF-8"},
        {{.customer_name = "\xc0\xaf"}, "https://h", "UTF-8"},          /* overlong '/' */
        {{.customer_details = "x\x7f"}, "https://h", "control"},
        {{.issue = "Issue 4"}, "https://h", "code name"},
        {{0}, "ftp://h", "host name"},
        {{0}, "https://h/?x", "host name"},
        {{0}, NULL, "host name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tb_buf_init(&url, 0);
        err[0] = '\0';
        assert_int_equal(bt_start_session_url(bad[i].base, &bad[i].s, &url, err, sizeof err), TB_ERR_INVALID);
        assert_non_null(strstr(err, bad[i].msg));
        tb_buf_free(&url);
    }
    char *details = malloc(BT_SS_DETAILS_MAX + 2);
    memset(details, 'd', BT_SS_DETAILS_MAX + 1);
    details[BT_SS_DETAILS_MAX + 1] = '\0';
    bt_start_session d = {.customer_details = details};
    tb_buf_init(&url, 0);
    assert_int_equal(bt_start_session_url("https://h", &d, &url, err, sizeof err), TB_ERR_INVALID);
    tb_buf_free(&url);
    free(details);

    /* custom fields: names, each 1024, all together 10 KB */
    char *v = malloc(BT_SS_CUSTOM_MAX + 2);
    memset(v, 'v', BT_SS_CUSTOM_MAX + 1);
    v[BT_SS_CUSTOM_MAX + 1] = '\0';
    bt_start_session c = {.ncustom = 1};
    c.custom[0].name = "custom_field_1";
    c.custom[0].value = v;
    tb_buf_init(&url, 0);
    assert_int_equal(bt_start_session_url("https://h", &c, &url, err, sizeof err), TB_ERR_INVALID);
    tb_buf_free(&url);
    v[BT_SS_CUSTOM_MAX] = '\0';
    for (int i = 0; i < BT_SS_CUSTOM_FIELDS; i++) {
        c.custom[i].name = "custom_field_1";
        c.custom[i].value = v;
    }
    c.ncustom = BT_SS_CUSTOM_FIELDS;
    tb_buf_init(&url, 0);
    assert_int_equal(bt_start_session_url("https://h", &c, &url, err, sizeof err), TB_OK);   /* 8 KB */
    tb_buf_free(&url);
    c.ncustom = BT_SS_CUSTOM_FIELDS + 1;
    tb_buf_init(&url, 0);
    assert_int_equal(bt_start_session_url("https://h", &c, &url, err, sizeof err), TB_ERR_INVALID);
    tb_buf_free(&url);
    c.ncustom = 1;
    c.custom[0].name = "Bad-Name";
    tb_buf_init(&url, 0);
    assert_int_equal(bt_start_session_url("https://h", &c, &url, err, sizeof err), TB_ERR_INVALID);
    tb_buf_free(&url);
    free(v);

    assert_int_equal(bt_utf8_chars("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), 4);
    assert_int_equal(bt_utf8_chars("\xed\xa0\x80"), -1);    /* surrogate */
    assert_int_equal(bt_utf8_chars("\xe2\x82"), -1);        /* truncated */
}

/* ---- HTML and record links ---- */

static void test_html_escape(void **state)
{
    (void)state;
    tb_buf b;
    tb_buf_init(&b, 0);
    assert_int_equal(tb_html_escape(&b, "<script>alert('x' & \"y\")</script>"), TB_OK);
    assert_string_equal(b.data, "&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;");
    tb_buf_reset(&b);
    assert_int_equal(tb_html_escape(&b, NULL), TB_OK);
    assert_int_equal(tb_html_escape(&b, "plain \xc3\xa9"), TB_OK);
    assert_string_equal(b.data, "plain \xc3\xa9");
    tb_buf_reset(&b);
    char big[2000];
    memset(big, '<', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(tb_html_escapef(&b, "%s>", big), TB_OK);
    assert_int_equal(b.len, (sizeof big - 1) * 4 + 4);
    tb_buf_free(&b);
    tb_buf_init(&b, 10);
    assert_int_equal(tb_html_escape(&b, "<<<<"), TB_ERR_TOO_LARGE);   /* the cap holds */
    tb_buf_free(&b);
}

static void test_record_location(void **state)
{
    (void)state;
    char out[256];
    const char *id = "0123456789abcdef0123456789abcdef";
    assert_int_equal(csm_record_location("embedded", "", "sn_customerservice_case", id, out, sizeof out), TB_OK);
    assert_string_equal(out, "/tickets/0123456789abcdef0123456789abcdef");
    assert_int_equal(csm_record_location(NULL, NULL, "task", id, out, sizeof out), TB_OK);
    assert_int_equal(csm_record_location("servicenow", "https://acme.service-now.com/", "sn_customerservice_case", id,
                                         out, sizeof out),
                     TB_OK);
    assert_string_equal(out, "https://acme.service-now.com/nav_to.do?uri=sn_customerservice_case.do%3Fsys_id%3D"
                             "0123456789abcdef0123456789abcdef");
    assert_int_equal(csm_record_location("servicenow", "", "task", id, out, sizeof out), TB_ERR_INVALID);
    assert_int_equal(csm_record_location("servicenow", "http://x", "task", id, out, sizeof out), TB_ERR_INVALID);
    assert_int_equal(csm_record_location("servicenow", "https://x/\"><", "task", id, out, sizeof out), TB_ERR_INVALID);
    assert_int_equal(csm_record_location("embedded", "", "sys_user_x", id, out, sizeof out), TB_ERR_INVALID);
    assert_int_equal(csm_record_location("embedded", "", "task", "0123456789ABCDEF0123456789abcdef", out, sizeof out),
                     TB_ERR_INVALID);
    assert_int_equal(csm_record_location("embedded", "", "task", "../../etc", out, sizeof out), TB_ERR_INVALID);
    assert_int_equal(csm_record_location("embedded", "", "task", id, out, 10), TB_ERR_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_from_session), cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_four_kinds),          cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_mapping_problems),    cmocka_unit_test(test_many_mappings),
        cmocka_unit_test(test_start_session_url),   cmocka_unit_test(test_html_escape),
        cmocka_unit_test(test_record_location),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
