/* The running daemon: writer, appliance cache, HTTP server and the
 * operational endpoints (/healthz, /readyz, /metrics), started and stopped
 * as one unit. cli_serve owns signals; this owns everything else. */
#ifndef TB_FLOW_GATEWAY_H
#define TB_FLOW_GATEWAY_H

#include "core/config.h"
#include "core/err.h"
#include "flow/auth.h"

typedef struct tb_gateway tb_gateway;

/* err receives a readable reason on failure. */
tb_err gateway_start(const tb_config *cfg, tb_gateway **out, char *err, size_t errsz);
int gateway_port(tb_gateway *g);
/* Periodic housekeeping (appliance reload, log flush); call about once a second. */
void gateway_tick(tb_gateway *g);
/* Graceful stop: no new connections, wait for in-flight requests (bounded),
 * commit what is queued, close. */
void gateway_stop(tb_gateway *g);
/* For handlers: the daemon's one authenticator, from tb_http_app(req). */
auth *gateway_auth(void *app);

#endif
