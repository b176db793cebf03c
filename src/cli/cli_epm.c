/* ticketbridge epm config show|set, epm init, epm test: the EPM
 * configuration record "Default" (seed 004, "Configure the application
 * settings", "Test the connection", "Missing configuration record"). */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bt/api.h"
#include "bt/epm_api.h"
#include "bt/epm_wire.h"
#include "cli/cli.h"
#include "core/secret.h"
#include "flow/epm_settings.h"
#include "flow/jit_states.h"
#include "http/client.h"
#include "itsm/itsm.h"
#include "store/store.h"
#include "store/store_jit.h"

#define EPM_USAGE                                                                                         \
    "ticketbridge epm config show | epm config set [OPTIONS] | epm init | epm test\n"                    \
    "config set options (an empty value clears or restores the default):\n"                              \
    "  --host HOST                     PMC Service Host Name, e.g. acme-services.pm.beyondtrustcloud.com\n" \
    "  --tenant-id ID                  --client-id ID\n"                                                   \
    "  --client-secret-file FILE|-     the API account's Client Secret (stored encrypted)\n"              \
    "  --ticket-type TYPE              incident, change_request, sc_task or sc_req_item\n"                \
    "  --active-states LIST            states in which decisions can be made, e.g. \"New, In Progress,\n"  \
    "                                  On Hold\" (names or values; empty = every open state)\n"            \
    "  --short-description TEXT        --assignment-group NAME        --category TEXT\n"                 \
    "  --auto-close yes|no             close the ticket after EPM's decision update\n"                    \
    "  --webhook-auth-file FILE|-      EPM \"Custom\" authentication: the Authorization header value,\n"   \
    "                                  e.g. \"Bearer KEY\" (stored encrypted; empty file = Basic only)\n"  \
    "  --token-url URL                 default <host>/oauth/connect/token\n"                               \
    "  --ticket-url-base URL           sent to EPM as ticketUrl: URL/<table>.do?sys_id=<id>\n"           \
    "  --api NAME=VALUE                app_decision, admin_decision, admin_decision_method (PUT|POST),\n"  \
    "                                  app_read (paths), admin_request_id_field; empty = default\n"       \
    "init: creates the Default record if it is missing.\n"                                                \
    "test: gets a token and makes an authorised read; prints \"Connection OK\" or the reason."

static int open_db(tb_cli *cli, int flags, tb_store **st)
{
    tb_err e = store_open(cli->cfg.database, flags, st);
    return e ? cli_fail("cannot open database %s: %s (run 'ticketbridge init' first?)", cli->cfg.database,
                        tb_strerror(e))
             : 0;
}

static int load_key(tb_cli *cli, tb_secret_key *key)
{
    char kp[TB_PATH_MAX + 8];
    tb_config_key_path(&cli->cfg, kp, sizeof kp);
    tb_err e = tb_secret_key_load(kp, key);
    return e ? cli_fail("cannot load secret key %s: %s", kp, tb_strerror(e)) : 0;
}

static int no_record(void)
{
    return cli_fail("there is no EPM configuration record 'Default' (Record not found): run 'ticketbridge epm init'");
}

static void warn_host(const char *host)
{
    if (*host && !epm_host_looks_right(host))
        fprintf(stderr, "ticketbridge: warning: the PMC Service Host Name '%s' lacks the -services suffix "
                        "(e.g. acme-services.beyondtrustcloud.com, not acme.beyondtrustcloud.com)\n", host);
}

/* ---- show ---- */

static void line(const char *label, const char *value, const char *dflt)
{
    printf("%-28s %s\n", label, *value ? value : dflt);
}

static void effective(const char *label, const char *value, const char *dflt)
{
    printf("%-28s %s%s\n", label, *value ? value : dflt, *value ? "" : " (default)");
}

