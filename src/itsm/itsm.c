/* Front end of the ticket store: every argument is checked here once
 * (non-NULL, known table, sys_id shape, name shape, size caps, UTF-8), so
 * backends only deal with well-formed input. Also the record helpers. */
#include "itsm/itsm.h"

#include <stdlib.h>
#include <string.h>

const char *const itsm_task_tables[] = {
    "incident", "change_request", "problem", "sc_task", "sc_req_item",
    "sn_customerservice_case", NULL,
};

static const char *const other_tables[] = {
    "cmdb_ci", "sys_user", "sys_user_group", "sys_user_grmember",
    "sys_journal_field", "sys_attachment", NULL,
};

/* Fields that hold long free text (ServiceNow "journal"/"html" sized). */
static const char *const long_fields[] = {
    "description", "close_notes", "work_notes", "comments", "value",
    "implementation_plan", "backout_plan", "test_plan", "justification",
    "cause_notes", "fix_notes", "workaround", NULL,
};

static int in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

int itsm_is_task_table(const char *table)
{
    return table && in_list(itsm_task_tables, table);
}

int itsm_is_known_table(const char *table)
{
    return table && (in_list(itsm_task_tables, table) || in_list(other_tables, table));
}

size_t itsm_value_cap(const char *field)
{
    return field && in_list(long_fields, field) ? ITSM_MAX_TEXT : ITSM_MAX_VALUE;
}

static int is_sys_id(const char *s)
{
    if (!s || strlen(s) != ITSM_SYS_ID_LEN)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* Field names: [a-z0-9_], starting with a letter, at most ITSM_MAX_NAME. */
static int is_name(const char *s)
{
    size_t n = 0;
    if (!s || !(*s >= 'a' && *s <= 'z'))
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') || n >= ITSM_MAX_NAME)
            return 0;
    }
    return 1;
}

/* Well-formed UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static int is_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* A string value: NULL allowed when nullable, capped, valid UTF-8. */
static tb_err check_value(const char *v, size_t cap, int nullable)
{
    if (!v)
        return nullable ? TB_OK : TB_ERR_INVALID;
    size_t n = strnlen(v, cap + 1);
    if (n > cap)
        return TB_ERR_TOO_LARGE;
    return is_utf8((const unsigned char *)v, n) ? TB_OK : TB_ERR_INVALID;
}

static tb_err check_kv(const itsm_kv *kv, size_t n)
{
    if (n && !kv)
        return TB_ERR_INVALID;
    if (n > ITSM_MAX_FIELDS)
        return TB_ERR_TOO_LARGE;
    for (size_t i = 0; i < n; i++) {
        if (!is_name(kv[i].name))
            return TB_ERR_INVALID;
        for (size_t j = 0; j < i; j++)
            if (strcmp(kv[i].name, kv[j].name) == 0)
                return TB_ERR_INVALID;
        tb_err rc = check_value(kv[i].value, itsm_value_cap(kv[i].name), 1);
        if (rc)
            return rc;
    }
    return TB_OK;
}

static tb_err check_target(itsm *h, const char *table, const char *sys_id)
{
    if (!h || !itsm_is_known_table(table) || !is_sys_id(sys_id))
        return TB_ERR_INVALID;
    return TB_OK;
}

tb_err itsm_create(itsm *h, const char *table, const itsm_kv *kv, size_t n, itsm_record **out)
{
    if (out)
        *out = NULL;
    if (!h || !itsm_is_known_table(table))
        return TB_ERR_INVALID;
    tb_err rc = check_kv(kv, n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].name, "sys_id") == 0 && !is_sys_id(kv[i].value))
            return TB_ERR_INVALID;
    return h->ops->create(h, table, kv, n, out);
}

tb_err itsm_get(itsm *h, const char *table, const char *sys_id, itsm_record **out)
{
    if (!out)
        return TB_ERR_INVALID;
    *out = NULL;
    tb_err rc = check_target(h, table, sys_id);
    if (rc)
        return rc;
    return h->ops->get(h, table, sys_id, out);
}

tb_err itsm_update(itsm *h, const char *table, const char *sys_id, const itsm_kv *kv, size_t n)
{
    tb_err rc = check_target(h, table, sys_id);
    if (rc)
        return rc;
    if ((rc = check_kv(kv, n)))
        return rc;
    return h->ops->update(h, table, sys_id, kv, n);
}

tb_err itsm_find_task(itsm *h, const char *key, const char *const *tables, itsm_record **out)
{
    if (!out)
        return TB_ERR_INVALID;
    *out = NULL;
    if (!h || !key || !*key)
        return TB_ERR_INVALID;
    if (strnlen(key, ITSM_MAX_NAME + 1) > ITSM_MAX_NAME)
        return TB_ERR_TOO_LARGE;
    if (check_value(key, ITSM_MAX_NAME, 0))
        return TB_ERR_INVALID;
    if (tables) {
        size_t i = 0;
        for (; tables[i]; i++)
            if (!itsm_is_task_table(tables[i]))
                return TB_ERR_INVALID;
        if (i == 0)
            return TB_ERR_INVALID;
    }
    return h->ops->find_task(h, key, tables, out);
}

