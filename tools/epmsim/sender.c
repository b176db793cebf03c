/* Webhook delivery (EPM -> ITSM, protocol A6): one sender thread, one FIFO,
 * strictly in order with head-of-line blocking over one keep-alive libcurl
 * handle. A 2xx answer is delivered; anything else is retried after the
 * retry interval until max attempts, then the send is failed. EPM's own retry
 * policy is undocumented (protocol gap 2) [I]. */
#include "epmsim.h"
#include "core/log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_t sender;
static bool sender_running;

void send_free(ep_send *s)
{
    if (!s)
        return;
    free(s->event_type);
    free(s->body);
    free(s->url);
    ep_free_secret(s->auth);
    free(s->basic_user);
    ep_free_secret(s->basic_pass);
    free(s);
}

void send_settings_from_config(ep_send *s, const char *url_override)
{
    const ep_config *c = &E.cfg;
    ep_set_str(&s->url, url_override ? url_override : c->webhook_url);
    if (c->webhook_auth_header && *c->webhook_auth_header) {
        s->auth = ep_strdupf("Authorization: %s", c->webhook_auth_header);
    } else if (c->webhook_user && *c->webhook_user) {
        s->basic_user = ep_strdup(c->webhook_user);
        s->basic_pass = ep_strdup(c->webhook_password ? c->webhook_password : "");
    }
    s->max_attempts = c->webhook_max_attempts;
    s->retry_interval = c->webhook_retry_interval;
    s->timeout = c->webhook_timeout;
}

static const char *state_str(ep_send_state s)
{
    return s == EP_SEND_DELIVERED ? "delivered" : s == EP_SEND_FAILED ? "failed" : "queued";
}

/* E.qmu held. */
static json_t *send_json(const ep_send *s, bool with_body)
{
    char q[40], d[40];
    ep_iso_ms(s->queued_at, q, sizeof q);
    json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:i,s:I,s:s,s:s}", "id", (json_int_t)s->id,
                          "event_type", s->event_type, "request_id", s->request_id, "url", s->url,
                          "state", state_str(s->state), "attempts", s->attempts, "max_attempts",
                          s->max_attempts, "last_status", (json_int_t)s->last_status,
                          "last_error", s->last_error, "queued_at", q);
    if (s->state != EP_SEND_QUEUED) {
        ep_iso_ms(s->done_at, d, sizeof d);
        json_object_set_new(j, "done_at", json_string(d));
    } else {
        json_object_set_new(j, "done_at", json_null());
    }
    json_object_set_new(j, "auth", json_string(s->auth ? "custom" : s->basic_user ? "basic" : "none"));
    if (with_body)
        json_object_set_new(j, "body", ep_json_text(s->body, strlen(s->body)));
    return j;
}

static ep_send *find_locked(uint64_t id)
{
    for (size_t i = 0; i < E.nsends; i++)
        if (E.sends[i]->id == id)
            return E.sends[i];
    return NULL;
}

uint64_t sender_queue(ep_send *s)
{
    pthread_mutex_lock(&E.qmu);
    if (E.qdepth >= EP_MAX_SENDS) {
        pthread_mutex_unlock(&E.qmu);
        send_free(s);
        return 0;
    }
    /* keep the list bounded: drop the oldest finished send */
    if (E.nsends >= EP_MAX_SENDS) {
        for (size_t i = 0; i < E.nsends; i++) {
            if (E.sends[i]->state != EP_SEND_QUEUED) {
                send_free(E.sends[i]);
                memmove(&E.sends[i], &E.sends[i + 1], (E.nsends - i - 1) * sizeof *E.sends);
                E.nsends--;
                break;
            }
        }
    }
    if (E.nsends == E.capsends) {
        E.capsends = E.capsends ? E.capsends * 2 : 64;
        E.sends = realloc(E.sends, E.capsends * sizeof *E.sends);
        if (!E.sends)
            abort();
    }
    s->id = ++E.send_seq;
    s->queued_at = ep_now();
    s->state = EP_SEND_QUEUED;
    s->qnext = NULL;
    E.sends[E.nsends++] = s;
    if (E.qtail)
        E.qtail->qnext = s;
    else
        E.qhead = s;
    E.qtail = s;
    E.qdepth++;
    E.wh_queued++;
    uint64_t id = s->id;
    pthread_cond_signal(&E.qcv);
    pthread_mutex_unlock(&E.qmu);
    return id;
}

json_t *sender_wait_json(uint64_t id, double timeout, bool with_body)
{
    double deadline = ep_now() + timeout;
    pthread_mutex_lock(&E.qmu);
    ep_send *s = find_locked(id);
    while (s && s->state == EP_SEND_QUEUED && !atomic_load(&E.stopping) && ep_now() < deadline) {
        struct timespec ts;
        double until = ep_now() + 0.2 < deadline ? ep_now() + 0.2 : deadline;
        ts.tv_sec = (time_t)until;
        ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&E.qdone, &E.qmu, &ts);
        s = find_locked(id);
    }
    json_t *j = s ? send_json(s, with_body) : NULL;
    pthread_mutex_unlock(&E.qmu);
    return j;
}

json_t *sender_list_json(void)
{
    json_t *a = json_array();
    pthread_mutex_lock(&E.qmu);
    for (size_t i = 0; i < E.nsends; i++)
        json_array_append_new(a, send_json(E.sends[i], false));
    pthread_mutex_unlock(&E.qmu);
    return a;
}

