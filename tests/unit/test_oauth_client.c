/* OAuth clients and their tokens in the store (store_oauth.h): the client
 * records, access tokens as API tokens linked to their client, refresh
 * tokens, purging of expired ones, and removal with everything issued. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/credential.h"
#include "core/secret.h"
#include "store/store.h"
#include "store/store_oauth.h"

struct fx {
    char path[512];
    tb_store *st;
};

static int setup(void **state)
{
    assert_int_equal(tb_secret_init(), TB_OK);
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(test_db_path(f->path, sizeof f->path, "oauth"), 0);
    assert_int_equal(store_open(f->path, STORE_CREATE, &f->st), TB_OK);
    assert_int_equal(store_schema(f->st), TB_OK);
    assert_int_equal(store_account_add(f->st, "robot", "$argon2id$x", "itil"), TB_OK);
    assert_int_equal(store_account_add(f->st, "snow", "$argon2id$y", "itil"), TB_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    test_db_remove(f->path);
    free(f);
    return 0;
}

static int64_t count(struct fx *f, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(store_sqlite3(f->st), sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

static void hash_of(const char *token, char *hash)
{
    credential_token_hash(token, hash);
}

static void test_client_add_find_list(void **state)
{
    struct fx *f = *state;
    char h[128];
    assert_int_equal(tb_password_hash("client-secret-123", h), TB_OK);
    assert_int_equal(store_oauth_client_add(f->st, "cc", h, "robot", 60), TB_OK);
    assert_int_equal(store_oauth_client_add(f->st, "pw", h, NULL, OAUTH_LIFETIME_DEFAULT), TB_OK);
    assert_int_equal(store_oauth_client_add(f->st, "cc", h, NULL, 60), TB_ERR_EXISTS);
    assert_int_equal(store_oauth_client_add(f->st, "ghost", h, "nobody", 60), TB_ERR_NOT_FOUND);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_oauth_client"), 2);

    tb_oauth_client c;
    assert_int_equal(store_oauth_client_find(f->st, "cc", &c), TB_OK);
    assert_string_equal(c.client_id, "cc");
    assert_string_equal(c.run_as, "robot");
    assert_int_equal(c.lifetime, 60);
    assert_true(tb_password_verify(c.secret_hash, "client-secret-123"));
    assert_false(tb_password_verify(c.secret_hash, "client-secret-124"));
    assert_int_equal(store_oauth_client_find(f->st, "pw", &c), TB_OK);
    assert_string_equal(c.run_as, "");
    assert_int_equal(store_oauth_client_find(f->st, "nope", &c), TB_ERR_NOT_FOUND);
    /* hostile text is data, not SQL */
    assert_int_equal(store_oauth_client_find(f->st, "x' OR '1'='1", &c), TB_ERR_NOT_FOUND);

    tb_oauth_client *v;
    size_t n;
    assert_int_equal(store_oauth_client_list(f->st, &v, &n), TB_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].client_id, "cc");
    assert_string_equal(v[1].client_id, "pw");
    free(v);

    /* removing the run-as user leaves the client without one */
    assert_int_equal(store_account_delete(f->st, "robot"), TB_OK);
    assert_int_equal(store_oauth_client_find(f->st, "cc", &c), TB_OK);
    assert_string_equal(c.run_as, "");
}

