/* ServiceNow encoded queries: parser and compiler to SQL (grammar, precedence
 * and caps in snquery.h). */
#include "itsm/snquery.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SQL_MAX (1024u * 1024)
#define FIELD_PATH_MAX (2 * SNQ_MAX_FIELD + 1)

static void set_err(char *err, size_t errsz, const char *msg)
{
    if (err && errsz)
        snprintf(err, errsz, "%s", msg);
}

/* --- parser --------------------------------------------------------------- */

/* Longest first where one token is a prefix of another. Unsupported
 * operators are listed so that, e.g., INSTANCEOF is not read as IN. */
static const struct {
    const char *tok;
    int op;                 /* snq_op, or -1: known but not supported */
} ops[] = {
    {"NOT LIKE", SNQ_NOT_LIKE}, {"NOT IN", SNQ_NOT_IN},
    {"STARTSWITH", SNQ_STARTSWITH}, {"ENDSWITH", SNQ_ENDSWITH},
    {"ISNOTEMPTY", SNQ_ISNOTEMPTY}, {"ISEMPTY", SNQ_ISEMPTY},
    {"EMPTYSTRING", SNQ_EMPTYSTRING}, {"ANYTHING", SNQ_ANYTHING},
    {"BETWEEN", SNQ_BETWEEN},
    {"INSTANCEOF", -1}, {"IN_HIERARCHY", -1}, {"IN", SNQ_IN},
    {"LIKE", SNQ_LIKE},
    {"NSAMEAS", -1}, {"SAMEAS", -1}, {"DYNAMIC", -1}, {"NOTON", -1}, {"ON", -1},
    {"RELATIVE", -1}, {"DATEPART", -1}, {"MORETHAN", -1}, {"LESSTHAN", -1},
    {"VALCHANGES", -1}, {"CHANGESFROM", -1}, {"CHANGESTO", -1},
    {"GT_FIELD", -1}, {"LT_FIELD", -1}, {"GT_OR_EQUALS_FIELD", -1}, {"LT_OR_EQUALS_FIELD", -1},
    {"!=", SNQ_NE}, {"<=", SNQ_LE}, {">=", SNQ_GE}, {"!*", SNQ_NOT_LIKE},
    {"=", SNQ_EQ}, {"<", SNQ_LT}, {">", SNQ_GT}, {"*", SNQ_LIKE}, {"%", SNQ_ENDSWITH},
};

static int is_field_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

static int starts(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

/* [a-z0-9_]+ segments joined by single dots, each at most SNQ_MAX_FIELD. */
static int valid_field_path(const char *s, size_t n)
{
    if (n == 0 || n > FIELD_PATH_MAX)
        return 0;
    size_t seg = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (seg == 0)
                return 0;
            seg = 0;
        } else if (is_field_char(s[i])) {
            if (++seg > SNQ_MAX_FIELD)
                return 0;
        } else {
            return 0;
        }
    }
    return seg > 0;
}

/* javascript:gs.dateGenerate('YYYY-MM-DD','HH:MM:SS') -> "YYYY-MM-DD HH:MM:SS",
 * rewritten in place (the result is shorter). 0 when v is not that form. */
static int date_generate(char *v)
{
    static const char pre[] = "javascript:gs.dateGenerate(";
    const char *p = v + sizeof pre - 1;
    if (strncmp(v, pre, sizeof pre - 1) != 0)
        return 0;
    char date[11], time[9];
    char q = *p;
    if (q != '\'' && q != '"')
        return 0;
    p++;
    for (int i = 0; i < 10; i++, p++) {
        if (!((*p >= '0' && *p <= '9') || *p == '-'))
            return 0;
        date[i] = *p;
    }
    if (*p++ != q || *p++ != ',')
        return 0;
    while (*p == ' ')
        p++;
    if (*p++ != q)
        return 0;
    for (int i = 0; i < 8; i++, p++) {
        if (!((*p >= '0' && *p <= '9') || *p == ':'))
            return 0;
        time[i] = *p;
    }
    if (*p++ != q || *p++ != ')' || *p)
        return 0;
    date[10] = time[8] = '\0';
    snprintf(v, 20, "%s %s", date, time);
    return 1;
}

/* 0 for a javascript: value other than a dateGenerate (rewritten in place). */
static int usable_value(char *v)
{
    return strncmp(v, "javascript:", 11) != 0 || date_generate(v);
}

typedef struct parser {
    snquery *q;
    size_t cap_values;
    snq_link carry;         /* loosest connector of the parts dropped since the last condition */
    char *err;
    size_t errsz;
} parser;

