/* ticketbridge override list|add|remove|move: the Change Management
 * Overrides table of an appliance (seed 000 "Override Change Management"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/ticket_system.h"
#include "cli/cli.h"
#include "itsm/itsm.h"
#include "store/store.h"
#include "store/store_approval.h"

#define OVERRIDE_USAGE                                                                              \
    "ticketbridge override list [--appliance NAME]\n"                                               \
    "       ticketbridge override add --field TASK_FIELD --comparator =|<|> (--value V | --reference FIELD)\n" \
    "                                 [--message TEXT] [--appliance NAME]\n"                         \
    "       ticketbridge override remove ID [--appliance NAME]\n"                                     \
    "       ticketbridge override move ID POSITION [--appliance NAME]\n"                              \
    "       ticketbridge override fields       (the request fields --reference can name)\n"          \
    "Rules apply, in order, when the appliance has --override-change-management yes; all must pass.\n" \
    "--message may use %TaskFieldName% (the task's value), %ComparatorSymbol% and %FieldValue%.\n"   \
    "--appliance defaults to Default."

enum { O_APPLIANCE = 1, O_FIELD, O_CMP, O_VALUE, O_REF, O_MSG, O_HELP };

static bool valid_field_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > ITSM_MAX_NAME)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static int open_appliance(tb_cli *cli, const char *name, tb_store **st, int64_t *id)
{
    tb_err e = store_open(cli->cfg.database, 0, st);
    if (e)
        return cli_fail("cannot open database %s: %s", cli->cfg.database, tb_strerror(e));
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

static int list_rules(tb_store *st, int64_t aid, const char *name)
{
    tb_override_rule *v;
    size_t n;
    tb_err e = store_override_list(st, aid, &v, &n);
    if (e)
        return cli_fail("cannot list rules: %s", tb_strerror(e));
    if (!n) {
        printf("no override rules for appliance %s (the default checks apply)\n", name);
    } else {
        printf("%-4s %-5s %-20s %-4s %-9s %-20s %s\n", "POS", "ID", "TASK FIELD", "CMP", "TYPE", "VALUE", "ERROR MESSAGE");
        for (size_t i = 0; i < n; i++)
            printf("%-4d %-5lld %-20s %-4c %-9s %-20s %s\n", v[i].position, (long long)v[i].id, v[i].task_field,
                   v[i].comparator, v[i].reference ? "reference" : "static", v[i].value, v[i].message);
    }
    tb_override_rules_free(v, n);
    return 0;
}

static int parse_id(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < 1)
        return cli_fail("expected a rule id (a positive number), got '%s'", s);
    *out = v;
    return 0;
}

int cli_override(tb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"appliance", required_argument, 0, O_APPLIANCE}, {"field", required_argument, 0, O_FIELD},
        {"comparator", required_argument, 0, O_CMP},      {"value", required_argument, 0, O_VALUE},
        {"reference", required_argument, 0, O_REF},       {"message", required_argument, 0, O_MSG},
        {"help", no_argument, 0, O_HELP},                 {0, 0, 0, 0},
    };
    if (argc < 2)
        return cli_usage_error(OVERRIDE_USAGE);
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "help")) {
        printf("usage: %s\n", OVERRIDE_USAGE);
        return 0;
    }
    if (!strcmp(sub, "fields")) {
        printf("%-20s %s\n", "FIELD", "MEANING");
        for (int i = 0; i < TS_FIELD__COUNT; i++)
            if (i != TS_TOKEN)
                printf("%-20s %s\n", ts_fields[i].name, ts_fields[i].description);
        return 0;
    }
    const char *appliance = "Default", *field = NULL, *value = NULL, *ref = NULL, *msg = "";
    char cmp = 0;
    optind = 2;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_APPLIANCE: appliance = optarg; break;
        case O_FIELD: field = optarg; break;
        case O_VALUE: value = optarg; break;
        case O_REF: ref = optarg; break;
        case O_MSG: msg = optarg; break;
        case O_CMP:
            if (strlen(optarg) != 1 || !strchr("=<>", optarg[0]))
                return cli_fail("--comparator: expected =, < or >, got '%s'", optarg);
            cmp = optarg[0];
            break;
        case O_HELP:
            printf("usage: %s\n", OVERRIDE_USAGE);
            return 0;
        default:
            return cli_usage_error(OVERRIDE_USAGE);
        }
    }
    char **rest = argv + optind;
    int nrest = argc - optind;
    tb_store *st;
    int64_t aid;
    int rc;

    if (!strcmp(sub, "list")) {
        if (nrest)
            return cli_usage_error(OVERRIDE_USAGE);
        if ((rc = open_appliance(cli, appliance, &st, &aid)))
            return rc;
        rc = list_rules(st, aid, appliance);
        store_close(st);
        return rc;
    }
    if (!strcmp(sub, "add")) {
        if (nrest || !field || !cmp || (!value == !ref))
            return cli_fail("override add needs --field, --comparator and exactly one of --value or --reference");
        if (!valid_field_name(field))
            return cli_fail("--field: '%s' is not a task field name (lower-case letters, digits, '_')", field);
        if (ref && (ts_field_by_name(ref) < 0 || !strcmp(ref, "token")))
            return cli_fail("--reference: '%s' is not a request field (see 'ticketbridge override fields')", ref);
        if ((value && strlen(value) > 1024) || strlen(msg) > 1024)
            return cli_fail("--value and --message are limited to 1024 characters");
        if ((rc = open_appliance(cli, appliance, &st, &aid)))
            return rc;
        tb_override_rule r = {.task_field = (char *)field, .comparator = cmp, .reference = ref != NULL,
                              .value = (char *)(ref ? ref : value), .message = (char *)msg};
        int64_t id;
        tb_err e = store_override_add(st, aid, &r, &id);
        store_close(st);
        if (e)
            return cli_fail("cannot add the rule: %s", tb_strerror(e));
        printf("added rule %lld to appliance %s\n", (long long)id, appliance);
        return 0;
    }
    if (!strcmp(sub, "remove") || !strcmp(sub, "move")) {
        bool move = !strcmp(sub, "move");
        if (nrest != (move ? 2 : 1))
            return cli_usage_error(OVERRIDE_USAGE);
        int64_t id = 0, pos = 0;
        if (parse_id(rest[0], &id) || (move && parse_id(rest[1], &pos)))
            return 1;
        if (pos > 10000)
            return cli_fail("POSITION: expected 1-10000");
        if ((rc = open_appliance(cli, appliance, &st, &aid)))
            return rc;
        tb_err e = store_begin(st);
        if (!e)
            e = move ? store_override_move(st, aid, id, (int)pos) : store_override_remove(st, aid, id);
        if (!e)
            e = store_commit(st);
        else
            store_rollback(st);
        if (!e)
            rc = list_rules(st, aid, appliance);
        store_close(st);
        if (e == TB_ERR_NOT_FOUND)
            return cli_fail("appliance %s has no rule %lld", appliance, (long long)id);
        if (e)
            return cli_fail("cannot %s the rule: %s", sub, tb_strerror(e));
        return rc;
    }
    return cli_usage_error(OVERRIDE_USAGE);
}
