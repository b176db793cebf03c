/* The decisions of automatic case creation that need nothing but data, so
 * they can be tested alone (seed 003 "Auto-Case Creation Fields", "Setup
 * Auto-Create Field Mappings"):
 *   - whether the conditions of an appliance let a session have a case
 *     created automatically: its public portal, its required custom fields,
 *     attended or unattended;
 *   - the fields of the new case: defaults, then the four kinds of mapping
 *     in the order they were added.
 * A mapping that cannot be applied (a lookup that finds nothing, a value
 * the case field cannot hold) leaves its field out and adds a warning; it
 * never stops the case from being created. */
#ifndef TB_FLOW_CSM_RULES_H
#define TB_FLOW_CSM_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "bt/case_fields.h"
#include "core/buf.h"
#include "core/err.h"
#include "itsm/itsm.h"
#include "itsm/snquery.h"
#include "store/store_csm.h"

#define CSM_CASE_FIELDS_MAX 64
#define CSM_WARNINGS_MAX 4096

/* false with the reason in why when the session must not get a case. */
bool csm_conditions_hold(const tb_csm_config *cfg, const bt_case_values *v, char *why, size_t whysz);

/* Looks a value up: the sys_id of the first record of table whose field
 * equals value (case-insensitively) into sys_id, and how many matched into
 * *matches. TB_ERR_NOT_FOUND when none; other errors are reported as
 * warnings, except TB_ERR_NOMEM. */
typedef tb_err (*csm_lookup_fn)(void *ctx, const char *table, const char *field, const char *value,
                                char sys_id[ITSM_SYS_ID_LEN + 1], size_t *matches);

/* The new case's fields. kv borrows from the struct's own copies. */
typedef struct csm_case_fields {
    size_t n;
    itsm_kv kv[CSM_CASE_FIELDS_MAX];
    char *own_name[CSM_CASE_FIELDS_MAX];
    char *own_value[CSM_CASE_FIELDS_MAX];
    tb_buf warnings;                /* one line per problem; "" when none */
} csm_case_fields;

/* Builds the fields: short_description, correlation_id (the lsid) and
 * correlation_display first, then every mapping (a mapping replaces a
 * default). case_cols (may be NULL: no checks) are the case table's
 * columns: a field that is not one, an integer field given a non-number,
 * a boolean field given anything but true/false and a value over the
 * field's size cap are left out with a warning. out must be released with
 * csm_case_fields_clear, also on error (TB_ERR_NOMEM only). */
tb_err csm_case_fields_build(const tb_csm_mapping *m, size_t n, const bt_case_values *v, const snq_table *case_cols,
                             csm_lookup_fn lookup, void *ctx, csm_case_fields *out);
/* Only the defaults (the fallback when the store refuses the mapped
 * fields); out starts empty. */
tb_err csm_case_fields_defaults(const bt_case_values *v, csm_case_fields *out);
/* Sets (or replaces) one field; TB_ERR_TOO_LARGE past CSM_CASE_FIELDS_MAX. */
tb_err csm_case_fields_set(csm_case_fields *f, const char *name, const char *value);
void csm_case_fields_clear(csm_case_fields *f);
const char *csm_case_fields_get(const csm_case_fields *f, const char *name);

#endif
