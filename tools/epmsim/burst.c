/* Burst mode for benchmarks: N webhooks from one template, C at a time over
 * libcurl multi (keep-alive connections), no retries. Runs in the calling
 * request's thread and answers with counts, rate and latency percentiles. */
#include "epmsim.h"
#include "core/log.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BURST_MAX_COUNT 1000000
#define BURST_MAX_CONCURRENCY 256

typedef struct slot {
    CURL *e;
    char *body;
    double t0;
    bool busy;
} slot;

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)ceil(p * (double)n) - 1;
    if (i >= n)
        i = n - 1;
    return v[i];
}

static tb_err bad(char *why, size_t whysz, const char *msg)
{
    snprintf(why, whysz, "%s", msg);
    return TB_ERR_INVALID;
}

tb_err burst_run(json_t *body, json_t **result, char *why, size_t whysz)
{
    static const char *const keys[] = {"count", "concurrency", "template", "fields", "url",
                                       "register", "ascii", NULL};
    if (ep_check_keys(body, keys, why, whysz))
        return TB_ERR_INVALID;
    json_t *cv = json_object_get(body, "count"), *ccv = json_object_get(body, "concurrency");
    if (!json_is_integer(cv) || json_integer_value(cv) < 1 ||
        json_integer_value(cv) > BURST_MAX_COUNT)
        return bad(why, whysz, "count must be an integer from 1 to 1000000");
    if (ccv && (!json_is_integer(ccv) || json_integer_value(ccv) < 1 ||
                json_integer_value(ccv) > BURST_MAX_CONCURRENCY))
        return bad(why, whysz, "concurrency must be an integer from 1 to 256");
    json_t *tv = json_object_get(body, "template");
    const ep_tpl *t = tpl_find(tv ? json_string_value(tv) : "URM_Native_Ticket_Created");
    if (!t)
        return bad(why, whysz, "unknown template");
    json_t *fields = json_object_get(body, "fields");
    if (tpl_check_overrides(t, fields, why, whysz))
        return TB_ERR_INVALID;
    json_t *urlv = json_object_get(body, "url"), *regv = json_object_get(body, "register"),
           *asciiv = json_object_get(body, "ascii");
    if (urlv && (!json_is_string(urlv) || !*json_string_value(urlv) ||
                 !config_url_ok(json_string_value(urlv))))
        return bad(why, whysz, "url must be an http:// or https:// URL");
    if ((regv && !json_is_boolean(regv)) || (asciiv && !json_is_boolean(asciiv)))
        return bad(why, whysz, "register and ascii must be true or false");
    size_t count = (size_t)json_integer_value(cv);
    size_t conc = ccv ? (size_t)json_integer_value(ccv) : 8;
    if (conc > count)
        conc = count;
    bool reg = json_is_true(regv) && t->creates, ascii = json_is_true(asciiv);

    ep_send cfg = {0};  /* delivery settings only */
    pthread_mutex_lock(&E.mu);
    send_settings_from_config(&cfg, urlv ? json_string_value(urlv) : NULL);
    pthread_mutex_unlock(&E.mu);
    if (!cfg.url || !*cfg.url) {
        free(cfg.url);
        return bad(why, whysz, "no webhook URL: give url or set webhook_url");
    }

    CURLM *m = curl_multi_init();
    slot *slots = calloc(conc, sizeof *slots);
    double *lat = malloc(count * sizeof *lat);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (cfg.auth)
        h = curl_slist_append(h, cfg.auth);
    if (!m || !slots || !lat)
        abort();
    for (size_t i = 0; i < conc; i++) {
        CURL *e = curl_easy_init();
        if (!e)
            abort();
        curl_easy_setopt(e, CURLOPT_URL, cfg.url);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(cfg.timeout * 1000));
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(cfg.timeout * 1000));
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "epmsim/" TB_VERSION);
        curl_easy_setopt(e, CURLOPT_PRIVATE, &slots[i]);
        if (cfg.basic_user) {
            curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(e, CURLOPT_USERNAME, cfg.basic_user);
            curl_easy_setopt(e, CURLOPT_PASSWORD, cfg.basic_pass);
        }
        slots[i].e = e;
    }
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conc);

    json_t *statuses = json_object();
    char first_error[200] = "";
    size_t next = 0, done = 0, nlat = 0, accepted = 0;
    double t_start = ep_mono();
    while (done < count && !atomic_load(&E.stopping)) {
        for (size_t i = 0; i < conc && next < count; i++) {
            slot *s = &slots[i];
            if (s->busy)
                continue;
            pthread_mutex_lock(&E.mu);
            const char *rid = json_string_value(json_object_get(fields, "RequestId"));
            const ep_request *known = rid && !t->creates ? registry_find(rid) : NULL;
            json_t *values = tpl_defaults(t, known && known->kind == t->kind ? known : NULL);
            if (fields)
                json_object_update(values, fields);
            if (reg)
                registry_add(t->kind, values, false);
            pthread_mutex_unlock(&E.mu);
            s->body = tpl_render(t, values, ascii);
            json_decref(values);
            curl_easy_setopt(s->e, CURLOPT_POSTFIELDS, s->body);
            curl_easy_setopt(s->e, CURLOPT_POSTFIELDSIZE, (long)strlen(s->body));
            s->t0 = ep_mono();
            s->busy = true;
            curl_multi_add_handle(m, s->e);
            next++;
        }
        int running = 0;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            slot *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            CURLcode rc = msg->data.result;
            lat[nlat++] = (ep_mono() - s->t0) * 1000;
            char key[16];
            if (rc != CURLE_OK) {
                snprintf(key, sizeof key, "error");
                if (!first_error[0])
                    snprintf(first_error, sizeof first_error, "%s", curl_easy_strerror(rc));
            } else {
                snprintf(key, sizeof key, "%ld", code);
                if (code >= 200 && code <= 299)
                    accepted++;
                else if (!first_error[0])
                    snprintf(first_error, sizeof first_error, "HTTP %ld", code);
            }
            json_t *n = json_object_get(statuses, key);
            json_object_set_new(statuses, key, json_integer(n ? json_integer_value(n) + 1 : 1));
            curl_multi_remove_handle(m, s->e);
            free(s->body);
            s->body = NULL;
            s->busy = false;
            done++;
        }
        if (done < count && running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    double elapsed = ep_mono() - t_start;
    for (size_t i = 0; i < conc; i++) {
        if (slots[i].busy)
            curl_multi_remove_handle(m, slots[i].e);
        free(slots[i].body);
        curl_easy_cleanup(slots[i].e);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(h);
    free(slots);
    free(cfg.url);
    ep_free_secret(cfg.auth);
    free(cfg.basic_user);
    ep_free_secret(cfg.basic_pass);

    qsort(lat, nlat, sizeof *lat, cmp_double);
    *result = json_pack("{s:I,s:I,s:I,s:I,s:o,s:f,s:f,s:{s:f,s:f,s:f,s:f},s:s,s:b}", "count",
                        (json_int_t)count, "completed", (json_int_t)done, "accepted",
                        (json_int_t)accepted, "errors", (json_int_t)(done - accepted),
                        "statuses", statuses, "elapsed_ms", elapsed * 1000, "rate",
                        elapsed > 0 ? (double)done / elapsed : 0.0, "latency_ms", "p50",
                        pct(lat, nlat, 0.50), "p90", pct(lat, nlat, 0.90), "p99",
                        pct(lat, nlat, 0.99), "max", nlat ? lat[nlat - 1] : 0.0, "first_error",
                        first_error, "aborted", done < count);
    free(lat);
    TB_LOGI("burst done", "count=%zu accepted=%zu concurrency=%zu elapsed_ms=%.1f", count,
            accepted, conc, elapsed * 1000);
    return TB_OK;
}
