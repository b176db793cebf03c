/* Core utilities: tb_buf, tb_ipacl, tb_config, tb_log_quote. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/ipacl.h"
#include "core/log.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static const char *tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

typedef struct conf_fixture {
    char path[512];
    char err[1024];
    tb_config cfg;
} conf_fixture;

static int conf_setup(void **state)
{
    conf_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->path, sizeof f->path, "%s/test_core_conf_XXXXXX", tmpdir());
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    close(fd);
    tb_config_defaults(&f->cfg);
    *state = f;
    return 0;
}

static int conf_teardown(void **state)
{
    conf_fixture *f = *state;
    unlink(f->path);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

static tb_err load_text(conf_fixture *f, const char *text)
{
    write_file(f->path, text);
    f->err[0] = '\0';
    return tb_config_load(f->path, &f->cfg, f->err, sizeof f->err);
}

/* "path:line:" prefix expected in the error message. */
static void assert_err_at(conf_fixture *f, int line)
{
    char want[600];
    snprintf(want, sizeof want, "%s:%d:", f->path, line);
    if (strncmp(f->err, want, strlen(want)) != 0)
        fail_msg("error '%s' does not start with '%s'", f->err, want);
}

static struct sockaddr_storage sa_of(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(1234);
    } else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(1234);
    } else {
        fail_msg("test bug: bad address %s", ip);
    }
    return ss;
}

static bool acl_match(const tb_ipacl *acl, const char *ip)
{
    struct sockaddr_storage ss = sa_of(ip);
    return tb_ipacl_match(acl, (const struct sockaddr *)&ss);
}

/* Parses text, asserts success and returns the list. */
static tb_ipacl acl_of(const char *text)
{
    tb_ipacl acl;
    const char *bad = NULL;
    tb_err e = tb_ipacl_parse(text, &acl, &bad);
    if (e != TB_OK)
        fail_msg("tb_ipacl_parse('%s') = %d, bad at '%s'", text, e, bad ? bad : "(null)");
    return acl;
}

static void assert_acl_invalid(const char *text, size_t bad_off)
{
    tb_ipacl acl;
    const char *bad = NULL;
    tb_err e = tb_ipacl_parse(text, &acl, &bad);
    if (e != TB_ERR_INVALID)
        fail_msg("tb_ipacl_parse('%.80s') = %d, expected TB_ERR_INVALID", text, e);
    assert_int_equal(acl.n, 0);
    assert_null(acl.v);
    assert_ptr_equal(bad, text + bad_off);
}

/* ------------------------------------------------------------------ */
/* tb_buf                                                              */
/* ------------------------------------------------------------------ */

