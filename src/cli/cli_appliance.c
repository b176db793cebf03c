/* ticketbridge appliance list|show|add|set|remove */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bt/outbound_event.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "core/ipacl.h"
#include "core/secret.h"
#include "itsm/itsm.h"
#include "store/store.h"

#define APPLIANCE_USAGE                                                                            \
    "ticketbridge appliance list | show [NAME] | add NAME [OPTIONS] | set [NAME] [OPTIONS] | remove NAME\n"   \
    "options:\n"                                                                                   \
    "  --product rs|pra                  --hostname HOST[:PORT] or URL\n"                          \
    "  --appliance-id ID                 the appliance_id its outbound events carry\n"             \
    "  --client-id ID                    OAuth client id\n"                                        \
    "  --client-secret-file FILE|-       OAuth client secret, read from a file or stdin\n"         \
    "  --outbound-event-token-file FILE|-  token the appliance appends (empty file clears it)\n"   \
    "  --enabled yes|no                  integration enabled\n"                                    \
    "  --import-external-sessions yes|no\n"                                                        \
    "  --accepted-ips LIST               comma-separated IPs/CIDRs (empty = any)\n"                \
    "  --auto-associate-user yes|no      --auto-associate-ci yes|no\n"                             \
    "  --events-to-import LIST           comma-separated event types (empty = all)\n"              \
    "  --poll-interval SECONDS           how often to look for sessions whose events were lost\n" \
    "                                    (default 300; 0 = never)\n"                               \
    "change management (PRA Jump ticket system):\n"                                               \
    "  --override-change-management yes|no  use the override rules (`ticketbridge override`)\n"   \
    "  --approval-record-type TABLE|any  task table the ticket ID is looked up in (default any)\n" \
    "  --approval-timeout-ms MS          deny when the ticket store is slower (default 3000)\n"   \
    "NAME defaults to Default."

enum { O_PRODUCT = 1, O_HOST, O_GUID, O_CID, O_SECRET, O_TOKEN, O_ENABLED, O_IMPORT, O_IPS, O_AUSER,
       O_ACI, O_EVENTS, O_POLL, O_OVERRIDE, O_RECTYPE, O_ATIMEOUT, O_HELP };

static int parse_bool(const char *opt, const char *v, bool *out)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
        *out = false;
    else
        return cli_fail("--%s: expected yes or no, got '%s'", opt, v);
    return 0;
}

/* Reads a secret from a file or stdin ("-"), first line, at most 4 KiB. */
static int read_secret(const char *opt, const char *path, char **out)
{
    FILE *fp = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!fp)
        return cli_fail("--%s: cannot read %s", opt, path);
    char buf[4097];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    int more = fgetc(fp) != EOF;
    if (fp != stdin)
        fclose(fp);
    if (more)
        return cli_fail("--%s: secret longer than 4096 bytes", opt);
    if (memchr(buf, '\0', n))
        return cli_fail("--%s: secret contains a NUL byte", opt);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    *out = strdup(buf);
    return *out ? 0 : cli_fail("out of memory");
}

/* Checks every name against the catalogue and returns the list with the
 * catalogue's spelling (caller frees), or NULL after printing why. */
static char *validate_events(tb_store *st, const char *list)
{
    char *copy = strdup(list);
    tb_buf out;
    tb_buf_init(&out, 64 * 1024);
    if (!copy) {
        cli_fail("out of memory");
        return NULL;
    }
    bool ok = true;
    for (char *save, *tok = strtok_r(copy, ",", &save); tok && ok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t n = strlen(tok);
        while (n && tok[n - 1] == ' ')
            tok[--n] = '\0';
        if (!n)
            continue;
        char canonical[128];
        tb_err e = n > 100 ? TB_ERR_NOT_FOUND : store_event_type_find(st, tok, canonical, sizeof canonical);
        if (e == TB_ERR_NOT_FOUND) {
            cli_fail("--events-to-import: unknown event type '%.100s' (see 'ticketbridge event-types list'; "
                     "if it is empty, run 'ticketbridge event-types update')", tok);
            ok = false;
        } else if (e) {
            cli_fail("--events-to-import: cannot read the event types: %s", tb_strerror(e));
            ok = false;
        } else if ((out.len && tb_buf_appends(&out, ", ")) || tb_buf_appends(&out, canonical)) {
            cli_fail("--events-to-import: list too long");
            ok = false;
        }
    }
    free(copy);
    if (!ok) {
        tb_buf_free(&out);
        return NULL;
    }
    return tb_buf_take(&out);
}

