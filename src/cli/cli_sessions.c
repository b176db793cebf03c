/* ticketbridge sessions | session LSID | import --appliance NAME --lsid LSID */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/secret.h"
#include "flow/appliance_cache.h"
#include "flow/import.h"
#include "http/client.h"
#include "itsm/itsm.h"
#include "store/store.h"
#include "store/writer.h"

#define SESSIONS_USAGE "ticketbridge sessions [--task NUMBER] [--ci NAME] [--limit N]"
#define SESSION_USAGE "ticketbridge session LSID [--json]"
#define IMPORT_USAGE "ticketbridge import --appliance NAME --lsid LSID"

/* Resolves a task number / CI name to its sys_id through the ticket store. */
static int resolve(tb_cli *cli, const char *task, const char *ci, char task_id[33], char ci_id[33])
{
    itsm *t;
    char oerr[256];
    tb_err e = itsm_open(&cli->cfg, &t, oerr, sizeof oerr);
    if (e)
        return cli_fail("%s", oerr);
    int rc = 0;
    if (task) {
        itsm_record *r = NULL;
        if (itsm_find_task(t, task, NULL, &r) || !r)
            rc = cli_fail("no such ticket: %s", task);
        else
            snprintf(task_id, 33, "%s", r->sys_id);
        itsm_record_free(r);
    }
    if (!rc && ci) {
        itsm_kv kv = {"name", ci};
        itsm_record **v = NULL;
        size_t n = 0;
        if (itsm_query(t, "cmdb_ci", &kv, 1, 1, 1, 0, &v, &n) || !n)
            rc = cli_fail("no such configuration item: %s", ci);
        else
            snprintf(ci_id, 33, "%s", v[0]->sys_id);
        itsm_records_free(v, n);
    }
    itsm_close(t);
    return rc;
}

int cli_sessions(tb_cli *cli, int argc, char **argv)
{
    const char *task = NULL, *ci = NULL;
    tb_session_filter f = {.limit = 50};
    static const struct option opts[] = {
        {"task", required_argument, 0, 't'},
        {"ci", required_argument, 0, 'c'},
        {"limit", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': task = optarg; break;
        case 'c': ci = optarg; break;
        case 'n':
            if (cli_parse_limit(optarg, &f.limit))
                return 1;
            break;
        case 'h': printf("usage: %s\n", SESSIONS_USAGE); return 0;
        default: return cli_usage_error(SESSIONS_USAGE);
        }
    }
    if (optind != argc)
        return cli_usage_error(SESSIONS_USAGE);
    char task_id[33] = "", ci_id[33] = "";
    if ((task || ci) && resolve(cli, task, ci, task_id, ci_id))
        return 1;
    f.task_sys_id = task ? task_id : NULL;
    f.ci_sys_id = ci ? ci_id : NULL;
    tb_store *st;
    tb_err e = store_open(cli->cfg.database, STORE_READ_ONLY, &st);
    if (e)
        return cli_fail("cannot open database %s: %s", cli->cfg.database, tb_strerror(e));
    tb_session_row *v;
    size_t n;
    e = store_session_list(st, &f, &v, &n);
    store_close(st);
    if (e)
        return cli_fail("cannot list sessions: %s", tb_strerror(e));
    printf("%-32s %-10s %-4s %-19s %-8s %-14s %-20s %-6s %-5s %-5s %s\n", "LSID", "APPLIANCE", "PROD",
           "END (UTC)", "DURATION", "TASK", "REP", "EVENTS", "USERS", "FILES", "NOTE");
    for (size_t i = 0; i < n; i++) {
        char end[32] = "-", dur[48] = "-";
        if (v[i].end_time)
            tb_fmt_utc(v[i].end_time, end, sizeof end);
        if (v[i].duration >= 0)
            snprintf(dur, sizeof dur, "%02lld:%02lld:%02lld", (long long)v[i].duration / 3600,
                     (long long)v[i].duration / 60 % 60, (long long)v[i].duration % 60);
        printf("%-32s %-10.10s %-4s %-19s %-8s %-14s %-20.20s %-6lld %-5lld %-5lld %s\n", v[i].lsid,
               v[i].appliance, v[i].product, end, dur, v[i].task_number[0] ? v[i].task_number : "-",
               v[i].primary_rep[0] ? v[i].primary_rep : "-", (long long)v[i].nevents, (long long)v[i].nusers,
               (long long)v[i].nfiles, v[i].noted ? "yes" : "no");
    }
    tb_session_rows_free(v, n);
    return 0;
}

