/* Job workers against a real SQLite file and the real writer: outcomes,
 * retries with backoff, max attempts, unknown kinds, crash recovery and the
 * CLI's re-queue. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/secret.h"
#include <sodium.h>
#include <time.h>
#include "flow/workers.h"
#include "store/store.h"
#include "store/writer.h"

struct fixture {
    char path[512];
    tb_writer *w;
};

static atomic_int calls_ok, calls_fail, calls_transient;

static tb_err h_ok(void *ctx, const tb_job_claim *job, char *err, size_t errsz)
{
    (void)ctx; (void)job; (void)err; (void)errsz;
    atomic_fetch_add(&calls_ok, 1);
    return TB_OK;
}

static tb_err h_fail(void *ctx, const tb_job_claim *job, char *err, size_t errsz)
{
    (void)ctx;
    atomic_fetch_add(&calls_fail, 1);
    snprintf(err, errsz, "report for %s is malformed", job->lsid);
    return TB_ERR_INVALID;
}

static tb_err h_transient(void *ctx, const tb_job_claim *job, char *err, size_t errsz)
{
    (void)ctx; (void)job;
    atomic_fetch_add(&calls_transient, 1);
    snprintf(err, errsz, "appliance unreachable");
    return TB_ERR_HTTP;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->path, sizeof f->path, "%s/workers-%d-%ld.db", tmp ? tmp : "/tmp", (int)getpid(), random());
    tb_store *st;
    assert_int_equal(store_open(f->path, STORE_CREATE, &st), TB_OK);
    assert_int_equal(store_schema(st), TB_OK);
    store_close(st);
    assert_int_equal(writer_start(f->path, 64, &f->w), TB_OK);
    atomic_store(&calls_ok, 0);
    atomic_store(&calls_fail, 0);
    atomic_store(&calls_transient, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->w)
        writer_stop(f->w);
    test_db_remove(f->path);
    free(f);
    return 0;
}

struct add_arg {
    const char *kind;
    const char *lsid;
};

static tb_err add_job(tb_store *st, void *arg)
{
    struct add_arg *a = arg;
    unsigned char key[32];
    randombytes_buf(key, sizeof key);
    tb_intake_rec r = {.received_ms = tb_now_ms(), .route = "test", .method = "POST", .source_ip = "127.0.0.1",
                       .event = "support_conference_end", .lsid = a->lsid, .status = INCOMING_ACCEPTED,
                       .http_status = 200, .dedup_key = key, .job_kind = a->kind};
    tb_intake_result res;
    return store_intake_apply(st, &r, &res);
}

static void add(struct fixture *f, const char *kind, const char *lsid)
{
    struct add_arg a = {kind, lsid};
    assert_int_equal(writer_call(f->w, add_job, &a), TB_OK);
}

static int64_t count_state(struct fixture *f, const char *state)
{
    tb_store *st;
    assert_int_equal(store_open(f->path, STORE_READ_ONLY, &st), TB_OK);
    tb_job_counts c;
    assert_int_equal(store_job_counts(st, &c), TB_OK);
    store_close(st);
    if (!strcmp(state, "queued")) return c.queued;
    if (!strcmp(state, "running")) return c.running;
    if (!strcmp(state, "done")) return c.done;
    return c.failed;
}

/* Polls (one read per round, so the state cannot change between the check
 * and the assertion) for at most 5 s. */
static void wait_for(struct fixture *f, const char *state, int64_t n)
{
    int64_t c = count_state(f, state);
    for (int i = 0; i < 500 && c != n; i++) {
        usleep(10000);
        c = count_state(f, state);
    }
    assert_int_equal(c, n);
}

/* The outcome is committed before the worker counts it: poll the counters. */
static void wait_stats(workers *p, unsigned long long done, unsigned long long retried, unsigned long long failed,
                       workers_stats *out)
{
    for (int i = 0; i < 500; i++) {
        workers_get_stats(p, out);
        if (out->done >= done && out->retried >= retried && out->failed >= failed)
            break;
        usleep(10000);
    }
}

static void wait_calls(atomic_int *calls, int n)
{
    for (int i = 0; i < 500 && atomic_load(calls) < n; i++)
        usleep(10000);
    assert_true(atomic_load(calls) >= n);
}

