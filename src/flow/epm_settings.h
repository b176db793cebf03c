/* The EPM configuration record "Default" as the daemon uses it: secrets
 * decrypted, URLs and API paths resolved (record values over the defaults
 * of bt/epm_wire.h).
 *
 * Concurrency: as the appliance cache, readers take a reference to an
 * immutable snapshot and release it; epm_settings_cache_refresh (the
 * housekeeping tick) builds a new one when the database changed, so a
 * `ticketbridge epm config set` takes effect within a second. */
#ifndef TB_FLOW_EPM_SETTINGS_H
#define TB_FLOW_EPM_SETTINGS_H

#include <stdbool.h>

#include "bt/epm_api.h"
#include "core/err.h"
#include "core/secret.h"
#include "flow/snapshot_cache.h"
#include "store/store.h"

#define EPM_URL_MAX 1024

typedef struct epm_settings {
    snapshot_hdr hdr;               /* first: the cache's reference count */
    bool exists;                    /* the Default record exists */
    char *host;                     /* as configured */
    char base_url[EPM_URL_MAX];     /* "" when host is empty or unusable */
    char token_url[EPM_URL_MAX + 32]; /* "" when neither it nor a host is set */
    char *tenant_id, *client_id;
    char *client_secret;            /* plaintext, wiped on free; NULL when not set */
    char *ticket_type, *active_states, *short_description, *assignment_group, *category;
    bool auto_close;
    char *webhook_auth;             /* plaintext, wiped on free; NULL when not set */
    char *ticket_url_base;
    /* effective API paths and names */
    char *app_decision_path, *admin_decision_path, *admin_decision_method, *app_read_path, *admin_id_field;
} epm_settings;

/* Builds settings from the record (a missing record gives exists = false
 * and the defaults). TB_ERR_CRYPTO when a secret cannot be decrypted. */
tb_err epm_settings_load(tb_store *st, const tb_secret_key *key, epm_settings **out);
void epm_settings_free(epm_settings *s);
/* The connection for bt/epm_api.h; strings borrowed from s. */
epm_conn epm_settings_conn(const epm_settings *s);
/* Whether the host's first label ends in "-services" (seed 004: "Verify
 * hostname includes -services suffix"); host may be a URL. */
bool epm_host_looks_right(const char *host);

typedef snapshot_cache epm_settings_cache;

/* Keeps a copy of key (wiped at close) to decrypt reloaded records. */
tb_err epm_settings_cache_open(const char *db_path, const tb_secret_key *key, epm_settings_cache **out);
static inline void epm_settings_cache_close(epm_settings_cache *c) { snapshot_cache_close(c); }
static inline tb_err epm_settings_cache_refresh(epm_settings_cache *c) { return snapshot_cache_refresh(c); }
static inline epm_settings *epm_settings_acquire(epm_settings_cache *c)
{
    return (epm_settings *)snapshot_cache_acquire(c);
}
static inline void epm_settings_release(epm_settings_cache *c, epm_settings *s)
{
    snapshot_cache_release(c, s ? &s->hdr : NULL);
}

#endif
