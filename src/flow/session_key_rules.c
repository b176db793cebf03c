#include "flow/session_key_rules.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/session_key.h"
#include "core/roles.h"

const char *sk_reason_name(sk_reason_code c)
{
    static const char *const names[SK_R__COUNT] = {
        "ticket_not_found", "session_keys_disabled", "no_default_appliance", "default_appliance_disabled",
        "default_appliance_not_rs", "default_appliance_no_api_account", "state_not_allowed", "role_missing",
    };
    return (unsigned)c < SK_R__COUNT ? names[c] : "unknown";
}

/* HTTP status of a refusal whose first reason is c. */
static int reason_status(sk_reason_code c)
{
    switch (c) {
    case SK_R_TICKET_NOT_FOUND: return 404;
    case SK_R_STATE: return 409;
    default: return 403;
    }
}

const char *sk_role_for(const char *table)
{
    return table && !strcmp(table, SK_CASE_TABLE) ? ROLE_CSM_AGENT : ROLE_ITIL;
}

const char *sk_custom_field_for(const char *table)
{
    return table && !strcmp(table, SK_CASE_TABLE) ? "snow_case_id" : "snow_task_id";
}

static void add(sk_verdict *v, sk_reason_code c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(sk_verdict *v, sk_reason_code c, const char *fmt, ...)
{
    if (v->n >= SK_R__COUNT)
        return;
    sk_reason *r = &v->reasons[v->n++];
    r->code = c;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

bool sk_state_listed(const char *csv, int64_t state)
{
    for (const char *p = csv; p && *p;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p)
            return false;
        if (v == state)
            return true;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return false;
    }
    return false;
}

static bool state_allowed(const tb_rs_settings *s, const sk_facts *f, char *why, size_t whysz)
{
    const char *table = f->table ? f->table : "";
    if (!strcmp(table, "incident")) {
        if (!f->has_state) {
            snprintf(why, whysz, "the incident has no numeric state");
            return false;
        }
        if (s->incident_state_below > 0 && f->state >= s->incident_state_below) {
            snprintf(why, whysz, "incident state %lld is not below %lld (resolved, closed or canceled)",
                     (long long)f->state, (long long)s->incident_state_below);
            return false;
        }
        if (sk_state_listed(s->incident_states_excluded, f->state)) {
            snprintf(why, whysz, "incident state %lld is excluded (%.100s)", (long long)f->state,
                     s->incident_states_excluded);
            return false;
        }
        return true;
    }
    if (!strcmp(table, SK_CASE_TABLE)) {
        if (!f->has_state || !sk_state_listed(s->case_states, f->state)) {
            if (f->has_state)
                snprintf(why, whysz, "case state %lld is not one of %.100s", (long long)f->state,
                         s->case_states[0] ? s->case_states : "(none)");
            else
                snprintf(why, whysz, "the case has no numeric state");
            return false;
        }
        return true;
    }
    if (!f->active) {
        snprintf(why, whysz, "%s %s is not active", table, f->number ? f->number : "");
        return false;
    }
    return true;
}

void sk_rules_evaluate(const tb_rs_settings *s, const sk_facts *f, sk_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (!f->ticket_found)
        add(v, SK_R_TICKET_NOT_FOUND, "no ticket %s", f->number ? f->number : "");
    if (!s->session_keys_enabled)
        add(v, SK_R_DISABLED, "generating session keys is switched off in the integration properties "
                              "('ticketbridge rs config set --session-keys yes')");
    if (!f->appliance_found)
        add(v, SK_R_NO_APPLIANCE, "no appliance is named exactly '" SK_APPLIANCE_NAME "'");
    else {
        if (!f->appliance_enabled)
            add(v, SK_R_APPLIANCE_DISABLED, "the '" SK_APPLIANCE_NAME "' appliance's integration is disabled");
        if (!f->appliance_rs)
            add(v, SK_R_APPLIANCE_NOT_RS, "the '" SK_APPLIANCE_NAME "' appliance is not a Remote Support appliance");
        if (!f->appliance_api)
            add(v, SK_R_APPLIANCE_NO_API, "the '" SK_APPLIANCE_NAME "' appliance has no OAuth client id/secret");
    }
    if (f->ticket_found) {
        char why[160];
        if (!state_allowed(s, f, why, sizeof why))
            add(v, SK_R_STATE, "%s", why);
    }
    /* Without a ticket the role cannot be known: it depends on the table. */
    if (f->ticket_found) {
        const char *role = sk_role_for(f->table);
        if (!roles_grant(f->roles ? f->roles : "", role))
            add(v, SK_R_ROLE, "User lacks role %s", role);
    }
    v->allowed = v->n == 0;
    if (!v->allowed) {
        /* not found first, then the caller's own missing role, then the rest */
        sk_reason_code first = v->reasons[0].code;
        for (size_t i = 0; i < v->n; i++)
            if (v->reasons[i].code == SK_R_ROLE && first != SK_R_TICKET_NOT_FOUND)
                first = SK_R_ROLE;
        v->status = reason_status(first);
    }
}

/* ---- settings ---- */

void sk_settings_default(tb_rs_settings *s)
{
    memset(s, 0, sizeof *s);
    s->session_keys_enabled = true;
    s->pull_enabled = true;
    s->pull_interval_s = 300;
    snprintf(s->fallback_queue, sizeof s->fallback_queue, "general");
    s->key_ttl_s = 0;
    s->key_grace_s = 3600;
    s->incident_state_below = 6;
    snprintf(s->case_states, sizeof s->case_states, "1,10,18");
}

tb_err sk_state_list_parse(const char *csv, char *out, size_t outsz, char *err, size_t errsz)
{
    if (!csv || strlen(csv) > 4096) {
        snprintf(err, errsz, "state list missing or too long");
        return TB_ERR_INVALID;
    }
    size_t len = 0, count = 0;
    if (outsz)
        out[0] = '\0';
    const char *p = csv;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (*p == ',') {
            p++;
            continue;
        }
        if (!(isdigit((unsigned char)*p) || ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1])))) {
            snprintf(err, errsz, "state list: '%.20s' is not a number", p);
            return TB_ERR_INVALID;
        }
        errno = 0;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (errno || v > 1000000 || v < -1000000) {
            snprintf(err, errsz, "state list: %.20s is out of range", p);
            return TB_ERR_INVALID;
        }
        p = end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != ',') {
            snprintf(err, errsz, "state list: expected a comma at '%.20s'", p);
            return TB_ERR_INVALID;
        }
        if (sk_state_listed(out, v))
            continue;
        if (++count > SK_STATES_MAX) {
            snprintf(err, errsz, "state list: at most %d states", SK_STATES_MAX);
            return TB_ERR_INVALID;
        }
        int w = snprintf(out + len, outsz - len, "%s%lld", len ? "," : "", v);
        if (w < 0 || (size_t)w >= outsz - len) {
            snprintf(err, errsz, "state list too long");
            return TB_ERR_INVALID;
        }
        len += (size_t)w;
    }
    return TB_OK;
}

