/* Request authentication: Authorization header parsing (hostile input
 * included), the credential cache and failure throttle, and auth_check
 * against a real database: what is remembered, when changes take effect,
 * tokens' last use, throttling, and many threads at once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/secret.h"
#include "flow/accounts.h"
#include "flow/auth.h"
#include "flow/auth_cache.h"
#include "flow/auth_header.h"
#include "flow/auth_throttle.h"
#include "store/store.h"

/* "Basic " + base64(raw[0..len)) */
static void basic(char *out, size_t outsz, const char *raw, size_t len)
{
    char b64[3000];
    assert_true(len < 2200);
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)raw, len, sodium_base64_VARIANT_ORIGINAL);
    size_t n = strlen(b64);
    assert_true(6 + n < outsz);
    memcpy(out, "Basic ", 6);
    memcpy(out + 6, b64, n + 1);
}

static void basic_s(char *out, size_t outsz, const char *user, const char *password)
{
    char raw[2200];
    snprintf(raw, sizeof raw, "%s:%s", user, password);
    basic(out, outsz, raw, strlen(raw));
}

/* ---- header parsing ---- */

static void test_header_valid(void **state)
{
    (void)state;
    auth_credentials c;
    char h[4200];
    basic_s(h, sizeof h, "alice", "pass word:with colon");
    assert_int_equal(auth_header_parse(h, &c), TB_OK);
    assert_int_equal(c.scheme, AUTH_SCHEME_BASIC);
    assert_string_equal(c.user, "alice");
    assert_string_equal(c.secret, "pass word:with colon");
    auth_credentials_wipe(&c);
    assert_int_equal(c.secret[0], 0);

    /* scheme in any case, extra blanks, unpadded base64 */
    assert_int_equal(auth_header_parse("bAsIc \t YWxpY2U6cHc=  ", &c), TB_OK);
    assert_string_equal(c.user, "alice");
    assert_string_equal(c.secret, "pw");
    assert_int_equal(auth_header_parse("Basic YWxpY2U6cHc", &c), TB_OK);
    assert_string_equal(c.secret, "pw");
    /* empty password: shape is fine (the check then fails) */
    assert_int_equal(auth_header_parse("Basic YWxpY2U6", &c), TB_OK);
    assert_string_equal(c.secret, "");

    char token[CREDENTIAL_TOKEN_LEN + 1];
    credential_token_new(token);
    snprintf(h, sizeof h, "Bearer %s", token);
    assert_int_equal(auth_header_parse(h, &c), TB_OK);
    assert_int_equal(c.scheme, AUTH_SCHEME_BEARER);
    assert_string_equal(c.secret, token);
    assert_string_equal(c.user, "");
    snprintf(h, sizeof h, "bearer   %s ", token);
    assert_int_equal(auth_header_parse(h, &c), TB_OK);
}

