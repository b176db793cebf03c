/* ticketbridge rs config show|set ... | rs pull: the Remote Support
 * integration properties (seeds 001/002 "Configure ... Properties",
 * "Configure Incident States", "Set Up Scheduled Job"; 003 "Configure Case
 * States") and running the pull job now. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "flow/session_key_rules.h"
#include "store/store.h"
#include "store/store_session_key.h"

#define RS_USAGE "ticketbridge rs config show [--json] | rs config set OPTIONS | rs pull"
#define RS_SET_USAGE                                                                                       \
    "ticketbridge rs config set [--session-keys yes|no] [--pull yes|no] [--pull-interval-minutes N]\n"    \
    "       [--pull-interval-seconds N] [--fallback-queue QUEUE] [--key-ttl SECONDS] [--key-grace-minutes N]\n" \
    "       [--incident-state-below N|none] [--incident-states-excluded LIST] [--case-states LIST]\n"     \
    "The Remote Support integration properties. Incidents may get a key while their state is below\n"  \
    "--incident-state-below (default 6) and not in --incident-states-excluded; cases while their state\n" \
    "is in --case-states (default 1,10,18); other tasks while active. --key-ttl 0 lets the appliance\n" \
    "choose. --fallback-queue: general, rep:ID, team:ID, rep_username:NAME or issue:CODE_NAME."
#define RS_PULL_USAGE                                                                                       \
    "ticketbridge rs pull\n"                                                                               \
    "Queues the pull of sessions started with remembered keys now (a running daemon runs it)."

static int parse_yes_no(const char *opt, const char *v, bool *out)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
        *out = false;
    else
        return cli_fail("%s: expected yes or no, got '%.40s'", opt, v);
    return 0;
}

static int parse_int(const char *opt, const char *v, long long lo, long long hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end || errno || n < lo || n > hi)
        return cli_fail("%s: expected a whole number from %lld to %lld, got '%.40s'", opt, lo, hi, v);
    *out = n;
    return 0;
}

static int parse_list(const char *opt, const char *v, char *out, size_t outsz)
{
    char err[160];
    if (sk_state_list_parse(v, out, outsz, err, sizeof err))
        return cli_fail("%s: %s", opt, err);
    return 0;
}

static void show(const tb_rs_settings *s, bool json)
{
    char next[32];
    if (s->pull_next_at > 0)
        tb_fmt_utc(s->pull_next_at, next, sizeof next);
    else
        snprintf(next, sizeof next, "due");
    if (json) {
        json_t *o = json_pack("{s:b, s:b, s:I, s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "session_keys",
                              s->session_keys_enabled, "pull", s->pull_enabled, "pull_interval_seconds",
                              (json_int_t)s->pull_interval_s, "next_pull", next, "fallback_queue", s->fallback_queue,
                              "key_ttl_seconds", (json_int_t)s->key_ttl_s, "key_grace_seconds",
                              (json_int_t)s->key_grace_s, "incident_state_below",
                              (json_int_t)s->incident_state_below, "incident_states_excluded",
                              s->incident_states_excluded, "case_states", s->case_states);
        char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
        printf("%s\n", t ? t : "{}");
        free(t);
        json_decref(o);
        return;
    }
    printf("session keys:              %s\n", s->session_keys_enabled ? "yes" : "no");
    printf("pull sessions:             %s\n", s->pull_enabled ? "yes" : "no");
    if (s->pull_interval_s % 60 == 0)
        printf("pull interval:             %lld minutes\n", (long long)s->pull_interval_s / 60);
    else
        printf("pull interval:             %lld seconds\n", (long long)s->pull_interval_s);
    printf("next pull:                 %s%s\n", next, s->pull_next_at > 0 ? " UTC" : "");
    printf("fallback queue:            %s\n", s->fallback_queue);
    if (s->key_ttl_s)
        printf("key ttl:                   %lld seconds\n", (long long)s->key_ttl_s);
    else
        printf("key ttl:                   the appliance's default\n");
    printf("key grace:                 %lld minutes\n", (long long)s->key_grace_s / 60);
    if (s->incident_state_below)
        printf("incident states:           below %lld", (long long)s->incident_state_below);
    else
        printf("incident states:           any");
    printf("%s%s\n", s->incident_states_excluded[0] ? ", except " : "", s->incident_states_excluded);
    printf("case states:               %s\n", s->case_states[0] ? s->case_states : "(none)");
}

static int config_set(tb_store *st, int argc, char **argv)
{
    enum { O_KEYS = 1, O_PULL, O_PULL_MIN, O_PULL_SEC, O_QUEUE, O_TTL, O_GRACE, O_BELOW, O_EXCL, O_CASE, O_HELP };
    static const struct option opts[] = {
        {"session-keys", required_argument, 0, O_KEYS},
        {"pull", required_argument, 0, O_PULL},
        {"pull-interval-minutes", required_argument, 0, O_PULL_MIN},
        {"pull-interval-seconds", required_argument, 0, O_PULL_SEC},
        {"fallback-queue", required_argument, 0, O_QUEUE},
        {"key-ttl", required_argument, 0, O_TTL},
        {"key-grace-minutes", required_argument, 0, O_GRACE},
        {"incident-state-below", required_argument, 0, O_BELOW},
        {"incident-states-excluded", required_argument, 0, O_EXCL},
        {"case-states", required_argument, 0, O_CASE},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    tb_rs_settings s;
    tb_err e = store_rs_settings_get(st, &s);
    if (e)
        return cli_fail("cannot read the integration properties: %s", tb_strerror(e));
    optind = 1;
    opterr = 0;
    int c, changes = 0;
    int64_t v;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        changes++;
        switch (c) {
        case O_KEYS: rc = parse_yes_no("--session-keys", optarg, &s.session_keys_enabled); break;
        case O_PULL: rc = parse_yes_no("--pull", optarg, &s.pull_enabled); break;
        case O_PULL_MIN:
            if (!(rc = parse_int("--pull-interval-minutes", optarg, 1, 1440, &v)))
                s.pull_interval_s = v * 60;
            break;
        case O_PULL_SEC: rc = parse_int("--pull-interval-seconds", optarg, 1, 86400, &s.pull_interval_s); break;
        case O_QUEUE:
            if (!sk_queue_id_valid(optarg))
                rc = cli_fail("--fallback-queue: expected general, rep:ID, team:ID, rep_username:NAME or "
                              "issue:CODE_NAME");
            else
                snprintf(s.fallback_queue, sizeof s.fallback_queue, "%s", optarg);
            break;
        case O_TTL: rc = parse_int("--key-ttl", optarg, 0, 31536000, &s.key_ttl_s); break;
        case O_GRACE:
            if (!(rc = parse_int("--key-grace-minutes", optarg, 0, 10080, &v)))
                s.key_grace_s = v * 60;
            break;
        case O_BELOW:
            if (!strcmp(optarg, "none"))
                s.incident_state_below = 0;
            else
                rc = parse_int("--incident-state-below", optarg, 1, 1000000, &s.incident_state_below);
            break;
        case O_EXCL:
            rc = parse_list("--incident-states-excluded", optarg, s.incident_states_excluded,
                            sizeof s.incident_states_excluded);
            break;
        case O_CASE: rc = parse_list("--case-states", optarg, s.case_states, sizeof s.case_states); break;
        case O_HELP: printf("usage: %s\n", RS_SET_USAGE); return 0;
        default: return cli_usage_error(RS_SET_USAGE);
        }
        if (rc)
            return rc;
    }
    if (optind != argc || !changes)
        return cli_usage_error(RS_SET_USAGE);
    char err[200];
    if (sk_settings_check(&s, err, sizeof err))
        return cli_fail("%s", err);
    if ((e = store_rs_settings_put(st, &s, tb_now_ms() / 1000)))
        return cli_fail("cannot save the integration properties: %s", tb_strerror(e));
    show(&s, false);
    return 0;
}

int cli_rs(tb_cli *cli, int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
        printf("usage: %s\n", RS_USAGE);
        return 0;
    }
    bool cfg = argc >= 3 && !strcmp(argv[1], "config");
    bool pull = argc >= 2 && !strcmp(argv[1], "pull");
    if (!(cfg && (!strcmp(argv[2], "show") || !strcmp(argv[2], "set"))) && !pull)
        return cli_usage_error(RS_USAGE);
    bool set = cfg && !strcmp(argv[2], "set");
    if (pull && argc == 3 && !strcmp(argv[2], "--help")) {
        printf("usage: %s\n", RS_PULL_USAGE);
        return 0;
    }
    bool json = false;
    if (cfg && !set) {
        for (int i = 3; i < argc; i++) {
            if (!strcmp(argv[i], "--json"))
                json = true;
            else if (!strcmp(argv[i], "--help")) {
                printf("usage: ticketbridge rs config show [--json]\n");
                return 0;
            } else
                return cli_usage_error("ticketbridge rs config show [--json]");
        }
    }
    if (pull && argc != 2)
        return cli_usage_error(RS_PULL_USAGE);
    tb_store *st;
    tb_err e = store_open(cli->cfg.database, set || pull ? 0 : STORE_READ_ONLY, &st);
    if (e)
        return cli_fail("cannot open database %s: %s", cli->cfg.database, tb_strerror(e));
    int rc = 0;
    if (set) {
        rc = config_set(st, argc - 2, argv + 2);
    } else if (pull) {
        int64_t n = 0;
        if ((e = store_session_key_pull_schedule(st, tb_now_ms() / 1000, true, &n)))
            rc = cli_fail("cannot queue the pull: %s", tb_strerror(e));
        else if (!n)
            printf("nothing to pull: no remembered key waits for its session, or a pull is already queued\n");
        else
            printf("%lld pull job%s queued\n", (long long)n, n == 1 ? "" : "s");
    } else {
        tb_rs_settings s;
        if ((e = store_rs_settings_get(st, &s)))
            rc = cli_fail("cannot read the integration properties: %s", tb_strerror(e));
        else
            show(&s, json);
    }
    store_close(st);
    return rc;
}
