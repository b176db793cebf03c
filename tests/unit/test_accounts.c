/* Users and API tokens in the store, and the account management that the
 * CLI uses (flow/accounts): checks, hashes only, nothing half-written. */
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

#include "core/secret.h"
#include "flow/accounts.h"
#include "store/store.h"

struct fx {
    char path[512];
    tb_store *st;
    char err[256];
};

static int setup(void **state)
{
    assert_int_equal(tb_secret_init(), TB_OK);
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(test_db_path(f->path, sizeof f->path, "accounts"), 0);
    assert_int_equal(store_open(f->path, STORE_CREATE, &f->st), TB_OK);
    assert_int_equal(store_schema(f->st), TB_OK);
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

static int64_t version(struct fx *f)
{
    int64_t v = -1;
    assert_int_equal(store_auth_version(f->st, &v), TB_OK);
    return v;
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

static void test_add_and_errors(void **state)
{
    struct fx *f = *state;
    int64_t v0 = version(f);
    assert_int_equal(accounts_add(f->st, "alice", "alice password 1", "itil, X_BMGR_CRM.AGENT", f->err, sizeof f->err),
                     TB_OK);
    assert_true(version(f) > v0);
    tb_account a;
    char hash[128];
    assert_int_equal(store_account_find(f->st, "alice", &a, hash), TB_OK);
    assert_string_equal(a.roles, "itil,x_bmgr_crm.agent");
    assert_false(a.disabled);
    assert_true(a.created_at > 0 && a.updated_at == a.created_at && a.password_changed_at == a.created_at);
    assert_int_equal(strncmp(hash, "$argon2id$", 10), 0);
    assert_true(tb_password_verify(hash, "alice password 1"));
    tb_account_clear(&a);

    /* each refusal explains itself and writes nothing */
    int64_t users = count(f, "SELECT count(*) FROM tb_account"), v1 = version(f);
    assert_int_equal(accounts_add(f->st, "alice", "another password", "", f->err, sizeof f->err), TB_ERR_EXISTS);
    assert_non_null(strstr(f->err, "already exists"));
    assert_int_equal(accounts_add(f->st, "bob", "short", "", f->err, sizeof f->err), TB_ERR_INVALID);
    assert_non_null(strstr(f->err, "12 characters"));
    assert_int_equal(accounts_add(f->st, "bob", "bob password 12", "itil,root", f->err, sizeof f->err),
                     TB_ERR_INVALID);
    assert_non_null(strstr(f->err, "unknown role 'root'"));
    assert_int_equal(accounts_add(f->st, "bob smith", "bob password 12", "", f->err, sizeof f->err), TB_ERR_INVALID);
    assert_non_null(strstr(f->err, "invalid user name"));
    assert_int_equal(accounts_add(f->st, "", "bob password 12", "", f->err, sizeof f->err), TB_ERR_INVALID);
    assert_int_equal(accounts_add(f->st, "bob", "bob password\n12", "", f->err, sizeof f->err), TB_ERR_INVALID);
    char huge[6000];
    memset(huge, 'x', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    assert_int_equal(accounts_add(f->st, "bob", "bob password 12", huge, f->err, sizeof f->err), TB_ERR_TOO_LARGE);
    assert_int_equal(accounts_add(f->st, "bob", huge, "", f->err, sizeof f->err), TB_ERR_INVALID);
    assert_int_equal(accounts_add(f->st, huge, "bob password 12", "", f->err, sizeof f->err), TB_ERR_INVALID);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_account"), users);
    assert_int_equal(version(f), v1);
    /* only hashes in the table */
    assert_int_equal(count(f, "SELECT count(*) FROM tb_account WHERE password_hash NOT LIKE '$argon2id$%'"), 0);
}

static void test_change_roles_password_state(void **state)
{
    struct fx *f = *state;
    char roles[ROLES_CSV_MAX];
    assert_int_equal(accounts_add(f->st, "carol", "carol password", "", f->err, sizeof f->err), TB_OK);
    int64_t v = version(f);
    assert_int_equal(accounts_change_roles(f->st, "carol", ACCOUNTS_ROLES_ADD, "x_bets_pmc_jit.user", roles, f->err,
                                           sizeof f->err), TB_OK);
    assert_string_equal(roles, "x_bets_pmc_jit.user");
    assert_int_equal(accounts_change_roles(f->st, "carol", ACCOUNTS_ROLES_ADD, "itil,x_bets_pmc_jit.user", roles,
                                           f->err, sizeof f->err), TB_OK);
    assert_string_equal(roles, "itil,x_bets_pmc_jit.user");
    assert_int_equal(accounts_change_roles(f->st, "carol", ACCOUNTS_ROLES_REMOVE, "itil,admin", roles, f->err,
                                           sizeof f->err), TB_OK);
    assert_string_equal(roles, "x_bets_pmc_jit.user");
    assert_int_equal(accounts_change_roles(f->st, "carol", ACCOUNTS_ROLES_SET, "admin", roles, f->err, sizeof f->err),
                     TB_OK);
    assert_string_equal(roles, "admin");
    assert_int_equal(accounts_change_roles(f->st, "carol", ACCOUNTS_ROLES_SET, "", roles, f->err, sizeof f->err),
                     TB_OK);
    assert_string_equal(roles, "");
    assert_true(version(f) > v);
    assert_int_equal(accounts_change_roles(f->st, "carol", ACCOUNTS_ROLES_ADD, "nope", roles, f->err, sizeof f->err),
                     TB_ERR_INVALID);
    assert_int_equal(accounts_change_roles(f->st, "nobody", ACCOUNTS_ROLES_ADD, "itil", roles, f->err, sizeof f->err),
                     TB_ERR_NOT_FOUND);
    assert_non_null(strstr(f->err, "no such user: nobody"));

    tb_account a;
    char before[128], after[128];
    assert_int_equal(store_account_find(f->st, "carol", &a, before), TB_OK);
    tb_account_clear(&a);
    assert_int_equal(accounts_set_password(f->st, "carol", "too short", f->err, sizeof f->err), TB_ERR_INVALID);
    assert_int_equal(accounts_set_password(f->st, "nobody", "long enough password", f->err, sizeof f->err),
                     TB_ERR_NOT_FOUND);
    assert_int_equal(accounts_set_password(f->st, "carol", "carol's new password", f->err, sizeof f->err), TB_OK);
    assert_int_equal(store_account_find(f->st, "carol", &a, after), TB_OK);
    tb_account_clear(&a);
    assert_string_not_equal(before, after);
    assert_true(tb_password_verify(after, "carol's new password"));
    assert_false(tb_password_verify(after, "carol password"));

    assert_int_equal(accounts_set_disabled(f->st, "carol", true, f->err, sizeof f->err), TB_OK);
    assert_int_equal(store_account_find(f->st, "carol", &a, NULL), TB_OK);
    assert_true(a.disabled);
    tb_account_clear(&a);
    assert_int_equal(accounts_set_disabled(f->st, "carol", false, f->err, sizeof f->err), TB_OK);
    assert_int_equal(accounts_set_disabled(f->st, "nobody", true, f->err, sizeof f->err), TB_ERR_NOT_FOUND);
    assert_int_equal(accounts_remove(f->st, "nobody", f->err, sizeof f->err), TB_ERR_NOT_FOUND);
}

static void test_tokens(void **state)
{
    struct fx *f = *state;
    assert_int_equal(accounts_add(f->st, "svc", "service password", "x_bets_pmc_jit.api", f->err, sizeof f->err),
                     TB_OK);
    char t1[CREDENTIAL_TOKEN_LEN + 1], t2[CREDENTIAL_TOKEN_LEN + 1], hash[65];
    int64_t id1 = 0, id2 = 0;
    assert_int_equal(accounts_token_create(f->st, "svc", "ci", 30, t1, &id1, f->err, sizeof f->err), TB_OK);
    assert_true(credential_token_well_formed(t1));
    /* the token itself is stored nowhere; its hash and prefix are */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM tb_api_token WHERE token_hash LIKE '%%%s%%' OR prefix LIKE '%%%s%%'",
             t1 + 4, t1 + 12);
    assert_int_equal(count(f, sql), 0);
    credential_token_hash(t1, hash);
    tb_token_owner o;
    assert_int_equal(store_token_owner(f->st, hash, &o), TB_OK);
    assert_int_equal(o.token_id, id1);
    assert_string_equal(o.username, "svc");
    assert_string_equal(o.roles, "x_bets_pmc_jit.api");
    assert_false(o.disabled);
    assert_int_equal(o.revoked_at, 0);
    assert_true(o.expires_at > (int64_t)time(NULL) + 29 * 86400);

    /* a live name is unique per user; after a revoke it may be reused */
    assert_int_equal(accounts_token_create(f->st, "svc", "ci", 0, t2, &id2, f->err, sizeof f->err), TB_ERR_EXISTS);
    assert_non_null(strstr(f->err, "already has a token named 'ci'"));
    assert_string_equal(t2, "");                /* not handed out */
    assert_int_equal(accounts_token_create(f->st, "nobody", "ci", 0, t2, &id2, f->err, sizeof f->err),
                     TB_ERR_NOT_FOUND);
    assert_int_equal(accounts_token_create(f->st, "svc", "", 0, t2, &id2, f->err, sizeof f->err), TB_ERR_INVALID);
    assert_int_equal(accounts_token_create(f->st, "svc", "x", -1, t2, &id2, f->err, sizeof f->err), TB_ERR_INVALID);
    assert_int_equal(accounts_token_create(f->st, "svc", "x", 100000, t2, &id2, f->err, sizeof f->err),
                     TB_ERR_INVALID);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_api_token"), 1);

    assert_int_equal(accounts_token_revoke(f->st, id1, f->err, sizeof f->err), TB_OK);
    assert_int_equal(accounts_token_revoke(f->st, id1, f->err, sizeof f->err), TB_ERR_EXISTS);
    assert_non_null(strstr(f->err, "already revoked"));
    assert_int_equal(accounts_token_revoke(f->st, 999, f->err, sizeof f->err), TB_ERR_NOT_FOUND);
    assert_int_equal(accounts_token_create(f->st, "svc", "ci", 0, t2, &id2, f->err, sizeof f->err), TB_OK);

    tb_api_token *v;
    size_t n;
    assert_int_equal(store_token_list(f->st, "svc", &v, &n), TB_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].id, id1);
    assert_true(v[0].revoked_at > 0);
    assert_int_equal(v[1].expires_at, 0);
    assert_int_equal(v[1].last_used_at, 0);
    assert_int_equal(strlen(v[1].prefix), 10);
    tb_api_tokens_free(v, n);
    assert_int_equal(store_token_list(f->st, "nobody", &v, &n), TB_OK);
    assert_int_equal(n, 0);
    tb_api_tokens_free(v, n);

    /* last use moves forward only, and does not count as a change */
    int64_t ver = version(f);
    assert_int_equal(store_token_touch(f->st, id2, 1000), TB_OK);
    assert_int_equal(store_token_touch(f->st, id2, 500), TB_OK);
    assert_int_equal(version(f), ver);
    assert_int_equal(store_token_list(f->st, NULL, &v, &n), TB_OK);
    assert_int_equal(v[1].last_used_at, 1000);
    tb_api_tokens_free(v, n);

    tb_account *users;
    assert_int_equal(store_account_list(f->st, &users, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(users[0].tokens, 1);       /* the revoked one is not live */
    tb_accounts_free(users, n);

    /* removing the user removes its tokens */
    assert_int_equal(accounts_remove(f->st, "svc", f->err, sizeof f->err), TB_OK);
    assert_int_equal(count(f, "SELECT count(*) FROM tb_api_token"), 0);
    assert_true(version(f) > ver);
}

static void test_migration_keeps_accounts(void **state)
{
    struct fx *f = *state;
    /* a schema-3 database with an account made by the old `account add` */
    sqlite3 *db = store_sqlite3(f->st);
    assert_int_equal(test_schema_downgrade(db, 3), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO tb_account(username, password_hash, roles, created_at)"
                                  "  VALUES('old', 'h', 'admin', 1234);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(store_schema(f->st), TB_OK);
    tb_account a;
    assert_int_equal(store_account_find(f->st, "old", &a, NULL), TB_OK);
    assert_int_equal(a.updated_at, 1234);
    assert_int_equal(a.password_changed_at, 1234);
    assert_string_equal(a.roles, "admin");
    tb_account_clear(&a);
    int64_t v = version(f);
    assert_int_equal(store_account_set_disabled(f->st, "old", true), TB_OK);
    assert_true(version(f) > v);
    assert_true(count(f, "SELECT value FROM tb_meta WHERE key = 'schema_version'") >= 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_change_roles_password_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_keeps_accounts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
