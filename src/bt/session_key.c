#include "bt/session_key.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>

/* ---- the <session_key> answer ---- */

enum { F_TYPE, F_TTL, F_EXPIRES, F_QUEUE, F_QUEUE_ID, F_EXTERNAL_KEY, F_SHORT_KEY, F_KEY_URL, F_MAIL_SUBJECT,
       F_MAIL_BODY, F__COUNT };

static const char *const field_names[F__COUNT] = {
    "type", "ttl", "expires", "queue", "queue_id", "external_key", "short_key", "key_url", "mail_subject", "mail_body",
};

typedef struct kparse {
    XML_Parser p;
    int depth;
    int field;                      /* child being read, or -1 */
    bool root_ok;
    tb_err rc;
    char err[160];
    tb_buf text[F__COUNT];
    bool seen[F__COUNT];
} kparse;

static void kfail(kparse *k, tb_err rc, const char *msg)
{
    if (!k->rc) {
        k->rc = rc;
        snprintf(k->err, sizeof k->err, "%s", msg);
    }
    XML_StopParser(k->p, XML_FALSE);
}

static const char *local_name(const char *name)
{
    const char *l = strrchr(name, '|');
    return l ? l + 1 : name;
}

static void XMLCALL k_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    (void)atts;
    kparse *k = ud;
    const char *local = local_name(name);
    k->depth++;
    if (k->depth == 1) {
        if (strcmp(local, "session_key"))
            kfail(k, TB_ERR_INVALID, "the answer is not a <session_key>");
        k->root_ok = true;
        return;
    }
    if (k->depth > 16) {
        kfail(k, TB_ERR_INVALID, "the answer is nested too deeply");
        return;
    }
    k->field = -1;
    if (k->depth == 2)
        for (int i = 0; i < F__COUNT; i++)
            if (!strcmp(local, field_names[i])) {
                k->field = i;
                k->seen[i] = true;
                tb_buf_reset(&k->text[i]);
            }
}

static void XMLCALL k_end(void *ud, const XML_Char *name)
{
    (void)name;
    kparse *k = ud;
    if (k->depth-- == 2)
        k->field = -1;
}

static void XMLCALL k_text(void *ud, const XML_Char *t, int len)
{
    kparse *k = ud;
    if (k->depth != 2 || k->field < 0)
        return;
    if (tb_buf_append(&k->text[k->field], t, (size_t)len))
        kfail(k, TB_ERR_INVALID, "a value in the answer is over its size limit");
}

static void XMLCALL k_doctype(void *ud, const XML_Char *name, const XML_Char *sys, const XML_Char *pub, int sub)
{
    (void)name, (void)sys, (void)pub, (void)sub;
    kfail(ud, TB_ERR_INVALID, "DTD not allowed in the answer");
}

static void XMLCALL k_entity(void *ud, const XML_Char *name, int pe, const XML_Char *v, int vl, const XML_Char *b,
                             const XML_Char *s, const XML_Char *p, const XML_Char *n)
{
    (void)name, (void)pe, (void)v, (void)vl, (void)b, (void)s, (void)p, (void)n;
    kfail(ud, TB_ERR_INVALID, "entity declarations not allowed in the answer");
}

/* Copies a text without its surrounding white space into a fixed field. */
static bool fixed_copy(const tb_buf *b, char *out, size_t outsz)
{
    const char *p = b->data ? b->data : "";
    size_t n = b->len;
    while (n && isspace((unsigned char)*p))
        p++, n--;
    while (n && isspace((unsigned char)p[n - 1]))
        n--;
    if (n >= outsz)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static bool printable_ascii(const char *s, bool allow_newlines)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == 0x7f || (c < 0x20 && !(allow_newlines && (c == '\n' || c == '\r' || c == '\t'))))
            return false;
    }
    return true;
}

static bool parse_long(const char *s, long long *out)
{
    if (!*s)
        return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 0)
        return false;
    *out = v;
    return true;
}

/* A malloc'd copy without surrounding white space; inner new lines stay
 * (the mail body has them). */
static char *own_text(const tb_buf *b)
{
    if (!b->data)
        return strdup("");
    size_t s = 0, e = b->len;
    while (s < e && isspace((unsigned char)b->data[s]))
        s++;
    while (e > s && isspace((unsigned char)b->data[e - 1]))
        e--;
    char *p = malloc(e - s + 1);
    if (p) {
        memcpy(p, b->data + s, e - s);
        p[e - s] = '\0';
    }
    return p;
}

