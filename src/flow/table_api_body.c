/* Record bodies of POST, PUT and PATCH: JSON → (column, value) pairs.
 * ServiceNow ignores fields a table does not have and the system fields
 * (sys_*, except sys_id on insert); journal fields are kept apart, because
 * they are not columns but entries in sys_journal_field. */
#include "flow/table_api_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* "YYYY-MM-DD HH:MM:SS", also with a T and a trailing Z, or a date alone. */
static char *datetime(const char *v)
{
    size_t n = strlen(v);
    if (n == 20 && (v[19] == 'Z' || v[19] == 'z'))
        n = 19;
    if (n != 10 && n != 19)
        return NULL;
    if (!digits(v, 4) || v[4] != '-' || !digits(v + 5, 2) || v[7] != '-' || !digits(v + 8, 2))
        return NULL;
    int mon = (v[5] - '0') * 10 + (v[6] - '0'), day = (v[8] - '0') * 10 + (v[9] - '0');
    if (mon < 1 || mon > 12 || day < 1 || day > 31)
        return NULL;
    char out[20];
    memcpy(out, v, 10);
    if (n == 10) {
        memcpy(out + 10, " 00:00:00", 10);
        return strdup(out);
    }
    if ((v[10] != ' ' && v[10] != 'T') || !digits(v + 11, 2) || v[13] != ':' || !digits(v + 14, 2) ||
        v[16] != ':' || !digits(v + 17, 2))
        return NULL;
    int h = (v[11] - '0') * 10 + (v[12] - '0'), m = (v[14] - '0') * 10 + (v[15] - '0'),
        s = (v[17] - '0') * 10 + (v[18] - '0');
    if (h > 23 || m > 59 || s > 59)
        return NULL;
    memcpy(out + 10, v + 10, 9);
    out[10] = ' ';
    out[19] = '\0';
    return strdup(out);
}

char *tapi_normalize_value(const snq_column *c, const char *value, const char **why)
{
    *why = NULL;
    switch (c->kind) {
    case SNQ_INTEGER: {
        const char *p = value[0] == '-' ? value + 1 : value;
        size_t n = strlen(p);
        if (n == 0 || n > 18 || !digits(p, n)) {
            *why = "not an integer";
            return NULL;
        }
        return strdup(value);
    }
    case SNQ_BOOLEAN:
        if (!strcasecmp(value, "true") || !strcmp(value, "1"))
            return strdup("true");
        if (!strcasecmp(value, "false") || !strcmp(value, "0"))
            return strdup("false");
        *why = "not true or false";
        return NULL;
    case SNQ_DATETIME: {
        char *d = datetime(value);
        if (!d)
            *why = "not a date and time (YYYY-MM-DD HH:MM:SS, UTC)";
        return d;
    }
    case SNQ_ID: {
        char id[ITSM_SYS_ID_LEN + 1];
        if (tapi_parse_sys_id(value, id))
            return strdup(id);
        if (!c->ref && !strcmp(c->name, "sys_id")) {
            *why = "not a sys_id (32 hexadecimal digits)";
            return NULL;
        }
        return strdup(value);   /* stored as given, as ServiceNow does */
    }
    case SNQ_TEXT:
        break;
    }
    return strdup(value);
}

static void set_err(tapi_body_err *err, const char *message, const char *detail)
{
    snprintf(err->message, sizeof err->message, "%s", message);
    snprintf(err->detail, sizeof err->detail, "%s", detail);
}

/* A JSON value as the string ServiceNow would store; NULL when it has none. */
static char *scalar(json_t *v, const char **why)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (strlen(json_string_value(v)) != json_string_length(v)) {
            *why = "contains a NUL character";
            return NULL;
        }
        return strdup(json_string_value(v));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(num);
    case JSON_REAL:
        snprintf(num, sizeof num, "%.15g", json_real_value(v));
        return strdup(num);
    case JSON_TRUE:
        return strdup("true");
    case JSON_FALSE:
        return strdup("false");
    case JSON_NULL:
        return strdup("");
    case JSON_OBJECT: {
        /* A reference as the API shows it ({"link","value"}), sent back. */
        json_t *inner = json_object_get(v, "value");
        if (json_is_string(inner))
            return scalar(inner, why);
        break;
    }
    case JSON_ARRAY:
        break;
    }
    *why = "must be a string, a number, true, false or null";
    return NULL;
}

