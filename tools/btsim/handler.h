/* Requests and replies of btsim's HTTP handlers. server.c owns the listener:
 * it collects a request into a req, calls one handler, and sends the reply.
 * Handlers run on the connection's own thread (one thread per connection),
 * so a handler may block (the ticket-system sender does). */
#ifndef BTSIM_HANDLER_H
#define BTSIM_HANDLER_H

#include <jansson.h>

#include "btsim.h"

typedef struct req {
    const char *method;
    const char *url;
    bt_kvs params;          /* query arguments, then form fields, then (control API)
                             * the JSON body's fields flattened to dotted names */
    json_t *json;           /* control API: the JSON body object, NULL without one */
    const char *authorization;      /* Authorization header, NULL if absent */
    char *basic_user, *basic_pass;  /* HTTP Basic credentials, NULL if absent */
} req;

typedef struct reply {
    int status;
    const char *ctype;
    char *body;             /* malloc'd, NUL-terminated */
    bool close;
    bool drop;              /* close without answering */
    bt_kvs headers;
} reply;

static inline const char *P(const req *r, const char *k) { return kvs_get(&r->params, k); }

/* server.c: building replies. reply_json takes ownership of j, reply_xml of body. */
void reply_json(reply *out, int status, json_t *j);
void reply_xml(reply *out, char *body);
void reply_text(reply *out, int status, const char *ctype, const char *text);
/* Control API error: {"error": "<message>"} (the simulator's own shape). */
void reply_error(reply *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void reply_header(reply *out, const char *name, const char *value);

/* oauth.c */
void handle_token(const req *r, reply *out);
bool bearer_ok(const req *r);

/* command.c, reporting.c */
void handle_command(const req *r, reply *out);
void handle_reporting(const req *r, reply *out);

/* public_site.c: /api/start_session and /api/client_script (no API auth) */
void handle_start_session(const req *r, reply *out);
void handle_client_script(const req *r, reply *out);

/* control.c: everything under /_btsim/ */
void handle_control(const req *r, reply *out);

/* live.c: live sessions (G.mu held for the first two) */
void live_started(bt_session *s);       /* the outbound events of a new live session */
void session_end_now(bt_session *s);    /* ends it and sends its end event */
/* A representative joins (Conference Member Added, owner on the first); the
 * problem and an HTTP *status, or NULL. */
const char *live_join(bt_session *s, const char *username, int *status);
/* [V] §6.2 limits on customer fields; returns the problem and its *field, or NULL */
const char *customer_fields_check(const char *name, const char *company, const char *code,
                                  const char *details, const char **field);
void ctl_sessions_start(const req *r, reply *out);
void ctl_customer_start(const req *r, reply *out);
void ctl_session_action(const char *lsid, const char *action, const req *r, reply *out);

/* jump.c: control routes of the ticket-system sender */
void ctl_jump_config(const req *r, reply *out);
void ctl_jump_request(const req *r, reply *out);
void ctl_jump_burst(const req *r, reply *out);
void ctl_jump_grants(reply *out);

/* faults.c */
bool take_fault(int *counter);

#endif
