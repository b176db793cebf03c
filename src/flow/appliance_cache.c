#include "flow/appliance_cache.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "flow/snapshot_cache.h"
#include "store/store.h"

void appliance_host_of(const char *hostname, char *out, size_t outsz)
{
    if (!outsz)
        return;
    const char *p = strstr(hostname, "://");
    p = p ? p + 3 : hostname;
    const char *at = strchr(p, '@');
    const char *slash = strchr(p, '/');
    if (at && (!slash || at < slash))
        p = at + 1;
    size_t n = 0;
    if (*p == '[') {
        p++;
        while (p[n] && p[n] != ']')
            n++;
    } else {
        while (p[n] && p[n] != ':' && p[n] != '/')
            n++;
    }
    if (n >= outsz)
        n = outsz - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)p[i]);
    out[n] = '\0';
}

static void entry_free(appliance_entry *e)
{
    free(e->name);
    free(e->product);
    free(e->host);
    free(e->guid);
    tb_secret_free(e->outbound_token);
    tb_secret_free(e->client_secret);
    free(e->hostname);
    free(e->client_id);
    free(e->events_to_import);
    free(e->approval_record_type);
    tb_override_rules_free(e->rules, e->nrules);
    tb_ipacl_free(&e->accepted);
}

static void snapshot_free(snapshot_hdr *h)
{
    appliance_snapshot *s = (appliance_snapshot *)h;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        entry_free(&s->v[i]);
    free(s->v);
    ts_field_map_free(&s->ts_map);
    tb_active_states_free(s->states, s->nstates);
    free(s);
}

static tb_err load_ticket_system(tb_store *st, appliance_snapshot *s)
{
    tb_wire_field *w;
    size_t nw;
    tb_err e = store_wire_fields_list(st, &w, &nw);
    if (e)
        return e;
    ts_wire_name *extra = nw ? calloc(nw, sizeof *extra) : NULL;
    if (nw && !extra) {
        tb_wire_fields_free(w, nw);
        return TB_ERR_NOMEM;
    }
    for (size_t i = 0; i < nw; i++)
        extra[i] = (ts_wire_name){w[i].wire, w[i].field};
    e = ts_field_map_build(extra, nw, &s->ts_map);
    free(extra);
    tb_wire_fields_free(w, nw);
    return e ? e : store_active_states_list(st, &s->states, &s->nstates);
}

static tb_err build(tb_store *st, void *ctx, snapshot_hdr **out)
{
    const tb_secret_key *key = ctx; /* decrypts the records' secrets */
    tb_appliance *rows;
    size_t n;
    tb_err e = store_appliance_list(st, &rows, &n);
    if (e)
        return e;
    appliance_snapshot *s = calloc(1, sizeof *s);
    if (!s || (n && !(s->v = calloc(n, sizeof *s->v)))) {
        free(s);
        tb_appliances_free(rows, n);
        return TB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n && !e; i++) {
        appliance_entry *a = &s->v[i];
        tb_appliance *r = &rows[i];
        char host[256];
        appliance_host_of(r->hostname, host, sizeof host);
        a->id = r->id;
        a->name = strdup(r->name);
        a->product = strdup(r->product);
        a->host = strdup(host);
        a->guid = strdup(r->appliance_guid);
        a->enabled = r->integration_enabled;
        a->hostname = strdup(r->hostname);
        a->client_id = strdup(r->client_id);
        a->events_to_import = strdup(r->events_to_import);
        a->import_external_sessions = r->import_external_sessions;
        a->auto_associate_user = r->auto_associate_user;
        a->auto_associate_ci = r->auto_associate_ci;
        a->poll_interval = r->poll_interval;
        a->override_change_management = r->override_change_management;
        a->approval_record_type = strdup(r->approval_record_type);
        a->approval_timeout_ms = r->approval_timeout_ms;
        s->n = i + 1;
        if (!a->name || !a->product || !a->host || !a->guid || !a->hostname || !a->client_id ||
            !a->events_to_import || !a->approval_record_type) {
            e = TB_ERR_NOMEM;
            break;
        }
        if (r->outbound_token_sealed[0]) {
            e = tb_secret_open(key, r->outbound_token_sealed, &a->outbound_token);
            if (e) {
                TB_LOGE("cannot decrypt outbound event token", "appliance=%s", r->name);
                break;
            }
        }
        if (r->client_secret_sealed[0]) {
            e = tb_secret_open(key, r->client_secret_sealed, &a->client_secret);
            if (e) {
                TB_LOGE("cannot decrypt OAuth client secret", "appliance=%s", r->name);
                break;
            }
        }
        const char *bad = NULL;
        if (tb_ipacl_parse(r->accepted_ips, &a->accepted, &bad)) {
            TB_LOGE("bad accepted IP list", "appliance=%s", r->name);
            e = TB_ERR_CONFIG;
        }
        if (!e)
            e = store_override_list(st, r->id, &a->rules, &a->nrules);
    }
    tb_appliances_free(rows, n);
    if (!e)
        e = load_ticket_system(st, s);
    if (e) {
        snapshot_free(&s->hdr);
        return e;
    }
    *out = &s->hdr;
    return TB_OK;
}

tb_err appliance_cache_open(const char *db_path, const tb_secret_key *key, appliance_cache **out)
{
    return snapshot_cache_open_keyed(db_path, build, snapshot_free, key, out);
}

const appliance_entry *appliance_find_name(const appliance_snapshot *s, const char *name)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (!strcmp(s->v[i].name, name))
            return &s->v[i];
    return NULL;
}

const appliance_entry *appliance_find_id(const appliance_snapshot *s, const char *appliance_id)
{
    if (!s || !appliance_id || !*appliance_id)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].guid[0] && !strcmp(s->v[i].guid, appliance_id))
            return &s->v[i];
    char host[256];
    appliance_host_of(appliance_id, host, sizeof host);
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].host[0] && !strcasecmp(s->v[i].host, host))
            return &s->v[i];
    return NULL;
}

const appliance_entry *appliance_find_row(const appliance_snapshot *s, int64_t id)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (s->v[i].id == id)
            return &s->v[i];
    return NULL;
}

bool appliance_imports_event(const appliance_entry *a, const char *event_type)
{
    const char *list = a->events_to_import;
    if (!list || !*list)
        return true;
    size_t n = strlen(event_type);
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && last[-1] == ' ')
            last--;
        if ((size_t)(last - p) == n && !strncasecmp(p, event_type, n))
            return true;
        p = end;
    }
    return false;
}
