/* Job workers: N threads claim queued jobs of the kinds that have a handler,
 * run them and record the outcome. Every state change goes through the
 * writer (one write connection, group-committed with the intake).
 *
 * Outcome of a handler, by its return value:
 *   TB_OK                                  → done
 *   TB_ERR_BUSY, _HTTP, _TIMEOUT, _IO      → queued again after an
 *       exponential backoff with jitter, until max_attempts, then failed
 *   anything else                          → failed at once
 * The message the handler writes to err is kept as the job's last error.
 * Jobs whose kind has no handler stay queued (a later version may handle
 * them); they are never claimed. */
#ifndef TB_FLOW_WORKERS_H
#define TB_FLOW_WORKERS_H

#include <stddef.h>
#include <stdint.h>
#include "store/store.h"
#include "store/writer.h"

#define WORKERS_ERR_MAX 512

typedef tb_err (*job_handler_fn)(void *ctx, const tb_job_claim *job, char *err, size_t errsz);

typedef struct workers_opts {
    int threads;                /* 0 = no workers */
    int max_attempts;           /* default 8 */
    int backoff_base_ms;        /* first retry delay; 0 = default 2000 */
    int backoff_max_ms;         /* cap, default 900000 (15 min) */
    int idle_poll_ms;           /* how often idle workers look, default 500 */
} workers_opts;

typedef struct workers workers;

tb_err workers_new(tb_writer *w, const workers_opts *opt, workers **out);
/* Before workers_start only. kind and ctx are borrowed for the pool's life. */
tb_err workers_register(workers *p, const char *kind, job_handler_fn fn, void *ctx);
/* Puts jobs a previous process left running back in the queue, then starts. */
tb_err workers_start(workers *p);
/* From a handler about to return a transient error: retry no sooner than
 * ms from now (the peer's Retry-After), if that is later than the backoff.
 * Applies to the job the calling thread is running. */
void workers_retry_after(int64_t ms);
/* New jobs may be waiting: wake an idle worker now instead of at its next poll. */
void workers_notify(workers *p);
/* Lets running jobs finish, then joins the threads and frees the pool. */
void workers_stop(workers *p);

/* For tests and metrics. */
typedef struct workers_stats {
    unsigned long long done, retried, failed;
} workers_stats;
void workers_get_stats(workers *p, workers_stats *out);

#endif
