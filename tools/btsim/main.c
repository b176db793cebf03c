/* btsim: BeyondTrust RS / PRA appliance simulator. See docs/btsim.md. */
#include "btsim.h"
#include "sim_net.h"
#include "core/log.h"

#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bt_app G = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .stop_mu = PTHREAD_MUTEX_INITIALIZER,
    .stop_cv = PTHREAD_COND_INITIALIZER,
    .qmu = PTHREAD_MUTEX_INITIALIZER,
    .qcv = PTHREAD_COND_INITIALIZER,
};

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    (void)sig;
    got_signal = 1;
}

static void usage(FILE *f)
{
    fputs("usage: btsim [options]\n"
          "  --listen ADDR:PORT        default 127.0.0.1:0 (0 = pick a free port)\n"
          "  --port-file PATH          write the bound port to PATH once listening\n"
          "  --product rs|pra          default rs\n"
          "  --namespace URI           reporting XML namespace\n"
          "  --command-namespace URI   command XML namespace (default: derived)\n"
          "  --hostname NAME           public site hostname used in URLs\n"
          "  --client-id ID --client-secret SECRET  (btsim-client / btsim-secret)\n"
          "  --token-ttl SEC           token lifetime (default 3600)\n"
          "  --max-tokens N            live tokens per client (default 30)\n"
          "  --seed N                  deterministic generation (default 1)\n"
          "  --sessions N              pre-generate N ended sessions\n"
          "  --report-file LSID=PATH   serve PATH verbatim as the report of LSID (repeatable)\n"
          "  --appliance-id ID         appliance_id in outbound events\n"
          "  --outbound-url URL        outbound event recipient\n"
          "  --end-event NAME          default support_conference_end\n"
          "  --begin-event NAME        default support_conference_begin\n"
          "  --member-event NAME       default support_conference_member_added\n"
          "  --owner-event NAME        default support_conference_owner_changed\n"
          "  --lifecycle-events        also send begin/member_added when generated sessions start\n"
          "  --events-to-send LIST     comma-separated event names the recipient gets (default all)\n"
          "  --send-custom-fields      add custom attributes to outbound POSTs\n"
          "  --custom-field-prefix P   prefix for custom field names in POSTs (default none)\n"
          "  --event-version V         outbound 'version' value (default 3)\n"
          "  --retry-interval SEC      default 1\n"
          "  --retry-duration SEC      default 60\n"
          "  --send-timeout SEC        default 10\n"
          "  --hang-seconds SEC        report-timeout fault hang (default 30)\n"
          "  --session-key-ttl SEC     default ttl of generate_session_key (default 3600)\n"
          "  --key-url-template T      key_url, {host} and {key} replaced (default https://{host}/?ak={key})\n"
          "  --custom-fields LIST      custom field code names defined on the appliance\n"
          "                            (default snow_task_id,snow_cmdb_ci_id,snow_case_id,customer_email,\n"
          "                            customer_username,custom_field_1,custom_field_2,custom_field_3)\n"
          "  --custom-field-error STYLE  validating (default) | code-name: message for an undefined field\n"
          "  --company-site NAME       companySiteName of .brcs-NAME files (default: first label of --hostname)\n"
          "  --ticket-system-url URL   PRA Jump Policy Ticket System URL\n"
          "  --ticket-system-header H  one \"Name: value\" header sent with each ticket-system request\n"
          "  --ticket-system-format F  json (default) | form\n"
          "  --ticket-system-timeout SEC  default 10\n"
          "  --fault SPEC              repeatable: token-5xx:N report-5xx:N report-slow:MS\n"
          "                            report-timeout:N expire-tokens lose-ack:N drop-connection:N\n"
          "  --run-sessions N          generate N ended sessions over time at --rate R/s (default 10)\n"
          "  --rate R\n"
          "  --exit-when-drained       exit 0 when all generated events are delivered or dropped\n"
          "  --quiet / --verbose\n",
          f);
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < 0)
        return false;
    *out = v;
    return true;
}

static bool parse_int(const char *s, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < 0)
        return false;
    *out = v;
    return true;
}

enum {
    O_LISTEN = 256, O_PORTFILE, O_PRODUCT, O_NS, O_CNS, O_HOST, O_CID, O_CSEC, O_TTL, O_MAXTOK,
    O_SEED, O_SESS, O_RFILE, O_APPID, O_URL, O_END, O_BEGIN, O_MEMBER, O_LIFE, O_SCF, O_CFP,
    O_EVER, O_RINT, O_RDUR, O_STO, O_HANG, O_FAULT, O_RUN, O_RATE, O_DRAIN, O_QUIET, O_VERB,
    O_HELP, O_OWNER, O_ETS, O_KTTL, O_KURL, O_CFIELDS, O_CFERR, O_CSITE, O_TSURL, O_TSHDR,
    O_TSFMT, O_TSTO
};

