/* ticketbridge jit list|show|approve|deny: EPM just-in-time requests and
 * the approver's decisions (seed 004, "Approval UI actions"). A decision is
 * recorded here with its job; the daemon's workers send it to EPM. With a
 * remote ticket store (ticket_store = servicenow) the ticket's state is read
 * from the instance first, and the work note is queued for the daemon's
 * workers like the decision. */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bt/epm_wire.h"
#include "cli/cli.h"
#include "core/roles.h"
#include "core/secret.h"
#include "flow/epm_settings.h"
#include "flow/jit_decide.h"
#include "flow/ticket_store.h"
#include "itsm/itsm.h"
#include "store/store.h"
#include "store/store_jit.h"

#define JIT_USAGE                                                                                         \
    "ticketbridge jit list [--state none|pending|accepted|failed] [--limit N]\n"                          \
    "       ticketbridge jit show REQUEST [--json]\n"                                                     \
    "       ticketbridge jit approve REQUEST --reason TEXT (--once | --minutes N | --hours N) [--as USER]\n" \
    "       ticketbridge jit deny REQUEST --reason TEXT [--as USER]\n"                                    \
    "REQUEST: the EPM request id, the ticket number, or the EPM ticket number.\n"                         \
    "--minutes 5-1440, --hours 1-24. --as: the ticketbridge user (role x_bets_pmc_jit.user) recorded as\n" \
    "the approver (default: the login name running this command)."

static int open_db(tb_cli *cli, int flags, tb_store **st)
{
    tb_err e = store_open(cli->cfg.database, flags, st);
    return e ? cli_fail("cannot open database %s: %s (run 'ticketbridge init' first?)", cli->cfg.database,
                        tb_strerror(e))
             : 0;
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* Payload values come from EPM's endpoints: control characters are shown
 * as \xNN so that a value cannot drive the terminal. Values are cut at
 * 4 KiB (--json shows them whole). Rotating buffers: up to eight calls may
 * appear in one printf. */
static const char *clean(const char *s)
{
    static char bufs[8][4200];
    static unsigned next;
    char *out = bufs[next++ % 8];
    size_t n = 0;
    for (; s && *s && n + 5 < sizeof bufs[0]; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            n += (size_t)snprintf(out + n, sizeof bufs[0] - n, "\\x%02x", c);
        else
            out[n++] = (char)c;
    }
    out[n] = '\0';
    return out;
}

static int list(tb_cli *cli, int argc, char **argv)
{
    enum { O_STATE = 1, O_LIMIT };
    static const struct option opts[] = {
        {"state", required_argument, 0, O_STATE}, {"limit", required_argument, 0, O_LIMIT}, {0, 0, 0, 0}};
    tb_jit_filter f = {.limit = 50};
    optind = 1;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == O_STATE) {
            if (strcmp(optarg, "none") && strcmp(optarg, "pending") && strcmp(optarg, "accepted") &&
                strcmp(optarg, "failed"))
                return cli_fail("--state: none, pending, accepted or failed, not '%s'", optarg);
            f.state = optarg;
        } else if (o == O_LIMIT) {
            if (cli_parse_limit(optarg, &f.limit))
                return 1;
        } else {
            return cli_usage_error(JIT_USAGE);
        }
    }
    if (optind != argc)
        return cli_usage_error(JIT_USAGE);
    tb_store *st;
    if (open_db(cli, STORE_READ_ONLY, &st))
        return 1;
    tb_jit_request *v;
    size_t n;
    tb_err e = store_jit_request_list(st, &f, &v, &n);
    store_close(st);
    if (e)
        return cli_fail("cannot list JIT requests: %s", tb_strerror(e));
    if (!n) {
        printf("no JIT requests\n");
        return 0;
    }
    printf("%-36s %-11s %-10s %-13s %-9s %-6s %-24s %s\n", "REQUEST", "KIND", "EPM TICKET", "TICKET", "DECISION",
           "FINAL", "USER", "HOST");
    for (size_t i = 0; i < n; i++)
        printf("%-36s %-11s %-10s %-13s %-9s %-6s %-24s %s\n", v[i].request_id, v[i].kind, or_dash(v[i].epm_ticket),
               v[i].task_number, v[i].decision_state, v[i].final ? "yes" : "no", or_dash(clean(v[i].user_name)),
               or_dash(clean(v[i].host)));
    tb_jit_requests_free(v, n);
    return 0;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? clean(json_string_value(v)) : "";
}

