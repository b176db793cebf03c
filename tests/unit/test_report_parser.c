/* Session-report parser: fixtures field by field (PRA §3.1, RS with every
 * quirk), namespace independence, chunking, listings, <error> replies, the
 * btsim output, and hostile input (DTDs, entities, depth, size caps, bad
 * UTF-8, truncation). Runs under ASan+UBSan in the sanitizer build. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/report.h"
#include "core/buf.h"

/* ---- helpers ---- */

static char *read_fixture(const char *name, size_t *len)
{
    const char *dir = getenv("TB_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/reports/%s", dir ? dir : "tests/data", name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    tb_buf b;
    tb_buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        assert_int_equal(tb_buf_append(&b, chunk, n), TB_OK);
    fclose(fp);
    *len = b.len;
    return tb_buf_take(&b);
}

#define S(x) ((x) ? (x) : "(null)")

static void dump_actor(tb_buf *b, const char *what, const bt_actor *a)
{
    if (a->present)
        tb_buf_printf(b, " %s=[%s|%lld|%s]", what, S(a->type), a->gsnumber, S(a->name));
}

/* Canonical text of every field of a session, to compare parses. */
static void dump_session(tb_buf *b, const bt_session *s)
{
    tb_buf_printf(b, "session %s type=%s lseq=%lld start=%lld/%s end=%lld/%s dur=%lld/%s\n",
                  S(s->lsid), S(s->session_type), s->lseq, (long long)s->start_time,
                  S(s->start_time_text), (long long)s->end_time, S(s->end_time_text), s->duration,
                  S(s->duration_text));
    tb_buf_printf(b, "site=%lld/%s jp=%lld/%s jg=%lld/%s/%s pc=%lld/%s pr=%lld/%lld/%s ek=%s\n",
                  s->public_site.id, S(s->public_site.name), s->jumpoint.id, S(s->jumpoint.name),
                  s->jump_group.id, S(s->jump_group.type), S(s->jump_group.name),
                  s->primary_customer.gsnumber, S(s->primary_customer.name), s->primary_rep.gsnumber,
                  s->primary_rep.id, S(s->primary_rep.name), S(s->external_key));
    for (size_t i = 0; i < s->ncustom_attributes; i++)
        tb_buf_printf(b, "custom %s|%s|%s\n", S(s->custom_attributes[i].code_name),
                      S(s->custom_attributes[i].display_name), S(s->custom_attributes[i].value));
    tb_buf_printf(b, "urls %s %s %s %s rec=%d counts=%lld/%lld/%lld\n", S(s->chat_view_url),
                  S(s->chat_download_url), S(s->recording_view_url), S(s->recording_download_url),
                  s->has_recording, s->file_transfer_count, s->file_move_count, s->file_delete_count);
    if (s->customer_info)
        tb_buf_printf(b, "cinfo %s|%s|%s|%s|%s\n", S(s->customer_info->name),
                      S(s->customer_info->company), S(s->customer_info->company_code),
                      S(s->customer_info->details), S(s->customer_info->issue));
    for (size_t i = 0; i < s->nusers; i++) {
        const bt_user *u = &s->users[i];
        tb_buf_printf(b, "user %d gs=%lld id=%lld %s|%s|%s|%s|%s|%s|%s|%s own=%d prim=%d sec=%lld",
                      u->kind, u->gsnumber, u->id, S(u->username), S(u->display_name),
                      S(u->public_display_name), S(u->private_display_name), S(u->public_ip),
                      S(u->private_ip), S(u->hostname), S(u->os), u->session_owner, u->primary,
                      u->seconds_involved);
        if (u->has_info)
            tb_buf_printf(b, " info=%s|%s|%s|%s|%s", S(u->info.name), S(u->info.company),
                          S(u->info.company_code), S(u->info.details), S(u->info.issue));
        tb_buf_appends(b, "\n");
    }
    for (size_t i = 0; i < s->nevents; i++) {
        const bt_event *e = &s->events[i];
        tb_buf_printf(b, "event %lld %s", (long long)e->timestamp, S(e->event_type));
        dump_actor(b, "by", &e->performed_by);
        dump_actor(b, "to", &e->destination);
        for (size_t k = 0; k < e->ndata; k++)
            tb_buf_printf(b, " {%s=%s}", S(e->data[k].name), S(e->data[k].value));
        if (e->body)
            tb_buf_printf(b, " body=%s", e->body);
        tb_buf_appends(b, "\n");
    }
    for (size_t i = 0; i < s->nfiles; i++) {
        const bt_file_transfer *f = &s->files[i];
        tb_buf_printf(b, "file #%zu %lld %s %s %lld %s %s %s %s ok=%d %s", f->event_index,
                      (long long)f->timestamp, S(f->event_type), S(f->name), f->size, S(f->path),
                      S(f->old_path), S(f->new_path), bt_file_direction_name(f->direction),
                      f->success, S(f->sha256));
        dump_actor(b, "by", &f->performed_by);
        tb_buf_appends(b, "\n");
    }
}

typedef struct collect {
    tb_buf dump;
    size_t n;
    size_t fail_at;             /* return fail_rc on this session (1-based); 0 = never */
    tb_err fail_rc;
    size_t events;
    void (*check)(const bt_session *s, size_t idx);
} collect;

static tb_err collect_cb(const bt_session *s, void *ctx)
{
    collect *c = ctx;
    c->n++;
    c->events += s->nevents;
    if (c->check)
        c->check(s, c->n - 1);
    dump_session(&c->dump, s);
    if (c->fail_at && c->n == c->fail_at)
        return c->fail_rc;
    return TB_OK;
}

/* Parses buf in chunks of `chunk` bytes (0 = all at once). */
static tb_err parse_chunked(const char *buf, size_t len, size_t chunk, const bt_report_limits *lim,
                            collect *c, char *err, size_t errsz)
{
    bt_report_parser *p = bt_report_parser_new(lim, collect_cb, c);
    assert_non_null(p);
    tb_err rc = TB_OK;
    if (!chunk)
        chunk = len ? len : 1;
    for (size_t off = 0; !rc && off < len; off += chunk)
        rc = bt_report_parser_feed(p, buf + off, len - off < chunk ? len - off : chunk);
    if (!rc)
        rc = bt_report_parser_finish(p);
    if (err)
        snprintf(err, errsz, "%s", bt_report_parser_error(p));
    if (rc)
        assert_true(bt_report_parser_error(p)[0] != '\0');
    bt_report_parser_free(p);
    return rc;
}

static tb_err parse_str(const char *xml, const bt_report_limits *lim, collect *c, char *err,
                        size_t errsz)
{
    return parse_chunked(xml, strlen(xml), 0, lim, c, err, errsz);
}

static void collect_init(collect *c)
{
    memset(c, 0, sizeof *c);
    tb_buf_init(&c->dump, 0);
}

/* Parses a fixture file; returns the dump (caller frees). */
static char *parse_fixture(const char *name, size_t chunk, size_t *nsessions,
                           void (*check)(const bt_session *, size_t))
{
    size_t len;
    char *xml = read_fixture(name, &len);
    collect c;
    collect_init(&c);
    c.check = check;
    char err[512];
    tb_err rc = parse_chunked(xml, len, chunk, NULL, &c, err, sizeof err);
    if (rc)
        fail_msg("%s: %d %s", name, rc, err);
    free(xml);
    if (nsessions)
        *nsessions = c.n;
    if (!c.dump.data)
        tb_buf_appends(&c.dump, "");
    return tb_buf_take(&c.dump);
}

static void expect_error(const char *xml, size_t len, const bt_report_limits *lim, tb_err want,
                         const char *needle)
{
    collect c;
    collect_init(&c);
    char err[512] = "";
    tb_err rc = parse_chunked(xml, len, 0, lim, &c, err, sizeof err);
    if (rc != want)
        fail_msg("got %d (%s), want %d", rc, err, want);
    if (needle && !strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
    tb_buf_free(&c.dump);
    /* and the same fed one byte at a time */
    if (len < 200000) {
        collect_init(&c);
        rc = parse_chunked(xml, len, 1, lim, &c, err, sizeof err);
        if (rc != want)
            fail_msg("bytewise: got %d (%s), want %d", rc, err, want);
        tb_buf_free(&c.dump);
    }
}

static void expect_error_str(const char *xml, tb_err want, const char *needle)
{
    expect_error(xml, strlen(xml), NULL, want, needle);
}

/* ---- fixtures ---- */

static void check_pra(const bt_session *s, size_t idx)
{
    assert_int_equal(idx, 0);
    assert_string_equal(s->lsid, "e9e99aeb9ad54fb381634498502c5a1b");
    assert_string_equal(s->session_type, "support");
    assert_int_equal(s->lseq, 8);
    assert_int_equal(s->start_time, 1733239565);
    assert_string_equal(s->start_time_text, "2024-12-03T15:26:05+00:00");
    assert_int_equal(s->end_time, 1733240467);
    assert_string_equal(s->end_time_text, "2024-12-03T15:41:07+00:00");
    assert_int_equal(s->duration, 902);
    assert_string_equal(s->duration_text, "00:15:02");
    assert_int_equal(s->public_site.id, -1);
    assert_null(s->public_site.name);
    assert_int_equal(s->jumpoint.id, -1);
    assert_null(s->jumpoint.name);
    assert_int_equal(s->jump_group.id, 1);
    assert_string_equal(s->jump_group.type, "shared");
    assert_string_equal(s->jump_group.name, "Sekoia.io integration");
    assert_int_equal(s->primary_customer.gsnumber, 22);
    assert_string_equal(s->primary_customer.name, "Sekoia.io integration");
    assert_int_equal(s->primary_rep.gsnumber, 21);
    assert_int_equal(s->primary_rep.id, 1);
    assert_string_equal(s->primary_rep.name, "Admin");
    assert_non_null(s->external_key);
    assert_string_equal(s->external_key, "");
    assert_int_equal(s->ncustom_attributes, 0);
    assert_string_equal(s->chat_view_url,
                        "https://x.beyondtrustcloud.com/session_download?lsid=l%3De9e99aeb9ad54fb3816"
                        "34498502c5a1b%3Bh%3D0123456789abcdef0123456789abcdef01234567%3Bt%3Dsd%3Bm%"
                        "3Dchat&dl_action=chat&view=1");
    assert_string_equal(s->chat_download_url,
                        "https://x.beyondtrustcloud.com/session_download?lsid=l%3De9e99aeb9ad54fb3816"
                        "34498502c5a1b%3Bh%3D0123456789abcdef0123456789abcdef01234567%3Bt%3Dsd%3Bm%"
                        "3Dchat&dl_action=chat");
    assert_null(s->recording_view_url);
    assert_null(s->recording_download_url);
    assert_false(s->has_recording);
    assert_int_equal(s->file_transfer_count, 2);
    assert_int_equal(s->file_move_count, 0);
    assert_int_equal(s->file_delete_count, 1);
    assert_null(s->customer_info);

    assert_int_equal(s->nusers, 2);
    const bt_user *c = &s->users[0], *r = &s->users[1];
    assert_int_equal(c->kind, BT_USER_CUSTOMER);
    assert_int_equal(c->gsnumber, 22);
    assert_int_equal(c->id, -1);
    assert_string_equal(c->username, "sekoia");
    assert_string_equal(c->public_ip, "4.231.237.19:61606");
    assert_string_equal(c->private_ip, "10.0.0.4");
    assert_string_equal(c->hostname, "Windows2022");
    assert_string_equal(c->os, "Windows Server 2022 Datacenter x64 Edition (Build 20348)");
    assert_null(c->display_name);
    assert_int_equal(c->session_owner, -1);
    assert_int_equal(c->primary, -1);
    assert_int_equal(c->seconds_involved, -1);
    assert_false(c->has_info);
    assert_int_equal(r->kind, BT_USER_REP);
    assert_int_equal(r->gsnumber, 21);
    assert_int_equal(r->id, 1);
    assert_string_equal(r->username, "admin");
    assert_string_equal(r->display_name, "Admin");
    assert_string_equal(r->public_display_name, "Admin");
    assert_string_equal(r->private_display_name, "Admin");
    assert_string_equal(r->public_ip, "[2a01:e0a:5f3:d860:1c5e:4e9b:8c3f:d987]:56722");
    assert_string_equal(r->private_ip, "Unknown");
    assert_null(r->hostname);
    assert_string_equal(r->os, "Unknown");
    assert_int_equal(r->session_owner, 1);
    assert_int_equal(r->primary, -1);
    assert_int_equal(r->seconds_involved, 901);

    assert_int_equal(s->nevents, 5);
    const bt_event *e = &s->events[0];
    assert_int_equal(e->timestamp, 1733239565);
    assert_string_equal(e->event_type, "Session Start");
    assert_false(e->performed_by.present);
    assert_false(e->destination.present);
    assert_int_equal(e->ndata, 0);
    assert_null(e->body);
    e = &s->events[1];
    assert_string_equal(e->event_type, "Conference Owner Changed");
    assert_true(e->destination.present);
    assert_string_equal(e->destination.type, "system");
    assert_int_equal(e->destination.gsnumber, 0);
    assert_string_equal(e->destination.name, "Pre-start Conference");
    assert_int_equal(e->ndata, 1);
    assert_string_equal(e->data[0].name, "owner");
    assert_string_equal(e->data[0].value, "Pre-start Conference");
    assert_string_equal(bt_event_data(e, "owner"), "Pre-start Conference");
    assert_null(bt_event_data(e, "nope"));
    e = &s->events[2];
    assert_string_equal(e->event_type, "Chat Message");
    assert_string_equal(e->performed_by.type, "system");
    assert_string_equal(e->performed_by.name, "Privileged Remote Access");
    assert_string_equal(e->destination.type, "everyone");
    assert_string_equal(e->body, "Admin can now view and control the endpoint.");
    e = &s->events[3];
    assert_int_equal(e->ndata, 3);
    assert_string_equal(e->data[2].name, "empty");
    assert_string_equal(e->data[2].value, ""); /* self-closing <value/> without value= */
    assert_string_equal(s->events[4].event_type, "Session End");

    assert_int_equal(s->nfiles, 1);
    const bt_file_transfer *f = &s->files[0];
    assert_int_equal(f->event_index, 3);
    assert_int_equal(f->timestamp, 1733239700);
    assert_string_equal(f->event_type, "File Transfer Complete");
    assert_string_equal(f->name, "install.log");
    assert_int_equal(f->size, -1);
    assert_null(f->path);
    assert_int_equal(f->direction, BT_FILE_OTHER);
    assert_true(f->success);
    assert_string_equal(f->sha256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    assert_string_equal(f->performed_by.name, "Admin");
    assert_int_equal(f->performed_by.gsnumber, 21);
}

static void test_pra_fixture(void **state)
{
    (void)state;
    size_t n;
    char *d = parse_fixture("pra_access_session.xml", 0, &n, check_pra);
    assert_int_equal(n, 1);
    char *d1 = parse_fixture("pra_access_session.xml", 1, &n, check_pra);
    assert_string_equal(d, d1);
    free(d);
    free(d1);
}

static void check_rs(const bt_session *s, size_t idx)
{
    assert_int_equal(idx, 0);
    assert_string_equal(s->lsid, "3f1c2a4b5d6e7f8091a2b3c4d5e6f708");
    assert_int_equal(s->lseq, 31);
    assert_int_equal(s->start_time, 1733300000);
    assert_int_equal(s->end_time, 1733303723);
    assert_int_equal(s->duration, 3723);
    assert_int_equal(s->public_site.id, 2);
    assert_string_equal(s->public_site.name, "Help Desk & Field Support");
    assert_int_equal(s->jump_group.id, -1);
    assert_null(s->jump_group.name);
    assert_int_equal(s->primary_customer.gsnumber, 41);
    assert_string_equal(s->primary_customer.name, "Jos\xc3\xa9 \xc3\x81lvarez");
    assert_int_equal(s->primary_rep.gsnumber, 40);
    assert_int_equal(s->primary_rep.id, 4);
    assert_string_equal(s->primary_rep.name, "Pat O'Brien");
    assert_string_equal(s->external_key, "INC0010042");
    assert_int_equal(s->ncustom_attributes, 3);
    assert_string_equal(s->custom_attributes[0].code_name, "snow_task_id");
    assert_string_equal(s->custom_attributes[0].display_name, "ServiceNow Task");
    assert_string_equal(s->custom_attributes[0].value, "TASK0012345");
    assert_string_equal(s->custom_attributes[1].display_name, "Caller \"VIP\"");
    assert_string_equal(s->custom_attributes[1].value, "yes & urgent");
    assert_string_equal(s->custom_attributes[2].value, "");
    assert_string_equal(bt_session_custom(s, "snow_task_id"), "TASK0012345");
    assert_null(bt_session_custom(s, "missing"));
    assert_true(s->has_recording);
    assert_non_null(strstr(s->recording_view_url, "&dl_action=rec&view=1"));
    assert_non_null(strstr(s->recording_download_url, "m%3Drec&dl_action=rec"));
    assert_non_null(strstr(s->chat_view_url, "&dl_action=chat&view=1"));
    assert_int_equal(s->file_transfer_count, 3);
    assert_int_equal(s->file_move_count, 1);
    assert_int_equal(s->file_delete_count, 1);
    assert_non_null(s->customer_info);
    assert_string_equal(s->customer_info->name, "Jos\xc3\xa9 \xc3\x81lvarez");
    assert_string_equal(s->customer_info->company, "Globex & Sons");
    assert_string_equal(s->customer_info->company_code, "C0042");
    assert_string_equal(s->customer_info->details, "Submitted via the portal; see \"details\" & notes.");
    assert_string_equal(s->customer_info->issue, "Printer <HP-4F> offline");

    assert_int_equal(s->nusers, 4);
    const bt_user *c2 = &s->users[1], *r1 = &s->users[2], *r2 = &s->users[3];
    assert_int_equal(s->users[0].kind, BT_USER_CUSTOMER);
    assert_int_equal(s->users[0].primary, 1);
    assert_string_equal(s->users[0].public_ip, "203.0.113.7:50123");
    assert_int_equal(c2->kind, BT_USER_CUSTOMER);
    assert_int_equal(c2->gsnumber, 43);
    assert_string_equal(c2->username, "Chen Wei \xe9\x99\x88\xe4\xbc\x9f");
    assert_int_equal(c2->primary, 0);
    assert_true(c2->has_info);
    assert_string_equal(c2->info.company, "Unknown");
    assert_string_equal(c2->info.company_code, "");
    assert_string_equal(c2->info.details, "");
    assert_string_equal(c2->public_ip, "[2001:db8:1::42]:443");
    assert_string_equal(c2->hostname, "Unknown");
    assert_int_equal(r1->kind, BT_USER_REP);
    assert_int_equal(r1->id, 4);
    assert_string_equal(r1->private_display_name, "Pat O'Brien & Team");
    assert_int_equal(r1->primary, 1);
    assert_int_equal(r1->session_owner, 1);
    assert_int_equal(r1->seconds_involved, 3723);
    assert_int_equal(r2->gsnumber, 42);
    assert_string_equal(r2->display_name, "Marie M\xc3\xbcller");
    assert_string_equal(r2->private_display_name, "Marie <Desk 2>");
    assert_int_equal(r2->primary, 0);
    assert_int_equal(r2->session_owner, 0);
    assert_int_equal(r2->seconds_involved, 851);

    assert_int_equal(s->nevents, 12);
    assert_string_equal(s->events[2].body,
                        "Hi, my VPN says \"connection refused\" & then exits <E_ACCESSDENIED> when I "
                        "open 'Q3 report.xlsx' \xe2\x80\x94 Gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93");
    assert_string_equal(s->events[2].performed_by.type, "customer");
    assert_int_equal(s->events[2].performed_by.gsnumber, 41);
    assert_string_equal(s->events[3].body, "5 < 6 && 7 > 3 line2\nline3");
    assert_string_equal(s->events[11].event_type, "Session End");
    assert_int_equal(s->events[11].ndata, 0);

    assert_int_equal(s->nfiles, 6); /* "Files Shared" is not a transfer */
    const bt_file_transfer *f = s->files;
    assert_string_equal(f[0].event_type, "File Upload");
    assert_int_equal(f[0].direction, BT_FILE_UPLOAD);
    assert_true(f[0].success);
    assert_string_equal(f[0].name, "fix<v2>.ps1");
    assert_int_equal(f[0].size, 2048);
    assert_string_equal(f[0].path, "C:\\Users\\Public\\Downloads\\fix<v2>.ps1");
    assert_null(f[0].sha256);
    assert_int_equal(f[1].direction, BT_FILE_DOWNLOAD);
    assert_string_equal(f[1].name, "report \"final\".pdf");
    assert_int_equal(f[1].size, 1048576);
    assert_int_equal(f[2].direction, BT_FILE_DOWNLOAD);
    assert_false(f[2].success);
    assert_string_equal(f[2].name, "dump&trace.zip");
    assert_int_equal(f[2].size, -1);
    assert_string_equal(f[2].performed_by.name, "Marie M\xc3\xbcller");
    assert_string_equal(f[3].event_type, "File Moved");
    assert_string_equal(f[3].old_path, "C:\\Temp\\a.txt");
    assert_string_equal(f[3].new_path, "C:\\Temp\\b.txt");
    assert_string_equal(f[3].path, "C:\\Temp\\b.txt");
    assert_int_equal(f[3].direction, BT_FILE_OTHER);
    assert_string_equal(f[4].event_type, "File Deleted");
    assert_string_equal(f[4].path, "C:\\Temp\\old.log");
    assert_string_equal(f[5].event_type, "Directory Created");
    assert_int_equal(f[5].event_index, 9);
    assert_int_equal(f[5].timestamp, 1733301100);
}

static void test_rs_fixture_and_namespaces(void **state)
{
    (void)state;
    static const char *const variants[] = {
        "rs_support_session_nons.xml",
        "rs_support_session_bomgar.xml",
        "rs_support_session_prefixed.xml",
    };
    char *ref = parse_fixture("rs_support_session.xml", 0, NULL, check_rs);
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        size_t n;
        char *d = parse_fixture(variants[i], 0, &n, check_rs);
        assert_int_equal(n, 1);
        assert_string_equal(ref, d);
        free(d);
    }
    free(ref);
}

/* Every fixture fed one byte at a time, and in odd chunk sizes, gives the
 * same result as all at once. */
static void test_chunking(void **state)
{
    (void)state;
    static const char *const fixtures[] = {
        "pra_access_session.xml", "rs_support_session.xml", "rs_support_session_prefixed.xml",
        "btsim_rs.xml", "btsim_pra.xml",
    };
    static const size_t chunks[] = {1, 2, 3, 7, 64, 4093};
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++) {
        char *ref = parse_fixture(fixtures[i], 0, NULL, NULL);
        assert_true(strlen(ref) > 100);
        for (size_t k = 0; k < sizeof chunks / sizeof *chunks; k++) {
            char *d = parse_fixture(fixtures[i], chunks[k], NULL, NULL);
            if (strcmp(ref, d))
                fail_msg("%s differs with chunk %zu", fixtures[i], chunks[k]);
            free(d);
        }
        free(ref);
    }
}

static size_t count_substr(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void check_btsim(const bt_session *s, size_t idx)
{
    (void)idx;
    assert_int_equal(strlen(s->lsid), 32);
    assert_string_equal(s->session_type, "support");
    assert_true(s->lseq > 0);
    assert_true(s->start_time > 0);
    assert_true(s->end_time >= s->start_time);
    assert_int_equal(s->duration, s->end_time - s->start_time);
    assert_non_null(s->chat_view_url);
    assert_null(strstr(s->chat_view_url, "&amp;"));
    assert_true(s->nusers >= 2);
    assert_true(s->nevents >= 10);
    assert_string_equal(s->events[0].event_type, "Session Start");
    assert_string_equal(s->events[s->nevents - 1].event_type, "Session End");
    assert_true(s->primary_rep.gsnumber > 0);
    size_t transfers = 0;
    for (size_t i = 0; i < s->nfiles; i++)
        if (s->files[i].success && strcmp(s->files[i].event_type, "File Deleted"))
            transfers++;
    assert_int_equal(transfers, s->file_transfer_count);
    for (size_t i = 0; i < s->nusers; i++) {
        char addr[64];
        int port;
        assert_non_null(s->users[i].public_ip);
        assert_int_equal(bt_split_hostport(s->users[i].public_ip, addr, sizeof addr, &port), TB_OK);
        assert_true(port > 0);
    }
    if (s->public_site.id >= 0) {   /* RS */
        assert_non_null(s->customer_info);
        assert_non_null(s->customer_info->company);
    } else {                        /* PRA */
        assert_true(s->jumpoint.id > 0);
        assert_true(s->jump_group.id > 0);
        assert_non_null(s->jump_group.name);
        assert_null(s->customer_info);
    }
}

/* Everything the simulator produces: several sessions per document, one
 * callback per session, every event kept. */
static void test_btsim_reports(void **state)
{
    (void)state;
    static const char *const fixtures[] = {"btsim_rs.xml", "btsim_pra.xml"};
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        char *xml = read_fixture(fixtures[i], &len);
        collect c;
        collect_init(&c);
        c.check = check_btsim;
        assert_int_equal(parse_chunked(xml, len, 777, NULL, &c, NULL, 0), TB_OK);
        assert_int_equal(c.n, count_substr(xml, "<session lsid="));
        assert_true(c.n >= 5);
        assert_int_equal(c.events, count_substr(xml, "<event "));
        tb_buf_free(&c.dump);
        free(xml);
    }
}

static void test_callback_error_aborts(void **state)
{
    (void)state;
    size_t len;
    char *xml = read_fixture("btsim_rs.xml", &len);
    collect c;
    collect_init(&c);
    c.fail_at = 2;
    c.fail_rc = TB_ERR_DB;
    char err[512];
    assert_int_equal(parse_chunked(xml, len, 100, NULL, &c, err, sizeof err), TB_ERR_DB);
    assert_int_equal(c.n, 2);
    assert_non_null(strstr(err, "callback"));
    tb_buf_free(&c.dump);
    free(xml);
}

static void test_error_reply(void **state)
{
    (void)state;
    size_t len;
    char *xml = read_fixture("error.xml", &len);
    bt_report_parser *p = bt_report_parser_new(NULL, collect_cb, NULL);
    assert_non_null(p);
    assert_int_equal(bt_report_parser_feed(p, xml, len), TB_ERR_NOT_FOUND);
    assert_int_equal(bt_report_parser_finish(p), TB_ERR_NOT_FOUND); /* sticky */
    assert_string_equal(bt_report_parser_api_error(p), "No archives found for the given search criteria.");
    assert_int_equal(bt_report_parser_root(p), BT_REPORT_ROOT_ERROR);
    assert_non_null(strstr(bt_report_parser_error(p), "No archives found"));
    bt_report_parser_free(p);
    free(xml);

    /* the convenience wrapper hands back the appliance's text */
    const char *dir = getenv("TB_TEST_DATA");
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/reports/error.xml", dir ? dir : "tests/data");
    assert_int_equal(bt_report_parse_file(path, NULL, NULL, NULL, err, sizeof err), TB_ERR_NOT_FOUND);
    assert_string_equal(err, "No archives found for the given search criteria.");
    snprintf(path, sizeof path, "%s/reports/rs_support_session.xml", dir ? dir : "tests/data");
    collect c;
    collect_init(&c);
    assert_int_equal(bt_report_parse_file(path, NULL, collect_cb, &c, err, sizeof err), TB_OK);
    assert_int_equal(c.n, 1);
    tb_buf_free(&c.dump);
    assert_int_equal(bt_report_parse_file("/nonexistent/x.xml", NULL, NULL, NULL, err, sizeof err),
                     TB_ERR_IO);

    /* a child <error> after a session: the session is delivered first */
    collect_init(&c);
    expect_error_str("<session_list><session lsid='a'/><error>boom</error></session_list>",
                     TB_ERR_NOT_FOUND, "boom");
    assert_int_equal(parse_str("<session_list><session lsid='a'/><error>boom</error></session_list>",
                               NULL, &c, NULL, 0),
                     TB_ERR_NOT_FOUND);
    assert_int_equal(c.n, 1);
    tb_buf_free(&c.dump);
    /* a deeper <error> is just an unknown element */
    collect_init(&c);
    assert_int_equal(parse_str("<session_list><session lsid='a'><error>x</error></session>"
                               "</session_list>", NULL, &c, NULL, 0), TB_OK);
    assert_int_equal(c.n, 1);
    tb_buf_free(&c.dump);
}

typedef struct sums {
    size_t n;
    char lsids[4][40];
    int rec[4];
} sums;

static tb_err summary_cb(const bt_session_summary *s, void *ctx)
{
    sums *m = ctx;
    if (m->n < 4) {
        snprintf(m->lsids[m->n], sizeof m->lsids[0], "%s", s->lsid ? s->lsid : "");
        m->rec[m->n] = s->has_recording;
    }
    m->n++;
    return TB_OK;
}

static void test_listing(void **state)
{
    (void)state;
    size_t len;
    char *xml = read_fixture("listing.xml", &len);
    for (size_t chunk = 1; chunk <= len; chunk = chunk * 4 + 1) {
        sums m = {0};
        collect c;
        collect_init(&c);
        bt_report_parser *p = bt_report_parser_new(NULL, collect_cb, &c);
        bt_report_parser_on_summary(p, summary_cb, &m);
        tb_err rc = TB_OK;
        for (size_t off = 0; !rc && off < len; off += chunk)
            rc = bt_report_parser_feed(p, xml + off, len - off < chunk ? len - off : chunk);
        assert_int_equal(rc, TB_OK);
        assert_int_equal(bt_report_parser_finish(p), TB_OK);
        assert_int_equal(bt_report_parser_root(p), BT_REPORT_ROOT_LISTING);
        assert_int_equal(m.n, 3);
        assert_int_equal(c.n, 0);
        assert_string_equal(m.lsids[0], "e9e99aeb9ad54fb381634498502c5a1b");
        assert_int_equal(m.rec[0], 1);
        assert_int_equal(m.rec[1], 0);
        assert_int_equal(m.rec[2], -1);
        bt_report_parser_free(p);
        tb_buf_free(&c.dump);
    }
    free(xml);
    /* an empty listing is fine */
    collect c;
    collect_init(&c);
    assert_int_equal(parse_str("<session_summary_list xmlns='x'/>", NULL, &c, NULL, 0), TB_OK);
    assert_int_equal(c.n, 0);
}

static void check_active(const bt_session *s, size_t idx)
{
    (void)idx;
    assert_int_equal(s->start_time, 1733239565);
    assert_int_equal(s->end_time, 0);
    assert_string_equal(s->end_time_text, "");
    assert_int_equal(s->jumpoint.id, -1);
    assert_string_equal(s->jumpoint.name, "none");
    assert_int_equal(s->jump_group.id, 7);
    assert_int_equal(s->duration, 100 * 3600 + 1);
    assert_int_equal(s->lseq, -1); /* not a number */
    assert_int_equal(s->nevents, 1);
    assert_int_equal(s->events[0].timestamp, 0);
    assert_null(s->events[0].event_type);
}

static void test_active_session_and_leniency(void **state)
{
    (void)state;
    collect c;
    collect_init(&c);
    c.check = check_active;
    assert_int_equal(parse_str("<?xml version='1.0'?><!-- hi --><?pi x?>\n"
                               "<session_list><session lsid='x'><lseq>Unknown</lseq>"
                               "<start_time timestamp='1733239565'>t</start_time><end_time/>"
                               "<end_time timestamp=''></end_time><duration>100:00:01</duration>"
                               "<jumpoint id='-1'>none</jumpoint><jump_group id='7' type='x'/>"
                               "<session_details><event/></session_details></session>"
                               "</session_list>",
                               NULL, &c, NULL, 0),
                     TB_OK);
    assert_int_equal(c.n, 1);
    tb_buf_free(&c.dump);
}

static void test_split_hostport(void **state)
{
    (void)state;
    char a[64];
    int port;
    assert_int_equal(bt_split_hostport("4.231.237.19:61606", a, sizeof a, &port), TB_OK);
    assert_string_equal(a, "4.231.237.19");
    assert_int_equal(port, 61606);
    assert_int_equal(bt_split_hostport("[2a01:e0a:5f3::d987]:56722", a, sizeof a, &port), TB_OK);
    assert_string_equal(a, "2a01:e0a:5f3::d987");
    assert_int_equal(port, 56722);
    assert_int_equal(bt_split_hostport("[::1]", a, sizeof a, &port), TB_OK);
    assert_string_equal(a, "::1");
    assert_int_equal(port, -1);
    assert_int_equal(bt_split_hostport("10.0.0.4", a, sizeof a, &port), TB_OK);
    assert_string_equal(a, "10.0.0.4");
    assert_int_equal(port, -1);
    assert_int_equal(bt_split_hostport("2001:db8::1", a, sizeof a, &port), TB_OK);
    assert_string_equal(a, "2001:db8::1");
    assert_int_equal(port, -1);
    assert_int_equal(bt_split_hostport("Unknown", a, sizeof a, &port), TB_ERR_INVALID);
    assert_int_equal(bt_split_hostport("", a, sizeof a, &port), TB_ERR_INVALID);
    assert_int_equal(bt_split_hostport("1.2.3.4:65536", a, sizeof a, &port), TB_ERR_INVALID);
    assert_int_equal(bt_split_hostport("1.2.3.4:", a, sizeof a, &port), TB_ERR_INVALID);
    assert_int_equal(bt_split_hostport(":80", a, sizeof a, &port), TB_ERR_INVALID);
    assert_int_equal(bt_split_hostport("[::1", a, sizeof a, &port), TB_ERR_INVALID);
    assert_int_equal(bt_split_hostport("[::1]x", a, sizeof a, &port), TB_ERR_INVALID);
    assert_int_equal(bt_split_hostport("[]:80", a, sizeof a, &port), TB_ERR_INVALID);
    assert_int_equal(bt_split_hostport("[::1]:8a", a, sizeof a, &port), TB_ERR_INVALID);
    assert_int_equal(bt_split_hostport("1.2.3.4:80", a, 4, &port), TB_ERR_TOO_LARGE);
}

/* ---- hostile input ---- */

static void test_dtd_attacks(void **state)
{
    (void)state;
    expect_error_str("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
                     " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
                     " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
                     " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
                     " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
                     " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
                     " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
                     " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
                     " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
                     " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
                     "]>\n<session_list><session lsid=\"&lol9;\"><body>&lol9;</body></session>"
                     "</session_list>",
                     TB_ERR_INVALID, "DTD not allowed");
    expect_error_str("<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
                     "<session_list><session lsid=\"&xxe;\"/></session_list>",
                     TB_ERR_INVALID, "DTD not allowed");
    expect_error_str("<!DOCTYPE session_list SYSTEM \"http://example.com/evil.dtd\">"
                     "<session_list/>",
                     TB_ERR_INVALID, "DTD not allowed");
    expect_error_str("<!DOCTYPE session_list><session_list/>", TB_ERR_INVALID, "line 1");
    /* entity references without a DTD are plain errors */
    expect_error_str("<session_list><session lsid=\"&xxe;\"/></session_list>", TB_ERR_INVALID,
                     "undefined entity");
}

static void test_deep_nesting(void **state)
{
    (void)state;
    size_t depth = 100000;
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "<session_list>");
    for (size_t i = 0; i < depth; i++)
        tb_buf_appends(&b, "<a>");
    for (size_t i = 0; i < depth; i++)
        tb_buf_appends(&b, "</a>");
    tb_buf_appends(&b, "</session_list>");
    expect_error(b.data, b.len, NULL, TB_ERR_TOO_LARGE, "nested deeper than 32");
    /* within the limit: ignored as unknown */
    bt_report_limits lim;
    bt_report_limits_default(&lim);
    lim.max_depth = 200000;     /* clamped to 1000 */
    expect_error(b.data, b.len, &lim, TB_ERR_TOO_LARGE, "nested deeper than 1000");
    tb_buf_free(&b);
    collect c;
    collect_init(&c);
    assert_int_equal(parse_str("<session_list><x><y><z><session/></z></y></x></session_list>", NULL,
                               &c, NULL, 0),
                     TB_OK);
    assert_int_equal(c.n, 0); /* a session inside unknown elements is not a session */
}

