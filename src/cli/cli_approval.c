/* ticketbridge approvals: the record of change-management decisions.
 * ticketbridge approval fields|states|check: the request field names, the
 * active states per task table, and a dry run of a decision. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bt/ticket_system.h"
#include "cli/cli.h"
#include "flow/approval.h"
#include "itsm/itsm.h"
#include "store/store.h"
#include "store/store_approval.h"

#define APPROVALS_USAGE \
    "ticketbridge approvals [--appliance NAME] [--ticket ID] [--allowed | --denied] [--limit N] [--verbose]"

#define APPROVAL_USAGE                                                                                   \
    "ticketbridge approval fields [list | set WIRE_NAME FIELD | remove WIRE_NAME]\n"                     \
    "       ticketbridge approval states [list | set TABLE SPEC | remove TABLE]\n"                       \
    "       ticketbridge approval check --ticket ID --user USERNAME --computer NAME [--appliance NAME]\n" \
    "fields: which request field names mean what (FIELD '-' ignores a name); see 'override fields'.\n"   \
    "states: the states in which a task of TABLE (or '*' for every table) authorizes access:\n"         \
    "        \"<3\", \"<=2\", \">0\", \">=1\" or a list such as \"-5,-4,-3,-2,-1,0\".\n"                \
    "check:  what the ticket system would answer now, without recording anything."

static int open_db(tb_cli *cli, int flags, tb_store **st)
{
    tb_err e = store_open(cli->cfg.database, flags, st);
    return e ? cli_fail("cannot open database %s: %s", cli->cfg.database, tb_strerror(e)) : 0;
}

int cli_approvals(tb_cli *cli, int argc, char **argv)
{
    enum { O_APP = 1, O_TICKET, O_ALLOWED, O_DENIED, O_LIMIT, O_VERBOSE, O_HELP };
    static const struct option opts[] = {
        {"appliance", required_argument, 0, O_APP}, {"ticket", required_argument, 0, O_TICKET},
        {"allowed", no_argument, 0, O_ALLOWED},     {"denied", no_argument, 0, O_DENIED},
        {"limit", required_argument, 0, O_LIMIT},   {"verbose", no_argument, 0, O_VERBOSE},
        {"help", no_argument, 0, O_HELP},           {0, 0, 0, 0},
    };
    tb_approval_filter f = {.limit = 50};
    bool verbose = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_APP: f.appliance = optarg; break;
        case O_TICKET: f.ticket_id = optarg; break;
        case O_ALLOWED: f.outcome = 1; break;
        case O_DENIED: f.outcome = -1; break;
        case O_VERBOSE: verbose = true; break;
        case O_LIMIT:
            if (cli_parse_limit(optarg, &f.limit))
                return 1;
            break;
        case O_HELP:
            printf("usage: %s\n", APPROVALS_USAGE);
            return 0;
        default:
            return cli_usage_error(APPROVALS_USAGE);
        }
    }
    if (optind != argc)
        return cli_usage_error(APPROVALS_USAGE);
    tb_store *st;
    if (open_db(cli, STORE_READ_ONLY, &st))
        return 1;
    tb_approval *v;
    size_t n;
    tb_err e = store_approval_list(st, &f, &v, &n);
    store_close(st);
    if (e)
        return cli_fail("cannot list approvals: %s", tb_strerror(e));
    if (!n)
        printf("no approval requests recorded\n");
    else
        printf("%-6s %-19s %-10s %-12s %-14s %-16s %-7s %7s  %s\n", "ID", "TIME (UTC)", "APPLIANCE", "TICKET", "USER",
               "COMPUTER", "OUTCOME", "MS", "REASON");
    for (size_t i = 0; i < n; i++) {
        tb_approval *a = &v[i];
        char when[32];
        time_t t = (time_t)(a->at_ms / 1000);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime(&t));
        const char *outcome = a->http_status != 200 ? "refused" : a->allowed ? "allow" : "deny";
        const char *computer = a->hostname[0] ? a->hostname : a->jump_item;
        printf("%-6lld %-19s %-10.10s %-12.12s %-14.14s %-16.16s %-7s %7.2f  %s\n", (long long)a->id, when,
               a->appliance[0] ? a->appliance : "-", a->ticket_id[0] ? a->ticket_id : "-",
               a->username[0] ? a->username : "-", computer[0] ? computer : "-", outcome,
               (double)a->latency_us / 1000.0, a->reason);
        if (verbose) {
            printf("       source %s, task %s%s%s, work note %s\n", a->source_ip[0] ? a->source_ip : "-",
                   a->task_number[0] ? a->task_number : "-", a->task_table[0] ? " in " : "", a->task_table,
                   a->noted ? "written" : "none");
            if (a->raw[0])
                printf("       request as received: %s\n", a->raw);
        }
    }
    tb_approvals_free(v, n);
    return 0;
}

static int fields_cmd(tb_cli *cli, int argc, char **argv)
{
    tb_store *st;
    if (argc == 0 || !strcmp(argv[0], "list")) {
        if (argc > 1)
            return cli_usage_error(APPROVAL_USAGE);
        if (open_db(cli, STORE_READ_ONLY, &st))
            return 1;
        tb_wire_field *w;
        size_t n;
        tb_err e = store_wire_fields_list(st, &w, &n);
        store_close(st);
        if (e)
            return cli_fail("cannot list field names: %s", tb_strerror(e));
        printf("%-32s %-18s %s\n", "REQUEST FIELD", "MEANS", "SOURCE");
        for (size_t i = 0; i < n; i++)
            printf("%-32s %-18s %s\n", w[i].wire, w[i].field, "administrator");
        for (const ts_wire_name *d = ts_default_wire_names; d->wire; d++)
            printf("%-32s %-18s %s\n", d->wire, d->field, "built in");
        printf("(every field name in 'ticketbridge override fields' also means itself)\n");
        tb_wire_fields_free(w, n);
        return 0;
    }
    tb_err e;
    if (!strcmp(argv[0], "set") && argc == 3) {
        size_t wl = strlen(argv[1]);
        if (!wl || wl > BT_FORM_MAX_NAME)
            return cli_fail("WIRE_NAME: 1-%d characters", BT_FORM_MAX_NAME);
        for (const char *p = argv[1]; *p; p++)
            if ((unsigned char)*p < 0x21 || *p == 0x7f)
                return cli_fail("WIRE_NAME: no spaces or control characters");
        if (strcmp(argv[2], "-") && ts_field_by_name(argv[2]) < 0)
            return cli_fail("FIELD: '%s' is not a field ticketbridge knows (see 'ticketbridge override fields'; '-' "
                            "ignores the name)", argv[2]);
        if (open_db(cli, 0, &st))
            return 1;
        e = store_wire_field_set(st, argv[1], argv[2]);
    } else if (!strcmp(argv[0], "remove") && argc == 2) {
        if (open_db(cli, 0, &st))
            return 1;
        e = store_wire_field_remove(st, argv[1]);
        if (e == TB_ERR_NOT_FOUND) {
            store_close(st);
            return cli_fail("no administrator field name '%s'", argv[1]);
        }
    } else {
        return cli_usage_error(APPROVAL_USAGE);
    }
    store_close(st);
    if (e)
        return cli_fail("cannot change field names: %s", tb_strerror(e));
    printf("ok (the daemon applies it within a second)\n");
    return 0;
}

static int states_cmd(tb_cli *cli, int argc, char **argv)
{
    tb_store *st;
    if (argc == 0 || !strcmp(argv[0], "list")) {
        if (argc > 1)
            return cli_usage_error(APPROVAL_USAGE);
        if (open_db(cli, STORE_READ_ONLY, &st))
            return 1;
        tb_active_states *v;
        size_t n;
        tb_err e = store_active_states_list(st, &v, &n);
        store_close(st);
        if (e)
            return cli_fail("cannot list active states: %s", tb_strerror(e));
        printf("%-26s %-22s %s\n", "TABLE", "ACTIVE STATES", "SOURCE");
        for (size_t i = 0; i < n; i++)
            printf("%-26s %-22s %s\n", v[i].table, v[i].states, "administrator");
        for (const approval_states *d = approval_default_states; d->table; d++)
            printf("%-26s %-22s %s\n", d->table, d->spec, "built in");
        tb_active_states_free(v, n);
        return 0;
    }
    tb_err e;
    if (!strcmp(argv[0], "set") && argc == 3) {
        char err[200];
        if (strcmp(argv[1], "*") && !itsm_is_task_table(argv[1]))
            return cli_fail("TABLE: '%s' is not a task table (or '*')", argv[1]);
        if (!approval_states_valid(argv[2], err, sizeof err))
            return cli_fail("SPEC: %s", err);
        if (open_db(cli, 0, &st))
            return 1;
        e = store_active_states_set(st, argv[1], argv[2]);
    } else if (!strcmp(argv[0], "remove") && argc == 2) {
        if (open_db(cli, 0, &st))
            return 1;
        e = store_active_states_remove(st, argv[1]);
        if (e == TB_ERR_NOT_FOUND) {
            store_close(st);
            return cli_fail("no administrator setting for table '%s'", argv[1]);
        }
    } else {
        return cli_usage_error(APPROVAL_USAGE);
    }
    store_close(st);
    if (e)
        return cli_fail("cannot change active states: %s", tb_strerror(e));
    printf("ok (the daemon applies it within a second)\n");
    return 0;
}

static int check_cmd(tb_cli *cli, int argc, char **argv)
{
    enum { O_TICKET = 1, O_USER, O_COMPUTER, O_APP };
    static const struct option opts[] = {
        {"ticket", required_argument, 0, O_TICKET},     {"user", required_argument, 0, O_USER},
        {"computer", required_argument, 0, O_COMPUTER}, {"appliance", required_argument, 0, O_APP},
        {0, 0, 0, 0},
    };
    ts_request r = {0};
    const char *appliance = "Default";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_TICKET: r.v[TS_TICKET_ID] = optarg; break;
        case O_USER: r.v[TS_USERNAME] = optarg; break;
        case O_COMPUTER: r.v[TS_HOSTNAME] = optarg; break;
        case O_APP: appliance = optarg; break;
        default: return cli_usage_error(APPROVAL_USAGE);
        }
    }
    if (optind != argc || !r.v[TS_TICKET_ID])
        return cli_usage_error(APPROVAL_USAGE);
    tb_store *st;
    if (open_db(cli, STORE_READ_ONLY, &st))
        return 1;
    tb_appliance a;
    tb_err e = store_appliance_get(st, appliance, &a);
    if (e) {
        store_close(st);
        return e == TB_ERR_NOT_FOUND ? cli_fail("no appliance named '%s'", appliance)
                                     : cli_fail("cannot read appliance: %s", tb_strerror(e));
    }
    tb_override_rule *rules = NULL;
    size_t nrules = 0;
    tb_active_states *states = NULL;
    size_t nstates = 0;
    e = store_override_list(st, a.id, &rules, &nrules);
    if (!e)
        e = store_active_states_list(st, &states, &nstates);
    store_close(st);
    itsm *t = NULL;
    if (!e)
        e = itsm_open(&cli->cfg, &t, NULL, 0);
    int rc = 0;
    if (e) {
        rc = cli_fail("cannot read the approval settings or the ticket store: %s", tb_strerror(e));
    } else {
        approval_policy p = {.override = a.override_change_management, .record_type = a.approval_record_type,
                             .rules = rules, .nrules = nrules, .states = states, .nstates = nstates};
        approval_decision d;
        approval_decide(t, &p, &r, &d);
        printf("%s: %s\n", d.allowed ? "ALLOW" : "DENY", d.reason);
        if (d.allowed)
            printf("custom attributes: snow_task_id=%s%s%s\n", d.task_sys_id, d.ci_sys_id[0] ? " snow_cmdb_ci_id=" : "",
                   d.ci_sys_id);
        rc = d.allowed ? 0 : 3;
    }
    itsm_close(t);
    tb_override_rules_free(rules, nrules);
    tb_active_states_free(states, nstates);
    tb_appliance_clear(&a);
    return rc;
}

int cli_approval(tb_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(APPROVAL_USAGE);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        printf("usage: %s\n", APPROVAL_USAGE);
        return 0;
    }
    if (!strcmp(argv[1], "fields"))
        return fields_cmd(cli, argc - 2, argv + 2);
    if (!strcmp(argv[1], "states"))
        return states_cmd(cli, argc - 2, argv + 2);
    if (!strcmp(argv[1], "check"))
        return check_cmd(cli, argc - 1, argv + 1);
    return cli_usage_error(APPROVAL_USAGE);
}
