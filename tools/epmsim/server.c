/* The listeners (libmicrohttpd, one thread per connection): the API listener
 * serves the EPM endpoints and the control API; the optional control listener
 * (--control-port) serves /_epmsim/ only and stays up while the API listener
 * is "down". Routing, method checks, faults, replies and the request log. */
#include "epmsim.h"
#include "sim_net.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct listener {
    struct MHD_Daemon *d;
    int fd;
    int port;
    bool control;
} listener;

static listener api = {.fd = -1, .port = -1}, ctl = {.fd = -1, .port = -1, .control = true};
/* A listener that went down: quiesced at once, stopped and closed shortly
 * after, so the reply to the request that took it down can still go out. */
static struct MHD_Daemon *retired;
static int retired_fd = -1;
static double retired_at;
static atomic_bool api_down;
/* Copied at start: POST /_epmsim/config replaces E.cfg's strings. */
static char listen_addr[128];
static bool up_failed_logged;

/* ---------------- replies ---------------- */
void reply_json(ep_reply *out, int status, json_t *j)
{
    out->status = status;
    out->ctype = "application/json; charset=utf-8";
    free(out->body);
    out->body = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
    json_decref(j);
}

void reply_ctl_error(ep_reply *out, int status, const char *message, const char *detail)
{
    reply_json(out, status, json_pack("{s:{s:s,s:s},s:s}", "error", "message", message,
                                      "detail", detail ? detail : "", "status", "failure"));
}

void reply_problem(ep_reply *out, int status, const char *title, const char *detail,
                   json_t *errors)
{
    char trace[64], a[33], b[17];
    ep_hex(a, 32, false);
    ep_hex(b, 16, false);
    snprintf(trace, sizeof trace, "00-%s-%s-00", a, b);
    const char *rfc = status == 400   ? "https://tools.ietf.org/html/rfc7231#section-6.5.1"
                      : status == 404 ? "https://tools.ietf.org/html/rfc7231#section-6.5.4"
                      : status == 409 ? "https://tools.ietf.org/html/rfc7231#section-6.5.8"
                      : status == 415 ? "https://tools.ietf.org/html/rfc7231#section-6.5.13"
                      : status >= 500 ? "https://tools.ietf.org/html/rfc7231#section-6.6.1"
                                      : "about:blank";
    json_t *j = json_pack("{s:s,s:s,s:i}", "type", rfc, "title", title, "status", status);
    if (detail)
        json_object_set_new(j, "detail", json_string(detail));
    json_object_set_new(j, "traceId", json_string(trace));
    if (errors)
        json_object_set_new(j, "errors", errors);
    reply_json(out, status, j);
    out->ctype = "application/problem+json; charset=utf-8";
}

void reply_empty(ep_reply *out, int status)
{
    out->status = status;
    out->ctype = NULL;
    free(out->body);
    out->body = NULL;
}

void reply_fault(ep_reply *out, const ep_fault *f, ep_style style)
{
    const char *phrase = MHD_get_reason_phrase_for((unsigned)f->status);
    if (!phrase || !*phrase)
        phrase = "Error";
    if (style == EP_STYLE_OAUTH)
        reply_json(out, f->status,
                   json_pack("{s:s,s:s}", "error",
                             f->status >= 500 || f->status == 429 ? "temporarily_unavailable"
                                                                  : "invalid_request",
                             "error_description", f->message ? f->message : phrase));
    else if (style == EP_STYLE_CONTROL)
        reply_ctl_error(out, f->status, f->message ? f->message : phrase, "injected fault");
    else
        reply_problem(out, f->status, phrase, f->message, NULL);
    out->retry_after = f->retry_after;
}

/* ---------------- request body collection ---------------- */
static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size)
{
    (void)kind; (void)filename; (void)content_type; (void)transfer_encoding;
    ep_req *r = cls;
    if (off > 0 && r->form.n && strcmp(r->form.items[r->form.n - 1].k, key) == 0) {
        ep_kv *kv = &r->form.items[r->form.n - 1];
        size_t ol = strlen(kv->v);
        char *nv = realloc(kv->v, ol + size + 1);
        if (!nv)
            return MHD_NO;
        memcpy(nv + ol, data, size);
        nv[ol + size] = 0;
        kv->v = nv;
        return MHD_YES;
    }
    char *v = malloc(size + 1);
    if (!v)
        return MHD_NO;
    if (size)
        memcpy(v, data, size);
    v[size] = 0;
    if (strlen(v) != size)
        r->form_bad = true;     /* %00 inside a value */
    kvs_add(&r->form, key, v);
    ep_free_secret(v);
    return MHD_YES;
}

/* ---------------- routing ---------------- */
typedef enum { R_NONE, R_TOKEN, R_APP_DECISION, R_ADMIN_DECISION, R_APP_READ, R_ADMIN_READ } route;