static void test_malformed(void **state)
{
    (void)state;
    /* invalid UTF-8 in text and in an attribute */
    expect_error_str("<session_list>\n<session lsid='a'><body>\xc3\x28</body></session></session_list>",
                     TB_ERR_INVALID, "line 2, column");
    expect_error_str("<session_list><session lsid='\xff\xfe'/></session_list>", TB_ERR_INVALID,
                     "malformed XML");
    expect_error_str("<session_list><session lsid='\xed\xa0\x80'/></session_list>", /* surrogate */
                     TB_ERR_INVALID, "malformed XML");
    /* truncated */
    size_t len;
    char *xml = read_fixture("rs_support_session.xml", &len);
    for (size_t cut = 0; cut < len; cut += len / 7 + 1)
        expect_error(xml, cut, NULL, TB_ERR_INVALID, cut ? "line" : "no element found");
    expect_error(xml, len - 3, NULL, TB_ERR_INVALID, "malformed XML");
    free(xml);
    /* mismatched tags, junk after the root, wrong root, nothing at all */
    expect_error_str("<session_list>\n<session lsid='a'></sesion></session_list>", TB_ERR_INVALID,
                     "mismatched tag (line 2");
    expect_error_str("<session_list/><session_list/>", TB_ERR_INVALID, "junk after document element");
    expect_error_str("<html><body>502 Bad Gateway</body></html>", TB_ERR_INVALID,
                     "unexpected root element <html>");
    expect_error_str("", TB_ERR_INVALID, "no element found");
    expect_error_str("   \n", TB_ERR_INVALID, "no element found");
    expect_error_str("<session_list><session lsid='a' lsid='b'/></session_list>", TB_ERR_INVALID,
                     "duplicate attribute");
    expect_error_str("<session_list xmlns:a='u' xmlns:b='u'><x a:k='1' b:k='2'/></session_list>",
                     TB_ERR_INVALID, "duplicate attribute");
    expect_error_str("<p:session_list/>", TB_ERR_INVALID, "unbound prefix");
    /* NUL byte */
    expect_error("<session_list>\0</session_list>", 30, NULL, TB_ERR_INVALID, "malformed XML");
}

