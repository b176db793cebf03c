/* HTTP client, OAuth token cache and appliance API calls against a real btsim
 * process (and, for answers btsim never gives, a tiny canned HTTP server).
 * btsim is found through $BTSIM_BIN, else as ../btsim next to this binary's
 * directory; without it the btsim tests are skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bt/api.h"
#include "bt/oauth.h"
#include "core/buf.h"
#include "http/client.h"

#define LSID_FILE "0123456789abcdef0123456789abcdef"

/* ------------------------------------------------------------------ helpers */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static const char *tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

static const char *btsim_path(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("BTSIM_BIN");
    if (env && *env)
        return access(env, X_OK) == 0 ? env : NULL;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return NULL;
    self[n] = '\0';
    snprintf(path, sizeof path, "%s/../btsim", dirname(self));
    return access(path, X_OK) == 0 ? path : NULL;
}

typedef struct fixture {
    pid_t pid;
    int port;
    char base[64];
    char report_path[PATH_MAX];
    bt_oauth_cache *cache;
    tb_http_client *http;
    bt_conn conn;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(bt_oauth_cache_new(&f->cache), TB_OK);
    assert_int_equal(tb_http_client_new(&f->http), TB_OK);
    f->conn.appliance_id = 1;
    f->conn.base_url = f->base;
    f->conn.client_id = "btsim-client";
    f->conn.client_secret = "btsim-secret";
    f->conn.connect_timeout_ms = 2000;
    f->conn.timeout_ms = 5000;
    f->conn.report_timeout_ms = 10000;
    *state = f;
    return 0;
}

static void stop_btsim(fixture *f)
{
    if (f->pid <= 0)
        return;
    kill(f->pid, SIGTERM);
    int64_t until = now_ms() + 5000;
    int st;
    while (waitpid(f->pid, &st, WNOHANG) == 0) {
        if (now_ms() > until) {
            kill(f->pid, SIGKILL);
            waitpid(f->pid, &st, 0);
            break;
        }
        sleep_ms(10);
    }
    f->pid = 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    stop_btsim(f);
    if (f->report_path[0])
        unlink(f->report_path);
    tb_http_client_free(f->http);
    bt_oauth_cache_free(f->cache);
    free(f);
    return 0;
}

/* Starts btsim with the given extra arguments (NULL-terminated); skips the
 * test when there is no btsim binary. */
static void start_btsim(fixture *f, ...)
{
    const char *bin = btsim_path();
    if (!bin) {
        print_message("btsim not found (set BTSIM_BIN or build the btsim target): skipping\n");
        skip();
    }
    static int seq;
    char port_file[PATH_MAX];
    snprintf(port_file, sizeof port_file, "%s/test_bt_api-%d-%d.port", tmpdir(), (int)getpid(),
             ++seq);
    unlink(port_file);
    const char *argv[40];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--port-file";
    argv[n++] = port_file;
    argv[n++] = "--quiet";
    va_list ap;
    va_start(ap, f);
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 38)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    f->pid = pid;
    int64_t until = now_ms() + 10000;
    for (;;) {
        FILE *fp = fopen(port_file, "r");
        if (fp) {
            int port = 0;
            int ok = fscanf(fp, "%d", &port);
            fclose(fp);
            if (ok == 1 && port > 0) {
                f->port = port;
                break;
            }
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            f->pid = 0;
            fail_msg("btsim exited before listening");
        }
        if (now_ms() > until)
            fail_msg("btsim did not write its port file in 10 s");
        sleep_ms(20);
    }
    unlink(port_file);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", f->port);
}

/* POST/GET on btsim's control API; returns the body (caller frees). */
static char *sim_call(fixture *f, tb_http_method m, const char *path_query)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->base, path_query);
    tb_buf b;
    tb_buf_init(&b, 1 << 20);
    tb_http_request rq = {.method = m, .url = url, .timeout_ms = 5000, .body = &b};
    tb_http_response rs;
    tb_err rc = tb_http_perform(f->http, &rq, &rs);
    if (rc)
        fail_msg("control call %s: %s", path_query, rs.err);
    return tb_buf_take(&b);
}

static void sim_fault(fixture *f, const char *spec)
{
    char q[128];
    snprintf(q, sizeof q, "/_btsim/faults?spec=%s", spec);
    free(sim_call(f, TB_HTTP_POST, q));
}

