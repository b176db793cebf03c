/* A few threads for appliance calls that a person waits for (session keys).
 *
 * Why not the HTTP threads: there are two of them, and an appliance call can
 * take seconds (up to its timeout), so two slow keys would stall every other
 * request, the outbound-event intake included. Why not the job workers:
 * their queue is a database table with idle polling and retries with
 * backoff, made for work nobody waits on. So the handler suspends its
 * connection, hands the call to this pool and answers when it is done.
 *
 * The queue is bounded: when it is full, call_pool_submit says TB_ERR_BUSY
 * and the handler answers 503 at once instead of letting callers pile up.
 * Threads: call_pool_submit may be called from any thread. */
#ifndef TB_FLOW_CALL_POOL_H
#define TB_FLOW_CALL_POOL_H

#include <stddef.h>
#include "core/err.h"

typedef struct call_pool call_pool;
typedef void (*call_pool_fn)(void *arg);

tb_err call_pool_start(int threads, size_t queue_max, call_pool **out);
/* Runs fn(arg) on a pool thread. TB_ERR_BUSY when the queue is full,
 * TB_ERR_SHUTDOWN once stopping; fn is then not called. */
tb_err call_pool_submit(call_pool *p, call_pool_fn fn, void *arg);
/* Runs what is queued, joins the threads and frees the pool. */
void call_pool_stop(call_pool *p);

#endif
