#include "core/credential.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

#include "core/secret.h"

/* tb_random_token's alphabet (no look-alike characters). */
static const char token_alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

bool credential_username_valid(const char *name)
{
    size_t n = strlen(name);
    if (!n || n > CREDENTIAL_USERNAME_MAX || !isalnum((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 0x80 || !(isalnum(c) || c == '.' || c == '_' || c == '-' || c == '@'))
            return false;
    }
    return true;
}

const char *credential_password_problem(const char *password)
{
    size_t n = strlen(password);
    if (n < CREDENTIAL_PASSWORD_MIN)
        return "passwords need at least 12 characters";
    if (n > CREDENTIAL_PASSWORD_MAX)
        return "passwords are at most 1024 characters";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)password[i] < 0x20 || password[i] == 0x7f)
            return "passwords cannot contain control characters";
    return NULL;
}

bool credential_token_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (!n || n > CREDENTIAL_TOKEN_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    return true;
}

void credential_token_new(char *out)
{
    memcpy(out, CREDENTIAL_TOKEN_PREFIX, 4);
    tb_random_token(out + 4, CREDENTIAL_TOKEN_RANDOM);
}

bool credential_token_well_formed(const char *s)
{
    if (strncmp(s, CREDENTIAL_TOKEN_PREFIX, 4) || strlen(s) != CREDENTIAL_TOKEN_LEN)
        return false;
    return strspn(s + 4, token_alphabet) == CREDENTIAL_TOKEN_RANDOM;
}

void credential_token_hash(const char *token, char *out)
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_bin2hex(out, CREDENTIAL_TOKEN_HASH_HEX + 1, h, sizeof h);
}

void credential_token_shown(const char *token, char *out)
{
    size_t n = strnlen(token, CREDENTIAL_TOKEN_SHOWN);
    memcpy(out, token, n);
    out[n] = '\0';
}
