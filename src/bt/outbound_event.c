#include "bt/outbound_event.h"

#include <ctype.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static const char *const session_end_events[] = {
    "support_conference_end",   /* RS and, per the notes, likely PRA too [V for RS] */
    "access_session_end",       /* PRA name, unverified [I] */
    "session_end",              /* defensive alias [I] */
    NULL,
};

bool bt_event_ends_session(const char *event)
{
    for (const char *const *p = session_end_events; *p; p++)
        if (!strcmp(*p, event))
            return true;
    return false;
}

bool bt_valid_event_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' || *s == '.' ||
              isupper((unsigned char)*s)))
            return false;
    return true;
}

bool bt_valid_lsid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_'))
            return false;
    return true;
}

void bt_form_free(bt_form *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].name);     /* value shares the allocation */
    free(f->v);
    f->v = NULL;
    f->n = 0;
}

const char *bt_form_get(const bt_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->v[i].name, name))
            return f->v[i].value;
    return NULL;
}

static bool valid_escapes(const char *s, size_t n, size_t *bad)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0') {
            *bad = i;
            return false;
        }
        if (s[i] == '%') {
            if (i + 2 >= n) {
                *bad = i;
                return false;
            }
            if (!isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2]) ||
                (s[i + 1] == '0' && s[i + 2] == '0')) {
                *bad = i;
                return false;
            }
            i += 2;
        }
    }
    return true;
}

/* Decodes one name or value ('+' is a space) into a NUL-terminated string. */
static void decode(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '+')
            *p = ' ';
    MHD_http_unescape(s);
}

static tb_err add_field(bt_form *out, size_t *cap, const char *name, size_t nlen, const char *value,
                        size_t vlen, bool urlencoded, char *err, size_t errsz)
{
    if (out->n >= BT_FORM_MAX_FIELDS) {
        snprintf(err, errsz, "more than %d fields", BT_FORM_MAX_FIELDS);
        return TB_ERR_INVALID;
    }
    if (out->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        bt_form_field *nv = realloc(out->v, *cap * sizeof *nv);
        if (!nv)
            return TB_ERR_NOMEM;
        out->v = nv;
    }
    char *mem = malloc(nlen + vlen + 2);
    if (!mem)
        return TB_ERR_NOMEM;
    memcpy(mem, name, nlen);
    mem[nlen] = '\0';
    char *val = mem + nlen + 1;
    memcpy(val, value, vlen);
    val[vlen] = '\0';
    if (urlencoded) {
        decode(mem);
        decode(val);
    }
    if (!mem[0] || strlen(mem) > BT_FORM_MAX_NAME) {
        snprintf(err, errsz, "field %zu has an empty or over-long name", out->n + 1);
        free(mem);
        return TB_ERR_INVALID;
    }
    out->v[out->n].name = mem;
    out->v[out->n].value = val;
    out->n++;
    return TB_OK;
}

tb_err bt_form_parse(const char *body, size_t len, bt_form *out, char *err, size_t errsz)
{
    out->n = 0;
    out->v = NULL;
    size_t bad;
    if (!valid_escapes(body, len, &bad)) {
        snprintf(err, errsz, "bad percent-encoding or NUL byte at offset %zu", bad);
        return TB_ERR_INVALID;
    }
    size_t cap = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && body[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(body + i, '=', j - i);
            size_t nlen = eq ? (size_t)(eq - (body + i)) : j - i;
            const char *val = eq ? eq + 1 : body + j;
            size_t vlen = eq ? (size_t)(body + j - val) : 0;
            tb_err e = add_field(out, &cap, body + i, nlen, val, vlen, true, err, errsz);
            if (e) {
                bt_form_free(out);
                return e;
            }
        }
        i = j + 1;
    }
    return TB_OK;
}

/* Adds one scalar JSON value as a field; objects recurse with dotted names
 * when depth allows (depth 0: scalars only). */
