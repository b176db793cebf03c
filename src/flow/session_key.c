#include "flow/session_key.h"
#include "flow/import_int.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/server.h"

bool sk_number_valid(const char *number)
{
    if (!number)
        return false;
    size_t n = 0;
    for (const char *p = number; *p; p++, n++)
        if (!isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80)
            return false;
    return n >= 1 && n <= SK_NUMBER_MAX;
}

static bool parse_state(const char *v, int64_t *out)
{
    if (!v || !*v)
        return false;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end)
        return false;
    *out = n;
    return true;
}

static tb_err ticket_load(itsm *t, const char *number, sk_ticket *out, bool *found)
{
    memset(out, 0, sizeof *out);
    *found = false;
    itsm_record *r = NULL;
    tb_err e = itsm_find_task(t, number, NULL, &r);
    if (e == TB_ERR_NOT_FOUND)
        return TB_OK;
    if (e)
        return e;
    *found = true;
    snprintf(out->table, sizeof out->table, "%s", r->table);
    snprintf(out->sys_id, sizeof out->sys_id, "%s", r->sys_id);
    const char *num = itsm_record_get(r, "number");
    snprintf(out->number, sizeof out->number, "%s", num && *num ? num : number);
    /* ServiceNow keeps incident_state next to state on incidents (the
     * seeds' UI actions test it); the embedded store has state only. */
    const char *st = !strcmp(r->table, "incident") ? itsm_record_get(r, "incident_state") : NULL;
    if (!st || !*st)
        st = itsm_record_get(r, "state");
    out->has_state = parse_state(st, &out->state);
    const char *active = itsm_record_get(r, "active");
    out->active = active && !strcmp(active, "true");
    itsm_record_free(r);
    return TB_OK;
}

tb_err sk_check(import_ctx *c, const char *number, const char *roles, sk_check_result *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    struct import_tls *t;
    tb_err e = import_tls_get(c, &t);
    if (e) {
        snprintf(err, errsz, "cannot open the ticket store: %s", tb_strerror(e));
        return e;
    }
    if ((e = store_rs_settings_get(t->reader, &out->settings))) {
        snprintf(err, errsz, "cannot read the integration properties: %s", tb_strerror(e));
        return e;
    }
    if ((e = ticket_load(t->tickets, number, &out->ticket, &out->found))) {
        snprintf(err, errsz, "cannot read ticket %s: %s", number, tb_strerror(e));
        return e;
    }
    appliance_snapshot *snap = appliance_cache_acquire(c->opt.appliances);
    const appliance_entry *a = appliance_find_name(snap, SK_APPLIANCE_NAME);
    sk_facts f = {
        .ticket_found = out->found,
        .table = out->ticket.table,
        .number = out->found ? out->ticket.number : number,
        .state = out->ticket.state,
        .has_state = out->ticket.has_state,
        .active = out->ticket.active,
        .appliance_found = a != NULL,
        .appliance_enabled = a && a->enabled,
        .appliance_rs = a && !strcmp(a->product, "rs"),
        .appliance_api = a && a->client_id[0] && a->client_secret && a->client_secret[0],
        .roles = roles,
    };
    out->appliance_id = a ? a->id : 0;
    appliance_cache_release(c->opt.appliances, snap);
    sk_rules_evaluate(&out->settings, &f, &out->verdict);
    return TB_OK;
}

/* ---- the appliance call ---- */

static void bt_username_of(itsm *t, const char *username, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s", username);
    itsm_kv kv = {"user_name", username};
    itsm_record **v = NULL;
    size_t n = 0;
    if (itsm_query(t, "sys_user", &kv, 1, 1, 1, 0, &v, &n) == TB_OK && n == 1) {
        const char *bt = itsm_record_get(v[0], "u_beyondtrust_username");
        if (bt && *bt)
            snprintf(out, outsz, "%s", bt);
    }
    itsm_records_free(v, n);
}

static void fail(sk_result *r, int status, const char *message, const char *detail)
{
    r->ok = false;
    r->status = status;
    snprintf(r->message, sizeof r->message, "%s", message);
    snprintf(r->detail, sizeof r->detail, "%s", detail);
}