static void replace(char **field, const char *v, int *err)
{
    char *d = strdup(v);
    if (!d) {
        *err = 1;
        return;
    }
    free(*field);
    *field = d;
}

/* Applies options from argv to a; seals secrets with the key. */
static int apply_options(tb_cli *cli, tb_store *st, int argc, char **argv, tb_appliance *a)
{
    static const struct option opts[] = {
        {"product", required_argument, 0, O_PRODUCT},
        {"hostname", required_argument, 0, O_HOST},
        {"appliance-id", required_argument, 0, O_GUID},
        {"client-id", required_argument, 0, O_CID},
        {"client-secret-file", required_argument, 0, O_SECRET},
        {"outbound-event-token-file", required_argument, 0, O_TOKEN},
        {"enabled", required_argument, 0, O_ENABLED},
        {"import-external-sessions", required_argument, 0, O_IMPORT},
        {"accepted-ips", required_argument, 0, O_IPS},
        {"auto-associate-user", required_argument, 0, O_AUSER},
        {"auto-associate-ci", required_argument, 0, O_ACI},
        {"events-to-import", required_argument, 0, O_EVENTS},
        {"poll-interval", required_argument, 0, O_POLL},
        {"override-change-management", required_argument, 0, O_OVERRIDE},
        {"approval-record-type", required_argument, 0, O_RECTYPE},
        {"approval-timeout-ms", required_argument, 0, O_ATIMEOUT},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    tb_secret_key key;
    bool have_key = false;
    int oom = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *plain = NULL, *sealed = NULL;
        switch (c) {
        case O_PRODUCT:
            if (strcmp(optarg, "rs") && strcmp(optarg, "pra"))
                return cli_fail("--product must be rs or pra");
            replace(&a->product, optarg, &oom);
            break;
        case O_HOST:
            if (strlen(optarg) > 255 || strpbrk(optarg, " \t\r\n"))
                return cli_fail("--hostname: not a host name or URL: '%s'", optarg);
            replace(&a->hostname, optarg, &oom);
            break;
        case O_GUID:
            if (strlen(optarg) > 255)
                return cli_fail("--appliance-id: too long");
            replace(&a->appliance_guid, optarg, &oom);
            break;
        case O_CID:
            if (strlen(optarg) > 255)
                return cli_fail("--client-id: too long");
            replace(&a->client_id, optarg, &oom);
            break;
        case O_SECRET:
        case O_TOKEN: {
            const char *name = c == O_SECRET ? "client-secret-file" : "outbound-event-token-file";
            if (read_secret(name, optarg, &plain))
                return 1;
            if (!have_key) {
                char kp[TB_PATH_MAX + 8];
                tb_config_key_path(&cli->cfg, kp, sizeof kp);
                tb_err e = tb_secret_key_load(kp, &key);
                if (e) {
                    tb_secret_free(plain);
                    return cli_fail("cannot load secret key %s: %s", kp, tb_strerror(e));
                }
                have_key = true;
            }
            char **field = c == O_SECRET ? &a->client_secret_sealed : &a->outbound_token_sealed;
            if (!*plain) {
                replace(field, "", &oom);
            } else if (tb_secret_seal(&key, plain, &sealed)) {
                oom = 1;
            } else {
                free(*field);
                *field = sealed;
            }
            tb_secret_free(plain);
            break;
        }
        case O_ENABLED:
            if (parse_bool("enabled", optarg, &a->integration_enabled))
                return 1;
            break;
        case O_IMPORT:
            if (parse_bool("import-external-sessions", optarg, &a->import_external_sessions))
                return 1;
            break;
        case O_AUSER:
            if (parse_bool("auto-associate-user", optarg, &a->auto_associate_user))
                return 1;
            break;
        case O_ACI:
            if (parse_bool("auto-associate-ci", optarg, &a->auto_associate_ci))
                return 1;
            break;
        case O_IPS: {
            tb_ipacl acl;
            const char *bad = NULL;
            if (tb_ipacl_parse(optarg, &acl, &bad))
                return cli_fail("--accepted-ips: not an IP address or CIDR prefix at '%.60s'", bad ? bad : optarg);
            tb_ipacl_free(&acl);
            replace(&a->accepted_ips, optarg, &oom);
            break;
        }
        case O_EVENTS: {
            char *names = validate_events(st, optarg);
            if (!names)
                return 1;
            free(a->events_to_import);
            a->events_to_import = names;
            break;
        }
        case O_POLL: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 0 || v > 86400 * 7)
                return cli_fail("--poll-interval: expected 0-604800 seconds, got '%s'", optarg);
            a->poll_interval = v;
            break;
        }
        case O_OVERRIDE:
            if (parse_bool("override-change-management", optarg, &a->override_change_management))
                return 1;
            break;
        case O_RECTYPE: {
            const char *t = !strcmp(optarg, "any") ? "" : optarg;
            if (*t && !itsm_is_task_table(t))
                return cli_fail("--approval-record-type: '%s' is not a task table (e.g. change_request, incident, "
                                "sc_task, or any)", optarg);
            replace(&a->approval_record_type, t, &oom);
            break;
        }
        case O_ATIMEOUT: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 10 || v > 60000)
                return cli_fail("--approval-timeout-ms: expected 10-60000, got '%s'", optarg);
            a->approval_timeout_ms = v;
            break;
        }
        case O_HELP:
            printf("usage: %s\n", APPLIANCE_USAGE);
            exit(0);
        default:
            return cli_usage_error(APPLIANCE_USAGE);
        }
        if (oom)
            break;
    }
    if (have_key)
        tb_secret_key_wipe(&key);
    if (oom)
        return cli_fail("out of memory");
    if (optind != argc)
        return cli_usage_error(APPLIANCE_USAGE);
    return 0;
}

