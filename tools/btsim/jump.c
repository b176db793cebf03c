/* PRA Jump Policy "Ticket System" requests (protocol doc §5). When a Jump
 * Policy requires a ticket ID, the appliance POSTs the ticket ID, the Jump
 * Item and the user to the Ticket System URL and waits for allow / deny,
 * optionally with custom session attributes. [V] only at that level: the
 * method, content type, field names, response schema, authentication and
 * timeout are all unverified, so every one of them is a setting here:
 *   - body: the caller's JSON object as given (missing user / jump_item are
 *     filled with a default), sent as JSON or as a form with dotted names;
 *   - answer: the suggested shape {"is_valid","error_message",
 *     "custom_attributes"};
 *   - an optional shared header line, and the timeout (default 10 s).
 * One code path (a libcurl multi loop) serves single requests and bursts. */
#include "handler.h"
#include "core/log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICKET_ID_MAX 1024      /* [I] characters */
#define ANSWER_MAX (1024 * 1024)
#define BURST_ANSWER_MAX 65536
#define BURST_COUNT_MAX 1000000
#define BURST_CONC_MAX 256

typedef struct ts_settings {
    char *url, *header, *format;
    double timeout;
} ts_settings;

void jump_init(void)
{
    G.ts_url = bt_strdup(G.cfg.ts_url);
    G.ts_header = bt_strdup(G.cfg.ts_header);
    G.ts_format = bt_strdup(G.cfg.ts_format ? G.cfg.ts_format : "json");
    G.ts_timeout = G.cfg.ts_timeout > 0 ? G.cfg.ts_timeout : 10;
}

void jump_free(void)
{
    free(G.ts_url);
    free(G.ts_header);
    free(G.ts_format);
    G.ts_url = G.ts_header = G.ts_format = NULL;
}

static void settings_snapshot(ts_settings *t)
{
    pthread_mutex_lock(&G.mu);
    t->url = bt_strdup(G.ts_url);
    t->header = bt_strdup(G.ts_header);
    t->format = bt_strdup(G.ts_format);
    t->timeout = G.ts_timeout;
    pthread_mutex_unlock(&G.mu);
}

static void settings_free(ts_settings *t)
{
    free(t->url);
    free(t->header);
    free(t->format);
}

bool ts_url_valid(const char *u)
{
    return (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
           strlen(u) <= 2048 && !strpbrk(u, " \r\n\t");
}

bool ts_header_valid(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h || strlen(h) > 4096 || strpbrk(h, "\r\n"))
        return false;
    for (const char *p = h; p < colon; p++)
        if (*p <= ' ' || *p >= 127)
            return false;
    return true;
}

/* ---------------- grants ---------------- */
static char *jstr(json_t *o, const char *key)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    if (json_is_string(v))
        return bt_strdup(json_string_value(v));
    if (json_is_integer(v))
        return bt_strdupf("%lld", (long long)json_integer_value(v));
    return NULL;
}

/* G.mu held. Takes nothing; copies what it keeps. */
static void grant_remember(json_t *payload, json_t *attrs)
{
    if (!G.grants) {
        G.grants = calloc(BT_MAX_GRANTS, sizeof *G.grants);
        if (!G.grants)
            abort();
    }
    bt_grant *g = &G.grants[G.grant_next];
    grant_free(g);
    G.grant_next = (G.grant_next + 1) % BT_MAX_GRANTS;
    if (G.ngrants < BT_MAX_GRANTS)
        G.ngrants++;
    json_t *user = json_object_get(payload, "user"), *it = json_object_get(payload, "jump_item");
    g->ticket_id = jstr(payload, "ticket_id");
    g->user_id = jstr(user, "id");
    g->username = jstr(user, "username");
    if (!g->username || !*g->username) {
        free(g->username);
        g->username = bt_strdup("admin");
    }
    g->user_display_name = jstr(user, "public_display_name");
    g->item.id = jstr(it, "id");
    g->item.name = jstr(it, "name");
    g->item.hostname = jstr(it, "hostname");
    json_t *grp = json_object_get(it, "jump_group"), *jp = json_object_get(it, "jumpoint");
    g->item.jump_group_id = jstr(grp, "id");
    g->item.jump_group_name = jstr(grp, "name");
    g->item.jump_group_type = jstr(grp, "type");
    g->item.jumpoint_id = jstr(jp, "id");
    g->item.jumpoint_name = jstr(jp, "name");
    const char *k;
    json_t *v;
    json_object_foreach(attrs, k, v) {
        if (json_is_string(v))
            kvs_set(&g->custom, k, json_string_value(v));
        else if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v)) {
            char *s = json_dumps(v, JSON_ENCODE_ANY);
            kvs_set(&g->custom, k, s);
            free(s);
        }
    }
}