static void test_tokens_issue_purge_remove(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_oauth_client_add(f->st, "pw", "$argon2id$z", NULL, 1800), TB_OK);
    assert_int_equal(store_oauth_client_add(f->st, "other", "$argon2id$z", NULL, 1800), TB_OK);
    tb_oauth_client c, o;
    assert_int_equal(store_oauth_client_find(f->st, "pw", &c), TB_OK);
    assert_int_equal(store_oauth_client_find(f->st, "other", &o), TB_OK);
    int64_t now = (int64_t)time(NULL);
    char a1[CREDENTIAL_TOKEN_LEN + 1], a2[CREDENTIAL_TOKEN_LEN + 1], r1[CREDENTIAL_TOKEN_LEN + 1];
    char h[CREDENTIAL_TOKEN_HASH_HEX + 1], shown[CREDENTIAL_TOKEN_SHOWN + 1], user[CREDENTIAL_USERNAME_MAX + 1];
    credential_token_new(a1);
    credential_token_new(a2);
    credential_token_new(r1);

    /* an expired access token and a live one */
    hash_of(a1, h);
    credential_token_shown(a1, shown);
    int64_t id1 = 0;
    assert_int_equal(store_oauth_access_add(f->st, c.id, "snow", h, shown, now - 5, &id1), TB_OK);
    hash_of(a2, h);
    credential_token_shown(a2, shown);
    assert_int_equal(store_oauth_access_add(f->st, c.id, "snow", h, shown, now + 1800, NULL), TB_OK);
    assert_int_equal(store_oauth_access_add(f->st, c.id, "ghost", h, shown, now + 1800, NULL), TB_ERR_NOT_FOUND);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_api_token WHERE name LIKE 'oauth pw tbk_%'"), 2);
    tb_token_owner ow;
    assert_int_equal(store_token_owner(f->st, h, &ow), TB_OK);
    assert_string_equal(ow.username, "snow");
    assert_int_equal(ow.expires_at, now + 1800);
    assert_int_equal(store_oauth_client_find(f->st, "pw", &c), TB_OK);
    assert_int_equal(c.live_tokens, 1);

    /* refresh tokens: found for their client only, until they expire */
    hash_of(r1, h);
    assert_int_equal(store_oauth_refresh_add(f->st, c.id, "snow", h, now, now + OAUTH_REFRESH_LIFETIME), TB_OK);
    assert_int_equal(store_oauth_refresh_find(f->st, c.id, h, now, user), TB_OK);
    assert_string_equal(user, "snow");
    assert_int_equal(store_oauth_refresh_find(f->st, o.id, h, now, user), TB_ERR_NOT_FOUND);
    assert_int_equal(store_oauth_refresh_find(f->st, c.id, h, now + OAUTH_REFRESH_LIFETIME, user), TB_ERR_NOT_FOUND);
    assert_int_equal(store_oauth_refresh_find(f->st, c.id, "00", now, user), TB_ERR_NOT_FOUND);
    assert_int_equal(store_oauth_refresh_add(f->st, c.id, "ghost", "ab", now, now + 10), TB_ERR_NOT_FOUND);

    /* purge: expired access tokens go; ordinary API tokens and live ones stay */
    assert_int_equal(store_token_add(f->st, "snow", "ci", "feed", "tbk_feedfe", now - 5, NULL), TB_OK);
    assert_int_equal(store_oauth_purge(f->st, now), TB_OK);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_api_token WHERE name LIKE 'oauth pw %'"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_api_token WHERE name = 'ci'"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_oauth_access"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_oauth_refresh"), 1);
    assert_int_equal(store_oauth_purge(f->st, now + OAUTH_REFRESH_LIFETIME), TB_OK);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_oauth_refresh"), 0);

    /* removal takes the client's tokens with it, not another client's */
    hash_of(a1, h);
    assert_int_equal(store_oauth_access_add(f->st, o.id, "snow", h, "tbk_aaaaaa", now + 60, NULL), TB_OK);
    hash_of(r1, h);
    assert_int_equal(store_oauth_refresh_add(f->st, c.id, "snow", h, now, now + 60), TB_OK);
    assert_int_equal(store_oauth_client_remove(f->st, "pw"), TB_OK);
    assert_int_equal(store_oauth_client_remove(f->st, "pw"), TB_ERR_NOT_FOUND);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_api_token WHERE name LIKE 'oauth pw %'"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_api_token WHERE name LIKE 'oauth other %'"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_oauth_refresh"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_oauth_access"), 1);

    /* removing the user removes what was issued to it */
    assert_int_equal(store_account_delete(f->st, "snow"), TB_OK);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_oauth_access"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_client_add_find_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens_issue_purge_remove, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