/* A stream of valid sessions, produced chunk by chunk (never held whole). */
typedef struct gen {
    size_t emitted;
    char chunk[65536];
    size_t chunk_len;
} gen;

static void gen_fill(gen *g)
{
    static const char sess[] =
        "<session lsid=\"0123456789abcdef0123456789abcdef\"><session_type>support</session_type>"
        "<lseq>3</lseq><start_time timestamp=\"1733239565\">2024-12-03T15:26:05+00:00</start_time>"
        "<end_time timestamp=\"1733240467\">2024-12-03T15:41:07+00:00</end_time>"
        "<session_details><event timestamp=\"1733239565\" event_type=\"Chat Message\">"
        "<performed_by type=\"customer\" gsnumber=\"2\">A &amp; B</performed_by>"
        "<body>hello &lt;world&gt;</body></event></session_details></session>\n";
    g->chunk_len = 0;
    while (g->chunk_len + sizeof sess <= sizeof g->chunk) {
        memcpy(g->chunk + g->chunk_len, sess, sizeof sess - 1);
        g->chunk_len += sizeof sess - 1;
    }
}

static void test_input_cap(void **state)
{
    (void)state;
    gen *g = calloc(1, sizeof *g);
    gen_fill(g);
    collect c;
    collect_init(&c);
    bt_report_parser *p = bt_report_parser_new(NULL, collect_cb, &c);
    const char *head = "<?xml version=\"1.0\"?><session_list xmlns=\"http://www.bomgar.com/namespaces/API/reporting\">";
    tb_err rc = bt_report_parser_feed(p, head, strlen(head));
    uint64_t total = strlen(head);
    while (!rc && total < 70ull * 1024 * 1024) {
        rc = bt_report_parser_feed(p, g->chunk, g->chunk_len);
        total += g->chunk_len;
        tb_buf_reset(&c.dump); /* keep the collector's memory flat */
    }
    assert_int_equal(rc, TB_ERR_TOO_LARGE);
    assert_true(total <= 64ull * 1024 * 1024 + g->chunk_len);
    assert_true(bt_report_parser_bytes(p) <= 64ull * 1024 * 1024);
    assert_non_null(strstr(bt_report_parser_error(p), "max_input_bytes"));
    assert_true(c.n > 100000);  /* sessions were delivered as they streamed by */
    assert_int_equal(bt_report_parser_feed(p, "x", 1), TB_ERR_TOO_LARGE);
    assert_int_equal(bt_report_parser_finish(p), TB_ERR_TOO_LARGE);
    bt_report_parser_free(p);
    tb_buf_free(&c.dump);
    free(g);

    /* a small configured cap */
    bt_report_limits lim;
    bt_report_limits_default(&lim);
    lim.max_input_bytes = 100;
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "<session_list>");
    for (int i = 0; i < 20; i++)
        tb_buf_appends(&b, "<session lsid='a'/>");
    tb_buf_appends(&b, "</session_list>");
    expect_error(b.data, b.len, &lim, TB_ERR_TOO_LARGE, "larger than 100 bytes");
    tb_buf_free(&b);
}

