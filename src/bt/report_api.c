/* Report parser: public API (new/feed/finish/free), error recording and the
 * per-session arena (see bt/report.h; the expat handlers are in
 * report_parser.c).
 *
 * Memory: everything a session points to lives in a chunked arena that is
 * reset after the session's callback; the users/events/values/files arrays
 * are reused between sessions. sess_bytes counts what one session retains and
 * is checked against max_session_bytes, so the peak is set by the limits and
 * the largest session, never by the size of the report. */
#include "bt/report_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---- */

/* Records the first error with the current position and stops expat. */
void report_failv(bt_report_parser *p, tb_err code, bool pos, const char *fmt, va_list ap)
{
    if (p->err)
        return;
    p->err = code;
    int n = vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
    if (pos && n >= 0 && (size_t)n < sizeof p->errmsg)
        snprintf(p->errmsg + n, sizeof p->errmsg - (size_t)n, " (line %lu, column %lu)",
                 (unsigned long)XML_GetCurrentLineNumber(p->xp),
                 (unsigned long)XML_GetCurrentColumnNumber(p->xp) + 1);
    if (p->in_handler)
        XML_StopParser(p->xp, XML_FALSE);
}

void report_fail(bt_report_parser *p, tb_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_failv(p, code, true, fmt, ap);
    va_end(ap);
}

static void fail_nopos(bt_report_parser *p, tb_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_nopos(bt_report_parser *p, tb_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_failv(p, code, false, fmt, ap);
    va_end(ap);
}

/* ---- arena and accounting ---- */

static bool account(bt_report_parser *p, size_t n)
{
    p->sess_bytes += n;
    if (p->sess_bytes > p->lim.max_session_bytes) {
        report_fail(p, TB_ERR_TOO_LARGE, "session %.64s needs more than %zu bytes (max_session_bytes)",
             p->sess.lsid ? p->sess.lsid : "?", p->lim.max_session_bytes);
        return false;
    }
    return true;
}

void *report_alloc(bt_report_parser *p, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!account(p, n))
        return NULL;
    report_chunk *c = p->arena;
    if (!c || c->size - c->used < n) {
        size_t sz = n > REPORT_CHUNK / 4 ? n : REPORT_CHUNK;
        c = malloc(sizeof *c + sz);
        if (!c) {
            report_fail(p, TB_ERR_NOMEM, "out of memory");
            return NULL;
        }
        c->size = sz;
        c->used = 0;
        if (sz == REPORT_CHUNK || !p->arena) {
            c->next = p->arena;
            p->arena = c;
        } else { /* an oversized block: keep the current chunk in front for small ones */
            c->next = p->arena->next;
            p->arena->next = c;
        }
    }
    void *r = c->data + c->used;
    c->used += n;
    return r;
}