int cli_session(tb_cli *cli, int argc, char **argv)
{
    const char *lsid = NULL;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = true;
        else if (!strcmp(argv[i], "--help")) {
            printf("usage: %s\n", SESSION_USAGE);
            return 0;
        } else if (!lsid && argv[i][0] != '-')
            lsid = argv[i];
        else
            return cli_usage_error(SESSION_USAGE);
    }
    if (!lsid)
        return cli_usage_error(SESSION_USAGE);
    tb_store *st;
    tb_err e = store_open(cli->cfg.database, STORE_READ_ONLY, &st);
    if (e)
        return cli_fail("cannot open database %s: %s", cli->cfg.database, tb_strerror(e));
    void *doc = NULL;
    e = store_session_json(st, lsid, &doc);
    store_close(st);
    if (e == TB_ERR_NOT_FOUND)
        return cli_fail("no imported session %s", lsid);
    if (e)
        return cli_fail("cannot read session %s: %s", lsid, tb_strerror(e));
    json_t *o = doc;
    if (as_json) {
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else {
        const char *k;
        json_t *val;
        json_object_foreach(o, k, val) {
            if (json_is_array(val))
                printf("%-26s %zu\n", k, json_array_size(val));
            else if (json_is_integer(val))
                printf("%-26s %lld\n", k, (long long)json_integer_value(val));
            else if (json_is_string(val))
                printf("%-26s %s\n", k, json_string_value(val));
        }
        json_t *events = json_object_get(o, "events");
        size_t i;
        json_t *ev;
        json_array_foreach(events, i, ev) {
            char when[32];
            tb_fmt_utc(json_integer_value(json_object_get(ev, "timestamp")), when, sizeof when);
            const char *by = json_string_value(json_object_get(ev, "performed_by"));
            const char *body = json_string_value(json_object_get(ev, "body"));
            printf("  %s  %-32s %s%s%s\n", when, json_string_value(json_object_get(ev, "event_type")),
                   by ? by : "", body ? ": " : "", body ? body : "");
        }
    }
    json_decref(o);
    return 0;
}

int cli_import(tb_cli *cli, int argc, char **argv)
{
    const char *name = NULL, *lsid = NULL;
    static const struct option opts[] = {
        {"appliance", required_argument, 0, 'a'},
        {"lsid", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a': name = optarg; break;
        case 'l': lsid = optarg; break;
        case 'h': printf("usage: %s\n", IMPORT_USAGE); return 0;
        default: return cli_usage_error(IMPORT_USAGE);
        }
    }
    if (optind != argc || !lsid)
        return cli_usage_error(IMPORT_USAGE);
    if (!name)
        name = "Default";
    char kp[TB_PATH_MAX + 8];
    tb_config_key_path(&cli->cfg, kp, sizeof kp);
    tb_secret_key key;
    tb_err e = tb_secret_key_load(kp, &key);
    if (e)
        return cli_fail("cannot load secret key %s: %s", kp, tb_strerror(e));
    appliance_cache *apps = NULL;
    tb_writer *w = NULL;
    import_ctx *ic = NULL;
    ticket_store *ts = NULL;
    int rc = 1;
    e = appliance_cache_open(cli->cfg.database, &key, &apps);
    tb_secret_key_wipe(&key);
    if (e) {
        cli_fail("cannot read appliance records: %s", tb_strerror(e));
        goto out;
    }
    appliance_snapshot *snap = appliance_cache_acquire(apps);
    const appliance_entry *a = appliance_find_name(snap, name);
    int64_t id = a ? a->id : 0;
    appliance_cache_release(apps, snap);
    if (!id) {
        cli_fail("no such appliance: %s", name);
        goto out;
    }
    if ((e = tb_http_client_global_init()) || (e = writer_start(cli->cfg.database, 64, &w))) {
        cli_fail("cannot start: %s", tb_strerror(e));
        goto out;
    }
    if ((e = ticket_store_new(&cli->cfg, &ts))) {
        cli_fail("cannot set up the ticket store: %s", tb_strerror(e));
        goto out;
    }
    import_opts io = {.db_path = cli->cfg.database, .tickets = ts, .appliances = apps, .writer = w};
    if ((e = import_ctx_new(&io, &ic))) {
        cli_fail("cannot start the importer: %s", tb_strerror(e));
        goto out;
    }
    import_result res;
    char err[512];
    e = import_lsid(ic, id, lsid, &res, err, sizeof err);
    if (e) {
        cli_fail("import of %s failed: %s", lsid, err[0] ? err : tb_strerror(e));
        goto out;
    }
    if (res.skipped_external)
        printf("session %s not imported: it is linked to no ticket and appliance %s does not import external sessions\n",
               lsid, name);
    else
        printf("session %s imported; ticket %s; work notes written %zu\n", lsid,
               res.task_number[0] ? res.task_number : "(none)", res.notes);
    rc = 0;
out:
    import_ctx_free(ic);
    ticket_store_free(ts);
    writer_stop(w);
    appliance_cache_close(apps);
    return rc;
}
