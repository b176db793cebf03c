/* ticketbridge incoming / jobs: what arrived, what was refused and why,
 * and the job queue. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "store/store.h"

#define INCOMING_USAGE "ticketbridge incoming [--status accepted|ignored|duplicate|rejected] [--limit N] [--show ID]"
#define JOBS_USAGE "ticketbridge jobs [--state queued|running|done|failed] [--limit N] | jobs retry ID | jobs retry --failed"

/* jobs retry ID | --failed: back to the queue (a running daemon picks them
 * up at its next poll). */
static int jobs_retry(tb_cli *cli, int argc, char **argv)
{
    int64_t id = 0;
    if (argc != 3)
        return cli_usage_error(JOBS_USAGE);
    if (strcmp(argv[2], "--failed")) {
        char *end;
        id = strtoll(argv[2], &end, 10);
        if (*end || id < 1)
            return cli_fail("jobs retry: expected a job id or --failed, got '%s'", argv[2]);
    }
    tb_store *st;
    tb_err e = store_open(cli->cfg.database, 0, &st);
    if (e)
        return cli_fail("cannot open database %s: %s", cli->cfg.database, tb_strerror(e));
    int64_t n = 0;
    e = store_job_requeue(st, id, (int64_t)time(NULL), &n);
    store_close(st);
    if (e)
        return cli_fail("cannot re-queue: %s", tb_strerror(e));
    if (id && !n)
        return cli_fail("job %lld is not failed or done (or does not exist)", (long long)id);
    printf("%lld job%s queued again\n", (long long)n, n == 1 ? "" : "s");
    return 0;
}

static int open_ro(tb_cli *cli, tb_store **st)
{
    tb_err e = store_open(cli->cfg.database, STORE_READ_ONLY, st);
    if (e)
        return cli_fail("cannot open database %s: %s (run 'ticketbridge init' first?)", cli->cfg.database,
                        tb_strerror(e));
    return 0;
}

/* Prints body bytes with control characters escaped, so a hostile body
 * cannot drive the terminal. */
static void print_safe(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n' || (ch >= 0x20 && ch != 0x7f))
            putchar(ch);
        else
            printf("\\x%02x", ch);
    }
}

int cli_incoming(tb_cli *cli, int argc, char **argv)
{
    tb_incoming_filter f = {.limit = 50};
    static const struct option opts[] = {
        {"status", required_argument, 0, 's'},
        {"limit", required_argument, 0, 'n'},
        {"show", required_argument, 0, 'i'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (strcmp(optarg, "accepted") && strcmp(optarg, "ignored") && strcmp(optarg, "duplicate") &&
                strcmp(optarg, "rejected"))
                return cli_fail("--status: expected accepted, ignored, duplicate or rejected");
            f.status = optarg;
            break;
        case 'n':
            if (cli_parse_limit(optarg, &f.limit))
                return 1;
            break;
        case 'i': {
            char *end;
            f.id = strtoll(optarg, &end, 10);
            if (*end || f.id < 1)
                return cli_fail("--show: expected a record id");
            break;
        }
        case 'h': printf("usage: %s\n", INCOMING_USAGE); return 0;
        default: return cli_usage_error(INCOMING_USAGE);
        }
    }
    if (optind != argc)
        return cli_usage_error(INCOMING_USAGE);
    tb_store *st;
    if (open_ro(cli, &st))
        return 1;
    tb_incoming *v;
    size_t n;
    tb_err e = store_incoming_list(st, &f, &v, &n);
    store_close(st);
    if (e)
        return cli_fail("cannot list incoming requests: %s", tb_strerror(e));
    if (f.id && !n)
        return cli_fail("no incoming request %lld", (long long)f.id);
    if (f.id) {
        tb_incoming *r = &v[0];
        char when[32];
        tb_fmt_utc(r->received_ms / 1000, when, sizeof when);
        printf("id:           %lld\nreceived:     %s.%03lld UTC\nroute:        %s %s\nsource ip:    %s\n"
               "appliance:    %s\nevent:        %s\nlsid:         %s\nstatus:       %s (HTTP %d)\n"
               "reason:       %s\n",
               (long long)r->id, when, (long long)(r->received_ms % 1000), r->method, r->route, r->source_ip,
               r->appliance[0] ? r->appliance : "-", r->event, r->lsid, r->status, r->http_status,
               r->reason[0] ? r->reason : "-");
        if (r->duplicate_of)
            printf("duplicate of: %lld\n", (long long)r->duplicate_of);
        if (r->job_id)
            printf("job:          %lld\n", (long long)r->job_id);
        printf("content type: %s\nbody%s (%zu bytes):\n", r->content_type[0] ? r->content_type : "-",
               r->body_truncated ? ", truncated" : "", r->body_len);
        print_safe(r->body, r->body_len);
        putchar('\n');
    } else {
        printf("%-8s %-19s %-9s %-4s %-15s %-12s %-24s %-34s %s\n", "ID", "RECEIVED (UTC)", "STATUS", "HTTP",
               "SOURCE", "APPLIANCE", "EVENT", "LSID", "REASON");
        for (size_t i = 0; i < n; i++) {
            tb_incoming *r = &v[i];
            char when[32];
            tb_fmt_utc(r->received_ms / 1000, when, sizeof when);
            printf("%-8lld %-19s %-9s %-4d %-15s %-12.12s %-24.24s %-34.34s ", (long long)r->id, when, r->status,
                   r->http_status, r->source_ip, r->appliance[0] ? r->appliance : "-",
                   r->event[0] ? r->event : "-", r->lsid[0] ? r->lsid : "-");
            print_safe(r->reason[0] ? r->reason : "-", strlen(r->reason[0] ? r->reason : "-"));
            putchar('\n');
        }
    }
    tb_incoming_free(v, n);
    return 0;
}