static long sim_stat(fixture *f, const char *key)
{
    char *s = sim_call(f, TB_HTTP_GET, "/_btsim/stats");
    json_t *j = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(j);
    json_t *v = json_object_get(j, key);
    assert_true(json_is_integer(v));
    long r = (long)json_integer_value(v);
    json_decref(j);
    return r;
}

static tb_err command(fixture *f, const char *action, bt_api_result *res)
{
    tb_buf out;
    tb_err rc = bt_api_command(f->cache, f->http, &f->conn, action, NULL, 0, &out, res);
    tb_buf_free(&out);
    return rc;
}

typedef struct collect {
    tb_buf all;
    int chunks;
    int fail_after;     /* > 0: return TB_ERR_TOO_LARGE on that chunk */
} collect;

static tb_err on_chunk(void *ctx, const char *data, size_t len)
{
    collect *c = ctx;
    c->chunks++;
    if (c->fail_after && c->chunks >= c->fail_after)
        return TB_ERR_TOO_LARGE;
    return tb_buf_append(&c->all, data, len);
}

/* ----------------------------------------------- tiny canned HTTP server */

typedef struct canned {
    int fd, port;
    int n;                      /* replies to serve, one connection each */
    const char *reply[8];
    int delay_ms[8];
    int served;
    char req_line[8][160];
    pthread_t th;
} canned;

static void *canned_main(void *arg)
{
    canned *c = arg;
    for (int i = 0; i < c->n; i++) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 8000) <= 0)
            break;
        int s = accept(c->fd, NULL, NULL);
        if (s < 0)
            break;
        char buf[8192];
        size_t len = 0;
        ssize_t r;
        char *hend = NULL;
        while (!hend && len < sizeof buf - 1 && (r = recv(s, buf + len, sizeof buf - 1 - len, 0)) > 0) {
            len += (size_t)r;
            buf[len] = '\0';
            hend = strstr(buf, "\r\n\r\n");
        }
        if (hend) {
            const char *cl = strstr(buf, "\r\nContent-Length:");
            size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
            size_t have = len - (size_t)(hend + 4 - buf);
            while (have < want && (r = recv(s, buf, sizeof buf, 0)) > 0)
                have += (size_t)r;
            size_t ll = strcspn(buf, "\r");
            snprintf(c->req_line[i], sizeof c->req_line[i], "%.*s", (int)ll, buf);
        }
        if (c->delay_ms[i])
            sleep_ms(c->delay_ms[i]);
        const char *rep = c->reply[i];
        (void)!send(s, rep, strlen(rep), MSG_NOSIGNAL);
        close(s);
        c->served++;
    }
    return NULL;
}

static void canned_start(canned *c, fixture *f)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(c->fd, 16), 0);
    socklen_t al = sizeof a;
    getsockname(c->fd, (struct sockaddr *)&a, &al);
    c->port = ntohs(a.sin_port);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", c->port);
    assert_int_equal(pthread_create(&c->th, NULL, canned_main, c), 0);
}

static void canned_stop(canned *c)
{
    pthread_join(c->th, NULL);
    close(c->fd);
}

#define TOKEN_OK(tok, type, ttl)                                                              \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"          \
    "{\"access_token\":\"" tok "\",\"token_type\":\"" type "\",\"expires_in\":" ttl "}"

/* ----------------------------------------------------------- no btsim needed */

static void test_base_url(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } ok[] = {
        {"host", "https://host"},
        {"support.example.com", "https://support.example.com"},
        {"host:8443", "https://host:8443"},
        {"  host.example.com/ ", "https://host.example.com"},
        {"http://127.0.0.1:9443", "http://127.0.0.1:9443"},
        {"HTTPS://Host/", "https://Host"},
        {"https://host", "https://host"},
        {"[::1]:9443", "https://[::1]:9443"},
        {"http://[fe80::1]", "http://[fe80::1]"},
        {"10.0.0.5", "https://10.0.0.5"},
    };
    char out[BT_API_URL_MAX];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(bt_api_base_url(ok[i].in, out, sizeof out), TB_OK);
        assert_string_equal(out, ok[i].out);
    }
    static const char *bad[] = {
        "", "   ", "/", "ftp://host", "file:///etc/passwd", "https://", "host:0", "host:65536",
        "host:", "host:12a", "https://user:pw@host", "host/api", "host?x=1", "host#f", "ho st",
        "[::1", "[]:443", "https://host/path/", "javascript:alert(1)", ":443",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bt_api_base_url(bad[i], out, sizeof out) != TB_ERR_INVALID)
            fail_msg("accepted bad hostname \"%s\" as %s", bad[i], out);
    }
    char tiny[12];
    assert_int_equal(bt_api_base_url("a-very-long-host.example.com", tiny, sizeof tiny),
                     TB_ERR_TOO_LARGE);
    assert_int_equal(bt_api_base_url(NULL, out, sizeof out), TB_ERR_INVALID);
}

