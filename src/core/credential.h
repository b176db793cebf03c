/* Formats of ticketbridge's own credentials: user names, passwords and API
 * tokens. Passwords are stored only as tb_password_hash (Argon2id) strings;
 * API tokens only as credential_token_hash. */
#ifndef TB_CORE_CREDENTIAL_H
#define TB_CORE_CREDENTIAL_H

#include <stdbool.h>
#include <stddef.h>

#define CREDENTIAL_USERNAME_MAX 64
#define CREDENTIAL_PASSWORD_MIN 12
#define CREDENTIAL_PASSWORD_MAX 1024
/* Generated passwords (init, user add/passwd without a file). */
#define CREDENTIAL_PASSWORD_GENERATED 20

/* "tbk_" and 40 characters of a 57-letter alphabet: about 233 bits. */
#define CREDENTIAL_TOKEN_PREFIX "tbk_"
#define CREDENTIAL_TOKEN_RANDOM 40
#define CREDENTIAL_TOKEN_LEN (4 + CREDENTIAL_TOKEN_RANDOM)
/* What lists show of a token: "tbk_" and its first 6 random characters. */
#define CREDENTIAL_TOKEN_SHOWN 10
#define CREDENTIAL_TOKEN_HASH_HEX 64
#define CREDENTIAL_TOKEN_NAME_MAX 64

/* 1-64 characters: letters, digits and . _ - @, starting with a letter or
 * digit (so it is safe in logs, tables and the user:password form). */
bool credential_username_valid(const char *name);
/* NULL when acceptable, else why not (static text). */
const char *credential_password_problem(const char *password);
/* 1-64 printable characters, no control characters. */
bool credential_token_name_valid(const char *name);

/* A new random token (out: CREDENTIAL_TOKEN_LEN + 1 bytes). */
void credential_token_new(char *out);
/* Whether s has the token's shape (checked before any lookup). */
bool credential_token_well_formed(const char *s);
/* Hex BLAKE2b-256 of the token, as stored (out: 65 bytes). */
void credential_token_hash(const char *token, char *out);
/* The displayable start of a token (out: CREDENTIAL_TOKEN_SHOWN + 1 bytes). */
void credential_token_shown(const char *token, char *out);

#endif
