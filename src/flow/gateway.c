#include "flow/gateway.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/secret.h"
#include "flow/approval_http.h"
#include "flow/api_me.h"
#include "flow/api_pra.h"
#include "flow/checkpointer.h"
#include "flow/csm.h"
#include "flow/csm_http.h"
#include "flow/epm.h"
#include "flow/import.h"
#include "flow/oauth_token_api.h"
#include "flow/intake.h"
#include "flow/reconcile.h"
#include "flow/session_key_http.h"
#include "flow/session_pull.h"
#include "flow/ticket_outbox.h"
#include "flow/ticket_store.h"
#include "flow/tickets_api.h"
#include "flow/table_api.h"
#include "itsm/itsm.h"
#include "http/client.h"
#include "store/store.h"
#include "store/store_ticket_write.h"

/* Every route the gateway serves (27 now) plus room to grow; raise it with new routes. */
#define MAX_GATEWAY_ROUTES 48
#define READYZ_TIMEOUT_MS 2000
#define STOP_DRAIN_MS 10000
/* WAL checkpoints (flow/checkpointer.h): how often, and the size past which
 * the WAL is started over. */
#define CHECKPOINT_INTERVAL_MS 2000
#define WAL_TRUNCATE_BYTES (64LL << 20)

struct tb_gateway {
    intake_ctx intake;              /* first: handlers cast the app pointer */
    tb_http_server *http;
    pthread_mutex_t read_mu;        /* guards reader */
    tb_store *reader;
    tb_store *checkpointer;         /* schema at start, last checkpoint at stop */
    checkpointer *wal;              /* checkpoints while running */
    import_ctx *import;
    approval_http *approval;
    api_pra *api_pra;
    session_key_http *session_key;
    tickets_api tickets;            /* contexts of /api/tb/v1/tickets/{number}/... */
    table_api *table_api;
    oauth_token_api *oauth_token;
    epm *epm;
    ticket_store *ticket_store;     /* the configured ticket store, for every flow */
    auth *auth;
    csm *csm;
    csm_http *csm_http;
    tb_route routes[MAX_GATEWAY_ROUTES];
};

auth *gateway_auth(void *app)
{
    return ((tb_gateway *)app)->auth;
}

static void handle_healthz(tb_http_req *req)
{
    tb_http_reply_json(req, 200, "{\"status\":\"ok\"}");
}

static void handle_readyz(tb_http_req *req)
{
    tb_gateway *g = tb_http_app(req);
    tb_err e = writer_run_sync(g->intake.writer, WRITE_PING, READYZ_TIMEOUT_MS);
    if (e)
        tb_http_reply_error(req, 503, "Database not writable", tb_strerror(e));
    else
        tb_http_reply_json(req, 200, "{\"status\":\"ready\"}");
}

static void metrics_extra(void *app, tb_buf *out)
{
    tb_gateway *g = app;
    tb_job_counts jc;
    pthread_mutex_lock(&g->read_mu);
    tb_err e = store_job_counts(g->reader, &jc);
    pthread_mutex_unlock(&g->read_mu);
    if (!e) {
        tb_buf_printf(out,
                      "# HELP tb_jobs Jobs by state (queued = queue depth).\n# TYPE tb_jobs gauge\n"
                      "tb_jobs{state=\"queued\"} %lld\ntb_jobs{state=\"running\"} %lld\n"
                      "tb_jobs{state=\"done\"} %lld\ntb_jobs{state=\"failed\"} %lld\n"
                      "# HELP tb_queue_depth Jobs waiting for a worker.\n# TYPE tb_queue_depth gauge\n"
                      "tb_queue_depth %lld\n",
                      (long long)jc.queued, (long long)jc.running, (long long)jc.done, (long long)jc.failed,
                      (long long)jc.queued);
    }
    workers_stats js;
    workers_get_stats(g->intake.jobs, &js);
    tb_buf_printf(out,
                  "# HELP tb_job_outcomes_total Jobs run by this process, by outcome.\n"
                  "# TYPE tb_job_outcomes_total counter\n"
                  "tb_job_outcomes_total{outcome=\"done\"} %llu\n"
                  "tb_job_outcomes_total{outcome=\"retry\"} %llu\n"
                  "tb_job_outcomes_total{outcome=\"failed\"} %llu\n",
                  js.done, js.retried, js.failed);
    tb_writer_stats ws;
    writer_stats(g->intake.writer, &ws);
    tb_buf_printf(out,
                  "# HELP tb_writer_batches_total Group-commit transactions.\n# TYPE tb_writer_batches_total counter\n"
                  "tb_writer_batches_total %llu\n"
                  "# HELP tb_writer_requests_total Writes committed or failed through the writer.\n"
                  "# TYPE tb_writer_requests_total counter\ntb_writer_requests_total %llu\n"
                  "# HELP tb_writer_failed_batches_total Batches whose commit failed.\n"
                  "# TYPE tb_writer_failed_batches_total counter\ntb_writer_failed_batches_total %llu\n"
                  "# HELP tb_writer_max_batch Largest batch so far.\n# TYPE tb_writer_max_batch gauge\n"
                  "tb_writer_max_batch %llu\n"
                  "# HELP tb_writer_pending Writes waiting for commit.\n# TYPE tb_writer_pending gauge\n"
                  "tb_writer_pending %llu\n"
                  "# HELP tb_writer_apply_seconds_total Time executing statements in batches.\n"
                  "# TYPE tb_writer_apply_seconds_total counter\ntb_writer_apply_seconds_total %.6f\n"
                  "# HELP tb_writer_commit_seconds_total Time in COMMIT (WAL write and fsync).\n"
                  "# TYPE tb_writer_commit_seconds_total counter\ntb_writer_commit_seconds_total %.6f\n"
                  "# HELP tb_writer_reply_seconds_total Time answering committed requests.\n"
                  "# TYPE tb_writer_reply_seconds_total counter\ntb_writer_reply_seconds_total %.6f\n",
                  (unsigned long long)ws.batches, (unsigned long long)ws.requests,
                  (unsigned long long)ws.failed_batches, (unsigned long long)ws.max_batch,
                  (unsigned long long)writer_pending(g->intake.writer), (double)ws.apply_us / 1e6,
                  (double)ws.commit_us / 1e6, (double)ws.done_us / 1e6);
    auth_metrics(g->auth, out);
}