static void test_form_encoding(void **state)
{
    (void)state;
    tb_buf b;
    tb_buf_init(&b, 1024);
    assert_int_equal(tb_http_form_add(&b, "generate_report", "SupportSession"), TB_OK);
    assert_int_equal(tb_http_form_add(&b, "session.custom.x", "a&b=c d/é"), TB_OK);
    assert_int_equal(tb_http_form_add(&b, "empty", NULL), TB_OK);
    assert_string_equal(b.data,
                        "generate_report=SupportSession&session.custom.x=a%26b%3Dc%20d%2F%C3%A9&empty=");
    assert_int_equal(tb_http_form_add(&b, "", "x"), TB_ERR_INVALID);
    tb_buf_free(&b);
}

static void test_http_rejects_other_schemes(void **state)
{
    fixture *f = *state;
    tb_buf b;
    tb_buf_init(&b, 1024);
    tb_http_request rq = {.method = TB_HTTP_GET, .url = "file:///etc/hostname", .body = &b};
    tb_http_response rs;
    assert_int_equal(tb_http_perform(f->http, &rq, &rs), TB_ERR_INVALID);
    assert_int_equal(b.len, 0);
    tb_buf unlimited;
    tb_buf_init(&unlimited, 0);
    rq.url = "http://127.0.0.1:1/";
    rq.body = &unlimited;
    assert_int_equal(tb_http_perform(f->http, &rq, &rs), TB_ERR_INVALID); /* no cap, no call */
    tb_buf_free(&b);
}

static void test_unreachable(void **state)
{
    fixture *f = *state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s); /* nobody listens there now */
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", ntohs(a.sin_port));
    bt_api_result res;
    assert_int_equal(command(f, "check_health", &res), TB_ERR_HTTP);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.err, "127.0.0.1"));
    assert_non_null(strstr(res.err, "OAuth token request"));
    print_message("unreachable: %s\n", res.err);
}

/* ------------------------------------------------------------ with btsim */

static void test_token_reused(void **state)
{
    fixture *f = *state;
    start_btsim(f, NULL);
    for (int i = 0; i < 20; i++) {
        bt_api_result res;
        tb_buf out;
        assert_int_equal(bt_api_command(f->cache, f->http, &f->conn, "check_health", NULL, 0,
                                        &out, &res), TB_OK);
        assert_int_equal(res.status, 200);
        assert_non_null(strstr(out.data, "check_health"));
        tb_buf_free(&out);
    }
    assert_int_equal(sim_stat(f, "tokens_issued"), 1);
    assert_int_equal(sim_stat(f, "tokens_live"), 1);
    assert_int_equal(sim_stat(f, "token_rejects"), 0);
}

typedef struct worker {
    fixture *f;
    pthread_barrier_t *bar;
    tb_err rc;
    char tok[BT_OAUTH_TOKEN_MAX];
    char err[256];
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    tb_http_client *http;
    if (tb_http_client_new(&http) != TB_OK) {
        w->rc = TB_ERR_NOMEM;
        return NULL;
    }
    pthread_barrier_wait(w->bar);
    w->rc = bt_oauth_get(w->f->cache, http, &w->f->conn, w->tok, sizeof w->tok, NULL, w->err,
                         sizeof w->err);
    if (w->rc == TB_OK) { /* and use it: one API call per thread */
        bt_api_result res;
        tb_buf out;
        w->rc = bt_api_command(w->f->cache, http, &w->f->conn, "check_health", NULL, 0, &out, &res);
        tb_buf_free(&out);
    }
    tb_http_client_free(http);
    return NULL;
}

static void run_workers(fixture *f, worker *w, int n)
{
    pthread_t th[16];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        w[i].f = f;
        w[i].bar = &bar;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
}