static void test_header_hostile(void **state)
{
    (void)state;
    auth_credentials c;
    char h[12000];
    static const char *const invalid[] = {
        "", " ", "Basic", "Basic ", "Basic    ", "Basicx YWxpY2U6cHc=", "BasicYWxpY2U6cHc=",
        "Basic !!!!", "Basic YWxp Y2U6cHc=", "Basic YWxpY2U6cHc==", "Basic ====",
        "Bearer", "Bearer ", "Bearer tbk_short", "Bearer abc", "Digest username=\"a\"", "Negotiate YWJj",
        "Token tbk_", "Basic\0YWxpY2U6cHc=",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        assert_int_not_equal(auth_header_parse(invalid[i], &c), TB_OK);
        assert_int_equal(c.scheme, 0);
    }
    assert_int_equal(auth_header_parse(NULL, &c), TB_ERR_INVALID);

    basic(h, sizeof h, "nocolon", 7);
    assert_int_equal(auth_header_parse(h, &c), TB_ERR_INVALID);
    basic(h, sizeof h, ":password", 9);                /* empty user */
    assert_int_equal(auth_header_parse(h, &c), TB_ERR_INVALID);
    basic(h, sizeof h, "al\0ce:password", 14);         /* NUL in the user name */
    assert_int_equal(auth_header_parse(h, &c), TB_ERR_INVALID);
    basic(h, sizeof h, "alice:pass\0word", 15);        /* NUL in the password */
    assert_int_equal(auth_header_parse(h, &c), TB_ERR_INVALID);
    basic(h, sizeof h, "alice:pass\nword", 15);
    assert_int_equal(auth_header_parse(h, &c), TB_ERR_INVALID);
    basic(h, sizeof h, "alice\x1b[31m:password", 20);
    assert_int_equal(auth_header_parse(h, &c), TB_ERR_INVALID);

    /* sizes: a 65-character user name, a 1025-character password, 8 KiB headers */
    char big[9000];
    memset(big, 'u', 65);
    strcpy(big + 65, ":pw");
    basic(h, sizeof h, big, strlen(big));
    assert_int_equal(auth_header_parse(h, &c), TB_ERR_TOO_LARGE);
    memset(big, 'p', sizeof big);
    memcpy(big, "u:", 2);
    basic(h, sizeof h, big, 2 + 1025);
    assert_int_equal(auth_header_parse(h, &c), TB_ERR_TOO_LARGE);
    basic(h, sizeof h, big, 2 + 1024);
    assert_int_equal(auth_header_parse(h, &c), TB_OK);
    assert_int_equal(strlen(c.secret), 1024);
    memset(h, 'A', 8192);
    memcpy(h, "Basic ", 6);
    h[8192] = '\0';
    assert_int_equal(auth_header_parse(h, &c), TB_ERR_TOO_LARGE);
    memcpy(h, "Bearer ", 7);
    assert_int_equal(auth_header_parse(h, &c), TB_ERR_TOO_LARGE);
    memcpy(h, "Whatever ", 9);
    assert_int_equal(auth_header_parse(h, &c), TB_ERR_TOO_LARGE);
    /* just under the header cap, but the decoded form is too long */
    h[AUTH_HEADER_MAX] = '\0';
    memcpy(h, "Basic ", 6);
    assert_int_equal(auth_header_parse(h, &c), TB_ERR_TOO_LARGE);

    /* random bytes never crash and never parse as Basic with control bytes */
    unsigned char rnd[600];
    for (int i = 0; i < 2000; i++) {
        randombytes_buf(rnd, sizeof rnd);
        size_t n = randombytes_uniform(sizeof rnd - 1);
        rnd[n] = '\0';
        if (i % 2) {
            char enc[1000];
            basic(enc, sizeof enc, (const char *)rnd, n);
            if (auth_header_parse(enc, &c) == TB_OK)
                for (const char *p = c.user; *p; p++)
                    assert_true((unsigned char)*p >= 0x20);
        } else {
            auth_header_parse((const char *)rnd, &c);
        }
    }
}

/* ---- cache and throttle ---- */

static void key_of(unsigned char key[AUTH_KEY_BYTES], int set_index_seed, int n)
{
    memset(key, 0, AUTH_KEY_BYTES);
    uint64_t h = (uint64_t)set_index_seed;
    memcpy(key, &h, sizeof h);
    key[20] = (unsigned char)n;
}