tb_err itsm_query(itsm *h, const char *table, const itsm_kv *kv, size_t n, int ci, size_t limit,
                  size_t offset, itsm_record ***out, size_t *nout)
{
    if (!out || !nout)
        return TB_ERR_INVALID;
    *out = NULL;
    *nout = 0;
    if (!h || !itsm_is_known_table(table))
        return TB_ERR_INVALID;
    tb_err rc = check_kv(kv, n);
    if (rc)
        return rc;
    if (limit == 0 || limit > ITSM_MAX_ROWS)
        limit = ITSM_MAX_ROWS;
    if (offset > (size_t)1 << 40)
        return TB_ERR_INVALID;
    return h->ops->query(h, table, kv, n, ci, limit, offset, out, nout);
}

tb_err itsm_add_journal(itsm *h, const char *table, const char *sys_id, const char *element,
                        const char *text, const char *author)
{
    tb_err rc = check_target(h, table, sys_id);
    if (rc)
        return rc;
    if (!element || (strcmp(element, "work_notes") != 0 && strcmp(element, "comments") != 0))
        return TB_ERR_INVALID;
    if ((rc = check_value(text, ITSM_MAX_TEXT, 0)))
        return rc;
    if ((rc = check_value(author, ITSM_MAX_NAME, 1)))
        return rc;
    return h->ops->add_journal(h, table, sys_id, element, text, author);
}

tb_err itsm_attach(itsm *h, const char *table, const char *sys_id, const char *file_name,
                   const char *content_type, const void *data, size_t len, itsm_record **out)
{
    return itsm_attach_by(h, table, sys_id, file_name, content_type, data, len, NULL, out);
}

tb_err itsm_attach_by(itsm *h, const char *table, const char *sys_id, const char *file_name,
                      const char *content_type, const void *data, size_t len, const char *author,
                      itsm_record **out)
{
    if (out)
        *out = NULL;
    tb_err rc = check_target(h, table, sys_id);
    if (rc)
        return rc;
    if (!file_name || !*file_name || (len && !data))
        return TB_ERR_INVALID;
    if ((rc = check_value(file_name, 255, 0)) || (rc = check_value(content_type, 255, 1)) ||
        (rc = check_value(author, ITSM_MAX_NAME, 1)))
        return rc;
    if (len > ITSM_MAX_ATTACHMENT)
        return TB_ERR_TOO_LARGE;
    if (h->ops->attach_by)
        return h->ops->attach_by(h, table, sys_id, file_name, content_type, data, len, author, out);
    return h->ops->attach(h, table, sys_id, file_name, content_type, data, len, out);
}

tb_err itsm_remove(itsm *h, const char *table, const char *sys_id)
{
    tb_err rc = check_target(h, table, sys_id);
    if (rc)
        return rc;
    return h->ops->remove ? h->ops->remove(h, table, sys_id) : TB_ERR_DISABLED;
}

void itsm_close(itsm *h)
{
    if (h)
        h->ops->close(h);
}

const char *itsm_record_get(const itsm_record *r, const char *field)
{
    if (!r || !field)
        return NULL;
    for (size_t i = 0; i < r->nfields; i++)
        if (strcmp(r->fields[i].name, field) == 0)
            return r->fields[i].value;
    return NULL;
}

void itsm_record_free(itsm_record *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nfields; i++) {
        free(r->fields[i].name);
        free(r->fields[i].value);
    }
    free(r->fields);
    free(r);
}

void itsm_records_free(itsm_record **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        itsm_record_free(v[i]);
    free(v);
}

tb_err itsm_create_once(itsm *h, const char *table, const char *key_field, const char *key_value,
                        const itsm_kv *kv, size_t n, itsm_record **out, int *created)
{
    *created = 0;
    if (!key_field || !key_value || !*key_value || !out)
        return TB_ERR_INVALID;
    *out = NULL;
    itsm_kv key = {key_field, key_value};
    itsm_record **v = NULL;
    size_t nv = 0;
    tb_err rc = itsm_query(h, table, &key, 1, 0, 1, 0, &v, &nv);
    if (rc)
        return rc;
    if (nv) {
        *out = v[0];
        v[0] = NULL;
        itsm_records_free(v, nv);
        return TB_OK;
    }
    itsm_records_free(v, nv);
    rc = itsm_create(h, table, kv, n, out);
    *created = !rc;
    return rc;
}
