/* ticketbridge mapping list|add|remove and case-fields update|list: the
 * auto-create field mappings of an appliance and the BeyondTrust session
 * fields they can copy (seed 003 "Setup Auto-Create Field Mappings",
 * "Update BeyondTrust Case Fields", "Common Lookup Fields"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/case_fields.h"
#include "bt/start_session.h"
#include "cli/cli.h"
#include "itsm/itsm.h"
#include "itsm/itsm_table.h"
#include "store/store.h"
#include "store/store_csm.h"

#define MAPPING_USAGE                                                                                      \
    "ticketbridge mapping list [--appliance NAME]\n"                                                        \
    "       ticketbridge mapping add static --case-field F --value V [--label L] [--appliance NAME]\n"      \
    "       ticketbridge mapping add dynamic --case-field F --bt-field B [--label L] [--appliance NAME]\n"  \
    "       ticketbridge mapping add lookup --case-field F --lookup-table T --lookup-field LF --value V\n"  \
    "                                [--label L] [--appliance NAME]\n"                                  \
    "       ticketbridge mapping add dynamic-lookup --case-field F --lookup-table T --lookup-field LF\n"    \
    "                                --bt-field B [--label L] [--appliance NAME]\n"                     \
    "       ticketbridge mapping remove ID [--appliance NAME]\n"                                          \
    "F is a field of sn_customerservice_case (state, short_description, assigned_to, contact, ...);\n"   \
    "B a BeyondTrust case field ('ticketbridge case-fields list'); a lookup sets F to the sys_id of the\n" \
    "first T record whose LF equals the value (e.g. --lookup-table sys_user --lookup-field user_name).\n" \
    "--appliance defaults to Default."
#define CASE_FIELDS_USAGE "ticketbridge case-fields update | list"
#define VALUE_MAX 1024
#define LABEL_MAX 100

enum { O_APPLIANCE = 1, O_CASE_FIELD, O_VALUE, O_BT_FIELD, O_TABLE, O_FIELD, O_LABEL, O_HELP };

/* Fields the store fills itself. */
/* correlation_id holds ticketbridge's key for the session's case (csm.h). */
static const char *const not_mappable[] = {"sys_id",         "number",         "correlation_id", "sys_class_name",
                                           "sys_created_on", "sys_updated_on", "sys_created_by", "sys_updated_by",
                                           "sys_mod_count",  NULL};

static int open_appliance(tb_cli *cli, const char *name, bool write, tb_store **st, int64_t *id)
{
    tb_err e = store_open(cli->cfg.database, write ? 0 : STORE_READ_ONLY, st);
    if (e)
        return cli_fail("cannot open database %s: %s (run 'ticketbridge init' first?)", cli->cfg.database,
                        tb_strerror(e));
    tb_appliance a;
    e = store_appliance_get(*st, name, &a);
    if (e) {
        store_close(*st);
        return e == TB_ERR_NOT_FOUND ? cli_fail("no appliance named '%s'", name)
                                     : cli_fail("cannot read appliance %s: %s", name, tb_strerror(e));
    }
    *id = a.id;
    tb_appliance_clear(&a);
    return 0;
}

static int list(tb_store *st, int64_t aid, const char *name)
{
    tb_csm_mapping *v;
    size_t n;
    tb_err e = store_csm_mapping_list(st, aid, &v, &n);
    if (e)
        return cli_fail("cannot list the mappings: %s", tb_strerror(e));
    if (!n)
        printf("no field mappings for appliance %s\n", name);
    else
        printf("%-5s %-15s %-20s %-20s %s\n", "ID", "KIND", "CASE FIELD", "LABEL", "FROM");
    for (size_t i = 0; i < n; i++) {
        const tb_csm_mapping *m = &v[i];
        printf("%-5lld %-15s %-20s %-20s ", (long long)m->id, tb_csm_map_kind_name(m->kind), m->case_field,
               *m->label ? m->label : "-");
        switch (m->kind) {
        case CSM_MAP_STATIC: printf("'%s'\n", m->value); break;
        case CSM_MAP_DYNAMIC: printf("BeyondTrust %s\n", m->bt_field); break;
        case CSM_MAP_LOOKUP: printf("%s where %s = '%s'\n", m->lookup_table, m->lookup_field, m->value); break;
        case CSM_MAP_DYNAMIC_LOOKUP:
            printf("%s where %s = BeyondTrust %s\n", m->lookup_table, m->lookup_field, m->bt_field);
            break;
        }
    }
    tb_csm_mappings_free(v, n);
    return 0;
}

static bool in_list(const char *const *l, const char *s)
{
    for (; *l; l++)
        if (!strcmp(*l, s))
            return true;
    return false;
}

