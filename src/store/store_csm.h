/* Customer Service Management records (seed 003 "Configure Auto-Create
 * Feature", "Setup Auto-Create Field Mappings"): the auto-create settings and
 * field mappings of each appliance, the BeyondTrust case-field catalogue,
 * the one case each session has, and the record of every case decision.
 *
 * Ownership as in store.h: out-parameters own their strings; free them with
 * the matching *_clear / *_free function. Inputs are borrowed. */
#ifndef TB_STORE_STORE_CSM_H
#define TB_STORE_STORE_CSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/store.h"

/* ---- auto-create settings of an appliance ---- */
typedef struct tb_csm_config {
    int64_t appliance_id;
    bool auto_create;               /* "Auto Create Enabled" */
    bool outbound_event;            /* option 1: the rep-joined outbound event creates the case */
    bool custom_links;              /* options 2 and 3: the rep console's custom links */
    bool attended;                  /* "Auto-Create for Attended Sessions" */
    bool unattended;                /* "Auto-Create for Unattended Sessions" */
    bool click_to_chat;             /* the /csm/chat page serves this appliance */
    char *portals;                  /* comma-separated public portals; "" = any */
    char *required_fields;          /* comma-separated custom field code names */
    int64_t updated_at;
} tb_csm_config;

void tb_csm_config_clear(tb_csm_config *c);
/* The appliance's settings; an appliance never configured gets the
 * defaults (everything off, attended and unattended allowed). */
tb_err store_csm_config_get(tb_store *st, int64_t appliance_id, tb_csm_config *out);
/* Inserts or replaces. TB_ERR_INVALID when outbound_event and custom_links
 * are both on (seed 003: option 1 and options 2/3 are exclusive). */
tb_err store_csm_config_set(tb_store *st, const tb_csm_config *c);

/* ---- field mappings ---- */
typedef enum tb_csm_map_kind {
    CSM_MAP_STATIC,                 /* case field <- value */
    CSM_MAP_DYNAMIC,                /* case field <- session field bt_field */
    CSM_MAP_LOOKUP,                 /* case field <- sys_id of lookup_table where lookup_field = value */
    CSM_MAP_DYNAMIC_LOOKUP,         /* ... where lookup_field = the session's bt_field */
} tb_csm_map_kind;

/* "static", "dynamic", "lookup", "dynamic_lookup". */
const char *tb_csm_map_kind_name(tb_csm_map_kind k);
/* Also accepts "dynamic-lookup"; -1 when unknown. */
int tb_csm_map_kind_parse(const char *s);

typedef struct tb_csm_mapping {
    int64_t id;
    tb_csm_map_kind kind;
    char *label;                    /* arbitrary, identifies the mapping */
    char *case_field;
    char *value;                    /* static and lookup: the fixed value; else "" */
    char *bt_field;                 /* dynamic kinds: a bt_case_fields name; else "" */
    char *lookup_table;             /* lookup kinds; else "" */
    char *lookup_field;
} tb_csm_mapping;

/* In the order they were added. */
tb_err store_csm_mapping_list(tb_store *st, int64_t appliance_id, tb_csm_mapping **out, size_t *n);
void tb_csm_mappings_free(tb_csm_mapping *v, size_t n);
/* TB_ERR_EXISTS when the case field is mapped already. */
tb_err store_csm_mapping_add(tb_store *st, int64_t appliance_id, const tb_csm_mapping *m, int64_t *id);
tb_err store_csm_mapping_remove(tb_store *st, int64_t appliance_id, int64_t id);

/* ---- the BeyondTrust case-field catalogue (bt/case_fields.h) ---- */
tb_err store_case_fields_update(tb_store *st, int64_t *added);
/* TB_OK when loaded, TB_ERR_NOT_FOUND when not. */
tb_err store_case_field_known(tb_store *st, const char *name);
tb_err store_case_fields_each(tb_store *st, void (*fn)(void *ctx, const char *name, const char *label), void *ctx);

/* ---- the case of a session: at most one per (appliance, lsid) ---- */
typedef struct tb_csm_case {
    int64_t appliance_id;
    char *appliance;                /* name; filled by reads */
    char *lsid;
    char *case_sys_id;
    char *case_number;
    char *origin;                   /* "event", "link", "association", "session" */
    char *rep_username;
    char *warnings;                 /* "" or lines about mappings that could not be applied */
    int64_t attribute_set_at;       /* snow_case_id written to the live session; 0 = not yet */
    int64_t created_at;
} tb_csm_case;

void tb_csm_case_clear(tb_csm_case *c);
void tb_csm_cases_free(tb_csm_case *v, size_t n);
/* TB_ERR_NOT_FOUND when the session has no case. */
tb_err store_csm_case_get(tb_store *st, int64_t appliance_id, const char *lsid, tb_csm_case *out);
/* TB_ERR_EXISTS when the session has one already. */
tb_err store_csm_case_insert(tb_store *st, const tb_csm_case *c);
tb_err store_csm_case_attribute_set(tb_store *st, int64_t appliance_id, const char *lsid, int64_t at);
/* Newest first; appliance_id 0 = every appliance; limit 0 = 50. */
tb_err store_csm_case_list(tb_store *st, int64_t appliance_id, size_t limit, tb_csm_case **out, size_t *n);

/* ---- decisions: every attempt to create or associate a case ---- */
typedef struct tb_csm_log_rec {
    int64_t at;                     /* unix seconds */
    int64_t appliance_id;
    const char *lsid;
    const char *origin;             /* as tb_csm_case.origin */
    const char *outcome;            /* "created", "associated", "existing", "skipped", "failed" */
    const char *case_number;        /* NULL or "" when none */
    const char *detail;             /* why skipped, warnings, errors */
} tb_csm_log_rec;

tb_err store_csm_log_insert(tb_store *st, const tb_csm_log_rec *r);

typedef struct tb_csm_log {
    int64_t id, at;
    char *appliance, *lsid, *origin, *outcome, *case_number, *detail;
} tb_csm_log;

/* Newest first; appliance_id 0 = every appliance; lsid NULL = any; limit 0 = 50. */
tb_err store_csm_log_list(tb_store *st, int64_t appliance_id, const char *lsid, size_t limit, tb_csm_log **out,
                          size_t *n);
void tb_csm_logs_free(tb_csm_log *v, size_t n);

#endif
