/* BeyondTrust appliance API calls (protocol notes §2, §3): /api/command and
 * /api/reporting, form-encoded POSTs carrying a Bearer token from the OAuth
 * cache, one connection per call ("close the connection after each API call").
 *
 * Common behaviour of bt_api_report and bt_api_command:
 *   - 401 → the token is invalidated and the call retried exactly once with a
 *     fresh token; a second 401 → TB_ERR_DENIED with BT_OAUTH_DENIED_MSG.
 *   - 403 → TB_ERR_DENIED ("check the API account's permissions").
 *   - 429, and 503 with a Retry-After header → TB_ERR_BUSY, res->retry_after
 *     holds the seconds asked for (-1 if not given). 503 without Retry-After
 *     is an ordinary failure: TB_ERR_HTTP.
 *   - any other status but 200 → TB_ERR_HTTP, "HTTP <status> from <host> ...".
 *   - transport errors as tb_http_perform (TB_ERR_TIMEOUT, TB_ERR_HTTP...).
 *   - OAuth failures as bt_oauth_get.
 * res->err always holds a readable message when the return is not TB_OK.
 *
 * Threads: tokens is shared (thread-safe); http must be the calling thread's
 * own client (see http/client.h). */
#ifndef TB_BT_API_H
#define TB_BT_API_H

#include <stdbool.h>
#include <stddef.h>

#include "bt/oauth.h"
#include "core/buf.h"
#include "core/err.h"
#include "http/client.h"

#define BT_API_COMMAND_MAX (1024 * 1024)   /* default cap on a command answer */
#define BT_API_REPORT_TIMEOUT_MS 300000L   /* default total time of a report call */
#define BT_API_URL_MAX 512

typedef struct bt_param {
    const char *name;
    const char *value;      /* plain text; encoded by the call */
} bt_param;

typedef struct bt_api_result {
    long status;            /* HTTP status of the last attempt; 0 = no answer */
    long retry_after;       /* seconds, with TB_ERR_BUSY; -1 = not given */
    bool appliance_error;   /* command answer's root element was <error> */
    char err[TB_HTTP_ERRMSG];
} bt_api_result;

/* Base URL from an appliance record's hostname: "host", "host:port",
 * "[v6]:port", "http://127.0.0.1:9443" or "https://host/" → "scheme://host[:port]"
 * (no scheme means https; scheme lower-cased; trailing '/' removed).
 * TB_ERR_INVALID for an empty value, another scheme, user info, a path,
 * query or fragment, whitespace or a bad port; TB_ERR_TOO_LARGE if out is short. */
tb_err bt_api_base_url(const char *hostname, char *out, size_t outsz);

/* POST /api/reporting generate_report=<report>&<params...> and streams the
 * body of a 200 answer to on_chunk as it arrives (nothing buffered here). An
 * error page never reaches on_chunk; the appliance's "nothing matched"
 * answer (200 with <error>) does, for the caller's parser to recognise.
 * If the call fails after chunks were delivered (timeout, dropped
 * connection, callback error), the caller discards what it parsed.
 * Total time: conn->report_timeout_ms (0 = BT_API_REPORT_TIMEOUT_MS). */
tb_err bt_api_report(bt_oauth_cache *tokens, tb_http_client *http, const bt_conn *conn,
                     const char *report, const bt_param *params, size_t nparams,
                     tb_http_chunk_fn on_chunk, void *ctx, bt_api_result *res);

/* POST /api/command action=<action>&<params...>. out is initialised here
 * with the cap conn->command_max (0 = BT_API_COMMAND_MAX) and receives the
 * body of a 200 answer; the caller always tb_buf_free()s it. Over the cap →
 * TB_ERR_TOO_LARGE. When the answer's root element is <error> (§2.6: errors
 * come with HTTP 200), returns TB_ERR_INVALID with res->appliance_error set,
 * res->err = "appliance error: <text>", and the body left in out. */
tb_err bt_api_command(bt_oauth_cache *tokens, tb_http_client *http, const bt_conn *conn,
                      const char *action, const bt_param *params, size_t nparams,
                      tb_buf *out, bt_api_result *res);

#endif