static void test_cache(void **state)
{
    (void)state;
    auth_cache *c;
    assert_int_equal(auth_cache_new(4, &c), TB_OK);     /* one set of four */
    unsigned char k[6][AUTH_KEY_BYTES];
    for (int i = 0; i < 6; i++)
        key_of(k[i], 0, i);
    auth_cache_entry e = {.ok = true, .account_id = 7, .generation = 1, .expires_ms = 1000}, out;
    strcpy(e.username, "alice");
    assert_int_equal(auth_cache_get(c, k[0], 0, 1, &out), AUTH_CACHE_MISS);
    auth_cache_put(c, k[0], &e, 0);
    assert_int_equal(auth_cache_get(c, k[0], 10, 1, &out), AUTH_CACHE_HIT);
    assert_string_equal(out.username, "alice");
    assert_int_equal(auth_cache_get(c, k[0], 1000, 1, &out), AUTH_CACHE_STALE);    /* expired */
    assert_int_equal(auth_cache_get(c, k[0], 10, 2, &out), AUTH_CACHE_STALE);      /* older generation */
    assert_true(out.ok);

    /* fill the set with verified credentials: failures cannot push them out */
    for (int i = 1; i < 4; i++)
        auth_cache_put(c, k[i], &e, i);
    auth_cache_entry fail = {.ok = false, .failure = 3, .generation = 1, .expires_ms = 1000};
    auth_cache_put(c, k[4], &fail, 20);
    assert_int_equal(auth_cache_get(c, k[4], 21, 1, &out), AUTH_CACHE_MISS);
    for (int i = 0; i < 4; i++)
        assert_int_equal(auth_cache_get(c, k[i], 22 + i, 1, &out), AUTH_CACHE_HIT);
    /* a new success replaces the least recently used (k[0], read first) */
    auth_cache_put(c, k[4], &e, 30);
    assert_int_equal(auth_cache_get(c, k[0], 31, 1, &out), AUTH_CACHE_MISS);
    assert_int_equal(auth_cache_get(c, k[4], 31, 1, &out), AUTH_CACHE_HIT);
    /* once a failure is in, other failures replace it, not the successes */
    auth_cache_put(c, k[1], &fail, 40);          /* k[1] itself now a failure */
    auth_cache_put(c, k[5], &fail, 41);
    assert_int_equal(auth_cache_get(c, k[1], 42, 1, &out), AUTH_CACHE_MISS);
    assert_int_equal(auth_cache_get(c, k[5], 42, 1, &out), AUTH_CACHE_HIT);
    assert_false(out.ok);
    assert_int_equal(out.failure, 3);
    for (int i = 2; i < 5; i++)
        assert_int_equal(auth_cache_get(c, k[i], 43, 1, &out), AUTH_CACHE_HIT);

    /* last-use bookkeeping */
    e.token_id = 9;
    e.touched_ms = 100;
    auth_cache_put(c, k[2], &e, 100);
    assert_false(auth_cache_touch_due(c, k[2], 150, 60));
    assert_true(auth_cache_touch_due(c, k[2], 160, 60));
    assert_false(auth_cache_touch_due(c, k[2], 161, 60));
    assert_false(auth_cache_touch_due(c, k[0], 1000, 60));     /* absent */
    auth_cache_free(c);
}

static void test_throttle(void **state)
{
    (void)state;
    auth_throttle *t;
    assert_int_equal(auth_throttle_new(8, 3, 1000, &t), TB_OK);
    unsigned char a[AUTH_KEY_BYTES], b[AUTH_KEY_BYTES];
    key_of(a, 1, 1);
    key_of(b, 1, 2);
    int64_t retry = 0;
    assert_false(auth_throttle_blocked(t, a, 0, &retry));
    assert_false(auth_throttle_fail(t, a, 0));
    assert_false(auth_throttle_fail(t, a, 100));
    assert_false(auth_throttle_blocked(t, a, 100, &retry));
    assert_true(auth_throttle_fail(t, a, 200));     /* the third: reported once */
    assert_false(auth_throttle_fail(t, a, 300));
    assert_true(auth_throttle_blocked(t, a, 300, &retry));
    assert_int_equal(retry, 700);
    assert_false(auth_throttle_blocked(t, b, 300, &retry));     /* other keys unaffected */
    assert_false(auth_throttle_blocked(t, a, 1000, &retry));    /* the window ended */
    assert_false(auth_throttle_fail(t, a, 1000));
    assert_false(auth_throttle_blocked(t, a, 1001, &retry));
    /* a flood of keys stays within the table */
    for (int i = 0; i < 1000; i++) {
        unsigned char k[AUTH_KEY_BYTES];
        key_of(k, i, i);
        auth_throttle_fail(t, k, 2000);
    }
    auth_throttle_free(t);
}

/* ---- auth_check against a database ---- */

struct fx {
    char path[512];
    tb_store *st;
    auth *a;
    auth_opts o;
    char err[256];
    char token[CREDENTIAL_TOKEN_LEN + 1];
    int64_t token_id;
};

