/* The appliance's HTTP listener (libmicrohttpd, one thread per connection):
 * /oauth2/token, /api/command, /api/reporting, /check_health and the
 * simulator's control API under /_btsim/. */
#include "btsim.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (1024 * 1024)

static struct MHD_Daemon *daemon_;

typedef struct req {
    bt_kvs params;          /* query arguments, then form fields */
    struct MHD_PostProcessor *pp;
    size_t body_len;
    bool too_large;
} req;

typedef struct reply {
    int status;
    const char *ctype;
    char *body;             /* malloc'd */
    bool close;
    bool drop;              /* close without answering */
    const char *www_auth;
} reply;

/* ---------------- request parameter collection ---------------- */
static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    req *r = cls;
    kvs_add(&r->params, key, value ? value : "");
    return MHD_YES;
}

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size)
{
    (void)kind; (void)filename; (void)content_type; (void)transfer_encoding;
    req *r = cls;
    if (off > 0 && r->params.n && strcmp(r->params.items[r->params.n - 1].k, key) == 0) {
        bt_kv *kv = &r->params.items[r->params.n - 1];
        size_t ol = strlen(kv->v);
        char *nv = realloc(kv->v, ol + size + 1);
        if (!nv)
            return MHD_NO;
        memcpy(nv + ol, data, size);
        nv[ol + size] = 0;
        kv->v = nv;
        return MHD_YES;
    }
    char *v = malloc(size + 1);
    if (!v)
        return MHD_NO;
    if (size)
        memcpy(v, data, size);
    v[size] = 0;
    kvs_add(&r->params, key, v);
    free(v);
    return MHD_YES;
}

static const char *P(const req *r, const char *k) { return kvs_get(&r->params, k); }

/* ---------------- helpers ---------------- */
static void set_json(reply *out, int status, json_t *j)
{
    out->status = status;
    out->ctype = "application/json";
    out->body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
}

static void set_xml(reply *out, char *body)
{
    out->status = 200;
    out->ctype = "text/xml; charset=UTF-8";
    out->body = body;
    out->close = true;  /* [V] docs: close after each API call */
}

static void set_text(reply *out, int status, const char *text)
{
    out->status = status;
    out->ctype = "text/plain; charset=UTF-8";
    out->body = bt_strdup(text);
}

static bool take_fault(int *counter)
{
    bool hit = false;
    pthread_mutex_lock(&G.mu);
    if (*counter > 0) {
        (*counter)--;
        hit = true;
    }
    pthread_mutex_unlock(&G.mu);
    return hit;
}

tb_err fault_add(const char *spec)
{
    if (!spec)
        return TB_ERR_INVALID;
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    long n = 1;
    if (colon) {
        char *end;
        n = strtol(colon + 1, &end, 10);
        if (*end || n < 0 || end == colon + 1)
            return TB_ERR_INVALID;
    }
    tb_err rc = TB_OK;
    pthread_mutex_lock(&G.mu);
#define IS(name) (nl == strlen(name) && strncmp(spec, name, nl) == 0)
    if (IS("token-5xx"))
        G.faults.token_5xx += (int)n;
    else if (IS("report-5xx"))
        G.faults.report_5xx += (int)n;
    else if (IS("report-slow") && colon)
        G.faults.report_slow_ms = (int)n;
    else if (IS("report-timeout"))
        G.faults.report_timeout += (int)n;
    else if (IS("expire-tokens") && !colon)
        G.ntok = 0;
    else if (IS("lose-ack"))
        G.faults.lose_ack += (int)n;
    else if (IS("drop-connection"))
        G.faults.drop_connection += (int)n;
    else
        rc = TB_ERR_INVALID;
#undef IS
    pthread_mutex_unlock(&G.mu);
    return rc;
}

