/* The appliance's HTTP listener (libmicrohttpd, one thread per connection):
 * collects each request (query, form fields or a JSON body), routes it to a
 * handler and sends the reply. Routes: /oauth2/token, /api/command,
 * /api/reporting, /api/start_session, /api/client_script, /check_health and
 * the control API under /_btsim/. */
#include "handler.h"
#include "sim_net.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BODY (1024 * 1024)

static struct MHD_Daemon *daemon_;

typedef struct conn {
    req r;
    struct MHD_PostProcessor *pp;
    tb_buf raw;             /* the body when it is not a form */
    size_t body_len;
    bool too_large;
    bool bad_form;
} conn;

/* ---------------- replies ---------------- */
void reply_json(reply *out, int status, json_t *j)
{
    out->status = status;
    out->ctype = "application/json";
    out->body = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
    json_decref(j);
}

void reply_xml(reply *out, char *body)
{
    out->status = 200;
    out->ctype = "text/xml; charset=UTF-8";
    out->body = body;
    out->close = true;  /* [V] docs: close after each API call */
}

void reply_text(reply *out, int status, const char *ctype, const char *text)
{
    out->status = status;
    out->ctype = ctype ? ctype : "text/plain; charset=UTF-8";
    out->body = bt_strdup(text);
}

void reply_error(reply *out, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_json(out, status, json_pack("{s:s}", "error", msg));
}

void reply_header(reply *out, const char *name, const char *value)
{
    kvs_add(&out->headers, name, value);
}

/* ---------------- request collection ---------------- */
static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    conn *c = cls;
    kvs_add(&c->r.params, key, value ? value : "");
    return MHD_YES;
}

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size)
{
    (void)kind; (void)filename; (void)content_type; (void)transfer_encoding;
    bt_kvs *p = &((conn *)cls)->r.params;
    if (off > 0 && p->n && strcmp(p->items[p->n - 1].k, key) == 0) {
        bt_kv *kv = &p->items[p->n - 1];
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
    kvs_add(p, key, v);
    free(v);
    return MHD_YES;
}

/* A JSON object body becomes parameters with dotted names ({"user":{"id":1}}
 * → user.id=1); true/false become 1/0, null and arrays are left out (handlers
 * that need them read r->json). */
static void flatten(bt_kvs *params, const char *prefix, json_t *o, int depth)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        char *name = *prefix ? bt_strdupf("%s.%s", prefix, k) : bt_strdup(k);
        if (json_is_object(v) && depth < 8) {
            flatten(params, name, v, depth + 1);
        } else if (json_is_string(v)) {
            kvs_set(params, name, json_string_value(v));
        } else if (json_is_boolean(v)) {
            kvs_set(params, name, json_is_true(v) ? "1" : "0");
        } else if (json_is_number(v)) {
            char *s = json_dumps(v, JSON_ENCODE_ANY);
            kvs_set(params, name, s);
            free(s);
        }
        free(name);
    }
}

/* Control API bodies that are not forms must be one JSON object. */
static const char *parse_json_body(conn *c, char *err, size_t errsz)
{
    if (!c->raw.len)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(c->raw.data, c->raw.len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(err, errsz, "invalid JSON body: %s (line %d, column %d)", je.text, je.line,
                 je.column);
        return err;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return "the JSON body must be an object";
    }
    c->r.json = j;
    flatten(&c->r.params, "", j, 0);
    return NULL;
}

