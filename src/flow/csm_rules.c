#include "flow/csm_rules.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- conditions ---- */

/* Calls fn on each trimmed, non-empty item of a comma-separated list until
 * it returns true; returns whether one did. */
static bool list_any(const char *csv, bool (*fn)(const char *item, size_t len, void *ctx), void *ctx)
{
    const char *p = csv ? csv : "";
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a && fn(a, (size_t)(b - a), ctx))
            return true;
        p = *end ? end + 1 : end;
    }
    return false;
}

static bool nonempty_item(const char *item, size_t len, void *ctx)
{
    (void)item, (void)len, (void)ctx;
    return true;
}

static bool same_portal(const char *item, size_t len, void *ctx)
{
    const char *portal = ctx;
    return strlen(portal) == len && !strncasecmp(item, portal, len);
}

struct missing {
    const bt_case_values *v;
    char name[80];
};

static bool field_missing(const char *item, size_t len, void *ctx)
{
    struct missing *m = ctx;
    snprintf(m->name, sizeof m->name, "%.*s", (int)(len < 64 ? len : 64), item);
    const char *val = bt_case_values_custom(m->v, m->name);
    return !val || !*val;
}

bool csm_conditions_hold(const tb_csm_config *cfg, const bt_case_values *v, char *why, size_t whysz)
{
    const char *portal = v->v[BT_CF_PUBLIC_PORTAL];
    if (list_any(cfg->portals, nonempty_item, NULL) && !list_any(cfg->portals, same_portal, (void *)portal)) {
        snprintf(why, whysz, "public portal '%.200s' is not in Auto-Create For These Portals (%.300s)", portal,
                 cfg->portals);
        return false;
    }
    struct missing m = {.v = v};
    if (list_any(cfg->required_fields, field_missing, &m)) {
        snprintf(why, whysz, "required custom field '%s' has no value", m.name);
        return false;
    }
    if (v->attended && !cfg->attended) {
        snprintf(why, whysz, "the session is attended and Auto-Create for Attended Sessions is off");
        return false;
    }
    if (!v->attended && !cfg->unattended) {
        snprintf(why, whysz, "the session is unattended and Auto-Create for Unattended Sessions is off");
        return false;
    }
    return true;
}

/* ---- case fields ---- */

void csm_case_fields_clear(csm_case_fields *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->own_name[i]);
        free(f->own_value[i]);
    }
    tb_buf_free(&f->warnings);
    memset(f, 0, sizeof *f);
}

const char *csm_case_fields_get(const csm_case_fields *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->kv[i].name, name))
            return f->kv[i].value;
    return NULL;
}

/* Sets or replaces a field. */
static tb_err set_field(csm_case_fields *f, const char *name, const char *value)
{
    char *v = strdup(value);
    if (!v)
        return TB_ERR_NOMEM;
    for (size_t i = 0; i < f->n; i++) {
        if (!strcmp(f->kv[i].name, name)) {
            free(f->own_value[i]);
            f->own_value[i] = v;
            f->kv[i].value = v;
            return TB_OK;
        }
    }
    char *n = f->n < CSM_CASE_FIELDS_MAX ? strdup(name) : NULL;
    if (!n) {
        free(v);
        return f->n < CSM_CASE_FIELDS_MAX ? TB_ERR_NOMEM : TB_ERR_TOO_LARGE;
    }
    f->own_name[f->n] = n;
    f->own_value[f->n] = v;
    f->kv[f->n] = (itsm_kv){n, v};
    f->n++;
    return TB_OK;
}

tb_err csm_case_fields_set(csm_case_fields *f, const char *name, const char *value)
{
    return set_field(f, name, value);
}