static int setup_db(void **state)
{
    assert_int_equal(tb_secret_init(), TB_OK);
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(test_db_path(f->path, sizeof f->path, "auth"), 0);
    assert_int_equal(store_open(f->path, STORE_CREATE, &f->st), TB_OK);
    assert_int_equal(store_schema(f->st), TB_OK);
    assert_int_equal(accounts_add(f->st, "alice", "alice password 1", "itil", f->err, sizeof f->err), TB_OK);
    assert_int_equal(accounts_token_create(f->st, "alice", "ci", 0, f->token, &f->token_id, f->err, sizeof f->err),
                     TB_OK);
    auth_opts_default(&f->o);
    f->o.check_interval_ms = 0;     /* changes are picked up by auth_refresh only: deterministic */
    f->o.user_failures = 3;
    f->o.peer_failures = 5;
    *state = f;
    return 0;
}

static int teardown_db(void **state)
{
    struct fx *f = *state;
    auth_close(f->a);
    store_close(f->st);
    test_db_remove(f->path);
    free(f);
    return 0;
}

static void open_auth(struct fx *f)
{
    assert_int_equal(auth_open_opts(f->path, &f->o, &f->a), TB_OK);
}

static auth_result check(struct fx *f, const char *user, const char *password, const char *peer,
                         auth_principal *who)
{
    char h[2200];
    basic_s(h, sizeof h, user, password);
    return auth_check(f->a, h, peer, who, NULL);
}

static auth_result check_token(struct fx *f, const char *token, auth_principal *who)
{
    char h[128];
    snprintf(h, sizeof h, "Bearer %s", token);
    return auth_check(f->a, h, "127.0.0.1", who, NULL);
}

static uint64_t verifications(struct fx *f)
{
    auth_stats s;
    auth_get_stats(f->a, &s);
    return s.verifications;
}

static int64_t last_used(struct fx *f, int64_t id)
{
    tb_api_token *v;
    size_t n;
    int64_t at = -1;
    assert_int_equal(store_token_list(f->st, NULL, &v, &n), TB_OK);
    for (size_t i = 0; i < n; i++)
        if (v[i].id == id)
            at = v[i].last_used_at;
    tb_api_tokens_free(v, n);
    return at;
}

static void test_basic_remembered(void **state)
{
    struct fx *f = *state;
    open_auth(f);
    auth_principal who;
    assert_int_equal(check(f, "alice", "alice password 1", "10.0.0.1", &who), AUTH_OK);
    assert_string_equal(who.username, "alice");
    assert_string_equal(who.roles, "itil");
    assert_int_equal(who.token_id, 0);
    assert_true(who.account_id > 0);
    assert_true(auth_principal_has(&who, "itil"));
    assert_false(auth_principal_has(&who, "x_bets_pmc_jit.api"));
    assert_int_equal(verifications(f), 1);
    for (int i = 0; i < 100; i++)
        assert_int_equal(check(f, "alice", "alice password 1", "10.0.0.2", &who), AUTH_OK);
    assert_int_equal(verifications(f), 1);      /* one Argon2id for all of them */

    /* wrong and unknown: refused, each distinct one verified once */
    assert_int_equal(check(f, "alice", "alice password 2", "10.0.0.1", &who), AUTH_BAD_CREDENTIALS);
    assert_string_equal(who.username, "");
    assert_int_equal(check(f, "alice", "alice password 2", "10.0.0.1", &who), AUTH_BAD_CREDENTIALS);
    assert_int_equal(verifications(f), 2);
    assert_int_equal(check(f, "mallory", "alice password 1", "10.0.0.1", &who), AUTH_BAD_CREDENTIALS);
    assert_int_equal(verifications(f), 3);      /* unknown users cost the same */
    assert_int_equal(check(f, "Alice", "alice password 1", "10.0.0.1", &who), AUTH_BAD_CREDENTIALS);
    assert_int_equal(check(f, "alice", "", "10.0.0.1", &who), AUTH_BAD_CREDENTIALS);
    assert_int_equal(auth_check(f->a, NULL, "10.0.0.1", &who, NULL), AUTH_MISSING);
    assert_int_equal(auth_check(f->a, "Basic %%%", "10.0.0.1", &who, NULL), AUTH_MALFORMED);
    assert_int_equal(auth_check(f->a, "Basic YWxpY2U=", NULL, &who, NULL), AUTH_MALFORMED);

    /* a short TTL: verified again once it passed */
    auth_close(f->a);
    f->o.ttl_ms = 300;
    open_auth(f);
    assert_int_equal(check(f, "alice", "alice password 1", "10.0.0.1", &who), AUTH_OK);
    assert_int_equal(check(f, "alice", "alice password 1", "10.0.0.1", &who), AUTH_OK);
    assert_int_equal(verifications(f), 1);
    usleep(400 * 1000);
    assert_int_equal(check(f, "alice", "alice password 1", "10.0.0.1", &who), AUTH_OK);
    assert_int_equal(verifications(f), 2);
}