static void test_outcomes(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 20; i++)
        add(f, "ok", "lsid-ok");
    add(f, "bad", "lsid-bad");
    add(f, "nobody_handles_this", "lsid-x");
    workers_opts o = {.threads = 3, .max_attempts = 3, .backoff_base_ms = 1, .idle_poll_ms = 20};
    workers *p;
    assert_int_equal(workers_new(f->w, &o, &p), TB_OK);
    assert_int_equal(workers_register(p, "ok", h_ok, NULL), TB_OK);
    assert_int_equal(workers_register(p, "bad", h_fail, NULL), TB_OK);
    assert_int_equal(workers_register(p, "ok", h_ok, NULL), TB_ERR_EXISTS);
    assert_int_equal(workers_start(p), TB_OK);
    workers_notify(p);
    wait_for(f, "done", 20);
    wait_for(f, "failed", 1);
    workers_stats s;
    wait_stats(p, 20, 0, 1, &s);
    workers_stop(p);
    assert_int_equal(atomic_load(&calls_ok), 20);          /* each exactly once */
    assert_int_equal(atomic_load(&calls_fail), 1);         /* permanent: no retry */
    assert_int_equal(count_state(f, "queued"), 1);         /* unknown kind untouched */
    assert_int_equal(s.done, 20);
    assert_int_equal(s.failed, 1);

    tb_store *st;
    assert_int_equal(store_open(f->path, STORE_READ_ONLY, &st), TB_OK);
    tb_job *v;
    size_t n;
    tb_job_filter jf = {.state = "failed", .limit = 10};
    assert_int_equal(store_job_list(st, &jf, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].last_error, "report for lsid-bad is malformed");
    assert_int_equal(v[0].attempts, 1);
    tb_jobs_free(v, n);
    store_close(st);
}

static void test_transient_retries_then_fails(void **state)
{
    struct fixture *f = *state;
    add(f, "flaky", "lsid-flaky");
    workers_opts o = {.threads = 1, .max_attempts = 3, .backoff_base_ms = 1, .idle_poll_ms = 20};
    workers *p;
    assert_int_equal(workers_new(f->w, &o, &p), TB_OK);
    assert_int_equal(workers_register(p, "flaky", h_transient, NULL), TB_OK);
    assert_int_equal(workers_start(p), TB_OK);
    wait_for(f, "failed", 1);
    workers_stats s;
    wait_stats(p, 0, 2, 1, &s);
    workers_stop(p);
    assert_int_equal(atomic_load(&calls_transient), 3);    /* max_attempts */
    assert_int_equal(s.retried, 2);
    assert_int_equal(s.failed, 1);
}

