/* epmsim utilities: strings, time, GUIDs, format checks, JSON input. */
#include "epmsim.h"
#include "sim_net.h"

#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(void)
{
    fputs("epmsim: out of memory\n", stderr);
    abort();
}

char *ep_strdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        oom();
    return d;
}

char *ep_strdupf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *out = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!out)
        oom();
    vsnprintf(out, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return out;
}

void ep_set_str(char **dst, const char *s)
{
    char *old = *dst;
    *dst = ep_strdup(s);
    ep_free_secret(old);
}

void ep_free_secret(char *s)
{
    if (!s)
        return;
    sodium_memzero(s, strlen(s));
    free(s);
}

void kvs_add(ep_kvs *l, const char *k, const char *v)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = realloc(l->items, l->cap * sizeof *l->items);
        if (!l->items)
            oom();
    }
    l->items[l->n].k = ep_strdup(k);
    l->items[l->n].v = ep_strdup(v ? v : "");
    l->n++;
}

const char *kvs_get(const ep_kvs *l, const char *k)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].k, k) == 0)
            return l->items[i].v;
    return NULL;
}

size_t kvs_count(const ep_kvs *l, const char *k)
{
    size_t c = 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].k, k) == 0)
            c++;
    return c;
}

void kvs_free(ep_kvs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].k);
        ep_free_secret(l->items[i].v);  /* form fields may carry the client secret */
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

double ep_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double ep_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void ep_sleep(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec ts = sim_deadline(seconds);
    pthread_mutex_lock(&E.stop_mu);
    while (!atomic_load(&E.stopping)) {
        if (pthread_cond_timedwait(&E.stop_cv, &E.stop_mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&E.stop_mu);
}

void ep_request_stop(void)
{
    pthread_mutex_lock(&E.stop_mu);
    atomic_store(&E.stopping, 1);
    pthread_cond_broadcast(&E.stop_cv);
    pthread_mutex_unlock(&E.stop_mu);
    pthread_mutex_lock(&E.qmu);
    pthread_cond_broadcast(&E.qcv);
    pthread_cond_broadcast(&E.qdone);
    pthread_mutex_unlock(&E.qmu);
}

void ep_hex(char *out, size_t nchars, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (size_t i = 0; i < nchars; i++)
        out[i] = digits[randombytes_uniform(16)];
    out[nchars] = 0;
}

/* Random version-4 GUID, lowercase. */
void ep_guid(char out[37])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

void ep_iso_ms(double t, char *out, size_t outsz)
{
    time_t s = (time_t)t;
    int ms = (int)((t - (double)s) * 1000);
    if (ms > 999)
        ms = 999;
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outsz, "%s.%03dZ", base, ms);
}

void ep_datetime(double t, char *out, size_t outsz)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, outsz, "%Y-%m-%d %H:%M:%S", &tm);
}

bool ep_is_guid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    if (strlen(s) != 36)
        return false;
    for (int i = 0, d = 0; i < 36; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-')
                return false;
            d++;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

void ep_lower_guid(const char *s, char out[37])
{
    size_t i = 0;
    for (; s[i] && i < 36; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = 0;
}

static bool digits(const char *s, int n, int *val)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *val = v;
    return true;
}

/* "YYYY-MM-DD HH:MM:SS": no T, no zone, no fraction (protocol A3). */
bool ep_is_decision_time(const char *s)
{
    if (strlen(s) != 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' ||
        s[16] != ':')
        return false;
    int y, mo, d, h, mi, se;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        se > 59)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(mo == 2 && d == 29 && !leap);
}

/* "Once" or a positive number of seconds, plain digits (protocol A3/A4). */
bool ep_is_duration(const char *s)
{
    if (strcmp(s, "Once") == 0)
        return true;
    size_t n = strlen(s);
    if (n == 0 || n > 9 || s[0] == '0')
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

json_t *ep_json_text(const char *p, size_t n)
{
    json_t *j = json_stringn(p, n);
    if (j)
        return j;
    tb_buf b;
    tb_buf_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f)
            tb_buf_append(&b, &p[i], 1);
        else
            tb_buf_printf(&b, "\\x%02x", c);
    }
    j = json_string(b.data ? b.data : "");
    tb_buf_free(&b);
    return j;
}

json_t *ep_parse_object(const ep_req *r, char *why, size_t whysz)
{
    if (r->body.len == 0) {
        snprintf(why, whysz, "the body must be a JSON object");
        return NULL;
    }
    json_error_t err;
    json_t *j = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        snprintf(why, whysz, "malformed JSON: %s (line %d, column %d)", err.text, err.line,
                 err.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(why, whysz, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

tb_err ep_check_keys(json_t *obj, const char *const *allowed, char *why, size_t whysz)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(k, allowed[i]) == 0)
                ok = true;
        if (!ok) {
            snprintf(why, whysz, "unknown field \"%.80s\"", k);
            return TB_ERR_INVALID;
        }
    }
    return TB_OK;
}

bool ep_json_number(json_t *v, double *out)
{
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

const char *req_header(const ep_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}