static void ignore(parser *p, size_t off, size_t len, snq_link link, const char *reason)
{
    snquery *q = p->q;
    q->ignored[q->nignored++] = (snq_ignored){q->query + off, len, off, reason};
    if (link > p->carry)
        p->carry = link;
}

static tb_err push_value(parser *p, const char *v)
{
    snquery *q = p->q;
    if (q->nvalues >= SNQ_MAX_VALUES) {
        set_err(p->err, p->errsz, "too many values in the query (the limit is 10000)");
        return TB_ERR_TOO_LARGE;
    }
    if (q->nvalues == p->cap_values) {
        size_t nc = p->cap_values ? p->cap_values * 2 : 64;
        const char **nv = realloc(q->values, nc * sizeof *nv);
        if (!nv)
            return TB_ERR_NOMEM;
        q->values = nv;
        p->cap_values = nc;
    }
    q->values[q->nvalues++] = v;
    return TB_OK;
}

static int takes_no_value(snq_op op)
{
    return op == SNQ_ISEMPTY || op == SNQ_ISNOTEMPTY || op == SNQ_EMPTYSTRING || op == SNQ_ANYTHING;
}

/* Splits the IN list at commas (in place) and keeps the non-empty items. */
static tb_err push_list(parser *p, char *v, size_t *n)
{
    size_t items = 0;
    for (char *s = v;;) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        if (*s) {
            if (++items > SNQ_MAX_IN_ITEMS) {
                set_err(p->err, p->errsz, "too many items in an IN list (the limit is 1000)");
                return TB_ERR_TOO_LARGE;
            }
            tb_err rc = push_value(p, s);
            if (rc)
                return rc;
        }
        if (!comma)
            break;
        s = comma + 1;
    }
    *n = items;
    return TB_OK;
}

/* One condition part, text[s..e) after its connector; e is NUL already. */
static tb_err parse_condition(parser *p, size_t off, size_t s, size_t e, snq_link link)
{
    snquery *q = p->q;
    char *t = q->text;
    size_t f = s;
    while (f < e && is_field_char(t[f]))
        f++;
    if (f == s) {
        ignore(p, off, e - off, link, "no field name (field names are lower case)");
        return TB_OK;
    }
    int op = -2;
    size_t oplen = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (starts(t + f, e - f, ops[i].tok)) {
            op = ops[i].op;
            oplen = strlen(ops[i].tok);
            break;
        }
    }
    if (op == -2) {
        ignore(p, off, e - off, link, f == e ? "no operator" : "unknown operator");
        return TB_OK;
    }
    if (op == -1) {
        ignore(p, off, e - off, link, "operator not supported");
        return TB_OK;
    }
    if (!valid_field_path(t + s, f - s)) {
        ignore(p, off, e - off, link, "bad field name");
        return TB_OK;
    }
    char *v = t + f + oplen;
    if (!takes_no_value((snq_op)op) && op != SNQ_BETWEEN && !usable_value(v)) {
        ignore(p, off, e - off, link, "javascript: values are not supported");
        return TB_OK;
    }
    if (*v == '\0' && op == SNQ_EQ)
        op = SNQ_ISEMPTY;
    else if (*v == '\0' && op == SNQ_NE)
        op = SNQ_ISNOTEMPTY;

    snq_cond c = {.field = t + s, .op = (snq_op)op, .offset = off, .len = e - off,
                  .first_value = q->nvalues};
    tb_err rc = TB_OK;
    if (op == SNQ_BETWEEN) {
        char *at = strchr(v, '@');
        if (!at) {
            ignore(p, off, e - off, link, "BETWEEN needs two values: a@b");
            return TB_OK;
        }
        *at = '\0';
        if (!usable_value(v) || !usable_value(at + 1)) {
            ignore(p, off, e - off, link, "javascript: values are not supported");
            return TB_OK;
        }
        if (!(rc = push_value(p, v)) && !(rc = push_value(p, at + 1)))
            c.nvalues = 2;
    } else if (op == SNQ_IN || op == SNQ_NOT_IN) {
        rc = push_list(p, v, &c.nvalues);
    } else if (!takes_no_value((snq_op)op)) {
        if (!(rc = push_value(p, v)))
            c.nvalues = 1;
    }
    if (rc)
        return rc;
    t[f] = '\0';    /* ends the field name; the operator has been read */
    c.link = link > p->carry ? link : p->carry;
    p->carry = SNQ_LINK_OR;
    q->conds[q->nconds++] = c;
    return TB_OK;
}