void sk_generate(import_ctx *c, const sk_check_result *chk, const char *acting_user, long timeout_ms, sk_result *out)
{
    memset(out, 0, sizeof *out);
    out->created_at = tb_now_ms() / 1000;
    int64_t deadline = tb_mono_ns() / 1000000 + (timeout_ms > 0 ? timeout_ms : SK_TIMEOUT_MS);
    struct import_tls *t;
    tb_err e = import_tls_get(c, &t);
    if (e) {
        fail(out, 500, "Internal error", tb_strerror(e));
        return;
    }
    bt_username_of(t->tickets, acting_user, out->bt_username, sizeof out->bt_username);
    appliance_snapshot *snap = appliance_cache_acquire(c->opt.appliances);
    const appliance_entry *a = appliance_find_row(snap, chk->appliance_id);
    char base[BT_API_URL_MAX], err[256];
    bt_conn conn;
    if (!a || !a->enabled) {
        fail(out, 403, "Session key not allowed", "the '" SK_APPLIANCE_NAME "' appliance was removed or disabled");
        goto out;
    }
    if ((e = import_conn(c, a, base, sizeof base, &conn, err, sizeof err))) {
        fail(out, 409, "Appliance not configured", err);
        goto out;
    }
    const tb_rs_settings *s = &chk->settings;
    const char *field = sk_custom_field_for(chk->ticket.table);
    bool by_rep = out->bt_username[0] && strlen(out->bt_username) <= BT_SK_QUEUE_MAX - 13 &&
                  !strpbrk(out->bt_username, " \t\r\n");
    if (by_rep)
        snprintf(out->queue_id, sizeof out->queue_id, "rep_username:%.*s", (int)(sizeof out->queue_id - 14),
                 out->bt_username); /* fits: checked above */
    else
        snprintf(out->queue_id, sizeof out->queue_id, "%s", s->fallback_queue);
    out->fell_back = !by_rep;
    bt_session_key_params p = {
        .queue_id = out->queue_id,
        .external_key = chk->ticket.number,
        .custom_name = field,
        .custom_value = chk->ticket.sys_id,
        .ttl = (long)s->key_ttl_s,
    };
    bt_api_result res;
    for (int attempt = 0;; attempt++) {
        long left = (long)(deadline - tb_mono_ns() / 1000000);
        if (left < 200) {
            e = TB_ERR_TIMEOUT;
            memset(&res, 0, sizeof res);
            snprintf(res.err, sizeof res.err, "no time left for another attempt");
            break;
        }
        conn.timeout_ms = left;
        conn.connect_timeout_ms = left < 5000 ? left : 5000;
        e = bt_generate_session_key(c->tokens, t->http, &conn, &p, &out->key, &res);
        if (e && attempt == 0 && by_rep && bt_session_key_classify(e, &res) == BT_SK_FAIL_UNKNOWN_REP &&
            strcmp(out->queue_id, s->fallback_queue)) {
            TB_LOGI("session key: representative unknown to the appliance; using the fallback queue",
                    "ticket=%s bt_username=\"%.64s\" queue=\"%.64s\"", chk->ticket.number, out->bt_username,
                    s->fallback_queue);
            snprintf(out->queue_id, sizeof out->queue_id, "%s", s->fallback_queue);
            out->fell_back = true;
            continue;
        }
        break;
    }
    if (!e) {
        out->ok = true;
        int64_t exp = out->key.expires;
        if (exp <= 0)
            exp = out->key.ttl > 0 ? out->created_at + out->key.ttl
                : s->key_ttl_s > 0 ? out->created_at + s->key_ttl_s : out->created_at + SK_ASSUMED_TTL_S;
        out->expires_at = exp;
        goto out;
    }
    out->failure = bt_session_key_classify(e, &res);
    bt_session_key_hint(out->failure, &res, a->hostname, field, out->detail, sizeof out->detail);
    out->status = e == TB_ERR_TIMEOUT ? 504 : out->failure == BT_SK_FAIL_BUSY ? 503 : 502;
    snprintf(out->message, sizeof out->message, "Cannot generate a session key");
out:
    if (!out->ok)
        TB_LOGW("session key not generated", "ticket=%s user=\"%.64s\" queue=\"%.64s\" failure=%s detail=\"%.400s\"",
                chk->ticket.number, acting_user, out->queue_id, bt_sk_failure_name(out->failure), out->detail);
    else
        TB_LOGI("session key generated", "ticket=%s user=\"%.64s\" queue=\"%.64s\" expires=%lld", chk->ticket.number,
                acting_user, out->queue_id, (long long)out->expires_at);
    appliance_cache_release(c->opt.appliances, snap);
}