static void warn(csm_case_fields *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(csm_case_fields *f, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* A full buffer drops further lines: the first warnings say enough. */
    tb_buf_printf(&f->warnings, "%s%s", f->warnings.len ? "\n" : "", line);
}

tb_err csm_case_fields_defaults(const bt_case_values *v, csm_case_fields *out)
{
    memset(out, 0, sizeof *out);
    tb_buf_init(&out->warnings, CSM_WARNINGS_MAX);
    const char *who = *v->v[BT_CF_CUSTOMER_NAME]       ? v->v[BT_CF_CUSTOMER_NAME]
                      : *v->v[BT_CF_CUSTOMER_HOSTNAME] ? v->v[BT_CF_CUSTOMER_HOSTNAME]
                                                        : NULL;
    char desc[300];
    if (who)
        snprintf(desc, sizeof desc, "BeyondTrust support session with %.200s", who);
    else
        snprintf(desc, sizeof desc, "BeyondTrust support session %.64s", v->v[BT_CF_LSID]);
    tb_err e = set_field(out, "short_description", desc);
    if (!e)
        e = set_field(out, "correlation_id", v->v[BT_CF_LSID]);
    if (!e)
        e = set_field(out, "correlation_display", "BeyondTrust Remote Support");
    return e;
}

static bool is_integer(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* Whether the case field can hold value; warns and returns false if not. */
static bool fits(csm_case_fields *f, const snq_table *cols, const tb_csm_mapping *m, const char *value)
{
    if (strlen(value) > itsm_value_cap(m->case_field)) {
        warn(f, "%s: the value is longer than the field allows; left empty", m->case_field);
        return false;
    }
    if (!cols)
        return true;
    const snq_column *c = snq_table_column(cols, m->case_field);
    if (!c || !strcmp(m->case_field, "sys_id") || !strcmp(m->case_field, "number")) {
        warn(f, "%s: the case has no such field (or it cannot be set); mapping %lld ignored", m->case_field,
             (long long)m->id);
        return false;
    }
    if (c->kind == SNQ_INTEGER && !is_integer(value)) {
        warn(f, "%s: '%.100s' is not a number; left empty", m->case_field, value);
        return false;
    }
    if (c->kind == SNQ_BOOLEAN && strcmp(value, "true") && strcmp(value, "false")) {
        warn(f, "%s: '%.100s' is not true or false; left empty", m->case_field, value);
        return false;
    }
    return true;
}

/* The session value a dynamic mapping names, or NULL (with a warning). */
static const char *session_value(csm_case_fields *f, const tb_csm_mapping *m, const bt_case_values *v)
{
    int i = bt_case_field_find(m->bt_field);
    if (i < 0) {
        warn(f, "%s: '%.80s' is not a BeyondTrust case field; left empty", m->case_field, m->bt_field);
        return NULL;
    }
    return v->v[i];
}

static tb_err apply(csm_case_fields *f, const tb_csm_mapping *m, const bt_case_values *v, const snq_table *cols,
                    csm_lookup_fn lookup, void *ctx)
{
    const char *value = NULL;
    switch (m->kind) {
    case CSM_MAP_STATIC:
        value = m->value;
        break;
    case CSM_MAP_DYNAMIC:
        value = session_value(f, m, v);
        if (value && !*value)
            value = NULL;       /* nothing to copy: the field stays empty */
        break;
    case CSM_MAP_LOOKUP:
    case CSM_MAP_DYNAMIC_LOOKUP: {
        const char *key = m->kind == CSM_MAP_LOOKUP ? m->value : session_value(f, m, v);
        if (!key)
            return TB_OK;
        if (!*key) {
            warn(f, "%s: %s is empty, nothing to look up in %s.%s; left empty", m->case_field,
                 m->kind == CSM_MAP_LOOKUP ? "the default value" : m->bt_field, m->lookup_table, m->lookup_field);
            return TB_OK;
        }
        char found[ITSM_SYS_ID_LEN + 1] = "";
        size_t matches = 0;
        tb_err e = lookup ? lookup(ctx, m->lookup_table, m->lookup_field, key, found, &matches) : TB_ERR_NOT_FOUND;
        if (e == TB_ERR_NOMEM)
            return e;
        if (e == TB_ERR_NOT_FOUND || (!e && !found[0])) {
            warn(f, "%s: no %s record has %s = '%.100s'; left empty", m->case_field, m->lookup_table,
                 m->lookup_field, key);
            return TB_OK;
        }
        if (e) {
            warn(f, "%s: lookup in %s.%s failed (%s); left empty", m->case_field, m->lookup_table, m->lookup_field,
                 tb_strerror(e));
            return TB_OK;
        }
        if (matches > 1)
            warn(f, "%s: more than one %s record has %s = '%.100s'; the first was used", m->case_field,
                 m->lookup_table, m->lookup_field, key);
        return fits(f, cols, m, found) ? set_field(f, m->case_field, found) : TB_OK;
    }
    }
    if (!value || !fits(f, cols, m, value))
        return TB_OK;
    return set_field(f, m->case_field, value);
}

tb_err csm_case_fields_build(const tb_csm_mapping *m, size_t n, const bt_case_values *v, const snq_table *case_cols,
                             csm_lookup_fn lookup, void *ctx, csm_case_fields *out)
{
    tb_err e = csm_case_fields_defaults(v, out);
    for (size_t i = 0; !e && i < n; i++) {
        e = apply(out, &m[i], v, case_cols, lookup, ctx);
        if (e == TB_ERR_TOO_LARGE) {
            warn(out, "%s: more than %d case fields; mapping %lld ignored", m[i].case_field, CSM_CASE_FIELDS_MAX,
                 (long long)m[i].id);
            e = TB_OK;
        }
    }
    return e;
}
