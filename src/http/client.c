#include "http/client.h"

#include <ctype.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#ifndef TB_VERSION
#define TB_VERSION "dev"
#endif

struct tb_http_client {
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
};

/* Per-request transfer state shared with the curl callbacks. */
typedef struct xfer {
    CURL *curl;
    const tb_http_request *rq;
    tb_http_response *rs;
    int ok;                 /* -1 unknown, 0 non-2xx (divert body), 1 deliver */
    size_t err_len;
    tb_err sink_err;        /* why the write callback aborted */
} xfer;


static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc = CURLE_FAILED_INIT;

static void global_init_once(void)
{
    g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

tb_err tb_http_client_global_init(void)
{
    pthread_once(&g_once, global_init_once);
    return g_init_rc == CURLE_OK ? TB_OK : TB_ERR_HTTP;
}

void tb_http_client_global_cleanup(void)
{
    if (g_init_rc == CURLE_OK)
        curl_global_cleanup();
}

tb_err tb_http_client_new(tb_http_client **out)
{
    *out = NULL;
    tb_err rc = tb_http_client_global_init();
    if (rc)
        return rc;
    tb_http_client *c = calloc(1, sizeof *c);
    if (!c)
        return TB_ERR_NOMEM;
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c);
        return TB_ERR_NOMEM;
    }
    *out = c;
    return TB_OK;
}

void tb_http_client_free(tb_http_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    free(c);
}

/* "host[:port]" of a URL, for messages (userinfo dropped). */
static void url_host(const char *url, char *out, size_t outsz)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t len = size * nmemb;
    if (x->ok < 0) {
        long st = 0;
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &st);
        x->ok = st >= 200 && st < 300;
    }
    if (!x->ok) { /* keep the start of an error body, drop the rest */
        size_t room = sizeof x->rs->err_body - 1 - x->err_len;
        size_t n = len < room ? len : room;
        memcpy(x->rs->err_body + x->err_len, data, n);
        x->err_len += n;
        x->rs->err_body[x->err_len] = '\0';
        if (x->rq->error_body && x->rq->error_body->len < x->rq->error_body->max) {
            size_t space = x->rq->error_body->max - x->rq->error_body->len;
            (void)tb_buf_append(x->rq->error_body, data, len < space ? len : space);
        }
        return len;
    }
    if (x->rq->on_chunk) {
        tb_err rc = x->rq->on_chunk(x->rq->chunk_ctx, data, len);
        if (rc) {
            x->sink_err = rc;
            return len ? 0 : 1; /* anything != len aborts */
        }
    } else if (x->rq->body) {
        tb_err rc = tb_buf_append(x->rq->body, data, len);
        if (rc) {
            x->sink_err = rc;
            return len ? 0 : 1;
        }
    }
    return len;
}

static void trim_copy(char *out, size_t outsz, const char *p, size_t n)
{
    while (n && isspace((unsigned char)*p)) {
        p++;
        n--;
    }
    while (n && isspace((unsigned char)p[n - 1]))
        n--;
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t len = size * nmemb;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) { /* a new (possibly interim) answer */
        x->rs->retry_after = -1;
        x->rs->content_type[0] = '\0';
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon)
        return len;
    size_t nl = (size_t)(colon - data);
    const char *v = colon + 1;
    size_t vl = len - nl - 1;
    if (nl == 12 && strncasecmp(data, "Content-Type", 12) == 0) {
        trim_copy(x->rs->content_type, sizeof x->rs->content_type, v, vl);
    } else if (nl == 11 && strncasecmp(data, "Retry-After", 11) == 0) {
        char tmp[64];
        trim_copy(tmp, sizeof tmp, v, vl);
        if (tmp[0] >= '0' && tmp[0] <= '9') {
            char *end;
            long s = strtol(tmp, &end, 10);
            if (*end == '\0' && s >= 0)
                x->rs->retry_after = s;
        } else if (tmp[0]) {
            time_t when = curl_getdate(tmp, NULL);
            if (when != (time_t)-1) {
                time_t now = time(NULL);
                x->rs->retry_after = when > now ? (long)(when - now) : 0;
            }
        }
    }
    return len;
}

