/* The gateway's own state, behind one interface: appliances, incoming
 * requests, jobs, users and API tokens. store_sqlite*.c implement it over
 * one SQLite file (WAL). A tb_store is one connection: use it from one
 * thread at a time.
 *
 * Ownership: structs filled through out-parameters own their strings; release
 * them with the matching *_clear / *_free function. */
#ifndef TB_STORE_STORE_H
#define TB_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/credential.h"
#include "core/err.h"
#include "core/roles.h"

typedef struct tb_store tb_store;

enum { STORE_READ_ONLY = 1, STORE_CREATE = 2 };

tb_err store_open(const char *path, int flags, tb_store **out);
void store_close(tb_store *st);
/* The SQLite connection, for a backend that must write inside this
 * connection's transaction (the embedded ticket store, from the writer). */
struct sqlite3;
struct sqlite3 *store_sqlite3(tb_store *st);
/* Creates the gateway tables if missing (idempotent). */
tb_err store_schema(tb_store *st);
/* How long a statement waits for another connection's write lock before
 * failing with TB_ERR_BUSY (store_open sets 5 s). */
void store_busy_timeout(tb_store *st, int ms);
/* Last SQLite error text of this connection, for messages. */
const char *store_errmsg(tb_store *st);
tb_err store_begin(tb_store *st);       /* BEGIN IMMEDIATE */
tb_err store_commit(tb_store *st);
void store_rollback(tb_store *st);
/* The daemon's writer turns automatic checkpoints off on its connection
 * (they would run inside its COMMITs) and housekeeping calls
 * store_checkpoint on another connection instead. */
tb_err store_autocheckpoint_off(tb_store *st);
/* PASSIVE checkpoint; never blocks writers. */
tb_err store_checkpoint(tb_store *st);
/* Under constant load readers are always present, so a PASSIVE checkpoint
 * copies the WAL back but the writer never gets to start it over, and the
 * file only grows. Past max_bytes a RESTART checkpoint follows (it waits, within
 * the busy timeout, for the readers of the moment to finish; the next commit
 * then writes the WAL from its start, over blocks already allocated) and
 * reports the WAL's size before it in *wal_bytes (may be NULL). */
tb_err store_checkpoint_bounded(tb_store *st, int64_t max_bytes, int64_t *wal_bytes);
/* Cheap "has anyone committed since I last asked?" (PRAGMA data_version). */
tb_err store_data_version(tb_store *st, int64_t *out);
/* Writes one meta row (inside the caller's transaction): proof that the
 * database is writable, used by /readyz. */
tb_err store_touch(tb_store *st);

/* ---- appliances (seed 000 "Set Up B Series Appliance") ---- */
typedef struct tb_appliance {
    int64_t id;
    char *name;
    char *product;                  /* "rs" | "pra" */
    char *hostname;                 /* host, or scheme://host:port */
    char *appliance_guid;           /* appliance_id the appliance sends, if known */
    char *client_id;
    char *client_secret_sealed;     /* tb_secret_seal output or "" */
    char *outbound_token_sealed;    /* tb_secret_seal output or "" */
    bool integration_enabled;
    bool import_external_sessions;
    bool auto_associate_user;
    bool auto_associate_ci;
    char *accepted_ips;             /* comma-separated IPs / CIDRs; "" = any */
    char *events_to_import;         /* comma-separated event types; "" = all */
    int64_t poll_interval;          /* seconds between reconciler polls; 0 = off */
    /* Change-management approval (seed 000 "Override Change Management") */
    bool override_change_management;
    char *approval_record_type;     /* task table searched; "" = any task table */
    int64_t approval_timeout_ms;    /* ticket store slower than this: deny */
    int64_t created_at, updated_at; /* unix seconds */
} tb_appliance;

void tb_appliance_clear(tb_appliance *a);
void tb_appliances_free(tb_appliance *v, size_t n);
tb_err store_appliance_list(tb_store *st, tb_appliance **out, size_t *n);
tb_err store_appliance_get(tb_store *st, const char *name, tb_appliance *out);
tb_err store_appliance_insert(tb_store *st, const tb_appliance *a, int64_t *id);
tb_err store_appliance_update(tb_store *st, const tb_appliance *a);     /* by id */
tb_err store_appliance_delete(tb_store *st, const char *name);