static void print_appliance(const tb_appliance *a)
{
    char when[32];
    time_t t = (time_t)a->updated_at;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime(&t));
    printf("name:                       %s\n", a->name);
    printf("product:                    %s\n", a->product);
    printf("hostname:                   %s\n", a->hostname);
    printf("appliance id:               %s\n", a->appliance_guid);
    printf("oauth client id:            %s\n", a->client_id);
    printf("oauth client secret:        %s\n", a->client_secret_sealed[0] ? "(set, encrypted)" : "(not set)");
    printf("outbound event token:       %s\n", a->outbound_token_sealed[0] ? "(set, encrypted)" : "(not set)");
    printf("integration enabled:        %s\n", a->integration_enabled ? "yes" : "no");
    printf("import external sessions:   %s\n", a->import_external_sessions ? "yes" : "no");
    printf("accepted ip addresses:      %s\n", a->accepted_ips[0] ? a->accepted_ips : "(any)");
    printf("auto associate with user:   %s\n", a->auto_associate_user ? "yes" : "no");
    printf("auto associate with ci:     %s\n", a->auto_associate_ci ? "yes" : "no");
    printf("events to import:           %s\n", a->events_to_import[0] ? a->events_to_import : "(all)");
    if (a->poll_interval)
        printf("poll for missed sessions:   every %lld s\n", (long long)a->poll_interval);
    else
        printf("poll for missed sessions:   off\n");
    printf("override change management: %s\n", a->override_change_management ? "yes" : "no");
    printf("approval record type:       %s\n", a->approval_record_type[0] ? a->approval_record_type : "(any task)");
    printf("approval timeout:           %lld ms\n", (long long)a->approval_timeout_ms);
    printf("updated:                    %s UTC\n", when);
}

static int empty_appliance(tb_appliance *a, const char *name)
{
    memset(a, 0, sizeof *a);
    a->name = strdup(name);
    a->product = strdup("rs");
    a->hostname = strdup("");
    a->appliance_guid = strdup("");
    a->client_id = strdup("");
    a->client_secret_sealed = strdup("");
    a->outbound_token_sealed = strdup("");
    a->accepted_ips = strdup("");
    a->events_to_import = strdup("");
    a->integration_enabled = true;
    a->import_external_sessions = true;
    a->poll_interval = 300;
    a->approval_record_type = strdup("");
    a->approval_timeout_ms = 3000;
    if (!a->approval_record_type || !a->name || !a->product || !a->hostname || !a->appliance_guid || !a->client_id ||
        !a->client_secret_sealed || !a->outbound_token_sealed || !a->accepted_ips || !a->events_to_import) {
        tb_appliance_clear(a);
        return cli_fail("out of memory");
    }
    return 0;
}