tb_err bt_session_key_parse(const char *xml, size_t len, bt_session_key *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    out->ttl = -1;
    if (!xml || len > BT_API_COMMAND_MAX) {
        snprintf(err, errsz, "the session key answer is missing or too large");
        return TB_ERR_INVALID;
    }
    kparse k = {.field = -1};
    for (int i = 0; i < F__COUNT; i++)
        tb_buf_init(&k.text[i], BT_SK_TEXT_MAX);
    k.p = XML_ParserCreateNS(NULL, '|');
    tb_err rc = TB_OK;
    if (!k.p) {
        rc = TB_ERR_NOMEM;
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    XML_SetUserData(k.p, &k);
    XML_SetElementHandler(k.p, k_start, k_end);
    XML_SetCharacterDataHandler(k.p, k_text);
    XML_SetStartDoctypeDeclHandler(k.p, k_doctype);
    XML_SetEntityDeclHandler(k.p, k_entity);
    XML_SetParamEntityParsing(k.p, XML_PARAM_ENTITY_PARSING_NEVER);
    if (XML_Parse(k.p, xml, (int)len, XML_TRUE) == XML_STATUS_ERROR && !k.rc) {
        snprintf(err, errsz, "the session key answer is not well-formed XML: %s (line %lu)",
                 XML_ErrorString(XML_GetErrorCode(k.p)), (unsigned long)XML_GetCurrentLineNumber(k.p));
        rc = TB_ERR_INVALID;
        goto out;
    }
    if (k.rc) {
        snprintf(err, errsz, "%s", k.err);
        rc = k.rc;
        goto out;
    }
    if (!k.root_ok) {
        snprintf(err, errsz, "the answer is not a <session_key>");
        rc = TB_ERR_INVALID;
        goto out;
    }
    if (!k.seen[F_SHORT_KEY] || !fixed_copy(&k.text[F_SHORT_KEY], out->short_key, sizeof out->short_key) ||
        !out->short_key[0] || !printable_ascii(out->short_key, false) || strchr(out->short_key, ' ')) {
        snprintf(err, errsz, "the session key answer has no usable short_key");
        rc = TB_ERR_INVALID;
        goto out;
    }
    if (!fixed_copy(&k.text[F_TYPE], out->type, sizeof out->type) ||
        !fixed_copy(&k.text[F_QUEUE], out->queue, sizeof out->queue) ||
        !fixed_copy(&k.text[F_QUEUE_ID], out->queue_id, sizeof out->queue_id) ||
        !fixed_copy(&k.text[F_EXTERNAL_KEY], out->external_key, sizeof out->external_key)) {
        snprintf(err, errsz, "a value in the session key answer is too long");
        rc = TB_ERR_INVALID;
        goto out;
    }
    char num[32];
    long long v;
    if (k.seen[F_TTL] && fixed_copy(&k.text[F_TTL], num, sizeof num) && parse_long(num, &v) && v <= 0x7fffffff)
        out->ttl = (long)v;
    if (k.seen[F_EXPIRES] && fixed_copy(&k.text[F_EXPIRES], num, sizeof num) && parse_long(num, &v))
        out->expires = v;
    out->key_url = own_text(&k.text[F_KEY_URL]);
    out->mail_subject = own_text(&k.text[F_MAIL_SUBJECT]);
    out->mail_body = own_text(&k.text[F_MAIL_BODY]);
    if (!out->key_url || !out->mail_subject || !out->mail_body) {
        snprintf(err, errsz, "out of memory");
        rc = TB_ERR_NOMEM;
        goto out;
    }
    if (out->key_url[0] && (!printable_ascii(out->key_url, false) || strchr(out->key_url, ' ') ||
                            (strncasecmp(out->key_url, "https://", 8) && strncasecmp(out->key_url, "http://", 7)))) {
        snprintf(err, errsz, "the session key answer's key_url is not an http(s) URL");
        rc = TB_ERR_INVALID;
        goto out;
    }
    if (!printable_ascii(out->mail_subject, false) || !printable_ascii(out->mail_body, true) ||
        !printable_ascii(out->queue, false) || !printable_ascii(out->queue_id, false) ||
        !printable_ascii(out->external_key, false)) {
        snprintf(err, errsz, "the session key answer holds control characters");
        rc = TB_ERR_INVALID;
    }
out:
    if (k.p)
        XML_ParserFree(k.p);
    for (int i = 0; i < F__COUNT; i++)
        tb_buf_free(&k.text[i]);
    if (rc)
        bt_session_key_free(out);
    return rc;
}

void bt_session_key_free(bt_session_key *k)
{
    if (!k)
        return;
    free(k->key_url);
    free(k->mail_subject);
    free(k->mail_body);
    k->key_url = k->mail_subject = k->mail_body = NULL;
}

/* ---- the call ---- */

tb_err bt_generate_session_key(bt_oauth_cache *tokens, tb_http_client *http, const bt_conn *conn,
                               const bt_session_key_params *p, bt_session_key *out, bt_api_result *res)
{
    memset(out, 0, sizeof *out);
    bt_param params[6];
    size_t n = 0;
    char ttl[24], custom[128];
    params[n++] = (bt_param){"type", "support"};
    params[n++] = (bt_param){"queue_id", p->queue_id && *p->queue_id ? p->queue_id : "general"};
    if (p->ttl > 0) {
        snprintf(ttl, sizeof ttl, "%ld", p->ttl);
        params[n++] = (bt_param){"ttl", ttl};
    }
    if (p->external_key)
        params[n++] = (bt_param){BT_SK_EXTERNAL_KEY_PARAM, p->external_key};
    if (p->custom_name && *p->custom_name) {
        snprintf(custom, sizeof custom, "session.custom.%s", p->custom_name);
        params[n++] = (bt_param){custom, p->custom_value ? p->custom_value : ""};
    }
    tb_buf body;
    tb_err rc = bt_api_command(tokens, http, conn, "generate_session_key", params, n, &body, res);
    if (!rc) {
        char err[200];
        rc = bt_session_key_parse(body.data ? body.data : "", body.len, out, err, sizeof err);
        if (rc)
            tb_errmsg(res->err, sizeof res->err, "%s", err);
    }
    tb_buf_free(&body);
    return rc;
}

/* ---- failures ---- */

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; hay && *hay; hay++)
        if (!strncasecmp(hay, needle, n))
            return true;
    return false;
}

