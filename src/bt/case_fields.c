#include "bt/case_fields.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

const bt_case_field bt_case_fields[BT_CF__COUNT] = {
    [BT_CF_LSID] = {"lsid", "Session ID (LSID)"},
    [BT_CF_EXTERNAL_KEY] = {"external_key", "External Key"},
    [BT_CF_PUBLIC_PORTAL] = {"public_portal", "Public Portal"},
    [BT_CF_CUSTOMER_NAME] = {"customer_name", "Customer Name"},
    [BT_CF_CUSTOMER_COMPANY] = {"customer_company", "Customer Company"},
    [BT_CF_CUSTOMER_COMPANY_CODE] = {"customer_company_code", "Customer Company Code"},
    [BT_CF_CUSTOMER_DETAILS] = {"customer_details", "Customer Details"},
    [BT_CF_CUSTOMER_ISSUE] = {"customer_issue", "Customer Issue"},
    [BT_CF_CUSTOMER_EMAIL] = {"customer_email", "Customer Email"},
    [BT_CF_CUSTOMER_USERNAME] = {"customer_username", "Customer Username"},
    [BT_CF_CUSTOMER_HOSTNAME] = {"customer_hostname", "Customer Hostname"},
    [BT_CF_CUSTOMER_OS] = {"customer_os", "Customer Operating System"},
    [BT_CF_CUSTOMER_PUBLIC_IP] = {"customer_public_ip", "Customer Public IP"},
    [BT_CF_CUSTOM_FIELD_1] = {"custom_field_1", "Custom Field 1"},
    [BT_CF_CUSTOM_FIELD_2] = {"custom_field_2", "Custom Field 2"},
    [BT_CF_CUSTOM_FIELD_3] = {"custom_field_3", "Custom Field 3"},
    [BT_CF_REP_USERNAME] = {"rep_username", "Representative Username"},
    [BT_CF_REP_DISPLAY_NAME] = {"rep_display_name", "Representative Display Name"},
    [BT_CF_START_TIME] = {"start_time", "Session Start Time"},
    [BT_CF_APPLIANCE] = {"appliance", "Appliance"},
};

