#include "bt/start_session.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

long bt_utf8_chars(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    long n = 0;
    while (*s) {
        unsigned c = *s, cp, min;
        size_t len;
        if (c < 0x80)
            len = 1, cp = c, min = 0;
        else if ((c & 0xE0) == 0xC0)
            len = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0)
            len = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0)
            len = 4, cp = c & 0x07, min = 0x10000;
        else
            return -1;
        for (size_t k = 1; k < len; k++) {
            if ((s[k] & 0xC0) != 0x80)
                return -1;
            cp = (cp << 6) | (s[k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        s += len;
        n++;
    }
    return n;
}

static bool has_control(const char *s, bool lines)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && !(lines && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7f)
            return true;
    }
    return false;
}

static bool code_name_ok(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_') || n >= max)
            return false;
    return n > 0;
}

static tb_err check_text(const char *what, const char *v, long max, bool lines, char *err, size_t errsz)
{
    long n = bt_utf8_chars(v);
    if (n < 0 || has_control(v, lines)) {
        snprintf(err, errsz, "%s must be UTF-8 text without control characters", what);
        return TB_ERR_INVALID;
    }
    if (n > max) {
        snprintf(err, errsz, "%s is at most %ld characters", what, max);
        return TB_ERR_INVALID;
    }
    return TB_OK;
}

static tb_err param(tb_buf *b, const char *name, const char *value, bool first)
{
    char *n = curl_easy_escape(NULL, name, 0), *v = curl_easy_escape(NULL, value, 0);
    tb_err e = n && v ? tb_buf_printf(b, "%s%s=%s", first ? "?" : "&", n, v) : TB_ERR_NOMEM;
    curl_free(n);
    curl_free(v);
    return e;
}

tb_err bt_start_session_url(const char *base_url, const bt_start_session *s, tb_buf *url, char *err, size_t errsz)
{
    if (!base_url || (strncmp(base_url, "https://", 8) && strncmp(base_url, "http://", 7)) ||
        has_control(base_url, false) || strchr(base_url, '?') || strchr(base_url, '#')) {
        snprintf(err, errsz, "the appliance has no usable host name");
        return TB_ERR_INVALID;
    }
    const struct {
        const char *name, *what, *v;
        long max;
    } customer[] = {
        {"customer.name", "the customer's name", s->customer_name, BT_SS_CUSTOMER_MAX},
        {"customer.company", "the company", s->customer_company, BT_SS_CUSTOMER_MAX},
        {"customer.company_code", "the company code", s->customer_company_code, BT_SS_CUSTOMER_MAX},
        {"customer.details", "the details", s->customer_details, BT_SS_DETAILS_MAX},
    };
    tb_err e;
    for (size_t i = 0; i < sizeof customer / sizeof *customer; i++)
        if (customer[i].v && (e = check_text(customer[i].what, customer[i].v, customer[i].max, i == 3, err, errsz)))
            return e;
    if (s->issue && *s->issue && !code_name_ok(s->issue, 64)) {
        snprintf(err, errsz, "the issue is a code name: at most 64 of a-z, 0-9 and '_'");
        return TB_ERR_INVALID;
    }
    if (s->ncustom > BT_SS_CUSTOM_FIELDS) {
        snprintf(err, errsz, "at most %d custom fields", BT_SS_CUSTOM_FIELDS);
        return TB_ERR_INVALID;
    }
    size_t total = 0;
    for (size_t i = 0; i < s->ncustom; i++) {
        if (!s->custom[i].name || !code_name_ok(s->custom[i].name, 64)) {
            snprintf(err, errsz, "custom field names are at most 64 of a-z, 0-9 and '_'");
            return TB_ERR_INVALID;
        }
        char what[96];
        snprintf(what, sizeof what, "custom field %s", s->custom[i].name);
        if ((e = check_text(what, s->custom[i].value ? s->custom[i].value : "", BT_SS_CUSTOM_MAX, false, err, errsz)))
            return e;
        total += s->custom[i].value ? strlen(s->custom[i].value) : 0;
    }
    if (total > BT_SS_CUSTOM_TOTAL_MAX) {
        snprintf(err, errsz, "the custom fields together are at most %d bytes", BT_SS_CUSTOM_TOTAL_MAX);
        return TB_ERR_INVALID;
    }

    size_t n = strlen(base_url);
    while (n && base_url[n - 1] == '/')
        n--;
    e = tb_buf_printf(url, "%.*s/api/start_session", (int)n, base_url);
    bool first = true;
    if (!e && s->issue && *s->issue) {
        e = param(url, "issue_menu", "1", first);
        if (!e)
            e = param(url, "codeName", s->issue, false);
        first = false;
    }
    for (size_t i = 0; !e && i < sizeof customer / sizeof *customer; i++) {
        if (customer[i].v && *customer[i].v) {
            e = param(url, customer[i].name, customer[i].v, first);
            first = false;
        }
    }
    for (size_t i = 0; !e && i < s->ncustom; i++) {
        if (!s->custom[i].value || !*s->custom[i].value)
            continue;
        char name[96];
        snprintf(name, sizeof name, "session.custom.%s", s->custom[i].name);
        e = param(url, name, s->custom[i].value, first);
        first = false;
    }
    if (!e && s->click_to_chat)
        e = param(url, "c2cjs", "1", first);
    if (e)
        snprintf(err, errsz, "cannot build the URL: %s", tb_strerror(e));
    return e;
}
