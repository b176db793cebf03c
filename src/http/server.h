/* HTTP server over libmicrohttpd (h2o-style: a table of small handlers).
 *
 * The server owns routing, method checks (405), body size caps (413), JSON
 * error bodies, one log line per request and per-route metrics. A handler is
 * called once with the complete body and either replies at once or suspends
 * the connection and replies later from another thread (tb_http_reply then
 * tb_http_resume): the intake uses this to answer only after its group commit.
 *
 * Ownership: tb_http_req is owned by the server and lives until the request
 * completes; a suspended request stays valid until resumed. */
#ifndef TB_HTTP_SERVER_H
#define TB_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/err.h"

typedef struct tb_http_server tb_http_server;
typedef struct tb_http_req tb_http_req;

enum {
    TB_M_GET = 1,
    TB_M_POST = 2,
    TB_M_PUT = 4,
    TB_M_PATCH = 8,
    TB_M_DELETE = 16,
    TB_M_HEAD = 32,
};

typedef struct tb_route {
    const char *path;           /* exact match; a path ending in a slash and an asterisk
                                   matches every path that starts with it up to the slash
                                   (exact routes first, then the longest such prefix) */
    unsigned methods;           /* TB_M_* mask */
    size_t body_max;            /* bytes; larger bodies get 413 */
    void (*handle)(tb_http_req *req);
    const char *name;           /* metrics label */
    bool latency_histogram;     /* observe into the intake latency histogram */
    bool sees_refusals;         /* handler is also called for 405/413 (to record them) */
    void *ctx;                  /* the handler's own context (tb_http_route_ctx) */
} tb_route;

typedef struct tb_http_options {
    const char *listen_address;
    int port;                   /* 0 = ephemeral */
    int threads;
    int max_connections;
    int connection_timeout;
    const char *tls_cert_pem;   /* NULL = plain HTTP */
    const char *tls_key_pem;
    const tb_route *routes;     /* terminated by {0} */
    void *app;                  /* handed to handlers via tb_http_app */
    /* Called when the /metrics route renders, to append app metrics. */
    void (*metrics_extra)(void *app, tb_buf *out);
} tb_http_options;

tb_err tb_http_start(const tb_http_options *opt, tb_http_server **out);
int tb_http_port(tb_http_server *srv);
/* Stop accepting new connections; in-flight requests continue. */
void tb_http_quiesce(tb_http_server *srv);
/* From now on tb_http_try_suspend refuses; waits (at most timeout_ms) until
 * no connection is suspended, since libmicrohttpd must not be stopped with
 * suspended connections. Returns false on timeout. */
bool tb_http_drain(tb_http_server *srv, int timeout_ms);
/* Requests that have started but not completed. */
uint64_t tb_http_inflight(tb_http_server *srv);
void tb_http_stop(tb_http_server *srv);
/* Prometheus text for the server's own metrics (requests, latency). */
void tb_http_metrics(tb_http_server *srv, tb_buf *out);

/* ---- for handlers ---- */
void *tb_http_app(tb_http_req *req);
const char *tb_http_req_method(tb_http_req *req);
const char *tb_http_path(tb_http_req *req);
const char *tb_http_route_name(tb_http_req *req);
void *tb_http_route_ctx(tb_http_req *req);
const char *tb_http_query(tb_http_req *req, const char *name);    /* NULL if absent */
const char *tb_http_header(tb_http_req *req, const char *name);   /* NULL if absent */
const struct sockaddr *tb_http_peer(tb_http_req *req);
const char *tb_http_peer_str(tb_http_req *req);
const char *tb_http_body(tb_http_req *req, size_t *len);         /* NUL-terminated */
/* Non-zero (405 or 413) when the server refused the request: the handler of a
 * route with sees_refusals is still called, so it can record the refusal, and
 * must reply without suspending. */
int tb_http_refusal(tb_http_req *req);
bool tb_http_body_too_large(tb_http_req *req);
size_t tb_http_body_max(tb_http_req *req);
int64_t tb_http_start_ns(tb_http_req *req);
/* Iterates query arguments (for logging / forwarding). */
void tb_http_query_each(tb_http_req *req, void (*fn)(void *ctx, const char *k, const char *v), void *ctx);

/* Sets the response. body is copied. May be called from any thread while the
 * request is suspended; call tb_http_resume afterwards. */
void tb_http_reply(tb_http_req *req, int status, const char *content_type, const char *body, size_t len);
/* {"error":{"message":...,"detail":...},"status":"failure"} */
void tb_http_reply_error(tb_http_req *req, int status, const char *message, const char *detail);
void tb_http_reply_json(tb_http_req *req, int status, const char *json);
/* Adds a response header (both strings copied) to whatever reply is sent,
 * before or after tb_http_reply. TB_ERR_INVALID for CR, LF or an empty
 * name; TB_ERR_TOO_LARGE past TB_HTTP_MAX_HEADERS. Same threading rule as
 * tb_http_reply. */
#define TB_HTTP_MAX_HEADERS 8
tb_err tb_http_reply_header(tb_http_req *req, const char *name, const char *value);
/* Suspends the connection until tb_http_resume; false (nothing suspended)
 * once the server is draining: reply at once instead. */
bool tb_http_try_suspend(tb_http_req *req);
void tb_http_resume(tb_http_req *req);

/* Per-request handler data freed when the request completes. */
void tb_http_set_data(tb_http_req *req, void *data, void (*free_fn)(void *));
void *tb_http_data(tb_http_req *req);

int64_t tb_mono_ns(void);

#endif