ep_send *sender_clone(uint64_t id)
{
    ep_send *c = NULL;
    pthread_mutex_lock(&E.qmu);
    ep_send *s = find_locked(id);
    if (s) {
        c = calloc(1, sizeof *c);
        if (!c)
            abort();
        c->event_type = ep_strdup(s->event_type);
        c->body = ep_strdup(s->body);
        memcpy(c->request_id, s->request_id, sizeof c->request_id);
    }
    pthread_mutex_unlock(&E.qmu);
    return c;
}

void sender_clear_finished(void)
{
    pthread_mutex_lock(&E.qmu);
    size_t w = 0;
    for (size_t i = 0; i < E.nsends; i++) {
        if (E.sends[i]->state == EP_SEND_QUEUED)
            E.sends[w++] = E.sends[i];
        else
            send_free(E.sends[i]);
    }
    E.nsends = w;
    pthread_mutex_unlock(&E.qmu);
}

typedef struct capture {
    char buf[256];
    size_t len;
} capture;

static size_t keep_start(char *p, size_t sz, size_t n, void *ud)
{
    capture *c = ud;
    size_t take = sz * n;
    if (take > sizeof c->buf - 1 - c->len)
        take = sizeof c->buf - 1 - c->len;
    memcpy(c->buf + c->len, p, take);
    c->len += take;
    c->buf[c->len] = 0;
    return sz * n;
}

static int abort_on_stop(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)ud; (void)dt; (void)dn; (void)ut; (void)un;
    return atomic_load(&E.stopping) ? 1 : 0;
}

/* One POST. Returns the HTTP status (0 when none) and fills err. */
static long post_once(CURL *c, const ep_send *s, char *err, size_t errsz)
{
    char ebuf[CURL_ERROR_SIZE] = "";
    capture cap = {.len = 0};
    curl_easy_reset(c);     /* keeps the live connection */
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (s->auth)
        h = curl_slist_append(h, s->auth);
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(s->body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(s->timeout * 1000));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(s->timeout * 1000));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_start);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &cap);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "epmsim/" TB_VERSION);
    if (s->basic_user) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, s->basic_user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->basic_pass);
    }
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    if (rc != CURLE_OK)
        snprintf(err, errsz, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
    else if (code < 200 || code > 299)
        snprintf(err, errsz, "HTTP %ld: %.100s", code, cap.buf);
    else
        err[0] = 0;
    return rc == CURLE_OK ? code : 0;
}

static void *sender_main(void *arg)
{
    (void)arg;
    CURL *c = curl_easy_init();
    if (!c) {
        TB_LOGE("curl_easy_init failed", "%s", "");
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&E.qmu);
        while (!E.qhead && !atomic_load(&E.stopping))
            pthread_cond_wait(&E.qcv, &E.qmu);
        if (atomic_load(&E.stopping)) {
            pthread_mutex_unlock(&E.qmu);
            break;
        }
        ep_send *s = E.qhead;
        pthread_mutex_unlock(&E.qmu);

        char err[160];
        long code = post_once(c, s, err, sizeof err);
        bool ok = code >= 200 && code <= 299;

        pthread_mutex_lock(&E.qmu);
        s->attempts++;
        s->last_status = code;
        snprintf(s->last_error, sizeof s->last_error, "%s", err);
        E.wh_attempts++;
        if (s->attempts > 1)
            E.wh_retried++;
        bool done = ok || s->attempts >= s->max_attempts;
        if (done) {
            s->state = ok ? EP_SEND_DELIVERED : EP_SEND_FAILED;
            s->done_at = ep_now();
            E.qhead = s->qnext;
            if (!E.qhead)
                E.qtail = NULL;
            E.qdepth--;
            if (ok)
                E.wh_delivered++;
            else
                E.wh_failed++;
            pthread_cond_broadcast(&E.qdone);
        }
        uint64_t id = s->id;
        int attempts = s->attempts;
        double interval = s->retry_interval;
        char rid[64];
        snprintf(rid, sizeof rid, "%s", s->request_id);
        pthread_mutex_unlock(&E.qmu);

        char qerr[200];
        tb_log_quote(qerr, sizeof qerr, err);
        if (ok)
            TB_LOGI("webhook delivered", "id=%llu request_id=%s status=%ld attempts=%d",
                    (unsigned long long)id, rid, code, attempts);
        else if (done)
            TB_LOGW("webhook failed", "id=%llu request_id=%s status=%ld attempts=%d error=%s",
                    (unsigned long long)id, rid, code, attempts, qerr);
        else {
            TB_LOGI("webhook attempt failed", "id=%llu request_id=%s status=%ld attempt=%d error=%s",
                    (unsigned long long)id, rid, code, attempts, qerr);
            ep_sleep(interval);
        }
    }
    curl_easy_cleanup(c);
    return NULL;
}

tb_err sender_start(void)
{
    if (pthread_create(&sender, NULL, sender_main, NULL) != 0)
        return TB_ERR_NOMEM;
    sender_running = true;
    return TB_OK;
}

void sender_stop(void)
{
    if (sender_running) {
        pthread_join(sender, NULL);
        sender_running = false;
    }
    pthread_mutex_lock(&E.qmu);
    for (size_t i = 0; i < E.nsends; i++)
        send_free(E.sends[i]);
    free(E.sends);
    E.sends = NULL;
    E.nsends = E.capsends = 0;
    E.qhead = E.qtail = NULL;
    E.qdepth = 0;
    pthread_mutex_unlock(&E.qmu);
}
