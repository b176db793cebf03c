/* Who is calling: authentication of ticketbridge's own users on every
 * /api/tb/v1 route (and later the EPM webhook and the Table API).
 *
 *   Authorization: Basic base64(user:password)   Argon2id hash of the user
 *   Authorization: Bearer tbk_...                  API token (not revoked, not
 *                                                  expired, user not disabled)
 *
 * Argon2id takes tens of milliseconds on purpose, so verified credentials are
 * remembered (auth_cache.h) for ttl_ms under a keyed hash. Any change to
 * accounts or tokens (password, roles, disable, revoke; by the CLI or any
 * other writer) moves tb_meta.auth_version through triggers; a background
 * thread reads it every check_interval_ms and, when it moved, retires every
 * remembered credential at once. The same thread stores tokens' last use
 * (at most once per touch_interval_ms per token), so request threads never
 * write to the database.
 *
 * Wrong passwords: each distinct wrong (user, password) is remembered like
 * a success, so a client retrying stale credentials costs one verification
 * per TTL. Beyond that, a peer address or a user name that has had
 * peer_failures / user_failures failed verifications within
 * failure_window_ms gets 429 without a verification until the window ends;
 * credentials that verified before are exempt, so an attacker hammering the
 * webhook's user name does not lock the webhook out. Token checks cost one
 * hash and one indexed read and are not throttled.
 *
 * Thread-safe: one auth serves every HTTP thread. */
#ifndef TB_FLOW_AUTH_H
#define TB_FLOW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/credential.h"
#include "core/err.h"
#include "core/roles.h"
#include "http/server.h"

typedef struct auth auth;

typedef struct auth_principal {
    int64_t account_id;
    int64_t token_id;                           /* 0: authenticated with a password */
    char username[CREDENTIAL_USERNAME_MAX + 1];
    char roles[ROLES_CSV_MAX];                  /* normalized comma-separated list */
} auth_principal;

typedef struct auth_opts {
    int64_t ttl_ms;                 /* verified credentials trusted this long (60 s) */
    int64_t failure_ttl_ms;         /* a failed check remembered this long (60 s) */
    int64_t check_interval_ms;      /* how often changes are looked for (500 ms); 0 = only auth_refresh */
    int64_t touch_interval_ms;      /* a token's last use stored at most this often (60 s) */
    size_t cache_entries;           /* 4096 */
    int peer_failures;              /* failed verifications per window per peer (20) */
    int user_failures;              /* ... per user name (10) */
    int64_t failure_window_ms;      /* 60 s */
} auth_opts;

void auth_opts_default(auth_opts *o);

/* Opens its own database connections (a reader for the request path, one
 * for the background thread). */
tb_err auth_open(const char *db_path, auth **out);
tb_err auth_open_opts(const char *db_path, const auth_opts *o, auth **out);
void auth_close(auth *a);

typedef enum {
    AUTH_OK,
    AUTH_MISSING,           /* no Authorization header */
    AUTH_MALFORMED,         /* unknown scheme, bad base64, oversized, ... */
    AUTH_BAD_CREDENTIALS,   /* unknown user, wrong password, unknown/revoked/expired token */
    AUTH_DISABLED,          /* right credentials of a disabled user */
    AUTH_THROTTLED,         /* too many failures from this peer or for this user name */
    AUTH_ERROR,             /* the database could not be read */
} auth_result;

/* Checks an Authorization header value (NULL = absent) from peer (for logs
 * and throttling). On AUTH_OK fills who; on AUTH_THROTTLED *retry_ms (may
 * be NULL) says when to try again. Failures are logged, without secrets. */
auth_result auth_check(auth *a, const char *authorization, const char *peer, auth_principal *who,
                       int64_t *retry_ms);

/* For handlers: authenticates the request and checks role (NULL = any
 * authenticated user). On failure it replies itself (401 with
 * WWW-Authenticate, 403 "User lacks role X", 429, or 503) and returns
 * false; on success fills who (may be NULL) and returns true. */
bool auth_require(auth *a, tb_http_req *req, const char *role, auth_principal *who);
/* The 403 auth_require sends, for handlers that decide on roles themselves. */
void auth_reply_forbidden(tb_http_req *req, const auth_principal *who, const char *role);
bool auth_principal_has(const auth_principal *who, const char *role);

/* Looks for account/token changes and stores queued last uses now (the
 * background thread does this every check_interval_ms). */
void auth_refresh(auth *a);

typedef struct auth_stats {
    uint64_t verifications;     /* Argon2id verifications run */
    uint64_t cache_hits;
    uint64_t failures;          /* requests refused for their credentials */
    uint64_t throttled;
    uint64_t generation;        /* times the cache was retired, plus one */
} auth_stats;
void auth_get_stats(auth *a, auth_stats *out);
/* Prometheus text of the stats (for /metrics). */
void auth_metrics(auth *a, tb_buf *out);

#endif