int cli_jobs(tb_cli *cli, int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "retry"))
        return jobs_retry(cli, argc, argv);
    tb_job_filter f = {.limit = 50};
    static const struct option opts[] = {
        {"state", required_argument, 0, 's'},
        {"limit", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (strcmp(optarg, "queued") && strcmp(optarg, "running") && strcmp(optarg, "done") &&
                strcmp(optarg, "failed"))
                return cli_fail("--state: expected queued, running, done or failed");
            f.state = optarg;
            break;
        case 'n':
            if (cli_parse_limit(optarg, &f.limit))
                return 1;
            break;
        case 'h': printf("usage: %s\n", JOBS_USAGE); return 0;
        default: return cli_usage_error(JOBS_USAGE);
        }
    }
    if (optind != argc)
        return cli_usage_error(JOBS_USAGE);
    tb_store *st;
    if (open_ro(cli, &st))
        return 1;
    tb_job_counts jc;
    tb_job *v;
    size_t n;
    tb_err e = store_job_counts(st, &jc);
    if (!e)
        e = store_job_list(st, &f, &v, &n);
    store_close(st);
    if (e)
        return cli_fail("cannot list jobs: %s", tb_strerror(e));
    printf("queued %lld, running %lld, done %lld, failed %lld\n", (long long)jc.queued, (long long)jc.running,
           (long long)jc.done, (long long)jc.failed);
    printf("%-8s %-15s %-8s %-8s %-12s %-34s %-19s %s\n", "ID", "KIND", "STATE", "ATTEMPTS", "APPLIANCE", "LSID",
           "CREATED (UTC)", "LAST ERROR");
    for (size_t i = 0; i < n; i++) {
        char when[32];
        tb_fmt_utc(v[i].created_at, when, sizeof when);
        printf("%-8lld %-15s %-8s %-8d %-12.12s %-34.34s %-19s %s\n", (long long)v[i].id, v[i].kind, v[i].state,
               v[i].attempts, v[i].appliance[0] ? v[i].appliance : "-", v[i].lsid[0] ? v[i].lsid : "-", when,
               v[i].last_error[0] ? v[i].last_error : "-");
    }
    tb_jobs_free(v, n);
    return 0;
}
