/* The request path's in-memory view of the appliance records. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/secret.h"
#include "flow/appliance_cache.h"
#include "store/store.h"

typedef struct fixture {
    char path[512];
    char key_path[600];
    tb_secret_key key;
    tb_store *st;           /* "the CLI": a second connection */
    int64_t alpha_id, beta_id;
} fixture;

static int64_t add_appliance(tb_store *st, const char *name, const char *host, const char *guid,
                             const char *token_sealed, const char *ips, bool enabled)
{
    tb_appliance a = {0};
    a.name = (char *)name;
    a.product = "rs";
    a.hostname = (char *)host;
    a.appliance_guid = (char *)guid;
    a.outbound_token_sealed = (char *)token_sealed;
    a.accepted_ips = (char *)ips;
    a.integration_enabled = enabled;
    int64_t id = 0;
    assert_int_equal(store_appliance_insert(st, &a, &id), TB_OK);
    return id;
}

static int setup(void **state)
{
    assert_int_equal(tb_secret_init(), TB_OK);
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(test_db_path(f->path, sizeof f->path, "test_appcache"), 0);
    snprintf(f->key_path, sizeof f->key_path, "%s.key", f->path);
    assert_int_equal(tb_secret_key_create(f->key_path), TB_OK);
    assert_int_equal(tb_secret_key_load(f->key_path, &f->key), TB_OK);

    assert_int_equal(store_open(f->path, STORE_CREATE, &f->st), TB_OK);
    assert_int_equal(store_schema(f->st), TB_OK);
    char *sealed = NULL;
    assert_int_equal(tb_secret_seal(&f->key, "tok-alpha-s3cret", &sealed), TB_OK);
    f->alpha_id = add_appliance(f->st, "alpha", "https://Support.Example.com:8443/login",
                                "guid-alpha-0001", sealed, "10.0.0.0/8, 2001:db8::/32", true);
    free(sealed);
    f->beta_id = add_appliance(f->st, "beta", "beta.example.net", "", "", "", false);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    test_db_remove(f->path);
    unlink(f->key_path);
    tb_secret_key_wipe(&f->key);
    free(f);
    return 0;
}

static void host_is(const char *in, const char *want)
{
    char out[256];
    memset(out, 'Z', sizeof out);
    appliance_host_of(in, out, sizeof out);
    if (strcmp(out, want) != 0)
        fail_msg("appliance_host_of(\"%s\") = \"%s\", expected \"%s\"", in, out, want);
}

static void test_host_of(void **state)
{
    (void)state;
    host_is("support.example.com", "support.example.com");
    host_is("https://Support.Example.com:8443/login", "support.example.com");
    host_is("http://127.0.0.1:9000", "127.0.0.1");
    host_is("[::1]:443", "::1");
    host_is("https://[2001:db8::1]:8443/x", "2001:db8::1");
    host_is("https://[2001:DB8::A]/", "2001:db8::a");
    host_is("user@host", "host");
    host_is("https://user:pw@Host.Example:8443/p", "host.example");
    host_is("https://host.example/path@x", "host.example");
    host_is("SUPPORT.EXAMPLE.COM:443", "support.example.com");
    host_is("host/path", "host");
    host_is("", "");
    host_is("https://", "");

    /* truncation never overflows */
    char small[8];
    memset(small, 'Z', sizeof small);
    appliance_host_of("support.example.com", small, 4);
    assert_string_equal(small, "sup");
    assert_int_equal(small[4], 'Z');
    memset(small, 'Z', sizeof small);
    appliance_host_of("[2001:db8::1]", small, 5);
    assert_string_equal(small, "2001");
    assert_int_equal(small[5], 'Z');
    memset(small, 'Z', sizeof small);
    appliance_host_of("x", small, 1);
    assert_string_equal(small, "");
    assert_int_equal(small[1], 'Z');

    /* an over-long hostname into the cache's own 256-byte buffer */
    char lng[1000];
    memset(lng, 'h', sizeof lng - 1);
    lng[sizeof lng - 1] = '\0';
    char out[256];
    appliance_host_of(lng, out, sizeof out);
    assert_int_equal(strlen(out), 255);
}

