#include "flow/accounts.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/secret.h"

#define USERNAME_RULE "user names are 1-64 characters: letters, digits and . _ - @, starting with a letter or digit"

void accounts_new_password(char out[CREDENTIAL_PASSWORD_GENERATED + 1])
{
    tb_random_token(out, CREDENTIAL_PASSWORD_GENERATED);
}

static tb_err bad_username(const char *username, char *err, size_t errsz)
{
    if (credential_username_valid(username))
        return TB_OK;
    tb_errmsg(err, errsz, "invalid user name: %s", USERNAME_RULE);
    return TB_ERR_INVALID;
}

static tb_err store_failed(tb_err e, const char *what, const char *username, char *err, size_t errsz)
{
    if (e == TB_ERR_NOT_FOUND)
        tb_errmsg(err, errsz, "no such user: %s", username);
    else
        tb_errmsg(err, errsz, "cannot %s: %s", what, tb_strerror(e));
    return e;
}

static tb_err hash_password(const char *password, char hash[128], char *err, size_t errsz)
{
    const char *problem = credential_password_problem(password);
    if (problem) {
        tb_errmsg(err, errsz, "%s", problem);
        return TB_ERR_INVALID;
    }
    tb_err e = tb_password_hash(password, hash);
    if (e)
        tb_errmsg(err, errsz, "cannot hash the password: %s", tb_strerror(e));
    return e;
}

static tb_err parse_roles(const char *roles, uint32_t *mask, char *err, size_t errsz)
{
    char bad[128];
    tb_err e = roles_mask(roles, mask, bad, sizeof bad);
    if (e == TB_ERR_INVALID)
        tb_errmsg(err, errsz, "unknown role '%s' (see 'ticketbridge user roles --list')", bad);
    else if (e)
        tb_errmsg(err, errsz, "role list too long");
    return e;
}

tb_err accounts_add(tb_store *st, const char *username, const char *password, const char *roles,
                    char *err, size_t errsz)
{
    uint32_t mask;
    char hash[128], csv[ROLES_CSV_MAX];
    tb_err e;
    if ((e = bad_username(username, err, errsz)) || (e = parse_roles(roles, &mask, err, errsz)) ||
        (e = hash_password(password, hash, err, errsz)))
        return e;
    roles_join(mask, csv);
    e = store_account_add(st, username, hash, csv);
    if (e == TB_ERR_EXISTS)
        tb_errmsg(err, errsz, "user %s already exists", username);
    else if (e)
        tb_errmsg(err, errsz, "cannot add user %s: %s", username, tb_strerror(e));
    return e;
}

tb_err accounts_set_password(tb_store *st, const char *username, const char *password, char *err,
                             size_t errsz)
{
    char hash[128];
    tb_err e;
    if ((e = bad_username(username, err, errsz)) || (e = hash_password(password, hash, err, errsz)))
        return e;
    if ((e = store_account_set_password(st, username, hash)))
        return store_failed(e, "change the password", username, err, errsz);
    return TB_OK;
}

tb_err accounts_change_roles(tb_store *st, const char *username, accounts_roles_op op, const char *roles,
                             char result[ROLES_CSV_MAX], char *err, size_t errsz)
{
    uint32_t change, held;
    tb_err e;
    if ((e = bad_username(username, err, errsz)) || (e = parse_roles(roles, &change, err, errsz)))
        return e;
    /* Read, change and write in one transaction: two administrators adding
     * different roles at once both get theirs. */
    if ((e = store_begin(st)))
        return store_failed(e, "change roles", username, err, errsz);
    tb_account a;
    if ((e = store_account_find(st, username, &a, NULL))) {
        store_rollback(st);
        return store_failed(e, "read the user", username, err, errsz);
    }
    e = roles_mask(a.roles, &held, NULL, 0);
    tb_account_clear(&a);
    if (e)
        held = 0;   /* a stored name this version does not know: the new list replaces it */
    switch (op) {
    case ACCOUNTS_ROLES_SET: held = change; break;
    case ACCOUNTS_ROLES_ADD: held |= change; break;
    case ACCOUNTS_ROLES_REMOVE: held &= ~change; break;
    }
    roles_join(held, result);
    if ((e = store_account_set_roles(st, username, result)) || (e = store_commit(st))) {
        store_rollback(st);
        return store_failed(e, "change roles", username, err, errsz);
    }
    return TB_OK;
}

tb_err accounts_set_disabled(tb_store *st, const char *username, bool disabled, char *err, size_t errsz)
{
    tb_err e = bad_username(username, err, errsz);
    if (!e && (e = store_account_set_disabled(st, username, disabled)))
        store_failed(e, disabled ? "disable the user" : "enable the user", username, err, errsz);
    return e;
}

tb_err accounts_remove(tb_store *st, const char *username, char *err, size_t errsz)
{
    tb_err e = bad_username(username, err, errsz);
    if (!e && (e = store_account_delete(st, username)))
        store_failed(e, "remove the user", username, err, errsz);
    return e;
}

tb_err accounts_token_create(tb_store *st, const char *username, const char *name, int expires_days,
                             char *token, int64_t *id, char *err, size_t errsz)
{
    tb_err e = bad_username(username, err, errsz);
    if (e)
        return e;
    if (!credential_token_name_valid(name)) {
        tb_errmsg(err, errsz, "token names are 1-64 characters without control characters");
        return TB_ERR_INVALID;
    }
    if (expires_days < 0 || expires_days > ACCOUNTS_TOKEN_DAYS_MAX) {
        tb_errmsg(err, errsz, "--expires-days: expected 1-%d", ACCOUNTS_TOKEN_DAYS_MAX);
        return TB_ERR_INVALID;
    }
    char hash[CREDENTIAL_TOKEN_HASH_HEX + 1], shown[CREDENTIAL_TOKEN_SHOWN + 1];
    credential_token_new(token);
    credential_token_hash(token, hash);
    credential_token_shown(token, shown);
    int64_t expires_at = expires_days ? (int64_t)time(NULL) + (int64_t)expires_days * 86400 : 0;
    e = store_token_add(st, username, name, hash, shown, expires_at, id);
    if (e == TB_ERR_EXISTS)
        tb_errmsg(err, errsz, "user %s already has a token named '%s' (revoke it first, or pick another name)",
                  username, name);
    else if (e)
        store_failed(e, "create the token", username, err, errsz);
    if (e)
        memset(token, 0, CREDENTIAL_TOKEN_LEN + 1);
    return e;
}

tb_err accounts_token_revoke(tb_store *st, int64_t id, char *err, size_t errsz)
{
    tb_err e = store_token_revoke(st, id, (int64_t)time(NULL));
    if (e == TB_ERR_NOT_FOUND)
        tb_errmsg(err, errsz, "no token with id %lld", (long long)id);
    else if (e == TB_ERR_EXISTS)
        tb_errmsg(err, errsz, "token %lld is already revoked", (long long)id);
    else if (e)
        tb_errmsg(err, errsz, "cannot revoke token %lld: %s", (long long)id, tb_strerror(e));
    return e;
}
