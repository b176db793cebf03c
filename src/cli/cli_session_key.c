/* ticketbridge session-key NUMBER --as USER [--check] [--json] | session-keys [--ticket N] [--state S] */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/roles.h"
#include "core/secret.h"
#include "flow/appliance_cache.h"
#include "flow/import.h"
#include "flow/session_key.h"
#include "http/client.h"
#include "store/store.h"
#include "store/store_session_key.h"

#define SESSION_KEY_USAGE                                                                                   \
    "ticketbridge session-key NUMBER --as USER [--check] [--json]\n"                                       \
    "Generates a Remote Support session key for the ticket (number or sys_id) on the Default appliance,\n" \
    "on behalf of the ticketbridge user USER: their roles are checked (itil for incidents and other\n"    \
    "tasks, x_bmgr_crm.agent for cases) and their BeyondTrust username picks the queue. Prints the\n"     \
    "short key, key URL, mail subject and body, and expiry. --check only says whether USER may."
#define SESSION_KEYS_USAGE "ticketbridge session-keys [--ticket NUMBER] [--state STATE] [--limit N] [--json]"

/* The acting user's roles; prints why and returns 1 when there is none. */
static int acting_roles(tb_cli *cli, const char *username, char roles[ROLES_CSV_MAX])
{
    tb_store *st;
    tb_err e = store_open(cli->cfg.database, STORE_READ_ONLY, &st);
    if (e)
        return cli_fail("cannot open database %s: %s", cli->cfg.database, tb_strerror(e));
    tb_account a;
    e = store_account_find(st, username, &a, NULL);
    store_close(st);
    if (e == TB_ERR_NOT_FOUND)
        return cli_fail("--as: no ticketbridge user named '%s' (see 'ticketbridge user list')", username);
    if (e)
        return cli_fail("cannot read user %s: %s", username, tb_strerror(e));
    int rc = 0;
    if (a.disabled)
        rc = cli_fail("--as: user %s is disabled", username);
    else
        snprintf(roles, ROLES_CSV_MAX, "%s", a.roles ? a.roles : "");
    tb_account_clear(&a);
    return rc;
}

static void print_key(const sk_check_result *chk, const sk_result *r)
{
    char when[32];
    tb_fmt_utc(r->expires_at, when, sizeof when);
    printf("ticket:        %s (%s)\n", chk->ticket.number, chk->ticket.table);
    printf("short key:     %s\n", r->key.short_key);
    printf("key URL:       %s\n", r->key.key_url);
    printf("expires:       %s UTC\n", when);
    printf("queue:         %s%s\n", r->queue_id,
           r->fell_back ? " (the representative is unknown to the appliance)" : "");
    printf("mail subject:  %s\n", r->key.mail_subject);
    printf("mail body:\n%s\n", r->key.mail_body);
}

static int record(tb_cli *cli, const sk_check_result *chk, const sk_result *r, const char *user, int64_t *id)
{
    tb_session_key_rec rec;
    sk_record(chk, r, user, &rec);
    tb_store *st;
    tb_err e = store_open(cli->cfg.database, 0, &st);
    if (!e) {
        e = store_session_key_insert(st, &rec, id);
        store_close(st);
    }
    return e ? cli_fail("cannot remember the session key: %s", tb_strerror(e)) : 0;
}