/* ---- incoming requests and jobs ---- */
typedef enum {
    INCOMING_ACCEPTED,      /* stored; job queued */
    INCOMING_IGNORED,       /* stored; event does not start any job */
    INCOMING_DUPLICATE,     /* a retried delivery of an accepted event */
    INCOMING_REJECTED,      /* refused with an HTTP error */
} tb_incoming_status;

const char *tb_incoming_status_name(tb_incoming_status s);

/* One inbound request as the intake writes it. Borrowed strings. */
typedef struct tb_intake_rec {
    int64_t received_ms;
    const char *route;
    const char *method;
    const char *source_ip;
    int64_t appliance_id;           /* 0 = unknown */
    const char *event;
    const char *lsid;
    tb_incoming_status status;      /* ACCEPTED/IGNORED may turn into DUPLICATE */
    int http_status;
    const char *reason;
    const char *content_type;
    const void *body;
    size_t body_len;
    bool body_truncated;
    /* 32 bytes or NULL. Keys are compared as bytes and kept in an index:
     * callers start them with a big-endian event time so that inserts land
     * at the end of the index instead of all over it. */
    const unsigned char *dedup_key;
    const char *job_kind;           /* NULL = no job */
} tb_intake_rec;

/* Result of store_intake_apply. */
typedef struct tb_intake_result {
    int64_t incoming_id;
    int64_t job_id;                 /* 0 when none queued */
    int64_t duplicate_of;           /* original incoming id, when a duplicate */
} tb_intake_result;

/* Inserts the incoming record and its job inside the caller's transaction.
 * A record whose dedup_key is already stored becomes a DUPLICATE row and
 * queues no job. On error the caller must roll the transaction back: part of
 * the request may have been written (the writer then retries each request of
 * the batch in a transaction of its own). */
tb_err store_intake_apply(tb_store *st, const tb_intake_rec *rec, tb_intake_result *res);

typedef struct tb_incoming {
    int64_t id;
    int64_t received_ms;
    char *route, *method, *source_ip, *appliance, *event, *lsid, *status, *reason, *content_type;
    int http_status;
    int64_t duplicate_of;
    int64_t job_id;
    char *body;                     /* NUL-terminated copy */
    size_t body_len;
    bool body_truncated;
} tb_incoming;

typedef struct tb_incoming_filter {
    const char *status;             /* NULL = any */
    int64_t id;                     /* 0 = any */
    size_t limit;                   /* newest first */
} tb_incoming_filter;

tb_err store_incoming_list(tb_store *st, const tb_incoming_filter *f, tb_incoming **out, size_t *n);
void tb_incoming_free(tb_incoming *v, size_t n);

typedef struct tb_job {
    int64_t id;
    char *kind, *state, *appliance, *lsid, *last_error;
    int64_t incoming_id;
    int attempts;
    int64_t created_at, updated_at, run_after;
} tb_job;

typedef struct tb_job_filter {
    const char *state;              /* NULL = any */
    size_t limit;
} tb_job_filter;

tb_err store_job_list(tb_store *st, const tb_job_filter *f, tb_job **out, size_t *n);
void tb_jobs_free(tb_job *v, size_t n);
/* Counts by state, for metrics: queued, running, done, failed. */
typedef struct tb_job_counts {
    int64_t queued, running, done, failed;
} tb_job_counts;
tb_err store_job_counts(tb_store *st, tb_job_counts *out);

/* ---- job queue (workers claim through the writer; see flow/workers.h) ---- */
typedef struct tb_job_claim {
    int64_t id;
    char kind[32];
    int64_t appliance_id;           /* 0 = none */
    char lsid[65];
    int64_t incoming_id;
    int attempts;                   /* including this one */
    int64_t requested_at;           /* created, or re-queued by hand (unix s) */
} tb_job_claim;

#define STORE_JOB_KINDS_MAX 16

/* Marks the oldest due queued job of one of kinds running and returns it;
 * TB_ERR_NOT_FOUND when there is none. */
tb_err store_job_claim(tb_store *st, const char *const *kinds, size_t nkinds, int64_t now,
                       tb_job_claim *out);
