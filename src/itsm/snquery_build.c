/* Encoded queries from terms (snquery_build.h). The query keeps the same
 * layout as a parsed one: conds, values and ignored parts point into its own
 * text, so snquery_free releases it. */
#include "itsm/snquery_build.h"

#include <stdlib.h>
#include <string.h>

static int valid_field(const char *s)
{
    size_t seg = 0, len = 0;
    for (; s[len]; len++) {
        char c = s[len];
        if (c == '.') {
            if (seg == 0)
                return 0;
            seg = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
            if (++seg > SNQ_MAX_FIELD)
                return 0;
        } else {
            return 0;
        }
    }
    return len > 0 && seg > 0 && len <= 2 * SNQ_MAX_FIELD + 1;
}

static int takes_no_value(snq_op op)
{
    return op == SNQ_ISEMPTY || op == SNQ_ISNOTEMPTY || op == SNQ_EMPTYSTRING || op == SNQ_ANYTHING;
}

tb_err snquery_from_terms(const snq_term *t, size_t n, snquery **out)
{
    if (!out || (n && !t))
        return TB_ERR_INVALID;
    *out = NULL;
    if (n > SNQ_MAX_PARTS)
        return TB_ERR_TOO_LARGE;
    size_t bytes = 1, nvalues = 0;
    for (size_t i = 0; i < n; i++) {
        if (!t[i].field)
            return TB_ERR_INVALID;
        const char *v = t[i].value ? t[i].value : "";
        bytes += strlen(t[i].field) + strlen(v) + 2;
        nvalues += 2;
        if (t[i].op == SNQ_IN || t[i].op == SNQ_NOT_IN)
            for (const char *p = v; *p; p++)
                nvalues += *p == ',';
        if (bytes > SNQ_MAX_QUERY + 2 * n + 1 || nvalues > SNQ_MAX_VALUES + 2 * n)
            return TB_ERR_TOO_LARGE;
    }
    snquery *q = calloc(1, sizeof *q);
    if (!q)
        return TB_ERR_NOMEM;
    size_t nc = n ? n : 1;
    q->query = calloc(1, 1);
    q->text = malloc(bytes);
    q->conds = calloc(nc, sizeof *q->conds);
    q->orders = calloc(1, sizeof *q->orders);
    q->ignored = calloc(nc, sizeof *q->ignored);
    q->values = calloc(nvalues ? nvalues : 1, sizeof *q->values);
    if (!q->query || !q->text || !q->conds || !q->orders || !q->ignored || !q->values) {
        snquery_free(q);
        return TB_ERR_NOMEM;
    }
    char *p = q->text;
    snq_link carry = SNQ_LINK_OR;   /* loosest connector of the terms dropped since the last kept one */
    for (size_t i = 0; i < n; i++) {
        const char *v = t[i].value ? t[i].value : "";
        size_t fl = strlen(t[i].field), vl = strlen(v);
        char *field = p, *value = p + fl + 1;
        memcpy(field, t[i].field, fl + 1);
        memcpy(value, v, vl + 1);
        p += fl + vl + 2;
        snq_link link = i == 0 ? SNQ_LINK_AND : t[i].link;
        if (!valid_field(field)) {
            q->ignored[q->nignored++] = (snq_ignored){field, fl, 0, "bad field name"};
            if (link > carry)
                carry = link;
            continue;
        }
        snq_cond c = {.field = field, .op = t[i].op, .first_value = q->nvalues};
        if (c.op == SNQ_EQ && !*value)
            c.op = SNQ_ISEMPTY;
        else if (c.op == SNQ_NE && !*value)
            c.op = SNQ_ISNOTEMPTY;
        if (c.op == SNQ_IN || c.op == SNQ_NOT_IN) {
            size_t items = 0;
            for (char *s = value;;) {
                char *comma = strchr(s, ',');
                if (comma)
                    *comma = '\0';
                if (*s) {
                    if (++items > SNQ_MAX_IN_ITEMS) {
                        snquery_free(q);
                        return TB_ERR_TOO_LARGE;
                    }
                    q->values[q->nvalues++] = s;
                }
                if (!comma)
                    break;
                s = comma + 1;
            }
            c.nvalues = items;
        } else if (c.op == SNQ_BETWEEN) {
            char *at = strchr(value, '@');
            if (!at) {
                q->ignored[q->nignored++] = (snq_ignored){field, fl, 0, "BETWEEN needs two values: a@b"};
                if (link > carry)
                    carry = link;
                continue;
            }
            *at = '\0';
            q->values[q->nvalues++] = value;
            q->values[q->nvalues++] = at + 1;
            c.nvalues = 2;
        } else if (!takes_no_value(c.op)) {
            q->values[q->nvalues++] = value;
            c.nvalues = 1;
        }
        c.link = link > carry ? link : carry;
        carry = SNQ_LINK_OR;
        q->conds[q->nconds++] = c;
    }
    *out = q;
    return TB_OK;
}
