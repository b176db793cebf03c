/* GET (and HEAD) on the Table API: a page of a table, or one record. */
#include "flow/table_api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "itsm/snquery_build.h"

/* --- name-value filters ------------------------------------------------------ */

tb_err tapi_filter_query(const snq_catalog *cat, const char *table, const char *const *names,
                         const char *const *values, size_t n, snquery **out, size_t *ignored)
{
    *out = NULL;
    *ignored = 0;
    const snq_table *t = snq_catalog_table(cat, table);
    if (!t)
        return TB_ERR_NOT_FOUND;
    snq_term *terms = calloc(3 * n + 1, sizeof *terms);
    char **walks = calloc(2 * n + 1, sizeof *walks);
    size_t nt = 0, nw = 0;
    tb_err rc = terms && walks ? TB_OK : TB_ERR_NOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        const char *k = names[i], *v = values[i];
        const snq_column *c = snq_table_column(t, k);
        if (!c && !strchr(k, '.')) {
            (*ignored)++;
            continue;
        }
        char id[ITSM_SYS_ID_LEN + 1];
        const char *df = c && c->ref ? tapi_display_field(c->ref) : NULL;
        if (df && *v && !tapi_parse_sys_id(v, id) && snq_catalog_table(cat, c->ref)) {
            /* B2: a reference may be named by its display value; a user
             * also by user_name ("assigned_to=john.smith"). */
            terms[nt++] = (snq_term){k, SNQ_EQ, SNQ_LINK_AND, v};
            const char *alts[] = {df, !strcmp(c->ref, "sys_user") ? "user_name" : NULL};
            for (size_t a = 0; !rc && a < 2 && alts[a]; a++) {
                size_t len = strlen(k) + strlen(alts[a]) + 2;
                if (!(walks[nw] = malloc(len))) {
                    rc = TB_ERR_NOMEM;
                    break;
                }
                snprintf(walks[nw], len, "%s.%s", k, alts[a]);
                terms[nt++] = (snq_term){walks[nw++], SNQ_EQ, SNQ_LINK_OR, v};
            }
            continue;
        }
        const char *label_value = c ? tapi_choice_value(table, k, v) : NULL;
        terms[nt++] = (snq_term){k, SNQ_EQ, SNQ_LINK_AND, label_value ? label_value : v};
    }
    if (!rc)
        rc = snquery_from_terms(terms, nt, out);
    for (size_t i = 0; i < nw; i++)
        free(walks[i]);
    free(walks);
    free(terms);
    return rc;
}

struct filters {
    const char **names, **values;
    size_t n, cap;
    bool nomem;
};

static void collect_filter(void *ctx, const char *k, const char *v)
{
    struct filters *f = ctx;
    if (f->nomem || !strncmp(k, "sysparm_", 8))
        return;
    if (f->n == f->cap) {
        size_t nc = f->cap ? 2 * f->cap : 8;
        const char **nn = realloc(f->names, nc * sizeof *nn);
        if (nn)
            f->names = nn;
        const char **nv = nn ? realloc(f->values, nc * sizeof *nv) : NULL;
        if (!nv) {
            f->nomem = true;
            return;
        }
        f->values = nv;
        f->cap = nc;
    }
    f->names[f->n] = k;
    f->values[f->n++] = v;
}

/* --- GET list ---------------------------------------------------------------- */

static void log_ignored(tb_http_req *req, const char *table, size_t n, const char *first)
{
    if (!n)
        return;
    char q[200];
    TB_LOGI("table api: query parts ignored", "table=%s count=%zu first=%s peer=%s", table, n,
            tb_log_quote(q, sizeof q, first), tb_http_peer_str(req));
}

void tapi_handle_list(tb_http_req *req, table_api *ta, tapi_version version, const char *table)
{
    tapi_params p;
    if (!tapi_read_params(req, &p))
        return;
    tb_err e;
    itsm_table *t = tapi_thread_table(ta, &e);
    if (!t) {
        tapi_reply_store_error(req, e, "opening the ticket store");
        return;
    }
    char base[TAPI_BASE_URL_MAX];
    tapi_base_url(req, ta, base);
    tapi_view view = {itsm_table_catalog(t), table, p.display, p.exclude_ref_link, p.fields, base};
    snquery *q = NULL;
    size_t ignored_filters = 0;
    struct filters f = {0};
    tb_http_query_each(req, collect_filter, &f);
    if (f.nomem) {
        e = TB_ERR_NOMEM;
    } else if (p.query && *p.query) {
        char err[160];
        /* B2: name-value pairs cannot be combined with sysparm_query; the
         * query wins. */
        ignored_filters = f.n;
        e = snquery_parse(p.query, strlen(p.query), &q, err, sizeof err);
        if (e == TB_ERR_TOO_LARGE || e == TB_ERR_INVALID) {
            free(f.names);
            free(f.values);
            tapi_error(req, 400, "Invalid query", err);
            return;
        }
    } else if (f.n) {
        e = tapi_filter_query(view.cat, table, f.names, f.values, f.n, &q, &ignored_filters);
        if (e == TB_ERR_TOO_LARGE) {
            free(f.names);
            free(f.values);
            tapi_error(req, 400, "Invalid query", "too many name-value filters");
            return;
        }
    }
    free(f.names);
    free(f.values);
    if (e) {
        tapi_reply_store_error(req, e, "reading the query");
        return;
    }
    tapi_fetch fetch = {.view = &view, .q = q, .limit = p.limit, .offset = p.offset,
                        .timeout_ms = TAPI_QUERY_TIMEOUT_MS};
    json_t *rows = NULL;
    size_t total = 0;
    e = tapi_fetch_rows(t, &fetch, &rows, p.no_count ? NULL : &total);
    snquery_free(q);
    tapi_note_ignored(&fetch, ignored_filters, "name-value filter on an unknown field");
    log_ignored(req, table, fetch.ignored, fetch.first_ignored);
    if (e == TB_ERR_TOO_LARGE) {
        tapi_error(req, 400, "Invalid query", "the query is too large");
        return;
    }
    if (e) {
        tapi_reply_store_error(req, e, "reading records");
        return;
    }
    size_t n = json_array_size(rows);
    if (n == 0 && version == TAPI_V1) {
        /* B1: version 1 answers an empty list with 404. */
        json_decref(rows);
        tapi_error(req, 404, "No Record found",
                   "Records matching query not found. Check query parameter or offset parameter");
        return;
    }
    tapi_list_headers(req, base, &p, n, p.no_count ? -1 : (long long)total);
    tapi_reply_result(req, 200, rows);
}

/* --- GET one ----------------------------------------------------------------- */

void tapi_handle_get(tb_http_req *req, table_api *ta, const tapi_path *path)
{
    tapi_params p;
    if (!tapi_read_params(req, &p))
        return;
    if (!path->id_valid) {
        tapi_reply_store_error(req, TB_ERR_NOT_FOUND, path->table);
        return;
    }
    tb_err e;
    itsm_table *t = tapi_thread_table(ta, &e);
    if (!t) {
        tapi_reply_store_error(req, e, "opening the ticket store");
        return;
    }
    char base[TAPI_BASE_URL_MAX];
    tapi_base_url(req, ta, base);
    tapi_view view = {itsm_table_catalog(t), path->table, p.display, p.exclude_ref_link, p.fields, base};
    json_t *rec = NULL;
    e = tapi_fetch_one(t, &view, path->sys_id, &rec);
    if (e)
        tapi_reply_store_error(req, e, path->table);
    else
        tapi_reply_result(req, 200, rec);
}