/* Wipes header strings (they may carry credentials) before freeing them. */
static void slist_wipe_free(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next)
        sodium_memzero(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

static tb_err add_header(struct curl_slist **l, const char *h)
{
    struct curl_slist *n = curl_slist_append(*l, h);
    if (!n)
        return TB_ERR_NOMEM;
    *l = n;
    return TB_OK;
}

/* Builds the request's auth header into a wiped-after-use buffer. */
static tb_err auth_header(const tb_http_request *rq, struct curl_slist **l)
{
    if (rq->bearer) {
        if (strpbrk(rq->bearer, "\r\n"))
            return TB_ERR_INVALID;
        size_t n = strlen(rq->bearer) + 32;
        char *h = malloc(n);
        if (!h)
            return TB_ERR_NOMEM;
        snprintf(h, n, "Authorization: Bearer %s", rq->bearer);
        tb_err rc = add_header(l, h);
        sodium_memzero(h, n);
        free(h);
        return rc;
    }
    if (rq->basic_user && rq->basic_pass) {
        size_t ul = strlen(rq->basic_user), pl = strlen(rq->basic_pass);
        size_t rawn = ul + 1 + pl;
        char *raw = malloc(rawn + 1);
        size_t b64n = sodium_base64_ENCODED_LEN(rawn, sodium_base64_VARIANT_ORIGINAL);
        char *h = malloc(b64n + 32);
        if (!raw || !h) {
            free(raw);
            free(h);
            return TB_ERR_NOMEM;
        }
        memcpy(raw, rq->basic_user, ul);
        raw[ul] = ':';
        memcpy(raw + ul + 1, rq->basic_pass, pl);
        strcpy(h, "Authorization: Basic ");
        size_t off = strlen(h);
        sodium_bin2base64(h + off, b64n, (const unsigned char *)raw, rawn,
                          sodium_base64_VARIANT_ORIGINAL);
        tb_err rc = add_header(l, h);
        sodium_memzero(raw, rawn + 1);
        sodium_memzero(h, b64n + 32);
        free(raw);
        free(h);
        return rc;
    }
    return TB_OK;
}

static tb_err map_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return TB_ERR_TIMEOUT;
    case CURLE_OUT_OF_MEMORY:
        return TB_ERR_NOMEM;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return TB_ERR_INVALID;
    default:
        return TB_ERR_HTTP;
    }
}

#define SETOPT(opt, val)                                                                     \
    do {                                                                                     \
        if (cc == CURLE_OK)                                                                  \
            cc = curl_easy_setopt(curl, opt, val);                                           \
    } while (0)

