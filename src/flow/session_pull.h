/* The scheduled job "Import BeyondTrust Sessions" (seed 002
 * pullPendingBomgarReports; seed 001 "Enable pulling sessions ... from
 * BeyondTrust"): every pull interval (default 5 minutes), when pulling is
 * on, a "session_key_pull" job per appliance with remembered keys to look
 * after asks the appliance for the sessions that started since the oldest
 * such key (SupportSession, start_time=<oldest key - 5 min>, duration=0:
 * running sessions included), ties each to its key, and queues the import
 * of the ones that ended. The import writes the chat transcript and the
 * basic session information to the ticket's work notes.
 *
 * A session belongs to a key when it is the key's known session (lsid), or
 * when it started after the key was made and carries the key's ticket: its
 * sys_id in snow_task_id / snow_case_id, or its number (or sys_id) as the
 * external key. Each key takes at most one session and each session one key.
 *
 * Outbound events, when configured, import sessions at once; the pull is
 * the safety net, and marks such keys imported. Keys no session used expire
 * after their expiry plus the grace period (store_session_key_sweep runs on
 * every housekeeping tick). */
#ifndef TB_FLOW_SESSION_PULL_H
#define TB_FLOW_SESSION_PULL_H

#include "flow/import.h"
#include "store/store_session_key.h"
#include "store/writer.h"

/* job_handler_fn for SESSION_KEY_PULL_JOB_KIND; ctx is the import_ctx. */
tb_err session_pull_job(void *ctx, const tb_job_claim *job, char *err, size_t errsz);
/* Housekeeping tick: sweeps the remembered keys and queues due pulls.
 * *queued = pull jobs queued (may be NULL). */
tb_err session_pull_schedule(tb_writer *w, int64_t *queued);

#endif
