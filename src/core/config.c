#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tb_config_defaults(tb_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen_address, sizeof cfg->listen_address, "127.0.0.1");
    cfg->port = 8080;
    snprintf(cfg->database, sizeof cfg->database, "ticketbridge.db");
    cfg->workers = 8;
    cfg->http_threads = 2;
    cfg->max_connections = 1024;
    cfg->connection_timeout = 30;
    cfg->log_level = TB_LOG_INFO;
    snprintf(cfg->ticket_store, sizeof cfg->ticket_store, "embedded");
    cfg->batch_max = 512;
    cfg->servicenow_timeout_ms = 30000;
    cfg->servicenow_max_connections = 4;
    cfg->servicenow_retry_max_wait_ms = 10000;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int parse_int(const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return -1;
    *out = (int)n;
    return 0;
}

static int set_str(char *dst, size_t dstsz, const char *v)
{
    size_t n = strlen(v);
    if (n >= dstsz)
        return -1;
    memcpy(dst, v, n + 1);
    return 0;
}

/* The servicenow_* keys; 1 = not one of them. */
static int servicenow_key(tb_config *cfg, const char *k, const char *v, int *bad)
{
    if (!strcmp(k, "servicenow_url"))
        *bad = set_str(cfg->servicenow_url, sizeof cfg->servicenow_url, v) ||
               (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0);
    else if (!strcmp(k, "servicenow_user"))
        *bad = set_str(cfg->servicenow_user, sizeof cfg->servicenow_user, v);
    else if (!strcmp(k, "servicenow_password_file"))
        *bad = set_str(cfg->servicenow_password_file, sizeof cfg->servicenow_password_file, v);
    else if (!strcmp(k, "servicenow_oauth_client_id"))
        *bad = set_str(cfg->servicenow_oauth_client_id, sizeof cfg->servicenow_oauth_client_id, v);
    else if (!strcmp(k, "servicenow_oauth_client_secret_file"))
        *bad = set_str(cfg->servicenow_oauth_client_secret_file,
                       sizeof cfg->servicenow_oauth_client_secret_file, v);
    else if (!strcmp(k, "servicenow_ca_file"))
        *bad = set_str(cfg->servicenow_ca_file, sizeof cfg->servicenow_ca_file, v);
    else if (!strcmp(k, "servicenow_proxy"))
        *bad = set_str(cfg->servicenow_proxy, sizeof cfg->servicenow_proxy, v);
    else if (!strcmp(k, "servicenow_timeout_ms"))
        *bad = parse_int(v, 100, 600000, &cfg->servicenow_timeout_ms);
    else if (!strcmp(k, "servicenow_max_connections"))
        *bad = parse_int(v, 1, 256, &cfg->servicenow_max_connections);
    else if (!strcmp(k, "servicenow_retry_max_wait_ms"))
        *bad = parse_int(v, 0, 600000, &cfg->servicenow_retry_max_wait_ms);
    else
        return 1;
    return 0;
}

tb_err tb_config_load(const char *path, tb_config *cfg, char *err, size_t errsz)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return TB_ERR_CONFIG;
    }
    char line[2048];
    int lineno = 0;
    tb_err rc = TB_OK;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(fp)) {
            snprintf(err, errsz, "%s:%d: line too long", path, lineno);
            rc = TB_ERR_CONFIG;
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errsz, "%s:%d: expected 'key = value'", path, lineno);
            rc = TB_ERR_CONFIG;
            break;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        int bad = 0;
        if (!strcmp(k, "listen_address"))
            bad = set_str(cfg->listen_address, sizeof cfg->listen_address, v);
        else if (!strcmp(k, "port"))
            bad = parse_int(v, 0, 65535, &cfg->port);
        else if (!strcmp(k, "tls_cert"))
            bad = set_str(cfg->tls_cert, sizeof cfg->tls_cert, v);
        else if (!strcmp(k, "tls_key"))
            bad = set_str(cfg->tls_key, sizeof cfg->tls_key, v);
        else if (!strcmp(k, "database"))
            bad = set_str(cfg->database, sizeof cfg->database, v);
        else if (!strcmp(k, "secret_key_file"))
            bad = set_str(cfg->secret_key_file, sizeof cfg->secret_key_file, v);
        else if (!strcmp(k, "workers"))
            bad = parse_int(v, 0, 64, &cfg->workers);
        else if (!strcmp(k, "http_threads"))
            bad = parse_int(v, 1, 64, &cfg->http_threads);
        else if (!strcmp(k, "max_connections"))
            bad = parse_int(v, 1, 100000, &cfg->max_connections);
        else if (!strcmp(k, "connection_timeout"))
            bad = parse_int(v, 1, 3600, &cfg->connection_timeout);
        else if (!strcmp(k, "batch_max"))
            bad = parse_int(v, 1, 100000, &cfg->batch_max);
        else if (!strcmp(k, "log_level"))
            bad = tb_log_level_parse(v, &cfg->log_level) ? -1 : 0;
        else if (!strcmp(k, "log_file"))
            bad = set_str(cfg->log_file, sizeof cfg->log_file, v);
        else if (!strcmp(k, "ticket_store")) {
            if (strcmp(v, "embedded") != 0 && strcmp(v, "servicenow") != 0) {
                snprintf(err, errsz,
                         "%s:%d: ticket_store '%s' is not supported (supported: embedded, servicenow)",
                         path, lineno, v);
                rc = TB_ERR_CONFIG;
                break;
            }
            bad = set_str(cfg->ticket_store, sizeof cfg->ticket_store, v);
        } else if (!servicenow_key(cfg, k, v, &bad)) {
        } else {
            snprintf(err, errsz, "%s:%d: unknown key '%s'", path, lineno, k);
            rc = TB_ERR_CONFIG;
            break;
        }
        if (bad) {
            snprintf(err, errsz, "%s:%d: bad value for '%s'", path, lineno, k);
            rc = TB_ERR_CONFIG;
            break;
        }
    }
    fclose(fp);
    if (!rc && (!cfg->tls_cert[0]) != (!cfg->tls_key[0])) {
        snprintf(err, errsz, "%s: tls_cert and tls_key must be set together", path);
        rc = TB_ERR_CONFIG;
    }
    if (!rc && !strcmp(cfg->ticket_store, "servicenow") && !cfg->servicenow_url[0]) {
        snprintf(err, errsz, "%s: ticket_store = servicenow needs servicenow_url", path);
        rc = TB_ERR_CONFIG;
    }
    return rc;
}

void tb_config_key_path(const tb_config *cfg, char *out, size_t outsz)
{
    if (cfg->secret_key_file[0])
        snprintf(out, outsz, "%s", cfg->secret_key_file);
    else
        snprintf(out, outsz, "%s.key", cfg->database);
}