static bool is_integer(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Checks the mapping against the ticket store's columns and the case-field
 * catalogue; prints why and returns 1 when it cannot work. */
static int check(tb_cli *cli, tb_store *st, const tb_csm_mapping *m)
{
    itsm_table *t;
    tb_err e = itsm_table_open(cli->cfg.database, &t);
    if (e)
        return cli_fail("cannot read the ticket store's fields: %s", tb_strerror(e));
    const snq_catalog *cat = itsm_table_catalog(t);
    const snq_table *cases = snq_catalog_table(cat, "sn_customerservice_case");
    const snq_column *col = cases ? snq_table_column(cases, m->case_field) : NULL;
    int rc = 0;
    if (!col || in_list(not_mappable, m->case_field)) {
        rc = cli_fail("--case-field: '%s' is not a field of sn_customerservice_case that a mapping can set",
                      m->case_field);
    } else if (m->kind == CSM_MAP_STATIC && col->kind == SNQ_INTEGER && !is_integer(m->value)) {
        rc = cli_fail("--value: %s is a number field (e.g. state 6 = Resolved), got '%s'", m->case_field, m->value);
    } else if (m->kind == CSM_MAP_STATIC && col->kind == SNQ_BOOLEAN && strcmp(m->value, "true") &&
               strcmp(m->value, "false")) {
        rc = cli_fail("--value: %s is true or false, got '%s'", m->case_field, m->value);
    } else if (m->kind == CSM_MAP_LOOKUP || m->kind == CSM_MAP_DYNAMIC_LOOKUP) {
        const snq_table *lt = snq_catalog_table(cat, m->lookup_table);
        if (!lt || !itsm_is_known_table(m->lookup_table) || !strcmp(m->lookup_table, "sys_journal_field") ||
            !strcmp(m->lookup_table, "sys_attachment"))
            rc = cli_fail("--lookup-table: '%s' is not a table of the ticket store to look records up in "
                          "(sys_user, sys_user_group, cmdb_ci, a task table)",
                          m->lookup_table);
        else if (!snq_table_column(lt, m->lookup_field))
            rc = cli_fail("--lookup-field: %s has no field '%s'", m->lookup_table, m->lookup_field);
    }
    itsm_table_close(t);
    if (rc || (m->kind != CSM_MAP_DYNAMIC && m->kind != CSM_MAP_DYNAMIC_LOOKUP))
        return rc;
    e = store_case_field_known(st, m->bt_field);
    if (e == TB_ERR_NOT_FOUND)
        return cli_fail("--bt-field: '%s' is not a loaded BeyondTrust case field: see 'ticketbridge case-fields "
                        "list' (load them with 'ticketbridge case-fields update')",
                        m->bt_field);
    if (e)
        return cli_fail("cannot read the case fields: %s", tb_strerror(e));
    return 0;
}

static int add(tb_cli *cli, const char *appliance, tb_csm_mapping *m)
{
    bool dynamic = m->kind == CSM_MAP_DYNAMIC || m->kind == CSM_MAP_DYNAMIC_LOOKUP;
    bool lookup = m->kind == CSM_MAP_LOOKUP || m->kind == CSM_MAP_DYNAMIC_LOOKUP;
    if (!*m->case_field)
        return cli_fail("mapping add needs --case-field");
    if (dynamic ? !*m->bt_field || *m->value : !*m->value || *m->bt_field)
        return cli_fail(dynamic ? "a %s mapping takes --bt-field (not --value)"
                                : "a %s mapping takes --value (not --bt-field)",
                        tb_csm_map_kind_name(m->kind));
    if (lookup ? !*m->lookup_table || !*m->lookup_field : *m->lookup_table || *m->lookup_field)
        return cli_fail(lookup ? "a %s mapping takes --lookup-table and --lookup-field"
                               : "a %s mapping takes no --lookup-table or --lookup-field",
                        tb_csm_map_kind_name(m->kind));
    if (strlen(m->value) > VALUE_MAX || bt_utf8_chars(m->value) < 0)
        return cli_fail("--value: at most %d bytes of UTF-8 text", VALUE_MAX);
    if (bt_utf8_chars(m->label) < 0 || bt_utf8_chars(m->label) > LABEL_MAX)
        return cli_fail("--label: at most %d characters of UTF-8 text", LABEL_MAX);
    if (strlen(m->case_field) > ITSM_MAX_NAME || strlen(m->lookup_table) > ITSM_MAX_NAME ||
        strlen(m->lookup_field) > ITSM_MAX_NAME || strlen(m->bt_field) > ITSM_MAX_NAME)
        return cli_fail("field and table names are at most %d characters", ITSM_MAX_NAME);
    tb_store *st;
    int64_t aid;
    int rc = open_appliance(cli, appliance, true, &st, &aid);
    if (rc)
        return rc;
    if ((rc = check(cli, st, m))) {
        store_close(st);
        return rc;
    }
    int64_t id;
    tb_err e = store_csm_mapping_add(st, aid, m, &id);
    store_close(st);
    if (e == TB_ERR_EXISTS)
        return cli_fail("appliance %s maps %s already: remove that mapping first ('ticketbridge mapping list')",
                        appliance, m->case_field);
    if (e)
        return cli_fail("cannot add the mapping: %s", tb_strerror(e));
    printf("added mapping %lld to appliance %s: %s <- %s\n", (long long)id, appliance, m->case_field,
           tb_csm_map_kind_name(m->kind));
    return 0;
}

int cli_mapping(tb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"appliance", required_argument, 0, O_APPLIANCE}, {"case-field", required_argument, 0, O_CASE_FIELD},
        {"value", required_argument, 0, O_VALUE},         {"bt-field", required_argument, 0, O_BT_FIELD},
        {"lookup-table", required_argument, 0, O_TABLE},  {"lookup-field", required_argument, 0, O_FIELD},
        {"label", required_argument, 0, O_LABEL},         {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    if (argc < 2)
        return cli_usage_error(MAPPING_USAGE);
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "help")) {
        printf("usage: %s\n", MAPPING_USAGE);
        return 0;
    }
    const char *appliance = "Default";
    tb_csm_mapping m = {.label = "", .case_field = "", .value = "", .bt_field = "", .lookup_table = "",
                        .lookup_field = ""};
    int first = 2;
    if (!strcmp(sub, "add")) {
        int k = argc > 2 ? tb_csm_map_kind_parse(argv[2]) : -1;
        if (k < 0)
            return cli_fail("mapping add: the kind is static, dynamic, lookup or dynamic-lookup");
        m.kind = (tb_csm_map_kind)k;
        first = 3;
    }
    optind = first;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_APPLIANCE: appliance = optarg; break;
        case O_CASE_FIELD: m.case_field = optarg; break;
        case O_VALUE: m.value = optarg; break;
        case O_BT_FIELD: m.bt_field = optarg; break;
        case O_TABLE: m.lookup_table = optarg; break;
        case O_FIELD: m.lookup_field = optarg; break;
        case O_LABEL: m.label = optarg; break;
        case O_HELP: printf("usage: %s\n", MAPPING_USAGE); return 0;
        default: return cli_usage_error(MAPPING_USAGE);
        }
    }
    char **rest = argv + optind;
    int nrest = argc - optind;
    if (!strcmp(sub, "add")) {
        if (nrest)
            return cli_usage_error(MAPPING_USAGE);
        return add(cli, appliance, &m);
    }
    tb_store *st;
    int64_t aid;
    int rc;
    if (!strcmp(sub, "list")) {
        if (nrest)
            return cli_usage_error(MAPPING_USAGE);
        if ((rc = open_appliance(cli, appliance, false, &st, &aid)))
            return rc;
        rc = list(st, aid, appliance);
        store_close(st);
        return rc;
    }
    if (!strcmp(sub, "remove")) {
        if (nrest != 1)
            return cli_usage_error(MAPPING_USAGE);
        char *end;
        long long id = strtoll(rest[0], &end, 10);
        if (end == rest[0] || *end || id < 1)
            return cli_fail("expected a mapping id (a positive number), got '%s'", rest[0]);
        if ((rc = open_appliance(cli, appliance, true, &st, &aid)))
            return rc;
        tb_err e = store_csm_mapping_remove(st, aid, id);
        if (!e)
            rc = list(st, aid, appliance);
        store_close(st);
        if (e == TB_ERR_NOT_FOUND)
            return cli_fail("appliance %s has no mapping %lld", appliance, id);
        if (e)
            return cli_fail("cannot remove the mapping: %s", tb_strerror(e));
        return rc;
    }
    return cli_usage_error(MAPPING_USAGE);
}