static tb_err parse_part(parser *p, size_t off, size_t e, int first)
{
    snquery *q = p->q;
    const char *t = q->text;
    size_t s = off;
    snq_link link = SNQ_LINK_AND;
    if (!first && starts(t + s, e - s, "NQ")) {
        link = SNQ_LINK_NQ;
        s += 2;
    } else if (!first && starts(t + s, e - s, "OR") && !starts(t + s, e - s, "ORDERBY")) {
        link = SNQ_LINK_OR;
        s += 2;
    }
    if (s == e) {
        ignore(p, off, e - off, link, "empty part");
        return TB_OK;
    }
    if (e - s == 2 && starts(t + s, e - s, "EQ"))
        return TB_OK;
    if (starts(t + s, e - s, "ORDERBY")) {
        bool desc = starts(t + s, e - s, "ORDERBYDESC");
        size_t fs = s + (desc ? 11 : 7);
        if (!valid_field_path(t + fs, e - fs)) {
            ignore(p, off, e - off, SNQ_LINK_OR,
                   fs == e ? "ORDERBY without a field" : "bad field name");
            return TB_OK;
        }
        q->orders[q->norders++] = (snq_order){t + fs, desc, off, e - off};
        return TB_OK;
    }
    if (starts(t + s, e - s, "GROUPBY")) {
        ignore(p, off, e - off, SNQ_LINK_OR, "GROUPBY is not supported");
        return TB_OK;
    }
    return parse_condition(p, off, s, e, link);
}

void snquery_free(snquery *q)
{
    if (!q)
        return;
    free(q->query);
    free(q->text);
    free(q->conds);
    free(q->orders);
    free(q->values);
    free(q->ignored);
    free(q);
}

tb_err snquery_parse(const char *encoded, size_t len, snquery **out, char *err, size_t errsz)
{
    set_err(err, errsz, "");
    if (out)
        *out = NULL;
    if (!out || (!encoded && len)) {
        set_err(err, errsz, "no query");
        return TB_ERR_INVALID;
    }
    if (len > SNQ_MAX_QUERY) {
        set_err(err, errsz, "query too long (the limit is 65536 bytes)");
        return TB_ERR_TOO_LARGE;
    }
    if (len && memchr(encoded, '\0', len)) {
        set_err(err, errsz, "query contains a NUL byte");
        return TB_ERR_INVALID;
    }
    size_t nparts = len ? 1 : 0;
    for (size_t i = 0; i < len; i++)
        nparts += encoded[i] == '^';
    if (nparts > SNQ_MAX_PARTS) {
        set_err(err, errsz, "too many parts in the query (the limit is 1000)");
        return TB_ERR_TOO_LARGE;
    }
    snquery *q = calloc(1, sizeof *q);
    if (!q)
        return TB_ERR_NOMEM;
    q->query = malloc(len + 1);
    q->text = malloc(len + 1);
    size_t n = nparts ? nparts : 1;
    q->conds = calloc(n, sizeof *q->conds);
    q->orders = calloc(n, sizeof *q->orders);
    q->ignored = calloc(n, sizeof *q->ignored);
    if (!q->query || !q->text || !q->conds || !q->orders || !q->ignored) {
        snquery_free(q);
        return TB_ERR_NOMEM;
    }
    if (len) {
        memcpy(q->query, encoded, len);
        memcpy(q->text, encoded, len);
    }
    q->query[len] = q->text[len] = '\0';

    parser p = {.q = q, .carry = SNQ_LINK_OR, .err = err, .errsz = errsz};
    tb_err rc = TB_OK;
    for (size_t s = 0, i = 0; !rc && i < nparts; i++) {
        char *caret = memchr(q->text + s, '^', len - s);
        size_t e = caret ? (size_t)(caret - q->text) : len;
        q->text[e] = '\0';
        rc = parse_part(&p, s, e, i == 0);
        s = e + 1;
    }
    if (rc) {
        snquery_free(q);
        return rc;
    }
    *out = q;
    return TB_OK;
}

/* --- catalogue ------------------------------------------------------------ */

const snq_table *snq_catalog_table(const snq_catalog *cat, const char *name)
{
    for (size_t i = 0; cat && name && i < cat->ntables; i++)
        if (strcmp(cat->tables[i].name, name) == 0)
            return &cat->tables[i];
    return NULL;
}

const snq_column *snq_table_column(const snq_table *t, const char *name)
{
    for (size_t i = 0; t && name && i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}

void snq_catalog_free(snq_catalog *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->ntables; i++) {
        for (size_t k = 0; k < cat->tables[i].ncols; k++)
            free(cat->tables[i].cols[k].name);
        free(cat->tables[i].cols);
        free(cat->tables[i].name);
    }
    free(cat->tables);
    free(cat);
}

/* --- compiler ------------------------------------------------------------- */

typedef struct join {
    const snq_column *via;      /* reference column of the queried table */
    const snq_table *target;
} join;