char *stats_json(void)
{
    pthread_mutex_lock(&G.mu);
    json_t *j = json_pack("{s:I,s:I,s:I,s:I}", "tokens_issued", (json_int_t)G.tokens_issued,
                          "tokens_live", (json_int_t)G.ntok, "token_rejects",
                          (json_int_t)G.token_rejects, "api_requests",
                          (json_int_t)G.api_requests);
    json_object_set_new(j, "sessions", json_integer((json_int_t)G.nsess));
    pthread_mutex_lock(&G.qmu);
    json_object_set_new(j, "events_queued", json_integer((json_int_t)G.ev_queued));
    json_object_set_new(j, "events_delivered", json_integer((json_int_t)G.ev_delivered));
    json_object_set_new(j, "events_attempts", json_integer((json_int_t)G.ev_attempts));
    json_object_set_new(j, "events_retried", json_integer((json_int_t)G.ev_retried));
    json_object_set_new(j, "events_dropped", json_integer((json_int_t)G.ev_dropped));
    json_object_set_new(j, "queue_depth", json_integer((json_int_t)G.qdepth));
    pthread_mutex_unlock(&G.qmu);
    pthread_mutex_unlock(&G.mu);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* ---------------- OAuth ---------------- */
static void expire_tokens_locked(double now)
{
    int w = 0;
    for (int i = 0; i < G.ntok; i++)
        if (G.tokens[i].expires > now)
            G.tokens[w++] = G.tokens[i];
    G.ntok = w;
}

static void handle_token(struct MHD_Connection *c, const char *method, req *r, reply *out)
{
    if (strcmp(method, "POST") != 0) {
        set_json(out, 405, json_pack("{s:s}", "error", "invalid_request"));
        return;
    }
    if (take_fault(&G.faults.token_5xx)) {
        set_text(out, 503, "Service Unavailable");
        return;
    }
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    bool good = user && pass && strcmp(user, G.cfg.client_id) == 0 &&
                strcmp(pass, G.cfg.client_secret) == 0;
    if (user)
        MHD_free(user);
    if (pass)
        MHD_free(pass);
    if (!good) {
        pthread_mutex_lock(&G.mu);
        G.token_rejects++;
        pthread_mutex_unlock(&G.mu);
        set_json(out, 401, json_pack("{s:s}", "error", "invalid_client"));
        out->www_auth = "Basic realm=\"btsim\"";
        return;
    }
    const char *gt = P(r, "grant_type");
    if (!gt || strcmp(gt, "client_credentials") != 0) {
        set_json(out, 400, json_pack("{s:s}", "error", "unsupported_grant_type"));
        return;
    }
    static const char alnum[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char tok[41];
    for (int i = 0; i < 40; i++)
        tok[i] = alnum[randombytes_uniform(sizeof alnum - 1)];
    tok[40] = 0;
    double now = bt_now();
    pthread_mutex_lock(&G.mu);
    expire_tokens_locked(now);
    if (G.ntok >= G.cfg.max_tokens) { /* [V] the 31st evicts the oldest */
        memmove(&G.tokens[0], &G.tokens[1], (size_t)(G.ntok - 1) * sizeof G.tokens[0]);
        G.ntok--;
    }
    bt_token *t = &G.tokens[G.ntok++];
    memcpy(t->tok, tok, sizeof tok);
    t->expires = now + G.cfg.token_ttl;
    t->serial = ++G.tok_serial;
    G.tokens_issued++;
    pthread_mutex_unlock(&G.mu);
    json_t *j = json_pack("{s:s,s:s,s:I}", "access_token", tok, "token_type", "Bearer",
                          "expires_in", (json_int_t)(G.cfg.token_ttl + 0.5));
    set_json(out, 200, j);
    sodium_memzero(tok, sizeof tok);
}

static bool check_bearer(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    bool ok = false;
    pthread_mutex_lock(&G.mu);
    G.api_requests++;
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *t = h + 7;
        while (*t == ' ')
            t++;
        expire_tokens_locked(bt_now());
        for (int i = 0; i < G.ntok; i++)
            if (strcmp(G.tokens[i].tok, t) == 0)
                ok = true;
    }
    if (!ok)
        G.token_rejects++;
    pthread_mutex_unlock(&G.mu);
    return ok;
}

/* ---------------- /api/command ---------------- */
static bool valid_queue_id(const char *q, char **rep_user)
{
    *rep_user = NULL;
    if (strcmp(q, "general") == 0)
        return true;
    const char *pfx[] = {"rep:", "team:"};
    for (int i = 0; i < 2; i++) {
        size_t l = strlen(pfx[i]);
        if (strncmp(q, pfx[i], l) == 0) {
            const char *p = q + l;
            if (!*p)
                return false;
            for (; *p; p++)
                if (*p < '0' || *p > '9')
                    return false;
            return true;
        }
    }
    if (strncmp(q, "rep_username:", 13) == 0) {
        if (!rep_username_known(q + 13))
            return false;   /* [V] must match exactly one user */
        *rep_user = bt_strdup(q + 13);
        return true;
    }
    if (strncmp(q, "issue:", 6) == 0 && q[6])
        return true;
    return false;
}

/* Collects session.custom.* into custom (external_key separately). */
static void collect_custom(const req *r, bt_kvs *custom, const char **ext)
{
    for (size_t i = 0; i < r->params.n; i++) {
        const char *k = r->params.items[i].k;
        if (strncmp(k, "session.custom.", 15) != 0)
            continue;
        if (strcmp(k + 15, "external_key") == 0)
            *ext = r->params.items[i].v;
        else if (k[15])
            kvs_set(custom, k + 15, r->params.items[i].v);
    }
}

static char *cmd_generate_session_key(const req *r)
{
    const char *ns = G.cfg.ns_command;
    if (G.cfg.pra) /* [V] PRA has no generate_session_key */
        return xml_error(ns, "Invalid action: generate_session_key");
    const char *type = P(r, "type");
    if (!type || strcmp(type, "support") != 0)
        return xml_error(ns, "Invalid or missing type; the only supported type is support");
    const char *q = P(r, "queue_id");
    if (!q)
        q = "general";
    char *rep_user = NULL;
    if (!valid_queue_id(q, &rep_user))
        return xml_error(ns, "Invalid queue_id");
    const char *ttl_s = P(r, "ttl");
    long ttl = ttl_s ? strtol(ttl_s, NULL, 10) : 86400; /* [I] default */
    if (ttl <= 0)
        ttl = 86400;
    const char *ext = P(r, "external_key");
    bt_kvs custom = {0};
    collect_custom(r, &custom, &ext);
    const char *host = P(r, "url_hostname");
    if (!host || !*host)
        host = G.cfg.hostname;

    pthread_mutex_lock(&G.mu);
    char sk[8];
    for (;;) {
        snprintf(sk, sizeof sk, "%07u", bt_randn(10000000));
        bool dup = false;
        for (size_t i = 0; i < G.nkeys; i++)
            if (strcmp(G.keys[i].short_key, sk) == 0)
                dup = true;
        if (!dup)
            break;
    }
    if (G.nkeys == G.capkeys) {
        G.capkeys = G.capkeys ? G.capkeys * 2 : 16;
        G.keys = realloc(G.keys, G.capkeys * sizeof *G.keys);
        if (!G.keys)
            abort();
    }
    bt_key *k = &G.keys[G.nkeys++];
    memset(k, 0, sizeof *k);
    memcpy(k->short_key, sk, sizeof sk);
    k->queue_id = bt_strdup(q);
    k->external_key = bt_strdup(ext ? ext : "");
    k->custom = custom;
    k->expires = (int64_t)bt_now() + ttl;
    k->rep_username = rep_user;
    long long expires = (long long)k->expires;
    pthread_mutex_unlock(&G.mu);

    tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<session_key xmlns=\"");
    xml_esc(&b, G.cfg.ns_command);
    tb_buf_appends(&b, "\">");
    tb_buf_printf(&b, "<type>support</type><ttl>%ld</ttl><expires>%lld</expires>", ttl, expires);
    const char *qname = strcmp(q, "general") == 0 ? "General Queue" : q; /* [I] */
    tb_buf_appends(&b, "<queue>");
    xml_esc(&b, qname);
    tb_buf_appends(&b, "</queue><queue_id>");
    xml_esc(&b, q);
    tb_buf_appends(&b, "</queue_id><external_key>");
    xml_esc(&b, ext ? ext : "");
    tb_buf_printf(&b, "</external_key><short_key>%s</short_key><key_url>", sk);
    char *url = bt_strdupf("https://%s/?ak=%s", host, sk); /* [I] URL shape */
    xml_esc(&b, url);
    tb_buf_appends(&b, "</key_url><mail_subject>Support Session Invitation</mail_subject><mail_body>");
    char *mail = bt_strdupf("Please click the link below to start a support session:\n%s\n"
                            "Or enter session key %s at https://%s/", url, sk, host);
    xml_esc(&b, mail);
    tb_buf_appends(&b, "</mail_body></session_key>\n");
    free(url);
    free(mail);
    return tb_buf_take(&b);
}

