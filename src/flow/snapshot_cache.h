/* A value built from the database that many threads read and that changes
 * rarely (the appliance records, the EPM configuration): an immutable
 * snapshot, rebuilt when the database's data_version moves, and
 * reference-counted so that readers never wait on a reload nor see one
 * half-done. A snapshot type starts with a snapshot_hdr; the typed caches
 * (appliance_cache.h, epm_settings.h) wrap this one. */
#ifndef TB_FLOW_SNAPSHOT_CACHE_H
#define TB_FLOW_SNAPSHOT_CACHE_H

#include "core/err.h"
#include "core/secret.h"
#include "store/store.h"

typedef struct snapshot_hdr {
    int refs;                       /* guarded by the cache's mutex */
} snapshot_hdr;

/* Builds a new snapshot from st (the cache's own connection); ctx is the
 * one given at open. */
typedef tb_err (*snapshot_build_fn)(tb_store *st, void *ctx, snapshot_hdr **out);
typedef void (*snapshot_free_fn)(snapshot_hdr *s);

typedef struct snapshot_cache snapshot_cache;

/* Opens its own connection to db_path and builds the first snapshot. The
 * cache owns ctx from this call on, and releases it with ctx_free (may be
 * NULL) at close, or at once when opening fails. */
tb_err snapshot_cache_open(const char *db_path, snapshot_build_fn build, snapshot_free_fn free_fn, void *ctx,
                           void (*ctx_free)(void *), snapshot_cache **out);
/* The same with ctx = a copy of key (wiped at close), for snapshots that
 * decrypt the records' secrets. */
tb_err snapshot_cache_open_keyed(const char *db_path, snapshot_build_fn build, snapshot_free_fn free_fn,
                                 const tb_secret_key *key, snapshot_cache **out);
void snapshot_cache_close(snapshot_cache *c);
/* Rebuilds if the database changed since the last build (a failed build
 * keeps the old snapshot). Thread-safe. */
tb_err snapshot_cache_refresh(snapshot_cache *c);
/* The current snapshot with a reference (NULL when none was ever built);
 * give it back with snapshot_cache_release. */
snapshot_hdr *snapshot_cache_acquire(snapshot_cache *c);
void snapshot_cache_release(snapshot_cache *c, snapshot_hdr *s);

#endif