static void print_field(void *ctx, const char *name, const char *label)
{
    (*(int *)ctx)++;
    printf("%-24s %s\n", name, label);
}

int cli_case_fields(tb_cli *cli, int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "update") && strcmp(argv[1], "list"))) {
        if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
            printf("usage: %s\n", CASE_FIELDS_USAGE);
            return 0;
        }
        return cli_usage_error(CASE_FIELDS_USAGE);
    }
    bool update = !strcmp(argv[1], "update");
    tb_store *st;
    tb_err e = store_open(cli->cfg.database, update ? 0 : STORE_READ_ONLY, &st);
    if (e)
        return cli_fail("cannot open database %s: %s (run 'ticketbridge init' first?)", cli->cfg.database,
                        tb_strerror(e));
    int rc = 0, n = 0;
    if (update) {
        int64_t added = 0;
        if ((e = store_case_fields_update(st, &added)))
            rc = cli_fail("cannot load the case fields: %s", tb_strerror(e));
        else
            printf("%d BeyondTrust case fields known, %lld new\n", BT_CF__COUNT, (long long)added);
    } else if ((e = store_case_fields_each(st, print_field, &n))) {
        rc = cli_fail("cannot list the case fields: %s", tb_strerror(e));
    } else if (!n) {
        fprintf(stderr, "no case fields loaded: run 'ticketbridge case-fields update'\n");
    }
    store_close(st);
    return rc;
}