static char *cmd_set_attrs(const req *r)
{
    const char *ns = G.cfg.ns_command;
    const char *lsid = P(r, "lsid");
    if (!lsid)
        return xml_error(ns, "Missing lsid");
    /* [V] each ≤1024 chars, all together ≤10 KB */
    size_t total = 0;
    for (size_t i = 0; i < r->params.n; i++) {
        if (strncmp(r->params.items[i].k, "session.custom.", 15) != 0)
            continue;
        size_t l = strlen(r->params.items[i].v);
        if (l > 1024)
            return xml_error(ns, "Custom attribute value exceeds 1024 characters");
        total += l;
    }
    pthread_mutex_lock(&G.mu);
    bt_session *s = find_session(lsid);
    char *res = NULL;
    if (!s || !s->active) {
        res = xml_error(ns, "Unable to find an active session with the given lsid");
    } else {
        /* total after the merge */
        size_t merged = total;
        const char *ext_new = NULL;
        for (size_t i = 0; i < r->params.n; i++)
            if (strcmp(r->params.items[i].k, "session.custom.external_key") == 0)
                ext_new = r->params.items[i].v;
        if (!ext_new)
            merged += strlen(s->external_key);
        for (size_t i = 0; i < s->custom.n; i++) {
            char *k = bt_strdupf("session.custom.%s", s->custom.items[i].k);
            if (!P(r, k))
                merged += strlen(s->custom.items[i].v);
            free(k);
        }
        if (merged > 10240) {
            res = xml_error(ns, "Custom attributes exceed the 10 KB total limit");
        } else {
            for (size_t i = 0; i < r->params.n; i++) {
                const char *k = r->params.items[i].k, *v = r->params.items[i].v;
                if (strncmp(k, "session.custom.", 15) != 0 || !k[15])
                    continue;
                if (strcmp(k + 15, "external_key") == 0) {
                    free(s->external_key);
                    s->external_key = bt_strdup(v);
                } else if (!*v) {
                    kvs_del(&s->custom, k + 15);
                } else {
                    kvs_set(&s->custom, k + 15, v);
                }
            }
            res = xml_simple("success", "Session attributes were set");
        }
    }
    pthread_mutex_unlock(&G.mu);
    return res;
}

