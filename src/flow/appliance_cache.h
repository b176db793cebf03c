/* An in-memory, read-mostly view of the appliance records for the request
 * path: tokens already decrypted, accepted-IP lists already parsed.
 *
 * Concurrency: readers take a reference to the current immutable snapshot
 * (appliance_cache_acquire) and release it when done; a reload builds a new
 * snapshot and swaps the pointer, so readers never wait on the database. The
 * cache reloads when the database's data_version says another connection
 * (the CLI, typically) committed. */
#ifndef TB_FLOW_APPLIANCE_CACHE_H
#define TB_FLOW_APPLIANCE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/ipacl.h"
#include "core/secret.h"
#include "bt/ticket_system.h"
#include "flow/snapshot_cache.h"
#include "store/store_approval.h"

typedef struct appliance_entry {
    int64_t id;
    char *name;
    char *product;
    char *host;             /* hostname without scheme, port or path, lower-case */
    char *guid;
    char *outbound_token;   /* plaintext, wiped on free; NULL when not set */
    bool enabled;
    tb_ipacl accepted;      /* n == 0: any source */
    /* for the importer */
    char *hostname;         /* as configured: host, host:port or URL */
    char *client_id;
    char *client_secret;    /* plaintext, wiped on free; NULL when not set */
    char *events_to_import; /* comma-separated; "" = all */
    bool import_external_sessions;
    bool auto_associate_user;
    bool auto_associate_ci;
    int64_t poll_interval;  /* reconciler, seconds; 0 = off */
    /* change-management approval */
    bool override_change_management;
    char *approval_record_type;     /* "" = any task table */
    int64_t approval_timeout_ms;
    tb_override_rule *rules;        /* Change Management Overrides, in order */
    size_t nrules;
} appliance_entry;

typedef struct appliance_snapshot {
    snapshot_hdr hdr;       /* first: the cache's reference count */
    size_t n;
    appliance_entry *v;
    /* Global ticket-system settings that change with the records. */
    ts_field_map ts_map;            /* request field names */
    tb_active_states *states;       /* administrator's active states per table */
    size_t nstates;
} appliance_snapshot;

typedef snapshot_cache appliance_cache;

/* Keeps a copy of key (wiped at close) to decrypt reloaded records. */
tb_err appliance_cache_open(const char *db_path, const tb_secret_key *key, appliance_cache **out);
static inline void appliance_cache_close(appliance_cache *c) { snapshot_cache_close(c); }
/* Reloads if the database changed since the last load. Thread-safe. */
static inline tb_err appliance_cache_refresh(appliance_cache *c) { return snapshot_cache_refresh(c); }
static inline appliance_snapshot *appliance_cache_acquire(appliance_cache *c)
{
    return (appliance_snapshot *)snapshot_cache_acquire(c);
}
static inline void appliance_cache_release(appliance_cache *c, appliance_snapshot *s)
{
    snapshot_cache_release(c, s ? &s->hdr : NULL);
}

const appliance_entry *appliance_find_name(const appliance_snapshot *s, const char *name);
const appliance_entry *appliance_find_row(const appliance_snapshot *s, int64_t id);
/* Whether the appliance's Events to Import list keeps this event type. */
bool appliance_imports_event(const appliance_entry *a, const char *event_type);
/* By the appliance_id an event carries: guid first, then host name. */
const appliance_entry *appliance_find_id(const appliance_snapshot *s, const char *appliance_id);

/* Lower-case host of "scheme://host:port/path", "host:port" or "[v6]:port". */
void appliance_host_of(const char *hostname, char *out, size_t outsz);

#endif
