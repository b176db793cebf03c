#include "flow/csm_http.h"
#include "flow/csm_http_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bt/start_session.h"
#include "itsm/itsm.h"

tb_err csm_http_new(const csm_http_opts *opt, csm_http **out)
{
    csm_http *h = calloc(1, sizeof *h);
    if (!h)
        return TB_ERR_NOMEM;
    h->csm = opt->csm;
    /* Unset: the configured ticket store says where records are shown. */
    ticket_store *ts = opt->csm ? csm_ticket_store(opt->csm) : NULL;
    const tb_config *cfg = ts ? ticket_store_config(ts) : NULL;
    const char *kind = opt->ticket_store && *opt->ticket_store ? opt->ticket_store
                       : ts && ticket_store_is_remote(ts)      ? "servicenow"
                                                                : "embedded";
    const char *url = opt->instance_url && *opt->instance_url ? opt->instance_url
                      : cfg                                  ? cfg->servicenow_url
                                                              : "";
    snprintf(h->ticket_store, sizeof h->ticket_store, "%s", kind);
    snprintf(h->instance_url, sizeof h->instance_url, "%s", url);
    crypto_generichash_keygen(h->form_key);
    *out = h;
    return TB_OK;
}

void csm_http_free(csm_http *h)
{
    if (!h)
        return;
    sodium_memzero(h->form_key, sizeof h->form_key);
    free(h);
}

size_t csm_http_routes(csm_http *h, tb_route *out)
{
    out[0] = (tb_route){CSM_LINK_PATH, TB_M_GET | TB_M_POST, CSM_FORM_BODY_MAX, csm_link_handle,
                        "csm_auto_create_link", false, false, h};
    out[1] = (tb_route){CSM_NAV_PATH, TB_M_GET, 0, csm_nav_handle, "nav_to", false, false, h};
    out[2] = (tb_route){CSM_TICKETS_PREFIX "*", TB_M_GET, 0, csm_ticket_handle, "ticket_page", false, false, h};
    out[3] = (tb_route){CSM_CHAT_PATH, TB_M_GET, 0, csm_chat_handle, "csm_chat", false, false, h};
    out[4] = (tb_route){CSM_CHAT_START_PATH, TB_M_GET | TB_M_POST, CSM_FORM_BODY_MAX, csm_chat_start_handle,
                        "csm_chat_start", false, false, h};
    return CSM_HTTP_ROUTES;
}

static bool is_sys_id(const char *s)
{
    if (!s || strlen(s) != ITSM_SYS_ID_LEN)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

tb_err csm_record_location(const char *store_kind, const char *instance_url, const char *table,
                           const char *sys_id, char *out, size_t outsz)
{
    if (!is_sys_id(sys_id) || !table || (strcmp(table, "task") && !itsm_is_known_table(table)))
        return TB_ERR_INVALID;
    int n;
    if (store_kind && !strcmp(store_kind, "servicenow")) {
        if (!instance_url || strncmp(instance_url, "https://", 8) || strpbrk(instance_url, "?#\"<> \r\n"))
            return TB_ERR_INVALID;
        size_t len = strlen(instance_url);
        while (len && instance_url[len - 1] == '/')
            len--;
        n = snprintf(out, outsz, "%.*s/nav_to.do?uri=%s.do%%3Fsys_id%%3D%s", (int)len, instance_url, table, sys_id);
    } else {
        n = snprintf(out, outsz, CSM_TICKETS_PREFIX "%s", sys_id);
    }
    return n < 0 || (size_t)n >= outsz ? TB_ERR_TOO_LARGE : TB_OK;
}

/* ---- parameters ---- */

bool csm_params_open(csm_params *p, tb_http_req *req)
{
    memset(p, 0, sizeof *p);
    p->req = req;
    if (strcmp(tb_http_req_method(req), "POST"))
        return true;
    const char *ct = tb_http_header(req, "Content-Type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33)) {
        tb_http_reply_error(req, 415, "Unsupported media type", "forms are posted as application/x-www-form-urlencoded");
        return false;
    }
    size_t len;
    const char *body = tb_http_body(req, &len);
    char err[200];
    tb_err e = bt_form_parse(body, len, &p->form, err, sizeof err);
    if (e) {
        tb_http_reply_error(req, e == TB_ERR_NOMEM ? 503 : 400, e == TB_ERR_NOMEM ? "Out of memory" : "Malformed form",
                            e == TB_ERR_NOMEM ? "" : err);
        return false;
    }
    p->post = true;
    return true;
}

void csm_params_close(csm_params *p)
{
    bt_form_free(&p->form);
}

const char *csm_param(const csm_params *p, const char *name)
{
    const char *v = p->post ? bt_form_get(&p->form, name) : NULL;
    return v ? v : tb_http_query(p->req, name);
}

const char *csm_param_text(const csm_params *p, const char *name, long max, bool *bad)
{
    const char *v = csm_param(p, name);
    if (!v || !*v)
        return NULL;
    long n = bt_utf8_chars(v);
    bool ctl = false;
    for (const char *s = v; *s; s++)
        ctl |= (unsigned char)*s < 0x20 || *s == 0x7f;
    if (n < 0 || n > max || ctl) {
        char d[160];
        snprintf(d, sizeof d, "%s: at most %ld characters of UTF-8 text without control characters", name, max);
        tb_http_reply_error(p->req, 400, "Invalid parameter", d);
        *bad = true;
        return NULL;
    }
    return v;
}

bool csm_alnum(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isalnum((unsigned char)s[n]) || n >= max)
            return false;
    return n > 0;
}

bool csm_find_appliance(csm_http *h, tb_http_req *req, const char *name, int64_t *id, char *out_name)
{
    appliance_cache *ac = csm_appliances(h->csm);
    appliance_snapshot *snap = appliance_cache_acquire(ac);
    const appliance_entry *a = appliance_find_name(snap, name ? name : "Default");
    if (a) {
        *id = a->id;
        snprintf(out_name, 128, "%s", a->name);
    }
    appliance_cache_release(ac, snap);
    if (!a)
        tb_http_reply_error(req, 404, "Unknown appliance",
                            name ? "no appliance record has that name" : "there is no Default appliance");
    return a != NULL;
}

/* ---- form tokens ---- */

void csm_form_token(const csm_http *h, int64_t appliance_id, const char *lsid, const char *user, char out[65])
{
    unsigned char mac[32];
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)appliance_id);
    crypto_generichash_state st;
    crypto_generichash_init(&st, h->form_key, sizeof h->form_key, sizeof mac);
    const char *parts[] = {"csm-form", id, lsid ? lsid : "", user ? user : ""};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        crypto_generichash_update(&st, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
    crypto_generichash_final(&st, mac, sizeof mac);
    sodium_bin2hex(out, 65, mac, sizeof mac);
}

bool csm_form_token_ok(const csm_http *h, int64_t appliance_id, const char *lsid, const char *user, const char *tok)
{
    char want[65];
    csm_form_token(h, appliance_id, lsid, user, want);
    return tok && strlen(tok) == 64 && sodium_memcmp(want, tok, 64) == 0;
}