static int show(tb_store *st)
{
    tb_epm_config c;
    tb_err e = store_epm_config_get(st, EPM_CONFIG_DEFAULT, &c);
    if (e == TB_ERR_NOT_FOUND)
        return no_record();
    if (e)
        return cli_fail("cannot read the EPM configuration: %s", tb_strerror(e));
    char base[EPM_URL_MAX] = "", token[EPM_URL_MAX + 32];
    if (*c.host && bt_api_base_url(c.host, base, sizeof base))
        base[0] = '\0';
    snprintf(token, sizeof token, "%s%s", base[0] ? base : "<host>", EPM_DEFAULT_TOKEN_PATH);
    line("name:", c.name, "");
    line("pmc service host name:", c.host, "(not set)");
    line("pmc tenant id:", c.tenant_id, "(not set)");
    line("client id:", c.client_id, "(not set)");
    line("client secret:", *c.client_secret_sealed ? "(set, encrypted)" : "", "(not set)");
    line("ticket type:", c.ticket_type, "");
    line("active states:", c.active_states, "(every open state)");
    line("default short description:", c.short_description, "");
    line("default assignment group:", c.assignment_group, "(none)");
    line("default category:", c.category, "(none)");
    line("auto-close after decision:", c.auto_close ? "yes" : "no", "");
    line("webhook custom auth:", *c.webhook_auth_sealed ? "(set, encrypted)" : "", "(not set: Basic only)");
    effective("token url:", c.token_url, token);
    line("ticket url base:", c.ticket_url_base, "(none)");
    effective("api app_decision:", c.app_decision_path, EPM_DEFAULT_APP_DECISION_PATH);
    effective("api admin_decision:", c.admin_decision_path, EPM_DEFAULT_ADMIN_DECISION_PATH);
    effective("api admin_decision_method:", c.admin_decision_method, EPM_DEFAULT_ADMIN_DECISION_METHOD);
    effective("api app_read:", c.app_read_path, EPM_DEFAULT_APP_READ_PATH);
    effective("api admin_request_id_field:", c.admin_id_field, EPM_DEFAULT_ADMIN_ID_FIELD);
    char when[32];
    time_t t = (time_t)c.updated_at;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime(&t));
    printf("%-28s %s UTC\n", "updated:", when);
    warn_host(c.host);
    tb_epm_config_clear(&c);
    return 0;
}

/* ---- set ---- */

static bool printable(const char *s, bool spaces)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || (!spaces && *s == ' '))
            return false;
    return true;
}

static int check_text(const char *opt, const char *v, size_t max, bool spaces)
{
    if (strlen(v) > max)
        return cli_fail("--%s: at most %zu characters", opt, max);
    if (!printable(v, spaces))
        return cli_fail("--%s: control characters%s are not allowed", opt, spaces ? "" : " and spaces");
    return 0;
}

static int check_url(const char *opt, const char *v)
{
    if (!*v)
        return 0;
    if (check_text(opt, v, 1000, false))
        return 1;
    if (strncmp(v, "https://", 8) && strncmp(v, "http://", 7))
        return cli_fail("--%s: expected an http:// or https:// URL, got '%s'", opt, v);
    return 0;
}

static int check_path(const char *name, const char *v)
{
    size_t n = strlen(v);
    if (!n)
        return 0;
    if (n < 2 || n > 256 || v[0] != '/' || v[n - 1] == '/')
        return cli_fail("--api %s: a path starts with / and has 2-256 characters, without a trailing /", name);
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("?#%", *p))
            return cli_fail("--api %s: printable ASCII only, without spaces, ?, # or %%", name);
    return 0;
}

static int replace(char **field, const char *v)
{
    char *d = strdup(v);
    if (!d)
        return cli_fail("out of memory");
    free(*field);
    *field = d;
    return 0;
}