static char *cmd_get_attrs(const req *r)
{
    const char *ns = G.cfg.ns_command;
    const char *lsid = P(r, "lsid");
    pthread_mutex_lock(&G.mu);
    bt_session *s = lsid ? find_session(lsid) : NULL;
    char *res;
    if (!s || !s->active) {
        res = xml_error(ns, "Unable to find an active session with the given lsid");
    } else {
        tb_buf b;
        tb_buf_init(&b, 0);
        tb_buf_appends(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<custom_attributes xmlns=\"");
        xml_esc(&b, ns);
        tb_buf_appends(&b, "\">");
        if (s->external_key && *s->external_key) {
            tb_buf_appends(&b, "<custom_attribute display_name=\"External Key\" code_name=\"external_key\">");
            xml_esc(&b, s->external_key);
            tb_buf_appends(&b, "</custom_attribute>");
        }
        for (size_t i = 0; i < s->custom.n; i++) {
            char *dn = bt_display_name(s->custom.items[i].k);
            tb_buf_appends(&b, "<custom_attribute display_name=\"");
            xml_esc(&b, dn);
            tb_buf_appends(&b, "\" code_name=\"");
            xml_esc(&b, s->custom.items[i].k);
            tb_buf_appends(&b, "\">");
            xml_esc(&b, s->custom.items[i].v);
            tb_buf_appends(&b, "</custom_attribute>");
            free(dn);
        }
        tb_buf_appends(&b, "</custom_attributes>\n");
        res = tb_buf_take(&b);
    }
    pthread_mutex_unlock(&G.mu);
    return res;
}

static char *cmd_check_health(void)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    int64_t now = (int64_t)bt_now();
    char iso[40];
    bt_iso_time(now - 60, iso, sizeof iso);
    tb_buf_appends(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<check_health xmlns=\"");
    xml_esc(&b, G.cfg.ns_command);
    tb_buf_appends(&b, "\"><appliance id=\"");
    xml_esc(&b, G.cfg.appliance_id);
    tb_buf_appends(&b, "\">");
    xml_esc(&b, G.cfg.hostname);
    tb_buf_printf(&b, "</appliance><version>%s</version><success>1</success>"
                      "<failover_role>none</failover_role>"
                      "<last_data_sync_time ts=\"%lld\">%s</last_data_sync_time>"
                      "<last_data_sync_status>Success</last_data_sync_status></check_health>\n",
                  G.cfg.pra ? "24.3.1 (btsim)" : "24.3.2 (btsim)", (long long)(now - 60), iso);
    return tb_buf_take(&b);
}

static char *cmd_api_info(void)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    /* [I] root api_information (SN-TU) and perm_* as child elements */
    tb_buf_appends(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<api_information xmlns=\"");
    xml_esc(&b, G.cfg.ns_command);
    tb_buf_appends(&b, "\"><api_version>1.25.0</api_version>");
    if (!G.cfg.pra)
        tb_buf_appends(&b, "<company_name>btsim Example &amp; Co</company_name>");
    tb_buf_printf(&b, "<timestamp>%lld</timestamp><permissions>"
                      "<perm_backup>0</perm_backup><perm_command>full</perm_command>"
                      "<perm_configuration>0</perm_configuration>"
                      "<perm_reporting_support>1</perm_reporting_support>"
                      "<perm_real_time_state>1</perm_real_time_state>"
                      "</permissions></api_information>\n",
                  (long long)bt_now());
    return tb_buf_take(&b);
}