const bt_grant *grant_find(const char *ticket_id, const char *item_id)
{
    for (size_t n = 0; n < G.ngrants; n++) {
        size_t i = (G.grant_next + BT_MAX_GRANTS - 1 - n) % BT_MAX_GRANTS;
        const bt_grant *g = &G.grants[i];
        if (g->ticket_id && strcmp(g->ticket_id, ticket_id) == 0 &&
            (!item_id || (g->item.id && strcmp(g->item.id, item_id) == 0)))
            return g;
    }
    return NULL;
}

void ctl_jump_grants(reply *out)
{
    json_t *a = json_array();
    pthread_mutex_lock(&G.mu);
    for (size_t n = 0; n < G.ngrants; n++) {
        const bt_grant *g = &G.grants[(G.grant_next + BT_MAX_GRANTS - 1 - n) % BT_MAX_GRANTS];
        json_t *cu = json_object();
        for (size_t i = 0; i < g->custom.n; i++)
            json_object_set_new(cu, g->custom.items[i].k, json_string(g->custom.items[i].v));
        json_array_append_new(a, json_pack("{s:s,s:s?,s:s?,s:s?,s:o}", "ticket_id", g->ticket_id,
                                           "jump_item_id", g->item.id, "jump_item_name",
                                           g->item.name, "username", g->username,
                                           "custom_attributes", cu));
    }
    pthread_mutex_unlock(&G.mu);
    reply_json(out, 200, json_pack("{s:o}", "grants", a));
}

/* ---------------- the request body ---------------- */
static void flatten_form(CURL *h, tb_buf *b, const char *prefix, json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        char *name = *prefix ? bt_strdupf("%s.%s", prefix, k) : bt_strdup(k);
        if (json_is_object(v)) {
            flatten_form(h, b, name, v);
        } else if (!json_is_null(v)) {
            char *val = json_is_string(v) ? bt_strdup(json_string_value(v))
                                          : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            char *ek = curl_easy_escape(h, name, 0), *ev = curl_easy_escape(h, val, 0);
            tb_buf_printf(b, "%s%s=%s", b->len ? "&" : "", ek ? ek : "", ev ? ev : "");
            curl_free(ek);
            curl_free(ev);
            free(val);
        }
        free(name);
    }
}

/* Replaces every "{n}" in the template's ticket ID with n (bursts). */
static char *ticket_for(const char *tmpl, long n)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{n}", 3) == 0) {
            tb_buf_printf(&b, "%ld", n);
            p += 3;
        } else {
            tb_buf_append(&b, p++, 1);
        }
    }
    return tb_buf_take(&b);
}

static char *body_for(CURL *h, json_t *payload, bool form, const char *tid_tmpl, long n)
{
    if (tid_tmpl) {
        char *tid = ticket_for(tid_tmpl, n);
        json_object_set_new(payload, "ticket_id", json_string(tid));
        free(tid);
    }
    if (!form)
        return json_dumps(payload, JSON_COMPACT);
    tb_buf b;
    tb_buf_init(&b, 0);
    flatten_form(h, &b, "", payload);
    char *body = tb_buf_take(&b);
    return body ? body : bt_strdup("");
}

static json_t *unflatten(const bt_kvs *params)
{
    json_t *root = json_object();
    for (size_t i = 0; i < params->n; i++) {
        char *path = bt_strdup(params->items[i].k), *save = NULL;
        json_t *cur = root;
        char *tok = strtok_r(path, ".", &save);
        while (tok) {
            char *next = strtok_r(NULL, ".", &save);
            if (!next) {
                json_object_set_new(cur, tok, json_string(params->items[i].v));
                break;
            }
            json_t *child = json_object_get(cur, tok);
            if (!json_is_object(child)) {
                child = json_object();
                json_object_set_new(cur, tok, child);
            }
            cur = child;
            tok = next;
        }
        free(path);
    }
    return root;
}