/* Splits a comma-separated list into names (empty items skipped). */
static void kvs_from_csv(bt_kvs *l, const char *csv)
{
    char *list = bt_strdup(csv), *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        kvs_set(l, tok, "");
    free(list);
}

int main(int argc, char **argv)
{
    bt_config *c = &G.cfg;
    c->listen = "127.0.0.1:0";
    c->client_id = "btsim-client";
    c->client_secret = "btsim-secret";
    c->seed = 1;
    c->end_event = "support_conference_end";
    c->begin_event = "support_conference_begin";
    c->member_event = "support_conference_member_added";
    c->custom_prefix = "";
    c->event_version = "3";
    c->retry_interval = 1;
    c->retry_duration = 60;
    c->send_timeout = 10;
    c->token_ttl = 3600;
    c->max_tokens = 30;
    c->hang_seconds = 30;
    c->rate = 10;
    c->owner_event = "support_conference_owner_changed";
    c->key_ttl = 3600;
    c->key_url_template = "https://{host}/?ak={key}";
    c->ts_format = "json";
    c->ts_timeout = 10;
    const char *custom_fields = NULL;
    const char *product = "rs";
    char **faults = calloc((size_t)argc + 1, sizeof *faults);
    int nfaults = 0;

    static const struct option opts[] = {
        {"listen", 1, 0, O_LISTEN}, {"port-file", 1, 0, O_PORTFILE},
        {"product", 1, 0, O_PRODUCT}, {"namespace", 1, 0, O_NS},
        {"command-namespace", 1, 0, O_CNS}, {"hostname", 1, 0, O_HOST},
        {"client-id", 1, 0, O_CID}, {"client-secret", 1, 0, O_CSEC},
        {"token-ttl", 1, 0, O_TTL}, {"max-tokens", 1, 0, O_MAXTOK},
        {"seed", 1, 0, O_SEED}, {"sessions", 1, 0, O_SESS},
        {"report-file", 1, 0, O_RFILE}, {"appliance-id", 1, 0, O_APPID},
        {"outbound-url", 1, 0, O_URL}, {"end-event", 1, 0, O_END},
        {"begin-event", 1, 0, O_BEGIN}, {"member-event", 1, 0, O_MEMBER},
        {"lifecycle-events", 0, 0, O_LIFE}, {"send-custom-fields", 0, 0, O_SCF},
        {"custom-field-prefix", 1, 0, O_CFP}, {"event-version", 1, 0, O_EVER},
        {"retry-interval", 1, 0, O_RINT}, {"retry-duration", 1, 0, O_RDUR},
        {"send-timeout", 1, 0, O_STO}, {"hang-seconds", 1, 0, O_HANG},
        {"fault", 1, 0, O_FAULT}, {"run-sessions", 1, 0, O_RUN}, {"rate", 1, 0, O_RATE},
        {"exit-when-drained", 0, 0, O_DRAIN}, {"quiet", 0, 0, O_QUIET},
        {"verbose", 0, 0, O_VERB}, {"help", 0, 0, O_HELP},
        {"owner-event", 1, 0, O_OWNER}, {"events-to-send", 1, 0, O_ETS},
        {"session-key-ttl", 1, 0, O_KTTL}, {"key-url-template", 1, 0, O_KURL},
        {"custom-fields", 1, 0, O_CFIELDS}, {"custom-field-error", 1, 0, O_CFERR},
        {"company-site", 1, 0, O_CSITE}, {"ticket-system-url", 1, 0, O_TSURL},
        {"ticket-system-header", 1, 0, O_TSHDR}, {"ticket-system-format", 1, 0, O_TSFMT},
        {"ticket-system-timeout", 1, 0, O_TSTO}, {0, 0, 0, 0},
    };
    int o;
    long long ll;
    bool bad = false;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_LISTEN: c->listen = optarg; break;
        case O_PORTFILE: c->port_file = optarg; break;
        case O_PRODUCT: product = optarg; break;
        case O_NS: c->ns_report = optarg; break;
        case O_CNS: c->ns_command = optarg; break;
        case O_HOST: c->hostname = optarg; break;
        case O_CID: c->client_id = optarg; break;
        case O_CSEC: c->client_secret = optarg; break;
        case O_TTL: bad |= !parse_double(optarg, &c->token_ttl); break;
        case O_MAXTOK: bad |= !parse_int(optarg, &ll) || ll < 1; c->max_tokens = (int)ll; break;
        case O_SEED: bad |= !parse_int(optarg, &ll); c->seed = (uint64_t)ll; break;
        case O_SESS: bad |= !parse_int(optarg, &ll); c->sessions = (int)ll; break;
        case O_RFILE: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                bad = true;
                break;
            }
            *eq = 0;
            kvs_set(&c->report_files, optarg, eq + 1);
            *eq = '=';
            break;
        }
        case O_APPID: c->appliance_id = optarg; break;
        case O_URL: c->outbound_url = optarg; break;
        case O_END: c->end_event = optarg; break;
        case O_BEGIN: c->begin_event = optarg; break;
        case O_MEMBER: c->member_event = optarg; break;
        case O_LIFE: c->lifecycle_events = true; break;
        case O_SCF: c->send_custom_fields = true; break;
        case O_CFP: c->custom_prefix = optarg; break;
        case O_EVER: c->event_version = optarg; break;
        case O_RINT: bad |= !parse_double(optarg, &c->retry_interval); break;
        case O_RDUR: bad |= !parse_double(optarg, &c->retry_duration); break;
        case O_STO: bad |= !parse_double(optarg, &c->send_timeout); break;
        case O_HANG: bad |= !parse_double(optarg, &c->hang_seconds); break;
        case O_FAULT: faults[nfaults++] = optarg; break;
        case O_RUN: bad |= !parse_int(optarg, &ll); c->run_sessions = (int)ll; break;
        case O_RATE: bad |= !parse_double(optarg, &c->rate) || c->rate <= 0; break;
        case O_DRAIN: c->exit_when_drained = true; break;
        case O_QUIET: c->verbosity = -1; break;
        case O_VERB: c->verbosity = 1; break;
        case O_OWNER: c->owner_event = optarg; break;
        case O_ETS: kvs_from_csv(&c->events_to_send, optarg); break;
        case O_KTTL: bad |= !parse_double(optarg, &c->key_ttl) || c->key_ttl < 1; break;
        case O_KURL: c->key_url_template = optarg; bad |= !strstr(optarg, "{key}"); break;
        case O_CFIELDS: custom_fields = optarg; break;
        case O_CFERR:
            c->custom_error_code_name = strcmp(optarg, "code-name") == 0;
            bad |= !c->custom_error_code_name && strcmp(optarg, "validating") != 0;
            break;
        case O_CSITE: c->company_site = optarg; bad |= !*optarg; break;
        case O_TSURL: c->ts_url = optarg; bad |= !ts_url_valid(optarg); break;
        case O_TSHDR: c->ts_header = optarg; bad |= !ts_header_valid(optarg); break;
        case O_TSFMT:
            c->ts_format = optarg;
            bad |= strcmp(optarg, "json") != 0 && strcmp(optarg, "form") != 0;
            break;
        case O_TSTO:
            bad |= !parse_double(optarg, &c->ts_timeout) || c->ts_timeout < 0.001 ||
                   c->ts_timeout > 300;
            break;
        case O_HELP: case 'h': usage(stdout); free(faults); kvs_free(&c->report_files); return 0;
        default: bad = true;
        }
    }
    if (strcmp(product, "rs") == 0)
        c->pra = false;
    else if (strcmp(product, "pra") == 0)
        c->pra = true;
    else
        bad = true;
    if (!bad && custom_fields_init(custom_fields) != TB_OK) {
        fprintf(stderr, "btsim: --custom-fields: code names are a-z, 0-9 and _ (at most %d "
                        "names of %d characters)\n", BT_MAX_CUSTOM_FIELDS, BT_CODE_NAME_MAX);
        bad = true;
    }
    if (bad || optind < argc) {
        usage(stderr);
        free(faults);
        kvs_free(&c->report_files);
        kvs_free(&c->events_to_send);
        kvs_free(&G.custom_fields);
        return 2;
    }
    /* [I] namespaces: configurable, defaults per product (doc §2.6) */
    if (!c->ns_report)
        c->ns_report = c->pra ? "http://www.beyondtrust.com/sra/namespaces/API/reporting"
                              : "http://www.bomgar.com/namespaces/API/reporting";
    char *ns_cmd_alloc = NULL;
    if (!c->ns_command) {
        size_t l = strlen(c->ns_report);
        if (l >= 10 && strcmp(c->ns_report + l - 10, "/reporting") == 0)
            ns_cmd_alloc = bt_strdupf("%.*s/command", (int)(l - 10), c->ns_report);
        else
            ns_cmd_alloc = bt_strdupf("%s", c->ns_report);
        c->ns_command = ns_cmd_alloc;
    }
    if (!c->hostname)
        c->hostname = c->pra ? "access.example.com" : "support.example.com";
    char *site_alloc = NULL;
    if (!c->company_site) /* [I] the company site name is the site's short name */
        c->company_site = site_alloc = bt_strdupf("%.*s", (int)strcspn(c->hostname, "."),
                                                  c->hostname);
    jump_init();
    G.rng = c->seed * 0x2545F4914F6CDD1DULL + 0x1234567ULL;
    char *appid_alloc = NULL;
    if (!c->appliance_id) {
        uint64_t h = c->seed * 0x9e3779b97f4a7c15ULL ^ 0xb7e151628aed2a6bULL;
        appid_alloc = bt_strdupf("%08x-%04x-%04x-%04x-%012llx", (unsigned)(h >> 32),
                                 (unsigned)(h >> 16) & 0xffff, (unsigned)h & 0xffff,
                                 (unsigned)(c->seed & 0xffff),
                                 (unsigned long long)(h * 31) & 0xffffffffffffULL);
        c->appliance_id = appid_alloc;
    }

    tb_log_open(NULL, c->verbosity < 0 ? TB_LOG_WARN : c->verbosity > 0 ? TB_LOG_DEBUG : TB_LOG_INFO);
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "btsim: library init failed\n");
        return 1;
    }
    G.tokens = calloc((size_t)c->max_tokens, sizeof *G.tokens);
    int rc = 0;
    for (int i = 0; i < nfaults; i++) {
        if (fault_add(faults[i]) != TB_OK) {
            fprintf(stderr, "btsim: bad --fault %s\n", faults[i]);
            rc = 2;
        }
    }
    free(faults);
    if (rc)
        goto out;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* pre-generated ended sessions, spaced 30 s apart, the last ending now */
    pthread_mutex_lock(&G.mu);
    int64_t now0 = (int64_t)bt_now();
    for (int i = 0; i < c->sessions; i++) {
        bt_gen_opts go = {.end = now0 - (int64_t)(c->sessions - 1 - i) * 30};
        bt_session *s = gen_session(&go);
        outbound_session_event(s, c->end_event, NULL, NULL);
    }
    pthread_mutex_unlock(&G.mu);

    int port = 0;
    if (server_start(&port) != TB_OK) {
        fprintf(stderr, "btsim: cannot listen on %s\n", c->listen);
        rc = 1;
        goto out;
    }
    if (outbound_start() != TB_OK) {
        rc = 1;
        server_stop();
        goto out;
    }
    if (c->port_file)
        (void)sim_write_port_file(c->port_file, port);
    TB_LOGI("btsim listening", "listen=%s port=%d product=%s sessions=%d", c->listen, port,
            c->pra ? "pra" : "rs", c->sessions);

    double t0 = bt_now();
    int generated = 0;
    while (!got_signal) {
        if (generated < c->run_sessions) {
            int due = (int)((bt_now() - t0) * c->rate) + 1;
            if (due > c->run_sessions)
                due = c->run_sessions;
            if (due > generated) {
                pthread_mutex_lock(&G.mu);
                for (; generated < due; generated++) {
                    bt_gen_opts go = {0};
                    bt_session *s = gen_session(&go);
                    outbound_session_event(s, c->end_event, NULL, NULL);
                }
                pthread_mutex_unlock(&G.mu);
            }
        }
        if (c->exit_when_drained && generated >= c->run_sessions && outbound_drained())
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    TB_LOGI("btsim stopping", "signal=%d", (int)got_signal);
    bt_request_stop();
    server_stop();
    outbound_stop();
    if (c->exit_when_drained && !got_signal) {
        char *st = stats_json();
        printf("%s\n", st);
        fflush(stdout);
        free(st);
    }
out:
    pthread_mutex_lock(&G.mu);
    sessions_free_all();
    pthread_mutex_unlock(&G.mu);
    free(G.tokens);
    free(ns_cmd_alloc);
    free(appid_alloc);
    free(site_alloc);
    jump_free();
    kvs_free(&G.custom_fields);
    kvs_free(&c->events_to_send);
    kvs_free(&c->report_files);
    curl_global_cleanup();
    tb_log_flush();
    tb_log_close();
    return rc;
}
