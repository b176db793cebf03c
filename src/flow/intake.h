/* F1 intake: outbound events from the appliance, at the same URL paths as the
 * ServiceNow apps. Contract: 200 only after the incoming-request record and
 * its job are committed (group commit through the writer). Every refusal is
 * answered with a JSON error and recorded as a rejected incoming request. */
#ifndef TB_FLOW_INTAKE_H
#define TB_FLOW_INTAKE_H

#include "flow/appliance_cache.h"
#include "flow/workers.h"
#include "http/server.h"
#include "store/writer.h"

#define INTAKE_BODY_MAX (64 * 1024)

typedef struct intake_ctx {
    tb_writer *writer;
    appliance_cache *appliances;
    workers *jobs;                  /* woken when a job is committed; may be NULL */
    /* Benchmark baseline only: validate, then answer 200 WITHOUT storing.
     * Breaks the "200 means stored" contract on purpose; never in service. */
    bool bench_no_store;
} intake_ctx;

/* Handler for every outbound-event route; tb_http_app(req) must start with
 * (or be) an intake_ctx. */
void intake_handle(tb_http_req *req);

/* Route table entries for the five intake paths (terminated by {0}). */
extern const tb_route intake_routes[];

#endif
