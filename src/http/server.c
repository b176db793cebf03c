#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ipacl.h"
#include "core/log.h"

/* Chunked uploads cannot be refused mid-body with a response (MHD only
 * queues responses before or after the upload), so an oversized chunked body
 * is read and discarded up to this multiple of the route's cap, and the
 * connection is closed beyond it. Bodies announced with Content-Length get a
 * clean 413 before any byte is read. */
#define DISCARD_FACTOR 16
#define MAX_ROUTES 64

static const int status_codes[] = {200, 201, 204, 400, 401, 403, 404, 405, 413, 415, 429, 500, 503};
#define NSTATUS (sizeof status_codes / sizeof *status_codes)
#define STATUS_OTHER NSTATUS

/* Latency buckets, milliseconds (Prometheus le= bounds). */
static const double lat_bounds_ms[] = {0.5, 1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 5000};
#define NLAT (sizeof lat_bounds_ms / sizeof *lat_bounds_ms)

struct route_stats {
    atomic_uint_fast64_t by_status[NSTATUS + 1];
};

struct tb_http_server {
    struct MHD_Daemon *d;
    tb_http_options opt;
    size_t nroutes;
    size_t prefix_len[MAX_ROUTES];  /* 0: exact route; else bytes of "/prefix/" */
    bool has_prefix_routes;
    struct route_stats stats[MAX_ROUTES + 1];   /* +1: unmatched */
    atomic_uint_fast64_t lat_buckets[NLAT + 1];
    atomic_uint_fast64_t lat_count;
    atomic_uint_fast64_t lat_sum_us;
    atomic_uint_fast64_t inflight;
    atomic_int suspended;           /* connections suspended, not yet resumed and replied */
    atomic_bool draining;
    int port;
};

struct tb_http_req {
    tb_http_server *srv;
    struct MHD_Connection *conn;
    const tb_route *route;
    int route_idx;
    const char *method;
    const char *url;
    int64_t start_ns;
    tb_buf body;
    size_t discarded;
    bool too_large;
    bool handled;
    bool suspended;
    int status;                 /* 0 = no reply yet */
    char *resp;
    size_t resp_len;
    const char *resp_ctype;
    int allow_methods;          /* for 405 */
    int refusal;                /* 405 / 413 decided by the server */
    size_t nheaders;
    struct { char *name, *value; } headers[TB_HTTP_MAX_HEADERS];
    void *data;
    void (*data_free)(void *);
    char peer[64];
};

int64_t tb_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static unsigned method_bit(const char *m)
{
    if (!strcmp(m, "GET"))
        return TB_M_GET;
    if (!strcmp(m, "POST"))
        return TB_M_POST;
    if (!strcmp(m, "PUT"))
        return TB_M_PUT;
    if (!strcmp(m, "PATCH"))
        return TB_M_PATCH;
    if (!strcmp(m, "DELETE"))
        return TB_M_DELETE;
    if (!strcmp(m, "HEAD"))
        return TB_M_HEAD;
    return 0;
}

static void allow_header(unsigned mask, char *out, size_t outsz)
{
    static const struct { unsigned bit; const char *name; } m[] = {
        {TB_M_GET, "GET"}, {TB_M_HEAD, "HEAD"}, {TB_M_POST, "POST"},
        {TB_M_PUT, "PUT"}, {TB_M_PATCH, "PATCH"}, {TB_M_DELETE, "DELETE"}};
    out[0] = '\0';
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        if (mask & m[i].bit) {
            if (out[0])
                strncat(out, ", ", outsz - strlen(out) - 1);
            strncat(out, m[i].name, outsz - strlen(out) - 1);
        }
}

static void json_escape(tb_buf *b, const char *s)
{
    tb_buf_appends(b, "\"");
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': tb_buf_appends(b, "\\\""); break;
        case '\\': tb_buf_appends(b, "\\\\"); break;
        case '\n': tb_buf_appends(b, "\\n"); break;
        case '\r': tb_buf_appends(b, "\\r"); break;
        case '\t': tb_buf_appends(b, "\\t"); break;
        default:
            if (*p < 0x20)
                tb_buf_printf(b, "\\u%04x", *p);
            else
                tb_buf_append(b, p, 1);
        }
    }
    tb_buf_appends(b, "\"");
}

void tb_http_reply(tb_http_req *req, int status, const char *content_type, const char *body, size_t len)
{
    free(req->resp);
    req->resp = malloc(len ? len : 1);
    if (req->resp && len)
        memcpy(req->resp, body, len);
    req->resp_len = req->resp ? len : 0;
    req->resp_ctype = content_type;
    req->status = status;
}

