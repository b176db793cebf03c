/* ServiceNow encoded queries (sysparm_query): parser, and compiler to SQL
 * over a column catalogue. Nothing here touches a database; the embedded
 * store builds the catalogue and runs the SQL (itsm_table.h).
 *
 * Grammar. The input is already percent-decoded. It is split at every '^'
 * into parts. A part after '^' may start with a connector:
 *     "OR"  (^OR)  OR with the condition before it      (not "ORDERBY...")
 *     "NQ"  (^NQ)  starts a new query; the queries are OR-ed
 *     none  (^)    AND
 * then holds one of
 *     <field><op><value>        a condition
 *     ORDERBY<field>            sort ascending; ORDERBYDESC<field> descending;
 *                               several sort in the order written
 *     EQ                        the list view's terminator: skipped
 * <field> is the longest run of [a-z0-9_.] (ServiceNow field names are lower
 * case), either a column ("number") or one dot-walk through a reference
 * ("assigned_to.user_name", in conditions, ORDERBY and the field list);
 * deeper walks are ignored parts. <op>, case sensitive, longest match:
 *     =  !=  <  <=  >  >=                compare (an empty value with = / !=
 *                                        means ISEMPTY / ISNOTEMPTY)
 *     LIKE  NOT LIKE  STARTSWITH  ENDSWITH  substring / prefix / suffix
 *     *  !*  %                           short forms of LIKE, NOT LIKE, ENDSWITH
 *     IN  NOT IN                         comma list; empty items are skipped
 *     ISEMPTY  ISNOTEMPTY  EMPTYSTRING  ANYTHING   take no value
 *     BETWEEN a@b                        inclusive range
 * A value may be javascript:gs.dateGenerate('YYYY-MM-DD','HH:MM:SS') (what
 * pysnow sends for datetimes); it stands for "YYYY-MM-DD HH:MM:SS". Any other
 * javascript: value is an ignored part.
 *
 * Precedence: ^OR binds tighter than ^, and ^NQ is loosest, so
 *     a^b^ORc       = a AND (b OR c)
 *     a^ORb^c^NQd   = ((a OR b) AND c) OR d
 * Source: ServiceNow's encoded-query guide (servicenow.github.io/sdk/guides/
 * encoded-query-guide, "Precedence": ^OR binds only to the single condition
 * immediately before and after it; ^NQ starts a new independent query, and a
 * record matches if it satisfies any of the ^NQ-separated groups).
 * Sorting: ORDERBY terms apply to the whole query wherever they stand; ties
 * go by insertion order (reversed when the last key is descending). Without
 * ORDERBY no order is promised (ServiceNow
 * promises none either) and none is imposed, so an index can deliver the
 * first rows without sorting every match.
 *
 * Ignored parts. As ServiceNow does by default, a part that cannot be used is
 * dropped and the rest of the query still applies: an empty part ("^^"), no
 * or an unknown operator, an unsupported operator (INSTANCEOF, DYNAMIC,
 * SAMEAS, ...), GROUPBY, a javascript: value, a bad field name (parser); an
 * unknown field or table to walk into, a walk deeper than one level, a value
 * that is not a number for a numeric field (compiler); unknown sysparm_fields
 * entries. Each is reported (part text, offset, reason) so the caller can log
 * it; none fails the query. A dropped condition leaves its connector: the
 * loosest connector among it and the next kept condition joins that one, as
 * if the condition had been removed from its group. A ^NQ query left with no
 * condition is dropped; with no condition left at all, every row matches.
 *
 * Caps (TB_ERR_TOO_LARGE, with a message in err): SNQ_MAX_QUERY bytes,
 * SNQ_MAX_PARTS parts, SNQ_MAX_IN_ITEMS items in one IN list, SNQ_MAX_VALUES
 * values in all. A NUL byte inside the query is TB_ERR_INVALID. Checks are
 * linear in the input, and the SQL the compiler writes nests its AND/OR trees
 * balanced, so its depth is logarithmic in the number of conditions.
 *
 * Comparison semantics of the compiled SQL, by column kind (catalogue):
 *     TEXT      case-insensitive (COLLATE NOCASE, or lower() = lower() where
 *               the column's index is on lower(col)), as ServiceNow's database
 *               compares strings [inferred: its default collation]; the
 *               "case-sensitive" of the Table API notes (B3) is taken to be
 *               about field names and operators, which are case-sensitive here
 *     INTEGER   numeric; a value that is not an integer is an ignored part
 *     DATETIME  as text "YYYY-MM-DD HH:MM:SS" UTC (sorts as time)
 *     BOOLEAN   "true"/"false", any case
 *     ID        sys_ids and references: the value lower-cased (sys_ids are
 *               lower-case hex), then exact, so the column's index is used
 * !=, NOT LIKE and NOT IN also match empty fields [inferred: ServiceNow adds
 * "OR field IS NULL" to negative conditions]. LIKE patterns are escaped, so
 * % and _ in values match themselves. Field names only ever reach SQL from
 * the catalogue, quoted; values only as bound parameters. */
#ifndef TB_ITSM_SNQUERY_H
#define TB_ITSM_SNQUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/err.h"

#define SNQ_MAX_QUERY (64u * 1024)
#define SNQ_MAX_PARTS 1000
#define SNQ_MAX_IN_ITEMS 1000
#define SNQ_MAX_VALUES 10000
#define SNQ_MAX_FIELD 80 /* one segment of a field path */

