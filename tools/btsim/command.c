/* /api/command (protocol doc §2): XML answers in the command namespace;
 * errors are a namespaced <error> with HTTP 200 (§2.6). */
#include "handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool all_digits(const char *p, size_t maxlen)
{
    size_t n = 0;
    for (; *p; p++, n++)
        if (*p < '0' || *p > '9')
            return false;
    return n >= 1 && n <= maxlen;
}

/* [V] §2.1 queue_id forms; embassy:<id> existed only in older versions. The
 * messages are [I]. On success *rep_user is the rep whose queue it is (or
 * NULL), and *queue_name a display name for <queue> [I]. */
static const char *check_queue_id(const char *q, char **rep_user, char **queue_name)
{
    *rep_user = NULL;
    *queue_name = NULL;
    if (strcmp(q, "general") == 0) {
        *queue_name = bt_strdup("General Queue");
        return NULL;
    }
    if (strncmp(q, "rep:", 4) == 0) {
        if (!all_digits(q + 4, 9))
            return "Invalid queue_id: rep:[id] needs a numeric id";
        const char *u = rep_username_by_id(atol(q + 4));
        if (!u)
            return "Invalid queue_id: no representative with the given id";
        *rep_user = bt_strdup(u);
        *queue_name = bt_strdup(u);
        return NULL;
    }
    if (strncmp(q, "team:", 5) == 0) {
        if (!all_digits(q + 5, 9))
            return "Invalid queue_id: team:[id] needs a numeric id";
        *queue_name = bt_strdupf("Team %s", q + 5);
        return NULL;
    }
    if (strncmp(q, "rep_username:", 13) == 0) {
        if (!rep_username_known(q + 13)) /* [V] must match exactly one user */
            return "Unable to find a single user with the given username";
        *rep_user = bt_strdup(q + 13);
        *queue_name = bt_strdup(q + 13);
        return NULL;
    }
    if (strncmp(q, "issue:", 6) == 0) {
        if (!custom_field_name_valid(q + 6))
            return "Invalid queue_id: issue:[issue_code_name] needs a code name";
        *queue_name = bt_strdup(q + 6);
        return NULL;
    }
    return "Invalid queue_id; expected general, rep:[id], team:[id], rep_username:[username] "
           "or issue:[issue_code_name]";
}

static bool hostname_ok(const char *h)
{
    size_t n = 0;
    for (const char *p = h; *p; p++, n++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']'))
            return false;
    return n >= 1 && n <= 255;
}

static char *key_xml(const bt_key *k, long ttl, const char *queue_name, const char *host)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<session_key xmlns=\"");
    xml_esc(&b, G.cfg.ns_command);
    tb_buf_appends(&b, "\">");
    /* [V] the ten children real clients read; their order is [I] */
    tb_buf_printf(&b, "<type>support</type><ttl>%ld</ttl><expires>%lld</expires>", ttl,
                  (long long)k->expires);
    tb_buf_appends(&b, "<queue>");
    xml_esc(&b, queue_name);
    tb_buf_appends(&b, "</queue><queue_id>");
    xml_esc(&b, k->queue_id);
    tb_buf_appends(&b, "</queue_id><external_key>");
    xml_esc(&b, k->external_key);
    tb_buf_printf(&b, "</external_key><short_key>%s</short_key><key_url>", k->short_key);
    char *url = key_url(host, k->short_key);
    xml_esc(&b, url);
    tb_buf_appends(&b, "</key_url><mail_subject>Support Session Invitation</mail_subject><mail_body>");
    char *mail = bt_strdupf("Please click the link below to start a support session:\n%s\n"
                            "Or enter session key %s at https://%s/", url, k->short_key, host);
    xml_esc(&b, mail);
    tb_buf_appends(&b, "</mail_body></session_key>\n");
    free(url);
    free(mail);
    return tb_buf_take(&b);
}