static int set_api(tb_epm_config *c, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return cli_fail("--api: expected NAME=VALUE, got '%s'", arg);
    size_t nl = (size_t)(eq - arg);
    const char *v = eq + 1;
    char name[40];
    snprintf(name, sizeof name, "%.*s", (int)(nl < 39 ? nl : 39), arg);
    if (!strcmp(name, "app_decision") || !strcmp(name, "admin_decision") || !strcmp(name, "app_read")) {
        if (check_path(name, v))
            return 1;
        char **f = !strcmp(name, "app_decision") ? &c->app_decision_path
                 : !strcmp(name, "admin_decision") ? &c->admin_decision_path : &c->app_read_path;
        return replace(f, v);
    }
    if (!strcmp(name, "admin_decision_method")) {
        if (*v && strcmp(v, "PUT") && strcmp(v, "POST"))
            return cli_fail("--api admin_decision_method: PUT or POST, got '%s'", v);
        return replace(&c->admin_decision_method, v);
    }
    if (!strcmp(name, "admin_request_id_field")) {
        if (strlen(v) > 64)
            return cli_fail("--api admin_request_id_field: at most 64 characters");
        for (const char *p = v; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_')
                return cli_fail("--api admin_request_id_field: letters, digits and _ only");
        return replace(&c->admin_id_field, v);
    }
    return cli_fail("--api: unknown name '%s' (app_decision, admin_decision, admin_decision_method, app_read, "
                    "admin_request_id_field)", name);
}

static int seal_into(tb_cli *cli, const char *opt, const char *path, char **field)
{
    char *plain = NULL, *sealed = NULL;
    if (cli_read_secret_file(opt, path, &plain))
        return 1;
    int rc = 0;
    if (!*plain) {
        rc = replace(field, "");
    } else if (!printable(plain, true)) {
        rc = cli_fail("--%s: control characters are not allowed", opt);
    } else {
        tb_secret_key key;
        if (!(rc = load_key(cli, &key))) {
            if (tb_secret_seal(&key, plain, &sealed))
                rc = cli_fail("cannot encrypt --%s", opt);
            else {
                free(*field);
                *field = sealed;
            }
            tb_secret_key_wipe(&key);
        }
    }
    tb_secret_free(plain);
    return rc;
}

static void warn_group(tb_cli *cli, const char *group)
{
    if (!*group)
        return;
    itsm *t;
    if (itsm_open(&cli->cfg, &t, NULL, 0))
        return;
    itsm_kv kv = {"name", group};
    itsm_record **v = NULL, *r = NULL;
    size_t n = 0;
    bool found = (itsm_query(t, "sys_user_group", &kv, 1, 1, 1, 0, &v, &n) == TB_OK && n) ||
                 (strlen(group) == 32 && itsm_get(t, "sys_user_group", group, &r) == TB_OK && r);
    itsm_records_free(v, n);
    itsm_record_free(r);
    itsm_close(t);
    if (!found)
        fprintf(stderr, "ticketbridge: warning: no group '%s' in the ticket store (sys_user_group); tickets stay "
                        "unassigned until it exists\n", group);
}

static int apply(tb_cli *cli, int argc, char **argv, tb_epm_config *c)
{
    enum { O_HOST = 1, O_TENANT, O_CID, O_SECRET, O_TYPE, O_STATES, O_SHORT, O_GROUP, O_CATEGORY, O_CLOSE,
           O_WEBHOOK, O_TOKEN, O_URLBASE, O_API, O_HELP };
    static const struct option opts[] = {
        {"host", required_argument, 0, O_HOST},
        {"tenant-id", required_argument, 0, O_TENANT},
        {"client-id", required_argument, 0, O_CID},
        {"client-secret-file", required_argument, 0, O_SECRET},
        {"ticket-type", required_argument, 0, O_TYPE},
        {"active-states", required_argument, 0, O_STATES},
        {"short-description", required_argument, 0, O_SHORT},
        {"assignment-group", required_argument, 0, O_GROUP},
        {"category", required_argument, 0, O_CATEGORY},
        {"auto-close", required_argument, 0, O_CLOSE},
        {"webhook-auth-file", required_argument, 0, O_WEBHOOK},
        {"token-url", required_argument, 0, O_TOKEN},
        {"ticket-url-base", required_argument, 0, O_URLBASE},
        {"api", required_argument, 0, O_API},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    optind = 1;
    opterr = 0;
    int o, rc = 0;
    bool group_changed = false;
    while (!rc && (o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case O_HOST: {
            char base[EPM_URL_MAX];
            if (*optarg && (strlen(optarg) > 255 || bt_api_base_url(optarg, base, sizeof base)))
                rc = cli_fail("--host: not a host name, host:port or http(s)://host[:port] URL: '%s'", optarg);
            else
                rc = replace(&c->host, optarg);
            break;
        }
        case O_TENANT:
            rc = check_text("tenant-id", optarg, 100, false) || replace(&c->tenant_id, optarg);
            break;
        case O_CID:
            rc = check_text("client-id", optarg, 255, false) || replace(&c->client_id, optarg);
            break;
        case O_SECRET:
            rc = seal_into(cli, "client-secret-file", optarg, &c->client_secret_sealed);
            break;
        case O_TYPE:
            if (!jit_ticket_type_valid(optarg))
                rc = cli_fail("--ticket-type: incident, change_request, sc_task or sc_req_item, not '%s'", optarg);
            else
                rc = replace(&c->ticket_type, optarg);
            break;
        case O_STATES:
            rc = check_text("active-states", optarg, 1000, true) || replace(&c->active_states, optarg);
            break;
        case O_SHORT:
            if (!*optarg)
                rc = replace(&c->short_description, "EPM JIT Access Request");
            else
                rc = check_text("short-description", optarg, 160, true) || replace(&c->short_description, optarg);
            break;
        case O_GROUP:
            rc = check_text("assignment-group", optarg, 100, true) || replace(&c->assignment_group, optarg);
            group_changed = true;
            break;
        case O_CATEGORY:
            rc = check_text("category", optarg, 100, true) || replace(&c->category, optarg);
            break;
        case O_CLOSE:
            if (!strcmp(optarg, "yes") || !strcmp(optarg, "true") || !strcmp(optarg, "on") || !strcmp(optarg, "1"))
                c->auto_close = true;
            else if (!strcmp(optarg, "no") || !strcmp(optarg, "false") || !strcmp(optarg, "off") ||
                     !strcmp(optarg, "0"))
                c->auto_close = false;
            else
                rc = cli_fail("--auto-close: expected yes or no, got '%s'", optarg);
            break;
        case O_WEBHOOK:
            rc = seal_into(cli, "webhook-auth-file", optarg, &c->webhook_auth_sealed);
            break;
        case O_TOKEN:
            rc = check_url("token-url", optarg) || replace(&c->token_url, optarg);
            break;
        case O_URLBASE: {
            size_t n = strlen(optarg);
            while (n && optarg[n - 1] == '/')
                optarg[--n] = '\0';
            rc = check_url("ticket-url-base", optarg) || replace(&c->ticket_url_base, optarg);
            break;
        }
        case O_API:
            rc = set_api(c, optarg);
            break;
        case O_HELP:
            printf("usage: %s\n", EPM_USAGE);
            exit(0);
        default:
            return cli_usage_error(EPM_USAGE);
        }
    }
    if (rc)
        return rc;
    if (optind != argc)
        return cli_usage_error(EPM_USAGE);
    char why[512];
    if (!jit_states_valid(c->ticket_type, c->active_states, why, sizeof why))
        return cli_fail("--active-states: %s", why);
    if (group_changed)
        warn_group(cli, c->assignment_group);
    return 0;
}

static int set(tb_cli *cli, tb_store *st, int argc, char **argv)
{
    tb_epm_config c;
    tb_err e = store_epm_config_get(st, EPM_CONFIG_DEFAULT, &c);
    if (e == TB_ERR_NOT_FOUND)
        return no_record();
    if (e)
        return cli_fail("cannot read the EPM configuration: %s", tb_strerror(e));
    int rc = apply(cli, argc, argv, &c);
    if (!rc) {
        if ((e = store_epm_config_update(st, &c)))
            rc = cli_fail("cannot update the EPM configuration: %s", tb_strerror(e));
        else {
            printf("EPM configuration Default updated\n");
            warn_host(c.host);
        }
    }
    tb_epm_config_clear(&c);
    return rc;
}

/* ---- test ---- */

static int test(tb_cli *cli, tb_store *st)
{
    tb_secret_key key;
    if (load_key(cli, &key))
        return 1;
    epm_settings *s;
    tb_err e = epm_settings_load(st, &key, &s);
    tb_secret_key_wipe(&key);
    if (e)
        return cli_fail("cannot read the EPM configuration: %s", tb_strerror(e));
    int rc = 0;
    if (!s->exists) {
        rc = no_record();
    } else {
        warn_host(s->host);
        bt_oauth_cache *tokens = NULL;
        tb_http_client *http = NULL;
        if (bt_oauth_cache_new(&tokens) || tb_http_client_new(&http)) {
            rc = cli_fail("out of memory");
        } else {
            epm_conn conn = epm_settings_conn(s);
            epm_api_result res;
            e = epm_api_test(tokens, http, &conn, s->app_read_path, &res);
            if (!e)
                printf("Connection OK\n");
            else
                rc = cli_fail("Connection failed: %s", res.message[0] ? res.message : tb_strerror(e));
        }
        tb_http_client_free(http);
        bt_oauth_cache_free(tokens);
    }
    epm_settings_free(s);
    return rc;
}

int cli_epm(tb_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(EPM_USAGE);
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "help")) {
        printf("usage: %s\n", EPM_USAGE);
        return 0;
    }
    bool config = !strcmp(sub, "config");
    const char *what = config && argc > 2 ? argv[2] : "";
    if (config && strcmp(what, "show") && strcmp(what, "set"))
        return cli_usage_error(EPM_USAGE);
    if (!config && strcmp(sub, "init") && strcmp(sub, "test"))
        return cli_usage_error(EPM_USAGE);
    if ((!config && argc != 2) || (config && !strcmp(what, "show") && argc != 3))
        return cli_usage_error(EPM_USAGE);
    bool writes = !strcmp(sub, "init") || !strcmp(what, "set");
    tb_store *st;
    if (open_db(cli, writes ? 0 : STORE_READ_ONLY, &st))
        return 1;
    int rc;
    if (!strcmp(sub, "init")) {
        bool created = false;
        tb_err e = store_epm_config_init(st, (int64_t)time(NULL), &created);
        if (e)
            rc = cli_fail("cannot create the EPM configuration record: %s", tb_strerror(e));
        else {
            printf(created ? "EPM configuration record Default created\n"
                           : "EPM configuration record Default already exists\n");
            rc = 0;
        }
    } else if (!strcmp(sub, "test")) {
        rc = test(cli, st);
    } else if (!strcmp(what, "show")) {
        rc = show(st);
    } else {
        rc = set(cli, st, argc - 2, argv + 2);
    }
    store_close(st);
    return rc;
}
