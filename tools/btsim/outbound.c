/* Outbound events (appliance -> HTTP recipient), protocol doc §4:
 * one sender thread, one FIFO, strictly in order with head-of-line blocking;
 * only HTTP 200 counts as delivered, anything else is retried every
 * --retry-interval until --retry-duration since the first attempt, then the
 * event is dropped. One keep-alive libcurl easy handle. */
#include "btsim.h"
#include "core/log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_t sender;
static bool sender_running;

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

/* Aborts an in-flight POST when the simulator stops. */
static int xfer_cb(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)ud; (void)dt; (void)dn; (void)ut; (void)un;
    return G.stopping ? 1 : 0;
}

void outbound_queue(bt_kvs *fields)
{
    bt_outev *e = calloc(1, sizeof *e);
    if (!e)
        abort();
    e->fields = *fields;
    memset(fields, 0, sizeof *fields);
    pthread_mutex_lock(&G.qmu);
    if (G.qtail)
        G.qtail->next = e;
    else
        G.qhead = e;
    G.qtail = e;
    G.ev_queued++;
    G.qdepth++;
    pthread_cond_signal(&G.qcv);
    pthread_mutex_unlock(&G.qmu);
}

/* Builds the standard fields for a session event and queues it. Caller holds
 * G.mu. No-op without --outbound-url. */
void outbound_session_event(const bt_session *s, const char *event, const bt_rep *mr,
                            const bt_cust *mc)
{
    if (!G.cfg.outbound_url)
        return;
    if (G.cfg.events_to_send.n && !kvs_get(&G.cfg.events_to_send, event))
        return;
    bt_kvs f = {0};
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)bt_now());
    kvs_add(&f, "event", event);
    kvs_add(&f, "version", G.cfg.event_version);
    kvs_add(&f, "timestamp", ts);
    kvs_add(&f, "appliance_id", G.cfg.appliance_id);
    kvs_add(&f, "lsid", s->lsid);
    kvs_add(&f, "external_key", s->external_key ? s->external_key : "");
    if (mr) { /* [V names] member variables read by SN-TU */
        char id[16];
        snprintf(id, sizeof id, "%d", mr->id);
        kvs_add(&f, "username", mr->username);
        kvs_add(&f, "user_id", id);
        kvs_add(&f, "display_name", mr->public_display_name);
        kvs_add(&f, "type", "representative");
    } else if (mc) {
        char id[16];
        snprintf(id, sizeof id, "%d", mc->gsnumber);
        kvs_add(&f, "username", mc->username);
        kvs_add(&f, "user_id", id);
        kvs_add(&f, "display_name", sess_cust_display(s, mc));
        kvs_add(&f, "type", "customer");
    }
    /* [V] "Send Custom Fields" adds all of them; their names in the POST are
     * [I] (--custom-field-prefix) */
    if (G.cfg.send_custom_fields) {
        for (size_t i = 0; i < s->custom.n; i++) {
            char *k = bt_strdupf("%s%s", G.cfg.custom_prefix, s->custom.items[i].k);
            kvs_set(&f, k, s->custom.items[i].v);
            free(k);
        }
    }
    outbound_queue(&f);
}

static char *form_body(CURL *c, const bt_kvs *f)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    for (size_t i = 0; i < f->n; i++) {
        char *k = curl_easy_escape(c, f->items[i].k, 0);
        char *v = curl_easy_escape(c, f->items[i].v, 0);
        tb_buf_printf(&b, "%s%s=%s", i ? "&" : "", k ? k : "", v ? v : "");
        curl_free(k);
        curl_free(v);
    }
    return tb_buf_take(&b);
}

static void *sender_main(void *arg)
{
    (void)arg;
    CURL *c = curl_easy_init();
    if (!c) {
        TB_LOGE("curl_easy_init failed", "%s", "");
        return NULL;
    }
    char ebuf[CURL_ERROR_SIZE];
    curl_easy_setopt(c, CURLOPT_URL, G.cfg.outbound_url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(G.cfg.send_timeout * 1000));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(G.cfg.send_timeout * 1000));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xfer_cb);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "btsim/" TB_VERSION);
    struct curl_slist *hdrs = curl_slist_append(NULL,
        "Content-Type: application/x-www-form-urlencoded"); /* [I] exact bytes */
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

    for (;;) {
        pthread_mutex_lock(&G.qmu);
        while (!G.qhead && !G.stopping)
            pthread_cond_wait(&G.qcv, &G.qmu);
        if (G.stopping) {
            pthread_mutex_unlock(&G.qmu);
            break;
        }
        bt_outev *e = G.qhead;
        G.ev_attempts++;
        if (e->attempts > 0)
            G.ev_retried++;
        pthread_mutex_unlock(&G.qmu);

        double now = bt_now();
        if (e->first_attempt == 0)
            e->first_attempt = now;
        e->attempts++;
        char *body = form_body(c, &e->fields);
        curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
        ebuf[0] = 0;
        CURLcode rc = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        free(body);
        bool ok = rc == CURLE_OK && code == 200;
        const char *evname = kvs_get(&e->fields, "event");
        const char *lsid = kvs_get(&e->fields, "lsid");
        if (ok) {
            pthread_mutex_lock(&G.mu);
            if (G.faults.lose_ack > 0) {
                G.faults.lose_ack--;
                ok = false;
                TB_LOGI("outbound ack lost (fault)", "event=%s lsid=%s", evname ? evname : "",
                        lsid ? lsid : "");
            }
            pthread_mutex_unlock(&G.mu);
        } else {
            TB_LOGD("outbound attempt failed", "event=%s lsid=%s status=%ld curl=%d attempt=%d",
                    evname ? evname : "", lsid ? lsid : "", code, (int)rc, e->attempts);
        }
        bool drop = !ok && bt_now() - e->first_attempt >= G.cfg.retry_duration;
        if (ok || drop) {
            if (drop)
                TB_LOGW("outbound event dropped", "event=%s lsid=%s attempts=%d",
                        evname ? evname : "", lsid ? lsid : "", e->attempts);
            else
                TB_LOGD("outbound event delivered", "event=%s lsid=%s attempts=%d",
                        evname ? evname : "", lsid ? lsid : "", e->attempts);
            pthread_mutex_lock(&G.qmu);
            G.qhead = e->next;
            if (!G.qhead)
                G.qtail = NULL;
            G.qdepth--;
            if (ok)
                G.ev_delivered++;
            else
                G.ev_dropped++;
            pthread_mutex_unlock(&G.qmu);
            kvs_free(&e->fields);
            free(e);
        } else {
            bt_sleep(G.cfg.retry_interval);
        }
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return NULL;
}

tb_err outbound_start(void)
{
    if (!G.cfg.outbound_url)
        return TB_OK;
    if (pthread_create(&sender, NULL, sender_main, NULL) != 0)
        return TB_ERR_NOMEM;
    sender_running = true;
    return TB_OK;
}

void outbound_stop(void)
{
    if (sender_running) {
        pthread_join(sender, NULL);
        sender_running = false;
    }
    pthread_mutex_lock(&G.qmu);
    while (G.qhead) {
        bt_outev *e = G.qhead;
        G.qhead = e->next;
        kvs_free(&e->fields);
        free(e);
    }
    G.qtail = NULL;
    pthread_mutex_unlock(&G.qmu);
}

bool outbound_drained(void)
{
    pthread_mutex_lock(&G.qmu);
    bool d = G.qdepth == 0;
    pthread_mutex_unlock(&G.qmu);
    return d;
}
