/* Secrets at rest (libsodium). A 32-byte key lives in a file of its own
 * (mode 0600, created by `ticketbridge init`); values are sealed with
 * crypto_secretbox (random nonce) and stored as base64 text. Passwords and
 * API tokens are never stored, only their crypto_pwhash strings. */
#ifndef TB_CORE_SECRET_H
#define TB_CORE_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include "core/err.h"

typedef struct tb_secret_key {
    unsigned char k[32];
} tb_secret_key;

tb_err tb_secret_init(void);                            /* sodium_init */
tb_err tb_secret_key_create(const char *path);          /* fails with TB_ERR_EXISTS if present */
tb_err tb_secret_key_load(const char *path, tb_secret_key *out);
void tb_secret_key_wipe(tb_secret_key *key);

/* Seal plaintext → malloc'd base64 string (caller frees). */
tb_err tb_secret_seal(const tb_secret_key *key, const char *plain, char **out);
/* Open a sealed string → malloc'd plaintext (caller frees with tb_secret_free). */
tb_err tb_secret_open(const tb_secret_key *key, const char *sealed, char **out);
void tb_secret_free(char *plain);                       /* zeroes, then frees */

tb_err tb_password_hash(const char *password, char out[128]);
bool tb_password_verify(const char *hash, const char *password);
/* Random printable password/token of len characters (alphabet avoids look-alikes). */
void tb_random_token(char *out, size_t len);

/* Constant-time equality of two strings of any length: both are hashed to a
 * fixed width first, so the time does not depend on where they differ nor on
 * the expected value's length. */
bool tb_secret_equal(const char *a, const char *b);

#endif