static void print_request(json_t *j)
{
    char when[32];
    time_t t = (time_t)(json_integer_value(json_object_get(j, "created_ms")) / 1000);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime(&t));
    printf("request id:     %s\n", jstr(j, "request_id"));
    printf("kind:           %s access\n", jstr(j, "kind"));
    printf("EPM ticket:     %s\n", or_dash(jstr(j, "epm_ticket")));
    printf("requested at:   %s\n", or_dash(jstr(j, "requested_at")));
    printf("recorded:       %s UTC\n", when);
    printf("ticket:         %s (%s)\n", jstr(j, "task_number"), jstr(j, "task_table"));
    printf("user:           %s\n", or_dash(jstr(j, "user_name")));
    printf("host:           %s\n", or_dash(jstr(j, "host")));
    if (*jstr(j, "application"))
        printf("application:    %s\n", jstr(j, "application"));
    printf("reason:         %s\n", or_dash(jstr(j, "reason")));
    printf("decision state: %s%s\n", jstr(j, "decision_state"), json_is_true(json_object_get(j, "final")) ? " (final)" : "");
    if (*jstr(j, "epm_decision")) {
        char dur[64];
        epm_duration_text(jstr(j, "epm_duration"), dur, sizeof dur);
        printf("EPM decision:   %s by %s at %s, duration %s\n", jstr(j, "epm_decision"),
               or_dash(jstr(j, "epm_decided_by")), or_dash(jstr(j, "epm_decision_time")), dur);
    }
    json_t *ds = json_object_get(j, "decisions");
    size_t i;
    json_t *d;
    if (json_array_size(ds))
        printf("decisions:\n");
    json_array_foreach(ds, i, d) {
        char dur[64];
        epm_duration_text(jstr(d, "duration"), dur, sizeof dur);
        printf("  #%lld %s %s%s%s%s by %s: %s", (long long)json_integer_value(json_object_get(d, "id")),
               jstr(d, "decision_time"), jstr(d, "decision"), *jstr(d, "duration") ? " (" : "",
               *jstr(d, "duration") ? dur : "", *jstr(d, "duration") ? ")" : "", jstr(d, "performed_by"),
               jstr(d, "state"));
        json_int_t st = json_integer_value(json_object_get(d, "http_status"));
        if (st)
            printf(" (HTTP %lld)", (long long)st);
        if (*jstr(d, "error"))
            printf(": %s", jstr(d, "error"));
        printf("\n    reason: %s\n", jstr(d, "reason"));
    }
    json_t *details = json_object_get(j, "details");
    printf("details:\n");
    const char *k;
    json_t *v;
    json_object_foreach(details, k, v) {
        if (json_is_object(v)) {
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2) {
                if (json_is_string(v2) && *json_string_value(v2)) {
                    printf("  %s.", clean(k));
                    printf("%s: ", clean(k2));
                    printf("%s\n", clean(json_string_value(v2)));
                }
            }
        } else if (json_is_string(v) && *json_string_value(v)) {
            printf("  %s: ", clean(k));
            printf("%s\n", clean(json_string_value(v)));
        }
    }
}

static int show(tb_cli *cli, int argc, char **argv)
{
    bool as_json = false;
    const char *key = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = true;
        else if (argv[i][0] != '-' && !key)
            key = argv[i];
        else
            return cli_usage_error(JIT_USAGE);
    }
    if (!key)
        return cli_usage_error(JIT_USAGE);
    tb_store *st;
    if (open_db(cli, STORE_READ_ONLY, &st))
        return 1;
    void *j = NULL;
    tb_err e = store_jit_request_json(st, key, &j);
    store_close(st);
    if (e == TB_ERR_NOT_FOUND)
        return cli_fail("no JIT request, ticket or EPM ticket number '%s'", key);
    if (e)
        return cli_fail("cannot read the JIT request: %s", tb_strerror(e));
    if (as_json) {
        char *s = json_dumps(j, JSON_INDENT(2));
        if (s)
            printf("%s\n", s);
        free(s);
    } else {
        print_request(j);
    }
    json_decref(j);
    return 0;
}

/* --as USER: a ticketbridge user who may decide; else the login name. */
static int approver(tb_store *st, const char *as, char *out, size_t outsz)
{
    if (!as) {
        struct passwd *pw = getpwuid(geteuid());
        snprintf(out, outsz, "%s", pw && pw->pw_name ? pw->pw_name : "ticketbridge");
        return 0;
    }
    tb_account a;
    tb_err e = store_account_find(st, as, &a, NULL);
    if (e == TB_ERR_NOT_FOUND)
        return cli_fail("--as: no ticketbridge user '%s' (see 'ticketbridge user list')", as);
    if (e)
        return cli_fail("--as: cannot read the users: %s", tb_strerror(e));
    int rc = 0;
    if (a.disabled)
        rc = cli_fail("--as: user %s is disabled", as);
    else if (!roles_grant(a.roles, ROLE_JIT_USER))
        rc = cli_fail("--as: user %s lacks role %s", as, ROLE_JIT_USER);
    else
        snprintf(out, outsz, "%s", a.username);
    tb_account_clear(&a);
    return rc;
}