static void test_changes_take_effect(void **state)
{
    struct fx *f = *state;
    open_auth(f);
    auth_principal who;
    char roles[ROLES_CSV_MAX];
    assert_int_equal(check(f, "alice", "alice password 1", "p", &who), AUTH_OK);

    /* password change: the old one is refused once the change is seen */
    assert_int_equal(accounts_set_password(f->st, "alice", "alice password 2", f->err, sizeof f->err), TB_OK);
    auth_refresh(f->a);
    assert_int_equal(check(f, "alice", "alice password 1", "p", &who), AUTH_BAD_CREDENTIALS);
    assert_int_equal(check(f, "alice", "alice password 2", "p", &who), AUTH_OK);

    /* roles */
    assert_int_equal(accounts_change_roles(f->st, "alice", ACCOUNTS_ROLES_ADD, "x_bets_pmc_jit.user", roles, f->err,
                                           sizeof f->err), TB_OK);
    assert_int_equal(check(f, "alice", "alice password 2", "p", &who), AUTH_OK);
    assert_false(auth_principal_has(&who, "x_bets_pmc_jit.user"));     /* not seen yet */
    auth_refresh(f->a);
    assert_int_equal(check(f, "alice", "alice password 2", "p", &who), AUTH_OK);
    assert_true(auth_principal_has(&who, "x_bets_pmc_jit.user"));
    assert_int_equal(check_token(f, f->token, &who), AUTH_OK);
    assert_true(auth_principal_has(&who, "x_bets_pmc_jit.user"));

    /* disable / enable: password and token alike */
    assert_int_equal(accounts_set_disabled(f->st, "alice", true, f->err, sizeof f->err), TB_OK);
    auth_refresh(f->a);
    assert_int_equal(check(f, "alice", "alice password 2", "p", &who), AUTH_DISABLED);
    assert_int_equal(check_token(f, f->token, &who), AUTH_DISABLED);
    assert_int_equal(accounts_set_disabled(f->st, "alice", false, f->err, sizeof f->err), TB_OK);
    auth_refresh(f->a);
    assert_int_equal(check(f, "alice", "alice password 2", "p", &who), AUTH_OK);
    assert_int_equal(check_token(f, f->token, &who), AUTH_OK);

    /* a change made with plain SQL counts too (triggers) */
    sqlite3_exec(store_sqlite3(f->st), "UPDATE tb_account SET roles = '' WHERE username = 'alice'", NULL, NULL, NULL);
    auth_refresh(f->a);
    assert_int_equal(check(f, "alice", "alice password 2", "p", &who), AUTH_OK);
    assert_string_equal(who.roles, "");

    /* removal */
    assert_int_equal(accounts_remove(f->st, "alice", f->err, sizeof f->err), TB_OK);
    auth_refresh(f->a);
    assert_int_equal(check(f, "alice", "alice password 2", "p", &who), AUTH_BAD_CREDENTIALS);
    assert_int_equal(check_token(f, f->token, &who), AUTH_BAD_CREDENTIALS);
}

