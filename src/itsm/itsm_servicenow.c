/* itsm.h over ServiceNow's REST Table API and Attachment API (Part B of
 * shared/protocol/epm-servicenow.md). Only 429 and 503 are retried here: the
 * instance did not act on those requests, so a retry cannot write twice.
 * Anything else (a timeout included, after which a POST may or may not have
 * happened) goes back to the caller, whose job decides; see
 * docs/servicenow-backend.md, "Idempotent writes". */
#include "itsm/itsm_servicenow.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/log.h"
#include "http/client.h"
#include "itsm/itsm_servicenow_auth.h"
#include "itsm/itsm_servicenow_wire.h"

#define RESPONSE_MAX (256u * 1024 * 1024) /* 10000 rows of wide records */
#define ERROR_BODY_MAX (16u * 1024)

typedef struct sn {
    itsm base;
    tb_http_client *http;
    tb_config cfg;      /* a copy: the handle may outlive the caller's */
    sn_creds creds;
    int64_t deadline_ns;    /* CLOCK_MONOTONIC; 0 = none (itsm_servicenow_deadline) */
    long retry_after_ms;    /* of the last failure, -1 when it gave none */
    char err[768];
} sn;

static const struct itsm_ops sn_ops;

#define S(h) ((sn *)(h))

/* The process-wide cap on requests in flight. */
static pthread_mutex_t g_gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_gate_cond = PTHREAD_COND_INITIALIZER;
static int g_in_flight;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits for a place among the requests in flight, at most wait_ms (< 0:
 * forever): other threads' requests to a stalled instance must not make a
 * caller with a deadline wait past it. False when the time ran out. */