tb_err tb_http_reply_header(tb_http_req *req, const char *name, const char *value)
{
    if (!*name || strpbrk(name, "\r\n: ") || strpbrk(value, "\r\n"))
        return TB_ERR_INVALID;
    if (req->nheaders == TB_HTTP_MAX_HEADERS)
        return TB_ERR_TOO_LARGE;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return TB_ERR_NOMEM;
    }
    req->headers[req->nheaders].name = n;
    req->headers[req->nheaders].value = v;
    req->nheaders++;
    return TB_OK;
}

void tb_http_reply_json(tb_http_req *req, int status, const char *json)
{
    tb_http_reply(req, status, "application/json", json, strlen(json));
}

void tb_http_reply_error(tb_http_req *req, int status, const char *message, const char *detail)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "{\"error\":{\"message\":");
    json_escape(&b, message);
    tb_buf_appends(&b, ",\"detail\":");
    json_escape(&b, detail);
    tb_buf_appends(&b, "},\"status\":\"failure\"}");
    if (b.data)
        tb_http_reply(req, status, "application/json", b.data, b.len);
    else
        tb_http_reply_json(req, status, "{\"error\":{\"message\":\"out of memory\",\"detail\":\"\"},\"status\":\"failure\"}");
    tb_buf_free(&b);
}

bool tb_http_try_suspend(tb_http_req *req)
{
    /* Count first, then look at the flag (both seq_cst): either the drain
     * sees our count and waits, or we see its flag and back off. */
    atomic_fetch_add(&req->srv->suspended, 1);
    if (atomic_load(&req->srv->draining)) {
        atomic_fetch_sub(&req->srv->suspended, 1);
        return false;
    }
    req->suspended = true;
    MHD_suspend_connection(req->conn);
    return true;
}

bool tb_http_drain(tb_http_server *srv, int timeout_ms)
{
    atomic_store(&srv->draining, true);
    for (int waited = 0; atomic_load(&srv->suspended) > 0; waited++) {
        if (waited >= timeout_ms)
            return false;
        usleep(1000);
    }
    /* A resumed connection is back in its worker's lists once that worker
     * has run the access handler again, which is where the count dropped. */
    return true;
}

void tb_http_resume(tb_http_req *req)
{
    MHD_resume_connection(req->conn);
}

void *tb_http_app(tb_http_req *req) { return req->srv->opt.app; }
const char *tb_http_req_method(tb_http_req *req) { return req->method; }
const char *tb_http_path(tb_http_req *req) { return req->url; }
const char *tb_http_route_name(tb_http_req *req) { return req->route ? req->route->name : "unmatched"; }
void *tb_http_route_ctx(tb_http_req *req) { return req->route ? req->route->ctx : NULL; }
int64_t tb_http_start_ns(tb_http_req *req) { return req->start_ns; }
bool tb_http_body_too_large(tb_http_req *req) { return req->too_large; }
int tb_http_refusal(tb_http_req *req) { return req->refusal; }

/* Lets a route that records refusals see one, then makes sure it is answered. */
static void refuse(tb_http_req *req, int status, const char *message, const char *detail)
{
    req->refusal = status;
    req->handled = true;
    if (req->route->sees_refusals)
        req->route->handle(req);
    if (!req->status || req->status != status)
        tb_http_reply_error(req, status, message, detail);
}
size_t tb_http_body_max(tb_http_req *req) { return req->route ? req->route->body_max : 0; }
const char *tb_http_peer_str(tb_http_req *req) { return req->peer; }
void *tb_http_data(tb_http_req *req) { return req->data; }

void tb_http_set_data(tb_http_req *req, void *data, void (*free_fn)(void *))
{
    req->data = data;
    req->data_free = free_fn;
}

const char *tb_http_query(tb_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *tb_http_header(tb_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const struct sockaddr *tb_http_peer(tb_http_req *req)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return ci ? ci->client_addr : NULL;
}

const char *tb_http_body(tb_http_req *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

struct query_iter {
    void (*fn)(void *, const char *, const char *);
    void *ctx;
};

static enum MHD_Result query_cb(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    (void)kind;
    struct query_iter *it = cls;
    it->fn(it->ctx, k, v ? v : "");
    return MHD_YES;
}

void tb_http_query_each(tb_http_req *req, void (*fn)(void *ctx, const char *k, const char *v), void *ctx)
{
    struct query_iter it = {fn, ctx};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_cb, &it);
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < NSTATUS; i++)
        if (status_codes[i] == status)
            return i;
    return STATUS_OTHER;
}