static tb_err add_json(bt_form *out, size_t *cap, const char *name, json_t *v, int depth, char *err,
                       size_t errsz)
{
    char num[64];
    const char *s;
    size_t slen;
    if (json_is_string(v)) {
        s = json_string_value(v);
        slen = json_string_length(v);
        if (strlen(s) != slen) {
            snprintf(err, errsz, "field '%.64s' contains a NUL character", name);
            return TB_ERR_INVALID;
        }
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
        slen = strlen(num);
    } else if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        s = num;
        slen = strlen(num);
    } else if (json_is_boolean(v)) {
        s = json_is_true(v) ? "true" : "false";
        slen = strlen(s);
    } else if (json_is_null(v)) {
        s = "";
        slen = 0;
    } else if (json_is_object(v) && depth > 0) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) {
            char sub[BT_FORM_MAX_NAME + 1];
            int n = snprintf(sub, sizeof sub, "%s.%s", name, k);
            if (n < 0 || (size_t)n >= sizeof sub) {
                snprintf(err, errsz, "field name '%.64s...' is longer than %d characters", name, BT_FORM_MAX_NAME);
                return TB_ERR_INVALID;
            }
            tb_err e = add_json(out, cap, sub, c, depth - 1, err, errsz);
            if (e)
                return e;
        }
        return TB_OK;
    } else {
        snprintf(err, errsz, depth > 0 ? "field '%.64s' must be a string, number, boolean or object (nested too deeply?)"
                                       : "field '%.64s' must be a string, number or boolean", name);
        return TB_ERR_INVALID;
    }
    return add_field(out, cap, name, strlen(name), s, slen, false, err, errsz);
}

static tb_err parse_json_object(const char *body, size_t len, int depth, bt_form *out, char *err, size_t errsz)
{
    out->n = 0;
    out->v = NULL;
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errsz, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return TB_ERR_INVALID;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, errsz, "JSON body must be an object");
        return TB_ERR_INVALID;
    }
    size_t cap = 0;
    const char *k;
    json_t *v;
    tb_err e = TB_OK;
    json_object_foreach(root, k, v) {
        if ((e = add_json(out, &cap, k, v, depth, err, errsz)))
            break;
    }
    json_decref(root);
    if (e)
        bt_form_free(out);
    return e;
}

tb_err bt_form_parse_json(const char *body, size_t len, bt_form *out, char *err, size_t errsz)
{
    return parse_json_object(body, len, 0, out, err, errsz);
}

tb_err bt_form_parse_json_nested(const char *body, size_t len, bt_form *out, char *err, size_t errsz)
{
    return parse_json_object(body, len, BT_FORM_MAX_DEPTH, out, err, errsz);
}

/* True when the raw (still encoded) name decodes to the token's name. */
static bool is_token_name(const char *raw, size_t n)
{
    char name[BT_FORM_MAX_NAME * 3 + 1];
    if (n >= sizeof name)
        return false;
    memcpy(name, raw, n);
    name[n] = '\0';
    decode(name);
    return !strcmp(name, BT_OUTBOUND_TOKEN_PARAM);
}

char *bt_form_redact_token(const char *body, size_t len, size_t *outlen)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    size_t i = 0;
    bool first = true;
    while (i < len) {
        size_t j = i;
        while (j < len && body[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(body + i, '=', j - i);
            size_t nlen = eq ? (size_t)(eq - (body + i)) : j - i;
            if (!first)
                tb_buf_append(&b, "&", 1);
            first = false;
            if (is_token_name(body + i, nlen)) {
                tb_buf_append(&b, body + i, nlen);
                tb_buf_appends(&b, "=REDACTED");
            } else {
                tb_buf_append(&b, body + i, j - i);
            }
        }
        i = j + 1;
    }
    if (tb_buf_append(&b, "", 0)) {
        tb_buf_free(&b);
        return NULL;
    }
    *outlen = b.len;
    return tb_buf_take(&b);
}

char *bt_json_redact_token(const char *body, size_t len, size_t *outlen)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    char *out = NULL;
    if (root && json_is_object(root) && json_object_get(root, BT_OUTBOUND_TOKEN_PARAM)) {
        json_object_set_new(root, BT_OUTBOUND_TOKEN_PARAM, json_string("REDACTED"));
        out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (out)
            *outlen = strlen(out);
    } else {
        out = malloc(len + 1);
        if (out) {
            memcpy(out, body, len);
            out[len] = '\0';
            *outlen = len;
        }
    }
    json_decref(root);
    return out;
}