static void test_text_caps(void **state)
{
    (void)state;
    bt_report_limits lim;
    bt_report_limits_default(&lim);
    lim.max_text = 1000;
    lim.max_chat_text = 5000;
    tb_buf b;
    /* chat body: 5000 fine, 5001 too long */
    for (int extra = 0; extra <= 1; extra++) {
        tb_buf_init(&b, 0);
        tb_buf_appends(&b, "<session_list><session lsid='a'><session_details><event><body>");
        for (int i = 0; i < 5000 + extra; i++)
            tb_buf_appends(&b, "x");
        tb_buf_appends(&b, "</body></event></session_details></session></session_list>");
        if (extra)
            expect_error(b.data, b.len, &lim, TB_ERR_TOO_LARGE, "text of <body> longer than 5000");
        else
            expect_error(b.data, b.len, &lim, TB_OK, NULL);
        tb_buf_free(&b);
    }
    /* other text: 1000 */
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "<session_list><session lsid='a'><external_key>");
    for (int i = 0; i < 1001; i++)
        tb_buf_appends(&b, "&amp;");
    tb_buf_appends(&b, "</external_key></session></session_list>");
    expect_error(b.data, b.len, &lim, TB_ERR_TOO_LARGE, "text of <external_key> longer than 1000");
    tb_buf_free(&b);
    /* attributes count against max_text too */
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "<session_list><session lsid='");
    for (int i = 0; i < 1001; i++)
        tb_buf_appends(&b, "a");
    tb_buf_appends(&b, "'/></session_list>");
    expect_error(b.data, b.len, &lim, TB_ERR_TOO_LARGE, "attribute lsid longer than 1000");
    tb_buf_free(&b);
    /* text of unknown elements is not kept, so it is not capped */
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "<session_list><session lsid='a'><future>");
    for (int i = 0; i < 20000; i++)
        tb_buf_appends(&b, "y");
    tb_buf_appends(&b, "</future></session></session_list>");
    expect_error(b.data, b.len, &lim, TB_OK, NULL);
    tb_buf_free(&b);
    /* one huge tag: expat would buffer it whole; max_token_bytes stops it */
    lim.max_token_bytes = 10000;
    lim.max_text = 1000000;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "<session_list><session lsid='");
    for (int i = 0; i < 50000; i++)
        tb_buf_appends(&b, "a");
    tb_buf_appends(&b, "'/></session_list>");
    {
        collect c;
        collect_init(&c);
        assert_int_equal(parse_chunked(b.data, b.len, 1000, &lim, &c, NULL, 0), TB_ERR_TOO_LARGE);
        collect_init(&c);
        char err[512];
        assert_int_equal(parse_chunked(b.data, b.len, 1, &lim, &c, err, sizeof err), TB_ERR_TOO_LARGE);
        assert_non_null(strstr(err, "max_token_bytes"));
    }
    tb_buf_free(&b);
    /* too many attributes */
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "<session_list><session");
    for (int i = 0; i < 65; i++)
        tb_buf_printf(&b, " a%d='1'", i);
    tb_buf_appends(&b, "/></session_list>");
    expect_error(b.data, b.len, NULL, TB_ERR_TOO_LARGE, "more than 64 attributes");
    tb_buf_free(&b);
}