#define ALIAS_T (-1)            /* the queried table */
#define ALIAS_S (-2)            /* the referenced table inside a subquery */

typedef struct colref {
    const snq_column *via;      /* for a dot-walk: the reference column, else NULL */
    const snq_table *target;    /* ... and the table it points to */
    const snq_column *col;
    int join;                   /* ALIAS_T, ALIAS_S, or join number (alias j<join>) */
} colref;

typedef struct frag {
    size_t off, len;            /* in compiler.conds */
    snq_link link;
} frag;

typedef struct compiler {
    const snq_catalog *cat;
    const snq_table *table;
    snq_sql *out;
    join *joins;
    size_t njoins;
    tb_buf conds;               /* condition fragments, back to back */
    frag *frags;
    size_t nfrags;
    size_t *clause_start;       /* first frag of each ^-clause */
    size_t nclauses;
    size_t *group_start;        /* first clause of each ^NQ group */
    size_t ngroups;
    size_t cap_binds, cap_ignored;
} compiler;

static tb_err add_ignored(compiler *c, const char *part, size_t len, size_t off, const char *why)
{
    snq_sql *o = c->out;
    if (o->nignored == c->cap_ignored) {
        size_t nc = c->cap_ignored ? c->cap_ignored * 2 : 8;
        snq_ignored *v = realloc(o->ignored, nc * sizeof *v);
        if (!v)
            return TB_ERR_NOMEM;
        o->ignored = v;
        c->cap_ignored = nc;
    }
    o->ignored[o->nignored++] = (snq_ignored){part, len, off, why};
    return TB_OK;
}

/* Appends a bind; *idx is its 1-based number. own is taken over. */
static tb_err add_bind(compiler *c, snq_bind b, size_t *idx)
{
    snq_sql *o = c->out;
    if (o->nbinds == c->cap_binds) {
        size_t nc = c->cap_binds ? c->cap_binds * 2 : 16;
        snq_bind *v = realloc(o->binds, nc * sizeof *v);
        if (!v) {
            free(b.own);
            return TB_ERR_NOMEM;
        }
        o->binds = v;
        c->cap_binds = nc;
    }
    o->binds[o->nbinds++] = b;
    *idx = o->nbinds;
    return TB_OK;
}

static int parse_int(const char *s, int64_t *out)
{
    if (!*s || strlen(s) > 20)
        return 0;
    if (!(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno)
        return 0;
    *out = v;
    return 1;
}

/* A value as the column's kind compares it. *bad when it cannot be one. */
static tb_err bind_value(compiler *c, const snq_column *col, const char *v, size_t *idx, int *bad)
{
    snq_bind b = {.text = v};
    switch (col->kind) {
    case SNQ_INTEGER:
        if (!parse_int(v, &b.i)) {
            *bad = 1;
            return TB_OK;
        }
        b.is_int = true;
        b.text = NULL;
        break;
    case SNQ_BOOLEAN:
        if (strcasecmp(v, "true") == 0)
            b.text = "true";
        else if (strcasecmp(v, "false") == 0)
            b.text = "false";
        break;
    case SNQ_ID: {
        if (!(b.own = strdup(v)))
            return TB_ERR_NOMEM;
        for (char *s = b.own; *s; s++)
            if (*s >= 'A' && *s <= 'Z')
                *s = (char)(*s - 'A' + 'a');
        b.text = b.own;
        break;
    }
    default:
        break;
    }
    return add_bind(c, b, idx);
}

/* A LIKE pattern: pre + v with % _ \ escaped (ESCAPE '\') + post. */
static tb_err bind_pattern(compiler *c, const char *v, const char *pre, const char *post,
                           size_t *idx)
{
    size_t n = strlen(v);
    char *s = malloc(2 * n + 3);
    if (!s)
        return TB_ERR_NOMEM;
    char *w = s;
    w += strlen(strcpy(w, pre));
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '%' || v[i] == '_' || v[i] == '\\')
            *w++ = '\\';
        *w++ = v[i];
    }
    strcpy(w, post);
    return add_bind(c, (snq_bind){.text = s, .own = s}, idx);
}

static tb_err get_join(compiler *c, const snq_column *via, const snq_table *target, int *out)
{
    for (size_t i = 0; i < c->njoins; i++)
        if (c->joins[i].via == via) {
            *out = (int)i;
            return TB_OK;
        }
    join *v = realloc(c->joins, (c->njoins + 1) * sizeof *v);
    if (!v)
        return TB_ERR_NOMEM;
    c->joins = v;
    c->joins[c->njoins] = (join){via, target};
    *out = (int)c->njoins++;
    return TB_OK;
}

