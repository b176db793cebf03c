/* The daemon's file configuration (etc/ticketbridge.conf): only what a process
 * needs to start. Integration settings live in the database as records.
 * Format: "key = value" lines, '#' comments, blank lines ignored. */
#ifndef TB_CORE_CONFIG_H
#define TB_CORE_CONFIG_H

#include <stddef.h>
#include "core/err.h"
#include "core/log.h"

#define TB_PATH_MAX 1024

typedef struct tb_config {
    char listen_address[64];        /* default 127.0.0.1 */
    int port;                       /* default 8080 */
    char tls_cert[TB_PATH_MAX];     /* PEM; TLS is on when both are set */
    char tls_key[TB_PATH_MAX];
    char database[TB_PATH_MAX];     /* default ./ticketbridge.db */
    char secret_key_file[TB_PATH_MAX]; /* default <database>.key */
    int workers;                    /* job worker threads, default 8 (they mostly wait on I/O) */
    int http_threads;               /* HTTP thread pool, default 2 */
    int max_connections;            /* default 1024 */
    int connection_timeout;         /* seconds idle, default 30 */
    tb_log_level log_level;         /* default info */
    char log_file[TB_PATH_MAX];     /* "" = stderr */
    char ticket_store[32];          /* embedded (default) | servicenow */
    /* ticket_store = servicenow (docs/servicenow-backend.md) */
    char servicenow_url[512];       /* https://instance.service-now.com */
    char servicenow_user[128];      /* Basic, or the OAuth password grant's user */
    char servicenow_password_file[TB_PATH_MAX];
    char servicenow_oauth_client_id[256];   /* set: OAuth at /oauth_token.do */
    char servicenow_oauth_client_secret_file[TB_PATH_MAX];
    char servicenow_ca_file[TB_PATH_MAX];   /* PEM bundle; "" = the system store */
    char servicenow_proxy[512];     /* "" = the environment's; "none" = direct; else a URL */
    int servicenow_timeout_ms;      /* whole request, default 30000 */
    int servicenow_max_connections; /* requests in flight per process, default 4 */
    int servicenow_retry_max_wait_ms; /* longest Retry-After honoured on 429/503, default 10000 */
    int batch_max;                  /* group-commit batch cap, default 512 */
    int bench_no_store;             /* `serve --bench-no-store` only; never from the file */
} tb_config;

void tb_config_defaults(tb_config *cfg);
/* Loads path over the defaults. On error writes "file:line: reason" to err. */
tb_err tb_config_load(const char *path, tb_config *cfg, char *err, size_t errsz);

/* Secret key file: secret_key_file, else "<database>.key". */
void tb_config_key_path(const tb_config *cfg, char *out, size_t outsz);

#endif