static char *cmd_logged_in_reps(void)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<logged_in_reps xmlns=\"");
    xml_esc(&b, G.cfg.ns_command);
    tb_buf_appends(&b, "\"></logged_in_reps>\n");
    return tb_buf_take(&b);
}

static char *cmd_terminate(const req *r)
{
    const char *lsid = P(r, "lsid");
    pthread_mutex_lock(&G.mu);
    bt_session *s = lsid ? find_session(lsid) : NULL;
    char *res;
    if (!s || !s->active) {
        res = xml_error(G.cfg.ns_command, "Unable to find an active session with the given lsid");
    } else {
        end_session(s, (int64_t)bt_now());
        outbound_session_event(s, G.cfg.end_event, NULL, NULL);
        res = xml_simple("success", "Successfully terminated");
    }
    pthread_mutex_unlock(&G.mu);
    return res;
}

static void handle_command(const req *r, reply *out)
{
    const char *a = P(r, "action");
    char *x;
    if (!a)
        x = xml_error(G.cfg.ns_command, "Missing action");
    else if (strcmp(a, "generate_session_key") == 0)
        x = cmd_generate_session_key(r);
    else if (strcmp(a, "set_session_attributes") == 0)
        x = cmd_set_attrs(r);
    else if (strcmp(a, "get_session_attributes") == 0)
        x = cmd_get_attrs(r);
    else if (strcmp(a, "check_health") == 0)
        x = cmd_check_health();
    else if (strcmp(a, "get_api_info") == 0)
        x = cmd_api_info();
    else if (strcmp(a, "get_logged_in_reps") == 0)
        x = cmd_logged_in_reps();
    else if (strcmp(a, "terminate_session") == 0)
        x = cmd_terminate(r);
    else
        x = xml_error(G.cfg.ns_command, "Invalid action");
    set_xml(out, x);
}

/* ---------------- /api/reporting ---------------- */
static bool parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

static bool parse_date(const char *s, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s)
        return false;
    int y, mo, d;
    char extra;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &mo, &d, &extra) != 3 || mo < 1 || mo > 12 || d < 1 ||
        d > 31)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    *out = (int64_t)timegm(&tm);
    return true;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    tb_buf b;
    tb_buf_init(&b, 0);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        tb_buf_append(&b, chunk, n);
    fclose(f);
    return tb_buf_take(&b);
}

static void handle_reporting(const req *r, reply *out)
{
    const char *ns = G.cfg.ns_report;
    const char *type = P(r, "generate_report");
    const char *full = G.cfg.pra ? "AccessSession" : "SupportSession";
    const char *listing = G.cfg.pra ? "AccessSessionListing" : "SupportSessionListing";
    if (!type) {
        set_xml(out, xml_error(ns, "Missing generate_report"));
        return;
    }
    bool is_full = strcmp(type, full) == 0, is_list = strcmp(type, listing) == 0;
    if (!is_full && !is_list) {
        set_xml(out, xml_error(ns, "Invalid report type"));
        return;
    }
    const char *lsid = P(r, "lsid"), *lsids = P(r, "lsids");
    if (is_full && lsid) {
        const char *path = kvs_get(&G.cfg.report_files, lsid);
        if (path) {
            char *x = read_file(path);
            if (x)
                set_xml(out, x);
            else
                set_xml(out, xml_error(ns, "Report file unreadable"));
            return;
        }
    }
    int64_t now = (int64_t)bt_now();
    int64_t t0 = 0, dur = 0, dur_mult = 1;
    int mode = 0; /* 1 lsid(s), 2 start window, 3 end window */
    const char *v;
    if (is_full && (lsid || lsids)) {
        mode = 1;
    } else if ((v = P(r, "start_time"))) {
        if (!parse_i64(v, &t0)) goto bad;
        mode = 2;
    } else if ((v = P(r, "end_time"))) {
        if (!parse_i64(v, &t0)) goto bad;
        mode = 3;
    } else if ((v = P(r, "start_date"))) {
        if (!parse_date(v, &t0)) goto bad;
        mode = 2;
        dur_mult = 86400;
    } else if ((v = P(r, "end_date"))) {
        if (!parse_date(v, &t0)) goto bad;
        mode = 3;
        dur_mult = 86400;
    } else {
        goto bad;
    }
    if (mode != 1) {
        const char *d = P(r, "duration");
        if (d && !parse_i64(d, &dur)) goto bad;
        if (dur < 0) goto bad;
        dur *= dur_mult;
    }

    pthread_mutex_lock(&G.mu);
    size_t cap = mode == 1 ? 64 : (G.nsess ? G.nsess : 1), n = 0;
    bt_session **sel = malloc(cap * sizeof *sel);
    if (!sel)
        abort();
    if (mode == 1) {
        char *list = bt_strdup(lsid ? lsid : lsids);
        char *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            bt_session *s = find_session(tok);
            if (!s)
                continue;
            bool dup = false;
            for (size_t i = 0; i < n; i++)
                if (sel[i] == s)
                    dup = true;
            if (dup)
                continue;
            if (n == cap) {
                cap *= 2;
                sel = realloc(sel, cap * sizeof *sel);
                if (!sel)
                    abort();
            }
            sel[n++] = s;
        }
        free(list);
    } else {
        int64_t t1 = dur == 0 ? INT64_MAX : t0 + dur; /* [V] duration=0: until now */
        (void)now;
        for (size_t i = 0; i < G.nsess; i++) {
            bt_session *s = G.sess[i];
            if (mode == 2 && s->start >= t0 && s->start < t1)
                sel[n++] = s;
            else if (mode == 3 && !s->active && s->end >= t0 && s->end < t1)
                sel[n++] = s; /* [V] end window: closed sessions only */
        }
    }
    char *x;
    if (is_list)
        x = xml_listing(sel, n); /* [V] empty list when nothing matches */
    else if (n == 0)
        x = xml_error(ns, "No sessions found for the given search criteria."); /* [V] 200 */
    else
        x = xml_session_list(sel, n);
    pthread_mutex_unlock(&G.mu);
    free(sel);
    set_xml(out, x);
    return;