int cli_session_key(tb_cli *cli, int argc, char **argv)
{
    enum { O_AS = 1, O_CHECK, O_JSON, O_HELP };
    static const struct option opts[] = {
        {"as", required_argument, 0, O_AS}, {"check", no_argument, 0, O_CHECK}, {"json", no_argument, 0, O_JSON},
        {"help", no_argument, 0, O_HELP},   {0, 0, 0, 0},
    };
    const char *as = NULL;
    bool check = false, json = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_AS: as = optarg; break;
        case O_CHECK: check = true; break;
        case O_JSON: json = true; break;
        case O_HELP: printf("usage: %s\n", SESSION_KEY_USAGE); return 0;
        default: return cli_usage_error(SESSION_KEY_USAGE);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(SESSION_KEY_USAGE);
    const char *number = argv[optind];
    if (!as) {
        fprintf(stderr, "ticketbridge: --as USER is required: the ticketbridge user the key is generated for "
                        "(their roles are checked and their BeyondTrust username picks the queue)\n");
        return 2;
    }
    if (!sk_number_valid(number))
        return cli_fail("invalid ticket number '%.80s': a number or sys_id of 1 to 64 letters and digits", number);
    char roles[ROLES_CSV_MAX];
    int rc = acting_roles(cli, as, roles);
    if (rc)
        return rc;

    char kp[TB_PATH_MAX + 8];
    tb_config_key_path(&cli->cfg, kp, sizeof kp);
    tb_secret_key key;
    tb_err e = tb_secret_key_load(kp, &key);
    if (e)
        return cli_fail("cannot load secret key %s: %s", kp, tb_strerror(e));
    appliance_cache *apps = NULL;
    import_ctx *ic = NULL;
    ticket_store *ts = NULL;
    rc = 1;
    e = appliance_cache_open(cli->cfg.database, &key, &apps);
    tb_secret_key_wipe(&key);
    if (e) {
        cli_fail("cannot read appliance records: %s", tb_strerror(e));
        goto out;
    }
    /* No writer: this command reads through the importer's handles and
     * writes its one record itself. */
    if ((e = ticket_store_new(&cli->cfg, &ts))) {
        cli_fail("cannot set up the ticket store: %s", tb_strerror(e));
        goto out;
    }
    import_opts io = {.db_path = cli->cfg.database, .tickets = ts, .appliances = apps};
    if ((e = tb_http_client_global_init()) || (e = import_ctx_new(&io, &ic))) {
        cli_fail("cannot start: %s", tb_strerror(e));
        goto out;
    }
    sk_check_result chk;
    char err[256];
    if ((e = sk_check(ic, number, roles, &chk, err, sizeof err))) {
        cli_fail("%s", err);
        goto out;
    }
    if (check || !chk.verdict.allowed) {
        char why[1024];
        sk_verdict_text(&chk.verdict, why, sizeof why);
        if (json) {
            char *s = sk_verdict_json(&chk);
            printf("%s\n", s ? s : "{}");
            free(s);
        } else if (check) {
            printf("%s may %sgenerate a session key for %s%s%s\n", as, chk.verdict.allowed ? "" : "not ", number,
                   chk.verdict.allowed ? "" : ": ", why);
        }
        if (!chk.verdict.allowed && !check)
            cli_fail("session key not allowed for %s: %s", number, why);
        rc = chk.verdict.allowed ? 0 : 1;
        goto out;
    }
    sk_result r;
    sk_generate(ic, &chk, as, SK_TIMEOUT_MS, &r);
    int64_t id = 0;
    int wrc = record(cli, &chk, &r, as, &id);
    if (!r.ok) {
        cli_fail("cannot generate a session key for %s: %s", chk.ticket.number, r.detail);
    } else if (!wrc) {
        if (json) {
            char *s = sk_result_json(&chk, &r, id);
            printf("%s\n", s ? s : "{}");
            free(s);
        } else {
            print_key(&chk, &r);
        }
        rc = 0;
    }
    sk_result_free(&r);
out:
    import_ctx_free(ic);
    ticket_store_free(ts);
    appliance_cache_close(apps);
    return rc;
}

/* ---- session-keys ---- */

static void fmt_time(int64_t t, char *out, size_t outsz)
{
    if (t > 0)
        tb_fmt_utc(t, out, outsz);
    else
        snprintf(out, outsz, "-");
}

