/* The single writer: one thread owns the SQLite write connection and commits
 * requests in batches (group commit). Whatever has queued up while the
 * previous batch was being committed goes into the next transaction, so under
 * load many requests share one fsync, and an idle system commits each request
 * at once (no timer-based waiting).
 *
 * Concurrency contract: writer_submit may be called from any thread. The
 * request memory (and every string it borrows) must stay valid until its done
 * callback has run. done runs on the writer's reply thread, after the batch's
 * COMMIT returned (rc == TB_OK: durable) or failed (rc != TB_OK: nothing of
 * it is stored), in submission order; meanwhile the writer thread is already
 * committing the next batch. done must be quick and must not call
 * writer_submit. */
#ifndef TB_STORE_WRITER_H
#define TB_STORE_WRITER_H

#include <stdint.h>
#include "store/store.h"

typedef enum { WRITE_INTAKE, WRITE_PING, WRITE_FN } tb_write_kind;

/* A function run inside the writer's transaction (WRITE_FN). It must only
 * use st, and must leave nothing half-done on error: the writer then rolls
 * the batch back and re-runs each request in a transaction of its own. */
typedef tb_err (*tb_write_fn)(tb_store *st, void *arg);

typedef struct tb_write_req tb_write_req;
struct tb_write_req {
    tb_write_kind kind;
    tb_intake_rec rec;                  /* WRITE_INTAKE input */
    tb_write_fn fn;                     /* WRITE_FN */
    void *fn_arg;
    tb_err rc;                          /* output */
    tb_intake_result res;               /* output */
    void (*done)(tb_write_req *req);
    void *arg;
    tb_write_req *next;                 /* writer-private */
};

typedef struct tb_writer tb_writer;

typedef struct tb_writer_stats {
    uint64_t batches;
    uint64_t requests;
    uint64_t failed_batches;
    uint64_t max_batch;
    uint64_t apply_us;          /* time executing statements */
    uint64_t commit_us;         /* time in COMMIT (WAL write + fsync) */
    uint64_t done_us;           /* time in done callbacks (replies, resumes) */
} tb_writer_stats;

tb_err writer_start(const char *db_path, int batch_max, tb_writer **out);
/* TB_ERR_SHUTDOWN once writer_stop has begun. */
tb_err writer_submit(tb_writer *w, tb_write_req *req);
/* Submits and waits for done; timeout_ms <= 0 waits forever. On timeout the
 * request is still processed later, so req must not live on the caller's
 * stack: this function copies it. Returns the request's rc or TB_ERR_TIMEOUT. */
tb_err writer_run_sync(tb_writer *w, tb_write_kind kind, int timeout_ms);
/* Runs fn(st, arg) in the writer's next batch and waits for its commit.
 * Returns fn's result, or the commit's error. No timeout: arg stays the
 * caller's and must outlive the call, which this guarantees by waiting. */
tb_err writer_call(tb_writer *w, tb_write_fn fn, void *arg);
/* Commits everything already queued, then stops the thread and closes. */
void writer_stop(tb_writer *w);
void writer_stats(tb_writer *w, tb_writer_stats *out);
/* Requests queued but not yet committed. */
uint64_t writer_pending(tb_writer *w);

#endif