static bool gate_enter(int cap, long wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    if (wait_ms >= 0) {
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    bool in = true;
    pthread_mutex_lock(&g_gate_lock);
    while (in && g_in_flight >= cap)
        if (wait_ms < 0)
            pthread_cond_wait(&g_gate_cond, &g_gate_lock);
        else if (pthread_cond_timedwait(&g_gate_cond, &g_gate_lock, &until) != 0 && g_in_flight >= cap)
            in = false;
    if (in)
        g_in_flight++;
    pthread_mutex_unlock(&g_gate_lock);
    return in;
}

static void gate_leave(void)
{
    pthread_mutex_lock(&g_gate_lock);
    g_in_flight--;
    pthread_cond_signal(&g_gate_cond);
    pthread_mutex_unlock(&g_gate_lock);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

typedef struct sn_call {
    tb_http_method method;
    const char *url;
    const char *what;       /* "GET incident", for messages */
    const char *json;       /* body as application/json, or */
    const void *data;       /* raw bytes with content_type */
    size_t len;
    const char *content_type;
    tb_buf *resp;           /* the answer's body (NULL: discarded) */
} sn_call;

/* After a 401 with Basic authentication: the password file may have been
 * corrected since the handle read it (handles live as long as their
 * thread). True when it now holds another password, which is then used. */
static bool password_changed(sn *s)
{
    if (!s->cfg.servicenow_password_file[0] || s->cfg.servicenow_oauth_client_id[0])
        return false;
    char *pw = NULL, err[256];
    if (sn_read_secret_file(s->cfg.servicenow_password_file, &pw, err, sizeof err))
        return false;
    bool changed = !s->creds.password || strcmp(pw, s->creds.password) != 0;
    char *old = changed ? s->creds.password : pw;
    if (changed)
        s->creds.password = pw;
    sodium_memzero(old, old ? strlen(old) : 0);
    free(old);
    if (changed)
        TB_LOGI("servicenow password file re-read after a 401", "file=%s", s->cfg.servicenow_password_file);
    return changed;
}

/* Milliseconds left before the handle's deadline; -1 without one. */
static long left_ms(const sn *s)
{
    if (!s->deadline_ns)
        return -1;
    int64_t left = (s->deadline_ns - mono_ns()) / 1000000;
    return left > 0 ? (long)left : 0;
}

/* One call with its retries; on failure s->err says why. */
static tb_err call(sn *s, const sn_call *c)
{
    static const char *const headers[] = {"Accept: application/json", NULL};
    const tb_config *cfg = &s->cfg;
    int oauth = cfg->servicenow_oauth_client_id[0] != '\0', refreshed = 0;
    tb_buf errbody;
    tb_buf_init(&errbody, ERROR_BODY_MAX);
    tb_err rc;
    for (int attempt = 0;; attempt++) {
        long left = left_ms(s);
        long timeout = cfg->servicenow_timeout_ms;
        if (left == 0) {
            tb_errmsg(s->err, sizeof s->err, "ServiceNow %s: no answer within the caller's deadline", c->what);
            rc = TB_ERR_TIMEOUT;
            break;
        }
        if (left > 0 && left < timeout)
            timeout = left;
        s->creds.timeout_ms = timeout;
        char token[2048];
        if (oauth && (rc = sn_oauth_token(s->http, &s->creds, refreshed == 1, token, sizeof token,
                                          s->err, sizeof s->err)))
            break;
        if (refreshed == 1)
            refreshed = 2;
        tb_buf_reset(&errbody);
        if (c->resp)
            tb_buf_reset(c->resp);
        tb_http_request rq = {
            .method = c->method, .url = c->url, .headers = headers,
            .data = c->json ? (const void *)c->json : c->data,
            .data_len = c->json ? strlen(c->json) : c->len,
            .content_type = c->json ? "application/json" : c->content_type,
            .bearer = oauth ? token : NULL,
            .basic_user = oauth ? NULL : cfg->servicenow_user,
            .basic_pass = oauth ? NULL : s->creds.password,
            .timeout_ms = timeout,
            .connect_timeout_ms = timeout,
            .ca_bundle = cfg->servicenow_ca_file,
            .proxy = s->creds.proxy,
            .body = c->resp, .error_body = &errbody,
        };
        tb_http_response rs;
        if (!gate_enter(cfg->servicenow_max_connections, left)) {
            if (oauth)
                memset(token, 0, sizeof token);
            tb_errmsg(s->err, sizeof s->err, "ServiceNow %s: no answer within the caller's deadline "
                      "(every one of servicenow_max_connections is busy)", c->what);
            rc = TB_ERR_TIMEOUT;
            break;
        }
        rc = tb_http_perform(s->http, &rq, &rs);
        gate_leave();
        if (oauth)
            memset(token, 0, sizeof token);
        if (!rc) {
            s->err[0] = '\0';
            s->retry_after_ms = -1;
            break;
        }
        if (rs.status == 401 && oauth && !refreshed) {
            refreshed = 1; /* the cached token may have been revoked: one fresh one */
            continue;
        }
        if (rs.status == 401 && !oauth && !refreshed && password_changed(s)) {
            refreshed = 2;
            continue;
        }
        s->retry_after_ms = rs.retry_after >= 0 ? rs.retry_after * 1000 : -1;
        long wait = sn_retry_wait_ms(rs.status, rs.retry_after, attempt,
                                     cfg->servicenow_retry_max_wait_ms);
        if (wait >= 0 && (left < 0 || wait < left_ms(s))) {
            TB_LOGW("servicenow busy, retrying", "call=\"%s\" status=%ld wait_ms=%ld attempt=%d",
                    c->what, rs.status, wait, attempt + 1);
            sleep_ms(wait);
            continue;
        }
        if (rc == TB_ERR_TIMEOUT) {
            tb_errmsg(s->err, sizeof s->err, "ServiceNow %s: no answer within %ld ms%s (%s)", c->what, timeout,
                      timeout < cfg->servicenow_timeout_ms ? ", the caller's deadline" : "", rs.err);
        } else if (rs.status > 0 && rc == TB_ERR_HTTP) {
            rc = sn_error_map(rs.status, errbody.data, errbody.len, c->what, s->err,
                              sizeof s->err);
            if ((rs.status == 429 || rs.status == 503) && rs.retry_after >= 0) {
                size_t l = strlen(s->err);
                tb_errmsg(s->err + l, sizeof s->err - l,
                          "; Retry-After %ld s%s", rs.retry_after,
                          attempt >= SN_MAX_RETRIES ? ", retries used up"
                          : wait >= 0 ? " is past the caller's deadline"
                                      : " is longer than servicenow_retry_max_wait_ms");
            }
        } else if (rs.status == 0 && rc == TB_ERR_HTTP) {
            tb_errmsg(s->err, sizeof s->err, "ServiceNow %s: cannot reach %s: %s", c->what,
                      cfg->servicenow_url, rs.err);
        } else {
            tb_errmsg(s->err, sizeof s->err, "ServiceNow %s: %s", c->what, rs.err);
        }
        break;
    }
    tb_buf_free(&errbody);
    return rc;
}

static void what_of(char *out, size_t outsz, const char *verb, const char *table)
{
    snprintf(out, outsz, "%s %s", verb, table);
}

static const sn_param no_links[] = {{"sysparm_exclude_reference_link", "true"}, {NULL, NULL}};
static const sn_param id_only[] = {{"sysparm_fields", "sys_id"}, {NULL, NULL}};

/* GET or POST/PATCH one record and parse {"result":{...}} into out. */
static tb_err call_record(sn *s, sn_call *c, const char *table, itsm_record **out)
{
    tb_buf resp;
    tb_buf_init(&resp, RESPONSE_MAX);
    c->resp = out ? &resp : NULL;
    tb_err rc = call(s, c);
    if (!rc && out && (rc = sn_parse_record(resp.data, resp.len, table, out)))
        tb_errmsg(s->err, sizeof s->err, "ServiceNow %s: the answer is not a record", c->what);
    tb_buf_free(&resp);
    return rc;
}

static tb_err sn_create(itsm *h, const char *table, const itsm_kv *kv, size_t n, itsm_record **out)
{
    sn *s = S(h);
    tb_buf url, body;
    tb_buf_init(&url, 0);
    tb_buf_init(&body, 0);
    char what[96];
    what_of(what, sizeof what, "POST", table);
    tb_err rc = sn_table_url(&url, s->cfg.servicenow_url, table, NULL, no_links);
    if (!rc)
        rc = sn_json_object(&body, kv, n);
    itsm_record *r = NULL;
    if (!rc) {
        sn_call c = {.method = TB_HTTP_POST, .url = url.data, .what = what, .json = body.data};
        rc = call_record(s, &c, table, &r);
    }
    if (!rc && out)
        *out = r;
    else
        itsm_record_free(r);
    tb_buf_free(&url);
    tb_buf_free(&body);
    return rc;
}

static tb_err get_one(sn *s, const char *table, const char *sys_id, itsm_record **out)
{
    tb_buf url;
    tb_buf_init(&url, 0);
    char what[96];
    what_of(what, sizeof what, "GET", table);
    tb_err rc = sn_table_url(&url, s->cfg.servicenow_url, table, sys_id, no_links);
    if (!rc) {
        sn_call c = {.method = TB_HTTP_GET, .url = url.data, .what = what};
        rc = call_record(s, &c, table, out);
    }
    tb_buf_free(&url);
    return rc;
}

static tb_err sn_get(itsm *h, const char *table, const char *sys_id, itsm_record **out)
{
    return get_one(S(h), table, sys_id, out);
}

static tb_err patch(sn *s, const char *table, const char *sys_id, const itsm_kv *kv, size_t n)
{
    tb_buf url, body;
    tb_buf_init(&url, 0);
    tb_buf_init(&body, 0);
    char what[96];
    what_of(what, sizeof what, "PATCH", table);
    tb_err rc = sn_table_url(&url, s->cfg.servicenow_url, table, sys_id, id_only);
    if (!rc)
        rc = sn_json_object(&body, kv, n);
    if (!rc) {
        sn_call c = {.method = TB_HTTP_PATCH, .url = url.data, .what = what, .json = body.data};
        rc = call(s, &c);
    }
    tb_buf_free(&url);
    tb_buf_free(&body);
    return rc;
}

static tb_err sn_update(itsm *h, const char *table, const char *sys_id, const itsm_kv *kv, size_t n)
{
    return patch(S(h), table, sys_id, kv, n);
}

/* GET a list with an encoded query. */
static tb_err list(sn *s, const char *table, const char *query, const char *fields, size_t limit,
                   size_t offset, itsm_record ***out, size_t *nout)
{
    char lim[24], off[24], what[96];
    snprintf(lim, sizeof lim, "%zu", limit);
    snprintf(off, sizeof off, "%zu", offset);
    what_of(what, sizeof what, "GET", table);
    sn_param p[6] = {{"sysparm_query", query}, {"sysparm_limit", lim}, {"sysparm_offset", off},
                     {"sysparm_exclude_reference_link", "true"}};
    if (fields)
        p[4] = (sn_param){"sysparm_fields", fields};
    tb_buf url, resp;
    tb_buf_init(&url, 0);
    tb_buf_init(&resp, RESPONSE_MAX);
    tb_err rc = sn_table_url(&url, s->cfg.servicenow_url, table, NULL, p);
    if (!rc) {
        sn_call c = {.method = TB_HTTP_GET, .url = url.data, .what = what, .resp = &resp};
        rc = call(s, &c);
    }
    if (rc == TB_ERR_NOT_FOUND) { /* the v1 API answers an empty list with 404 */
        rc = TB_OK;
        s->err[0] = '\0';
    } else if (!rc && (rc = sn_parse_records(resp.data, resp.len, table, out, nout))) {
        tb_errmsg(s->err, sizeof s->err, "ServiceNow %s: the answer is not a record list", what);
    }
    tb_buf_free(&url);
    tb_buf_free(&resp);
    return rc;
}

static int is_hex_id(const char *k)
{
    if (strlen(k) != ITSM_SYS_ID_LEN)
        return 0;
    for (; *k; k++)
        if (!((*k >= '0' && *k <= '9') || (*k >= 'a' && *k <= 'f') || (*k >= 'A' && *k <= 'F')))
            return 0;
    return 1;
}

static tb_err sn_find_task(itsm *h, const char *key, const char *const *tables, itsm_record **out)
{
    sn *s = S(h);
    const char *const *t = tables ? tables : itsm_task_tables;
    if (!strchr(key, '^')) {
        tb_buf q;
        tb_buf_init(&q, 0);
        tb_err rc = tb_buf_printf(&q, "number=%s", key);
        for (size_t i = 0; !rc && t[i]; i++) {
            itsm_record **v = NULL;
            size_t n = 0;
            rc = list(s, t[i], q.data, NULL, 1, 0, &v, &n);
            if (!rc && n) {
                *out = v[0];
                v[0] = NULL;
                itsm_records_free(v, n);
                tb_buf_free(&q);
                return TB_OK;
            }
            itsm_records_free(v, n);
        }
        tb_buf_free(&q);
        if (rc)
            return rc;
    }
    if (!is_hex_id(key)) {
        tb_errmsg(s->err, sizeof s->err, "no task %s", key);
        return TB_ERR_NOT_FOUND;
    }
    char id[ITSM_SYS_ID_LEN + 1];
    for (size_t i = 0; i <= ITSM_SYS_ID_LEN; i++)
        id[i] = (key[i] >= 'A' && key[i] <= 'F') ? (char)(key[i] - 'A' + 'a') : key[i];
    for (size_t i = 0; t[i]; i++) {
        tb_err rc = get_one(s, t[i], id, out);
        if (rc != TB_ERR_NOT_FOUND)
            return rc;
    }
    tb_errmsg(s->err, sizeof s->err, "no task %s", key);
    return TB_ERR_NOT_FOUND;
}

static int matches_exactly(const itsm_record *r, const itsm_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = itsm_record_get(r, kv[i].name);
        if (strcmp(v ? v : "", kv[i].value ? kv[i].value : "") != 0)
            return 0;
    }
    return 1;
}

/* ServiceNow compares strings case-insensitively (its database collation), so
 * ci queries go to the instance as they are. For exact ones the instance's
 * answer is a superset: it is filtered here, and the page is cut after the
 * filter, which needs every candidate row (at most ITSM_MAX_ROWS). */
static tb_err sn_query(itsm *h, const char *table, const itsm_kv *kv, size_t n, int ci,
                       size_t limit, size_t offset, itsm_record ***out, size_t *nout)
{
    sn *s = S(h);
    tb_buf q;
    tb_buf_init(&q, 0);
    tb_err rc = sn_equality_query(&q, kv, n);
    if (rc) {
        tb_errmsg(s->err, sizeof s->err, "a value with '^' cannot be sent in an encoded query");
        tb_buf_free(&q);
        return rc;
    }
    int exact = !ci && n > 0;
    itsm_record **v = NULL;
    size_t nv = 0;
    rc = list(s, table, q.data, NULL, exact ? ITSM_MAX_ROWS : limit, exact ? 0 : offset, &v, &nv);
    tb_buf_free(&q);
    if (rc || !exact) {
        *out = v;
        *nout = nv;
        return rc;
    }
    size_t kept = 0, seen = 0;
    for (size_t i = 0; i < nv; i++) {
        if (matches_exactly(v[i], kv, n) && seen++ >= offset && kept < limit) {
            v[kept++] = v[i];
            continue;
        }
        itsm_record_free(v[i]);
    }
    *out = v;
    *nout = kept;
    if (!kept) {
        free(v);
        *out = NULL;
    }
    return TB_OK;
}

static tb_err sn_add_journal(itsm *h, const char *table, const char *sys_id, const char *element,
                             const char *text, const char *author)
{
    itsm_kv kv[] = {{element, text}}; /* the instance records its API user as the author */
    return patch(S(h), table, sys_id, kv, 1);
}

static tb_err sn_attach(itsm *h, const char *table, const char *sys_id, const char *file_name,
                        const char *content_type, const void *data, size_t len, itsm_record **out)
{
    sn *s = S(h);
    sn_param p[] = {{"table_name", table}, {"table_sys_id", sys_id}, {"file_name", file_name},
                    {NULL, NULL}};
    tb_buf url;
    tb_buf_init(&url, 0);
    char what[96];
    what_of(what, sizeof what, "attach to", table);
    tb_err rc = sn_attachment_url(&url, s->cfg.servicenow_url, "/file", p);
    itsm_record *r = NULL;
    if (!rc) {
        sn_call c = {.method = TB_HTTP_POST, .url = url.data, .what = what, .data = data ? data : "",
                     .len = len,
                     .content_type = content_type && *content_type ? content_type
                                                                   : "application/octet-stream"};
        rc = call_record(s, &c, "sys_attachment", &r);
    }
    if (!rc && out)
        *out = r;
    else
        itsm_record_free(r);
    tb_buf_free(&url);
    return rc;
}

static tb_err sn_remove(itsm *h, const char *table, const char *sys_id)
{
    sn *s = S(h);
    tb_buf url;
    tb_buf_init(&url, 0);
    char what[96], suffix[ITSM_SYS_ID_LEN + 2];
    what_of(what, sizeof what, "DELETE", table);
    tb_err rc;
    if (!strcmp(table, "sys_attachment")) {
        snprintf(suffix, sizeof suffix, "/%s", sys_id);
        rc = sn_attachment_url(&url, s->cfg.servicenow_url, suffix, NULL);
    } else {
        rc = sn_table_url(&url, s->cfg.servicenow_url, table, sys_id, NULL);
    }
    if (!rc) {
        sn_call c = {.method = TB_HTTP_DELETE, .url = url.data, .what = what};
        rc = call(s, &c);
    }
    tb_buf_free(&url);
    return rc;
}

static void sn_close(itsm *h)
{
    sn *s = S(h);
    tb_http_client_free(s->http);
    sn_creds_wipe(&s->creds);
    free(s);
}

static const struct itsm_ops sn_ops = {
    .name = "servicenow",
    .create = sn_create,
    .get = sn_get,
    .update = sn_update,
    .find_task = sn_find_task,
    .query = sn_query,
    .add_journal = sn_add_journal,
    .attach = sn_attach,
    .close = sn_close,
    .remove = sn_remove,
};

tb_err itsm_servicenow_open(const tb_config *cfg, itsm **out, char *err, size_t errsz)
{
    *out = NULL;
    if (!cfg->servicenow_url[0]) {
        tb_errmsg(err, errsz, "ticket_store = servicenow needs servicenow_url");
        return TB_ERR_CONFIG;
    }
    int oauth = cfg->servicenow_oauth_client_id[0] != '\0';
    if (!oauth && (!cfg->servicenow_user[0] || !cfg->servicenow_password_file[0])) {
        tb_errmsg(err, errsz, "ticket_store = servicenow needs servicenow_user and "
                  "servicenow_password_file, or servicenow_oauth_client_id");
        return TB_ERR_CONFIG;
    }
    if (oauth && !cfg->servicenow_oauth_client_secret_file[0]) {
        tb_errmsg(err, errsz, "servicenow_oauth_client_id needs servicenow_oauth_client_secret_file");
        return TB_ERR_CONFIG;
    }
    sn *s = calloc(1, sizeof *s);
    if (!s)
        return TB_ERR_NOMEM;
    s->base.ops = &sn_ops;
    s->retry_after_ms = -1;
    s->cfg = *cfg;
    s->creds = (sn_creds){.base = s->cfg.servicenow_url, .user = s->cfg.servicenow_user,
                          .client_id = s->cfg.servicenow_oauth_client_id,
                          .ca_file = s->cfg.servicenow_ca_file,
                          .proxy = !s->cfg.servicenow_proxy[0] ? NULL
                                   : !strcmp(s->cfg.servicenow_proxy, "none") ? ""
                                   : s->cfg.servicenow_proxy,
                          .timeout_ms = s->cfg.servicenow_timeout_ms};
    tb_err rc = TB_OK;
    if (s->cfg.servicenow_password_file[0])
        rc = sn_read_secret_file(s->cfg.servicenow_password_file, &s->creds.password, err, errsz);
    if (!rc && oauth)
        rc = sn_read_secret_file(s->cfg.servicenow_oauth_client_secret_file,
                                 &s->creds.client_secret, err, errsz);
    if (!rc && (rc = tb_http_client_new(&s->http)))
        tb_errmsg(err, errsz, "cannot start the HTTP client: %s", tb_strerror(rc));
    if (rc) {
        sn_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return TB_OK;
}

tb_err itsm_servicenow_deadline(itsm *h, int ms)
{
    if (!h || h->ops != &sn_ops || ms < 0)
        return TB_ERR_INVALID;
    S(h)->deadline_ns = ms ? mono_ns() + (int64_t)ms * 1000000 : 0;
    return TB_OK;
}

long itsm_servicenow_retry_after_ms(itsm *h)
{
    return h && h->ops == &sn_ops ? S(h)->retry_after_ms : -1;
}

const char *itsm_servicenow_errmsg(itsm *h)
{
    return h && h->ops == &sn_ops ? S(h)->err : NULL;
}

tb_err itsm_servicenow_journal_once(itsm *h, const char *table, const char *sys_id,
                                    const char *element, const char *marker, const char *text,
                                    int *written)
{
    *written = 0;
    if (!h || h->ops != &sn_ops || !marker || !*marker || strchr(marker, '^') ||
        !itsm_is_known_table(table) || !is_hex_id(sys_id))
        return TB_ERR_INVALID;
    sn *s = S(h);
    tb_buf q;
    tb_buf_init(&q, 0);
    tb_err rc = tb_buf_printf(&q, "element_id=%s^element=%s^valueLIKE%s", sys_id, element, marker);
    itsm_record **v = NULL;
    size_t n = 0;
    if (!rc)
        rc = list(s, "sys_journal_field", q.data, "sys_id", 1, 0, &v, &n);
    itsm_records_free(v, n);
    tb_buf_free(&q);
    if (rc || n)
        return rc;
    rc = itsm_add_journal(h, table, sys_id, element, text, NULL);
    *written = !rc;
    return rc;
}