static void print_json(const tb_session_key *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        const tb_session_key *k = &v[i];
        json_array_append_new(
            a, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:I}",
                         "id", (json_int_t)k->id, "created", (json_int_t)k->created_at, "appliance", k->appliance,
                         "task_table", k->task_table, "task_number", k->task_number, "task_sys_id", k->task_sys_id,
                         "acting_user", k->acting_user, "bt_username", k->bt_username, "queue_id", k->queue_id,
                         "short_key", k->short_key, "key_url", k->key_url, "expires", (json_int_t)k->expires_at,
                         "state", k->state, "error", k->error, "lsid", k->lsid, "session_seen",
                         (json_int_t)k->session_seen_at, "imported", (json_int_t)k->imported_at));
    }
    json_t *o = json_pack("{s:o}", "session_keys", a);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    printf("%s\n", s ? s : "{}");
    free(s);
    json_decref(o);
}

int cli_session_keys(tb_cli *cli, int argc, char **argv)
{
    enum { O_TICKET = 1, O_STATE, O_LIMIT, O_JSON, O_HELP };
    static const struct option opts[] = {
        {"ticket", required_argument, 0, O_TICKET}, {"state", required_argument, 0, O_STATE},
        {"limit", required_argument, 0, O_LIMIT},   {"json", no_argument, 0, O_JSON},
        {"help", no_argument, 0, O_HELP},           {0, 0, 0, 0},
    };
    static const char *const states[] = {"issued", "in_session", "import_queued", "imported", "import_failed",
                                         "expired", "failed"};
    tb_session_key_filter f = {.limit = 50};
    bool json = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_TICKET: f.task_number = optarg; break;
        case O_STATE: f.state = optarg; break;
        case O_LIMIT:
            if (cli_parse_limit(optarg, &f.limit))
                return 1;
            break;
        case O_JSON: json = true; break;
        case O_HELP: printf("usage: %s\n", SESSION_KEYS_USAGE); return 0;
        default: return cli_usage_error(SESSION_KEYS_USAGE);
        }
    }
    if (optind != argc)
        return cli_usage_error(SESSION_KEYS_USAGE);
    if (f.task_number && !sk_number_valid(f.task_number))
        return cli_fail("--ticket: invalid ticket number '%.80s'", f.task_number);
    if (f.state) {
        bool known = false;
        for (size_t i = 0; i < sizeof states / sizeof *states; i++)
            known |= !strcmp(states[i], f.state);
        if (!known)
            return cli_fail("--state: expected issued, in_session, import_queued, imported, import_failed, expired "
                            "or failed");
    }
    tb_store *st;
    tb_err e = store_open(cli->cfg.database, STORE_READ_ONLY, &st);
    if (e)
        return cli_fail("cannot open database %s: %s", cli->cfg.database, tb_strerror(e));
    tb_session_key *v;
    size_t n;
    e = store_session_key_list(st, &f, &v, &n);
    store_close(st);
    if (e)
        return cli_fail("cannot read session keys: %s", tb_strerror(e));
    if (json) {
        print_json(v, n);
    } else {
        printf("%-5s  %-19s  %-14s  %-12s  %-8s  %-13s  %-19s  %-32s  %s\n", "ID", "CREATED (UTC)", "TICKET", "USER",
               "KEY", "STATE", "EXPIRES (UTC)", "LSID", "ERROR");
        for (size_t i = 0; i < n; i++) {
            char created[32], expires[32];
            fmt_time(v[i].created_at, created, sizeof created);
            fmt_time(v[i].expires_at, expires, sizeof expires);
            printf("%-5lld  %-19s  %-14s  %-12s  %-8s  %-13s  %-19s  %-32s  %.120s\n", (long long)v[i].id, created,
                   v[i].task_number, v[i].acting_user, v[i].short_key[0] ? v[i].short_key : "-", v[i].state, expires,
                   v[i].lsid[0] ? v[i].lsid : "-", v[i].error[0] ? v[i].error : "");
        }
    }
    tb_session_keys_free(v, n);
    return 0;
}