static void test_open_and_find(void **state)
{
    fixture *f = *state;
    appliance_cache *c = NULL;
    assert_int_equal(appliance_cache_open(f->path, &f->key, &c), TB_OK);
    assert_non_null(c);
    appliance_snapshot *s = appliance_cache_acquire(c);
    assert_non_null(s);
    assert_int_equal(s->n, 2);

    const appliance_entry *a = appliance_find_name(s, "alpha");
    assert_non_null(a);
    assert_int_equal(a->id, f->alpha_id);
    assert_string_equal(a->name, "alpha");
    assert_string_equal(a->product, "rs");
    assert_string_equal(a->host, "support.example.com");
    assert_string_equal(a->guid, "guid-alpha-0001");
    assert_non_null(a->outbound_token);
    assert_string_equal(a->outbound_token, "tok-alpha-s3cret");
    assert_true(a->enabled);
    assert_int_equal(a->accepted.n, 2);

    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    inet_pton(AF_INET, "10.9.8.7", &sin.sin_addr);
    assert_true(tb_ipacl_match(&a->accepted, (struct sockaddr *)&sin));
    inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
    assert_false(tb_ipacl_match(&a->accepted, (struct sockaddr *)&sin));

    const appliance_entry *b = appliance_find_name(s, "beta");
    assert_non_null(b);
    assert_int_equal(b->id, f->beta_id);
    assert_string_equal(b->host, "beta.example.net");
    assert_string_equal(b->guid, "");
    assert_null(b->outbound_token);
    assert_false(b->enabled);
    assert_int_equal(b->accepted.n, 0);

    assert_null(appliance_find_name(s, "gamma"));
    assert_null(appliance_find_name(s, "Alpha"));
    assert_null(appliance_find_name(s, ""));

    /* by guid, then by host */
    assert_ptr_equal(appliance_find_id(s, "guid-alpha-0001"), a);
    assert_ptr_equal(appliance_find_id(s, "support.example.com"), a);
    assert_ptr_equal(appliance_find_id(s, "SUPPORT.Example.COM"), a);
    assert_ptr_equal(appliance_find_id(s, "https://support.example.com:8443"), a);
    assert_ptr_equal(appliance_find_id(s, "beta.example.net"), b);
    assert_ptr_equal(appliance_find_id(s, "beta.example.net:443"), b);
    assert_null(appliance_find_id(s, "guid-alpha-000"));
    assert_null(appliance_find_id(s, "unknown.example.com"));
    assert_null(appliance_find_id(s, "example.com"));
    /* beta has no guid: an empty appliance_id must not match it */
    assert_null(appliance_find_id(s, ""));
    assert_null(appliance_find_id(s, NULL));
    assert_null(appliance_find_id(NULL, "guid-alpha-0001"));
    assert_null(appliance_find_name(NULL, "alpha"));

    /* refresh without changes keeps the same snapshot */
    assert_int_equal(appliance_cache_refresh(c), TB_OK);
    appliance_snapshot *s2 = appliance_cache_acquire(c);
    assert_ptr_equal(s2, s);
    appliance_cache_release(c, s2);

    appliance_cache_release(c, s);
    appliance_cache_release(c, NULL);
    appliance_cache_close(c);
    appliance_cache_close(NULL);
}

static void test_guid_wins_over_host(void **state)
{
    fixture *f = *state;
    /* gamma's guid equals beta's host name: the guid match comes first */
    add_appliance(f->st, "gamma", "gamma.example.org", "beta.example.net", "", "", true);
    appliance_cache *c = NULL;
    assert_int_equal(appliance_cache_open(f->path, &f->key, &c), TB_OK);
    appliance_snapshot *s = appliance_cache_acquire(c);
    const appliance_entry *e = appliance_find_id(s, "beta.example.net");
    assert_non_null(e);
    assert_string_equal(e->name, "gamma");
    e = appliance_find_id(s, "gamma.example.org");
    assert_non_null(e);
    assert_string_equal(e->name, "gamma");
    appliance_cache_release(c, s);
    appliance_cache_close(c);
}

static void test_refresh_sees_other_connection(void **state)
{
    fixture *f = *state;
    appliance_cache *c = NULL;
    assert_int_equal(appliance_cache_open(f->path, &f->key, &c), TB_OK);
    appliance_snapshot *old = appliance_cache_acquire(c);
    assert_int_equal(old->n, 2);
    const appliance_entry *old_beta = appliance_find_name(old, "beta");
    assert_non_null(old_beta);

    /* the CLI changes beta and adds gamma with a token */
    tb_appliance b;
    assert_int_equal(store_appliance_get(f->st, "beta", &b), TB_OK);
    free(b.hostname);
    b.hostname = strdup("https://beta2.example.net");
    free(b.appliance_guid);
    b.appliance_guid = strdup("guid-beta-0002");
    free(b.accepted_ips);
    b.accepted_ips = strdup("192.0.2.0/24");
    b.integration_enabled = true;
    assert_int_equal(store_appliance_update(f->st, &b), TB_OK);
    tb_appliance_clear(&b);
    char *sealed = NULL;
    assert_int_equal(tb_secret_seal(&f->key, "tok-gamma", &sealed), TB_OK);
    add_appliance(f->st, "gamma", "gamma.example.org", "", sealed, "", true);
    free(sealed);

    /* not visible until refresh */
    appliance_snapshot *same = appliance_cache_acquire(c);
    assert_ptr_equal(same, old);
    appliance_cache_release(c, same);

    assert_int_equal(appliance_cache_refresh(c), TB_OK);
    appliance_snapshot *cur = appliance_cache_acquire(c);
    assert_ptr_not_equal(cur, old);
    assert_int_equal(cur->n, 3);
    const appliance_entry *nb = appliance_find_name(cur, "beta");
    assert_non_null(nb);
    assert_string_equal(nb->host, "beta2.example.net");
    assert_string_equal(nb->guid, "guid-beta-0002");
    assert_true(nb->enabled);
    assert_int_equal(nb->accepted.n, 1);
    assert_ptr_equal(appliance_find_id(cur, "guid-beta-0002"), nb);
    assert_ptr_equal(appliance_find_id(cur, "beta2.example.net"), nb);
    assert_null(appliance_find_id(cur, "beta.example.net"));
    const appliance_entry *g = appliance_find_name(cur, "gamma");
    assert_non_null(g);
    assert_string_equal(g->outbound_token, "tok-gamma");

    /* the old snapshot is untouched and still readable */
    assert_int_equal(old->n, 2);
    assert_string_equal(old_beta->host, "beta.example.net");
    assert_string_equal(old_beta->guid, "");
    assert_false(old_beta->enabled);
    assert_string_equal(appliance_find_name(old, "alpha")->outbound_token, "tok-alpha-s3cret");
    assert_ptr_equal(appliance_find_id(old, "beta.example.net"), old_beta);
    assert_null(appliance_find_name(old, "gamma"));
    appliance_cache_release(c, old);

    /* deletion */
    assert_int_equal(store_appliance_delete(f->st, "alpha"), TB_OK);
    assert_int_equal(appliance_cache_refresh(c), TB_OK);
    appliance_snapshot *after = appliance_cache_acquire(c);
    assert_int_equal(after->n, 2);
    assert_null(appliance_find_name(after, "alpha"));
    assert_null(appliance_find_id(after, "guid-alpha-0001"));
    /* cur (acquired before) still has alpha */
    assert_non_null(appliance_find_name(cur, "alpha"));
    appliance_cache_release(c, after);

    /* releasing the last reference frees the replaced snapshot */
    appliance_cache_release(c, cur);
    appliance_cache_close(c);
}

