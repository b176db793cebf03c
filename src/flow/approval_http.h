/* POST /api/x_bmgr_bomgar_pam/endpoint_approval: the Ticket System URL of PRA
 * Jump Policies. Answers allow or deny (flow/approval.h) and records every
 * decision (store/store_approval.h) with a work note on the task when one
 * was found, committed before the answer is sent.
 *
 * Refusals (unknown or disabled appliance, wrong token, source IP not
 * accepted, malformed body, wrong method, body too large) answer with the
 * same HTTP errors as the intake and are recorded too. Any failure after
 * that (ticket store down or slower than the appliance's approval timeout,
 * the record not committed) answers deny: nothing allows on an error path.
 *
 * Threads: handlers run on the HTTP threads; each thread reads the ticket
 * store through its own handle (thread-local). The record and the note are
 * written by the writer thread. */
#ifndef TB_FLOW_APPROVAL_HTTP_H
#define TB_FLOW_APPROVAL_HTTP_H

#include "flow/appliance_cache.h"
#include "http/server.h"
#include "store/writer.h"

#include "flow/ticket_store.h"

#define APPROVAL_PATH "/api/x_bmgr_bomgar_pam/endpoint_approval"
#define APPROVAL_BODY_MAX (64 * 1024)

typedef struct approval_http approval_http;

typedef struct approval_http_opts {
    ticket_store *tickets;          /* borrowed: the configured ticket store */
    tb_writer *writer;              /* borrowed */
    appliance_cache *appliances;    /* borrowed */
} approval_http_opts;

tb_err approval_http_new(const approval_http_opts *opt, approval_http **out);
/* After the HTTP server has stopped (no handler running) and the writer has
 * committed what it queued, but before the writer closes its connection. */
void approval_http_free(approval_http *h);
/* The route, with h as its context. */
tb_route approval_http_route(approval_http *h);

#endif
