/* ticketbridge csm config|cases|log: an appliance's automatic case creation
 * settings (seed 003 "Configure Auto-Create Feature", "Add Outbound Events
 * and Links"), the cases made for sessions, and every decision. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/clock.h"
#include "store/store.h"
#include "store/store_csm.h"

#define CSM_USAGE                                                                                              \
    "ticketbridge csm config APPLIANCE [show]\n"                                                                \
    "       ticketbridge csm config APPLIANCE set [--auto-create yes|no] [--outbound-event yes|no]\n"          \
    "            [--custom-links yes|no] [--portals LIST] [--required-fields LIST] [--attended yes|no]\n"     \
    "            [--unattended yes|no] [--click-to-chat yes|no]\n"                                            \
    "       ticketbridge csm cases [--appliance NAME] [--limit N]\n"                                          \
    "       ticketbridge csm log [--appliance NAME] [--lsid LSID] [--limit N]\n"                              \
    "--outbound-event: a representative joining creates the case (option 1, the recipient\n"                \
    "  .../api/x_bmgr_crm/outbound_event/case?auto_create=true); --custom-links: the rep console's\n"          \
    "  links create or associate it (options 2 and 3). They cannot both be on.\n"                             \
    "--portals: comma-separated public portals a case is created for (\"\" = any); --required-fields:\n"     \
    "  custom field code names that must have a value (both for option 1)."

#define PORTALS_MAX 50
#define REQUIRED_MAX 20

enum { O_AUTO = 1, O_EVENT, O_LINKS, O_PORTALS, O_REQUIRED, O_ATTENDED, O_UNATTENDED, O_CHAT, O_APPLIANCE, O_LSID,
       O_LIMIT, O_HELP };

static int parse_yes_no(const char *opt, const char *v, bool *out)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
        *out = false;
    else
        return cli_fail("--%s: expected yes or no, got '%s'", opt, v);
    return 0;
}

/* Trims the items of a comma-separated list and joins them with ","; each
 * item is checked by ok (which prints why and returns 1 when not). */
static int normalize_list(const char *opt, const char *csv, size_t max_items, int (*ok)(const char *opt, const char *item),
                          char **out)
{
    if (strlen(csv) > 4096)
        return cli_fail("--%s: at most 4096 characters", opt);
    tb_buf b;
    tb_buf_init(&b, 8192);
    size_t n = 0;
    const char *p = csv;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *z = end;
        while (a < z && isspace((unsigned char)*a))
            a++;
        while (z > a && isspace((unsigned char)z[-1]))
            z--;
        if (z > a) {
            char item[512];
            if ((size_t)(z - a) >= sizeof item) {
                tb_buf_free(&b);
                return cli_fail("--%s: an item is too long", opt);
            }
            snprintf(item, sizeof item, "%.*s", (int)(z - a), a);
            if (ok(opt, item)) {
                tb_buf_free(&b);
                return 1;
            }
            if (++n > max_items) {
                tb_buf_free(&b);
                return cli_fail("--%s: at most %zu items", opt, max_items);
            }
            tb_buf_printf(&b, "%s%s", b.len ? "," : "", item);
        }
        p = *end ? end + 1 : end;
    }
    *out = b.data ? tb_buf_take(&b) : strdup("");
    return *out ? 0 : cli_fail("out of memory");
}