static void test_bad_record_keeps_snapshot(void **state)
{
    fixture *f = *state;
    appliance_cache *c = NULL;
    assert_int_equal(appliance_cache_open(f->path, &f->key, &c), TB_OK);
    appliance_snapshot *s = appliance_cache_acquire(c);

    /* a token sealed with another key cannot be opened */
    char other_path[700];
    snprintf(other_path, sizeof other_path, "%s.other", f->key_path);
    assert_int_equal(tb_secret_key_create(other_path), TB_OK);
    tb_secret_key other;
    assert_int_equal(tb_secret_key_load(other_path, &other), TB_OK);
    unlink(other_path);
    char *sealed = NULL;
    assert_int_equal(tb_secret_seal(&other, "tok", &sealed), TB_OK);
    tb_secret_key_wipe(&other);
    add_appliance(f->st, "wrongkey", "w.example.com", "", sealed, "", true);
    free(sealed);

    assert_int_not_equal(appliance_cache_refresh(c), TB_OK);
    appliance_snapshot *s2 = appliance_cache_acquire(c);
    assert_ptr_equal(s2, s);
    assert_int_equal(s2->n, 2);
    appliance_cache_release(c, s2);

    /* fixed by the CLI: the next refresh succeeds */
    assert_int_equal(store_appliance_delete(f->st, "wrongkey"), TB_OK);
    assert_int_equal(appliance_cache_refresh(c), TB_OK);
    s2 = appliance_cache_acquire(c);
    assert_int_equal(s2->n, 2);
    appliance_cache_release(c, s2);

    /* a bad accepted-IP list is refused the same way */
    add_appliance(f->st, "badips", "b.example.com", "", "", "10.0.0.0/33", true);
    assert_int_not_equal(appliance_cache_refresh(c), TB_OK);
    s2 = appliance_cache_acquire(c);
    assert_null(appliance_find_name(s2, "badips"));
    appliance_cache_release(c, s2);

    appliance_cache_release(c, s);
    appliance_cache_close(c);

    /* and a fresh open with such a record fails cleanly */
    c = NULL;
    assert_int_not_equal(appliance_cache_open(f->path, &f->key, &c), TB_OK);
}

static void test_open_errors(void **state)
{
    fixture *f = *state;
    char p[600];
    snprintf(p, sizeof p, "%s.missing", f->path);
    appliance_cache *c = NULL;
    assert_int_not_equal(appliance_cache_open(p, &f->key, &c), TB_OK);
    assert_null(c);
    assert_int_equal(access(p, F_OK), -1);

    /* an empty database gives an empty snapshot */
    assert_int_equal(store_appliance_delete(f->st, "alpha"), TB_OK);
    assert_int_equal(store_appliance_delete(f->st, "beta"), TB_OK);
    assert_int_equal(appliance_cache_open(f->path, &f->key, &c), TB_OK);
    appliance_snapshot *s = appliance_cache_acquire(c);
    assert_non_null(s);
    assert_int_equal(s->n, 0);
    assert_null(appliance_find_name(s, "alpha"));
    assert_null(appliance_find_id(s, "x"));
    appliance_cache_release(c, s);
    appliance_cache_close(c);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_of),
        T(test_open_and_find),
        T(test_guid_wins_over_host),
        T(test_refresh_sees_other_connection),
        T(test_bad_record_keeps_snapshot),
        T(test_open_errors),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