static enum MHD_Result send_reply(tb_http_req *req)
{
    if (!req->resp) {
        /* allocation of the response body failed: still answer */
        req->status = 500;
        req->resp_ctype = "application/json";
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"detail\":\"\"},\"status\":\"failure\"}";
        req->resp = strdup(oom);
        req->resp_len = req->resp ? strlen(oom) : 0;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(req->resp_len, req->resp ? req->resp : (char *)"",
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (req->resp_ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, req->resp_ctype);
    if (req->status == 405) {
        char allow[64];
        allow_header((unsigned)req->allow_methods, allow, sizeof allow);
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    }
    for (size_t i = 0; i < req->nheaders; i++)
        MHD_add_response_header(r, req->headers[i].name, req->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)req->status, r);
    MHD_destroy_response(r);
    return ret;
}

static const tb_route *find_route(tb_http_server *srv, const char *url, int *idx)
{
    for (size_t i = 0; i < srv->nroutes; i++)
        if (!srv->prefix_len[i] && !strcmp(srv->opt.routes[i].path, url)) {
            *idx = (int)i;
            return &srv->opt.routes[i];
        }
    size_t best = 0;
    *idx = MAX_ROUTES;
    if (!srv->has_prefix_routes)
        return NULL;
    for (size_t i = 0; i < srv->nroutes; i++) {
        size_t n = srv->prefix_len[i];
        if (n > best && !strncmp(srv->opt.routes[i].path, url, n)) {
            best = n;
            *idx = (int)i;
        }
    }
    return best ? &srv->opt.routes[*idx] : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    tb_http_server *srv = cls;
    tb_http_req *req = *con_cls;

    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        atomic_fetch_add(&srv->inflight, 1);
        req->srv = srv;
        req->conn = conn;
        req->method = method;
        req->url = url;
        req->start_ns = tb_mono_ns();
        tb_sockaddr_str(tb_http_peer(req), req->peer, sizeof req->peer);
        req->route = find_route(srv, url, &req->route_idx);
        if (!req->route) {
            tb_http_reply_error(req, 404, "No such endpoint", url);
            return send_reply(req);
        }
        unsigned bit = method_bit(method);
        if (!(bit & req->route->methods)) {
            req->allow_methods = (int)req->route->methods;
            refuse(req, 405, "Method not allowed", method);
            return send_reply(req);
        }
        tb_buf_init(&req->body, req->route->body_max);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (end != cl && *end == '\0' && n > req->route->body_max) {
                req->too_large = true;
                refuse(req, 413, "Request body too large", "");
                return send_reply(req);
            }
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!req->too_large) {
            tb_err e = tb_buf_append(&req->body, upload_data, n);
            if (e == TB_ERR_TOO_LARGE)
                req->too_large = true;
            else if (e)
                return MHD_NO;
        }
        if (req->too_large) {
            req->discarded += n;
            if (req->discarded > req->route->body_max * DISCARD_FACTOR) {
                TB_LOGW("oversized upload aborted", "route=%s peer=%s bytes=%zu", req->route->name,
                        req->peer, req->discarded);
                return MHD_NO;
            }
        }
        return MHD_YES;
    }

    if (req->status && !req->suspended)
        return send_reply(req);         /* reply already queued? (defensive) */
    if (req->suspended) {
        /* resumed: the reply was set by another thread */
        req->suspended = false;
        atomic_fetch_sub(&srv->suspended, 1);
        if (!req->status)
            tb_http_reply_error(req, 500, "Internal error", "request resumed without a reply");
        return send_reply(req);
    }
    if (!req->handled) {
        if (req->too_large) {
            refuse(req, 413, "Request body too large", "");
            return send_reply(req);
        }
        req->handled = true;
        req->route->handle(req);
        if (req->suspended)
            return MHD_YES;
        if (!req->status)
            tb_http_reply_error(req, 500, "Internal error", "handler produced no reply");
        return send_reply(req);
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    tb_http_server *srv = cls;
    tb_http_req *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    int64_t dur_ns = tb_mono_ns() - req->start_ns;
    int status = req->status ? req->status : 0;
    struct route_stats *rs = &srv->stats[req->route ? req->route_idx : MAX_ROUTES];
    atomic_fetch_add(&rs->by_status[status_slot(status)], 1);
    if (req->route && req->route->latency_histogram && status) {
        double ms = (double)dur_ns / 1e6;
        size_t b = 0;
        while (b < NLAT && ms > lat_bounds_ms[b])
            b++;
        atomic_fetch_add(&srv->lat_buckets[b], 1);
        atomic_fetch_add(&srv->lat_count, 1);
        atomic_fetch_add(&srv->lat_sum_us, (uint_fast64_t)(dur_ns / 1000));
    }
    if (tb_log_enabled(TB_LOG_INFO)) {
        char qpath[256];
        TB_LOGI("request", "method=%s path=%s route=%s status=%d peer=%s bytes_in=%zu dur_us=%lld%s",
                req->method, tb_log_quote(qpath, sizeof qpath, req->url),
                req->route ? req->route->name : "unmatched", status, req->peer,
                req->body.len + req->discarded, (long long)(dur_ns / 1000),
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    }
    if (req->data_free)
        req->data_free(req->data);
    tb_buf_free(&req->body);
    free(req->resp);
    for (size_t i = 0; i < req->nheaders; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    free(req);
    atomic_fetch_sub(&srv->inflight, 1);
}

tb_err tb_http_start(const tb_http_options *opt, tb_http_server **out)
{
    tb_http_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return TB_ERR_NOMEM;
    srv->opt = *opt;
    while (opt->routes[srv->nroutes].path)
        srv->nroutes++;
    if (srv->nroutes > MAX_ROUTES) {
        free(srv);
        return TB_ERR_CONFIG;
    }
    for (size_t i = 0; i < srv->nroutes; i++) {
        size_t n = strlen(opt->routes[i].path);
        if (n >= 3 && !strcmp(opt->routes[i].path + n - 2, "/*")) {
            srv->prefix_len[i] = n - 1;     /* keeps the slash */
            srv->has_prefix_routes = true;
        }
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, opt->listen_address, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)opt->port);
    } else if (inet_pton(AF_INET6, opt->listen_address, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)opt->port);
        flags |= MHD_USE_IPv6;
    } else {
        free(srv);
        return TB_ERR_CONFIG;
    }
    if (opt->tls_cert_pem)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls_opts[] = {
        {opt->tls_cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)opt->tls_cert_pem},
        {opt->tls_cert_pem ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *)opt->tls_key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    srv->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(opt->threads > 0 ? opt->threads : 1),
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)opt->max_connections,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opt->connection_timeout,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                              MHD_OPTION_ARRAY, tls_opts,
                              MHD_OPTION_END);
    if (!srv->d) {
        free(srv);
        return TB_ERR_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : opt->port;
    *out = srv;
    return TB_OK;
}

