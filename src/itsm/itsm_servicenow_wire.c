#include "itsm/itsm_servicenow_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "http/client.h"

static tb_err append_base(tb_buf *out, const char *base)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    return tb_buf_append(out, base, n);
}

static tb_err append_segment(tb_buf *out, const char *seg)
{
    char *e = curl_easy_escape(NULL, seg, 0);
    if (!e)
        return TB_ERR_NOMEM;
    tb_err rc = tb_buf_printf(out, "/%s", e);
    curl_free(e);
    return rc;
}

static tb_err append_params(tb_buf *out, const sn_param *params)
{
    if (!params || !params[0].name)
        return TB_OK;
    tb_buf q;
    tb_buf_init(&q, 0);
    tb_err rc = TB_OK;
    for (size_t i = 0; !rc && params[i].name; i++)
        rc = tb_http_form_add(&q, params[i].name, params[i].value);
    if (!rc)
        rc = tb_buf_printf(out, "?%s", q.data);
    tb_buf_free(&q);
    return rc;
}

tb_err sn_table_url(tb_buf *out, const char *base, const char *table, const char *sys_id,
                    const sn_param *params)
{
    tb_err rc = append_base(out, base);
    if (!rc)
        rc = tb_buf_appends(out, "/api/now/table");
    if (!rc)
        rc = append_segment(out, table);
    if (!rc && sys_id)
        rc = append_segment(out, sys_id);
    if (!rc)
        rc = append_params(out, params);
    return rc;
}

tb_err sn_attachment_url(tb_buf *out, const char *base, const char *suffix, const sn_param *params)
{
    tb_err rc = append_base(out, base);
    if (!rc)
        rc = tb_buf_appends(out, "/api/now/attachment");
    if (!rc && suffix)
        rc = tb_buf_appends(out, suffix);
    if (!rc)
        rc = append_params(out, params);
    return rc;
}

tb_err sn_plain_url(tb_buf *out, const char *base, const char *path)
{
    tb_err rc = append_base(out, base);
    return rc ? rc : tb_buf_appends(out, path);
}

tb_err sn_equality_query(tb_buf *out, const itsm_kv *kv, size_t n)
{
    tb_err rc = TB_OK;
    for (size_t i = 0; !rc && i < n; i++) {
        const char *v = kv[i].value ? kv[i].value : "";
        if (strchr(v, '^'))
            return TB_ERR_INVALID;
        if (*v)
            rc = tb_buf_printf(out, "%s=%s^", kv[i].name, v);
        else
            rc = tb_buf_printf(out, "%sISEMPTY^", kv[i].name);
    }
    return rc ? rc : tb_buf_appends(out, "ORDERBYsys_created_on");
}

tb_err sn_json_object(tb_buf *out, const itsm_kv *kv, size_t n)
{
    json_t *o = json_object();
    if (!o)
        return TB_ERR_NOMEM;
    tb_err rc = TB_OK;
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *v = kv[i].value ? json_string(kv[i].value) : json_null();
        if (!v || json_object_set_new(o, kv[i].name, v))
            rc = kv[i].value && !v ? TB_ERR_INVALID : TB_ERR_NOMEM;
    }
    char *s = rc ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!rc && !s)
        rc = TB_ERR_NOMEM;
    if (!rc)
        rc = tb_buf_appends(out, s);
    free(s);
    return rc;
}