static int decide(tb_cli *cli, bool approve, int argc, char **argv)
{
    enum { O_REASON = 1, O_ONCE, O_MINUTES, O_HOURS, O_AS };
    static const struct option opts[] = {
        {"reason", required_argument, 0, O_REASON}, {"once", no_argument, 0, O_ONCE},
        {"minutes", required_argument, 0, O_MINUTES}, {"hours", required_argument, 0, O_HOURS},
        {"as", required_argument, 0, O_AS},         {0, 0, 0, 0}};
    jit_decision_input in = {.approve = approve, .reason = ""};
    const char *as = NULL;
    int durations = 0;
    optind = 1;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (o) {
        case O_REASON:
            in.reason = optarg;
            break;
        case O_ONCE:
            in.unit = EPM_DUR_ONCE;
            durations++;
            break;
        case O_MINUTES:
        case O_HOURS:
            in.unit = o == O_MINUTES ? EPM_DUR_MINUTES : EPM_DUR_HOURS;
            in.amount = strtol(optarg, &end, 10);
            if (end == optarg || *end)
                return cli_fail("%s", o == O_MINUTES ? EPM_MSG_MINUTES : EPM_MSG_HOURS);
            durations++;
            break;
        case O_AS:
            as = optarg;
            break;
        default:
            return cli_usage_error(JIT_USAGE);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(JIT_USAGE);
    in.request = argv[optind];
    if (durations > 1)
        return cli_fail("Choose one duration: --once, --minutes or --hours");
    jit_decision_outcome out;
    if (!jit_decision_check_input(&in, &out))
        return cli_fail("%s", out.message);
    tb_store *st;
    if (open_db(cli, 0, &st))
        return 1;
    char who[CREDENTIAL_USERNAME_MAX + 1];
    int rc = approver(st, as, who, sizeof who);
    in.performed_by = who;
    tb_secret_key key;
    char kp[TB_PATH_MAX + 8];
    tb_config_key_path(&cli->cfg, kp, sizeof kp);
    epm_settings *s = NULL;
    ticket_store *ts = NULL;
    itsm *tickets = NULL, *remote = NULL;
    jit_ticket_state known;
    bool is_remote = false;
    tb_err e = TB_OK;
    if (!rc && (e = tb_secret_key_load(kp, &key)))
        rc = cli_fail("cannot load secret key %s: %s", kp, tb_strerror(e));
    if (!rc) {
        e = epm_settings_load(st, &key, &s);
        tb_secret_key_wipe(&key);
        if (e)
            rc = cli_fail("cannot read the EPM configuration: %s", tb_strerror(e));
    }
    if (!rc && (e = ticket_store_new(&cli->cfg, &ts)))
        rc = cli_fail("cannot set up the ticket store: %s", tb_strerror(e));
    if (!rc && (is_remote = ticket_store_is_remote(ts))) {
        /* The writer-side handle of a remote store only queues writes: the
         * ticket's state is read first, on a handle of its own. */
        char why[300];
        bool found;
        if ((e = ticket_store_open(ts, &remote, why, sizeof why)))
            rc = cli_fail("Ticket system unavailable: %s", why);
        else if ((e = jit_ticket_state_read(st, remote, in.request, &known, &found, why, sizeof why)))
            rc = cli_fail("Ticket system unavailable: %s", why);
    }
    if (!rc && (e = ticket_store_wrap(ts, st, &tickets)))
        rc = cli_fail("cannot open the ticket store: %s", tb_strerror(e));
    if (!rc && !(e = store_begin(st))) {
        e = jit_decide(st, tickets, s, &in, is_remote ? &known : NULL, (int64_t)time(NULL), &out);
        if (!e && out.status == 200)
            e = store_commit(st);
        else
            store_rollback(st);
    }
    if (!rc && e)
        rc = cli_fail("cannot record the decision: %s", tb_strerror(e));
    if (!rc && out.status != 200)
        rc = out.detail[0] ? cli_fail("%s (%s)", out.message, out.detail) : cli_fail("%s", out.message);
    if (!rc) {
        char dur[64];
        epm_duration_text(out.duration, dur, sizeof dur);
        printf("%s%s%s%s for request %s (ticket %s) by %s: recorded; the decision is being sent to EPM\n",
               out.decision, approve ? " (" : "", approve ? dur : "", approve ? ")" : "", out.request_id, out.ticket,
               who);
        if (is_remote)
            printf("the work note on %s is queued; the daemon's workers write it to the ticket system\n",
                   out.ticket);
    }
    itsm_close(tickets);
    itsm_close(remote);
    ticket_store_free(ts);
    epm_settings_free(s);
    store_close(st);
    return rc;
}

int cli_jit(tb_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(JIT_USAGE);
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "help")) {
        printf("usage: %s\n", JIT_USAGE);
        return 0;
    }
    if (!strcmp(sub, "list"))
        return list(cli, argc - 1, argv + 1);
    if (!strcmp(sub, "show"))
        return show(cli, argc - 1, argv + 1);
    if (!strcmp(sub, "approve") || !strcmp(sub, "deny"))
        return decide(cli, !strcmp(sub, "approve"), argc - 1, argv + 1);
    return cli_usage_error(JIT_USAGE);
}
