/* F2 reconciler: appliances drop an outbound event once its retry duration
 * runs out, and RS "Basic" setups send none at all. So, per appliance every
 * poll_interval seconds (default 300), a "reconcile" job lists the sessions
 * that ended since the last poll (*SessionListing, end_time=since,
 * duration=0) and queues a session_import job for each one neither imported
 * nor already queued. The next poll starts a minute before this one did, so
 * a session that ended during a poll is not missed; a first poll looks back
 * a day. Imports the poll queues wait a grace period (the poll interval, at
 * most two minutes): a session that just ended usually has its event on the
 * way, and that import makes the poll's one a cheap no-op. */
#ifndef TB_FLOW_RECONCILE_H
#define TB_FLOW_RECONCILE_H

#include "flow/import.h"
#include "store/writer.h"

#define RECONCILE_JOB_KIND "reconcile"
#define RECONCILE_FIRST_LOOKBACK_S 86400
#define RECONCILE_OVERLAP_S 60
#define RECONCILE_GRACE_MAX_S 120

/* job_handler_fn for RECONCILE_JOB_KIND; ctx is the import_ctx. */
tb_err reconcile_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz);
/* Queues due polls; called from the daemon's housekeeping tick. */
tb_err reconcile_schedule(tb_writer *w, int64_t *queued);

#endif