static void test_buf_append_printf(void **state)
{
    (void)state;
    tb_buf b;
    tb_buf_init(&b, 0);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(tb_buf_append(&b, "abc", 3), TB_OK);
    assert_int_equal(tb_buf_appends(&b, "def"), TB_OK);
    assert_int_equal(tb_buf_printf(&b, "-%d-%s", 42, "x"), TB_OK);
    assert_string_equal(b.data, "abcdef-42-x");
    assert_int_equal(b.len, 11);
    /* zero-length append keeps NUL termination */
    assert_int_equal(tb_buf_append(&b, "", 0), TB_OK);
    assert_int_equal(b.len, 11);
    assert_int_equal(b.data[11], '\0');
    /* embedded NUL bytes are data */
    assert_int_equal(tb_buf_append(&b, "a\0b", 3), TB_OK);
    assert_int_equal(b.len, 14);
    assert_memory_equal(b.data + 11, "a\0b", 3);
    assert_int_equal(b.data[14], '\0');
    tb_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_buf_grows_large(void **state)
{
    (void)state;
    tb_buf b;
    tb_buf_init(&b, 0);
    char chunk[1000];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 300; i++)
        assert_int_equal(tb_buf_append(&b, chunk, sizeof chunk), TB_OK);
    assert_int_equal(b.len, 300000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    for (size_t i = 0; i < b.len; i++)
        if (b.data[i] != 'z')
            fail_msg("byte %zu corrupted", i);
    /* printf output larger than the initial capacity */
    tb_buf_reset(&b);
    assert_int_equal(tb_buf_printf(&b, "%5000s|", "q"), TB_OK);
    assert_int_equal(b.len, 5001);
    assert_int_equal(b.data[4999], 'q');
    assert_int_equal(b.data[5000], '|');
    tb_buf_free(&b);
}

static void test_buf_cap(void **state)
{
    (void)state;
    tb_buf b;
    tb_buf_init(&b, 10);
    assert_int_equal(tb_buf_appends(&b, "12345"), TB_OK);
    /* over the cap: refused, contents unchanged */
    assert_int_equal(tb_buf_appends(&b, "678901"), TB_ERR_TOO_LARGE);
    assert_string_equal(b.data, "12345");
    assert_int_equal(b.len, 5);
    assert_int_equal(tb_buf_printf(&b, "%s", "abcdef"), TB_ERR_TOO_LARGE);
    assert_string_equal(b.data, "12345");
    assert_int_equal(b.len, 5);
    assert_int_equal(tb_buf_printf(&b, "%d", 1234567), TB_ERR_TOO_LARGE);
    assert_string_equal(b.data, "12345");
    /* exactly up to the cap is fine */
    assert_int_equal(tb_buf_printf(&b, "%d", 678), TB_OK);
    assert_int_equal(tb_buf_appends(&b, "90"), TB_OK);
    assert_string_equal(b.data, "1234567890");
    assert_int_equal(b.len, 10);
    assert_int_equal(tb_buf_append(&b, "x", 1), TB_ERR_TOO_LARGE);
    assert_int_equal(tb_buf_printf(&b, "x"), TB_ERR_TOO_LARGE);
    assert_int_equal(tb_buf_append(&b, "", 0), TB_OK);
    assert_string_equal(b.data, "1234567890");
    /* a huge length must not wrap around */
    assert_int_equal(tb_buf_append(&b, "x", SIZE_MAX), TB_ERR_TOO_LARGE);
    assert_string_equal(b.data, "1234567890");
    tb_buf_free(&b);

    /* a fresh capped buffer refuses an oversized first append */
    tb_buf_init(&b, 3);
    assert_int_equal(tb_buf_appends(&b, "abcd"), TB_ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    assert_true(b.data == NULL || b.data[0] == '\0');
    tb_buf_free(&b);
}

static void test_buf_take_reset(void **state)
{
    (void)state;
    tb_buf b;
    tb_buf_init(&b, 100);
    /* take on an empty buffer gives an empty, freeable string */
    char *s = tb_buf_take(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);

    assert_int_equal(tb_buf_appends(&b, "hello"), TB_OK);
    tb_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(tb_buf_appends(&b, "world"), TB_OK);
    s = tb_buf_take(&b);
    assert_string_equal(s, "world");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(s);
    /* still usable after take, cap still applies */
    assert_int_equal(tb_buf_printf(&b, "%s", "again"), TB_OK);
    assert_string_equal(b.data, "again");
    char big[200];
    memset(big, 'a', sizeof big);
    assert_int_equal(tb_buf_append(&b, big, sizeof big), TB_ERR_TOO_LARGE);
    assert_string_equal(b.data, "again");
    tb_buf_reset(&b);
    tb_buf_reset(&b);
    tb_buf_free(&b);
    tb_buf_free(&b); /* double free-call is harmless */
    /* reset on a never-used buffer */
    tb_buf_init(&b, 0);
    tb_buf_reset(&b);
    assert_int_equal(b.len, 0);
    tb_buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* tb_ipacl                                                            */
/* ------------------------------------------------------------------ */

static void test_ipacl_ipv4(void **state)
{
    (void)state;
    tb_ipacl acl = acl_of("192.168.1.10");
    assert_int_equal(acl.n, 1);
    assert_int_equal(acl.v[0].family, AF_INET);
    assert_int_equal(acl.v[0].prefix, 32);
    assert_true(acl_match(&acl, "192.168.1.10"));
    assert_false(acl_match(&acl, "192.168.1.11"));
    assert_false(acl_match(&acl, "10.0.0.1"));
    assert_false(acl_match(&acl, "::1"));
    assert_false(tb_ipacl_match(&acl, NULL));
    tb_ipacl_free(&acl);
    assert_int_equal(acl.n, 0);
    assert_null(acl.v);

    acl = acl_of("192.168.1.1/32");
    assert_true(acl_match(&acl, "192.168.1.1"));
    assert_false(acl_match(&acl, "192.168.1.0"));
    tb_ipacl_free(&acl);

    acl = acl_of("10.0.0.0/8");
    assert_int_equal(acl.v[0].prefix, 8);
    assert_true(acl_match(&acl, "10.0.0.0"));
    assert_true(acl_match(&acl, "10.255.1.2"));
    assert_false(acl_match(&acl, "11.0.0.1"));
    assert_false(acl_match(&acl, "9.255.255.255"));
    tb_ipacl_free(&acl);

    /* prefix not on an octet boundary */
    acl = acl_of("172.16.0.0/12");
    assert_true(acl_match(&acl, "172.16.0.1"));
    assert_true(acl_match(&acl, "172.31.255.255"));
    assert_false(acl_match(&acl, "172.32.0.0"));
    assert_false(acl_match(&acl, "172.15.255.255"));
    tb_ipacl_free(&acl);

    acl = acl_of("0.0.0.0/0");
    assert_int_equal(acl.v[0].prefix, 0);
    assert_true(acl_match(&acl, "1.2.3.4"));
    assert_true(acl_match(&acl, "255.255.255.255"));
    assert_true(acl_match(&acl, "::ffff:8.8.8.8"));
    assert_false(acl_match(&acl, "2001:db8::1"));
    tb_ipacl_free(&acl);
}

static void test_ipacl_ipv6(void **state)
{
    (void)state;
    tb_ipacl acl = acl_of("::1");
    assert_int_equal(acl.n, 1);
    assert_int_equal(acl.v[0].family, AF_INET6);
    assert_int_equal(acl.v[0].prefix, 128);
    assert_true(acl_match(&acl, "::1"));
    assert_false(acl_match(&acl, "::2"));
    assert_false(acl_match(&acl, "127.0.0.1"));
    tb_ipacl_free(&acl);

    acl = acl_of("2001:db8::1/128");
    assert_true(acl_match(&acl, "2001:db8::1"));
    assert_true(acl_match(&acl, "2001:0db8:0000:0000:0000:0000:0000:0001"));
    assert_false(acl_match(&acl, "2001:db8::2"));
    tb_ipacl_free(&acl);

    acl = acl_of("2001:db8:1:2::/64");
    assert_int_equal(acl.v[0].prefix, 64);
    assert_true(acl_match(&acl, "2001:db8:1:2::1"));
    assert_true(acl_match(&acl, "2001:db8:1:2:ffff:ffff:ffff:ffff"));
    assert_false(acl_match(&acl, "2001:db8:1:3::1"));
    assert_false(acl_match(&acl, "10.0.0.1"));
    tb_ipacl_free(&acl);

    acl = acl_of("::/0");
    assert_true(acl_match(&acl, "2001:db8::1"));
    assert_true(acl_match(&acl, "fe80::1"));
    tb_ipacl_free(&acl);

    /* long but valid spelling of an IPv6 address */
    acl = acl_of("0000:0000:0000:0000:0000:0000:0000:0001/128");
    assert_true(acl_match(&acl, "::1"));
    tb_ipacl_free(&acl);
}

static void test_ipacl_v4_mapped(void **state)
{
    (void)state;
    tb_ipacl acl = acl_of("10.0.0.0/8, 192.0.2.7");
    assert_int_equal(acl.n, 2);
    /* a dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d */
    assert_true(acl_match(&acl, "::ffff:10.1.2.3"));
    assert_true(acl_match(&acl, "::ffff:192.0.2.7"));
    assert_false(acl_match(&acl, "::ffff:192.0.2.8"));
    assert_false(acl_match(&acl, "::ffff:11.1.2.3"));
    /* not mapped: an IPv6 address whose low 32 bits are 10.x is no match */
    assert_false(acl_match(&acl, "2001:db8::a01:203"));
    assert_false(acl_match(&acl, "::a01:203"));
    tb_ipacl_free(&acl);

    /* a mapped entry matches a plain IPv4 source too */
    acl = acl_of("::ffff:192.0.2.0/120");
    assert_true(acl_match(&acl, "192.0.2.99"));
    assert_true(acl_match(&acl, "::ffff:192.0.2.1"));
    assert_false(acl_match(&acl, "192.0.3.1"));
    tb_ipacl_free(&acl);
}

static void test_ipacl_lists_and_separators(void **state)
{
    (void)state;
    tb_ipacl acl = acl_of("10.0.0.1, 10.0.0.2 ,10.0.0.3\t2001:db8::1\n192.168.0.0/16,,  ,");
    assert_int_equal(acl.n, 5);
    assert_true(acl_match(&acl, "10.0.0.1"));
    assert_true(acl_match(&acl, "10.0.0.2"));
    assert_true(acl_match(&acl, "10.0.0.3"));
    assert_true(acl_match(&acl, "2001:db8::1"));
    assert_true(acl_match(&acl, "192.168.44.1"));
    assert_false(acl_match(&acl, "10.0.0.4"));
    tb_ipacl_free(&acl);

    /* empty lists: n == 0 and matching nothing */
    const char *empties[] = {"", " ", ",", " , ,\t\n", "\r\n"};
    for (size_t i = 0; i < sizeof empties / sizeof *empties; i++) {
        const char *bad = NULL;
        assert_int_equal(tb_ipacl_parse(empties[i], &acl, &bad), TB_OK);
        assert_int_equal(acl.n, 0);
        assert_false(acl_match(&acl, "10.0.0.1"));
        assert_false(acl_match(&acl, "::1"));
        tb_ipacl_free(&acl);
    }
    assert_int_equal(tb_ipacl_parse(NULL, &acl, NULL), TB_OK);
    assert_int_equal(acl.n, 0);
    tb_ipacl_free(&acl);

    /* many entries (exercises growth) */
    tb_buf b;
    tb_buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(tb_buf_printf(&b, "10.%d.%d.1,", i / 256, i % 256), TB_OK);
    acl = acl_of(b.data);
    assert_int_equal(acl.n, 1000);
    assert_true(acl_match(&acl, "10.3.231.1"));
    assert_false(acl_match(&acl, "10.3.231.2"));
    tb_ipacl_free(&acl);
    tb_buf_free(&b);
}

static void test_ipacl_garbage(void **state)
{
    (void)state;
    assert_acl_invalid("1.2.3", 0);
    assert_acl_invalid("::g", 0);
    assert_acl_invalid("10.0.0.0/33", 0);
    assert_acl_invalid("::/129", 0);
    assert_acl_invalid("/8", 0);
    assert_acl_invalid("1.2.3.4/", 0);
    assert_acl_invalid("1.2.3.4/-1", 0);
    assert_acl_invalid("1.2.3.4/8x", 0);
    assert_acl_invalid("1.2.3.4/8/8", 0);
    assert_acl_invalid("1.2.3.4/99999999999999999999999", 0);
    assert_acl_invalid("256.1.1.1", 0);
    assert_acl_invalid("1.2.3.4.5", 0);
    assert_acl_invalid("localhost", 0);
    assert_acl_invalid("*", 0);
    assert_acl_invalid("10.0.0.1;10.0.0.2", 0);
    /* bad points at the offending entry, not the start of the list */
    assert_acl_invalid("10.0.0.1, 1.2.3, 10.0.0.2", 10);
    assert_acl_invalid("10.0.0.1 ::1 ::g", 13);
    assert_acl_invalid("::1,\t10.0.0.0/33", 5);

    /* a very long entry */
    char *lng = malloc(10001);
    assert_non_null(lng);
    memset(lng, '1', 10000);
    lng[10000] = '\0';
    assert_acl_invalid(lng, 0);
    /* very long entry after a valid one */
    memcpy(lng, "10.0.0.1,", 9);
    assert_acl_invalid(lng, 9);
    /* long entry that starts like an address */
    memset(lng, ':', 10000);
    memcpy(lng, "2001:db8::1/64", 14);
    assert_acl_invalid(lng, 0);
    free(lng);
}

/* A prefix written "-0" is garbage like "-1"; strtol reads it as 0, so it
 * must not be accepted as /0, which would accept every source address. */
static void test_ipacl_negative_zero_prefix(void **state)
{
    (void)state;
    tb_ipacl acl;
    const char *bad = NULL;
    tb_err e = tb_ipacl_parse("192.0.2.1/-0", &acl, &bad);
    if (e == TB_OK) {
        bool any = acl_match(&acl, "203.0.113.77");
        unsigned prefix = acl.v[0].prefix;
        tb_ipacl_free(&acl);
        fail_msg("\"192.0.2.1/-0\" parsed as prefix /%u (matches 203.0.113.77: %s)", prefix,
                 any ? "yes" : "no");
    }
    assert_int_equal(e, TB_ERR_INVALID);
    e = tb_ipacl_parse("2001:db8::1/-0", &acl, &bad);
    if (e == TB_OK) {
        tb_ipacl_free(&acl);
        fail_msg("\"2001:db8::1/-0\" accepted");
    }
    assert_int_equal(e, TB_ERR_INVALID);
    assert_acl_invalid("10.0.0.1, 10.0.0.0/-0", 10);
}

static void test_sockaddr_str(void **state)
{
    (void)state;
    char out[INET6_ADDRSTRLEN];
    struct sockaddr_storage ss = sa_of("192.0.2.1");
    tb_sockaddr_str((struct sockaddr *)&ss, out, sizeof out);
    assert_string_equal(out, "192.0.2.1");
    ss = sa_of("2001:db8::1");
    tb_sockaddr_str((struct sockaddr *)&ss, out, sizeof out);
    assert_string_equal(out, "2001:db8::1");
    tb_sockaddr_str(NULL, out, sizeof out);
    assert_string_equal(out, "");
}

/* ------------------------------------------------------------------ */
/* tb_config                                                           */
/* ------------------------------------------------------------------ */

static void test_config_defaults(void **state)
{
    (void)state;
    tb_config cfg;
    tb_config_defaults(&cfg);
    assert_string_equal(cfg.listen_address, "127.0.0.1");
    assert_int_equal(cfg.port, 8080);
    assert_string_equal(cfg.tls_cert, "");
    assert_string_equal(cfg.tls_key, "");
    assert_string_equal(cfg.database, "ticketbridge.db");
    assert_string_equal(cfg.secret_key_file, "");
    assert_int_equal(cfg.workers, 8);
    assert_int_equal(cfg.http_threads, 2);
    assert_int_equal(cfg.max_connections, 1024);
    assert_int_equal(cfg.connection_timeout, 30);
    assert_int_equal(cfg.log_level, TB_LOG_INFO);
    assert_string_equal(cfg.log_file, "");
    assert_string_equal(cfg.ticket_store, "embedded");
    assert_int_equal(cfg.batch_max, 512);
    assert_int_equal(cfg.bench_no_store, 0);
}

static void test_config_valid(void **state)
{
    conf_fixture *f = *state;
    tb_err e = load_text(f,
        "# ticketbridge configuration\n"
        "\n"
        "   # indented comment\n"
        "listen_address = 0.0.0.0\n"
        "port=9443\n"
        "\t tls_cert =  /etc/tb/cert.pem  \n"
        "tls_key = /etc/tb/key.pem\n"
        "database = /var/lib/tb/tb.db\n"
        "secret_key_file = /var/lib/tb/secret.key\n"
        "workers = 4\n"
        "http_threads = 8\n"
        "max_connections = 2000\n"
        "connection_timeout = 60\n"
        "log_level = debug\n"
        "log_file = /var/log/tb.log\n"
        "ticket_store = embedded\n"
        "batch_max = 64\n"
        "   \n"
        "# trailing comment without newline");
    if (e != TB_OK)
        fail_msg("load failed: %d %s", e, f->err);
    assert_string_equal(f->cfg.listen_address, "0.0.0.0");
    assert_int_equal(f->cfg.port, 9443);
    assert_string_equal(f->cfg.tls_cert, "/etc/tb/cert.pem");
    assert_string_equal(f->cfg.tls_key, "/etc/tb/key.pem");
    assert_string_equal(f->cfg.database, "/var/lib/tb/tb.db");
    assert_string_equal(f->cfg.secret_key_file, "/var/lib/tb/secret.key");
    assert_int_equal(f->cfg.workers, 4);
    assert_int_equal(f->cfg.http_threads, 8);
    assert_int_equal(f->cfg.max_connections, 2000);
    assert_int_equal(f->cfg.connection_timeout, 60);
    assert_int_equal(f->cfg.log_level, TB_LOG_DEBUG);
    assert_string_equal(f->cfg.log_file, "/var/log/tb.log");
    assert_string_equal(f->cfg.ticket_store, "embedded");
    assert_int_equal(f->cfg.batch_max, 64);
}

static void test_config_partial_keeps_defaults(void **state)
{
    conf_fixture *f = *state;
    assert_int_equal(load_text(f, "port = 8443\r\n"), TB_OK);
    assert_int_equal(f->cfg.port, 8443);
    assert_string_equal(f->cfg.listen_address, "127.0.0.1");
    assert_string_equal(f->cfg.database, "ticketbridge.db");
    assert_int_equal(f->cfg.workers, 8);

    /* empty and comment-only files are valid */
    tb_config_defaults(&f->cfg);
    assert_int_equal(load_text(f, ""), TB_OK);
    assert_int_equal(f->cfg.port, 8080);
    assert_int_equal(load_text(f, "# nothing\n\n\n#port = 1\n"), TB_OK);
    assert_int_equal(f->cfg.port, 8080);
    /* a value may contain '=' after the first one */
    assert_int_equal(load_text(f, "database = /tmp/a=b.db\n"), TB_OK);
    assert_string_equal(f->cfg.database, "/tmp/a=b.db");
}

static void test_config_unknown_key(void **state)
{
    conf_fixture *f = *state;
    assert_int_equal(load_text(f, "# c\nport = 9000\n\nlisten_port = 9001\n"), TB_ERR_CONFIG);
    assert_err_at(f, 4);
    assert_non_null(strstr(f->err, "listen_port"));
}

static void test_config_bad_values(void **state)
{
    conf_fixture *f = *state;
    static const char *const bad[] = {
        "port = 70000\n", "port = -1\n", "port = abc\n", "port = 80x\n", "port =\n",
        "port = 99999999999999999999\n", "workers = 65\n", "http_threads = 0\n",
        "connection_timeout = 0\n", "max_connections = 100001\n", "batch_max = 0\n",
        "log_level = verbose\n", "ticket_store = remote\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tb_config_defaults(&f->cfg);
        char text[256];
        snprintf(text, sizeof text, "# line 1\n%s", bad[i]);
        tb_err e = load_text(f, text);
        if (e != TB_ERR_CONFIG)
            fail_msg("'%s' loaded with %d", bad[i], e);
        assert_err_at(f, 2);
    }
    tb_config_defaults(&f->cfg);
    assert_int_equal(load_text(f, "port = 65535\n"), TB_OK);
    assert_int_equal(f->cfg.port, 65535);

    /* a line without '=' */
    assert_int_equal(load_text(f, "port 8080\n"), TB_ERR_CONFIG);
    assert_err_at(f, 1);

    /* a string value longer than its field */
    char text[200];
    snprintf(text, sizeof text, "listen_address = %0100d\n", 1);
    assert_int_equal(load_text(f, text), TB_ERR_CONFIG);
    assert_err_at(f, 1);
}

static void test_config_tls_pair(void **state)
{
    conf_fixture *f = *state;
    assert_int_equal(load_text(f, "tls_cert = /etc/tb/cert.pem\n"), TB_ERR_CONFIG);
    assert_non_null(strstr(f->err, f->path));
    assert_non_null(strstr(f->err, "tls_key"));

    tb_config_defaults(&f->cfg);
    assert_int_equal(load_text(f, "tls_key = /etc/tb/key.pem\n"), TB_ERR_CONFIG);
    assert_non_null(strstr(f->err, "tls_cert"));

    tb_config_defaults(&f->cfg);
    assert_int_equal(load_text(f, "tls_key = /k\ntls_cert = /c\n"), TB_OK);
}

static void test_config_long_line(void **state)
{
    conf_fixture *f = *state;
    size_t n = 5000;
    char *text = malloc(n + 64);
    assert_non_null(text);
    int off = snprintf(text, n + 64, "port = 1\n# ");
    memset(text + off, 'x', n);
    strcpy(text + off + n, "\nport = 2\n");
    assert_int_equal(load_text(f, text), TB_ERR_CONFIG);
    assert_err_at(f, 2);
    assert_non_null(strstr(f->err, "too long"));

    /* the same over-long line as the last line, without a newline */
    tb_config_defaults(&f->cfg);
    text[off + n] = '\0';
    assert_int_equal(load_text(f, text), TB_ERR_CONFIG);
    assert_err_at(f, 2);

    /* over-long value line */
    tb_config_defaults(&f->cfg);
    off = snprintf(text, n + 64, "database = ");
    memset(text + off, 'd', n);
    strcpy(text + off + n, "\n");
    assert_int_equal(load_text(f, text), TB_ERR_CONFIG);
    assert_err_at(f, 1);
    free(text);

    /* a long comment that still fits is fine */
    tb_config_defaults(&f->cfg);
    text = malloc(2100);
    assert_non_null(text);
    memset(text, 'c', 2000);
    text[0] = '#';
    strcpy(text + 2000, "\nport = 3\n");
    assert_int_equal(load_text(f, text), TB_OK);
    assert_int_equal(f->cfg.port, 3);
    free(text);
}

static void test_config_missing_file(void **state)
{
    conf_fixture *f = *state;
    char path[600];
    snprintf(path, sizeof path, "%s.does-not-exist", f->path);
    char err[1024] = "";
    assert_int_equal(tb_config_load(path, &f->cfg, err, sizeof err), TB_ERR_CONFIG);
    assert_non_null(strstr(err, path));
    /* a tiny error buffer is never overrun */
    char small[8];
    memset(small, 'Z', sizeof small);
    assert_int_equal(tb_config_load(path, &f->cfg, small, 4), TB_ERR_CONFIG);
    assert_int_equal(small[3], '\0');
    assert_int_equal(small[4], 'Z');
}

static void test_config_key_path(void **state)
{
    (void)state;
    tb_config cfg;
    tb_config_defaults(&cfg);
    char out[TB_PATH_MAX + 8];
    tb_config_key_path(&cfg, out, sizeof out);
    assert_string_equal(out, "ticketbridge.db.key");

    snprintf(cfg.database, sizeof cfg.database, "/var/lib/tb/data.db");
    tb_config_key_path(&cfg, out, sizeof out);
    assert_string_equal(out, "/var/lib/tb/data.db.key");

    snprintf(cfg.secret_key_file, sizeof cfg.secret_key_file, "/etc/tb/secret.key");
    tb_config_key_path(&cfg, out, sizeof out);
    assert_string_equal(out, "/etc/tb/secret.key");

    /* truncation never overflows */
    char small[10];
    memset(small, 'Z', sizeof small);
    cfg.secret_key_file[0] = '\0';
    tb_config_key_path(&cfg, small, 6);
    assert_string_equal(small, "/var/");
    assert_int_equal(small[6], 'Z');

    /* database path at the maximum length */
    memset(cfg.database, 'a', sizeof cfg.database - 1);
    cfg.database[sizeof cfg.database - 1] = '\0';
    tb_config_key_path(&cfg, out, sizeof out);
    assert_int_equal(strlen(out), TB_PATH_MAX - 1 + 4);
    assert_string_equal(out + TB_PATH_MAX - 1, ".key");
}

/* ------------------------------------------------------------------ */
/* tb_log_quote                                                        */
/* ------------------------------------------------------------------ */

static void test_log_quote_values(void **state)
{
    (void)state;
    char out[256];
    assert_string_equal(tb_log_quote(out, sizeof out, "plain"), "plain");
    assert_ptr_equal(tb_log_quote(out, sizeof out, "plain"), out);
    assert_string_equal(tb_log_quote(out, sizeof out, "a.b-c_d/e:f"), "a.b-c_d/e:f");
    assert_string_equal(tb_log_quote(out, sizeof out, ""), "\"\"");
    assert_string_equal(tb_log_quote(out, sizeof out, NULL), "\"\"");
    assert_string_equal(tb_log_quote(out, sizeof out, "two words"), "\"two words\"");
    assert_string_equal(tb_log_quote(out, sizeof out, "k=v"), "\"k=v\"");
    assert_string_equal(tb_log_quote(out, sizeof out, "say \"hi\""), "\"say \\\"hi\\\"\"");
    assert_string_equal(tb_log_quote(out, sizeof out, "back\\slash"), "\"back\\\\slash\"");
    assert_string_equal(tb_log_quote(out, sizeof out, "a\nb"), "\"a\\x0ab\"");
    assert_string_equal(tb_log_quote(out, sizeof out, "a\r\n\tb"), "\"a\\x0d\\x0a\\x09b\"");
    assert_string_equal(tb_log_quote(out, sizeof out, "\x1b[31mred"), "\"\\x1b[31mred\"");
    assert_string_equal(tb_log_quote(out, sizeof out, "del\x7f"), "\"del\\x7f\"");
    /* UTF-8 passes through */
    assert_string_equal(tb_log_quote(out, sizeof out, "caf\xc3\xa9"), "caf\xc3\xa9");
    /* a forged log line cannot be injected */
    tb_log_quote(out, sizeof out, "x\nts=2024 level=error msg=forged");
    assert_null(strchr(out, '\n'));
}

/* Checks every output size from 0 to 64 against canary bytes after outsz
 * (outsz == 1 has a test of its own: test_log_quote_outsz_one). */
static void check_quote_bounds(const char *s)
{
    for (size_t outsz = 0; outsz <= 64; outsz++) {
        if (outsz == 1)
            continue;
        char out[96];
        memset(out, 'Z', sizeof out);
        const char *r = tb_log_quote(out, outsz, s);
        assert_ptr_equal(r, out);
        for (size_t i = outsz; i < sizeof out; i++)
            if (out[i] != 'Z')
                fail_msg("tb_log_quote(outsz=%zu, \"%s\") wrote byte %zu ('%c' 0x%02x)", outsz, s,
                         i, out[i] ? out[i] : '0', (unsigned char)out[i]);
        if (outsz == 0)
            continue;
        size_t len = strnlen(out, outsz);
        if (len >= outsz)
            fail_msg("tb_log_quote(outsz=%zu, \"%s\") is not NUL-terminated", outsz, s);
        /* no dangling escape: a truncated value never ends with a lone backslash */
        size_t bs = 0;
        for (size_t i = len; i > 0 && out[i - 1] == '\\'; i--)
            bs++;
        if (out[0] == '"' && len >= 2)
            assert_int_equal(out[len - 1], '"');
        if (out[0] != '"')
            assert_int_equal(bs % 2, 0);
    }
}

static void test_log_quote_truncation(void **state)
{
    (void)state;
    check_quote_bounds("plainvalue_without_specials_but_quite_long_0123456789abcdefghij");
    check_quote_bounds("needs quoting because of spaces and \"quotes\" and \\ backslashes");
    check_quote_bounds("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12"
                       "\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f");
    check_quote_bounds("\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"");
    check_quote_bounds("");
    check_quote_bounds("a b");
}

/* outsz == 1 with a value that needs quoting: only the NUL fits. */
static void test_log_quote_outsz_one(void **state)
{
    (void)state;
    char out[4] = {'Z', 'Z', 'Z', 'Z'};
    tb_log_quote(out, 1, "a b");
    assert_int_equal(out[0], '\0');
    if (out[1] != 'Z')
        fail_msg("tb_log_quote(out, 1, \"a b\") wrote past the buffer: out[1] = 0x%02x",
                 (unsigned char)out[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_printf),
        cmocka_unit_test(test_buf_grows_large),
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_buf_take_reset),
        cmocka_unit_test(test_ipacl_ipv4),
        cmocka_unit_test(test_ipacl_ipv6),
        cmocka_unit_test(test_ipacl_v4_mapped),
        cmocka_unit_test(test_ipacl_lists_and_separators),
        cmocka_unit_test(test_ipacl_garbage),
        cmocka_unit_test(test_ipacl_negative_zero_prefix),
        cmocka_unit_test(test_sockaddr_str),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test_setup_teardown(test_config_valid, conf_setup, conf_teardown),
        cmocka_unit_test_setup_teardown(test_config_partial_keeps_defaults, conf_setup, conf_teardown),
        cmocka_unit_test_setup_teardown(test_config_unknown_key, conf_setup, conf_teardown),
        cmocka_unit_test_setup_teardown(test_config_bad_values, conf_setup, conf_teardown),
        cmocka_unit_test_setup_teardown(test_config_tls_pair, conf_setup, conf_teardown),
        cmocka_unit_test_setup_teardown(test_config_long_line, conf_setup, conf_teardown),
        cmocka_unit_test_setup_teardown(test_config_missing_file, conf_setup, conf_teardown),
        cmocka_unit_test(test_config_key_path),
        cmocka_unit_test(test_log_quote_values),
        cmocka_unit_test(test_log_quote_truncation),
        cmocka_unit_test(test_log_quote_outsz_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