static tb_err own(tapi_body *b, char *s)
{
    char **no = realloc(b->owned, (b->nowned + 1) * sizeof *no);
    if (!no) {
        free(s);
        return TB_ERR_NOMEM;
    }
    b->owned = no;
    b->owned[b->nowned++] = s;
    return TB_OK;
}

tb_err tapi_body_parse(const snq_table *t, const char *body, size_t len, bool insert,
                       bool input_display, tapi_body *out, tapi_body_err *err)
{
    memset(out, 0, sizeof *out);
    if (!len) {
        set_err(err, "Exception while reading request", "The request body is empty.");
        return TB_ERR_INVALID;
    }
    json_error_t je;
    json_t *doc = json_loadb(body, len, 0, &je);
    if (!doc) {
        char d[256];
        snprintf(d, sizeof d, "The payload is not valid JSON: %s (at byte %d).", je.text, je.position);
        set_err(err, "Exception while reading request", d);
        return TB_ERR_INVALID;
    }
    out->json = doc;
    json_t *rec = doc;
    if (json_is_array(doc))     /* B1: only the first record is processed */
        rec = json_array_get(doc, 0);
    if (!json_is_object(rec)) {
        set_err(err, "Exception while reading request", "The payload must be a JSON object.");
        tapi_body_free(out);
        return TB_ERR_INVALID;
    }
    size_t n = json_object_size(rec);
    out->kv = calloc(n + 4, sizeof *out->kv);   /* room for the sys_*_by fields the API adds */
    if (!out->kv) {
        tapi_body_free(out);
        return TB_ERR_NOMEM;
    }
    const char *key;
    json_t *v;
    tb_err rc = TB_OK;
    json_object_foreach(rec, key, v) {
        const snq_column *c = snq_table_column(t, key);
        bool journal = tapi_is_journal(t->name, key);
        bool system = !strncmp(key, "sys_", 4) && !(insert && !strcmp(key, "sys_id"));
        if ((!c && !journal) || system) {
            out->skipped++;
            continue;
        }
        const char *why = NULL;
        char *s = scalar(v, &why);
        char d[256];
        if (!s && !why) {
            rc = TB_ERR_NOMEM;
            break;
        }
        size_t cap = itsm_value_cap(key);
        if (s && strlen(s) > cap) {
            free(s);
            s = NULL;
            snprintf(d, sizeof d, "%s: longer than %zu bytes", key, cap);
        } else if (!s) {
            snprintf(d, sizeof d, "%s: %s", key, why);
        }
        if (s && journal) {
            if ((rc = own(out, s)))
                break;
            if (!*s)
                continue;   /* an empty journal entry adds nothing */
            if (!strcmp(key, "work_notes"))
                out->work_notes = s;
            else
                out->comments = s;
            continue;
        }
        if (s && !*s) {
            /* "" clears a field; typed columns hold NULL for "empty". */
            if (c->kind != SNQ_TEXT) {
                free(s);
                out->kv[out->nkv++] = (itsm_kv){c->name, NULL};
                continue;
            }
        } else if (s) {
            const char *label_value = input_display ? tapi_choice_value(t->name, key, s) : NULL;
            if (label_value) {
                free(s);
                if (!(s = strdup(label_value))) {
                    rc = TB_ERR_NOMEM;
                    break;
                }
            }
            char *norm = tapi_normalize_value(c, s, &why);
            free(s);
            s = norm;
            if (!s && why)
                snprintf(d, sizeof d, "%s: '%.80s' is %s", key, json_string_value(v) ? json_string_value(v) : "value", why);
            else if (!s) {
                rc = TB_ERR_NOMEM;
                break;
            }
        }
        if (!s) {
            set_err(err, "Invalid value", d);
            rc = TB_ERR_INVALID;
            break;
        }
        if ((rc = own(out, s)))
            break;
        out->kv[out->nkv++] = (itsm_kv){c->name, s};
    }
    if (rc)
        tapi_body_free(out);
    return rc;
}

void tapi_body_free(tapi_body *b)
{
    for (size_t i = 0; i < b->nowned; i++)
        free(b->owned[i]);
    free(b->owned);
    free(b->kv);
    json_decref(b->json);
    memset(b, 0, sizeof *b);
}