typedef enum snq_op {
    SNQ_EQ, SNQ_NE, SNQ_LT, SNQ_LE, SNQ_GT, SNQ_GE,
    SNQ_LIKE, SNQ_NOT_LIKE, SNQ_STARTSWITH, SNQ_ENDSWITH,
    SNQ_IN, SNQ_NOT_IN,
    SNQ_ISEMPTY, SNQ_ISNOTEMPTY, SNQ_EMPTYSTRING, SNQ_ANYTHING,
    SNQ_BETWEEN,
} snq_op;

/* How a condition joins the one before it, loosest last. */
typedef enum snq_link { SNQ_LINK_OR, SNQ_LINK_AND, SNQ_LINK_NQ } snq_link;

typedef struct snq_cond {
    const char *field;      /* "number" or "assigned_to.user_name" */
    snq_op op;
    snq_link link;
    size_t first_value;     /* index into snquery.values */
    size_t nvalues;         /* 0 (ISEMPTY...), 1, 2 (BETWEEN) or the IN items */
    size_t offset, len;     /* the part in snquery.query */
} snq_cond;

typedef struct snq_order {
    const char *field;
    bool desc;
    size_t offset, len;
} snq_order;

/* A dropped part. part points into the query (or into the caller's field
 * list for a sysparm_fields entry) and is not NUL-terminated. */
typedef struct snq_ignored {
    const char *part;
    size_t len;
    size_t offset;          /* in the query; SIZE_MAX for a sysparm_fields entry */
    const char *reason;     /* static */
} snq_ignored;

typedef void (*snq_ignored_fn)(void *ctx, const snq_ignored *part);

/* A parsed query; read-only for callers. The strings point into its own
 * copies of the input, so it does not borrow encoded. */
typedef struct snquery {
    char *query;            /* the input as given (NUL-terminated copy) */
    char *text;             /* a second copy, split in place into fields and values */
    snq_cond *conds;
    size_t nconds;
    snq_order *orders;
    size_t norders;
    const char **values;
    size_t nvalues;
    snq_ignored *ignored;
    size_t nignored;
} snquery;

/* Parses encoded[0..len). On success *out is owned by the caller
 * (snquery_free). On error *out is NULL and err holds a message for the
 * client: TB_ERR_TOO_LARGE past a cap, TB_ERR_INVALID for a NUL byte or a
 * NULL argument, TB_ERR_NOMEM. Ignored parts are not errors. */
tb_err snquery_parse(const char *encoded, size_t len, snquery **out, char *err, size_t errsz);
void snquery_free(snquery *q);

/* --- compiler ------------------------------------------------------------ */

typedef enum snq_kind { SNQ_TEXT, SNQ_INTEGER, SNQ_DATETIME, SNQ_BOOLEAN, SNQ_ID } snq_kind;

typedef struct snq_column {
    char *name;             /* [a-z0-9_], from the schema */
    snq_kind kind;
    const char *ref;        /* table a reference points to (static), or NULL */
    bool lower_index;       /* an index on lower(name) exists: compare through lower() */
} snq_column;

typedef struct snq_table {
    char *name;
    snq_column *cols;       /* readable columns, table order */
    size_t ncols;
} snq_table;

/* Tables and columns a query may name: the whitelist. */
typedef struct snq_catalog {
    snq_table *tables;
    size_t ntables;
} snq_catalog;

const snq_table *snq_catalog_table(const snq_catalog *cat, const char *name);
const snq_column *snq_table_column(const snq_table *t, const char *name);
void snq_catalog_free(snq_catalog *cat);

typedef struct snq_bind {
    bool is_int;
    int64_t i;
    const char *text;       /* borrowed from the query, or own */
    char *own;
} snq_bind;

/* An output column of the SELECT list. */
typedef struct snq_select {
    char *name;             /* as requested: "number", "assigned_to.user_name" */
} snq_select;

/* The compiled query. The SELECT list's first column is always t.sys_id,
 * then one per selects[i]. Binds are numbered ?1..?nbinds in the order of
 * binds[]. Strings are NUL-terminated; where and order may be "". */
typedef struct snq_sql {
    tb_buf select;          /* "t.\"sys_id\", t.\"number\", j0.\"user_name\"" */
    tb_buf from;            /* "\"incident\" t LEFT JOIN \"sys_user\" j0 ON ..." */
    tb_buf count_from;      /* from, with only the joins the WHERE clause needs */
    tb_buf where;           /* " WHERE ..." or "" */
    tb_buf order;           /* " ORDER BY ..., t.rowid" or "" without ORDERBY */
    snq_select *selects;
    size_t nselects;
    snq_bind *binds;
    size_t nbinds;
    snq_ignored *ignored;   /* compile-time drops (the parser's are in the query) */
    size_t nignored;
} snq_sql;

/* Compiles q (NULL: no conditions, no order) for table against cat, selecting
 * fields (NULL-terminated; NULL: every column). TB_ERR_NOT_FOUND when table
 * is not in cat. out borrows q and fields: free it (snq_sql_free) first.
 * On error out is left empty. */
tb_err snquery_compile(const snquery *q, const snq_catalog *cat, const char *table,
                       const char *const *fields, snq_sql *out, char *err, size_t errsz);
void snq_sql_free(snq_sql *s);

#endif