int tb_http_port(tb_http_server *srv) { return srv->port; }

void tb_http_quiesce(tb_http_server *srv)
{
    MHD_socket s = MHD_quiesce_daemon(srv->d);
    if (s != MHD_INVALID_SOCKET)
        close(s);
}

uint64_t tb_http_inflight(tb_http_server *srv)
{
    return atomic_load(&srv->inflight);
}

void tb_http_stop(tb_http_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->d);
    free(srv);
}

void tb_http_metrics(tb_http_server *srv, tb_buf *out)
{
    tb_buf_appends(out, "# HELP tb_http_requests_total HTTP requests by route and status.\n"
                        "# TYPE tb_http_requests_total counter\n");
    for (size_t r = 0; r <= srv->nroutes; r++) {
        size_t idx = r < srv->nroutes ? r : MAX_ROUTES;
        const char *name = r < srv->nroutes ? srv->opt.routes[r].name : "unmatched";
        for (size_t s = 0; s <= NSTATUS; s++) {
            uint64_t v = atomic_load(&srv->stats[idx].by_status[s]);
            if (!v)
                continue;
            if (s < NSTATUS)
                tb_buf_printf(out, "tb_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", name,
                              status_codes[s], (unsigned long long)v);
            else
                tb_buf_printf(out, "tb_http_requests_total{route=\"%s\",status=\"other\"} %llu\n", name,
                              (unsigned long long)v);
        }
    }
    tb_buf_appends(out, "# HELP tb_intake_latency_seconds Time from request start to reply for outbound-event intake.\n"
                        "# TYPE tb_intake_latency_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t b = 0; b < NLAT; b++) {
        cum += atomic_load(&srv->lat_buckets[b]);
        tb_buf_printf(out, "tb_intake_latency_seconds_bucket{le=\"%g\"} %llu\n", lat_bounds_ms[b] / 1000.0,
                      (unsigned long long)cum);
    }
    cum += atomic_load(&srv->lat_buckets[NLAT]);
    tb_buf_printf(out, "tb_intake_latency_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    tb_buf_printf(out, "tb_intake_latency_seconds_sum %.6f\n", (double)atomic_load(&srv->lat_sum_us) / 1e6);
    tb_buf_printf(out, "tb_intake_latency_seconds_count %llu\n", (unsigned long long)atomic_load(&srv->lat_count));
    tb_buf_printf(out, "# HELP tb_http_inflight Requests in progress.\n# TYPE tb_http_inflight gauge\n"
                       "tb_http_inflight %llu\n", (unsigned long long)atomic_load(&srv->inflight));
    if (srv->opt.metrics_extra)
        srv->opt.metrics_extra(srv->opt.app, out);
}