/* Resolves a field path against the catalogue; *why is set when it names
 * nothing usable. A dot-walk is left without a join (see use_join). */
static void resolve(compiler *c, const char *path, colref *out, const char **why)
{
    size_t n = strlen(path);
    *why = NULL;
    if (!valid_field_path(path, n)) {
        *why = "bad field name";
        return;
    }
    const char *dot = strchr(path, '.');
    char head[SNQ_MAX_FIELD + 1];
    size_t hn = dot ? (size_t)(dot - path) : n;
    memcpy(head, path, hn);
    head[hn] = '\0';
    const snq_column *col = snq_table_column(c->table, head);
    if (!col) {
        *why = "unknown field";
        return;
    }
    if (!dot) {
        *out = (colref){NULL, NULL, col, ALIAS_T};
        return;
    }
    if (strchr(dot + 1, '.')) {
        *why = "dot-walk deeper than one level is not supported";
        return;
    }
    if (!col->ref) {
        *why = "dot-walk through a field that is not a reference";
        return;
    }
    const snq_table *target = snq_catalog_table(c->cat, col->ref);
    if (!target) {
        *why = "dot-walk into a table the store does not have";
        return;
    }
    const snq_column *col2 = snq_table_column(target, dot + 1);
    if (!col2) {
        *why = "unknown field in the referenced table";
        return;
    }
    *out = (colref){col, target, col2, ALIAS_T};
}

/* A dot-walked column read through a LEFT JOIN (one per reference column). */
static tb_err use_join(compiler *c, colref *r)
{
    return r->via ? get_join(c, r->via, r->target, &r->join) : TB_OK;
}

/* 't."col"' or 'j0."col"' into out (catalogue names only). */
static void col_sql(const colref *r, char *out, size_t outsz)
{
    if (r->join == ALIAS_T)
        snprintf(out, outsz, "t.\"%s\"", r->col->name);
    else if (r->join == ALIAS_S)
        snprintf(out, outsz, "s.\"%s\"", r->col->name);
    else
        snprintf(out, outsz, "j%d.\"%s\"", r->join, r->col->name);
}

typedef struct cmp {
    char col[SNQ_MAX_FIELD + 16];   /* the bare column */
    char lhs[SNQ_MAX_FIELD + 40];   /* column as compared, with its collation */
    int lower;                      /* values go through lower() */
} cmp;

static void make_cmp(const colref *r, cmp *m)
{
    col_sql(r, m->col, sizeof m->col);
    m->lower = r->col->kind == SNQ_TEXT && r->col->lower_index;
    if (m->lower)
        snprintf(m->lhs, sizeof m->lhs, "lower(%s)", m->col);
    else if (r->col->kind == SNQ_TEXT)
        snprintf(m->lhs, sizeof m->lhs, "%s COLLATE NOCASE", m->col);
    else
        snprintf(m->lhs, sizeof m->lhs, "%s", m->col);
}

static tb_err put_rhs(tb_buf *b, const cmp *m, size_t idx)
{
    return m->lower ? tb_buf_printf(b, "lower(?%zu)", idx) : tb_buf_printf(b, "?%zu", idx);
}

static const char *const cmp_ops[] = {
    [SNQ_EQ] = "=", [SNQ_LT] = "<", [SNQ_LE] = "<=", [SNQ_GT] = ">", [SNQ_GE] = ">=",
};

/* Operators that no empty value satisfies. */
static int null_rejecting(snq_op op)
{
    return op != SNQ_NE && op != SNQ_NOT_LIKE && op != SNQ_NOT_IN && op != SNQ_ISEMPTY &&
           op != SNQ_ANYTHING;
}

/* Writes one condition's SQL to b; *why when it must be dropped.
 *
 * A dot-walked condition that no empty value satisfies is written as
 * t.ref IN (SELECT s.sys_id FROM target s WHERE cond): the same rows as
 * testing the joined column (sys_id is unique, and a missing reference fails
 * cond either way), but the search can start from the target's index and
 * reach the rows through the reference column's index. Through a LEFT JOIN,
 * SQLite would scan the whole table. The others (ISEMPTY, !=, ...) must also
 * match rows with no reference, so they read the joined column. */
