/* btsim helpers: key/value lists, deterministic RNG, XML escaping, time. */
#include "btsim.h"
#include "sim_net.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "btsim: out of memory\n");
        abort();
    }
    return q;
}

char *bt_strdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d) {
        fprintf(stderr, "btsim: out of memory\n");
        abort();
    }
    return d;
}

char *bt_strdupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *out = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!out) {
        fprintf(stderr, "btsim: out of memory\n");
        abort();
    }
    vsnprintf(out, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return out;
}

void kvs_add(bt_kvs *l, const char *k, const char *v)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = xrealloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->n].k = bt_strdup(k);
    l->items[l->n].v = bt_strdup(v ? v : "");
    l->n++;
}

void kvs_set(bt_kvs *l, const char *k, const char *v)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].k, k) == 0) {
            free(l->items[i].v);
            l->items[i].v = bt_strdup(v ? v : "");
            return;
        }
    }
    kvs_add(l, k, v);
}

void kvs_del(bt_kvs *l, const char *k)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].k, k) == 0) {
            free(l->items[i].k);
            free(l->items[i].v);
            memmove(&l->items[i], &l->items[i + 1], (l->n - i - 1) * sizeof *l->items);
            l->n--;
            return;
        }
    }
}

const char *kvs_get(const bt_kvs *l, const char *k)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].k, k) == 0)
            return l->items[i].v;
    return NULL;
}

void kvs_copy(bt_kvs *dst, const bt_kvs *src)
{
    if (!src)
        return;
    for (size_t i = 0; i < src->n; i++)
        kvs_add(dst, src->items[i].k, src->items[i].v);
}

void kvs_free(bt_kvs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].k);
        free(l->items[i].v);
    }
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

double bt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64: deterministic from --seed; callers hold G.mu. */
uint64_t bt_rand(void)
{
    uint64_t z = (G.rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint32_t bt_randn(uint32_t n)
{
    return n ? (uint32_t)(bt_rand() % n) : 0;
}

void bt_sleep(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec ts = sim_deadline(seconds);
    pthread_mutex_lock(&G.stop_mu);
    while (!G.stopping) {
        if (pthread_cond_timedwait(&G.stop_cv, &G.stop_mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&G.stop_mu);
}

void bt_request_stop(void)
{
    pthread_mutex_lock(&G.stop_mu);
    G.stopping = 1;
    pthread_cond_broadcast(&G.stop_cv);
    pthread_mutex_unlock(&G.stop_mu);
    pthread_mutex_lock(&G.qmu);
    pthread_cond_broadcast(&G.qcv);
    pthread_mutex_unlock(&G.qmu);
}

/* XML 1.0 text/attribute escaping. Control characters that XML 1.0 cannot
 * carry at all are replaced by '?'. */
void xml_esc(tb_buf *b, const char *s)
{
    if (!s)
        return;
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        case '\t': case '\n': case '\r': break;
        case 0: break;
        default:
            if (c < 0x20)
                rep = "?";
        }
        if (rep || c == 0) {
            if (p > run)
                tb_buf_append(b, run, (size_t)(p - run));
            if (c == 0)
                return;
            tb_buf_appends(b, rep);
            run = p + 1;
        }
    }
}

void bt_iso_time(int64_t t, char *out, size_t outsz)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, outsz, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
}

/* "snow_task_id" -> "Snow Task Id" [I: display names are configured on the
 * appliance; the simulator derives them]. */
char *bt_display_name(const char *code_name)
{
    char *d = bt_strdup(code_name);
    bool up = true;
    for (char *p = d; *p; p++) {
        if (*p == '_') {
            *p = ' ';
            up = true;
        } else if (up) {
            *p = (char)toupper((unsigned char)*p);
            up = false;
        }
    }
    return d;
}

long bt_utf8_len(const char *s)
{
    long n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int len;
        unsigned min;
        if (c < 0x80) {
            p++;
            n++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2; min = 0x80; c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3; min = 0x800; c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4; min = 0x10000; c &= 0x07;
        } else {
            return -1;
        }
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return -1;
            c = (c << 6) | (p[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return -1;
        p += len;
        n++;
    }
    return n;
}

double bt_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}