bt_sk_failure bt_session_key_classify(tb_err rc, const bt_api_result *res)
{
    if (!rc)
        return BT_SK_FAIL_OTHER;
    const char *e = res->err;
    if (res->appliance_error) {
        /* seed 003 quotes both messages for a code name the appliance lacks */
        if (contains_nocase(e, "custom field code name") || contains_nocase(e, "session attribute is invalid"))
            return BT_SK_FAIL_CUSTOM_FIELD;
        /* [V] rep_username must match exactly one user; the message is [I] */
        if (contains_nocase(e, "username"))
            return BT_SK_FAIL_UNKNOWN_REP;
        return BT_SK_FAIL_APPLIANCE;
    }
    if (rc == TB_ERR_DENIED)
        return contains_nocase(e, "OAuth") ? BT_SK_FAIL_OAUTH : BT_SK_FAIL_PERMISSION;
    if (rc == TB_ERR_BUSY)
        return BT_SK_FAIL_BUSY;
    /* http/client.c words a failure without an HTTP answer "request to HOST
     * failed: <reason>"; an HTTP status is "HTTP <status> from HOST". */
    if ((rc == TB_ERR_HTTP || rc == TB_ERR_TIMEOUT) && res->status == 0 && strstr(e, " failed: "))
        return BT_SK_FAIL_UNREACHABLE;
    if (rc == TB_ERR_INVALID || rc == TB_ERR_TOO_LARGE)
        return BT_SK_FAIL_ANSWER;
    return BT_SK_FAIL_OTHER;
}

const char *bt_sk_failure_name(bt_sk_failure f)
{
    static const char *const names[] = {"other", "unreachable", "oauth", "permission", "busy",
                                        "custom_field", "unknown_rep", "appliance_error", "bad_answer"};
    return (size_t)f < sizeof names / sizeof *names ? names[f] : "other";
}

void bt_session_key_hint(bt_sk_failure f, const bt_api_result *res, const char *host, const char *field,
                         char *out, size_t outsz)
{
    const char *why = res && res->err[0] ? res->err : "no details";
    switch (f) {
    case BT_SK_FAIL_UNREACHABLE:
        snprintf(out, outsz, "cannot reach the appliance %s: check the hostname and the firewall (TCP 443) (%s)",
                 host ? host : "", why);
        break;
    case BT_SK_FAIL_OAUTH:
        snprintf(out, outsz, "%s", BT_OAUTH_DENIED_MSG);
        break;
    case BT_SK_FAIL_PERMISSION:
        snprintf(out, outsz, "the appliance refused the API account: give it the Command API permission in "
                             "/login > Management > API Configuration (%s)", why);
        break;
    case BT_SK_FAIL_BUSY:
        snprintf(out, outsz, "the appliance is busy: try again in a moment (%s)", why);
        break;
    case BT_SK_FAIL_CUSTOM_FIELD:
        snprintf(out, outsz, "create the custom field %s in /login > Management > API Configuration (%s)",
                 field && *field ? field : "snow_task_id", why);
        break;
    case BT_SK_FAIL_UNKNOWN_REP:
        snprintf(out, outsz, "the appliance knows no representative with this BeyondTrust username (%s)", why);
        break;
    default:
        snprintf(out, outsz, "%s", why);
        break;
    }
}