bad:
    set_xml(out, xml_error(ns, "Invalid or missing search criteria"));
}

/* ---------------- control API ---------------- */
static json_t *lsid_array(bt_session **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]->lsid));
    return a;
}

static void ctl_sessions_post(const req *r, reply *out)
{
    const char *cs = P(r, "count");
    long count = cs ? strtol(cs, NULL, 10) : 1;
    if (count < 1 || count > 1000000) {
        set_json(out, 400, json_pack("{s:s}", "error", "bad count"));
        return;
    }
    bt_kvs custom = {0};
    for (size_t i = 0; i < r->params.n; i++)
        if (strncmp(r->params.items[i].k, "custom.", 7) == 0 && r->params.items[i].k[7])
            kvs_set(&custom, r->params.items[i].k + 7, r->params.items[i].v);
    const char *act = P(r, "active");
    bt_gen_opts o = {
        .active = act && strcmp(act, "0") != 0,
        .external_key = P(r, "external_key"),
        .custom = &custom,
        .rep_username = P(r, "rep"),
        .customer_host = P(r, "customer_host"),
    };
    bt_session **made = malloc((size_t)count * sizeof *made);
    if (!made)
        abort();
    pthread_mutex_lock(&G.mu);
    for (long i = 0; i < count; i++) {
        bt_session *s = gen_session(&o);
        made[i] = s;
        if (s->active) {
            if (G.cfg.lifecycle_events) {
                outbound_session_event(s, G.cfg.begin_event, NULL, NULL);
                outbound_session_event(s, G.cfg.member_event, NULL, &s->custs[0]);
                outbound_session_event(s, G.cfg.member_event, &s->reps[0], NULL);
            }
        } else {
            outbound_session_event(s, G.cfg.end_event, NULL, NULL);
        }
    }
    json_t *a = lsid_array(made, (size_t)count);
    pthread_mutex_unlock(&G.mu);
    free(made);
    kvs_free(&custom);
    set_json(out, 200, json_pack("{s:o}", "lsids", a));
}

static void ctl_sessions_end(const req *r, reply *out)
{
    const char *lsid = P(r, "lsid");
    pthread_mutex_lock(&G.mu);
    bt_session *s = lsid ? find_session(lsid) : NULL;
    if (!s || !s->active) {
        pthread_mutex_unlock(&G.mu);
        set_json(out, 404, json_pack("{s:s}", "error", "no such active session"));
        return;
    }
    end_session(s, (int64_t)bt_now());
    outbound_session_event(s, G.cfg.end_event, NULL, NULL);
    pthread_mutex_unlock(&G.mu);
    set_json(out, 200, json_pack("{s:s}", "lsid", lsid));
}

static void ctl_sessions_start(const req *r, reply *out)
{
    const char *sk = P(r, "short_key");
    pthread_mutex_lock(&G.mu);
    bt_key *k = NULL;
    for (size_t i = 0; sk && i < G.nkeys; i++)
        if (strcmp(G.keys[i].short_key, sk) == 0)
            k = &G.keys[i];
    if (!k || k->expires < (int64_t)bt_now()) {
        pthread_mutex_unlock(&G.mu);
        set_json(out, 404, json_pack("{s:s}", "error", "no such session key"));
        return;
    }
    bt_gen_opts o = {
        .active = true,
        .external_key = k->external_key,
        .custom = &k->custom,
        .rep_username = k->rep_username,
        .customer_host = P(r, "customer_host"),
    };
    bt_session *s = gen_session(&o);
    if (G.cfg.lifecycle_events) {
        outbound_session_event(s, G.cfg.begin_event, NULL, NULL);
        outbound_session_event(s, G.cfg.member_event, NULL, &s->custs[0]);
        outbound_session_event(s, G.cfg.member_event, &s->reps[0], NULL);
    }
    json_t *j = json_pack("{s:s}", "lsid", s->lsid);
    pthread_mutex_unlock(&G.mu);
    set_json(out, 200, j);
}

