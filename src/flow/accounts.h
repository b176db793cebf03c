/* Managing ticketbridge's own users and API tokens: the checks (name,
 * password policy, role catalogue), the hashing and the store calls, in
 * one place for the CLI (and later the API and UI).
 *
 * Every function returns TB_OK or an error with a sentence in err that a
 * person can act on; on error nothing has been written. */
#ifndef TB_FLOW_ACCOUNTS_H
#define TB_FLOW_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/credential.h"
#include "core/err.h"
#include "core/roles.h"
#include "store/store.h"

/* A random password for a user created without one (shown once). */
void accounts_new_password(char out[CREDENTIAL_PASSWORD_GENERATED + 1]);

/* roles: comma-separated catalogue names ("" = none). */
tb_err accounts_add(tb_store *st, const char *username, const char *password, const char *roles,
                    char *err, size_t errsz);
tb_err accounts_set_password(tb_store *st, const char *username, const char *password, char *err,
                             size_t errsz);

typedef enum { ACCOUNTS_ROLES_SET, ACCOUNTS_ROLES_ADD, ACCOUNTS_ROLES_REMOVE } accounts_roles_op;
/* Applies op with the listed roles; result receives the user's roles after. */
tb_err accounts_change_roles(tb_store *st, const char *username, accounts_roles_op op, const char *roles,
                             char result[ROLES_CSV_MAX], char *err, size_t errsz);
tb_err accounts_set_disabled(tb_store *st, const char *username, bool disabled, char *err, size_t errsz);
/* Removes the user and its tokens. */
tb_err accounts_remove(tb_store *st, const char *username, char *err, size_t errsz);

#define ACCOUNTS_TOKEN_DAYS_MAX 3650
/* A new token for the user, valid expires_days days (0 = no expiry). The
 * token is in token (CREDENTIAL_TOKEN_LEN + 1 bytes) and nowhere else:
 * only its hash is stored. */
tb_err accounts_token_create(tb_store *st, const char *username, const char *name, int expires_days,
                             char *token, int64_t *id, char *err, size_t errsz);
tb_err accounts_token_revoke(tb_store *st, int64_t id, char *err, size_t errsz);

#endif
