#include "flow/epm_settings.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bt/api.h"
#include "bt/epm_wire.h"
#include "core/log.h"
#include "store/store_jit.h"

static char *dup_or(const char *v, const char *dflt)
{
    return strdup(v && *v ? v : dflt);
}

void epm_settings_free(epm_settings *s)
{
    if (!s)
        return;
    if (s->client_secret)
        tb_secret_free(s->client_secret);
    if (s->webhook_auth)
        tb_secret_free(s->webhook_auth);
    char *strs[] = {s->host, s->tenant_id, s->client_id, s->ticket_type, s->active_states,
                    s->short_description, s->assignment_group, s->category, s->ticket_url_base,
                    s->app_decision_path, s->admin_decision_path, s->admin_decision_method, s->app_read_path,
                    s->admin_id_field};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(strs[i]);
    free(s);
}

static tb_err open_secret(const tb_secret_key *key, const char *sealed, char **out)
{
    *out = NULL;
    if (!sealed || !*sealed)
        return TB_OK;
    return tb_secret_open(key, sealed, out);
}

tb_err epm_settings_load(tb_store *st, const tb_secret_key *key, epm_settings **out)
{
    *out = NULL;
    epm_settings *s = calloc(1, sizeof *s);
    if (!s)
        return TB_ERR_NOMEM;
    tb_epm_config c;
    tb_err e = store_epm_config_get(st, EPM_CONFIG_DEFAULT, &c);
    if (e && e != TB_ERR_NOT_FOUND) {
        free(s);
        return e;
    }
    s->exists = !e;
    if (e)
        memset(&c, 0, sizeof c);
    s->host = dup_or(c.host, "");
    s->tenant_id = dup_or(c.tenant_id, "");
    s->client_id = dup_or(c.client_id, "");
    s->ticket_type = dup_or(c.ticket_type, "incident");
    s->active_states = dup_or(c.active_states, "");
    s->short_description = dup_or(c.short_description, "EPM JIT Access Request");
    s->assignment_group = dup_or(c.assignment_group, "");
    s->category = dup_or(c.category, "");
    s->auto_close = c.auto_close;
    s->ticket_url_base = dup_or(c.ticket_url_base, "");
    s->app_decision_path = dup_or(c.app_decision_path, EPM_DEFAULT_APP_DECISION_PATH);
    s->admin_decision_path = dup_or(c.admin_decision_path, EPM_DEFAULT_ADMIN_DECISION_PATH);
    s->admin_decision_method = dup_or(c.admin_decision_method, EPM_DEFAULT_ADMIN_DECISION_METHOD);
    s->app_read_path = dup_or(c.app_read_path, EPM_DEFAULT_APP_READ_PATH);
    s->admin_id_field = dup_or(c.admin_id_field, EPM_DEFAULT_ADMIN_ID_FIELD);
    e = TB_OK;
    if (!s->host || !s->tenant_id || !s->client_id || !s->ticket_type || !s->active_states ||
        !s->short_description || !s->assignment_group || !s->category || !s->ticket_url_base ||
        !s->app_decision_path || !s->admin_decision_path || !s->admin_decision_method || !s->app_read_path ||
        !s->admin_id_field)
        e = TB_ERR_NOMEM;
    if (!e)
        e = open_secret(key, c.client_secret_sealed, &s->client_secret);
    if (!e)
        e = open_secret(key, c.webhook_auth_sealed, &s->webhook_auth);
    if (!e && s->host[0] && bt_api_base_url(s->host, s->base_url, sizeof s->base_url))
        s->base_url[0] = '\0';
    if (!e) {
        if (c.token_url && *c.token_url)
            snprintf(s->token_url, sizeof s->token_url, "%s", c.token_url);
        else if (s->base_url[0])
            snprintf(s->token_url, sizeof s->token_url, "%s%s", s->base_url, EPM_DEFAULT_TOKEN_PATH);
    }
    tb_epm_config_clear(&c);
    if (e) {
        epm_settings_free(s);
        return e;
    }
    *out = s;
    return TB_OK;
}

epm_conn epm_settings_conn(const epm_settings *s)
{
    return (epm_conn){.base_url = s->base_url, .token_url = s->token_url, .client_id = s->client_id,
                      .client_secret = s->client_secret};
}

bool epm_host_looks_right(const char *host)
{
    if (!host)
        return false;
    const char *p = strstr(host, "://");
    p = p ? p + 3 : host;
    size_t n = strcspn(p, ".:/");
    return n > 9 && !strncasecmp(p + n - 9, "-services", 9);
}

/* ---- the cache ---- */

static tb_err build(tb_store *st, void *ctx, snapshot_hdr **out)
{
    epm_settings *s;
    tb_err e = epm_settings_load(st, ctx, &s);
    if (e) {
        TB_LOGE("EPM configuration not loaded", "err=\"%s\"", tb_strerror(e));
        return e;
    }
    *out = &s->hdr;
    return TB_OK;
}

static void snapshot_free(snapshot_hdr *h)
{
    epm_settings_free((epm_settings *)h);
}

tb_err epm_settings_cache_open(const char *db_path, const tb_secret_key *key, epm_settings_cache **out)
{
    return snapshot_cache_open_keyed(db_path, build, snapshot_free, key, out);
}