static char *cmd_generate_session_key(const req *r)
{
    const char *ns = G.cfg.ns_command;
    if (G.cfg.pra) /* [V] PRA has no generate_session_key */
        return xml_error(ns, "Invalid action: generate_session_key");
    const char *type = P(r, "type");
    if (!type || strcmp(type, "support") != 0)
        return xml_error(ns, "Invalid or missing type; the only supported type is support");
    long ttl = (long)G.cfg.key_ttl;
    const char *ttl_s = P(r, "ttl");
    if (ttl_s) { /* [I] range: the official description of ttl was not seen */
        if (!all_digits(ttl_s, 9) || atol(ttl_s) < 1 || atol(ttl_s) > 31536000)
            return xml_error(ns, "Invalid ttl; expected a number of seconds from 1 to 31536000");
        ttl = atol(ttl_s);
    }
    const char *host = P(r, "url_hostname");
    if (host && !hostname_ok(host))
        return xml_error(ns, "Invalid url_hostname");
    if (!host || !*host)
        host = G.cfg.hostname;
    const char *ext = P(r, "external_key");
    bt_kvs custom = {0};
    collect_session_custom(&r->params, &custom, &ext);
    const char *bad = custom_values_check(&custom, ext);
    if (bad) {
        kvs_free(&custom);
        return xml_error(ns, bad);
    }
    const char *q = P(r, "queue_id");
    char *rep_user = NULL, *qname = NULL;
    const char *qerr = check_queue_id(q ? q : "general", &rep_user, &qname);
    if (qerr) {
        kvs_free(&custom);
        return xml_error(ns, qerr);
    }

    pthread_mutex_lock(&G.mu);
    char *res;
    const char *undefined = custom_fields_undefined(&custom);
    if (undefined) {
        char *msg = custom_field_error(undefined);
        res = xml_error(ns, msg);
        free(msg);
        kvs_free(&custom);
    } else {
        bt_key *k = key_add(q ? q : "general", rep_user, ext, &custom, ttl);
        res = key_xml(k, ttl, qname, host);
    }
    pthread_mutex_unlock(&G.mu);
    free(rep_user);
    free(qname);
    return res;
}

static char *cmd_set_attrs(const req *r)
{
    const char *ns = G.cfg.ns_command;
    const char *lsid = P(r, "lsid");
    if (!lsid)
        return xml_error(ns, "Missing lsid");
    const char *ext = NULL;
    bt_kvs given = {0};
    collect_session_custom(&r->params, &given, &ext);
    /* [V] each ≤1024 chars; checked on the request first, the 10 KB total
     * after the merge below */
    const char *bad = custom_values_check(&given, ext);
    if (bad) {
        kvs_free(&given);
        return xml_error(ns, bad);
    }
    pthread_mutex_lock(&G.mu);
    bt_session *s = find_session(lsid);
    const char *undefined = custom_fields_undefined(&given);
    char *res = NULL;
    if (!s || !s->active) {
        res = xml_error(ns, "Unable to find an active session with the given lsid");
    } else if (undefined) {
        char *msg = custom_field_error(undefined);
        res = xml_error(ns, msg);
        free(msg);
    } else {
        /* [V] omitted attributes keep their value, an empty one clears it */
        bt_kvs merged = {0};
        kvs_copy(&merged, &s->custom);
        for (size_t i = 0; i < given.n; i++) {
            if (*given.items[i].v)
                kvs_set(&merged, given.items[i].k, given.items[i].v);
            else
                kvs_del(&merged, given.items[i].k);
        }
        bad = custom_values_check(&merged, ext ? ext : s->external_key);
        if (bad) {
            res = xml_error(ns, bad);
            kvs_free(&merged);
        } else {
            kvs_free(&s->custom);
            s->custom = merged;
            if (ext) {
                free(s->external_key);
                s->external_key = bt_strdup(ext);
            }
            res = xml_simple("success", "Session attributes were set");
        }
    }
    pthread_mutex_unlock(&G.mu);
    kvs_free(&given);
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
        session_end_now(s);
        res = xml_simple("success", "Successfully terminated");
    }
    pthread_mutex_unlock(&G.mu);
    return res;
}

/* [V] §2.3 join_session: lsid and rep_id or rep_username (RS only) */
static char *cmd_join(const req *r)
{
    const char *ns = G.cfg.ns_command;
    if (G.cfg.pra)
        return xml_error(ns, "Invalid action: join_session");
    const char *lsid = P(r, "lsid"), *id = P(r, "rep_id"), *u = P(r, "rep_username");
    if (!lsid)
        return xml_error(ns, "Missing lsid");
    if (!id == !u)
        return xml_error(ns, "Give rep_id or rep_username");
    if (id)
        u = all_digits(id, 9) ? rep_username_by_id(atol(id)) : NULL;
    if (!u)
        return xml_error(ns, "Unable to find the given representative");
    pthread_mutex_lock(&G.mu);
    bt_session *s = find_session(lsid);
    int status;
    const char *e = !s || !s->active ? "Unable to find an active session with the given lsid"
                                     : live_join(s, u, &status);
    char *res = e ? xml_error(ns, e) : xml_simple("success", "Representative successfully added");
    pthread_mutex_unlock(&G.mu);
    return res;
}

void handle_command(const req *r, reply *out)
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
    else if (strcmp(a, "join_session") == 0)
        x = cmd_join(r);
    else
        x = xml_error(G.cfg.ns_command, "Invalid action");
    reply_xml(out, x);
}