/* A field value as the interface carries it: a string. */
static char *value_string(json_t *v)
{
    if (json_is_object(v))
        v = json_object_get(v, "value");
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (!v || json_is_null(v))
        return strdup("");
    if (json_is_true(v))
        return strdup("true");
    if (json_is_false(v))
        return strdup("false");
    if (json_is_integer(v)) {
        char b[32];
        snprintf(b, sizeof b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(b);
    }
    if (json_is_real(v)) {
        char b[64];
        snprintf(b, sizeof b, "%.17g", json_real_value(v));
        return strdup(b);
    }
    return NULL;
}

static tb_err record_from(json_t *obj, const char *table, itsm_record **out)
{
    *out = NULL;
    if (!json_is_object(obj))
        return TB_ERR_INVALID;
    itsm_record *r = calloc(1, sizeof *r);
    size_t n = json_object_size(obj);
    if (!r || (n && !(r->fields = calloc(n, sizeof *r->fields)))) {
        free(r);
        return TB_ERR_NOMEM;
    }
    snprintf(r->table, sizeof r->table, "%s", table);
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (json_is_array(v) || (json_is_object(v) && !json_object_get(v, "value")))
            continue; /* nothing a flat record can hold */
        char *name = strdup(k), *val = value_string(v);
        if (!name || !val) {
            free(name);
            free(val);
            itsm_record_free(r);
            return TB_ERR_NOMEM;
        }
        r->fields[r->nfields++] = (itsm_field){name, val};
        if (!strcmp(k, "sys_id") && strlen(val) == ITSM_SYS_ID_LEN)
            memcpy(r->sys_id, val, ITSM_SYS_ID_LEN + 1);
    }
    *out = r;
    return TB_OK;
}

static json_t *load_result(const char *body, size_t len, json_t **root)
{
    *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    return *root ? json_object_get(*root, "result") : NULL;
}

tb_err sn_parse_record(const char *body, size_t len, const char *table, itsm_record **out)
{
    *out = NULL;
    json_t *root;
    json_t *res = load_result(body, len, &root);
    tb_err rc = res ? record_from(res, table, out) : TB_ERR_INVALID;
    json_decref(root);
    return rc;
}

tb_err sn_parse_records(const char *body, size_t len, const char *table, itsm_record ***out,
                        size_t *nout)
{
    *out = NULL;
    *nout = 0;
    json_t *root;
    json_t *res = load_result(body, len, &root);
    if (!json_is_array(res)) {
        json_decref(root);
        return TB_ERR_INVALID;
    }
    size_t n = json_array_size(res);
    itsm_record **v = n ? calloc(n, sizeof *v) : NULL;
    tb_err rc = n && !v ? TB_ERR_NOMEM : TB_OK;
    for (size_t i = 0; !rc && i < n; i++)
        rc = record_from(json_array_get(res, i), table, &v[i]);
    json_decref(root);
    if (rc) {
        itsm_records_free(v, n);
        return rc;
    }
    *out = v;
    *nout = n;
    return TB_OK;
}

tb_err sn_error_map(long status, const char *body, size_t len, const char *what, char *msg,
                    size_t msgsz)
{
    tb_err rc;
    const char *hint = "";
    switch (status) {
    case 400: rc = TB_ERR_INVALID; break;
    case 401:
        rc = TB_ERR_DENIED;
        hint = "; check servicenow_user and servicenow_password_file (or the OAuth client)";
        break;
    case 403:
        rc = TB_ERR_DENIED;
        hint = "; the ServiceNow account lacks a role or an ACL refuses it";
        break;
    case 404: rc = TB_ERR_NOT_FOUND; break;
    case 413: rc = TB_ERR_TOO_LARGE; break;
    case 408:
    case 504: rc = TB_ERR_TIMEOUT; break;
    case 429:
    case 503: rc = TB_ERR_BUSY; break;
    default: rc = TB_ERR_HTTP; break;
    }
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *err = json_object_get(root, "error");
    const char *m = json_string_value(json_object_get(err, "message"));
    const char *d = json_string_value(json_object_get(err, "detail"));
    if (m && d && *d)
        tb_errmsg(msg, msgsz, "ServiceNow %s: HTTP %ld: %s (%s)%s", what, status, m, d, hint);
    else if (m)
        tb_errmsg(msg, msgsz, "ServiceNow %s: HTTP %ld: %s%s", what, status, m, hint);
    else
        tb_errmsg(msg, msgsz, "ServiceNow %s: HTTP %ld%s", what, status, hint);
    json_decref(root);
    return rc;
}

long sn_retry_wait_ms(long status, long retry_after_s, int attempt, long max_wait_ms)
{
    if ((status != 429 && status != 503) || attempt >= SN_MAX_RETRIES || attempt < 0)
        return -1;
    long ms = retry_after_s >= 0 ? (retry_after_s > 86400 ? 86400000L : retry_after_s * 1000L)
                                 : 1000L << attempt;
    return ms > max_wait_ms ? -1 : ms;
}
