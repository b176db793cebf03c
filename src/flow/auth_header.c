#include "flow/auth_header.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

void auth_credentials_wipe(auth_credentials *c)
{
    sodium_memzero(c, sizeof *c);
}

/* Strips "<scheme> " (case-insensitive, then any spaces); NULL if not it. */
static const char *after_scheme(const char *value, const char *scheme)
{
    size_t n = strlen(scheme);
    if (strncasecmp(value, scheme, n) || (value[n] != ' ' && value[n] != '\t'))
        return NULL;
    value += n;
    while (*value == ' ' || *value == '\t')
        value++;
    return value;
}

static size_t trimmed_len(const char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n;
}

static tb_err parse_basic(const char *b64, auth_credentials *out)
{
    size_t n = trimmed_len(b64);
    /* user, ':' and password, decoded; one byte spare to detect overlong. */
    unsigned char raw[CREDENTIAL_USERNAME_MAX + 1 + CREDENTIAL_PASSWORD_MAX + 2];
    size_t len = 0;
    if (!n)
        return TB_ERR_INVALID;
    if (n / 4 * 3 > sizeof raw)
        return TB_ERR_TOO_LARGE;
    tb_err e = TB_OK;
    if (sodium_base642bin(raw, sizeof raw, b64, n, NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) &&
        sodium_base642bin(raw, sizeof raw, b64, n, NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING)) {
        len = 0;
        e = TB_ERR_INVALID;
    }
    unsigned char *colon = memchr(raw, ':', len);
    if (!colon || colon == raw)
        e = TB_ERR_INVALID;
    /* NUL and other control bytes: never part of a valid name or password */
    for (size_t i = 0; !e && i < len; i++)
        if (raw[i] < 0x20 || raw[i] == 0x7f)
            e = TB_ERR_INVALID;
    size_t ulen = colon ? (size_t)(colon - raw) : 0, plen = colon ? len - ulen - 1 : 0;
    if (!e && (ulen > CREDENTIAL_USERNAME_MAX || plen > CREDENTIAL_PASSWORD_MAX))
        e = TB_ERR_TOO_LARGE;
    if (!e) {
        out->scheme = AUTH_SCHEME_BASIC;
        memcpy(out->user, raw, ulen);
        out->user[ulen] = '\0';
        memcpy(out->secret, colon + 1, plen);
        out->secret[plen] = '\0';
    }
    sodium_memzero(raw, sizeof raw);
    return e;
}

tb_err auth_header_parse(const char *value, auth_credentials *out)
{
    memset(out, 0, sizeof *out);
    if (!value)
        return TB_ERR_INVALID;
    if (strnlen(value, AUTH_HEADER_MAX + 1) > AUTH_HEADER_MAX)
        return TB_ERR_TOO_LARGE;
    while (*value == ' ' || *value == '\t')
        value++;
    const char *rest;
    if ((rest = after_scheme(value, "Basic")))
        return parse_basic(rest, out);
    if ((rest = after_scheme(value, "Bearer"))) {
        size_t n = trimmed_len(rest);
        if (n != CREDENTIAL_TOKEN_LEN)
            return TB_ERR_INVALID;
        memcpy(out->secret, rest, n);
        out->secret[n] = '\0';
        if (!credential_token_well_formed(out->secret)) {
            auth_credentials_wipe(out);
            return TB_ERR_INVALID;
        }
        out->scheme = AUTH_SCHEME_BEARER;
        return TB_OK;
    }
    return TB_ERR_INVALID;
}
