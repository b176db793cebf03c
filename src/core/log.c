#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_fp;
static char *log_path;
static tb_log_level log_min = TB_LOG_INFO;

static const char *const level_name[] = {"debug", "info", "warn", "error"};

tb_err tb_log_level_parse(const char *s, tb_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_name[i]) == 0) {
            *out = (tb_log_level)i;
            return TB_OK;
        }
    return TB_ERR_INVALID;
}

static FILE *open_path(const char *path)
{
    if (!path)
        return stderr;
    FILE *fp = fopen(path, "a");
    if (fp)
        setvbuf(fp, NULL, _IOFBF, 1 << 16);
    return fp;
}

tb_err tb_log_open(const char *path, tb_log_level level)
{
    if (path && (!*path || strcmp(path, "-") == 0))
        path = NULL;
    FILE *fp = open_path(path);
    if (!fp)
        return TB_ERR_IO;
    pthread_mutex_lock(&log_mu);
    if (log_fp && log_fp != stderr)
        fclose(log_fp);
    free(log_path);
    log_path = path ? strdup(path) : NULL;
    log_fp = fp;
    log_min = level;
    pthread_mutex_unlock(&log_mu);
    return TB_OK;
}

tb_err tb_log_reopen(void)
{
    tb_err rc = TB_OK;
    pthread_mutex_lock(&log_mu);
    if (log_path) {
        FILE *fp = open_path(log_path);
        if (fp) {
            if (log_fp && log_fp != stderr)
                fclose(log_fp);
            log_fp = fp;
        } else {
            rc = TB_ERR_IO;
        }
    }
    pthread_mutex_unlock(&log_mu);
    return rc;
}

void tb_log_flush(void)
{
    pthread_mutex_lock(&log_mu);
    if (log_fp)
        fflush(log_fp);
    pthread_mutex_unlock(&log_mu);
}

void tb_log_close(void)
{
    pthread_mutex_lock(&log_mu);
    if (log_fp && log_fp != stderr)
        fclose(log_fp);
    log_fp = NULL;
    free(log_path);
    log_path = NULL;
    pthread_mutex_unlock(&log_mu);
}

bool tb_log_enabled(tb_log_level lvl)
{
    return lvl >= log_min;
}

const char *tb_log_quote(char *out, size_t outsz, const char *s)
{
    if (!outsz)
        return out;
    if (!s)
        s = "";
    bool need = (*s == '\0');
    for (const char *p = s; *p && !need; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
            need = true;
    size_t o = 0;
    if (!need) {
        snprintf(out, outsz, "%s", s);
        return out;
    }
    if (outsz < 3) {            /* no room for "" plus NUL */
        out[0] = '\0';
        return out;
    }
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < outsz; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    if (o < outsz - 1)
        out[o++] = '"';
    out[o] = '\0';
    return out;
}

void tb_log(tb_log_level lvl, const char *msg, const char *fmt, ...)
{
    if (lvl < log_min)
        return;
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char qmsg[256];
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_name[lvl],
                     tb_log_quote(qmsg, sizeof qmsg, msg));
    if (n < 0)
        return;
    if ((size_t)n < sizeof line && fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
    }
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    pthread_mutex_lock(&log_mu);
    FILE *fp = log_fp ? log_fp : stderr;
    fwrite(line, 1, (size_t)n, fp);
    if (lvl >= TB_LOG_WARN || fp == stderr)
        fflush(fp);
    pthread_mutex_unlock(&log_mu);
}