static void test_concurrent_single_refresh(void **state)
{
    fixture *f = *state;
    start_btsim(f, NULL);
    worker w[8] = {0};
    run_workers(f, w, 8);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(w[i].rc, TB_OK);
        assert_string_equal(w[i].tok, w[0].tok);
    }
    assert_int_equal(sim_stat(f, "tokens_issued"), 1);
    assert_int_equal(sim_stat(f, "api_requests"), 8);
}

static void *oauth_only_main(void *arg)
{
    worker *w = arg;
    tb_http_client *http;
    if (tb_http_client_new(&http) != TB_OK) {
        w->rc = TB_ERR_NOMEM;
        return NULL;
    }
    pthread_barrier_wait(w->bar);
    w->rc = bt_oauth_get(w->f->cache, http, &w->f->conn, w->tok, sizeof w->tok, NULL, w->err,
                         sizeof w->err);
    tb_http_client_free(http);
    return NULL;
}

/* A slow token endpoint: the 7 other threads must wait for the one refresh. */
static void test_concurrent_waiters_share_slow_refresh(void **state)
{
    fixture *f = *state;
    canned c = {.n = 1};
    c.reply[0] = TOKEN_OK("SlowToken123", "Bearer", "3600");
    c.delay_ms[0] = 300;
    canned_start(&c, f);
    pthread_t th[8];
    worker w[8] = {0};
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 8);
    for (int i = 0; i < 8; i++) {
        w[i].f = f;
        w[i].bar = &bar;
        assert_int_equal(pthread_create(&th[i], NULL, oauth_only_main, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    canned_stop(&c);
    assert_int_equal(c.served, 1);
    assert_string_equal(c.req_line[0], "POST /oauth2/token HTTP/1.1");
    for (int i = 0; i < 8; i++) {
        assert_int_equal(w[i].rc, TB_OK);
        assert_string_equal(w[i].tok, "SlowToken123");
    }
}

/* A failed refresh is shared too: 8 waiters, one 503, nobody asks again. */
static void test_concurrent_waiters_share_failure(void **state)
{
    fixture *f = *state;
    canned c = {.n = 1};
    c.reply[0] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    c.delay_ms[0] = 300;
    canned_start(&c, f);
    pthread_t th[8];
    worker w[8] = {0};
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 8);
    for (int i = 0; i < 8; i++) {
        w[i].f = f;
        w[i].bar = &bar;
        assert_int_equal(pthread_create(&th[i], NULL, oauth_only_main, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    canned_stop(&c);
    assert_int_equal(c.served, 1);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(w[i].rc, TB_ERR_HTTP);
        assert_non_null(strstr(w[i].err, "503"));
    }
}

static void test_expired_token_refreshed_once(void **state)
{
    fixture *f = *state;
    start_btsim(f, NULL);
    bt_api_result res;
    assert_int_equal(command(f, "check_health", &res), TB_OK);
    sim_fault(f, "expire-tokens");
    assert_int_equal(command(f, "check_health", &res), TB_OK);
    assert_int_equal(res.status, 200);
    assert_int_equal(sim_stat(f, "tokens_issued"), 2);
    assert_int_equal(sim_stat(f, "token_rejects"), 1);
    assert_int_equal(command(f, "check_health", &res), TB_OK);
    assert_int_equal(sim_stat(f, "tokens_issued"), 2);
}

static void test_refresh_before_expiry(void **state)
{
    fixture *f = *state;
    start_btsim(f, "--token-ttl", "3", NULL);
    bt_api_result res;
    assert_int_equal(command(f, "check_health", &res), TB_OK);
    assert_int_equal(command(f, "check_health", &res), TB_OK);
    assert_int_equal(sim_stat(f, "tokens_issued"), 1);
    sleep_ms(1700); /* past half of the 3 s lifetime, before expiry */
    assert_int_equal(command(f, "check_health", &res), TB_OK);
    assert_int_equal(sim_stat(f, "tokens_issued"), 2);
    assert_int_equal(sim_stat(f, "token_rejects"), 0); /* refreshed early, never refused */
}

static void test_bad_secret_denied(void **state)
{
    fixture *f = *state;
    start_btsim(f, NULL);
    f->conn.client_secret = "wrong-secret";
    char tok[BT_OAUTH_TOKEN_MAX], err[256];
    assert_int_equal(bt_oauth_get(f->cache, f->http, &f->conn, tok, sizeof tok, NULL, err,
                                  sizeof err), TB_ERR_DENIED);
    assert_string_equal(err, BT_OAUTH_DENIED_MSG);
    assert_string_equal(err, "appliance refused the OAuth client id/secret: check the API "
                             "account's OAuth client id and secret");
    collect c = {0};
    tb_buf_init(&c.all, 1 << 20);
    bt_api_result res;
    bt_param p[] = {{"end_time", "0"}, {"duration", "0"}};
    assert_int_equal(bt_api_report(f->cache, f->http, &f->conn, "SupportSession", p, 2, on_chunk,
                                   &c, &res), TB_ERR_DENIED);
    assert_string_equal(res.err, BT_OAUTH_DENIED_MSG);
    assert_int_equal(c.chunks, 0);
    tb_buf_free(&c.all);
    assert_int_equal(sim_stat(f, "tokens_issued"), 0);
}

/* A changed secret drops the cached token: the old one is not reused. */
static void test_secret_change_drops_token(void **state)
{
    fixture *f = *state;
    start_btsim(f, NULL);
    bt_api_result res;
    assert_int_equal(command(f, "check_health", &res), TB_OK);
    f->conn.client_secret = "rotated-secret";
    assert_int_equal(command(f, "check_health", &res), TB_ERR_DENIED);
    f->conn.client_secret = "btsim-secret";
    assert_int_equal(command(f, "check_health", &res), TB_OK);
    assert_int_equal(sim_stat(f, "tokens_issued"), 2);
}

static void test_token_5xx(void **state)
{
    fixture *f = *state;
    start_btsim(f, NULL);
    sim_fault(f, "token-5xx:1");
    bt_api_result res;
    assert_int_equal(command(f, "check_health", &res), TB_ERR_HTTP);
    assert_non_null(strstr(res.err, "503"));
    print_message("token-5xx: %s\n", res.err);
    assert_int_equal(command(f, "check_health", &res), TB_OK);
    assert_int_equal(sim_stat(f, "tokens_issued"), 1);
}

static void test_report_5xx(void **state)
{
    fixture *f = *state;
    start_btsim(f, "--sessions", "2", NULL);
    sim_fault(f, "report-5xx:1");
    collect c = {0};
    tb_buf_init(&c.all, 1 << 20);
    bt_api_result res;
    bt_param p[] = {{"end_time", "0"}, {"duration", "0"}};
    assert_int_equal(bt_api_report(f->cache, f->http, &f->conn, "SupportSession", p, 2, on_chunk,
                                   &c, &res), TB_ERR_HTTP);
    assert_int_equal(res.status, 503);
    assert_non_null(strstr(res.err, "HTTP 503"));
    assert_int_equal(c.chunks, 0); /* the error page never reaches the parser */
    print_message("report-5xx: %s\n", res.err);
    assert_int_equal(bt_api_report(f->cache, f->http, &f->conn, "SupportSession", p, 2, on_chunk,
                                   &c, &res), TB_OK);
    assert_non_null(strstr(c.all.data, "<session_list"));
    tb_buf_free(&c.all);
}

static void test_report_streamed(void **state)
{
    fixture *f = *state;
    /* A ~600 KB report served verbatim for one lsid. */
    snprintf(f->report_path, sizeof f->report_path, "%s/test_bt_api-%d.xml", tmpdir(),
             (int)getpid());
    tb_buf want;
    tb_buf_init(&want, 0);
    assert_int_equal(tb_buf_appends(&want, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                           "<session_list xmlns=\"urn:x\"><session lsid=\"" LSID_FILE
                                           "\"><session_details>\n"), TB_OK);
    for (int i = 0; i < 6000; i++)
        assert_int_equal(tb_buf_printf(&want, "<event timestamp=\"%d\" event_type=\"Chat Message\">"
                                              "<body>line %d &amp; more é</body></event>\n",
                                       1700000000 + i, i), TB_OK);
    assert_int_equal(tb_buf_appends(&want, "</session_details></session></session_list>\n"), TB_OK);
    FILE *fp = fopen(f->report_path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(want.data, 1, want.len, fp), want.len);
    fclose(fp);
    char arg[PATH_MAX + 40];
    snprintf(arg, sizeof arg, "%s=%s", LSID_FILE, f->report_path);
    start_btsim(f, "--report-file", arg, NULL);

    collect c = {0};
    tb_buf_init(&c.all, 4 << 20);
    bt_api_result res;
    bt_param p[] = {{"lsid", LSID_FILE}};
    assert_int_equal(bt_api_report(f->cache, f->http, &f->conn, "SupportSession", p, 1, on_chunk,
                                   &c, &res), TB_OK);
    assert_int_equal(res.status, 200);
    assert_true(c.chunks > 1);
    assert_int_equal(c.all.len, want.len);
    assert_memory_equal(c.all.data, want.data, want.len);
    print_message("report of %zu bytes in %d chunks\n", want.len, c.chunks);

    /* The callback's error aborts the transfer and comes back as is. */
    collect c2 = {.fail_after = 2};
    tb_buf_init(&c2.all, 4 << 20);
    assert_int_equal(bt_api_report(f->cache, f->http, &f->conn, "SupportSession", p, 1, on_chunk,
                                   &c2, &res), TB_ERR_TOO_LARGE);
    assert_int_equal(c2.chunks, 2);
    tb_buf_free(&c2.all);
    tb_buf_free(&c.all);
    tb_buf_free(&want);
    assert_int_equal(sim_stat(f, "tokens_issued"), 1);
}

static void test_report_no_match_reaches_parser(void **state)
{
    fixture *f = *state;
    start_btsim(f, NULL);
    collect c = {0};
    tb_buf_init(&c.all, 1 << 20);
    bt_api_result res;
    bt_param p[] = {{"lsid", "ffffffffffffffffffffffffffffffff"}};
    assert_int_equal(bt_api_report(f->cache, f->http, &f->conn, "SupportSession", p, 1, on_chunk,
                                   &c, &res), TB_OK);
    assert_non_null(strstr(c.all.data, "<error"));
    tb_buf_free(&c.all);
}

static void test_command_over_cap(void **state)
{
    fixture *f = *state;
    start_btsim(f, NULL);
    f->conn.command_max = 64;
    bt_api_result res;
    tb_buf out;
    assert_int_equal(bt_api_command(f->cache, f->http, &f->conn, "get_api_info", NULL, 0, &out,
                                    &res), TB_ERR_TOO_LARGE);
    assert_true(out.len <= 64);
    assert_non_null(strstr(res.err, "limit"));
    tb_buf_free(&out);
    f->conn.command_max = 0; /* default 1 MiB */
    assert_int_equal(bt_api_command(f->cache, f->http, &f->conn, "get_api_info", NULL, 0, &out,
                                    &res), TB_OK);
    assert_non_null(strstr(out.data, "api_information"));
    tb_buf_free(&out);
}

static void test_command_error_root(void **state)
{
    fixture *f = *state;
    start_btsim(f, NULL);
    bt_api_result res;
    tb_buf out;
    bt_param p[] = {{"lsid", "00000000000000000000000000000000"},
                    {"session.custom.external_key", "INC001 & <x>"}};
    assert_int_equal(bt_api_command(f->cache, f->http, &f->conn, "set_session_attributes", p, 2,
                                    &out, &res), TB_ERR_INVALID);
    assert_true(res.appliance_error);
    assert_int_equal(res.status, 200);
    assert_non_null(strstr(res.err, "appliance error: "));
    assert_non_null(strstr(out.data, "error"));
    print_message("command error: %s\n", res.err);
    tb_buf_free(&out);
}

static void test_drop_connection(void **state)
{
    fixture *f = *state;
    start_btsim(f, NULL);
    bt_api_result res;
    sim_fault(f, "drop-connection:1"); /* hits the token request */
    assert_int_equal(command(f, "check_health", &res), TB_ERR_HTTP);
    print_message("dropped token request: %s\n", res.err);
    assert_int_equal(command(f, "check_health", &res), TB_OK);
    sim_fault(f, "drop-connection:1"); /* hits the API call */
    assert_int_equal(command(f, "check_health", &res), TB_ERR_HTTP);
    assert_int_equal(res.status, 0);
    print_message("dropped API call: %s\n", res.err);
    assert_int_equal(command(f, "check_health", &res), TB_OK);
    assert_int_equal(sim_stat(f, "tokens_issued"), 1);
}

static void test_report_timeout(void **state)
{
    fixture *f = *state;
    start_btsim(f, "--sessions", "1", "--hang-seconds", "3", NULL);
    sim_fault(f, "report-timeout:1");
    f->conn.report_timeout_ms = 1000;
    collect c = {0};
    tb_buf_init(&c.all, 1 << 20);
    bt_api_result res;
    bt_param p[] = {{"end_time", "0"}, {"duration", "0"}};
    int64_t t0 = now_ms();
    assert_int_equal(bt_api_report(f->cache, f->http, &f->conn, "SupportSession", p, 2, on_chunk,
                                   &c, &res), TB_ERR_TIMEOUT);
    int64_t took = now_ms() - t0;
    assert_true(took >= 900 && took < 2900);
    print_message("report-timeout after %lld ms: %s\n", (long long)took, res.err);
    tb_buf_free(&c.all);
}

/* ------------------------------------------------- canned answers only */

static void test_api_401_twice_denied(void **state)
{
    fixture *f = *state;
    canned c = {.n = 4};
    const char *r401 = "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                       "Content-Length: 25\r\nConnection: close\r\n\r\n{\"error\":\"invalid_token\"}";
    c.reply[0] = TOKEN_OK("TokA", "bearer", "1799");
    c.reply[1] = r401;
    c.reply[2] = TOKEN_OK("TokB", "BEARER", "1799");
    c.reply[3] = r401;
    canned_start(&c, f);
    bt_api_result res;
    assert_int_equal(command(f, "check_health", &res), TB_ERR_DENIED);
    assert_string_equal(res.err, BT_OAUTH_DENIED_MSG);
    canned_stop(&c);
    assert_int_equal(c.served, 4);
    assert_string_equal(c.req_line[0], "POST /oauth2/token HTTP/1.1");
    assert_string_equal(c.req_line[1], "POST /api/command HTTP/1.1");
    assert_string_equal(c.req_line[2], "POST /oauth2/token HTTP/1.1");
    assert_string_equal(c.req_line[3], "POST /api/command HTTP/1.1");
}

static void test_busy_retry_after(void **state)
{
    fixture *f = *state;
    canned c = {.n = 4};
    c.reply[0] = TOKEN_OK("TokA", "bearer", "1799");
    c.reply[1] = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n";
    c.reply[2] = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n";
    c.reply[3] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n"
                 "Connection: close\r\n\r\noops";
    canned_start(&c, f);
    bt_api_result res;
    assert_int_equal(command(f, "check_health", &res), TB_ERR_BUSY);
    assert_int_equal(res.status, 429);
    assert_int_equal(res.retry_after, 7);
    assert_int_equal(command(f, "check_health", &res), TB_ERR_BUSY);
    assert_int_equal(res.retry_after, 2);
    assert_int_equal(command(f, "check_health", &res), TB_ERR_HTTP);
    assert_int_equal(res.status, 500);
    assert_int_equal(res.retry_after, -1);
    assert_non_null(strstr(res.err, "HTTP 500"));
    canned_stop(&c);
    assert_int_equal(c.served, 4); /* one token for all three calls */
}

static void test_token_answer_checked(void **state)
{
    fixture *f = *state;
    canned c = {.n = 3};
    c.reply[0] = TOKEN_OK("TokA", "mac", "3600");
    c.reply[1] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                 "{\"access_token\":\"bad\\r\\nX-Injected: 1\",\"token_type\":\"Bearer\"}";
    c.reply[2] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nnot json";
    canned_start(&c, f);
    char tok[BT_OAUTH_TOKEN_MAX], err[256];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(bt_oauth_get(f->cache, f->http, &f->conn, tok, sizeof tok, NULL, err,
                                      sizeof err), TB_ERR_HTTP);
        print_message("bad token answer %d: %s\n", i, err);
    }
    canned_stop(&c);
}

int main(void)
{
    tb_http_client_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_url),
        cmocka_unit_test(test_form_encoding),
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_http_rejects_other_schemes),
        T(test_unreachable),
        T(test_concurrent_waiters_share_slow_refresh),
        T(test_concurrent_waiters_share_failure),
        T(test_api_401_twice_denied),
        T(test_busy_retry_after),
        T(test_token_answer_checked),
        T(test_token_reused),
        T(test_concurrent_single_refresh),
        T(test_expired_token_refreshed_once),
        T(test_refresh_before_expiry),
        T(test_bad_secret_denied),
        T(test_secret_change_drops_token),
        T(test_token_5xx),
        T(test_report_5xx),
        T(test_report_streamed),
        T(test_report_no_match_reaches_parser),
        T(test_command_over_cap),
        T(test_command_error_root),
        T(test_drop_connection),
        T(test_report_timeout),
#undef T
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tb_http_client_global_cleanup();
    return rc;
}
