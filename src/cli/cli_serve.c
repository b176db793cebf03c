/* ticketbridge serve: run the daemon until SIGTERM/SIGINT. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/log.h"
#include "flow/gateway.h"

#define SERVE_USAGE "ticketbridge serve [--listen ADDR] [--port N] [--port-file PATH] [--bench-no-store]"

int cli_serve(tb_cli *cli, int argc, char **argv)
{
    const char *port_file = NULL;
    static const struct option opts[] = {
        {"listen", required_argument, 0, 'l'},
        {"port", required_argument, 0, 'p'},
        {"port-file", required_argument, 0, 'f'},
        {"bench-no-store", no_argument, 0, 'B'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (strlen(optarg) >= sizeof cli->cfg.listen_address)
                return cli_fail("--listen: address too long");
            snprintf(cli->cfg.listen_address, sizeof cli->cfg.listen_address, "%s", optarg);
            break;
        case 'p': {
            char *end;
            long p = strtol(optarg, &end, 10);
            if (*end || p < 0 || p > 65535)
                return cli_fail("--port: not a port number: %s", optarg);
            cli->cfg.port = (int)p;
            break;
        }
        case 'f': port_file = optarg; break;
        case 'B': cli->cfg.bench_no_store = 1; break;
        case 'h': printf("usage: %s\n", SERVE_USAGE); return 0;
        default: return cli_usage_error(SERVE_USAGE);
        }
    }
    if (optind != argc)
        return cli_usage_error(SERVE_USAGE);

    if (tb_log_open(cli->cfg.log_file, cli->cfg.log_level))
        return cli_fail("cannot open log file %s", cli->cfg.log_file);

    /* Signals are taken synchronously by this thread only: block them before
     * any other thread starts so every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    tb_gateway *g;
    char err[512];
    if (gateway_start(&cli->cfg, &g, err, sizeof err)) {
        tb_log_close();
        return cli_fail("%s", err);
    }
    int port = gateway_port(g);
    if (cli->cfg.bench_no_store)
        TB_LOGW("BENCHMARK BASELINE MODE: events are answered 200 and NOT stored", "%s", "");
    TB_LOGI("listening", "address=%s port=%d tls=%d database=%s", cli->cfg.listen_address, port,
            cli->cfg.tls_cert[0] != 0, cli->cfg.database);
    tb_log_flush();
    if (port_file) {
        char tmp[TB_PATH_MAX + 8];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *fp = fopen(tmp, "w");
        if (!fp || fprintf(fp, "%d\n", port) < 0 || fclose(fp) != 0 || rename(tmp, port_file) != 0) {
            gateway_stop(g);
            tb_log_close();
            return cli_fail("cannot write port file %s", port_file);
        }
    }

    for (;;) {
        struct timespec one_second = {1, 0};
        int sig = sigtimedwait(&set, NULL, &one_second);
        if (sig == SIGTERM || sig == SIGINT) {
            TB_LOGI("stopping", "signal=%s", sig == SIGTERM ? "TERM" : "INT");
            break;
        }
        if (sig == SIGHUP) {
            if (tb_log_reopen())
                TB_LOGE("cannot reopen log file", "path=%s", cli->cfg.log_file);
            else
                TB_LOGI("log reopened", "%s", "");
            continue;
        }
        gateway_tick(g);
    }
    gateway_stop(g);
    TB_LOGI("stopped", "%s", "");
    tb_log_close();
    return 0;
}