/* "<base>/<id>" with a non-empty id and no further '/'. */
static const char *id_under(const char *url, const char *base)
{
    size_t n = strlen(base);
    if (strncmp(url, base, n) != 0 || url[n] != '/' || !url[n + 1] || strchr(url + n + 1, '/'))
        return NULL;
    return url + n + 1;
}

static route find_route(const char *url, const char **id, char *admin_method, size_t amsz)
{
    route rt = R_NONE;
    pthread_mutex_lock(&E.mu);
    const ep_wire *w = &E.cfg.wire;
    snprintf(admin_method, amsz, "%s", w->admin_decision_method);
    if (strcmp(url, w->token_path) == 0)
        rt = R_TOKEN;
    else if (strcmp(url, w->app_decision_path) == 0)
        rt = R_APP_DECISION;
    else if (strcmp(url, w->admin_decision_path) == 0)
        rt = R_ADMIN_DECISION;
    else if ((*id = id_under(url, w->app_read_path)))
        rt = R_APP_READ;
    else if ((*id = id_under(url, w->admin_read_path)))
        rt = R_ADMIN_READ;
    pthread_mutex_unlock(&E.mu);
    return rt;
}

static const unsigned route_endpoint[] = {
    [R_TOKEN] = EP_EP_TOKEN, [R_APP_DECISION] = EP_EP_APP_DECISION,
    [R_ADMIN_DECISION] = EP_EP_ADMIN_DECISION, [R_APP_READ] = EP_EP_APP_READ,
    [R_ADMIN_READ] = EP_EP_ADMIN_READ,
};

bool apply_fault(unsigned endpoint, ep_style style, ep_reply *out)
{
    ep_fault f;
    if (!fault_take(endpoint, &f))
        return false;
    bool answered = true;
    if (f.kind == EP_FAULT_DROP) {
        out->drop = true;
    } else if (f.kind == EP_FAULT_DELAY) {
        ep_sleep(f.delay_ms / 1000.0);
        answered = false;
    } else {
        reply_fault(out, &f, style);
    }
    free(f.message);
    return answered;
}

static bool is_sink_path(const char *url)
{
    return strcmp(url, "/_epmsim/sink") == 0 || strncmp(url, "/_epmsim/sink/", 14) == 0;
}

static void dispatch(ep_req *r, ep_reply *out)
{
    const char *url = r->url, *m = r->method;
    bool control = strcmp(url, "/_epmsim") == 0 || strncmp(url, "/_epmsim/", 9) == 0;
    if (r->too_large) {
        if (control)
            reply_ctl_error(out, 413, "request body too large", "the limit is 1 MiB");
        else
            reply_empty(out, 413);
        return;
    }
    if (control) {
        if (is_sink_path(url) && strcmp(m, "GET") != 0 && strcmp(m, "DELETE") != 0)
            handle_sink(r, out);
        else
            handle_control(r, out);
        return;
    }
    const char *id = NULL;
    char admin_method[16];
    route rt = r->control_only ? R_NONE : find_route(url, &id, admin_method, sizeof admin_method);
    const char *want = rt == R_NONE                                  ? NULL
                       : rt == R_APP_READ || rt == R_ADMIN_READ      ? "GET"
                       : rt == R_ADMIN_DECISION                      ? admin_method
                                                                     : "POST";
    if (rt == R_NONE) {
        reply_empty(out, 404);  /* [I] ASP.NET answers unknown routes with an empty 404 */
        return;
    }
    if (strcmp(m, want) != 0) {
        reply_empty(out, 405);
        return;
    }
    if (apply_fault(route_endpoint[rt], rt == R_TOKEN ? EP_STYLE_OAUTH : EP_STYLE_PROBLEM, out))
        return;
    switch (rt) {
    case R_TOKEN: handle_token(r, out); break;
    case R_APP_DECISION: handle_decision(r, EP_KIND_APP, out); break;
    case R_ADMIN_DECISION: handle_decision(r, EP_KIND_ADMIN, out); break;
    case R_APP_READ: handle_read(r, EP_KIND_APP, id, out); break;
    case R_ADMIN_READ: handle_read(r, EP_KIND_ADMIN, id, out); break;
    case R_NONE: break;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    const listener *l = cls;
    ep_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->conn = c;
        r->control_only = l->control;
        r->t0_ns = (int64_t)(ep_mono() * 1e9);
        tb_buf_init(&r->body, EP_MAX_BODY);
        if (strcmp(method, "POST") == 0)
            r->pp = MHD_create_post_processor(c, 16384, post_iter, r); /* NULL unless a form */
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->too_large && tb_buf_append(&r->body, upload_data, *upload_data_size) != TB_OK)
            r->too_large = true;
        if (!r->too_large && r->pp &&
            MHD_post_process(r->pp, upload_data, *upload_data_size) != MHD_YES)
            r->form_bad = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->pp) {    /* flushes the last field */
        MHD_destroy_post_processor(r->pp);
        r->pp = NULL;
    }
    r->method = method;
    r->url = url;
    pthread_mutex_lock(&E.mu);
    E.st.requests_total++;
    pthread_mutex_unlock(&E.mu);
    ep_reply out = {.status = 500, .retry_after = -1};
    dispatch(r, &out);
    double ms = (ep_mono() * 1e9 - (double)r->t0_ns) / 1e6;
    char qurl[300];
    tb_log_quote(qurl, sizeof qurl, url);
    if (out.drop) {
        TB_LOGI("request", "method=%s path=%s status=dropped ms=%.1f", method, qurl, ms);
        free(out.body);
        free(out.www_auth);
        return MHD_NO;
    }
    TB_LOGI("request", "method=%s path=%s status=%d ms=%.1f", method, qurl, out.status, ms);
    const char *body = out.body ? out.body : "";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    free(out.body);
    if (!resp) {
        free(out.www_auth);
        return MHD_NO;
    }
    if (out.ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, out.ctype);
    if (out.www_auth)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, out.www_auth);
    if (out.no_store) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_PRAGMA, "no-cache");
    }
    if (out.retry_after >= 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%ld", out.retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    free(out.www_auth);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)out.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls; (void)c; (void)toe;
    ep_req *r = *con_cls;
    if (!r)
        return;
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    kvs_free(&r->form);
    if (r->body.data)
        ep_free_secret(tb_buf_take(&r->body));  /* may hold the client secret */
    free(r);
    *con_cls = NULL;
}

