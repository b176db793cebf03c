/* Encoded queries built from terms rather than parsed from text: the Table
 * API's name-value filters (?number=INC0010001) and lookups by sys_id or
 * display value. A value here may hold any character, '^' included, which
 * the encoded form has no way to carry. The result is an ordinary snquery
 * (snquery_compile, snquery_free). */
#ifndef TB_ITSM_SNQUERY_BUILD_H
#define TB_ITSM_SNQUERY_BUILD_H

#include <stddef.h>
#include "core/err.h"
#include "itsm/snquery.h"

typedef struct snq_term {
    const char *field;      /* "number" or "assigned_to.user_name" */
    snq_op op;              /* IN / NOT IN: value is a comma list; ISEMPTY...: no value */
    snq_link link;          /* how it joins the term before it; ignored for the first */
    const char *value;      /* NULL counts as "" */
} snq_term;

/* Builds the query "t[0] link t[1] link ..." with the parser's precedence
 * (OR binds tighter than AND, NQ loosest). = and != with an empty value
 * mean ISEMPTY / ISNOTEMPTY, as in the parser. A malformed field name makes
 * its term an ignored part. Caps as for snquery_parse (TB_ERR_TOO_LARGE).
 * On success *out is the caller's (snquery_free). */
tb_err snquery_from_terms(const snq_term *t, size_t n, snquery **out);

#endif
