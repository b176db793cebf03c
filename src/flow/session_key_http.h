/* The session-key action of /api/tb/v1/tickets/{number}/ (tickets_api.h):
 *
 *   GET  .../session_key   may the caller generate a key for this ticket?
 *                          200 {"allowed":bool,"reasons":[{"code","message"}],...}
 *                          listing every unmet condition (read-only; for a UI
 *                          deciding whether to show the button)
 *   POST .../session_key   generates one: 200 with the short key, key URL,
 *                          mail subject and body and expiry, once the key is
 *                          remembered; a refusal names its reasons (404 no
 *                          ticket, 403 a missing role, the feature off or no
 *                          usable Default appliance, 409 the ticket's state);
 *                          an appliance failure answers 502 (504 on timeout,
 *                          503 when busy) with the administrator's hint, and
 *                          is remembered as a failed attempt
 *
 * POST runs the appliance call on a small pool (call_pool.h) while the
 * connection is suspended, then records the key through the writer and
 * answers after the commit. */
#ifndef TB_FLOW_SESSION_KEY_HTTP_H
#define TB_FLOW_SESSION_KEY_HTTP_H

#include <stddef.h>

#include "flow/auth.h"
#include "flow/import.h"
#include "http/server.h"
#include "store/writer.h"

#define SK_HTTP_THREADS 2
#define SK_HTTP_QUEUE_MAX 32

typedef struct session_key_http session_key_http;

typedef struct session_key_http_opts {
    import_ctx *import;             /* borrowed: per-thread handles and the token cache */
    tb_writer *writer;              /* borrowed */
    int threads;                    /* 0 = SK_HTTP_THREADS */
    size_t queue_max;               /* 0 = SK_HTTP_QUEUE_MAX */
} session_key_http_opts;

tb_err session_key_http_new(const session_key_http_opts *opt, session_key_http **out);
/* After the HTTP server has drained (no request waits on the pool) and
 * before the importer's context is freed. */
void session_key_http_free(session_key_http *h);

/* tickets_api_fn; ctx is the session_key_http. */
void session_key_http_handle(tb_http_req *req, const char *number, void *ctx, const auth_principal *who);

#endif