void sk_result_free(sk_result *r)
{
    if (r->ok)
        bt_session_key_free(&r->key);
    r->ok = false;
}

void sk_record(const sk_check_result *chk, const sk_result *r, const char *acting_user, tb_session_key_rec *rec)
{
    *rec = (tb_session_key_rec){
        .created_at = r->created_at,
        .appliance_id = chk->appliance_id,
        .task_table = chk->ticket.table,
        .task_sys_id = chk->ticket.sys_id,
        .task_number = chk->ticket.number,
        .acting_user = acting_user,
        .bt_username = r->bt_username,
        .queue_id = r->queue_id,
        .external_key = chk->ticket.number,
        .short_key = r->ok ? r->key.short_key : NULL,
        .key_url = r->ok ? r->key.key_url : NULL,
        .expires_at = r->ok ? r->expires_at : 0,
        .state = r->ok ? "issued" : "failed",
        .error = r->ok ? NULL : r->detail,
    };
}

/* ---- JSON ---- */

static json_t *ticket_json(const sk_check_result *chk)
{
    if (!chk->found)
        return json_null();
    json_t *o = json_pack("{s:s, s:s, s:s}", "table", chk->ticket.table, "number", chk->ticket.number, "sys_id",
                          chk->ticket.sys_id);
    if (o && chk->ticket.has_state)
        json_object_set_new(o, "state", json_integer(chk->ticket.state));
    return o;
}

static char *dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

char *sk_result_json(const sk_check_result *chk, const sk_result *r, int64_t id)
{
    char when[32];
    tb_fmt_utc(r->expires_at, when, sizeof when);
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:b, s:s, s:s, s:o}", "id", (json_int_t)id,
                          "short_key", r->key.short_key, "key_url", r->key.key_url, "mail_subject",
                          r->key.mail_subject, "mail_body", r->key.mail_body, "expires", (json_int_t)r->expires_at,
                          "expires_at", when, "queue_id", r->queue_id, "queue_fallback", r->fell_back, "bt_username",
                          r->bt_username, "external_key", chk->ticket.number, "ticket", ticket_json(chk));
    if (o && r->key.ttl >= 0)
        json_object_set_new(o, "ttl", json_integer(r->key.ttl));
    return dump(o);
}

char *sk_verdict_json(const sk_check_result *chk)
{
    json_t *reasons = json_array();
    for (size_t i = 0; reasons && i < chk->verdict.n; i++)
        json_array_append_new(reasons, json_pack("{s:s, s:s}", "code", sk_reason_name(chk->verdict.reasons[i].code),
                                                 "message", chk->verdict.reasons[i].message));
    json_t *o = json_pack("{s:b, s:o, s:s, s:o}", "allowed", chk->verdict.allowed, "reasons", reasons, "appliance",
                          SK_APPLIANCE_NAME, "ticket", ticket_json(chk));
    if (o && chk->found)
        json_object_set_new(o, "role", json_string(sk_role_for(chk->ticket.table)));
    return dump(o);
}

void sk_verdict_text(const sk_verdict *v, char *out, size_t outsz)
{
    size_t len = 0;
    if (outsz)
        out[0] = '\0';
    for (size_t i = 0; i < v->n && len < outsz; i++) {
        int w = snprintf(out + len, outsz - len, "%s%s", i ? "; " : "", v->reasons[i].message);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}