static void ctl_sessions_get(reply *out)
{
    json_t *a = json_array();
    pthread_mutex_lock(&G.mu);
    for (size_t i = 0; i < G.nsess; i++) {
        bt_session *s = G.sess[i];
        json_t *cu = json_object();
        for (size_t k = 0; k < s->custom.n; k++)
            json_object_set_new(cu, s->custom.items[k].k, json_string(s->custom.items[k].v));
        json_array_append_new(a, json_pack("{s:s,s:b,s:I,s:I,s:s,s:o,s:s,s:s,s:b}",
            "lsid", s->lsid, "active", s->active, "start_time", (json_int_t)s->start,
            "end_time", (json_int_t)s->end, "external_key", s->external_key, "custom", cu,
            "rep", s->reps[0].username, "customer_host", s->custs[0].hostname,
            "has_recording", s->has_recording));
    }
    pthread_mutex_unlock(&G.mu);
    set_json(out, 200, json_pack("{s:o}", "sessions", a));
}

static void ctl_events(const req *r, reply *out)
{
    const char *ev = P(r, "event");
    if (!ev || !*ev) {
        set_json(out, 400, json_pack("{s:s}", "error", "event required"));
        return;
    }
    if (!G.cfg.outbound_url) {
        set_json(out, 409, json_pack("{s:s}", "error", "no --outbound-url configured"));
        return;
    }
    bt_kvs f = {0};
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)bt_now());
    const char *lsid = P(r, "lsid");
    const char *ext = P(r, "external_key");
    if (!ext && lsid) {
        pthread_mutex_lock(&G.mu);
        bt_session *s = find_session(lsid);
        if (s)
            kvs_add(&f, "external_key", s->external_key);
        pthread_mutex_unlock(&G.mu);
    }
    bt_kvs std = {0};
    kvs_add(&std, "event", ev);
    kvs_add(&std, "version", P(r, "version") ? P(r, "version") : G.cfg.event_version);
    kvs_add(&std, "timestamp", P(r, "timestamp") ? P(r, "timestamp") : ts);
    kvs_add(&std, "appliance_id", P(r, "appliance_id") ? P(r, "appliance_id") : G.cfg.appliance_id);
    kvs_add(&std, "lsid", lsid ? lsid : "");
    kvs_add(&std, "external_key", ext ? ext : (kvs_get(&f, "external_key") ? kvs_get(&f, "external_key") : ""));
    kvs_free(&f);
    for (size_t i = 0; i < r->params.n; i++)
        if (!kvs_get(&std, r->params.items[i].k))
            kvs_add(&std, r->params.items[i].k, r->params.items[i].v);
    outbound_queue(&std);
    set_json(out, 200, json_pack("{s:b}", "queued", 1));
}