/* state: "done", "failed", or "queued" again with run_after (a retry). */
tb_err store_job_finish(tb_store *st, int64_t id, const char *state, int64_t run_after,
                        const char *last_error, int64_t now);
/* Failed (or, with id, that one failed or done job) back to queued;
 * *count = jobs re-queued. */
tb_err store_job_requeue(tb_store *st, int64_t id, int64_t now, int64_t *count);
/* After a crash: jobs left running go back to queued. */
tb_err store_job_recover(tb_store *st, int64_t now, int64_t *count);

/* ---- imported sessions (F1) ----
 * The store reads the parser's normalized model (bt/report.h) as plain data. */
struct bt_session;
struct bt_event;

/* Where the importer linked the session; NULL/"" = not linked. */
typedef struct tb_session_links {
    const char *task_table;
    const char *task_sys_id;
    const char *task_number;
    const char *ci_sys_id;
    const char *user_sys_id;
} tb_session_links;

/* Decides which events are kept (the appliance's Events to Import). */
typedef bool (*tb_event_filter)(const struct bt_event *e, void *ctx);

/* Inserts or updates the session (appliance, lsid) and replaces all its
 * children (users, events, file transfers, custom attributes), inside the
 * caller's transaction: a re-import never duplicates a row. The work-note
 * marker survives re-imports. *session_id = the session's row id;
 * *work_note_done = whether a work note was already written for it;
 * *existed = whether an earlier import had stored it (any may be NULL). */
tb_err store_session_save(tb_store *st, int64_t appliance_id, const char *product,
                          const struct bt_session *s, const tb_session_links *links,
                          tb_event_filter keep, void *keep_ctx, int64_t now, int64_t *session_id,
                          bool *work_note_done, bool *existed);
/* When (appliance, lsid) was last saved (unix s); 0 if never. */
tb_err store_session_saved_at(tb_store *st, int64_t appliance_id, const char *lsid, int64_t *saved_at);
/* Records that the session's work note exists (idempotency of notes). */
tb_err store_session_mark_noted(tb_store *st, int64_t session_id, int64_t now);

typedef struct tb_session_row {
    int64_t id;
    char *appliance, *lsid, *product, *primary_rep, *primary_customer, *external_key;
    char *task_table, *task_number, *task_sys_id, *ci_sys_id, *user_sys_id;
    int64_t start_time, end_time, duration;
    int64_t nevents, nusers, nfiles;
    bool noted;
} tb_session_row;

typedef struct tb_session_filter {
    const char *task_sys_id;        /* NULL = any */
    const char *ci_sys_id;
    const char *lsid;
    size_t limit;                   /* newest first; default 50 */
} tb_session_filter;

tb_err store_session_list(tb_store *st, const tb_session_filter *f, tb_session_row **out, size_t *n);
void tb_session_rows_free(tb_session_row *v, size_t n);

/* One session with its related lists as a JSON object (jansson json_t *,
 * caller json_decref()s): the session's columns plus "custom_attributes",
 * "users", "events" and "files" arrays. TB_ERR_NOT_FOUND if no such lsid. */
tb_err store_session_json(tb_store *st, const char *lsid, void **json_out);

/* ---- reconciler: periodic listing polls ---- */
/* Queues a "reconcile" job for each enabled appliance with an API account
 * whose poll is due and has none queued or running, and schedules its next
 * poll. *queued = jobs queued. */
tb_err store_poll_schedule(tb_store *st, int64_t now, int64_t *queued);
/* Where the next listing starts: sessions that ended at or after *since. A
 * first poll looks back first_lookback seconds. */
tb_err store_poll_since(tb_store *st, int64_t appliance_id, int64_t now, int64_t first_lookback, int64_t *since);
/* Queues a session_import job for lsid, due at run_after, unless the session
 * is imported or an import is queued or running; *queued = 1 if it queued one. */
tb_err store_queue_import(tb_store *st, int64_t appliance_id, const char *lsid, int64_t now, int64_t run_after,
                          int *queued);
/* Records a finished poll: the next one starts at since. */
tb_err store_poll_done(tb_store *st, int64_t appliance_id, int64_t since, int64_t now, int64_t found,
                       int64_t queued);

