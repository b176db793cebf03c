/* A bounded, thread-safe memory of recently checked credentials, so that a
 * client sending the same Basic credentials thousands of times a second
 * costs one Argon2id verification per TTL instead of one per request.
 *
 * Keys are 32-byte keyed hashes of the credentials (auth.c makes them with
 * a per-process random key), so the cache never holds a password or token.
 * Entries carry the generation they were checked under; auth.c moves the
 * generation whenever accounts or tokens change, which retires every entry
 * at once.
 *
 * Fixed size, 4-way set-associative, least recently used out. A failure is
 * stored only in a free slot or over another failure: a flood of wrong
 * credentials can never push verified ones out. */
#ifndef TB_FLOW_AUTH_CACHE_H
#define TB_FLOW_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/credential.h"
#include "core/err.h"
#include "core/roles.h"

#define AUTH_KEY_BYTES 32

typedef struct auth_cache_entry {
    bool ok;                        /* false: remembered failure */
    int failure;                    /* auth.c's auth_result for a failure */
    int64_t account_id;
    int64_t token_id;               /* 0 for a password */
    char username[CREDENTIAL_USERNAME_MAX + 1];
    char roles[ROLES_CSV_MAX];
    uint64_t generation;
    int64_t expires_ms;             /* monotonic */
    int64_t touched_ms;             /* token: when its last use was last queued for storing */
} auth_cache_entry;

typedef enum {
    AUTH_CACHE_MISS,
    AUTH_CACHE_HIT,                 /* fresh: out holds the entry */
    AUTH_CACHE_STALE,               /* expired or older generation: out says what it was */
} auth_cache_result;

typedef struct auth_cache auth_cache;

/* entries is rounded up to a multiple of 4 (at least 4). */
tb_err auth_cache_new(size_t entries, auth_cache **out);
void auth_cache_free(auth_cache *c);
auth_cache_result auth_cache_get(auth_cache *c, const unsigned char key[AUTH_KEY_BYTES], int64_t now_ms,
                                 uint64_t generation, auth_cache_entry *out);
void auth_cache_put(auth_cache *c, const unsigned char key[AUTH_KEY_BYTES], const auth_cache_entry *e,
                    int64_t now_ms);
/* For a fresh entry whose touched_ms is interval_ms old or more: sets it to
 * now and returns true (the caller then stores the token's last use). */
bool auth_cache_touch_due(auth_cache *c, const unsigned char key[AUTH_KEY_BYTES], int64_t now_ms,
                          int64_t interval_ms);

#endif