/* Frees all but one standard chunk; the session retains nothing after it. */
void report_arena_reset(bt_report_parser *p)
{
    report_chunk *keep = NULL, *c = p->arena;
    while (c) {
        report_chunk *next = c->next;
        if (!keep && c->size == REPORT_CHUNK) {
            keep = c;
        } else {
            free(c);
        }
        c = next;
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    p->arena = keep;
    p->sess_bytes = 0;
}

const char *report_str(bt_report_parser *p, const char *s, size_t n)
{
    char *d = report_alloc(p, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Grows *arr (element size esz) so that one more fits. */
bool report_grow(bt_report_parser *p, void **arr, size_t *cap, size_t n, size_t esz)
{
    if (!account(p, esz))
        return false;
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 16;
    void *a = realloc(*arr, nc * esz);
    if (!a) {
        report_fail(p, TB_ERR_NOMEM, "out of memory");
        return false;
    }
    *arr = a;
    *cap = nc;
    return true;
}

/* ---- public API ---- */

void bt_report_limits_default(bt_report_limits *lim)
{
    lim->max_input_bytes = BT_REPORT_DEFAULT_MAX_INPUT;
    lim->max_depth = 32;
    lim->max_text = 64 * 1024;
    lim->max_chat_text = 1024 * 1024;
    lim->max_events = 200000;
    lim->max_attributes = 64;
    lim->max_session_bytes = 64u * 1024 * 1024;
    lim->max_token_bytes = 4u * 1024 * 1024;
}

bt_report_parser *bt_report_parser_new(const bt_report_limits *lim, bt_session_cb cb, void *ctx)
{
    bt_report_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    bt_report_limits_default(&p->lim);
    if (lim) {
#define TAKE(f) if (lim->f) p->lim.f = lim->f
        TAKE(max_input_bytes); TAKE(max_depth); TAKE(max_text); TAKE(max_chat_text);
        TAKE(max_events); TAKE(max_attributes); TAKE(max_session_bytes); TAKE(max_token_bytes);
#undef TAKE
    }
    if (p->lim.max_depth > 1000)
        p->lim.max_depth = 1000;
    p->cb = cb;
    p->ctx = ctx;
    p->stack = malloc(p->lim.max_depth + 1);
    p->xp = XML_ParserCreateNS(NULL, NS_SEP);
    if (!p->stack || !p->xp) {
        bt_report_parser_free(p);
        return NULL;
    }
    report_parser_setup(p);
    return p;
}

void bt_report_parser_on_summary(bt_report_parser *p, bt_summary_cb cb, void *ctx)
{
    p->summary_cb = cb;
    p->summary_ctx = ctx;
}

/* After XML_Parse failed: our own error, or expat's, with its position. */
static tb_err xml_failed(bt_report_parser *p)
{
    if (p->err)
        return p->err;
    enum XML_Error code = XML_GetErrorCode(p->xp);
    fail_nopos(p, code == XML_ERROR_NO_MEMORY ? TB_ERR_NOMEM : TB_ERR_INVALID,
               "malformed XML: %s (line %lu, column %lu)", XML_ErrorString(code),
               (unsigned long)XML_GetCurrentLineNumber(p->xp),
               (unsigned long)XML_GetCurrentColumnNumber(p->xp) + 1);
    return p->err;
}

static tb_err parse(bt_report_parser *p, const char *buf, size_t len, bool final)
{
    p->in_handler = true;
    enum XML_Status st = XML_Parse(p->xp, buf, (int)len, final);
    p->in_handler = false;
    if (st != XML_STATUS_OK)
        return xml_failed(p);
    return p->err;
}

tb_err bt_report_parser_feed(bt_report_parser *p, const char *buf, size_t len)
{
    if (p->err)
        return p->err;
    if (p->finished) {
        fail_nopos(p, TB_ERR_INVALID, "data fed after the end of the report");
        return p->err;
    }
    if (len > p->lim.max_input_bytes - p->nbytes) {
        fail_nopos(p, TB_ERR_TOO_LARGE, "report larger than %zu bytes (max_input_bytes)",
                   p->lim.max_input_bytes);
        return p->err;
    }
    while (len) {
        size_t n = len > (1u << 30) ? (1u << 30) : len;
        uint64_t before = p->progress;
        p->nbytes += n;
        tb_err rc = parse(p, buf, n, false);
        if (rc)
            return rc;
        /* expat buffers an unfinished token (a tag, comment or PI) whole;
         * cap how much it may hold when no handler has fired for a while. */
        if (p->progress == before) {
            p->stalled += n;
            if (p->stalled > p->lim.max_token_bytes) {
                fail_nopos(p, TB_ERR_TOO_LARGE,
                           "a single XML token longer than %zu bytes near byte %llu "
                           "(max_token_bytes)",
                           p->lim.max_token_bytes, (unsigned long long)p->nbytes);
                return p->err;
            }
        } else {
            p->stalled = 0;
        }
        buf += n;
        len -= n;
    }
    return TB_OK;
}

tb_err bt_report_parser_finish(bt_report_parser *p)
{
    if (p->err)
        return p->err;
    if (p->finished)
        return TB_OK;
    p->finished = true;
    return parse(p, "", 0, true);
}

const char *bt_report_parser_error(const bt_report_parser *p) { return p->errmsg; }
const char *bt_report_parser_api_error(const bt_report_parser *p) { return p->api_err; }
bt_report_root bt_report_parser_root(const bt_report_parser *p) { return p->root; }
size_t bt_report_parser_sessions(const bt_report_parser *p) { return p->nsessions; }
uint64_t bt_report_parser_bytes(const bt_report_parser *p) { return p->nbytes; }

void bt_report_parser_free(bt_report_parser *p)
{
    if (!p)
        return;
    if (p->xp)
        XML_ParserFree(p->xp);
    report_arena_reset(p);
    free(p->arena);
    free(p->stack);
    free(p->text);
    free(p->users);
    free(p->events);
    free(p->customs);
    free(p->vals);
    free(p->files);
    free(p->api_err);
    free(p);
}
