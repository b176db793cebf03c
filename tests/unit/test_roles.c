/* The role catalogue and its one rule (roles_grant), role lists, and the
 * formats of user names, passwords and API tokens. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/credential.h"
#include "core/roles.h"
#include "core/secret.h"

static void test_catalogue(void **state)
{
    (void)state;
    static const char *const seeds[] = {
        "admin", "x_bmgr_bomgar_pam.app_admin", "x_bmgr_bomgar_pam.data_viewer", "x_bmgr_bomgar_pam.jump_user",
        "x_bmgr_bomgar_pam.user", "itil", "x_bmgr_bomgar_inte.itil", "x_bmgr_crm.agent", "x_bets_pmc_jit.api",
        "x_bets_pmc_jit.user", "x_bets_pmc_jit.admin",
    };
    assert_int_equal(tb_roles_count, sizeof seeds / sizeof *seeds);
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
        assert_true(role_known(seeds[i]));
        assert_non_null(tb_roles[i].description);
        assert_true(strlen(tb_roles[i].description) > 10);
        assert_null(strchr(tb_roles[i].description, '\n'));
    }
    assert_false(role_known(""));
    assert_false(role_known("ADMIN"));          /* exact */
    assert_false(role_known("x_bmgr_bomgar_pam"));
    assert_false(role_known("admin "));
    /* every role at once fits the normalized buffer */
    char all[ROLES_CSV_MAX * 2] = "";
    for (size_t i = 0; i < tb_roles_count; i++) {
        strcat(all, tb_roles[i].name);
        strcat(all, ",");
    }
    char out[ROLES_CSV_MAX];
    assert_int_equal(roles_normalize(all, out, NULL, 0), TB_OK);
    assert_true(strlen(all) - 1 < ROLES_CSV_MAX);
    assert_int_equal(strlen(out), strlen(all) - 1);
}

static void test_grant_plain(void **state)
{
    (void)state;
    assert_true(roles_grant("itil", "itil"));
    assert_true(roles_grant("x_bmgr_crm.agent,itil", "itil"));
    assert_true(roles_grant(" x_bmgr_crm.agent , itil ", "itil"));    /* spaces around names */
    assert_false(roles_grant("x_bmgr_crm.agent", "itil"));
    assert_false(roles_grant("", "itil"));
    assert_false(roles_grant(NULL, "itil"));
    assert_true(roles_grant("", NULL));         /* nothing required */
    assert_true(roles_grant(NULL, ""));
    /* no prefix or substring matches */
    assert_false(roles_grant("x_bets_pmc_jit.admin", "x_bets_pmc_jit.api"));
    assert_false(roles_grant("x_bets_pmc_jit.api", "x_bets_pmc_jit.a"));
    assert_false(roles_grant("x_bets_pmc_jit.apix", "x_bets_pmc_jit.api"));
    assert_false(roles_grant("itil2,xitil", "itil"));
    assert_false(roles_grant(",,,", "itil"));
    /* no hierarchy between the PRA roles */
    assert_false(roles_grant("x_bmgr_bomgar_pam.app_admin", "x_bmgr_bomgar_pam.data_viewer"));
    assert_false(roles_grant("x_bmgr_bomgar_pam.app_admin", "x_bmgr_bomgar_pam.jump_user"));
    assert_false(roles_grant("x_bmgr_bomgar_pam.data_viewer", "x_bmgr_bomgar_pam.jump_user"));
    assert_false(roles_grant("x_bets_pmc_jit.admin", "x_bets_pmc_jit.user"));
    assert_false(roles_grant("x_bets_pmc_jit.user", "x_bets_pmc_jit.api"));
}

static void test_grant_admin(void **state)
{
    (void)state;
    for (size_t i = 0; i < tb_roles_count; i++) {
        assert_true(roles_grant("admin", tb_roles[i].name));
        assert_true(roles_grant("itil,admin", tb_roles[i].name));
    }
    /* a check for a role that does not exist fails closed, even for admin */
    assert_false(roles_grant("admin", "x_bmgr_bomgar_pam.superuser"));
    assert_false(roles_grant("admin", "Admin"));
    /* admin is granted only by itself */
    assert_false(roles_grant("x_bmgr_bomgar_pam.app_admin,x_bets_pmc_jit.admin", "admin"));
    assert_false(roles_grant("adminx", "itil"));
}

static void test_grant_deprecated_and_itil(void **state)
{
    (void)state;
    const char *dep = "x_bmgr_bomgar_pam.user";
    assert_true(roles_grant(dep, "x_bmgr_bomgar_pam.data_viewer"));
    assert_true(roles_grant(dep, "x_bmgr_bomgar_pam.jump_user"));
    assert_true(roles_grant(dep, "x_bmgr_bomgar_pam.user"));
    assert_false(roles_grant(dep, "x_bmgr_bomgar_pam.app_admin"));
    assert_false(roles_grant(dep, "itil"));
    assert_false(roles_grant(dep, "x_bets_pmc_jit.user"));
    /* a check for itil: either itil role */
    assert_true(roles_grant("x_bmgr_bomgar_inte.itil", "itil"));
    assert_true(roles_grant("itil", "itil"));
    /* a check for the app's own role wants that role */
    assert_false(roles_grant("itil", "x_bmgr_bomgar_inte.itil"));
    assert_true(roles_grant("x_bmgr_bomgar_inte.itil", "x_bmgr_bomgar_inte.itil"));
    /* the CSM agent role is not itil */
    assert_false(roles_grant("x_bmgr_crm.agent", "x_bmgr_bomgar_inte.itil"));
}