static tb_err cond_sql(compiler *c, const snquery *q, const snq_cond *k, tb_buf *b,
                       const char **why)
{
    colref r;
    resolve(c, k->field, &r, why);
    if (*why)
        return TB_OK;
    bool sub = r.via && null_rejecting(k->op);
    tb_err rc = TB_OK;
    if (sub) {
        r.join = ALIAS_S;
        rc = tb_buf_printf(b, "t.\"%s\" IN (SELECT s.\"sys_id\" FROM \"%s\" s WHERE ",
                           r.via->name, r.target->name);
    } else {
        rc = use_join(c, &r);
    }
    if (rc)
        return rc;
    cmp m;
    make_cmp(&r, &m);
    const char **v = q->values + k->first_value;
    size_t idx[2];
    int bad = 0;

    switch (k->op) {
    case SNQ_EQ: case SNQ_LT: case SNQ_LE: case SNQ_GT: case SNQ_GE:
        if ((rc = bind_value(c, r.col, v[0], &idx[0], &bad)) || bad)
            break;
        if (!(rc = tb_buf_printf(b, "%s %s ", m.lhs, cmp_ops[k->op])))
            rc = put_rhs(b, &m, idx[0]);
        break;
    case SNQ_NE:
        if ((rc = bind_value(c, r.col, v[0], &idx[0], &bad)) || bad)
            break;
        if (!(rc = tb_buf_printf(b, "(%s IS NULL OR %s <> ", m.col, m.lhs)) &&
            !(rc = put_rhs(b, &m, idx[0])))
            rc = tb_buf_appends(b, ")");
        break;
    case SNQ_LIKE: case SNQ_NOT_LIKE: case SNQ_STARTSWITH: case SNQ_ENDSWITH: {
        const char *pre = k->op == SNQ_STARTSWITH ? "" : "%";
        const char *post = k->op == SNQ_ENDSWITH ? "" : "%";
        if ((rc = bind_pattern(c, v[0], pre, post, &idx[0])))
            break;
        if (k->op == SNQ_NOT_LIKE)
            rc = tb_buf_printf(b, "(%s IS NULL OR %s NOT LIKE ?%zu ESCAPE '\\')", m.col, m.col,
                               idx[0]);
        else
            rc = tb_buf_printf(b, "%s LIKE ?%zu ESCAPE '\\'", m.col, idx[0]);
        break;
    }
    case SNQ_IN: case SNQ_NOT_IN: {
        int neg = k->op == SNQ_NOT_IN;
        if (k->nvalues == 0) {
            rc = tb_buf_appends(b, neg ? "1" : "0");
            break;
        }
        size_t first = c->out->nbinds + 1;
        for (size_t i = 0; !rc && !bad && i < k->nvalues; i++)
            rc = bind_value(c, r.col, v[i], &idx[0], &bad);
        if (rc || bad)
            break;
        rc = neg ? tb_buf_printf(b, "(%s IS NULL OR %s NOT IN (", m.col, m.lhs)
                 : tb_buf_printf(b, "%s IN (", m.lhs);
        for (size_t i = 0; !rc && i < k->nvalues; i++) {
            if (i)
                rc = tb_buf_appends(b, ",");
            if (!rc)
                rc = put_rhs(b, &m, first + i);
        }
        if (!rc)
            rc = tb_buf_appends(b, neg ? "))" : ")");
        break;
    }
    case SNQ_ISEMPTY:
        rc = tb_buf_printf(b, "(%s IS NULL OR %s = '')", m.col, m.col);
        break;
    case SNQ_ISNOTEMPTY:
        rc = tb_buf_printf(b, "(%s IS NOT NULL AND %s <> '')", m.col, m.col);
        break;
    case SNQ_EMPTYSTRING:
        rc = tb_buf_printf(b, "%s = ''", m.col);
        break;
    case SNQ_ANYTHING:
        rc = tb_buf_appends(b, "1");
        break;
    case SNQ_BETWEEN:
        if ((rc = bind_value(c, r.col, v[0], &idx[0], &bad)) || bad ||
            (rc = bind_value(c, r.col, v[1], &idx[1], &bad)) || bad)
            break;
        if (!(rc = tb_buf_printf(b, "%s BETWEEN ", m.lhs)) && !(rc = put_rhs(b, &m, idx[0])) &&
            !(rc = tb_buf_appends(b, " AND ")))
            rc = put_rhs(b, &m, idx[1]);
        break;
    }
    if (!rc && bad)
        *why = "value is not an integer, and the field is numeric";
    if (!rc && !bad && sub)
        rc = tb_buf_appends(b, ")");
    return rc;
}

/* Compiles every condition to a fragment; dropped ones pass their
 * connector on, as the parser does. */