/* The payload the appliance sends, from the control request: its JSON body
 * (or its dotted parameters) minus the control fields. */
static json_t *payload_from(const req *r, char *err, size_t errsz)
{
    json_t *p = r->json ? json_deep_copy(r->json) : unflatten(&r->params);
    if (!p) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    json_object_del(p, "format");
    json_object_del(p, "count");
    json_object_del(p, "concurrency");
    json_t *t = json_object_get(p, "ticket_id");
    if (json_is_integer(t)) {
        char *s = jstr(p, "ticket_id");
        json_object_set_new(p, "ticket_id", json_string(s));
        free(s);
        t = json_object_get(p, "ticket_id");
    }
    const char *tid = json_string_value(t);
    const char *bad = NULL;
    if (!tid || !*tid)
        bad = "ticket_id required (a string)";
    else if (bt_utf8_len(tid) > TICKET_ID_MAX)
        bad = "ticket_id is too long";
    else if (json_object_get(p, "user") && !json_is_object(json_object_get(p, "user")))
        bad = "user must be an object";
    else if (json_object_get(p, "jump_item") && !json_is_object(json_object_get(p, "jump_item")))
        bad = "jump_item must be an object";
    if (bad) {
        snprintf(err, errsz, "%s", bad);
        json_decref(p);
        return NULL;
    }
    if (!json_object_get(p, "user"))
        json_object_set_new(p, "user", json_pack("{s:i,s:s,s:s,s:s}", "id", 1, "username", "admin",
                                                 "public_display_name", "Admin", "email",
                                                 "admin@example.com"));
    if (!json_object_get(p, "jump_item"))
        json_object_set_new(p, "jump_item", json_pack(
            "{s:i,s:s,s:s,s:{s:i,s:s,s:s},s:{s:i,s:s}}", "id", 1, "name", "srv-db-01",
            "hostname", "srv-db-01.example.com", "jump_group", "id", 1, "name", "Shared Servers",
            "type", "shared", "jumpoint", "id", 1, "name", "Jumpoint-DC1"));
    return p;
}

/* ---------------- the transfer loop ---------------- */
typedef struct ts_answer {
    tb_buf buf;
    bool truncated;
} ts_answer;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    ts_answer *a = ud;
    size_t len = sz * n, room = a->buf.max - a->buf.len;
    if (len > room)
        a->truncated = true;
    tb_buf_append(&a->buf, p, len > room ? room : len);
    return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)ud; (void)dt; (void)dn; (void)ut; (void)un;
    return G.stopping ? 1 : 0;
}

typedef struct slot {
    CURL *h;
    ts_answer ans;
    char *body;
    long n;
} slot;

/* One finished request: its status (0 without an HTTP answer), the answer
 * as received, and curl's own timing. */
typedef struct outcome {
    long n;
    CURLcode rc;
    const char *errmsg;
    long status;
    const char *body;
    size_t len;
    bool truncated;
    double ms;
} outcome;

typedef void (*outcome_fn)(void *ctx, const outcome *o);

