/* Which tables the Table API serves, which role each operation needs, and
 * the per-table facts a representation needs (display fields, choice
 * labels, journal fields). One place, documented in docs/table-api.md. */
#include "flow/table_api_int.h"

#include <string.h>
#include <strings.h>

#include "core/roles.h"

/* Roles by table. Reading or writing tickets needs itil (or admin, which
 * holds every role), as on ServiceNow. The user directory is readable by
 * every authenticated user and writable by admin only. Journal entries and
 * attachments are read with their tickets (itil) and written through them
 * (work_notes, the Attachment API); writing their tables directly, and
 * deleting anything, needs admin. */
static const struct {
    const char *table;
    const char *read, *write, *del;
} access[] = {
    {"incident", ROLE_ITIL, ROLE_ITIL, ROLE_ADMIN},
    {"change_request", ROLE_ITIL, ROLE_ITIL, ROLE_ADMIN},
    {"problem", ROLE_ITIL, ROLE_ITIL, ROLE_ADMIN},
    {"sc_task", ROLE_ITIL, ROLE_ITIL, ROLE_ADMIN},
    {"sc_req_item", ROLE_ITIL, ROLE_ITIL, ROLE_ADMIN},
    {"sn_customerservice_case", ROLE_ITIL, ROLE_ITIL, ROLE_ADMIN},
    {"cmdb_ci", ROLE_ITIL, ROLE_ITIL, ROLE_ADMIN},
    {"sys_user", NULL, ROLE_ADMIN, ROLE_ADMIN},
    {"sys_user_group", NULL, ROLE_ADMIN, ROLE_ADMIN},
    {"sys_user_grmember", NULL, ROLE_ADMIN, ROLE_ADMIN},
    {"sys_journal_field", ROLE_ITIL, ROLE_ADMIN, ROLE_ADMIN},
    {"sys_attachment", ROLE_ITIL, ROLE_ADMIN, ROLE_ADMIN},
};

#define NACCESS (sizeof access / sizeof access[0])

bool tapi_table_served(const char *table)
{
    for (size_t i = 0; table && i < NACCESS; i++)
        if (strcmp(access[i].table, table) == 0)
            return true;
    return false;
}

const char *tapi_required_role(const char *table, tapi_op op)
{
    for (size_t i = 0; table && i < NACCESS; i++)
        if (strcmp(access[i].table, table) == 0)
            return op == TAPI_READ ? access[i].read : op == TAPI_WRITE ? access[i].write : access[i].del;
    return ROLE_ADMIN;
}

const char *tapi_display_field(const char *table)
{
    if (!table)
        return NULL;
    if (itsm_is_task_table(table))
        return "number";
    if (!strcmp(table, "sys_user") || !strcmp(table, "sys_user_group") || !strcmp(table, "cmdb_ci"))
        return "name";
    if (!strcmp(table, "sys_attachment"))
        return "file_name";
    return NULL;
}

bool tapi_is_journal(const char *table, const char *field)
{
    return (itsm_is_task_table(table) || (table && !strcmp(table, "cmdb_ci"))) &&
           field && (!strcmp(field, "work_notes") || !strcmp(field, "comments"));
}

/* --- choice lists (a stock instance's labels) ----------------------------- */

typedef struct choice {
    const char *value, *label;
} choice;

static const choice inc_state[] = {{"1", "New"}, {"2", "In Progress"}, {"3", "On Hold"},
                                   {"6", "Resolved"}, {"7", "Closed"}, {"8", "Canceled"}, {0}};
static const choice chg_state[] = {{"-5", "New"}, {"-4", "Assess"}, {"-3", "Authorize"},
                                   {"-2", "Scheduled"}, {"-1", "Implement"}, {"0", "Review"},
                                   {"3", "Closed"}, {"4", "Canceled"}, {0}};
static const choice prb_state[] = {{"101", "New"}, {"102", "Assess"},
                                   {"103", "Root Cause Analysis"}, {"104", "Fix in Progress"},
                                   {"106", "Resolved"}, {"107", "Closed"}, {0}};