static int valid_name(const char *name)
{
    size_t n = strlen(name);
    if (!n || n > 100)
        return cli_fail("appliance name must be 1-100 characters");
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20)
            return cli_fail("appliance name contains a control character");
    return 0;
}

int cli_appliance(tb_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(APPLIANCE_USAGE);
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "help")) {
        printf("usage: %s\n", APPLIANCE_USAGE);
        return 0;
    }
    bool writes = !strcmp(sub, "add") || !strcmp(sub, "set") || !strcmp(sub, "remove");
    if (!writes && strcmp(sub, "list") && strcmp(sub, "show"))
        return cli_usage_error(APPLIANCE_USAGE);
    tb_store *st;
    tb_err e = store_open(cli->cfg.database, writes ? 0 : STORE_READ_ONLY, &st);
    if (e)
        return cli_fail("cannot open database %s: %s (run 'ticketbridge init' first?)", cli->cfg.database,
                        tb_strerror(e));
    int rc = 0;
    /* Optional NAME: argv[2] when it does not look like an option. */
    const char *name = argc > 2 && argv[2][0] != '-' ? argv[2] : "Default";
    int shift = argc > 2 && argv[2][0] != '-' ? 2 : 1;

    if (!strcmp(sub, "list")) {
        tb_appliance *v;
        size_t n;
        if ((e = store_appliance_list(st, &v, &n))) {
            rc = cli_fail("cannot list appliances: %s", tb_strerror(e));
        } else {
            printf("%-20s %-4s %-8s %-40s %s\n", "NAME", "PROD", "ENABLED", "HOSTNAME", "ACCEPTED IPS");
            for (size_t i = 0; i < n; i++)
                printf("%-20s %-4s %-8s %-40s %s\n", v[i].name, v[i].product,
                       v[i].integration_enabled ? "yes" : "no", v[i].hostname[0] ? v[i].hostname : "-",
                       v[i].accepted_ips[0] ? v[i].accepted_ips : "(any)");
            tb_appliances_free(v, n);
        }
    } else if (!strcmp(sub, "show")) {
        tb_appliance a;
        if ((e = store_appliance_get(st, name, &a))) {
            rc = e == TB_ERR_NOT_FOUND ? cli_fail("no such appliance: %s", name)
                                       : cli_fail("cannot read appliance: %s", tb_strerror(e));
        } else {
            print_appliance(&a);
            tb_appliance_clear(&a);
        }
    } else if (!strcmp(sub, "add")) {
        tb_appliance a;
        if (argc < 3 || argv[2][0] == '-')
            rc = cli_usage_error(APPLIANCE_USAGE);
        else if (!(rc = valid_name(name)) && !(rc = empty_appliance(&a, name))) {
            if (!(rc = apply_options(cli, st, argc - shift, argv + shift, &a))) {
                e = store_appliance_insert(st, &a, NULL);
                if (e == TB_ERR_EXISTS)
                    rc = cli_fail("appliance %s already exists (use 'appliance set')", name);
                else if (e)
                    rc = cli_fail("cannot add appliance: %s", tb_strerror(e));
                else
                    printf("appliance %s added\n", name);
            }
            tb_appliance_clear(&a);
        }
    } else if (!strcmp(sub, "set")) {
        tb_appliance a;
        if ((e = store_appliance_get(st, name, &a))) {
            rc = e == TB_ERR_NOT_FOUND ? cli_fail("no such appliance: %s", name)
                                       : cli_fail("cannot read appliance: %s", tb_strerror(e));
        } else {
            if (!(rc = apply_options(cli, st, argc - shift, argv + shift, &a))) {
                if ((e = store_appliance_update(st, &a)))
                    rc = cli_fail("cannot update appliance: %s", tb_strerror(e));
                else
                    printf("appliance %s updated\n", name);
            }
            tb_appliance_clear(&a);
        }
    } else { /* remove */
        if (argc != 3)
            rc = cli_usage_error(APPLIANCE_USAGE);
        else if ((e = store_appliance_delete(st, name)))
            rc = e == TB_ERR_NOT_FOUND ? cli_fail("no such appliance: %s", name)
                                       : cli_fail("cannot remove appliance: %s", tb_strerror(e));
        else
            printf("appliance %s removed\n", name);
    }
    store_close(st);
    return rc;
}