tb_err tb_http_perform(tb_http_client *c, const tb_http_request *rq, tb_http_response *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->retry_after = -1;
    if (!c || !rq || !rq->url) {
        tb_errmsg(rs->err, sizeof rs->err, "HTTP request without a URL");
        return TB_ERR_INVALID;
    }
    if (rq->body && rq->on_chunk) {
        tb_errmsg(rs->err, sizeof rs->err, "HTTP request with two response sinks");
        return TB_ERR_INVALID;
    }
    if (rq->body && rq->body->max == 0) {
        tb_errmsg(rs->err, sizeof rs->err, "HTTP response buffer without a size cap");
        return TB_ERR_INVALID;
    }
    char host[128];
    url_host(rq->url, host, sizeof host);

    CURL *curl = c->curl;
    curl_easy_reset(curl);
    c->errbuf[0] = '\0';
    xfer x = {.curl = curl, .rq = rq, .rs = rs, .ok = -1};
    struct curl_slist *hdrs = NULL;
    tb_err rc = auth_header(rq, &hdrs);
    if (!rc)
        rc = add_header(&hdrs, "Expect:");  /* no 100-continue round trip */
    for (size_t i = 0; !rc && rq->headers && rq->headers[i]; i++)
        rc = strpbrk(rq->headers[i], "\r\n") ? TB_ERR_INVALID : add_header(&hdrs, rq->headers[i]);
    if (!rc && rq->json)
        rc = add_header(&hdrs, "Content-Type: application/json");
    else if (!rc && rq->data) {
        char ct[300];
        const char *t = rq->content_type ? rq->content_type : "application/octet-stream";
        if (strpbrk(t, "\r\n") || strlen(t) > 255)
            rc = TB_ERR_INVALID;
        else {
            snprintf(ct, sizeof ct, "Content-Type: %s", t);
            rc = add_header(&hdrs, ct);
        }
    }
    if (rc) {
        slist_wipe_free(hdrs);
        tb_errmsg(rs->err, sizeof rs->err, "cannot build request headers: %s", tb_strerror(rc));
        return rc;
    }
    long cto = rq->connect_timeout_ms > 0 ? rq->connect_timeout_ms : TB_HTTP_CONNECT_TIMEOUT_MS;
    long tto = rq->timeout_ms > 0 ? rq->timeout_ms : TB_HTTP_TIMEOUT_MS;

    CURLcode cc = CURLE_OK;
    SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_URL, rq->url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_MAXREDIRS, 0L);
    SETOPT(CURLOPT_UNRESTRICTED_AUTH, 0L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, cto);
    SETOPT(CURLOPT_TIMEOUT_MS, tto);
    SETOPT(CURLOPT_SSL_VERIFYPEER, rq->tls_no_verify ? 0L : 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, rq->tls_no_verify ? 0L : 2L);
    if (rq->ca_bundle && rq->ca_bundle[0])
        SETOPT(CURLOPT_CAINFO, rq->ca_bundle);
    if (rq->proxy)
        SETOPT(CURLOPT_PROXY, rq->proxy);
    SETOPT(CURLOPT_FORBID_REUSE, rq->forbid_reuse ? 1L : 0L);
    SETOPT(CURLOPT_FRESH_CONNECT, rq->forbid_reuse ? 1L : 0L);
    SETOPT(CURLOPT_USERAGENT, "ticketbridge/" TB_VERSION);
    SETOPT(CURLOPT_HTTPHEADER, hdrs);
    SETOPT(CURLOPT_WRITEFUNCTION, on_write);
    SETOPT(CURLOPT_WRITEDATA, &x);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, &x);
    if (rq->method == TB_HTTP_GET) {
        SETOPT(CURLOPT_HTTPGET, 1L);
    } else if (rq->method == TB_HTTP_DELETE) {
        SETOPT(CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        const char *body = rq->json ? rq->json : rq->data ? (const char *)rq->data : rq->form ? rq->form : "";
        size_t blen = rq->json || !rq->data ? strlen(body) : rq->data_len;
        SETOPT(CURLOPT_POST, 1L);
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
        SETOPT(CURLOPT_POSTFIELDS, body);
        if (rq->method == TB_HTTP_PUT)
            SETOPT(CURLOPT_CUSTOMREQUEST, "PUT");
        else if (rq->method == TB_HTTP_PATCH)
            SETOPT(CURLOPT_CUSTOMREQUEST, "PATCH");
    }
    if (cc != CURLE_OK) {
        slist_wipe_free(hdrs);
        tb_errmsg(rs->err, sizeof rs->err, "cannot set up request to %s: %s", host,
                 curl_easy_strerror(cc));
        return map_curl(cc);
    }

    cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &rs->status);
    /* The request's header list lives until here; the handle keeps no copy
     * after the next reset. */
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    slist_wipe_free(hdrs);

    if (cc == CURLE_WRITE_ERROR && x.sink_err) {
        if (x.sink_err == TB_ERR_TOO_LARGE && rq->body)
            tb_errmsg(rs->err, sizeof rs->err,
                     "response from %s is larger than the %zu-byte limit", host, rq->body->max);
        else
            tb_errmsg(rs->err, sizeof rs->err, "response from %s rejected: %s", host,
                     tb_strerror(x.sink_err));
        return x.sink_err;
    }
    if (cc != CURLE_OK) {
        const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);
        tb_errmsg(rs->err, sizeof rs->err, "request to %s failed: %s", host, why);
        return map_curl(cc);
    }
    if (rs->status < 200 || rs->status > 299) {
        tb_errmsg(rs->err, sizeof rs->err, "HTTP %ld from %s", rs->status, host);
        return TB_ERR_HTTP;
    }
    return TB_OK;
}

tb_err tb_http_form_add(tb_buf *form, const char *name, const char *value)
{
    if (!name || !*name)
        return TB_ERR_INVALID;
    char *n = curl_easy_escape(NULL, name, 0);
    char *v = curl_easy_escape(NULL, value ? value : "", 0);
    tb_err rc = TB_ERR_NOMEM;
    if (n && v)
        rc = tb_buf_printf(form, "%s%s=%s", form->len ? "&" : "", n, v);
    curl_free(n);
    curl_free(v);
    return rc;
}
