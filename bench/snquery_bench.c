/* Encoded-query benchmark over the embedded ticket store.
 *
 * Creates a fresh store with N incidents (argument, default 100000) assigned
 * to a few users, then runs each query shape RUNS times with limit 10, as the
 * Table API would for one request: parse, compile, execute, build records.
 * Prints p50 and p99 latency per shape.
 *
 *   snquery_bench [N] [--runs R]
 *
 * The store is a temporary file under $TMPDIR (else /tmp), removed at exit. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itsm/itsm.h"
#include "itsm/itsm_table.h"
#include "itsm/snquery.h"

#define NUSERS 50

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, tb_err rc)
{
    fprintf(stderr, "snquery_bench: %s: %s\n", what, tb_strerror(rc));
    exit(1);
}

/* N incidents in one transaction (the store's writes nest as savepoints). */
static void populate(const char *path, size_t n, char (*ids)[ITSM_SYS_ID_LEN + 1],
                     char (*users)[ITSM_SYS_ID_LEN + 1])
{
    tb_err rc = itsm_embedded_schema(path);
    if (rc)
        die("schema", rc);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; BEGIN", NULL, NULL,
                     NULL) != SQLITE_OK)
        die("open", TB_ERR_DB);
    itsm *h;
    if ((rc = itsm_embedded_wrap(db, &h)))
        die("wrap", rc);
    static const char *const states[] = {"1", "2", "3", "6", "7"};
    for (int u = 0; u < NUSERS; u++) {
        char name[32];
        snprintf(name, sizeof name, "user%02d", u);
        itsm_kv kv[] = {{"user_name", name}, {"name", name}};
        itsm_record *r;
        if ((rc = itsm_create(h, "sys_user", kv, 2, &r)))
            die("create user", rc);
        snprintf(users[u], ITSM_SYS_ID_LEN + 1, "%s", r->sys_id);
        itsm_record_free(r);
    }
    for (size_t i = 0; i < n; i++) {
        char sd[64], prio[4];
        snprintf(sd, sizeof sd, "Generated incident %zu", i);
        snprintf(prio, sizeof prio, "%u", 1 + rnd(5));
        itsm_kv kv[] = {
            {"short_description", sd}, {"state", states[rnd(5)]}, {"priority", prio},
            {"assigned_to", users[rnd(NUSERS)]}, {"category", rnd(2) ? "hardware" : "network"},
        };
        itsm_record *r;
        if ((rc = itsm_create(h, "incident", kv, 5, &r)))
            die("create incident", rc);
        snprintf(ids[i], ITSM_SYS_ID_LEN + 1, "%s", r->sys_id);
        itsm_record_free(r);
    }
    itsm_close(h);
    if (sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK)
        die("commit", TB_ERR_DB);
    sqlite3_close(db);
}

typedef enum { BY_NUMBER, BY_SYS_ID, ACTIVE_STATE, BY_USER, BY_NUMBER_COUNT, NSHAPES } shape;

static const char *const shape_names[] = {
    "number=INC...", "sys_id=...", "active=true^state<3", "assigned_to.user_name=...",
    "number=INC... + X-Total-Count",
};

static void make_query(shape s, size_t n, char (*ids)[ITSM_SYS_ID_LEN + 1], char *q, size_t qsz)
{
    switch (s) {
    case BY_NUMBER:
    case BY_NUMBER_COUNT:
        snprintf(q, qsz, "number=INC%07u", 10001 + rnd((uint32_t)n));
        break;
    case BY_SYS_ID:
        snprintf(q, qsz, "sys_id=%s", ids[rnd((uint32_t)n)]);
        break;
    case ACTIVE_STATE:
        snprintf(q, qsz, "active=true^state<3");
        break;
    default:
        snprintf(q, qsz, "assigned_to.user_name=user%02u", rnd(NUSERS));
        break;
    }
}

int main(int argc, char **argv)
{
    size_t n = 100000;
    int runs = 2000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if ((n = strtoul(argv[i], NULL, 10)) == 0)
            n = 1;
    }
    if (runs < 1)
        runs = 1;
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/snquery_bench_%ld.db", tmp && *tmp ? tmp : "/tmp",
             (long)getpid());
    char (*ids)[ITSM_SYS_ID_LEN + 1] = calloc(n, sizeof *ids);
    char (*users)[ITSM_SYS_ID_LEN + 1] = calloc(NUSERS, sizeof *users);
    double *lat = calloc((size_t)runs, sizeof *lat);
    if (!ids || !users || !lat)
        die("memory", TB_ERR_NOMEM);

    double t0 = now_us();
    populate(path, n, ids, users);
    printf("snquery_bench: %zu incidents created in %.1f s; %d runs per shape, limit 10\n", n,
           (now_us() - t0) / 1e6, runs);

    itsm_table *t;
    tb_err rc = itsm_table_open(path, &t);
    if (rc)
        die("open table", rc);
    printf("%-32s %10s %10s %8s\n", "query", "p50 (us)", "p99 (us)", "rows");
    for (int s = 0; s < NSHAPES; s++) {
        size_t rows = 0;
        for (int i = 0; i < runs; i++) {
            char q[128], err[256];
            make_query((shape)s, n, ids, q, sizeof q);
            double a = now_us();
            snquery *sq;
            if ((rc = snquery_parse(q, strlen(q), &sq, err, sizeof err)))
                die(err, rc);
            itsm_table_query req = {.table = "incident", .q = sq, .limit = 10};
            itsm_record **v;
            size_t nv, total;
            rc = itsm_embedded_table_query(t, &req, &v, &nv, s == BY_NUMBER_COUNT ? &total : NULL);
            if (rc)
                die("query", rc);
            itsm_records_free(v, nv);
            snquery_free(sq);
            lat[i] = now_us() - a;
            rows += nv;
        }
        qsort(lat, (size_t)runs, sizeof *lat, cmp_double);
        printf("%-32s %10.1f %10.1f %8.1f\n", shape_names[s], lat[runs / 2],
               lat[(size_t)runs * 99 / 100], (double)rows / runs);
    }
    itsm_table_close(t);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        unlink(p);
    }
    free(ids);
    free(users);
    free(lat);
    return 0;
}