static tb_err ts_run(const ts_settings *ts, json_t *payload, const char *tid_tmpl, long count,
                     int conc, size_t answer_max, outcome_fn fn, void *ctx)
{
    bool form = strcmp(ts->format, "form") == 0;
    CURLM *m = curl_multi_init();
    slot *slots = calloc((size_t)conc, sizeof *slots);
    char (*ebuf)[CURL_ERROR_SIZE] = calloc((size_t)conc, sizeof *ebuf);
    if (!m || !slots || !ebuf)
        abort();
    struct curl_slist *hdrs = curl_slist_append(NULL, form ? "Content-Type: application/x-www-form-urlencoded"
                                                           : "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (ts->header && *ts->header)
        hdrs = curl_slist_append(hdrs, ts->header);
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conc);
    for (int i = 0; i < conc; i++) {
        CURL *h = curl_easy_init();
        if (!h)
            abort();
        slots[i].h = h;
        slots[i].n = -1;
        curl_easy_setopt(h, CURLOPT_URL, ts->url);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(ts->timeout * 1000));
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(ts->timeout * 1000));
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &slots[i].ans);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf[i]);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "btsim/" TB_VERSION);
        curl_easy_setopt(h, CURLOPT_PRIVATE, &slots[i]);
        tb_buf_init(&slots[i].ans.buf, answer_max);
    }
    long next = 0, done = 0;
    int active = 0;
    tb_err rc = TB_OK;
    while (done < count) {
        for (int i = 0; i < conc && next < count; i++) {
            slot *s = &slots[i];
            if (s->n >= 0)
                continue;
            s->n = next++;
            s->body = body_for(s->h, payload, form, tid_tmpl, s->n + 1);
            tb_buf_reset(&s->ans.buf);
            s->ans.truncated = false;
            ebuf[i][0] = 0;
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, (long)strlen(s->body));
            curl_multi_add_handle(m, s->h);
            active++;
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
            outcome o = {.n = s->n, .rc = msg->data.result, .body = s->ans.buf.data,
                         .len = s->ans.buf.len, .truncated = s->ans.truncated};
            curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &o.status);
            curl_off_t us = 0;
            curl_easy_getinfo(s->h, CURLINFO_TOTAL_TIME_T, &us);
            o.ms = (double)us / 1000.0;
            char *eb = ebuf[s - slots];
            o.errmsg = o.rc == CURLE_OK ? NULL : eb[0] ? eb : curl_easy_strerror(o.rc);
            if (o.rc != CURLE_OK)
                o.status = 0;
            fn(ctx, &o);
            curl_multi_remove_handle(m, s->h);
            free(s->body);
            s->body = NULL;
            s->n = -1;
            active--;
            done++;
        }
        if (G.stopping) {
            rc = TB_ERR_SHUTDOWN;
            break;
        }
        if (done < count && active > 0)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (int i = 0; i < conc; i++) {
        if (slots[i].n >= 0)
            curl_multi_remove_handle(m, slots[i].h);
        curl_easy_cleanup(slots[i].h);
        free(slots[i].body);
        tb_buf_free(&slots[i].ans.buf);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    free(slots);
    free(ebuf);
    return rc;
}

/* [I] allowed per the suggested answer {"is_valid": bool, ...}: true / false,
 * or -1 when the answer says neither (not 2xx, not JSON, no is_valid). */
static int allowed_of(long status, json_t *answer)
{
    if (status < 200 || status > 299 || !json_is_object(answer))
        return -1;
    json_t *v = json_object_get(answer, "is_valid");
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
        return (int)json_integer_value(v);
    if (json_is_string(v) && !strcmp(json_string_value(v), "true"))
        return 1;
    if (json_is_string(v) && !strcmp(json_string_value(v), "false"))
        return 0;
    return -1;
}

static json_t *parse_answer(const char *body, size_t len)
{
    return len ? json_loadb(body, len, JSON_DECODE_ANY, NULL) : NULL;
}

/* ---------------- control routes ---------------- */
static bool settings_ready(ts_settings *ts, reply *out)
{
    settings_snapshot(ts);
    if (!ts->url || !*ts->url) {
        settings_free(ts);
        reply_error(out, 409, "no ticket system URL configured (--ticket-system-url or "
                              "PUT /_btsim/jump/config)");
        return false;
    }
    return true;
}

/* The request's "format" overrides the configured one; false if invalid. */
static bool format_of(const req *r, ts_settings *ts)
{
    const char *f = P(r, "format");
    if (!f)
        return true;
    if (strcmp(f, "json") && strcmp(f, "form"))
        return false;
    free(ts->format);
    ts->format = bt_strdup(f);
    return true;
}

typedef struct single {
    long status;
    json_t *body;           /* parsed answer, or a string, or null */
    json_t *parsed;         /* borrowed from body when it is JSON */
    double ms;
    char err[CURL_ERROR_SIZE + 32];
} single;

static void on_single(void *ctx, const outcome *o)
{
    single *r = ctx;
    r->status = o->status;
    r->ms = o->ms;
    if (o->errmsg)
        snprintf(r->err, sizeof r->err, "%s", o->errmsg);
    json_t *j = o->truncated ? NULL : parse_answer(o->body, o->len);
    if (j) {
        r->body = j;
        r->parsed = j;
    } else if (o->len == 0) {
        r->body = json_null();
    } else if (bt_utf8_len(o->body) >= 0 && strlen(o->body) == o->len) {
        r->body = json_stringn(o->body, o->len);
    } else {
        char note[64];
        snprintf(note, sizeof note, "<%zu bytes, not UTF-8 text>", o->len);
        r->body = json_string(note);
    }
}