static bool code_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

static bool digits_ok(const char *s)
{
    if (!*s || strlen(s) > 18)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

bool sk_queue_id_valid(const char *q)
{
    if (!q || !*q || strlen(q) > BT_SK_QUEUE_MAX)
        return false;
    for (const char *p = q; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    if (!strcmp(q, "general"))
        return true;
    if (!strncmp(q, "rep:", 4))
        return digits_ok(q + 4);
    if (!strncmp(q, "team:", 5))
        return digits_ok(q + 5);
    if (!strncmp(q, "rep_username:", 13))
        return q[13] && !strchr(q + 13, ' ');
    if (!strncmp(q, "issue:", 6))
        return code_name_ok(q + 6);
    return false;
}

tb_err sk_settings_check(const tb_rs_settings *s, char *err, size_t errsz)
{
    char norm[256];
    if (s->pull_interval_s < 1 || s->pull_interval_s > 86400) {
        snprintf(err, errsz, "the pull interval must be 1 second to 1 day");
        return TB_ERR_INVALID;
    }
    if (s->key_ttl_s < 0 || s->key_ttl_s > 31536000) {
        snprintf(err, errsz, "the key TTL must be 0 (the appliance's default) to 31536000 seconds");
        return TB_ERR_INVALID;
    }
    if (s->key_grace_s < 0 || s->key_grace_s > 7 * 86400) {
        snprintf(err, errsz, "the key grace period must be 0 to 10080 minutes");
        return TB_ERR_INVALID;
    }
    if (s->incident_state_below < 0 || s->incident_state_below > 1000000) {
        snprintf(err, errsz, "the incident state bound must be 0 (none) to 1000000");
        return TB_ERR_INVALID;
    }
    if (!sk_queue_id_valid(s->fallback_queue)) {
        snprintf(err, errsz, "the fallback queue must be general, rep:<id>, team:<id>, rep_username:<name> or "
                             "issue:<code name>");
        return TB_ERR_INVALID;
    }
    const char *lists[] = {s->incident_states_excluded, s->case_states};
    for (size_t i = 0; i < 2; i++) {
        if (sk_state_list_parse(lists[i], norm, sizeof norm, err, errsz))
            return TB_ERR_INVALID;
        if (strcmp(norm, lists[i])) {
            snprintf(err, errsz, "state list '%.64s' is not normalized (expected '%s')", lists[i], norm);
            return TB_ERR_INVALID;
        }
    }
    return TB_OK;
}