static void handle_metrics(tb_http_req *req)
{
    tb_gateway *g = tb_http_app(req);
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_http_metrics(g->http, &b);
    tb_http_reply(req, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
    tb_buf_free(&b);
}

static char *read_file(const char *path, char *err, size_t errsz)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errsz, "cannot read %s", path);
        return NULL;
    }
    tb_buf b;
    tb_buf_init(&b, 1 << 20);
    char chunk[4096];
    size_t n;
    tb_err e = TB_OK;
    while (!e && (n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        e = tb_buf_append(&b, chunk, n);
    fclose(fp);
    if (e || !b.data) {
        snprintf(err, errsz, "cannot read %s: %s", path, e ? tb_strerror(e) : "empty file");
        tb_buf_free(&b);
        return NULL;
    }
    return tb_buf_take(&b);
}

tb_err gateway_start(const tb_config *cfg, tb_gateway **out, char *err, size_t errsz)
{
    tb_gateway *g = calloc(1, sizeof *g);
    if (!g)
        return TB_ERR_NOMEM;
    pthread_mutex_init(&g->read_mu, NULL);
    char *cert = NULL, *key = NULL;
    tb_err e = store_open(cfg->database, STORE_READ_ONLY, &g->reader);
    if (e) {
        snprintf(err, errsz, "cannot open database %s (%s); run 'ticketbridge init' first", cfg->database,
                 tb_strerror(e));
        goto fail;
    }
    if ((e = store_open(cfg->database, 0, &g->checkpointer))) {
        snprintf(err, errsz, "cannot open database %s for writing (%s)", cfg->database, tb_strerror(e));
        goto fail;
    }
    /* Databases made by an earlier version get the tables added since. */
    if ((e = store_schema(g->checkpointer)) || (e = itsm_embedded_schema(cfg->database))) {
        snprintf(err, errsz, "cannot bring the database schema up to date (%s)", tb_strerror(e));
        goto fail;
    }
    if ((e = ticket_store_new(cfg, &g->ticket_store))) {
        snprintf(err, errsz, "cannot set up the ticket store (%s)", tb_strerror(e));
        goto fail;
    }
    char kp[TB_PATH_MAX + 8];
    tb_config_key_path(cfg, kp, sizeof kp);
    tb_secret_key skey;
    if ((e = tb_secret_key_load(kp, &skey))) {
        snprintf(err, errsz, "cannot load secret key %s (%s)", kp, tb_strerror(e));
        goto fail;
    }
    e = appliance_cache_open(cfg->database, &skey, &g->intake.appliances);
    tb_err epm_e = e ? TB_OK : epm_new(cfg->database, g->ticket_store, &skey, &g->epm);
    tb_secret_key_wipe(&skey);
    if (e || epm_e) {
        snprintf(err, errsz, "cannot load %s (%s)", e ? "appliance records" : "the EPM configuration",
                 tb_strerror(e ? e : epm_e));
        e = e ? e : epm_e;
        goto fail;
    }
    if ((e = auth_open(cfg->database, &g->auth))) {
        snprintf(err, errsz, "cannot open the user database (%s)", tb_strerror(e));
        goto fail;
    }
    g->intake.bench_no_store = cfg->bench_no_store != 0;
    if ((e = writer_start(cfg->database, cfg->batch_max, &g->intake.writer))) {
        snprintf(err, errsz, "cannot start the database writer (%s)", tb_strerror(e));
        goto fail;
    }
    if ((e = checkpointer_start(cfg->database, CHECKPOINT_INTERVAL_MS, WAL_TRUNCATE_BYTES, &g->wal))) {
        snprintf(err, errsz, "cannot start the WAL checkpointer (%s)", tb_strerror(e));
        goto fail;
    }
    if ((e = tb_http_client_global_init())) {
        snprintf(err, errsz, "cannot initialise libcurl (%s)", tb_strerror(e));
        goto fail;
    }
    import_opts io = {.db_path = cfg->database, .tickets = g->ticket_store, .appliances = g->intake.appliances,
                      .writer = g->intake.writer};
    workers_opts wo = {.threads = cfg->workers};
    if (!(e = import_ctx_new(&io, &g->import))) {
        /* CSM calls the same appliances: one token per API account. */
        csm_opts co = {.db_path = cfg->database, .tickets = g->ticket_store, .appliances = g->intake.appliances,
                       .writer = g->intake.writer, .tokens = import_tokens(g->import)};
        e = csm_new(&co, &g->csm);
    }
    if (e || (e = workers_new(g->intake.writer, &wo, &g->intake.jobs)) ||
        (e = workers_register(g->intake.jobs, IMPORT_JOB_KIND, import_job, g->import)) ||
        (e = workers_register(g->intake.jobs, RECONCILE_JOB_KIND, reconcile_job, g->import)) ||
        (e = workers_register(g->intake.jobs, SESSION_KEY_PULL_JOB_KIND, session_pull_job, g->import)) ||
        (e = workers_register(g->intake.jobs, TICKET_WRITE_JOB, ticket_outbox_job, g->ticket_store)) ||
        (e = workers_register(g->intake.jobs, CSM_JOB_KIND, csm_job, g->csm)) ||
        (e = epm_attach(g->epm, g->intake.writer, g->intake.jobs)) ||
        (e = workers_start(g->intake.jobs))) {
        snprintf(err, errsz, "cannot start the job workers (%s)", tb_strerror(e));
        goto fail;
    }
    approval_http_opts ao = {.tickets = g->ticket_store, .writer = g->intake.writer,
                             .appliances = g->intake.appliances};
    if ((e = approval_http_new(&ao, &g->approval)) ||
        (e = api_pra_new(g->ticket_store, g->intake.appliances, &g->api_pra)) ||
        (e = csm_http_new(&(csm_http_opts){.csm = g->csm, .ticket_store = cfg->ticket_store}, &g->csm_http))) {
        snprintf(err, errsz, "cannot set up the approval endpoint (%s)", tb_strerror(e));
        goto fail;
    }
    session_key_http_opts so = {.import = g->import, .writer = g->intake.writer};
    if ((e = session_key_http_new(&so, &g->session_key))) {
        snprintf(err, errsz, "cannot set up the session-key endpoint (%s)", tb_strerror(e));
        goto fail;
    }
    g->tickets.session_key = g->session_key;
    table_api_opts to = {.db_path = cfg->database, .writer = g->intake.writer, .https = cfg->tls_cert[0] != 0};
    if ((e = table_api_new(&to, &g->table_api)) ||
        (e = oauth_token_api_new(cfg->database, g->auth, g->intake.writer, &g->oauth_token))) {
        snprintf(err, errsz, "cannot set up the Table API (%s)", tb_strerror(e));
        goto fail;
    }
    if (cfg->tls_cert[0]) {
        if (!(cert = read_file(cfg->tls_cert, err, errsz)) || !(key = read_file(cfg->tls_key, err, errsz))) {
            e = TB_ERR_CONFIG;
            goto fail;
        }
    }
    size_t n = 0;
    g->routes[n++] = (tb_route){"/healthz", TB_M_GET | TB_M_HEAD, 0, handle_healthz, "healthz", false, false, NULL};
    g->routes[n++] = (tb_route){"/readyz", TB_M_GET | TB_M_HEAD, 0, handle_readyz, "readyz", false, false, NULL};
    g->routes[n++] = (tb_route){"/metrics", TB_M_GET, 0, handle_metrics, "metrics", false, false, NULL};
    for (const tb_route *r = intake_routes; r->path; r++)
        g->routes[n++] = *r;
    g->routes[n++] = approval_http_route(g->approval);
    n += api_pra_routes(g->api_pra, &g->routes[n]);
    g->routes[n++] = (tb_route){API_ME_PATH, TB_M_GET, 0, api_me_handle, "api_me", false, false, NULL};
    g->routes[n++] = tickets_api_route(&g->tickets);
    for (const tb_route *r = table_api_routes(g->table_api); r->path; r++)
        g->routes[n++] = *r;
    n += csm_http_routes(g->csm_http, &g->routes[n]);
    g->routes[n++] = epm_webhook_route(g->epm);
    g->routes[n++] = epm_api_route(g->epm);
    g->routes[n++] = oauth_token_api_route(g->oauth_token);
    g->routes[n] = (tb_route){0};
    tb_http_options ho = {
        .listen_address = cfg->listen_address,
        .port = cfg->port,
        .threads = cfg->http_threads,
        .max_connections = cfg->max_connections,
        .connection_timeout = cfg->connection_timeout,
        .tls_cert_pem = cert,
        .tls_key_pem = key,
        .routes = g->routes,
        .app = g,
        .metrics_extra = metrics_extra,
    };
    e = tb_http_start(&ho, &g->http);
    if (e) {
        snprintf(err, errsz, "cannot listen on %s port %d (address in use, or bad TLS certificate/key?)",
                 cfg->listen_address, cfg->port);
        goto fail;
    }
    free(cert);
    free(key);
    *out = g;
    return TB_OK;
fail:
    free(cert);
    free(key);
    workers_stop(g->intake.jobs);
    approval_http_free(g->approval);
    api_pra_free(g->api_pra);
    session_key_http_free(g->session_key);
    table_api_free(g->table_api);
    oauth_token_api_free(g->oauth_token);
    csm_http_free(g->csm_http);
    csm_free(g->csm);
    epm_free(g->epm);
    ticket_store_free(g->ticket_store);
    import_ctx_free(g->import);
    writer_stop(g->intake.writer);
    checkpointer_stop(g->wal);
    appliance_cache_close(g->intake.appliances);
    auth_close(g->auth);
    store_close(g->reader);
    store_close(g->checkpointer);
    pthread_mutex_destroy(&g->read_mu);
    free(g);
    return e ? e : TB_ERR_CONFIG;
}

int gateway_port(tb_gateway *g)
{
    return tb_http_port(g->http);
}

void gateway_tick(tb_gateway *g)
{
    tb_err e = appliance_cache_refresh(g->intake.appliances);
    if (e)
        TB_LOGE("appliance records not reloaded", "err=\"%s\"", tb_strerror(e));
    epm_tick(g->epm);
    int64_t polls = 0;
    if ((e = reconcile_schedule(g->intake.writer, &polls)))
        TB_LOGW("reconciler polls not scheduled", "err=\"%s\"", tb_strerror(e));
    else if (polls)
        workers_notify(g->intake.jobs);
    if ((e = session_pull_schedule(g->intake.writer, &polls)))
        TB_LOGW("session-key pulls not scheduled", "err=\"%s\"", tb_strerror(e));
    else if (polls)
        workers_notify(g->intake.jobs);
    tb_log_flush();
}

void gateway_stop(tb_gateway *g)
{
    if (!g)
        return;
    tb_http_quiesce(g->http);
    /* Requests already waiting for their commit get their answers (the
     * writer keeps running); new ones are answered 503 and retried by the
     * appliance. */
    if (!tb_http_drain(g->http, STOP_DRAIN_MS)) {
        /* Only a wedged disk gets here; libmicrohttpd would abort on stop
         * with suspended connections, so leave it running and exit. */
        TB_LOGE("requests still waiting for their commit at shutdown", "%s", "");
        tb_log_flush();
        _exit(1);
    }
    tb_http_stop(g->http);
    workers_stop(g->intake.jobs);      /* running jobs finish; they need the writer */
    session_key_http_free(g->session_key);  /* drained: no request waits on its pool */
    import_ctx_free(g->import);
    /* Approval records already queued use the approval context on the
     * writer's connection: let them commit (the writer is FIFO and no
     * handler runs any more), then close it while that connection is open. */
    writer_run_sync(g->intake.writer, WRITE_PING, 0);
    approval_http_free(g->approval);
    api_pra_free(g->api_pra);
    table_api_free(g->table_api);
    oauth_token_api_free(g->oauth_token);
    csm_http_free(g->csm_http);
    csm_free(g->csm);
    epm_free(g->epm);
    ticket_store_free(g->ticket_store);
    writer_stop(g->intake.writer);
    checkpointer_stop(g->wal);
    appliance_cache_close(g->intake.appliances);
    auth_close(g->auth);
    store_checkpoint(g->checkpointer);
    store_close(g->reader);
    store_close(g->checkpointer);
    pthread_mutex_destroy(&g->read_mu);
    free(g);
}