static void test_too_many_events(void **state)
{
    (void)state;
    bt_report_limits lim;
    bt_report_limits_default(&lim);
    lim.max_events = 1000;
    for (int extra = 0; extra <= 1; extra++) {
        tb_buf b;
        tb_buf_init(&b, 0);
        tb_buf_appends(&b, "<session_list><session lsid='big'><session_details>");
        for (int i = 0; i < 1000 + extra; i++)
            tb_buf_appends(&b, "<event timestamp='1' event_type='Chat Message'><body>hi</body>"
                               "<data><value name='a' value='b'/></data></event>");
        tb_buf_appends(&b, "</session_details></session></session_list>");
        if (extra)
            expect_error(b.data, b.len, &lim, TB_ERR_TOO_LARGE, "session big has more than 1000 events");
        else
            expect_error(b.data, b.len, &lim, TB_OK, NULL);
        tb_buf_free(&b);
    }
    /* the default cap (200000) with empty events */
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "<session_list><session lsid='big'><session_details>");
    for (int i = 0; i < 200001; i++)
        tb_buf_appends(&b, "<event/>");
    tb_buf_appends(&b, "</session_details></session></session_list>");
    expect_error(b.data, b.len, NULL, TB_ERR_TOO_LARGE, "more than 200000 events");
    tb_buf_free(&b);
    /* retained bytes per session */
    lim.max_events = 0;
    lim.max_session_bytes = 100000;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "<session_list><session lsid='big'><session_details>");
    for (int i = 0; i < 2000; i++)
        tb_buf_appends(&b, "<event event_type='Chat Message'><body>hello hello hello</body></event>");
    tb_buf_appends(&b, "</session_details></session></session_list>");
    expect_error(b.data, b.len, &lim, TB_ERR_TOO_LARGE, "max_session_bytes");
    tb_buf_free(&b);
}