/* ---- event-type catalogue (Events to Import is chosen from it) ---- */
/* Adds the types this version knows (existing ones keep their rows);
 * *added = how many were new. */
tb_err store_event_types_update(tb_store *st, int64_t *added);
/* Case-insensitive lookup; *canonical (≥ 128 bytes) receives the stored spelling. */
tb_err store_event_type_find(tb_store *st, const char *name, char *canonical, size_t cansz);
/* Calls fn for every type, ordered by name. */
tb_err store_event_types_each(tb_store *st, void (*fn)(void *ctx, const char *name, const char *product),
                              void *ctx);

/* ---- accounts: who may log in to ticketbridge, and their API tokens ----
 * Passwords arrive as tb_password_hash strings and tokens as
 * credential_token_hash hex; neither is ever stored in clear. Every change
 * bumps the auth version (see store_auth_version). */
tb_err store_account_add(tb_store *st, const char *username, const char *password_hash,
                         const char *roles);
/* Fills hash (≤128 bytes) and roles (caller frees *roles). */
tb_err store_account_get(tb_store *st, const char *username, char hash[128], char **roles);

typedef struct tb_account {
    int64_t id;
    char *username;
    char *roles;                    /* normalized comma-separated list */
    bool disabled;
    int64_t tokens;                 /* live tokens: not revoked, not expired */
    int64_t created_at, updated_at, password_changed_at;   /* unix seconds */
} tb_account;

void tb_account_clear(tb_account *a);
void tb_accounts_free(tb_account *v, size_t n);
/* TB_ERR_NOT_FOUND if no such user. hash may be NULL; else ≥ 128 bytes. */
tb_err store_account_find(tb_store *st, const char *username, tb_account *out, char *hash);
/* Ordered by username. */
tb_err store_account_list(tb_store *st, tb_account **out, size_t *n);
/* Each returns TB_ERR_NOT_FOUND when there is no such user. */
tb_err store_account_set_password(tb_store *st, const char *username, const char *password_hash);
tb_err store_account_set_roles(tb_store *st, const char *username, const char *roles);
tb_err store_account_set_disabled(tb_store *st, const char *username, bool disabled);
/* Also deletes the user's tokens. */
tb_err store_account_delete(tb_store *st, const char *username);

typedef struct tb_api_token {
    int64_t id;
    int64_t account_id;
    char *username;
    char *name;
    char *prefix;                   /* what lists show: "tbk_" and 6 characters */
    int64_t created_at;
    int64_t expires_at;             /* 0 = never */
    int64_t last_used_at;           /* 0 = never used */
    int64_t revoked_at;             /* 0 = live */
} tb_api_token;

void tb_api_tokens_free(tb_api_token *v, size_t n);
/* TB_ERR_NOT_FOUND: no such user; TB_ERR_EXISTS: the user has a live token
 * of that name. expires_at 0 = never. */
tb_err store_token_add(tb_store *st, const char *username, const char *name, const char *token_hash,
                       const char *prefix, int64_t expires_at, int64_t *id);
/* username NULL = every user's; ordered by id. */
tb_err store_token_list(tb_store *st, const char *username, tb_api_token **out, size_t *n);
/* TB_ERR_NOT_FOUND: no such token; TB_ERR_EXISTS: already revoked. */
tb_err store_token_revoke(tb_store *st, int64_t id, int64_t now);
/* Records that a token was used at `at` (never moves it backwards). */
tb_err store_token_touch(tb_store *st, int64_t id, int64_t at);

/* What authentication needs about a token and its user, in one read. */
typedef struct tb_token_owner {
    int64_t token_id;
    int64_t account_id;
    char username[CREDENTIAL_USERNAME_MAX + 1];
    char roles[ROLES_CSV_MAX];
    bool disabled;
    int64_t expires_at, revoked_at;     /* 0 = none */
} tb_token_owner;
/* TB_ERR_NOT_FOUND when no token has this hash. */
tb_err store_token_owner(tb_store *st, const char *token_hash, tb_token_owner *out);
/* Counter moved by every change to accounts and tokens (except last use):
 * a cache of verified credentials is valid while it stays the same. */
tb_err store_auth_version(tb_store *st, int64_t *out);

#endif
