/* Small server-rendered HTML pages (the representative console's custom
 * links, the ticket view, the click-to-chat form): escaping, a page frame
 * and the reply with the headers every page gets. Everything that came
 * from a request, the appliance or a ticket goes through tb_html_escape. */
#ifndef TB_HTTP_HTML_H
#define TB_HTTP_HTML_H

#include <stdbool.h>

#include "core/buf.h"
#include "core/err.h"
#include "http/server.h"

/* Appends s with & < > " ' as character references (safe in text and in
 * quoted attribute values). NULL appends nothing. */
tb_err tb_html_escape(tb_buf *b, const char *s);
/* printf-style, then escaped as a whole. */
tb_err tb_html_escapef(tb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<!doctype html>..." up to and including <body> and an <h1> of title. */
tb_err tb_html_begin(tb_buf *b, const char *title);
tb_err tb_html_end(tb_buf *b);

typedef struct tb_html_policy {
    const char *form_action;        /* extra CSP form-action source (an origin), or NULL */
    bool frameable;                 /* may be shown in another site's frame */
} tb_html_policy;

/* Replies with b as text/html, no caching, a Content-Security-Policy that
 * allows no scripts (forms only to this server and form_action), nosniff,
 * and framing only when the policy allows it. b is not freed. */
void tb_http_reply_html(tb_http_req *req, int status, const tb_buf *b, const tb_html_policy *policy);

#endif