static tb_err compile_conds(compiler *c, const snquery *q)
{
    snq_sql *o = c->out;
    c->frags = calloc(q->nconds ? q->nconds : 1, sizeof *c->frags);
    c->clause_start = calloc(q->nconds ? q->nconds : 1, sizeof *c->clause_start);
    c->group_start = calloc(q->nconds ? q->nconds : 1, sizeof *c->group_start);
    if (!c->frags || !c->clause_start || !c->group_start)
        return TB_ERR_NOMEM;
    snq_link carry = SNQ_LINK_OR;
    for (size_t i = 0; i < q->nconds; i++) {
        const snq_cond *k = &q->conds[i];
        snq_link link = k->link > carry ? k->link : carry;
        size_t off = c->conds.len, nb = o->nbinds;
        const char *why = NULL;
        tb_err rc = cond_sql(c, q, k, &c->conds, &why);
        if (rc)
            return rc;
        if (why) {
            /* Roll back what the dropped condition added. */
            while (o->nbinds > nb)
                free(o->binds[--o->nbinds].own);
            c->conds.len = off;
            if (c->conds.data)
                c->conds.data[off] = '\0';
            carry = link;
            if ((rc = add_ignored(c, q->query + k->offset, k->len, k->offset, why)))
                return rc;
            continue;
        }
        carry = SNQ_LINK_OR;
        if (c->nfrags == 0 || link == SNQ_LINK_NQ)
            c->group_start[c->ngroups++] = c->nclauses;
        if (c->nfrags == 0 || link != SNQ_LINK_OR)
            c->clause_start[c->nclauses++] = c->nfrags;
        c->frags[c->nfrags++] = (frag){off, c->conds.len - off, link};
    }
    return TB_OK;
}

/* Nests lo..hi balanced, so the SQL's depth grows with log(n): SQLite caps
 * expression depth, and a flat chain of 1000 ORs would pass it. */
typedef tb_err (*leaf_fn)(compiler *, tb_buf *, size_t);

static tb_err balanced(compiler *c, tb_buf *b, size_t lo, size_t hi, const char *op, leaf_fn leaf)
{
    if (hi - lo == 1)
        return leaf(c, b, lo);
    size_t mid = lo + (hi - lo) / 2;
    tb_err rc = tb_buf_appends(b, "(");
    if (!rc)
        rc = balanced(c, b, lo, mid, op, leaf);
    if (!rc)
        rc = tb_buf_appends(b, op);
    if (!rc)
        rc = balanced(c, b, mid, hi, op, leaf);
    return rc ? rc : tb_buf_appends(b, ")");
}

static tb_err frag_leaf(compiler *c, tb_buf *b, size_t i)
{
    return tb_buf_append(b, c->conds.data + c->frags[i].off, c->frags[i].len);
}

static tb_err clause_leaf(compiler *c, tb_buf *b, size_t i)
{
    size_t hi = i + 1 < c->nclauses ? c->clause_start[i + 1] : c->nfrags;
    return balanced(c, b, c->clause_start[i], hi, " OR ", frag_leaf);
}

static tb_err group_leaf(compiler *c, tb_buf *b, size_t i)
{
    size_t hi = i + 1 < c->ngroups ? c->group_start[i + 1] : c->nclauses;
    return balanced(c, b, c->group_start[i], hi, " AND ", clause_leaf);
}

static tb_err compile_order(compiler *c, const snquery *q)
{
    tb_buf *b = &c->out->order;
    tb_err rc = TB_OK;
    size_t used = 0;
    bool last_desc = false;
    for (size_t i = 0; !rc && q && i < q->norders; i++) {
        const snq_order *o = &q->orders[i];
        colref r;
        const char *why;
        resolve(c, o->field, &r, &why);
        if (!why && (rc = use_join(c, &r)))
            break;
        if (why) {
            rc = add_ignored(c, q->query + o->offset, o->len, o->offset, why);
            continue;
        }
        cmp m;
        make_cmp(&r, &m);
        rc = tb_buf_printf(b, "%s%s%s", used++ ? ", " : " ORDER BY ", m.lhs,
                           o->desc ? " DESC" : "");
        last_desc = o->desc;
    }
    /* rowid makes paging stable among equal keys; its direction follows the
     * last key so that an index on that key still delivers the order.
     * Without ORDERBY there is no ORDER BY at all, as ServiceNow promises no
     * order either: sorting every match by rowid would cost a sort step
     * whenever an index drives the search, to return ten rows. */
    if (!rc && used)
        rc = tb_buf_printf(b, ", t.rowid%s", last_desc ? " DESC" : "");
    if (!rc)
        rc = tb_buf_append(b, "", 0);
    return rc;
}

static tb_err add_select(compiler *c, const char *name, const colref *r)
{
    snq_sql *o = c->out;
    char col[SNQ_MAX_FIELD + 16];
    col_sql(r, col, sizeof col);
    snq_select *v = realloc(o->selects, (o->nselects + 1) * sizeof *v);
    if (!v)
        return TB_ERR_NOMEM;
    o->selects = v;
    if (!(v[o->nselects].name = strdup(name)))
        return TB_ERR_NOMEM;
    o->nselects++;
    return tb_buf_printf(&o->select, ", %s", col);
}

