/* The HTTP server's routing (exact and prefix routes) and response headers,
 * over loopback with libcurl as the client. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "http/server.h"

static void reply_name(tb_http_req *req)
{
    char body[512];
    snprintf(body, sizeof body, "%s %s", tb_http_route_name(req), tb_http_path(req));
    tb_http_reply(req, 200, "text/plain", body, strlen(body));
}

/* Handlers run on the server's threads: they record what went wrong and
 * the test thread asserts. */
static atomic_int header_failures;

static void check(bool ok)
{
    if (!ok)
        atomic_fetch_add(&header_failures, 1);
}

static void reply_headers(tb_http_req *req)
{
    check(tb_http_reply_header(req, "WWW-Authenticate", "Basic realm=\"ticketbridge\"") == TB_OK);
    tb_http_reply_error(req, 401, "Authentication required", "");
    /* after the reply is set too */
    check(tb_http_reply_header(req, "X-Total-Count", "42") == TB_OK);
    /* header injection and bad names are refused */
    check(tb_http_reply_header(req, "X-Evil", "a\r\nSet-Cookie: x=1") == TB_ERR_INVALID);
    check(tb_http_reply_header(req, "X-Evil", "a\nb") == TB_ERR_INVALID);
    check(tb_http_reply_header(req, "Bad Name", "v") == TB_ERR_INVALID);
    check(tb_http_reply_header(req, "Bad:Name", "v") == TB_ERR_INVALID);
    check(tb_http_reply_header(req, "", "v") == TB_ERR_INVALID);
    char name[16];
    for (int i = 2; i < TB_HTTP_MAX_HEADERS; i++) {
        snprintf(name, sizeof name, "X-N%d", i);
        check(tb_http_reply_header(req, name, "v") == TB_OK);
    }
    check(tb_http_reply_header(req, "X-One-Too-Many", "v") == TB_ERR_TOO_LARGE);
}

static const tb_route routes[] = {
    {"/a", TB_M_GET, 0, reply_name, "exact_a", false, false, NULL},
    {"/api/x/*", TB_M_GET, 0, reply_name, "prefix_x", false, false, NULL},
    {"/api/x/deep/*", TB_M_GET, 0, reply_name, "prefix_deep", false, false, NULL},
    {"/api/x/exact", TB_M_GET, 0, reply_name, "exact_x", false, false, NULL},
    {"/headers", TB_M_GET, 0, reply_headers, "headers", false, false, NULL},
    {0},
};

struct resp {
    long status;
    tb_buf body, headers;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
    tb_buf_append(&((struct resp *)ctx)->body, p, sz * n);
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ctx)
{
    tb_buf_append(&((struct resp *)ctx)->headers, p, sz * n);
    return sz * n;
}

static void get(int port, const char *path, struct resp *r)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    tb_buf_init(&r->body, 1 << 16);
    tb_buf_init(&r->headers, 1 << 16);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
}

static void resp_free(struct resp *r)
{
    tb_buf_free(&r->body);
    tb_buf_free(&r->headers);
}

static void expect(int port, const char *path, long status, const char *body_start)
{
    struct resp r;
    get(port, path, &r);
    assert_int_equal(r.status, status);
    if (body_start) {
        assert_non_null(r.body.data);
        if (strncmp(r.body.data, body_start, strlen(body_start)))
            fail_msg("%s: expected body starting '%s', got '%s'", path, body_start, r.body.data);
    }
    resp_free(&r);
}

static void test_routes_and_headers(void **state)
{
    (void)state;
    tb_http_options o = {
        .listen_address = "127.0.0.1",
        .threads = 2,
        .max_connections = 16,
        .connection_timeout = 5,
        .routes = routes,
    };
    tb_http_server *srv;
    assert_int_equal(tb_http_start(&o, &srv), TB_OK);
    int port = tb_http_port(srv);

    expect(port, "/a", 200, "exact_a /a");
    expect(port, "/a/", 404, NULL);
    expect(port, "/api/x/exact", 200, "exact_x /api/x/exact");      /* exact before prefix */
    expect(port, "/api/x/exact/more", 200, "prefix_x /api/x/exact/more");
    expect(port, "/api/x/INC0010001/session_key", 200, "prefix_x /api/x/INC0010001/session_key");
    expect(port, "/api/x/", 200, "prefix_x /api/x/");
    expect(port, "/api/x/deep", 200, "prefix_x /api/x/deep");
    expect(port, "/api/x/deep/1", 200, "prefix_deep /api/x/deep/1");  /* longest prefix */
    expect(port, "/api/x", 404, NULL);                                  /* the prefix needs its slash */
    expect(port, "/api/xy/1", 404, NULL);
    expect(port, "/api/x/*", 200, "prefix_x /api/x/*");
    expect(port, "/*", 404, NULL);
    expect(port, "/api/x/%2e%2e/secret", 200, "prefix_x");

    struct resp r;
    get(port, "/headers", &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.headers.data, "WWW-Authenticate: Basic realm=\"ticketbridge\"\r\n"));
    assert_non_null(strstr(r.headers.data, "X-Total-Count: 42\r\n"));
    assert_non_null(strstr(r.headers.data, "X-N7: v\r\n"));
    assert_null(strstr(r.headers.data, "X-Evil"));
    assert_null(strstr(r.headers.data, "Set-Cookie"));
    assert_null(strstr(r.headers.data, "X-One-Too-Many"));
    assert_int_equal(atomic_load(&header_failures), 0);
    resp_free(&r);
    /* headers belong to their request only */
    get(port, "/a", &r);
    assert_null(strstr(r.headers.data, "X-Total-Count"));
    resp_free(&r);
    tb_http_stop(srv);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_and_headers),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