static const choice sc_state[] = {{"-5", "Pending"}, {"1", "Open"}, {"2", "Work in Progress"},
                                  {"3", "Closed Complete"}, {"4", "Closed Incomplete"},
                                  {"7", "Closed Skipped"}, {0}};
static const choice cs_state[] = {{"1", "New"}, {"10", "Open"}, {"18", "Awaiting Info"},
                                  {"6", "Resolved"}, {"3", "Closed"}, {"7", "Cancelled"}, {0}};
static const choice three[] = {{"1", "1 - High"}, {"2", "2 - Medium"}, {"3", "3 - Low"}, {0}};
static const choice priority[] = {{"1", "1 - Critical"}, {"2", "2 - High"}, {"3", "3 - Moderate"},
                                  {"4", "4 - Low"}, {"5", "5 - Planning"}, {0}};
static const choice risk[] = {{"1", "Very High"}, {"2", "High"}, {"3", "Moderate"}, {"4", "Low"}, {0}};
static const choice approval[] = {{"not requested", "Not Yet Requested"}, {"requested", "Requested"},
                                  {"approved", "Approved"}, {"rejected", "Rejected"},
                                  {"cancelled", "Cancelled"}, {"not_required", "No Longer Required"},
                                  {"duplicate", "Duplicate"}, {0}};
static const choice hold_reason[] = {{"1", "Awaiting Caller"}, {"3", "Awaiting Problem"},
                                     {"4", "Awaiting Vendor"}, {"5", "Awaiting Change"}, {0}};
static const choice escalation[] = {{"0", "Normal"}, {"1", "Moderate"}, {"2", "High"},
                                    {"3", "Overdue"}, {0}};
static const choice op_status[] = {{"1", "Operational"}, {"2", "Non-Operational"},
                                   {"3", "Repair in Progress"}, {"4", "DR Standby"}, {"5", "Ready"},
                                   {"6", "Retired"}, {0}};
static const choice install_status[] = {{"1", "Installed"}, {"2", "On Order"},
                                        {"3", "In Maintenance"}, {"4", "Pending Install"},
                                        {"5", "Pending Repair"}, {"6", "In Stock"}, {"7", "Retired"},
                                        {"8", "Stolen"}, {"100", "Absent"}, {0}};

static const choice *choices_of(const char *table, const char *field)
{
    bool task = itsm_is_task_table(table);
    if (!strcmp(field, "state")) {
        if (!strcmp(table, "incident"))
            return inc_state;
        if (!strcmp(table, "change_request"))
            return chg_state;
        if (!strcmp(table, "problem"))
            return prb_state;
        if (!strcmp(table, "sc_task") || !strcmp(table, "sc_req_item"))
            return sc_state;
        if (!strcmp(table, "sn_customerservice_case"))
            return cs_state;
        return NULL;
    }
    if (task && (!strcmp(field, "impact") || !strcmp(field, "urgency")))
        return three;
    if (task && !strcmp(field, "priority"))
        return priority;
    if (task && !strcmp(field, "approval"))
        return approval;
    if (task && !strcmp(field, "escalation"))
        return escalation;
    if (!strcmp(table, "incident") && !strcmp(field, "severity"))
        return three;
    if (!strcmp(table, "incident") && !strcmp(field, "hold_reason"))
        return hold_reason;
    if (!strcmp(table, "change_request") && !strcmp(field, "risk"))
        return risk;
    if (!strcmp(table, "cmdb_ci") && !strcmp(field, "operational_status"))
        return op_status;
    if (!strcmp(table, "cmdb_ci") && !strcmp(field, "install_status"))
        return install_status;
    return NULL;
}

const char *tapi_choice_label(const char *table, const char *field, const char *value)
{
    const choice *c = table && field && value ? choices_of(table, field) : NULL;
    for (; c && c->value; c++)
        if (!strcmp(c->value, value))
            return c->label;
    return NULL;
}

const char *tapi_choice_value(const char *table, const char *field, const char *label)
{
    const choice *c = table && field && label ? choices_of(table, field) : NULL;
    for (; c && c->value; c++)
        if (!strcasecmp(c->label, label) || !strcasecmp(c->value, label))
            return c->value;
    return NULL;
}