static void handle_control(const char *url, const char *method, const req *r, reply *out)
{
    bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    if (strcmp(url, "/_btsim/sessions") == 0 && post)
        ctl_sessions_post(r, out);
    else if (strcmp(url, "/_btsim/sessions") == 0 && get)
        ctl_sessions_get(out);
    else if (strcmp(url, "/_btsim/sessions/end") == 0 && post)
        ctl_sessions_end(r, out);
    else if (strcmp(url, "/_btsim/sessions/start") == 0 && post)
        ctl_sessions_start(r, out);
    else if (strcmp(url, "/_btsim/events") == 0 && post)
        ctl_events(r, out);
    else if (strcmp(url, "/_btsim/faults") == 0 && post) {
        if (fault_add(P(r, "spec")) != TB_OK)
            set_json(out, 400, json_pack("{s:s}", "error", "bad fault spec"));
        else
            set_json(out, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(url, "/_btsim/faults") == 0 && strcmp(method, "DELETE") == 0) {
        pthread_mutex_lock(&G.mu);
        memset(&G.faults, 0, sizeof G.faults);
        pthread_mutex_unlock(&G.mu);
        set_json(out, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(url, "/_btsim/stats") == 0 && get) {
        out->status = 200;
        out->ctype = "application/json";
        out->body = stats_json();
    } else {
        set_json(out, 404, json_pack("{s:s}", "error", "not found"));
    }
}

/* ---------------- dispatch ---------------- */
static void dispatch(struct MHD_Connection *c, const char *url, const char *method, req *r,
                     reply *out)
{
    if (r->too_large) {
        set_text(out, 413, "Request too large");
        return;
    }
    if (strncmp(url, "/_btsim/", 8) == 0) {
        handle_control(url, method, r, out);
        return;
    }
    if (strcmp(url, "/check_health") == 0) {
        set_text(out, 200, "OK");
        return;
    }
    bool is_token = strcmp(url, "/oauth2/token") == 0;
    bool is_cmd = strcmp(url, "/api/command") == 0;
    bool is_rep = strcmp(url, "/api/reporting") == 0;
    if (!is_token && !is_cmd && !is_rep) {
        set_text(out, 404, "Not Found");
        return;
    }
    if (take_fault(&G.faults.drop_connection)) {
        out->drop = true;
        return;
    }
    if (is_token) {
        handle_token(c, method, r, out);
        return;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
        set_text(out, 405, "Method Not Allowed");
        return;
    }
    if (is_rep) {
        if (take_fault(&G.faults.report_5xx)) {
            set_text(out, 503, "Service Unavailable");
            return;
        }
        if (take_fault(&G.faults.report_timeout))
            bt_sleep(G.cfg.hang_seconds);
        pthread_mutex_lock(&G.mu);
        int slow = G.faults.report_slow_ms;
        pthread_mutex_unlock(&G.mu);
        if (slow > 0)
            bt_sleep(slow / 1000.0);
    }
    if (!check_bearer(c)) {
        set_json(out, 401, json_pack("{s:s}", "error", "invalid_token")); /* [I] body */
        out->close = true;
        out->www_auth = "Bearer error=\"invalid_token\"";
        return;
    }
    if (is_cmd)
        handle_command(r, out);
    else
        handle_reporting(r, out);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)version;
    req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_iter, r);
        if (strcmp(method, "POST") == 0)
            r->pp = MHD_create_post_processor(c, 16384, post_iter, r); /* NULL unless form */
        return MHD_YES;
    }
    if (*upload_data_size) {
        r->body_len += *upload_data_size;
        if (r->body_len > MAX_BODY)
            r->too_large = true;
        else if (r->pp && MHD_post_process(r->pp, upload_data, *upload_data_size) != MHD_YES)
            r->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->pp) { /* flushes the last field (MHD may hold it until the end) */
        MHD_destroy_post_processor(r->pp);
        r->pp = NULL;
    }
    reply out = {0};
    dispatch(c, url, method, r, &out);
    if (out.drop) {
        TB_LOGI("dropping connection (fault)", "url=%s", url);
        return MHD_NO;
    }
    const char *body = out.body ? out.body : "";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    free(out.body);
    if (!resp)
        return MHD_NO;
    if (out.ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, out.ctype);
    if (out.close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (out.www_auth)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, out.www_auth);
    TB_LOGD("request", "method=%s url=%s status=%d", method, url, out.status);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)out.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls; (void)c; (void)toe;
    req *r = *con_cls;
    if (!r)
        return;
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    kvs_free(&r->params);
    free(r);
    *con_cls = NULL;
}

static int bind_listener(const char *spec, int *port_out)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof host)
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    char *h = host;
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h[hl - 1] = 0;
        h++;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    int fam;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
        fam = AF_INET;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sl = sizeof *s4;
    } else if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
        fam = AF_INET6;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sl = sizeof *s6;
    } else {
        return -1;
    }
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 128) != 0) {
        close(fd);
        return -1;
    }
    struct sockaddr_storage got;
    socklen_t gl = sizeof got;
    getsockname(fd, (struct sockaddr *)&got, &gl);
    *port_out = ntohs(fam == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
                                     : ((struct sockaddr_in6 *)&got)->sin6_port);
    return fd;
}

tb_err server_start(int *port_out)
{
    int fd = bind_listener(G.cfg.listen, port_out);
    if (fd < 0) {
        TB_LOGE("cannot listen", "listen=%s errno=%d", G.cfg.listen, errno);
        return TB_ERR_IO;
    }
    daemon_ = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                   MHD_USE_ERROR_LOG,
                               0, NULL, NULL, on_request, NULL,
                               MHD_OPTION_LISTEN_SOCKET, fd,
                               MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                               MHD_OPTION_END);
    if (!daemon_) {
        close(fd);
        return TB_ERR_IO;
    }
    return TB_OK;
}

void server_stop(void)
{
    if (daemon_) {
        MHD_stop_daemon(daemon_);
        daemon_ = NULL;
    }
}
