/* Records as the Table API shows them: every value a string, references as
 * {"link","value"} (display values with sysparm_display_value), journal
 * fields read back empty, or stacked with display values (B4, B5). */
#include "flow/table_api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "itsm/snquery_build.h"

/* --- strings --------------------------------------------------------------- */

bool tapi_utf8(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i], cp, min;
        size_t len;
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
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (u[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

json_t *tapi_json_str(const char *s)
{
    if (!s)
        s = "";
    json_t *j = json_string(s);
    if (j)
        return j;
    /* Not UTF-8 (a row written around the API): each byte that does not
     * start a valid sequence becomes U+FFFD. */
    size_t n = strlen(s);
    tb_buf b;
    tb_buf_init(&b, 0);
    for (size_t i = 0; i < n;) {
        size_t len = 1;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0xC0)
            len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (i + len <= n && tapi_utf8(s + i, len)) {
            tb_buf_append(&b, s + i, len);
            i += len;
        } else {
            tb_buf_appends(&b, "\xEF\xBF\xBD");
            i++;
        }
    }
    j = json_string(b.data ? b.data : "");
    tb_buf_free(&b);
    return j;
}

/* --- field sets ------------------------------------------------------------ */

static tb_err add_query_field(tapi_fieldset *fs, const char *name, int *idx)
{
    for (size_t i = 0; i < fs->nquery; i++)
        if (!strcmp(fs->query_fields[i], name)) {
            *idx = (int)i;
            return TB_OK;
        }
    char **nq = realloc(fs->query_fields, (fs->nquery + 2) * sizeof *nq);
    if (!nq)
        return TB_ERR_NOMEM;
    fs->query_fields = nq;
    if (!(nq[fs->nquery] = strdup(name)))
        return TB_ERR_NOMEM;
    *idx = (int)fs->nquery++;
    nq[fs->nquery] = NULL;
    return TB_OK;
}

static tb_err add_out(tapi_fieldset *fs, const tapi_view *v, const snq_table *t, const char *name)
{
    for (size_t i = 0; i < fs->nout; i++)
        if (!strcmp(fs->out[i].name, name))
            return TB_OK;   /* asked twice */
    tapi_out o = {.value_idx = -1, .display_idx = -1};
    const char *dot = strchr(name, '.');
    if (!dot && tapi_is_journal(v->table, name)) {
        o.journal = true;
        fs->any_journal = true;
    } else if (!dot) {
        if (!(o.col = snq_table_column(t, name)))
            return TB_ERR_NOT_FOUND;
        o.col_table = v->table;
    } else {
        /* One step through a reference to a table the store has. */
        char head[SNQ_MAX_FIELD + 1];
        size_t hl = (size_t)(dot - name);
        if (hl > SNQ_MAX_FIELD || strchr(dot + 1, '.'))
            return TB_ERR_NOT_FOUND;
        memcpy(head, name, hl);
        head[hl] = '\0';
        const snq_column *via = snq_table_column(t, head);
        const snq_table *target = via && via->ref ? snq_catalog_table(v->cat, via->ref) : NULL;
        if (!target || !(o.col = snq_table_column(target, dot + 1)))
            return TB_ERR_NOT_FOUND;
        o.col_table = via->ref;
    }
    tb_err rc = TB_OK;
    if (o.col) {
        o.ref = o.col->ref;
        rc = add_query_field(fs, name, &o.value_idx);
        /* The display value of a reference: a walk to its display field. */
        const char *df = o.ref ? tapi_display_field(o.ref) : NULL;
        if (!rc && v->display != TAPI_DV_FALSE && !dot && df && snq_catalog_table(v->cat, o.ref)) {
            char walk[2 * SNQ_MAX_FIELD + 2];
            snprintf(walk, sizeof walk, "%s.%s", name, df);
            rc = add_query_field(fs, walk, &o.display_idx);
        }
    }
    if (rc)
        return rc;
    tapi_out *no = realloc(fs->out, (fs->nout + 1) * sizeof *no);
    if (!no)
        return TB_ERR_NOMEM;
    fs->out = no;
    if (!(o.name = strdup(name)))
        return TB_ERR_NOMEM;
    fs->out[fs->nout++] = o;
    return TB_OK;
}

tb_err tapi_fieldset_build(const tapi_view *v, tapi_fieldset *fs, size_t *ignored)
{
    memset(fs, 0, sizeof *fs);
    if (ignored)
        *ignored = 0;
    const snq_table *t = snq_catalog_table(v->cat, v->table);
    if (!t)
        return TB_ERR_NOT_FOUND;
    tb_err rc = TB_OK;
    if (!v->fields || !*v->fields) {
        for (size_t i = 0; !rc && i < t->ncols; i++)
            rc = add_out(fs, v, t, t->cols[i].name);
        if (!rc && tapi_is_journal(v->table, "work_notes"))
            rc = add_out(fs, v, t, "work_notes");
        if (!rc && tapi_is_journal(v->table, "comments"))
            rc = add_out(fs, v, t, "comments");
    } else {
        const char *p = v->fields;
        size_t parts = 0;
        while (!rc && *p) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            while (n && *p == ' ')
                p++, n--;
            while (n && p[n - 1] == ' ')
                n--;
            if (++parts > SNQ_MAX_PARTS) {
                rc = TB_ERR_TOO_LARGE;
                break;
            }
            char name[2 * SNQ_MAX_FIELD + 2];
            if (n && n < sizeof name) {
                memcpy(name, p, n);
                name[n] = '\0';
                rc = add_out(fs, v, t, name);
                if (rc == TB_ERR_NOT_FOUND) {
                    rc = TB_OK;
                    if (ignored)
                        (*ignored)++;
                }
            } else if (n && ignored) {
                (*ignored)++;
            }
            if (!comma)
                break;
            p = comma + 1;
        }
    }
    if (!rc && !fs->query_fields) {
        /* Only journal fields (or nothing usable): the query still needs a
         * column list, and sys_id is always there. */
        int idx;
        rc = add_query_field(fs, "sys_id", &idx);
    }
    if (rc)
        tapi_fieldset_free(fs);
    return rc;
}