static void test_normalize(void **state)
{
    (void)state;
    char out[ROLES_CSV_MAX], bad[64];
    assert_int_equal(roles_normalize("x_bets_pmc_jit.api, ITIL ,,admin,itil", out, bad, sizeof bad), TB_OK);
    assert_string_equal(out, "admin,itil,x_bets_pmc_jit.api");     /* catalogue order, no duplicates */
    assert_int_equal(roles_normalize("", out, bad, sizeof bad), TB_OK);
    assert_string_equal(out, "");
    assert_int_equal(roles_normalize(NULL, out, bad, sizeof bad), TB_OK);
    assert_string_equal(out, "");
    assert_int_equal(roles_normalize(" , ,", out, bad, sizeof bad), TB_OK);
    assert_string_equal(out, "");
    assert_int_equal(roles_normalize("itil,superuser,admin", out, bad, sizeof bad), TB_ERR_INVALID);
    assert_string_equal(bad, "superuser");
    assert_int_equal(roles_normalize("it il", out, bad, sizeof bad), TB_ERR_INVALID);
    assert_int_equal(roles_normalize("itil;admin", out, bad, sizeof bad), TB_ERR_INVALID);
    /* hostile: a huge list, a huge name, control characters */
    char big[8192];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(roles_normalize(big, out, bad, sizeof bad), TB_ERR_TOO_LARGE);
    big[3000] = '\0';
    assert_int_equal(roles_normalize(big, out, bad, sizeof bad), TB_ERR_INVALID);
    assert_true(strlen(bad) < sizeof bad);
    assert_int_equal(roles_normalize("itil\n", out, bad, sizeof bad), TB_ERR_INVALID);
    uint32_t m = 0;
    assert_int_equal(roles_mask("itil,x_bmgr_crm.agent", &m, NULL, 0), TB_OK);
    roles_join(m & ~(1u << 5), out);            /* 5 = itil */
    assert_string_equal(out, "x_bmgr_crm.agent");
}

static void test_credential_formats(void **state)
{
    (void)state;
    assert_true(credential_username_valid("admin"));
    assert_true(credential_username_valid("pmc_webhook_user"));
    assert_true(credential_username_valid("j.doe-2@example.com"));
    assert_false(credential_username_valid(""));
    assert_false(credential_username_valid("_x"));
    assert_false(credential_username_valid("a b"));
    assert_false(credential_username_valid("a:b"));
    assert_false(credential_username_valid("a\tb"));
    assert_false(credential_username_valid("caf\xc3\xa9"));
    char name[80];
    memset(name, 'u', 64);
    name[64] = '\0';
    assert_true(credential_username_valid(name));
    strcat(name, "u");
    assert_false(credential_username_valid(name));

    assert_non_null(credential_password_problem(""));
    assert_non_null(credential_password_problem("elevenchars"));
    assert_null(credential_password_problem("twelve chars"));
    assert_null(credential_password_problem("correct horse battery staple: \xc3\xa9"));
    assert_non_null(credential_password_problem("twelve chars\x01"));
    assert_non_null(credential_password_problem("twelve chars\x7f"));
    char pw[1100];
    memset(pw, 'p', 1024);
    pw[1024] = '\0';
    assert_null(credential_password_problem(pw));
    strcat(pw, "p");
    assert_non_null(credential_password_problem(pw));

    assert_true(credential_token_name_valid("ci pipeline"));
    assert_false(credential_token_name_valid(""));
    assert_false(credential_token_name_valid("a\nb"));
}

static void test_tokens(void **state)
{
    (void)state;
    assert_int_equal(tb_secret_init(), TB_OK);
    char t1[CREDENTIAL_TOKEN_LEN + 1], t2[CREDENTIAL_TOKEN_LEN + 1];
    credential_token_new(t1);
    credential_token_new(t2);
    assert_int_equal(strlen(t1), 44);
    assert_memory_equal(t1, "tbk_", 4);
    assert_string_not_equal(t1, t2);
    assert_true(credential_token_well_formed(t1));
    char shown[CREDENTIAL_TOKEN_SHOWN + 1];
    credential_token_shown(t1, shown);
    assert_int_equal(strlen(shown), 10);
    assert_memory_equal(shown, t1, 10);
    char h1[65], h1b[65], h2[65];
    credential_token_hash(t1, h1);
    credential_token_hash(t1, h1b);
    credential_token_hash(t2, h2);
    assert_int_equal(strlen(h1), 64);
    assert_string_equal(h1, h1b);
    assert_string_not_equal(h1, h2);
    assert_null(strstr(h1, t1 + 4));

    assert_false(credential_token_well_formed(""));
    assert_false(credential_token_well_formed("tbk_"));
    assert_false(credential_token_well_formed(t1 + 1));
    char bad[64];
    snprintf(bad, sizeof bad, "%s", t1);
    bad[10] = '0';                              /* not in the alphabet (look-alike) */
    assert_false(credential_token_well_formed(bad));
    snprintf(bad, sizeof bad, "%sA", t1);
    assert_false(credential_token_well_formed(bad));
    snprintf(bad, sizeof bad, "TBK_%s", t1 + 4);
    assert_false(credential_token_well_formed(bad));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalogue),
        cmocka_unit_test(test_grant_plain),
        cmocka_unit_test(test_grant_admin),
        cmocka_unit_test(test_grant_deprecated_and_itil),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_credential_formats),
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
