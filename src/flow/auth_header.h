/* Parsing the Authorization request header: "Basic base64(user:password)"
 * or "Bearer tbk_...". Only shape is checked here; auth.c decides whether
 * the credentials are right. */
#ifndef TB_FLOW_AUTH_HEADER_H
#define TB_FLOW_AUTH_HEADER_H

#include "core/credential.h"
#include "core/err.h"

/* Longer headers are refused before decoding (Basic with the longest user
 * name and password is about 1.5 KiB). */
#define AUTH_HEADER_MAX 2048

typedef enum { AUTH_SCHEME_BASIC = 1, AUTH_SCHEME_BEARER } auth_scheme;

typedef struct auth_credentials {
    auth_scheme scheme;
    char user[CREDENTIAL_USERNAME_MAX + 1];     /* Basic only */
    /* The password (Basic) or the token (Bearer). Wipe with
     * auth_credentials_wipe when done. */
    char secret[CREDENTIAL_PASSWORD_MAX + 1];
} auth_credentials;

/* TB_OK, TB_ERR_TOO_LARGE (header, user name or password over its cap) or
 * TB_ERR_INVALID (unknown scheme, bad base64, no colon, empty user name, NUL
 * or control bytes, a token that is not tbk_ plus 40 characters). */
tb_err auth_header_parse(const char *value, auth_credentials *out);
void auth_credentials_wipe(auth_credentials *c);

#endif