static tb_err compile_select(compiler *c, const char *const *fields, char *err, size_t errsz)
{
    snq_sql *o = c->out;
    tb_err rc = tb_buf_appends(&o->select, "t.\"sys_id\"");
    if (!fields) {
        for (size_t i = 0; !rc && i < c->table->ncols; i++) {
            colref r = {NULL, NULL, &c->table->cols[i], ALIAS_T};
            rc = add_select(c, r.col->name, &r);
        }
        return rc;
    }
    for (size_t i = 0; !rc && fields[i]; i++) {
        if (i >= SNQ_MAX_PARTS) {
            set_err(err, errsz, "too many fields (the limit is 1000)");
            return TB_ERR_TOO_LARGE;
        }
        const char *f = fields[i];
        if (!*f)
            continue;
        int dup = 0;
        for (size_t k = 0; !dup && k < o->nselects; k++)
            dup = strcmp(o->selects[k].name, f) == 0;
        if (dup)
            continue;
        colref r;
        const char *why;
        resolve(c, f, &r, &why);
        if (!why && (rc = use_join(c, &r)))
            break;
        if (why)
            rc = add_ignored(c, f, strnlen(f, 256), SIZE_MAX, why);
        else
            rc = add_select(c, f, &r);
    }
    return rc;
}

static tb_err compile_from(tb_buf *b, const compiler *c, size_t njoins)
{
    tb_err rc = tb_buf_printf(b, "\"%s\" t", c->table->name);
    for (size_t i = 0; !rc && i < njoins; i++)
        rc = tb_buf_printf(b, " LEFT JOIN \"%s\" j%zu ON j%zu.\"sys_id\" = t.\"%s\"",
                           c->joins[i].target->name, i, i, c->joins[i].via->name);
    return rc;
}

void snq_sql_free(snq_sql *s)
{
    if (!s)
        return;
    tb_buf_free(&s->select);
    tb_buf_free(&s->from);
    tb_buf_free(&s->count_from);
    tb_buf_free(&s->where);
    tb_buf_free(&s->order);
    for (size_t i = 0; i < s->nselects; i++)
        free(s->selects[i].name);
    free(s->selects);
    for (size_t i = 0; i < s->nbinds; i++)
        free(s->binds[i].own);
    free(s->binds);
    free(s->ignored);
    memset(s, 0, sizeof *s);
}

tb_err snquery_compile(const snquery *q, const snq_catalog *cat, const char *table,
                       const char *const *fields, snq_sql *out, char *err, size_t errsz)
{
    set_err(err, errsz, "");
    if (!out)
        return TB_ERR_INVALID;
    memset(out, 0, sizeof *out);
    tb_buf_init(&out->select, SQL_MAX);
    tb_buf_init(&out->from, SQL_MAX);
    tb_buf_init(&out->count_from, SQL_MAX);
    tb_buf_init(&out->where, SQL_MAX);
    tb_buf_init(&out->order, SQL_MAX);
    const snq_table *t = snq_catalog_table(cat, table);
    if (!t) {
        set_err(err, errsz, "Invalid table");
        return TB_ERR_NOT_FOUND;
    }
    compiler c = {.cat = cat, .table = t, .out = out};
    tb_buf_init(&c.conds, SQL_MAX);
    tb_err rc = TB_OK;
    if (q)
        rc = compile_conds(&c, q);
    size_t where_joins = c.njoins;  /* the conditions' joins come first */
    if (!rc && c.nfrags) {
        rc = tb_buf_appends(&out->where, " WHERE ");
        if (!rc)
            rc = balanced(&c, &out->where, 0, c.ngroups, " OR ", group_leaf);
    }
    if (!rc)
        rc = compile_order(&c, q);
    if (!rc)
        rc = compile_select(&c, fields, err, errsz);
    if (!rc)
        rc = compile_from(&out->from, &c, c.njoins);
    if (!rc)
        rc = compile_from(&out->count_from, &c, where_joins);
    if (!rc) {
        /* tb_buf leaves data NULL until the first append. */
        rc = tb_buf_append(&out->where, "", 0);
    }
    if (rc == TB_ERR_TOO_LARGE && err && errsz && !*err)
        set_err(err, errsz, "query too complex");
    tb_buf_free(&c.conds);
    free(c.frags);
    free(c.clause_start);
    free(c.group_start);
    free(c.joins);
    if (rc)
        snq_sql_free(out);
    return rc;
}