static void test_tokens(void **state)
{
    struct fx *f = *state;
    f->o.touch_interval_ms = 60000;
    open_auth(f);
    auth_principal who;
    assert_int_equal(last_used(f, f->token_id), 0);
    assert_int_equal(check_token(f, f->token, &who), AUTH_OK);
    assert_string_equal(who.username, "alice");
    assert_int_equal(who.token_id, f->token_id);
    assert_int_equal(verifications(f), 0);      /* no Argon2id for tokens */
    auth_refresh(f->a);
    int64_t first = last_used(f, f->token_id);
    assert_true(first >= (int64_t)time(NULL) - 5);

    /* within the minute, uses are not written again */
    sqlite3_exec(store_sqlite3(f->st), "UPDATE tb_api_token SET last_used_at = 1", NULL, NULL, NULL);
    for (int i = 0; i < 50; i++)
        assert_int_equal(check_token(f, f->token, &who), AUTH_OK);
    auth_refresh(f->a);
    assert_int_equal(last_used(f, f->token_id), 1);

    /* unknown, revoked, expired */
    char other[CREDENTIAL_TOKEN_LEN + 1];
    credential_token_new(other);
    assert_int_equal(check_token(f, other, &who), AUTH_BAD_CREDENTIALS);
    assert_int_equal(accounts_token_revoke(f->st, f->token_id, f->err, sizeof f->err), TB_OK);
    assert_int_equal(check_token(f, f->token, &who), AUTH_OK);          /* not seen yet */
    auth_refresh(f->a);
    assert_int_equal(check_token(f, f->token, &who), AUTH_BAD_CREDENTIALS);
    int64_t id;
    assert_int_equal(accounts_token_create(f->st, "alice", "short-lived", 1, other, &id, f->err, sizeof f->err), TB_OK);
    auth_refresh(f->a);
    assert_int_equal(check_token(f, other, &who), AUTH_OK);
    sqlite3_exec(store_sqlite3(f->st), "UPDATE tb_api_token SET expires_at = strftime('%s','now') - 1 WHERE name = 'short-lived'",
                 NULL, NULL, NULL);
    auth_refresh(f->a);
    assert_int_equal(check_token(f, other, &who), AUTH_BAD_CREDENTIALS);
    /* a token is not a password and a password is not a token */
    assert_int_equal(check(f, "alice", other, "p", &who), AUTH_BAD_CREDENTIALS);

    /* with a zero touch interval every use is stored */
    auth_close(f->a);
    f->o.touch_interval_ms = 0;
    open_auth(f);
    assert_int_equal(accounts_token_create(f->st, "alice", "busy", 0, other, &id, f->err, sizeof f->err), TB_OK);
    auth_refresh(f->a);
    assert_int_equal(check_token(f, other, &who), AUTH_OK);
    auth_refresh(f->a);
    sqlite3_exec(store_sqlite3(f->st), "UPDATE tb_api_token SET last_used_at = 1 WHERE name = 'busy'", NULL, NULL, NULL);
    assert_int_equal(check_token(f, other, &who), AUTH_OK);
    auth_close(f->a);       /* stores what is queued */
    f->a = NULL;
    assert_true(last_used(f, id) > 1);
}