int bt_case_field_find(const char *name)
{
    for (int i = 0; name && i < BT_CF__COUNT; i++)
        if (!strcmp(bt_case_fields[i].name, name))
            return i;
    return -1;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* The primary customer: the one marked primary (RS), else the first. */
static const bt_user *primary_customer(const bt_session *s)
{
    const bt_user *first = NULL;
    for (size_t i = 0; i < s->nusers; i++) {
        const bt_user *u = &s->users[i];
        if (u->kind != BT_USER_CUSTOMER)
            continue;
        if (u->primary == 1 || (s->primary_customer.gsnumber >= 0 && u->gsnumber == s->primary_customer.gsnumber))
            return u;
        if (!first)
            first = u;
    }
    return first;
}

/* The representative named, else the primary rep, else the first rep. */
static const bt_user *find_rep(const bt_session *s, const char *username)
{
    const bt_user *primary = NULL, *first = NULL;
    for (size_t i = 0; i < s->nusers; i++) {
        const bt_user *u = &s->users[i];
        if (u->kind != BT_USER_REP)
            continue;
        if (username && *username && u->username && !strcmp(u->username, username))
            return u;
        if (!primary && (u->primary == 1 || (s->primary_rep.gsnumber >= 0 && u->gsnumber == s->primary_rep.gsnumber)))
            primary = u;
        if (!first)
            first = u;
    }
    return username && *username ? NULL : primary ? primary : first;
}

void bt_case_values_clear(bt_case_values *v)
{
    for (int i = 0; i < BT_CF__COUNT; i++)
        free(v->v[i]);
    for (size_t i = 0; i < v->ncustom; i++) {
        free(v->custom[i].code_name);
        free(v->custom[i].value);
    }
    free(v->custom);
    memset(v, 0, sizeof *v);
}

const char *bt_case_values_custom(const bt_case_values *v, const char *code_name)
{
    for (size_t i = 0; i < v->ncustom; i++)
        if (!strcmp(v->custom[i].code_name, code_name))
            return v->custom[i].value;
    return NULL;
}

tb_err bt_case_values_from_session(const bt_session *s, const char *rep_username, const char *appliance,
                                   bt_case_values *out)
{
    memset(out, 0, sizeof *out);
    const bt_customer_info *info = s->customer_info;
    const bt_user *cust = primary_customer(s);
    const bt_user *rep = find_rep(s, rep_username);
    if (!info && cust && cust->has_info)
        info = &cust->info;
    char start[32] = "";
    if (s->start_time > 0)
        tb_fmt_utc(s->start_time, start, sizeof start);
    const char *rep_name = rep_username && *rep_username ? rep_username : rep ? rep->username : NULL;
    const char *rep_display = rep ? (rep->display_name ? rep->display_name : rep->public_display_name) : NULL;
    if (!rep_display && !(rep_username && *rep_username))
        rep_display = s->primary_rep.name;
    const char *vals[BT_CF__COUNT] = {
        [BT_CF_LSID] = s->lsid,
        [BT_CF_EXTERNAL_KEY] = s->external_key,
        [BT_CF_PUBLIC_PORTAL] = s->public_site.name,
        [BT_CF_CUSTOMER_NAME] = info ? info->name : NULL,
        [BT_CF_CUSTOMER_COMPANY] = info ? info->company : NULL,
        [BT_CF_CUSTOMER_COMPANY_CODE] = info ? info->company_code : NULL,
        [BT_CF_CUSTOMER_DETAILS] = info ? info->details : NULL,
        [BT_CF_CUSTOMER_ISSUE] = info ? info->issue : NULL,
        [BT_CF_CUSTOMER_EMAIL] = bt_session_custom(s, "customer_email"),
        [BT_CF_CUSTOMER_USERNAME] = bt_session_custom(s, "customer_username"),
        [BT_CF_CUSTOMER_HOSTNAME] = cust ? cust->hostname : NULL,
        [BT_CF_CUSTOMER_OS] = cust ? cust->os : NULL,
        [BT_CF_CUSTOMER_PUBLIC_IP] = cust ? cust->public_ip : NULL,
        [BT_CF_CUSTOM_FIELD_1] = bt_session_custom(s, "custom_field_1"),
        [BT_CF_CUSTOM_FIELD_2] = bt_session_custom(s, "custom_field_2"),
        [BT_CF_CUSTOM_FIELD_3] = bt_session_custom(s, "custom_field_3"),
        [BT_CF_REP_USERNAME] = rep_name,
        [BT_CF_REP_DISPLAY_NAME] = rep_display,
        [BT_CF_START_TIME] = start,
        [BT_CF_APPLIANCE] = appliance,
    };
    for (int i = 0; i < BT_CF__COUNT; i++)
        if (!(out->v[i] = strdup(or_empty(vals[i]))))
            goto nomem;
    out->active = s->end_time == 0;
    out->attended = info && info->name && *info->name;
    size_t n = s->ncustom_attributes + 1;
    out->custom = calloc(n, sizeof *out->custom);
    if (!out->custom)
        goto nomem;
    for (size_t i = 0; i < s->ncustom_attributes; i++) {
        const bt_custom_attr *a = &s->custom_attributes[i];
        if (!a->code_name)
            continue;
        struct bt_case_custom *c = &out->custom[out->ncustom++];
        c->code_name = strdup(a->code_name);
        c->value = strdup(or_empty(a->value));
        if (!c->code_name || !c->value)
            goto nomem;
    }
    if (!bt_case_values_custom(out, "external_key")) {
        struct bt_case_custom *c = &out->custom[out->ncustom++];
        c->code_name = strdup("external_key");
        c->value = strdup(or_empty(s->external_key));
        if (!c->code_name || !c->value)
            goto nomem;
    }
    return TB_OK;
nomem:
    bt_case_values_clear(out);
    return TB_ERR_NOMEM;
}
