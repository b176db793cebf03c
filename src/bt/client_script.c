#include "bt/client_script.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const jump_methods[] = {"push", "local_push", "pinned", "rdp", "vnc", "shelljump", NULL};

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* Appends "&name=value" (RFC 3986 escaping: curl_easy_escape keeps only
 * ALPHA, DIGIT and -._~). */
static tb_err param(tb_buf *b, const char *name, const char *value, bool first)
{
    char *n = curl_easy_escape(NULL, name, 0), *v = curl_easy_escape(NULL, value, 0);
    tb_err e = n && v ? tb_buf_printf(b, "%s%s=%s", first ? "" : "&", n, v) : TB_ERR_NOMEM;
    curl_free(n);
    curl_free(v);
    return e;
}

static tb_err command(const bt_jump_item_session *s, tb_buf *b)
{
    tb_err e = param(b, "action", "start_jump_item_session", true);
    if (!e)
        e = param(b, "search_string", s->search_string, false);
    if (!e && s->jump_method)
        e = param(b, "jump.method", s->jump_method, false);
    for (size_t i = 0; !e && i < s->ncustom; i++) {
        char name[128];
        snprintf(name, sizeof name, "session.custom.%s", s->custom[i].name);
        e = param(b, name, s->custom[i].value, false);
    }
    return e;
}

static void site_base(const char *site, char *out, size_t outsz)
{
    size_t n = strlen(site);
    while (n && site[n - 1] == '/')
        n--;
    if (strstr(site, "://"))
        snprintf(out, outsz, "%.*s", (int)n, site);
    else
        snprintf(out, outsz, "https://%.*s", (int)n, site);
}

tb_err bt_jump_item_script(const char *site, const bt_jump_item_session *s, tb_buf *url, tb_buf *brcs, char *err,
                           size_t errsz)
{
    if (!site || !*site || strlen(site) > 255 || has_control(site)) {
        snprintf(err, errsz, "the appliance has no usable host name");
        return TB_ERR_INVALID;
    }
    if (!s->search_string || !*s->search_string) {
        snprintf(err, errsz, "search_string (the configuration item's name) is required");
        return TB_ERR_INVALID;
    }
    if (strlen(s->search_string) > BT_CS_SEARCH_MAX || has_control(s->search_string)) {
        snprintf(err, errsz, "search_string must be at most %d characters without control characters",
                 BT_CS_SEARCH_MAX);
        return TB_ERR_INVALID;
    }
    if (s->jump_method) {
        bool known = false;
        for (const char *const *m = jump_methods; *m; m++)
            known |= !strcmp(*m, s->jump_method);
        if (!known) {
            snprintf(err, errsz, "jump method must be push, local_push, pinned, rdp, vnc or shelljump");
            return TB_ERR_INVALID;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < s->ncustom; i++) {
        size_t n = strlen(s->custom[i].value);
        if (n > BT_CS_CUSTOM_MAX || has_control(s->custom[i].value)) {
            snprintf(err, errsz, "session.custom.%s must be at most %d characters without control characters",
                     s->custom[i].name, BT_CS_CUSTOM_MAX);
            return TB_ERR_INVALID;
        }
        total += n;
    }
    if (total > BT_CS_CUSTOM_TOTAL_MAX) {
        snprintf(err, errsz, "session.custom values exceed %d bytes in all", BT_CS_CUSTOM_TOTAL_MAX);
        return TB_ERR_INVALID;
    }
    char base[300];
    site_base(site, base, sizeof base);
    tb_err e = tb_buf_printf(url, "%s/api/client_script?type=rep&operation=generate&", base);
    if (!e)
        e = command(s, url);
    if (!e)
        e = tb_buf_appends(brcs, "BRCS1.0\n");
    if (!e)
        e = command(s, brcs);
    if (!e)
        e = tb_buf_appends(brcs, "\n");
    return e;
}

void bt_brcs_file_name(const char *site, char *out, size_t outsz)
{
    const char *h = strstr(site, "://");
    h = h ? h + 3 : site;
    size_t n = strcspn(h, ".:/");
    snprintf(out, outsz, "ticketbridge-jump.brcs-%.*s", (int)(n ? n : 4), n ? h : "site");
}