void tapi_fieldset_free(tapi_fieldset *fs)
{
    for (size_t i = 0; i < fs->nout; i++)
        free(fs->out[i].name);
    free(fs->out);
    for (size_t i = 0; i < fs->nquery; i++)
        free(fs->query_fields[i]);
    free(fs->query_fields);
    memset(fs, 0, sizeof *fs);
}

/* --- records --------------------------------------------------------------- */

void tapi_field_index(const tapi_fieldset *fs, const itsm_record *r, int *idx)
{
    for (size_t k = 0; k < fs->nquery; k++) {
        idx[k] = -1;
        for (size_t i = 0; r && i < r->nfields; i++)
            if (!strcmp(r->fields[i].name, fs->query_fields[k])) {
                idx[k] = (int)i;
                break;
            }
    }
}

static const char *value_at(const itsm_record *r, const int *idx, int k)
{
    if (k < 0 || idx[k] < 0 || (size_t)idx[k] >= r->nfields)
        return "";
    return r->fields[idx[k]].value;
}

static json_t *pair(const char *k1, json_t *v1, const char *k2, json_t *v2, const char *k3, json_t *v3)
{
    json_t *o = json_object();
    if (!o || (k1 && json_object_set_new(o, k1, v1)) || (k2 && json_object_set_new(o, k2, v2)) ||
        (k3 && json_object_set_new(o, k3, v3))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *render_field(const tapi_view *v, const tapi_out *o, const itsm_record *r,
                            const int *idx, const tapi_journal_text *jt)
{
    if (o->journal) {
        const char *text = "";
        if (jt && v->display != TAPI_DV_FALSE)
            text = !strcmp(o->name, "work_notes") ? jt->work_notes : jt->comments;
        if (!text)
            text = "";
        if (v->display == TAPI_DV_ALL)
            return pair("display_value", tapi_json_str(text), "value", json_string(""), NULL, NULL);
        return tapi_json_str(text);
    }
    const char *value = value_at(r, idx, o->value_idx);
    if (o->ref) {
        const char *display = o->display_idx >= 0 ? value_at(r, idx, o->display_idx) : "";
        if (!*value) {
            if (v->display == TAPI_DV_ALL)
                return pair("display_value", json_string(""), "value", json_string(""), NULL, NULL);
            return json_string("");
        }
        char link[TAPI_BASE_URL_MAX + 2 * ITSM_MAX_NAME + 64];
        snprintf(link, sizeof link, "%s/api/now/table/%s/%s", v->base_url, o->ref, value);
        json_t *jl = v->exclude_link ? NULL : tapi_json_str(link);
        const char *kl = v->exclude_link ? NULL : "link";
        switch (v->display) {
        case TAPI_DV_FALSE:
            return jl ? pair("link", jl, "value", tapi_json_str(value), NULL, NULL) : tapi_json_str(value);
        case TAPI_DV_TRUE:
            return jl ? pair("display_value", tapi_json_str(display), "link", jl, NULL, NULL)
                      : tapi_json_str(display);
        case TAPI_DV_ALL:
            return pair("display_value", tapi_json_str(display), kl, jl, "value", tapi_json_str(value));
        }
    }
    if (v->display == TAPI_DV_FALSE)
        return tapi_json_str(value);
    /* A walked field's choices are those of the table walked into. */
    const char *label = tapi_choice_label(o->col_table, o->col->name, value);
    const char *display = label ? label : value;
    if (v->display == TAPI_DV_TRUE)
        return tapi_json_str(display);
    return pair("display_value", tapi_json_str(display), "value", tapi_json_str(value), NULL, NULL);
}

json_t *tapi_render_record(const tapi_view *v, const tapi_fieldset *fs, const itsm_record *r,
                           const int *idx, const tapi_journal_text *journal)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < fs->nout; i++) {
        json_t *f = render_field(v, &fs->out[i], r, idx, journal);
        if (!f || json_object_set_new(o, fs->out[i].name, f)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* --- journal display values ------------------------------------------------ */

typedef struct journal_entry {
    const char *element_id, *element, *created_on, *author, *value;
    size_t seq;                 /* the store's order: insertion order within one second */
} journal_entry;

static int newest_first(const void *a, const void *b)
{
    const journal_entry *x = a, *y = b;
    int c = strcmp(y->created_on, x->created_on);
    return c ? c : (y->seq > x->seq) - (y->seq < x->seq);
}

typedef struct journal_page {
    itsm_record **rows;
    size_t nrows;
    itsm_record **users;
    size_t nusers;
    char **texts;               /* 2 per record: work_notes, comments */
} journal_page;

static void journal_page_free(journal_page *jp, size_t nrec)
{
    itsm_records_free(jp->rows, jp->nrows);
    itsm_records_free(jp->users, jp->nusers);
    for (size_t i = 0; jp->texts && i < 2 * nrec; i++)
        free(jp->texts[i]);
    free(jp->texts);
}

/* Runs terms on table, fields as given; appends the rows to *rows. */
static tb_err run_terms(itsm_table *t, const char *table, const snq_term *terms, size_t n,
                        const char *const *fields, itsm_record ***rows, size_t *nrows)
{
    snquery *q = NULL;
    tb_err rc = snquery_from_terms(terms, n, &q);
    itsm_record **v = NULL;
    size_t nv = 0;
    itsm_table_query req = {.table = table, .q = q, .fields = fields, .limit = ITSM_MAX_ROWS,
                            .timeout_ms = TAPI_QUERY_TIMEOUT_MS};
    if (!rc)
        rc = itsm_embedded_table_query(t, &req, &v, &nv, NULL);
    snquery_free(q);
    if (rc || nv == 0) {
        free(v);
        return rc;
    }
    itsm_record **all = realloc(*rows, (*nrows + nv) * sizeof *all);
    if (!all) {
        itsm_records_free(v, nv);
        return TB_ERR_NOMEM;
    }
    memcpy(all + *nrows, v, nv * sizeof *v);
    *rows = all;
    *nrows += nv;
    free(v);
    return TB_OK;
}

/* "2024-01-31 10:00:00 - John Doe (Work notes)\ntext\n\n", newest first:
 * the stacked form a journal field shows as its display value. */
static tb_err journal_texts(itsm_table *t, const char *table, itsm_record **recs, size_t nrec,
                            journal_page *jp)
{
    static const char *const jfields[] = {"element_id", "element", "sys_created_on",
                                          "sys_created_by", "value", NULL};
    tb_err rc = TB_OK;
    tb_buf ids;
    tb_buf_init(&ids, 0);
    for (size_t start = 0; !rc && start < nrec; start += SNQ_MAX_IN_ITEMS) {
        tb_buf_reset(&ids);
        for (size_t i = start; !rc && i < nrec && i < start + SNQ_MAX_IN_ITEMS; i++)
            rc = tb_buf_printf(&ids, "%s%s", i > start ? "," : "", recs[i]->sys_id);
        snq_term terms[] = {
            {"element_id", SNQ_IN, SNQ_LINK_AND, ids.data},
            {"name", SNQ_EQ, SNQ_LINK_AND, table},
        };
        if (!rc)
            rc = run_terms(t, "sys_journal_field", terms, 2, jfields, &jp->rows, &jp->nrows);
    }
    tb_buf_free(&ids);
    if (rc || !jp->nrows)
        return rc;
    journal_entry *e = calloc(jp->nrows, sizeof *e);
    if (!e)
        return TB_ERR_NOMEM;
    tb_buf names;
    tb_buf_init(&names, 0);
    for (size_t i = 0; i < jp->nrows; i++) {
        itsm_record *r = jp->rows[i];
        e[i] = (journal_entry){itsm_record_get(r, "element_id"), itsm_record_get(r, "element"),
                               itsm_record_get(r, "sys_created_on"), itsm_record_get(r, "sys_created_by"),
                               itsm_record_get(r, "value"), i};
        if (!e[i].element_id || !e[i].element || !e[i].created_on || !e[i].author || !e[i].value)
            e[i] = (journal_entry){"", "", "", "", "", i};
        else if (!strchr(e[i].author, ','))
            tb_buf_printf(&names, "%s%s", names.len ? "," : "", e[i].author);
    }
    qsort(e, jp->nrows, sizeof *e, newest_first);
    /* Authors are user names; the text shows the user's name, as ServiceNow does. */
    static const char *const ufields[] = {"user_name", "name", NULL};
    snq_term uterm = {"user_name", SNQ_IN, SNQ_LINK_AND, names.data ? names.data : ""};
    if (names.len)
        rc = run_terms(t, "sys_user", &uterm, 1, ufields, &jp->users, &jp->nusers);
    tb_buf_free(&names);
    if (!rc && !(jp->texts = calloc(2 * nrec, sizeof *jp->texts)))
        rc = TB_ERR_NOMEM;
    tb_buf text;
    tb_buf_init(&text, 0);
    for (size_t i = 0; !rc && i < nrec; i++) {
        for (int k = 0; !rc && k < 2; k++) {
            const char *element = k == 0 ? "work_notes" : "comments";
            tb_buf_reset(&text);
            for (size_t j = 0; !rc && j < jp->nrows; j++) {
                if (strcmp(e[j].element_id, recs[i]->sys_id) || strcmp(e[j].element, element))
                    continue;
                const char *who = e[j].author;
                for (size_t u = 0; u < jp->nusers; u++) {
                    const char *un = itsm_record_get(jp->users[u], "user_name");
                    const char *nm = itsm_record_get(jp->users[u], "name");
                    if (un && nm && *nm && !strcasecmp(un, who))
                        who = nm;
                }
                rc = tb_buf_printf(&text, "%s - %s (%s)\n%s\n\n", e[j].created_on, who,
                                   k == 0 ? "Work notes" : "Additional comments", e[j].value);
            }
            if (!rc && text.len && !(jp->texts[2 * i + k] = strdup(text.data)))
                rc = TB_ERR_NOMEM;
        }
    }
    tb_buf_free(&text);
    free(e);
    return rc;
}

/* --- queries --------------------------------------------------------------- */

void tapi_note_ignored(tapi_fetch *f, size_t n, const char *first)
{
    if (n && f->ignored == 0)
        snprintf(f->first_ignored, sizeof f->first_ignored, "%s", first);
    f->ignored += n;
}

static void on_ignored(void *ctx, const snq_ignored *part)
{
    char text[TAPI_IGNORED_TEXT];
    int n = part->len > 100 ? 100 : (int)part->len;
    snprintf(text, sizeof text, "%.*s: %s", n, part->part, part->reason);
    tapi_note_ignored(ctx, 1, text);
}

tb_err tapi_fetch_rows(itsm_table *t, tapi_fetch *f, json_t **result, size_t *total)
{
    *result = NULL;
    tapi_fieldset fs;
    size_t ignored_fields = 0;
    tb_err rc = tapi_fieldset_build(f->view, &fs, &ignored_fields);
    if (rc)
        return rc;
    tapi_note_ignored(f, ignored_fields, "sysparm_fields: unknown field");
    itsm_table_query req = {
        .table = f->view->table, .q = f->q, .fields = (const char *const *)fs.query_fields,
        .limit = f->limit, .offset = f->offset, .timeout_ms = f->timeout_ms,
        .on_ignored = on_ignored, .ctx = f,
    };
    itsm_record **rows = NULL;
    size_t n = 0;
    rc = itsm_embedded_table_query(t, &req, &rows, &n, total);
    journal_page jp = {0};
    if (!rc && n && fs.any_journal && f->view->display != TAPI_DV_FALSE)
        rc = journal_texts(t, f->view->table, rows, n, &jp);
    int *idx = rc ? NULL : calloc(fs.nquery ? fs.nquery : 1, sizeof *idx);
    json_t *arr = rc ? NULL : json_array();
    if (!rc && (!idx || !arr))
        rc = TB_ERR_NOMEM;
    if (!rc && n)
        tapi_field_index(&fs, rows[0], idx);
    for (size_t i = 0; !rc && i < n; i++) {
        tapi_journal_text jt = {jp.texts ? jp.texts[2 * i] : NULL, jp.texts ? jp.texts[2 * i + 1] : NULL};
        json_t *o = tapi_render_record(f->view, &fs, rows[i], idx, &jt);
        if (!o || json_array_append_new(arr, o))
            rc = TB_ERR_NOMEM;
    }
    journal_page_free(&jp, n);
    free(idx);
    itsm_records_free(rows, n);
    tapi_fieldset_free(&fs);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *result = arr;
    return TB_OK;
}

tb_err tapi_fetch_one(itsm_table *t, const tapi_view *v, const char *sys_id, json_t **record)
{
    *record = NULL;
    snq_term term = {"sys_id", SNQ_EQ, SNQ_LINK_AND, sys_id};
    snquery *q = NULL;
    tb_err rc = snquery_from_terms(&term, 1, &q);
    if (rc)
        return rc;
    tapi_fetch f = {.view = v, .q = q, .limit = 1, .timeout_ms = TAPI_QUERY_TIMEOUT_MS};
    json_t *arr = NULL;
    rc = tapi_fetch_rows(t, &f, &arr, NULL);
    snquery_free(q);
    if (rc)
        return rc;
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        return TB_ERR_NOT_FOUND;
    }
    *record = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    return TB_OK;
}