static void test_misuse(void **state)
{
    (void)state;
    bt_report_parser *p = bt_report_parser_new(NULL, NULL, NULL);
    assert_int_equal(bt_report_parser_feed(p, "<session_list/>", 15), TB_OK);
    assert_int_equal(bt_report_parser_finish(p), TB_OK);
    assert_int_equal(bt_report_parser_finish(p), TB_OK);
    assert_string_equal(bt_report_parser_error(p), "");
    assert_int_equal(bt_report_parser_feed(p, " ", 1), TB_ERR_INVALID);
    bt_report_parser_free(p);
    bt_report_parser_free(NULL);
    /* freeing mid-document releases everything (ASan checks) */
    size_t len;
    char *xml = read_fixture("btsim_pra.xml", &len);
    p = bt_report_parser_new(NULL, NULL, NULL);
    assert_int_equal(bt_report_parser_feed(p, xml, len / 2), TB_OK);
    bt_report_parser_free(p);
    free(xml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pra_fixture),
        cmocka_unit_test(test_rs_fixture_and_namespaces),
        cmocka_unit_test(test_chunking),
        cmocka_unit_test(test_btsim_reports),
        cmocka_unit_test(test_callback_error_aborts),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_listing),
        cmocka_unit_test(test_active_session_and_leniency),
        cmocka_unit_test(test_split_hostport),
        cmocka_unit_test(test_dtd_attacks),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_input_cap),
        cmocka_unit_test(test_text_caps),
        cmocka_unit_test(test_too_many_events),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