/* ---------------- dispatch ---------------- */
static void dispatch(conn *c, reply *out)
{
    const req *r = &c->r;
    const char *url = r->url;
    if (c->too_large) {
        reply_text(out, 413, NULL, "Request too large");
        return;
    }
    if (strncmp(url, "/_btsim/", 8) == 0) {
        char err[256];
        const char *e = c->bad_form ? "malformed form body" : parse_json_body(c, err, sizeof err);
        if (e)
            reply_error(out, 400, "%s", e);
        else
            handle_control(r, out);
        return;
    }
    if (strcmp(url, "/check_health") == 0) {
        reply_text(out, 200, NULL, "OK");
        return;
    }
    if (strcmp(url, "/api/start_session") == 0) {
        handle_start_session(r, out);
        return;
    }
    if (strcmp(url, "/api/client_script") == 0) {
        handle_client_script(r, out);
        return;
    }
    bool is_token = strcmp(url, "/oauth2/token") == 0;
    bool is_cmd = strcmp(url, "/api/command") == 0;
    bool is_rep = strcmp(url, "/api/reporting") == 0;
    if (!is_token && !is_cmd && !is_rep) {
        reply_text(out, 404, NULL, "Not Found");
        return;
    }
    if (take_fault(&G.faults.drop_connection)) {
        out->drop = true;
        return;
    }
    if (is_token) {
        handle_token(r, out);
        return;
    }
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "POST") != 0) {
        reply_text(out, 405, NULL, "Method Not Allowed");
        return;
    }
    if (is_rep) {
        if (take_fault(&G.faults.report_5xx)) {
            reply_text(out, 503, NULL, "Service Unavailable");
            return;
        }
        if (take_fault(&G.faults.report_timeout))
            bt_sleep(G.cfg.hang_seconds);
        pthread_mutex_lock(&G.mu);
        int slow = G.faults.report_slow_ms;
        pthread_mutex_unlock(&G.mu);
        if (slow > 0)
            bt_sleep(slow / 1000.0);
    }
    if (!bearer_ok(r)) {
        reply_json(out, 401, json_pack("{s:s}", "error", "invalid_token")); /* [I] body */
        out->close = true;
        reply_header(out, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        return;
    }
    if (is_cmd)
        handle_command(r, out);
    else
        handle_reporting(r, out);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)version;
    conn *c = *con_cls;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        *con_cls = c;
        c->r.method = method;
        c->r.url = url;
        tb_buf_init(&c->raw, MAX_BODY);
        MHD_get_connection_values(mc, MHD_GET_ARGUMENT_KIND, query_iter, c);
        if (strcmp(method, "GET") != 0) /* NULL unless the body is a form */
            c->pp = MHD_create_post_processor(mc, 16384, post_iter, c);
        return MHD_YES;
    }
    if (*upload_data_size) {
        c->body_len += *upload_data_size;
        if (c->body_len > MAX_BODY)
            c->too_large = true;
        else if (c->pp) {
            if (MHD_post_process(c->pp, upload_data, *upload_data_size) != MHD_YES)
                c->bad_form = true;
        } else {
            tb_buf_append(&c->raw, upload_data, *upload_data_size);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->pp) { /* flushes the last field (MHD may hold it until the end) */
        MHD_destroy_post_processor(c->pp);
        c->pp = NULL;
    }
    c->r.authorization = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization");
    if (strcmp(url, "/oauth2/token") == 0) {
        char *pass = NULL;
        char *user = MHD_basic_auth_get_username_password(mc, &pass);
        c->r.basic_user = user ? bt_strdup(user) : NULL;
        c->r.basic_pass = pass ? bt_strdup(pass) : NULL;
        if (user)
            MHD_free(user);
        if (pass)
            MHD_free(pass);
    }
    /* a ticket-system burst may outlast the idle timeout; MHD would then
     * close the connection instead of sending the answer */
    if (strncmp(url, "/_btsim/jump/", 13) == 0)
        MHD_set_connection_option(mc, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    reply out = {0};
    dispatch(c, &out);
    if (out.drop) {
        TB_LOGI("dropping connection (fault)", "url=%s", url);
        free(out.body);
        kvs_free(&out.headers);
        return MHD_NO;
    }
    const char *body = out.body ? out.body : "";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    free(out.body);
    if (!resp) {
        kvs_free(&out.headers);
        return MHD_NO;
    }
    if (out.ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, out.ctype);
    if (out.close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    for (size_t i = 0; i < out.headers.n; i++)
        MHD_add_response_header(resp, out.headers.items[i].k, out.headers.items[i].v);
    kvs_free(&out.headers);
    TB_LOGD("request", "method=%s url=%s status=%d", method, url, out.status);
    enum MHD_Result ret = MHD_queue_response(mc, (unsigned)out.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls; (void)mc; (void)toe;
    conn *c = *con_cls;
    if (!c)
        return;
    if (c->pp)
        MHD_destroy_post_processor(c->pp);
    kvs_free(&c->r.params);
    json_decref(c->r.json);
    if (c->r.basic_pass)
        memset(c->r.basic_pass, 0, strlen(c->r.basic_pass));
    free(c->r.basic_user);
    free(c->r.basic_pass);
    tb_buf_free(&c->raw);
    free(c);
    *con_cls = NULL;
}

tb_err server_start(int *port_out)
{
    int fd = sim_listen_spec(G.cfg.listen, 128, port_out);
    if (fd < 0) {
        TB_LOGE("cannot listen", "listen=%s errno=%d", G.cfg.listen, errno);
        return TB_ERR_IO;
    }
    daemon_ = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                   MHD_USE_ERROR_LOG,
                               0, NULL, NULL, on_request, NULL,
                               MHD_OPTION_LISTEN_SOCKET, fd,
                               MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                               MHD_OPTION_END);
    if (!daemon_) {
        close(fd);
        return TB_ERR_IO;
    }
    return TB_OK;
}

void server_stop(void)
{
    if (daemon_) {
        MHD_stop_daemon(daemon_);
        daemon_ = NULL;
    }
}
