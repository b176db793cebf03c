/* epmsim: BeyondTrust EPM (PM Cloud) stand-in. See docs/epmsim.md. */
#include "epmsim.h"
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

ep_app E = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .stop_mu = PTHREAD_MUTEX_INITIALIZER,
    .stop_cv = PTHREAD_COND_INITIALIZER,
    .qmu = PTHREAD_MUTEX_INITIALIZER,
    .qcv = PTHREAD_COND_INITIALIZER,
    .qdone = PTHREAD_COND_INITIALIZER,
};

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    (void)sig;
    got_signal = 1;
}

static void usage(FILE *f)
{
    fputs("usage: epmsim [options]\n"
          "  --port N                    API listener port (default 0 = pick a free one)\n"
          "  --address ADDR              listen address (default 127.0.0.1; IPv6 allowed)\n"
          "  --port-file FILE            write the bound port to FILE once listening\n"
          "  --control-port N            extra listener for /_epmsim/ only (stays up while the\n"
          "                              API listener is down); 0 = pick a free one\n"
          "  --control-port-file FILE    write the control port to FILE\n"
          "  --client-id ID              OAuth client id (default epmsim-client)\n"
          "  --client-secret SECRET      OAuth client secret (default epmsim-secret)\n"
          "  --token-ttl SEC             token lifetime, may be fractional (default 3600)\n"
          "  --webhook-url URL           webhook recipient (default\n"
          "      http://127.0.0.1:8080/api/x_bets_pmc_jit/authorization_request_webhook_handler)\n"
          "  --webhook-user USER         Basic authentication user\n"
          "  --webhook-password PASS     Basic authentication password\n"
          "  --webhook-auth-header VALUE \"Custom\" authentication: the Authorization header value\n"
          "  --webhook-retry-interval SEC  between attempts (default 1)\n"
          "  --webhook-max-attempts N    attempts per webhook (default 3)\n"
          "  --webhook-timeout SEC       per attempt (default 10)\n"
          "  --tenant-id GUID            TenantId in webhooks (default: random)\n"
          "  --auto-update               send the decision-updated webhook after each decision\n"
          "  --accept-unknown-requests   accept decisions for requests epmsim never created\n"
          "  --final-decision-status N   answer to a second decision (default 409)\n"
          "  --invalid-client-status N   400 or 401 for bad client credentials (default 401)\n"
          "  --path NAME=PATH            token, app_decision, app_read, admin_decision,\n"
          "                              admin_read, admin_decision_method (repeatable)\n"
          "  --log-level LEVEL           debug, info, warn or error (default info)\n"
          "  --help\n",
          f);
}

static bool parse_port(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0 || v > 65535)
        return false;
    *out = (int)v;
    return true;
}

static bool put_string(json_t *settings, const char *key, const char *s)
{
    json_t *v = json_string(s);     /* NULL: not UTF-8 */
    return v && json_object_set_new(settings, key, v) == 0;
}

/* A number option becomes a JSON number for config_apply_json. */
static bool put_number(json_t *settings, const char *key, const char *s, bool integer)
{
    char *end;
    if (integer) {
        long long v = strtoll(s, &end, 10);
        if (end == s || *end)
            return false;
        json_object_set_new(settings, key, json_integer(v));
    } else {
        double v = strtod(s, &end);
        if (end == s || *end)
            return false;
        json_object_set_new(settings, key, json_real(v));
    }
    return true;
}

enum {
    O_PORT = 256, O_ADDR, O_PFILE, O_CPORT, O_CPFILE, O_CID, O_CSEC, O_TTL, O_WURL, O_WUSER,
    O_WPASS, O_WHDR, O_WRINT, O_WMAX, O_WTO, O_TENANT, O_AUTO, O_UNKNOWN, O_FINAL, O_INVCL,
    O_PATH, O_LOG, O_HELP
};