void ctl_jump_request(const req *r, reply *out)
{
    ts_settings ts;
    if (!settings_ready(&ts, out))
        return;
    bool format_ok = format_of(r, &ts);
    char err[128];
    json_t *payload = format_ok ? payload_from(r, err, sizeof err) : NULL;
    if (!payload) {
        reply_error(out, 400, "%s", format_ok ? err : "format must be json or form");
        settings_free(&ts);
        return;
    }
    single res = {0};
    tb_err rc = ts_run(&ts, payload, NULL, 1, 1, ANSWER_MAX, on_single, &res);
    char format[8];
    snprintf(format, sizeof format, "%s", ts.format);
    settings_free(&ts);
    if (rc) {
        json_decref(payload);
        json_decref(res.body);
        reply_error(out, 503, "stopping");
        return;
    }
    int allowed = allowed_of(res.status, res.parsed);
    bool remembered = false;
    if (allowed == 1) {
        json_t *attrs = json_object_get(res.parsed, "custom_attributes");
        pthread_mutex_lock(&G.mu);
        grant_remember(payload, json_is_object(attrs) ? attrs : NULL);
        pthread_mutex_unlock(&G.mu);
        remembered = true;
    }
    json_t *j = json_pack("{s:I,s:o,s:f,s:o,s:b,s:s}", "http_status", (json_int_t)res.status,
                          "body", res.body ? res.body : json_null(), "latency_ms", res.ms,
                          "allowed", allowed < 0 ? json_null() : json_boolean(allowed),
                          "remembered", remembered, "format", format);
    if (res.err[0])
        json_object_set_new(j, "error", json_string(res.err));
    json_object_set_new(j, "sent", payload);
    reply_json(out, 200, j);
}

typedef struct burst {
    double *ms;
    long n, ok, allowed, denied, undecided, errors;
    json_t *statuses;
} burst;

