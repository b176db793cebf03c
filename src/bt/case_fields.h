/* The BeyondTrust session fields a CSM field mapping can copy into a case
 * (seed 003 "Update BeyondTrust Case Fields", "Custom Fields for Automatic
 * Case Creation"), and their values for one session, read from its report.
 *
 * `ticketbridge case-fields update` loads the catalogue into the database;
 * dynamic mappings name a field from it. */
#ifndef TB_BT_CASE_FIELDS_H
#define TB_BT_CASE_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

#include "bt/report.h"
#include "core/err.h"

typedef enum bt_case_field_id {
    BT_CF_LSID,
    BT_CF_EXTERNAL_KEY,
    BT_CF_PUBLIC_PORTAL,
    BT_CF_CUSTOMER_NAME,
    BT_CF_CUSTOMER_COMPANY,
    BT_CF_CUSTOMER_COMPANY_CODE,
    BT_CF_CUSTOMER_DETAILS,
    BT_CF_CUSTOMER_ISSUE,
    BT_CF_CUSTOMER_EMAIL,
    BT_CF_CUSTOMER_USERNAME,
    BT_CF_CUSTOMER_HOSTNAME,
    BT_CF_CUSTOMER_OS,
    BT_CF_CUSTOMER_PUBLIC_IP,
    BT_CF_CUSTOM_FIELD_1,
    BT_CF_CUSTOM_FIELD_2,
    BT_CF_CUSTOM_FIELD_3,
    BT_CF_REP_USERNAME,
    BT_CF_REP_DISPLAY_NAME,
    BT_CF_START_TIME,
    BT_CF_APPLIANCE,
    BT_CF__COUNT
} bt_case_field_id;

typedef struct bt_case_field {
    const char *name;           /* what a mapping names, e.g. "customer_username" */
    const char *label;          /* e.g. "Customer Username" */
} bt_case_field;

extern const bt_case_field bt_case_fields[BT_CF__COUNT];

/* Index of a field by name, or -1. */
int bt_case_field_find(const char *name);

/* One session's values. Every v[i] is a malloc'd string, "" when the
 * report does not say; the custom attributes (external_key included) are
 * copied as they are. Owned: release with bt_case_values_clear. */
typedef struct bt_case_values {
    char *v[BT_CF__COUNT];
    bool active;                /* the report has no end time yet */
    bool attended;              /* see bt_case_values_from_session */
    size_t ncustom;
    struct bt_case_custom {
        char *code_name;
        char *value;
    } *custom;
} bt_case_values;

/* Reads s (a SupportSession report entry). rep_username is the
 * representative the event or link names (NULL: the primary rep), and
 * appliance the appliance record's name. A session counts as attended when
 * its customer gave a name: an unattended RS session (a Jump Client) has an
 * endpoint but nobody who typed one in [I: the report has no attended flag
 * we know of]. TB_ERR_NOMEM leaves out cleared. */
tb_err bt_case_values_from_session(const bt_session *s, const char *rep_username, const char *appliance,
                                   bt_case_values *out);
void bt_case_values_clear(bt_case_values *v);
/* The custom attribute with that code name (external_key included), or NULL. */
const char *bt_case_values_custom(const bt_case_values *v, const char *code_name);

#endif