static void test_backoff_delays_retry(void **state)
{
    struct fixture *f = *state;
    add(f, "flaky", "lsid-slow");
    workers_opts o = {.threads = 1, .max_attempts = 5, .backoff_base_ms = 60000, .idle_poll_ms = 20};
    workers *p;
    assert_int_equal(workers_new(f->w, &o, &p), TB_OK);
    assert_int_equal(workers_register(p, "flaky", h_transient, NULL), TB_OK);
    assert_int_equal(workers_start(p), TB_OK);
    wait_calls(&calls_transient, 1);    /* the job was queued before its first claim too */
    wait_for(f, "queued", 1);
    usleep(300000);
    workers_stop(p);
    /* one attempt, then waiting at least ~45 s (60 s minus jitter) */
    assert_int_equal(atomic_load(&calls_transient), 1);
    tb_store *st;
    assert_int_equal(store_open(f->path, STORE_READ_ONLY, &st), TB_OK);
    tb_job *v;
    size_t n;
    tb_job_filter jf = {.limit = 10};
    assert_int_equal(store_job_list(st, &jf, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_true(v[0].run_after >= time(NULL) + 40);
    assert_string_equal(v[0].last_error, "appliance unreachable");
    tb_jobs_free(v, n);
    store_close(st);
}

static tb_err h_retry_after(void *ctx, const tb_job_claim *job, char *err, size_t errsz)
{
    (void)ctx; (void)job;
    atomic_fetch_add(&calls_transient, 1);
    snprintf(err, errsz, "HTTP 429, Retry-After: 120");
    workers_retry_after(120000);
    return TB_ERR_HTTP;
}

/* A handler's Retry-After wins over a shorter backoff. */
static void test_retry_after(void **state)
{
    struct fixture *f = *state;
    add(f, "busy", "lsid-busy");
    workers_opts o = {.threads = 1, .max_attempts = 5, .backoff_base_ms = 1, .idle_poll_ms = 20};
    workers *p;
    assert_int_equal(workers_new(f->w, &o, &p), TB_OK);
    assert_int_equal(workers_register(p, "busy", h_retry_after, NULL), TB_OK);
    assert_int_equal(workers_start(p), TB_OK);
    wait_calls(&calls_transient, 1);
    wait_for(f, "queued", 1);
    usleep(300000);
    workers_stop(p);
    assert_int_equal(atomic_load(&calls_transient), 1);
    tb_store *st;
    assert_int_equal(store_open(f->path, STORE_READ_ONLY, &st), TB_OK);
    tb_job *v;
    size_t n;
    tb_job_filter jf = {.limit = 10};
    assert_int_equal(store_job_list(st, &jf, &v, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_true(v[0].run_after >= time(NULL) + 110);
    tb_jobs_free(v, n);
    store_close(st);
}

static tb_err claim_one(tb_store *st, void *arg)
{
    static const char *const kinds[] = {"ok"};
    return store_job_claim(st, kinds, 1, tb_now_ms() / 1000, arg);
}

static void test_recover_and_requeue(void **state)
{
    struct fixture *f = *state;
    add(f, "ok", "lsid-crash");
    tb_job_claim c;
    assert_int_equal(writer_call(f->w, claim_one, &c), TB_OK);   /* "crash" while running */
    assert_string_equal(c.lsid, "lsid-crash");
    assert_int_equal(c.attempts, 1);
    assert_int_equal(count_state(f, "running"), 1);
    assert_int_equal(writer_call(f->w, claim_one, &c), TB_ERR_NOT_FOUND);

    workers_opts o = {.threads = 1, .idle_poll_ms = 20};
    workers *p;
    assert_int_equal(workers_new(f->w, &o, &p), TB_OK);
    assert_int_equal(workers_register(p, "ok", h_ok, NULL), TB_OK);
    assert_int_equal(workers_start(p), TB_OK);                 /* recovers it */
    wait_for(f, "done", 1);
    workers_stop(p);

    /* the CLI's re-queue of a done job, then of all failed (none) */
    writer_stop(f->w);
    f->w = NULL;
    tb_store *st;
    assert_int_equal(store_open(f->path, 0, &st), TB_OK);
    int64_t n = -1;
    assert_int_equal(store_job_requeue(st, 1, 0, &n), TB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(store_job_requeue(st, 0, 0, &n), TB_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_job_requeue(st, 999, 0, &n), TB_OK);
    assert_int_equal(n, 0);
    store_close(st);
    assert_int_equal(count_state(f, "queued"), 1);
}

static void test_claim_validation(void **state)
{
    struct fixture *f = *state;
    (void)f;
    tb_store *st;
    assert_int_equal(store_open(f->path, 0, &st), TB_OK);
    tb_job_claim c;
    assert_int_equal(store_job_claim(st, NULL, 0, 0, &c), TB_ERR_INVALID);
    const char *many[STORE_JOB_KINDS_MAX + 1];
    for (int i = 0; i <= STORE_JOB_KINDS_MAX; i++)
        many[i] = "k";
    assert_int_equal(store_job_claim(st, many, STORE_JOB_KINDS_MAX + 1, 0, &c), TB_ERR_INVALID);
    assert_int_equal(store_job_finish(st, 1, "exploded", 0, NULL, 0), TB_ERR_INVALID);
    assert_int_equal(store_job_finish(st, 12345, "done", 0, NULL, 0), TB_ERR_NOT_FOUND);
    store_close(st);
}

int main(void)
{
    tb_secret_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transient_retries_then_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_delays_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_and_requeue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_validation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
