/* A webhook receiver inside epmsim (/_epmsim/sink[/...]) so that tests of the
 * sender need no other tool: it records what arrives (headers, raw body,
 * parsed JSON) and answers 200, or what a "sink" fault says. */
#include "epmsim.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

static json_t *header_or_null(const ep_req *r, const char *name)
{
    const char *v = req_header(r, name);
    return v ? ep_json_text(v, strlen(v)) : json_null();
}

void handle_sink(ep_req *r, ep_reply *out)
{
    char now[40];
    ep_iso_ms(ep_now(), now, sizeof now);
    bool answered = apply_fault(EP_EP_SINK, EP_STYLE_CONTROL, out);
    json_error_t err;
    json_t *parsed = r->body.len ? json_loadb(r->body.data, r->body.len, 0, &err) : NULL;
    json_t *strict = r->body.len ? json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES,
                                              &err)
                                 : NULL;
    json_t *rec = json_pack("{s:s,s:s,s:s}", "method", r->method, "path", r->url, "received_at",
                            now);
    json_object_set_new(rec, "authorization", header_or_null(r, MHD_HTTP_HEADER_AUTHORIZATION));
    json_object_set_new(rec, "content_type", header_or_null(r, MHD_HTTP_HEADER_CONTENT_TYPE));
    json_object_set_new(rec, "user_agent", header_or_null(r, MHD_HTTP_HEADER_USER_AGENT));
    json_object_set_new(rec, "body", ep_json_text(r->body.data ? r->body.data : "", r->body.len));
    json_object_set_new(rec, "json", parsed ? parsed : json_null());
    /* EPM's application template repeats "workstyle": visible here */
    json_object_set_new(rec, "duplicate_keys", json_boolean(parsed && !strict));
    json_decref(strict);
    if (!answered)
        reply_json(out, 200, json_pack("{s:s}", "result", "received"));
    json_object_set_new(rec, "status", out->drop ? json_null() : json_integer(out->status));
    pthread_mutex_lock(&E.mu);
    E.st.sink_received++;
    json_object_set_new(rec, "seq", json_integer((json_int_t)++E.sink_seq));
    if (json_array_size(E.sink) >= EP_MAX_LOG) {
        json_array_remove(E.sink, 0);
        E.sink_dropped++;
    }
    json_array_append_new(E.sink, rec);
    pthread_mutex_unlock(&E.mu);
}

json_t *sink_json(void)
{
    pthread_mutex_lock(&E.mu);
    json_t *j = json_pack("{s:O,s:I}", "received", E.sink, "dropped", (json_int_t)E.sink_dropped);
    json_t *copy = json_deep_copy(j);
    json_decref(j);
    pthread_mutex_unlock(&E.mu);
    return copy;
}

void sink_clear(void)
{
    pthread_mutex_lock(&E.mu);
    json_array_clear(E.sink);
    E.sink_dropped = 0;
    pthread_mutex_unlock(&E.mu);
}
