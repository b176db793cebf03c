#include "http/html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tb_err tb_html_escape(tb_buf *b, const char *s)
{
    if (!s)
        return TB_OK;
    const char *run = s;
    tb_err e = TB_OK;
    for (; !e && *s; s++) {
        const char *ref = NULL;
        switch (*s) {
        case '&': ref = "&amp;"; break;
        case '<': ref = "&lt;"; break;
        case '>': ref = "&gt;"; break;
        case '"': ref = "&quot;"; break;
        case '\'': ref = "&#39;"; break;
        default: continue;
        }
        e = tb_buf_append(b, run, (size_t)(s - run));
        if (!e)
            e = tb_buf_appends(b, ref);
        run = s + 1;
    }
    return e ? e : tb_buf_append(b, run, (size_t)(s - run));
}

tb_err tb_html_escapef(tb_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return TB_ERR_INVALID;
    if ((size_t)n < sizeof small)
        return tb_html_escape(b, small);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return TB_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tb_err e = tb_html_escape(b, big);
    free(big);
    return e;
}

tb_err tb_html_begin(tb_buf *b, const char *title)
{
    tb_err e = tb_buf_appends(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    if (!e)
        e = tb_html_escape(b, title);
    if (!e)
        e = tb_buf_appends(b, "</title><style>"
                              "body{font-family:sans-serif;margin:1.5em;max-width:60em}"
                              "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;"
                              "text-align:left;vertical-align:top}"
                              ".warn{color:#8a4b00}.err{color:#a00}pre{white-space:pre-wrap}"
                              "label{display:block;margin:.4em 0}"
                              "</style></head><body><h1>");
    if (!e)
        e = tb_html_escape(b, title);
    return e ? e : tb_buf_appends(b, "</h1>\n");
}

tb_err tb_html_end(tb_buf *b)
{
    return tb_buf_appends(b, "\n</body></html>\n");
}

void tb_http_reply_html(tb_http_req *req, int status, const tb_buf *b, const tb_html_policy *policy)
{
    if (!b->data) {
        tb_http_reply_error(req, 500, "Internal error", "cannot render the page");
        return;
    }
    char csp[600];
    const char *extra = policy && policy->form_action && *policy->form_action &&
                                !strpbrk(policy->form_action, " ;,\r\n'\"")
                            ? policy->form_action
                            : NULL;
    snprintf(csp, sizeof csp,
             "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'%s%s; base-uri 'none'; "
             "frame-ancestors %s",
             extra ? " " : "", extra ? extra : "", policy && policy->frameable ? "*" : "'none'");
    tb_http_reply(req, status, "text/html; charset=utf-8", b->data, b->len);
    tb_http_reply_header(req, "Content-Security-Policy", csp);
    tb_http_reply_header(req, "X-Content-Type-Options", "nosniff");
    tb_http_reply_header(req, "Cache-Control", "no-store");
    tb_http_reply_header(req, "Referrer-Policy", "no-referrer");
    if (!(policy && policy->frameable))
        tb_http_reply_header(req, "X-Frame-Options", "DENY");
}