/* ---------------- listeners ---------------- */
static tb_err listener_start(listener *l, const char *addr, int port)
{
    int bound = 0;
    int fd = sim_listen(addr, port, 256, &bound);
    if (fd < 0) {
        TB_LOGE("cannot listen", "address=%s port=%d errno=%d", addr, port, errno);
        return TB_ERR_IO;
    }
    /* MHD_USE_ITC: needed by MHD_quiesce_daemon ("down"). */
    l->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
                                MHD_USE_ITC | MHD_USE_ERROR_LOG,
                            0, NULL, NULL, on_request, l, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (!l->d) {
        close(fd);
        return TB_ERR_IO;
    }
    l->fd = fd;
    l->port = bound;
    return TB_OK;
}

tb_err server_start(void)
{
    snprintf(listen_addr, sizeof listen_addr, "%s", E.cfg.address);
    tb_err rc = listener_start(&api, listen_addr, E.cfg.port);
    if (rc)
        return rc;
    if (E.cfg.control_port >= 0) {
        rc = listener_start(&ctl, listen_addr, E.cfg.control_port);
        if (rc) {
            MHD_stop_daemon(api.d);
            api.d = NULL;
            return rc;
        }
    }
    return TB_OK;
}

int server_port(void)
{
    return api.port;
}

int server_control_port(void)
{
    return ctl.d ? ctl.port : -1;
}

bool server_is_down(void)
{
    return atomic_load(&api_down);
}

static void reap_retired(void)
{
    if (!retired)
        return;
    MHD_stop_daemon(retired);   /* waits for requests in flight */
    close(retired_fd);
    retired = NULL;
    retired_fd = -1;
}

void server_go_down(void)
{
    if (!api.d || retired)
        return;
    MHD_socket fd = MHD_quiesce_daemon(api.d);
    retired = api.d;
    retired_fd = fd == MHD_INVALID_SOCKET ? -1 : fd;
    retired_at = ep_mono();
    api.d = NULL;
    atomic_store(&api_down, true);
    up_failed_logged = false;
    TB_LOGI("listener down", "port=%d", api.port);
}

tb_err server_go_up(void)
{
    if (api.d)
        return TB_OK;
    if (retired)
        reap_retired();
    tb_err rc = listener_start(&api, listen_addr, api.port);
    if (rc) {
        if (!up_failed_logged)
            TB_LOGW("listener cannot come up yet", "port=%d", api.port);
        up_failed_logged = true;
        return rc;
    }
    atomic_store(&api_down, false);
    TB_LOGI("listener up", "port=%d", api.port);
    return TB_OK;
}

/* Called from the main loop: closes a quiesced listener once its last reply
 * had a moment to go out (so connections are refused, not left in a backlog). */
void server_tick(void)
{
    if (retired && ep_mono() - retired_at > 0.1)
        reap_retired();
}

void server_stop(void)
{
    if (api.d) {
        MHD_stop_daemon(api.d);
        api.d = NULL;
    }
    reap_retired();
    if (ctl.d) {
        MHD_stop_daemon(ctl.d);
        ctl.d = NULL;
    }
}