static void test_throttled(void **state)
{
    struct fx *f = *state;
    f->o.ttl_ms = 200;
    open_auth(f);
    auth_principal who;
    assert_int_equal(accounts_add(f->st, "bob", "bob password 12", "", f->err, sizeof f->err), TB_OK);
    auth_refresh(f->a);
    assert_int_equal(check(f, "alice", "alice password 1", "10.0.0.1", &who), AUTH_OK);
    uint64_t v0 = verifications(f);

    /* user_failures = 3: the fourth distinct wrong password is not verified */
    char pw[64];
    for (int i = 0; i < 3; i++) {
        snprintf(pw, sizeof pw, "guess number %d", i);
        assert_int_equal(check(f, "alice", pw, "10.0.0.9", &who), AUTH_BAD_CREDENTIALS);
    }
    assert_int_equal(verifications(f), v0 + 3);
    int64_t retry = 0;
    char h[256];
    basic_s(h, sizeof h, "alice", "guess number 4");
    assert_int_equal(auth_check(f->a, h, "10.0.0.9", &who, &retry), AUTH_THROTTLED);
    assert_true(retry > 0 && retry <= 60000);
    assert_int_equal(verifications(f), v0 + 3);
    /* credentials that verified before still work, even once their TTL is over */
    usleep(250 * 1000);
    assert_int_equal(check(f, "alice", "alice password 1", "10.0.0.9", &who), AUTH_OK);
    assert_int_equal(verifications(f), v0 + 4);
    /* other users are not affected from elsewhere */
    assert_int_equal(check(f, "bob", "bob password 12", "10.0.0.2", &who), AUTH_OK);

    /* peer_failures = 5: one peer trying user names */
    for (int i = 0; i < 5; i++) {
        snprintf(pw, sizeof pw, "user%d", i);
        assert_int_equal(check(f, pw, "some password", "10.6.6.6", &who), AUTH_BAD_CREDENTIALS);
    }
    assert_int_equal(accounts_add(f->st, "carol", "carol password", "", f->err, sizeof f->err), TB_OK);
    auth_refresh(f->a);
    assert_int_equal(check(f, "carol", "carol password", "10.6.6.6", &who), AUTH_THROTTLED);
    assert_int_equal(check(f, "carol", "carol password", "10.0.0.3", &who), AUTH_OK);
    auth_stats s;
    auth_get_stats(f->a, &s);
    assert_int_equal(s.throttled, 2);
}

struct hammer {
    struct fx *f;
    char header[256];
    int ok;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    auth_principal who;
    for (int i = 0; i < 3000; i++)
        if (auth_check(h->f->a, h->header, "10.1.1.1", &who, NULL) == AUTH_OK && !strcmp(who.username, "alice"))
            h->ok++;
    return NULL;
}

static void test_threads(void **state)
{
    struct fx *f = *state;
    f->o.check_interval_ms = 5;     /* the background thread too */
    f->o.touch_interval_ms = 0;
    open_auth(f);
    struct hammer h[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hammer){.f = f};
        if (i % 2)
            snprintf(h[i].header, sizeof h[i].header, "Bearer %s", f->token);
        else
            basic_s(h[i].header, sizeof h[i].header, "alice", "alice password 1");
        assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
    }
    /* meanwhile, changes that retire the cache again and again */
    char roles[ROLES_CSV_MAX];
    for (int i = 0; i < 10; i++) {
        assert_int_equal(accounts_change_roles(f->st, "alice", i % 2 ? ACCOUNTS_ROLES_ADD : ACCOUNTS_ROLES_REMOVE,
                                               "x_bmgr_crm.agent", roles, f->err, sizeof f->err), TB_OK);
        usleep(10 * 1000);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(h[i].ok, 3000);
    }
    auth_stats s;
    auth_get_stats(f->a, &s);
    assert_true(s.generation > 1);
    assert_true(s.cache_hits > 0);
}

/* Prints what a remembered check costs, to keep an eye on it. */
static void test_cost(void **state)
{
    struct fx *f = *state;
    f->o.check_interval_ms = 500;
    open_auth(f);
    char hb[256], ht[128];
    basic_s(hb, sizeof hb, "alice", "alice password 1");
    snprintf(ht, sizeof ht, "Bearer %s", f->token);
    auth_principal who;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(auth_check(f->a, hb, "10.1.1.1", &who, NULL), AUTH_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double first_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    const int n = 20000;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++)
        assert_int_equal(auth_check(f->a, i % 2 ? hb : ht, "10.1.1.1", &who, NULL), AUTH_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / n;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000; i++)
        auth_refresh(f->a);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double refresh_us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1000 / 1e3;
    print_message("first Basic check (Argon2id) %.1f ms; remembered check %.0f ns; change check %.1f us\n", first_ms,
                  ns, refresh_us);
}

static int group_setup(void **state)
{
    (void)state;
    return tb_secret_init() == TB_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_valid),
        cmocka_unit_test(test_header_hostile),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_throttle),
        cmocka_unit_test_setup_teardown(test_basic_remembered, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_changes_take_effect, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_tokens, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_throttled, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_threads, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_cost, setup_db, teardown_db),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
