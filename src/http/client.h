/* Outbound HTTP client: a thin libcurl wrapper with timeouts, TLS verification
 * on by default, only http/https, no redirects followed, and response bodies
 * either collected into a capped tb_buf or streamed to a callback.
 *
 * Threads: call tb_http_client_global_init() once before starting threads
 * (tb_http_client_new calls it too, under pthread_once). A tb_http_client is
 * NOT thread-safe: give each thread its own handle. Handles are cheap; the
 * same handle may be reused for any number of requests, one at a time.
 *
 * Status codes: a 2xx answer returns TB_OK. Any other status returns
 * TB_ERR_HTTP with res->status set and the message "HTTP <status> from <host>";
 * the body of a non-2xx answer never reaches the caller's sink (so a report
 * parser never sees an error page), only the first bytes are kept in
 * res->err_body for diagnostics. Redirects are not followed (3xx → TB_ERR_HTTP).
 *
 * Secrets: auth values given in the request are put on the wire only; they are
 * never logged, and the header copies this module makes are wiped after use. */
#ifndef TB_HTTP_CLIENT_H
#define TB_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

#define TB_HTTP_CONNECT_TIMEOUT_MS 10000L   /* default when a request says 0 */
#define TB_HTTP_TIMEOUT_MS 60000L           /* default total time when a request says 0 */
#define TB_HTTP_ERRMSG 256
#define TB_HTTP_ERRBODY 512

typedef struct tb_http_client tb_http_client;

/* Receives the body of a 2xx answer chunk by chunk as it arrives (nothing is
 * buffered). A non-zero return aborts the transfer; tb_http_perform then
 * returns that same error. */
typedef tb_err (*tb_http_chunk_fn)(void *ctx, const char *data, size_t len);

typedef enum { TB_HTTP_GET, TB_HTTP_POST, TB_HTTP_PUT, TB_HTTP_PATCH, TB_HTTP_DELETE } tb_http_method;

/* All pointers are borrowed for the duration of tb_http_perform only. */
typedef struct tb_http_request {
    tb_http_method method;
    const char *url;            /* http:// or https:// only */
    const char *form;           /* POST body, already form-encoded (tb_http_form_add);
                                 * sent as application/x-www-form-urlencoded; NULL = empty */
    const char *json;           /* body sent as application/json instead of form (NUL-terminated) */
    const void *data;           /* raw body (POST, PUT, PATCH) instead of form, data_len bytes, */
    size_t data_len;            /* sent with content_type */
    const char *content_type;   /* "Content-Type: ..." for data; NULL = application/octet-stream */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated; CR/LF refused */
    const char *bearer;         /* "Authorization: Bearer <bearer>" when set */
    const char *basic_user;     /* "Authorization: Basic base64(user:pass)" when both set */
    const char *basic_pass;
    long connect_timeout_ms;    /* 0 = TB_HTTP_CONNECT_TIMEOUT_MS */
    long timeout_ms;            /* whole request; 0 = TB_HTTP_TIMEOUT_MS */
    const char *ca_bundle;      /* PEM file; NULL or "" = the system store */
    const char *proxy;          /* NULL = libcurl default (http_proxy/https_proxy/no_proxy
                                 * environment); "" = no proxy; else the proxy URL */
    bool tls_no_verify;         /* turns peer and host verification OFF; diagnostics only */
    bool forbid_reuse;          /* a fresh connection, closed afterwards (BeyondTrust asks
                                 * for it); otherwise connections are kept and reused */
    /* Response sink: exactly one of body / on_chunk (neither = body discarded). */
    tb_buf *body;               /* appended to; body->max must be non-zero (a cap);
                                 * over the cap → TB_ERR_TOO_LARGE */
    tb_http_chunk_fn on_chunk;
    void *chunk_ctx;
    tb_buf *error_body;         /* optional: a non-2xx body is appended here too, up to its cap
                                 * (the rest dropped), for APIs that explain errors in JSON */
} tb_http_request;

typedef struct tb_http_response {
    long status;                /* 0 if no HTTP answer was received */
    long retry_after;           /* seconds from Retry-After (delta or date), -1 if absent */
    char content_type[128];     /* "" if absent */
    char err[TB_HTTP_ERRMSG];   /* readable message whenever the return is not TB_OK */
    char err_body[TB_HTTP_ERRBODY]; /* start of a non-2xx body, NUL-terminated */
} tb_http_response;

tb_err tb_http_client_global_init(void);
/* At process exit, after every handle is freed (keeps leak checkers quiet). */
void tb_http_client_global_cleanup(void);

tb_err tb_http_client_new(tb_http_client **out);
void tb_http_client_free(tb_http_client *c);

/* Performs one request. rs is always filled (zeroed first).
 * Errors: TB_ERR_INVALID (bad request / URL / scheme), TB_ERR_TIMEOUT,
 * TB_ERR_TOO_LARGE (body over the cap), TB_ERR_HTTP (connect, TLS, protocol,
 * dropped connection, non-2xx status), TB_ERR_NOMEM, or the callback's error.
 * On an error after some chunks were delivered, the caller discards them. */
tb_err tb_http_perform(tb_http_client *c, const tb_http_request *rq, tb_http_response *rs);

/* Appends "name=value" (with a leading '&' when form is not empty) to form,
 * percent-encoding both (curl_easy_escape). */
tb_err tb_http_form_add(tb_buf *form, const char *name, const char *value);

#endif