static int portal_ok(const char *opt, const char *item)
{
    if (strlen(item) > 255)
        return cli_fail("--%s: '%.40s...' is longer than 255 characters", opt, item);
    for (const char *s = item; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return cli_fail("--%s: control characters are not allowed", opt);
    return 0;
}

static int code_name_ok(const char *opt, const char *item)
{
    size_t n = strlen(item);
    bool good = n && n <= 64;
    for (const char *s = item; good && *s; s++)
        good = (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_';
    return good ? 0 : cli_fail("--%s: '%s' is not a custom field code name (a-z, 0-9, '_', at most 64)", opt, item);
}

static int open_appliance(tb_cli *cli, const char *name, bool write, tb_store **st, int64_t *id)
{
    tb_err e = store_open(cli->cfg.database, write ? 0 : STORE_READ_ONLY, st);
    if (e)
        return cli_fail("cannot open database %s: %s (run 'ticketbridge init' first?)", cli->cfg.database,
                        tb_strerror(e));
    if (!name) {
        *id = 0;
        return 0;
    }
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

static const char *yn(bool b)
{
    return b ? "yes" : "no";
}

static void show(const char *name, const tb_csm_config *c)
{
    printf("appliance:               %s\n", name);
    printf("auto-create:             %s\n", yn(c->auto_create));
    printf("outbound event (opt. 1): %s\n", yn(c->outbound_event));
    printf("custom links (opt. 2/3): %s\n", yn(c->custom_links));
    printf("portals:                 %s\n", *c->portals ? c->portals : "(any)");
    printf("required custom fields:  %s\n", *c->required_fields ? c->required_fields : "(none)");
    printf("attended sessions:       %s\n", yn(c->attended));
    printf("unattended sessions:     %s\n", yn(c->unattended));
    printf("click-to-chat:           %s\n", yn(c->click_to_chat));
}

static int config_cmd(tb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"auto-create", required_argument, 0, O_AUTO},   {"outbound-event", required_argument, 0, O_EVENT},
        {"custom-links", required_argument, 0, O_LINKS}, {"portals", required_argument, 0, O_PORTALS},
        {"required-fields", required_argument, 0, O_REQUIRED}, {"attended", required_argument, 0, O_ATTENDED},
        {"unattended", required_argument, 0, O_UNATTENDED}, {"click-to-chat", required_argument, 0, O_CHAT},
        {"help", no_argument, 0, O_HELP},                 {0, 0, 0, 0},
    };
    /* argv: config APPLIANCE [show|set] [options] */
    if (argc < 2 || argv[1][0] == '-')
        return cli_usage_error(CSM_USAGE);
    const char *name = argv[1];
    bool set = argc >= 3 && !strcmp(argv[2], "set");
    if (argc >= 3 && !set && strcmp(argv[2], "show"))
        return cli_usage_error(CSM_USAGE);
    if (!set && argc > 3)
        return cli_usage_error(CSM_USAGE);
    tb_store *st;
    int64_t id;
    int rc = open_appliance(cli, name, set, &st, &id);
    if (rc)
        return rc;
    tb_csm_config c;
    tb_err e = store_csm_config_get(st, id, &c);
    if (e) {
        store_close(st);
        return cli_fail("cannot read the CSM settings: %s", tb_strerror(e));
    }
    if (!set) {
        show(name, &c);
        goto out;
    }
    optind = 3;
    opterr = 0;
    int o;
    bool changed = false;
    char *list = NULL;
    while (!rc && (o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        changed = true;
        switch (o) {
        case O_AUTO: rc = parse_yes_no("auto-create", optarg, &c.auto_create); break;
        case O_EVENT: rc = parse_yes_no("outbound-event", optarg, &c.outbound_event); break;
        case O_LINKS: rc = parse_yes_no("custom-links", optarg, &c.custom_links); break;
        case O_ATTENDED: rc = parse_yes_no("attended", optarg, &c.attended); break;
        case O_UNATTENDED: rc = parse_yes_no("unattended", optarg, &c.unattended); break;
        case O_CHAT: rc = parse_yes_no("click-to-chat", optarg, &c.click_to_chat); break;
        case O_PORTALS:
            if (!(rc = normalize_list("portals", optarg, PORTALS_MAX, portal_ok, &list))) {
                free(c.portals);
                c.portals = list;
            }
            break;
        case O_REQUIRED:
            if (!(rc = normalize_list("required-fields", optarg, REQUIRED_MAX, code_name_ok, &list))) {
                free(c.required_fields);
                c.required_fields = list;
            }
            break;
        case O_HELP:
            printf("usage: %s\n", CSM_USAGE);
            goto out;
        default:
            rc = cli_usage_error(CSM_USAGE);
        }
    }
    if (rc)
        goto out;
    if (optind < argc || !changed) {
        rc = cli_usage_error(CSM_USAGE);
        goto out;
    }
    if (c.outbound_event && c.custom_links) {
        rc = cli_fail("appliance %s: case creation by outbound event (option 1) and by custom links (options 2 "
                      "and 3) cannot both be on: option 1 is automatic and options 2 and 3 are manual, choose one "
                      "(turn the other off in the same command, e.g. --outbound-event no). Nothing was changed.",
                      name);
        goto out;
    }
    e = store_csm_config_set(st, &c);
    if (e)
        rc = cli_fail("cannot save the CSM settings: %s", tb_strerror(e));
    else
        show(name, &c);
out:
    tb_csm_config_clear(&c);
    store_close(st);
    return rc;
}

static void fmt_time(int64_t t, char *out, size_t outsz)
{
    if (t > 0)
        tb_fmt_utc(t, out, outsz);
    else
        snprintf(out, outsz, "-");
}

static int list_cmd(tb_cli *cli, int argc, char **argv, bool log)
{
    static const struct option opts[] = {
        {"appliance", required_argument, 0, O_APPLIANCE}, {"lsid", required_argument, 0, O_LSID},
        {"limit", required_argument, 0, O_LIMIT},         {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    const char *appliance = NULL, *lsid = NULL;
    size_t limit = 50;
    optind = 1;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case O_APPLIANCE: appliance = optarg; break;
        case O_LSID:
            if (!log)
                return cli_usage_error(CSM_USAGE);
            lsid = optarg;
            break;
        case O_LIMIT:
            if (cli_parse_limit(optarg, &limit))
                return 1;
            break;
        case O_HELP: printf("usage: %s\n", CSM_USAGE); return 0;
        default: return cli_usage_error(CSM_USAGE);
        }
    }
    if (optind < argc)
        return cli_usage_error(CSM_USAGE);
    tb_store *st;
    int64_t id;
    int rc = open_appliance(cli, appliance, false, &st, &id);
    if (rc)
        return rc;
    char when[32];
    if (log) {
        tb_csm_log *v;
        size_t n;
        tb_err e = store_csm_log_list(st, id, lsid, limit, &v, &n);
        if (e) {
            store_close(st);
            return cli_fail("cannot list the case decisions: %s", tb_strerror(e));
        }
        if (!n)
            printf("no case decisions recorded\n");
        else
            printf("%-19s  %-12s %-32s  %-11s %-10s %-11s %s\n", "WHEN (UTC)", "APPLIANCE", "LSID", "ORIGIN",
                   "OUTCOME", "CASE", "DETAIL");
        for (size_t i = 0; i < n; i++) {
            fmt_time(v[i].at, when, sizeof when);
            printf("%-19s  %-12s %-32s  %-11s %-10s %-11s %s\n", when, v[i].appliance, v[i].lsid, v[i].origin,
                   v[i].outcome, *v[i].case_number ? v[i].case_number : "-", v[i].detail);
        }
        tb_csm_logs_free(v, n);
    } else {
        tb_csm_case *v;
        size_t n;
        tb_err e = store_csm_case_list(st, id, limit, &v, &n);
        if (e) {
            store_close(st);
            return cli_fail("cannot list the cases: %s", tb_strerror(e));
        }
        if (!n)
            printf("no session has a case yet\n");
        else
            printf("%-19s  %-12s %-32s  %-11s %-11s %-14s %-8s %s\n", "CREATED (UTC)", "APPLIANCE", "LSID", "CASE",
                   "ORIGIN", "REP", "ON SESS.", "WARNINGS");
        for (size_t i = 0; i < n; i++) {
            fmt_time(v[i].created_at, when, sizeof when);
            printf("%-19s  %-12s %-32s  %-11s %-11s %-14s %-8s %s\n", when, v[i].appliance, v[i].lsid,
                   v[i].case_number, v[i].origin, *v[i].rep_username ? v[i].rep_username : "-",
                   v[i].attribute_set_at ? "yes" : "no", *v[i].warnings ? v[i].warnings : "-");
        }
        tb_csm_cases_free(v, n);
    }
    store_close(st);
    return 0;
}

int cli_csm(tb_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(CSM_USAGE);
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "help")) {
        printf("usage: %s\n", CSM_USAGE);
        return 0;
    }
    if (!strcmp(sub, "config"))
        return config_cmd(cli, argc - 1, argv + 1);
    if (!strcmp(sub, "cases"))
        return list_cmd(cli, argc - 1, argv + 1, false);
    if (!strcmp(sub, "log"))
        return list_cmd(cli, argc - 1, argv + 1, true);
    return cli_usage_error(CSM_USAGE);
}