static void defaults(ep_config *c)
{
    c->address = ep_strdup("127.0.0.1");
    c->port = 0;
    c->control_port = -1;
    c->client_id = ep_strdup("epmsim-client");
    c->client_secret = ep_strdup("epmsim-secret");
    c->token_ttl = 3600;
    /* [V] seed 004: the webhook URL pattern of the ServiceNow app */
    c->webhook_url =
        ep_strdup("http://127.0.0.1:8080/api/x_bets_pmc_jit/authorization_request_webhook_handler");
    c->webhook_user = ep_strdup("");
    c->webhook_password = ep_strdup("");
    c->webhook_auth_header = ep_strdup("");
    c->webhook_retry_interval = 1;
    c->webhook_max_attempts = 3;
    c->webhook_timeout = 10;
    char g[37];
    ep_guid(g);
    c->tenant_id = ep_strdup(g);
    wire_defaults(&c->wire);
}

static void free_state(void)
{
    pthread_mutex_lock(&E.mu);
    registry_free_all();
    json_decref(E.decisions);
    json_decref(E.sink);
    for (size_t i = 0; i < E.nfaults; i++)
        free(E.faults[i].message);
    free(E.faults);
    if (E.tokens)
        sodium_memzero(E.tokens, EP_MAX_TOKENS * sizeof *E.tokens);
    free(E.tokens);
    config_free(&E.cfg);
    pthread_mutex_unlock(&E.mu);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "epmsim: library init failed\n");
        return 1;
    }
    ep_config *c = &E.cfg;
    defaults(c);
    json_t *settings = json_object();
    json_t *paths = json_object();
    const char *log_level = "info";
    static const struct option opts[] = {
        {"port", 1, 0, O_PORT}, {"address", 1, 0, O_ADDR}, {"port-file", 1, 0, O_PFILE},
        {"control-port", 1, 0, O_CPORT}, {"control-port-file", 1, 0, O_CPFILE},
        {"client-id", 1, 0, O_CID}, {"client-secret", 1, 0, O_CSEC},
        {"token-ttl", 1, 0, O_TTL}, {"webhook-url", 1, 0, O_WURL},
        {"webhook-user", 1, 0, O_WUSER}, {"webhook-password", 1, 0, O_WPASS},
        {"webhook-auth-header", 1, 0, O_WHDR}, {"webhook-retry-interval", 1, 0, O_WRINT},
        {"webhook-max-attempts", 1, 0, O_WMAX}, {"webhook-timeout", 1, 0, O_WTO},
        {"tenant-id", 1, 0, O_TENANT}, {"auto-update", 0, 0, O_AUTO},
        {"accept-unknown-requests", 0, 0, O_UNKNOWN}, {"final-decision-status", 1, 0, O_FINAL},
        {"invalid-client-status", 1, 0, O_INVCL}, {"path", 1, 0, O_PATH},
        {"log-level", 1, 0, O_LOG}, {"help", 0, 0, O_HELP}, {0, 0, 0, 0},
    };
    int o, rc = 0;
    bool bad = false;
    const char *bad_opt = NULL;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        bool ok = true;
        switch (o) {
        case O_PORT: ok = parse_port(optarg, &c->port); break;
        case O_ADDR: ep_set_str(&c->address, optarg); break;
        case O_PFILE: ep_set_str(&c->port_file, optarg); break;
        case O_CPORT: ok = parse_port(optarg, &c->control_port); break;
        case O_CPFILE: ep_set_str(&c->control_port_file, optarg); break;
        case O_CID: ok = put_string(settings, "client_id", optarg); break;
        case O_CSEC: ok = put_string(settings, "client_secret", optarg); break;
        case O_TTL: ok = put_number(settings, "token_ttl", optarg, false); break;
        case O_WURL: ok = put_string(settings, "webhook_url", optarg); break;
        case O_WUSER: ok = put_string(settings, "webhook_user", optarg); break;
        case O_WPASS: ok = put_string(settings, "webhook_password", optarg); break;
        case O_WHDR: ok = put_string(settings, "webhook_auth_header", optarg); break;
        case O_WRINT: ok = put_number(settings, "webhook_retry_interval", optarg, false); break;
        case O_WMAX: ok = put_number(settings, "webhook_max_attempts", optarg, true); break;
        case O_WTO: ok = put_number(settings, "webhook_timeout", optarg, false); break;
        case O_TENANT: ok = put_string(settings, "tenant_id", optarg); break;
        case O_AUTO: json_object_set_new(settings, "auto_update", json_true()); break;
        case O_UNKNOWN:
            json_object_set_new(settings, "accept_unknown_requests", json_true());
            break;
        case O_FINAL: ok = put_number(settings, "final_decision_status", optarg, true); break;
        case O_INVCL: ok = put_number(settings, "invalid_client_status", optarg, true); break;
        case O_PATH: {
            char *eq = strchr(optarg, '=');
            ok = eq && eq != optarg;
            if (ok) {
                *eq = 0;
                ok = put_string(paths, optarg, eq + 1);
                *eq = '=';
            }
            break;
        }
        case O_LOG: log_level = optarg; break;
        case O_HELP: case 'h':
            usage(stdout);
            json_decref(settings);
            json_decref(paths);
            config_free(c);
            curl_global_cleanup();
            return 0;
        default: bad = true;
        }
        if (!ok && !bad) {
            bad = true;
            bad_opt = optarg;
        }
    }
    tb_log_level lvl = TB_LOG_INFO;
    if (tb_log_level_parse(log_level, &lvl) != TB_OK) {
        fprintf(stderr, "epmsim: --log-level must be debug, info, warn or error\n");
        bad = true;
    }
    char why[300] = "";
    if (!bad && optind == argc) {
        if (json_object_size(paths))
            json_object_set(settings, "paths", paths);
        if (config_apply_json(c, settings, why, sizeof why) || config_check(c, why, sizeof why)) {
            fprintf(stderr, "epmsim: %s\n", why);
            bad = true;
        }
    } else if (bad_opt) {
        fprintf(stderr, "epmsim: bad option value \"%s\"\n", bad_opt);
    }
    json_decref(settings);
    json_decref(paths);
    if (bad || optind < argc) {
        usage(stderr);
        config_free(c);
        curl_global_cleanup();
        return 2;
    }

    tb_log_open(NULL, lvl);
    E.tokens = calloc(EP_MAX_TOKENS, sizeof *E.tokens);
    E.faults = calloc(EP_MAX_FAULTS, sizeof *E.faults);
    E.decisions = json_array();
    E.sink = json_array();
    if (!E.tokens || !E.faults || !E.decisions || !E.sink)
        abort();

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (server_start() != TB_OK) {
        fprintf(stderr, "epmsim: cannot listen on %s port %d\n", c->address, c->port);
        rc = 1;
        goto out;
    }
    if (sender_start() != TB_OK) {
        server_stop();
        rc = 1;
        goto out;
    }
    pthread_mutex_lock(&E.mu);  /* the control API may already replace E.cfg */
    if (c->port_file)
        (void)sim_write_port_file(c->port_file, server_port());
    if (c->control_port_file && server_control_port() >= 0)
        (void)sim_write_port_file(c->control_port_file, server_control_port());
    TB_LOGI("epmsim listening", "address=%s port=%d control_port=%d tenant_id=%s", c->address,
            server_port(), server_control_port(), c->tenant_id);
    pthread_mutex_unlock(&E.mu);
    tb_log_flush();

    double last_flush = ep_mono();
    while (!got_signal) {
        pthread_mutex_lock(&E.mu);
        if (E.want_down && E.down_until > 0 && ep_now() >= E.down_until) {
            E.want_down = false;
            E.down_until = 0;
        }
        bool want_down = E.want_down;
        pthread_mutex_unlock(&E.mu);
        if (want_down && !server_is_down())
            server_go_down();
        else if (!want_down && server_is_down())
            server_go_up();
        server_tick();
        if (ep_mono() - last_flush >= 0.5) {
            tb_log_flush();
            last_flush = ep_mono();
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    TB_LOGI("epmsim stopping", "signal=%d", (int)got_signal);
    ep_request_stop();
    server_stop();
    sender_stop();
out:
    free_state();
    curl_global_cleanup();
    tb_log_flush();
    tb_log_close();
    return rc;
}