static void on_burst(void *ctx, const outcome *o)
{
    burst *b = ctx;
    b->ms[b->n++] = o->ms;
    if (o->errmsg) {
        b->errors++;
        return;
    }
    char code[16];
    snprintf(code, sizeof code, "%ld", o->status);
    json_t *c = json_object_get(b->statuses, code);
    json_object_set_new(b->statuses, code, json_integer(c ? json_integer_value(c) + 1 : 1));
    if (o->status >= 200 && o->status <= 299)
        b->ok++;
    json_t *j = o->truncated ? NULL : parse_answer(o->body, o->len);
    int a = allowed_of(o->status, j);
    json_decref(j);
    if (a == 1)
        b->allowed++;
    else if (a == 0)
        b->denied++;
    else
        b->undecided++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* nearest rank */
static double pct(const double *v, long n, double p)
{
    if (n == 0)
        return 0;
    long k = (long)(p * (double)n + 0.999999) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

void ctl_jump_burst(const req *r, reply *out)
{
    const char *cs = P(r, "count"), *cc = P(r, "concurrency");
    char *end = NULL;
    long count = cs ? strtol(cs, &end, 10) : 0;
    if (!cs || *end || count < 1 || count > BURST_COUNT_MAX) {
        reply_error(out, 400, "count must be 1..%d", BURST_COUNT_MAX);
        return;
    }
    long conc = cc ? strtol(cc, &end, 10) : 8;
    if ((cc && *end) || conc < 1 || conc > BURST_CONC_MAX) {
        reply_error(out, 400, "concurrency must be 1..%d", BURST_CONC_MAX);
        return;
    }
    if (conc > count)
        conc = count;
    ts_settings ts;
    if (!settings_ready(&ts, out))
        return;
    bool format_ok = format_of(r, &ts);
    char err[128];
    json_t *payload = format_ok ? payload_from(r, err, sizeof err) : NULL;
    if (!payload) {
        reply_error(out, 400, "%s", format_ok ? err : "format must be json or form");
        settings_free(&ts);
        return;
    }
    char *tmpl = bt_strdup(json_string_value(json_object_get(payload, "ticket_id")));
    burst b = {.ms = malloc((size_t)count * sizeof(double)), .statuses = json_object()};
    if (!b.ms)
        abort();
    double t0 = bt_mono_ms();
    tb_err rc = ts_run(&ts, payload, strstr(tmpl, "{n}") ? tmpl : NULL, count, (int)conc,
                       BURST_ANSWER_MAX, on_burst, &b);
    double elapsed = bt_mono_ms() - t0;
    char format[8];
    snprintf(format, sizeof format, "%s", ts.format);
    settings_free(&ts);
    free(tmpl);
    json_decref(payload);
    if (rc) {
        free(b.ms);
        json_decref(b.statuses);
        reply_error(out, 503, "stopping");
        return;
    }
    qsort(b.ms, (size_t)b.n, sizeof *b.ms, cmp_double);
    double sum = 0;
    for (long i = 0; i < b.n; i++)
        sum += b.ms[i];
    json_t *lat = json_pack("{s:f,s:f,s:f,s:f,s:f,s:f}", "min", b.n ? b.ms[0] : 0.0, "mean",
                            b.n ? sum / (double)b.n : 0.0, "p50", pct(b.ms, b.n, 0.50), "p90",
                            pct(b.ms, b.n, 0.90), "p99", pct(b.ms, b.n, 0.99), "max",
                            b.n ? b.ms[b.n - 1] : 0.0);
    json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:f,s:f,s:o,s:s}",
                          "count", (json_int_t)count, "completed", (json_int_t)b.n,
                          "ok", (json_int_t)b.ok, "allowed", (json_int_t)b.allowed,
                          "denied", (json_int_t)b.denied, "no_decision", (json_int_t)b.undecided,
                          "transport_errors", (json_int_t)b.errors, "status", b.statuses,
                          "elapsed_ms", elapsed, "rate_per_s",
                          elapsed > 0 ? (double)b.n * 1000.0 / elapsed : 0.0,
                          "latency_ms", lat, "format", format);
    json_object_set_new(j, "concurrency", json_integer(conc));
    free(b.ms);
    reply_json(out, 200, j);
}

void ctl_jump_config(const req *r, reply *out)
{
    if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
        const char *url = P(r, "url"), *hdr = P(r, "header"), *fmt = P(r, "format"),
                   *to = P(r, "timeout");
        char *end = NULL;
        double t = to ? strtod(to, &end) : 0;
        if (url && *url && !ts_url_valid(url)) {
            reply_error(out, 400, "url must be an http:// or https:// URL");
            return;
        }
        if (hdr && *hdr && !ts_header_valid(hdr)) {
            reply_error(out, 400, "header must be one \"Name: value\" line");
            return;
        }
        if (fmt && strcmp(fmt, "json") && strcmp(fmt, "form")) {
            reply_error(out, 400, "format must be json or form");
            return;
        }
        if (to && (*end || !*to || t < 0.001 || t > 300)) {
            reply_error(out, 400, "timeout must be 0.001..300 seconds");
            return;
        }
        pthread_mutex_lock(&G.mu);
        if (url) {
            free(G.ts_url);
            G.ts_url = *url ? bt_strdup(url) : NULL;
        }
        if (hdr) {
            free(G.ts_header);
            G.ts_header = *hdr ? bt_strdup(hdr) : NULL;
        }
        if (fmt) {
            free(G.ts_format);
            G.ts_format = bt_strdup(fmt);
        }
        if (to)
            G.ts_timeout = t;
        pthread_mutex_unlock(&G.mu);
    } else if (strcmp(r->method, "GET") != 0) {
        reply_error(out, 405, "method not allowed");
        return;
    }
    pthread_mutex_lock(&G.mu);
    char *hname = G.ts_header ? bt_strdup(G.ts_header) : NULL;
    if (hname)
        *strchr(hname, ':') = 0;
    json_t *j = json_pack("{s:s?,s:s?,s:s,s:f}", "url", G.ts_url, "header_name", hname,
                          "format", G.ts_format, "timeout", G.ts_timeout);
    pthread_mutex_unlock(&G.mu);
    free(hname);
    reply_json(out, 200, j);
}
