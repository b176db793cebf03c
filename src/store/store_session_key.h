/* Remote Support session keys from tickets (seeds 001-003): the integration
 * properties (one settings row) and every key generated from a ticket,
 * remembered with its ticket so the pull job and the importer can tie the
 * session it starts to that ticket. Failed attempts are remembered too, with
 * the administrator's hint, so `ticketbridge session-keys` shows them.
 *
 * A key's state:
 *   issued        generated; no session seen yet
 *   in_session    a session started with it (lsid known) and is still running
 *   import_queued the session ended; a session_import job is queued
 *   imported      the session is stored (and noted on the ticket)
 *   import_failed its import job failed (error holds the job's last error)
 *   expired       never used before its expiry plus the grace period
 *   failed        the appliance refused to generate it (error says why)
 *
 * Ownership as in store.h: records read through out-parameters own their
 * strings (free with tb_session_keys_free); insert records borrow theirs. */
#ifndef TB_STORE_STORE_SESSION_KEY_H
#define TB_STORE_STORE_SESSION_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/store.h"

#define SESSION_KEY_PULL_JOB_KIND "session_key_pull"
/* Appliance and ticketbridge clocks may differ: a session counts as started
 * with a key when it started at most this long before the key was made. */
#define SESSION_KEY_CLOCK_SKEW_S 300

/* ---- the integration properties ---- */
typedef struct tb_rs_settings {
    bool session_keys_enabled;      /* "Enable the ability to Generate a ... Session Key" */
    bool pull_enabled;              /* "Enable pulling sessions into ServiceNow" */
    int64_t pull_interval_s;        /* the scheduled job's repeat interval */
    int64_t pull_next_at;           /* unix s; 0 = due */
    char fallback_queue[256];       /* queue_id when the appliance does not know the rep */
    int64_t key_ttl_s;              /* ttl sent with generate_session_key; 0 = not sent */
    int64_t key_grace_s;            /* unused keys expire this long after the key does */
    int64_t incident_state_below;   /* incident states allowed: below this; 0 = no bound */
    char incident_states_excluded[256]; /* and not one of these (comma-separated) */
    char case_states[256];          /* case states allowed (comma-separated) */
    int64_t updated_at;
} tb_rs_settings;

tb_err store_rs_settings_get(tb_store *st, tb_rs_settings *out);
/* Writes every field but pull_next_at (moved by the scheduler) and updated_at (= now). */
tb_err store_rs_settings_put(tb_store *st, const tb_rs_settings *s, int64_t now);

/* ---- remembered keys ---- */
typedef struct tb_session_key_rec {
    int64_t created_at;
    int64_t appliance_id;
    const char *task_table, *task_sys_id, *task_number;
    const char *acting_user;        /* the ticketbridge user */
    const char *bt_username;        /* their BeyondTrust username */
    const char *queue_id;           /* as sent (after any fallback) */
    const char *external_key;
    const char *short_key, *key_url;/* NULL for a failed attempt */
    int64_t expires_at;             /* 0 = unknown */
    const char *state;              /* "issued" or "failed" */
    const char *error;              /* NULL unless failed */
} tb_session_key_rec;

tb_err store_session_key_insert(tb_store *st, const tb_session_key_rec *r, int64_t *id);

typedef struct tb_session_key {
    int64_t id, created_at, appliance_id, expires_at, session_seen_at, import_job_id, imported_at, updated_at;
    char *appliance;                /* name; "" when the appliance was removed */
    char *task_table, *task_sys_id, *task_number, *acting_user, *bt_username, *queue_id, *external_key;
    char *short_key, *key_url, *state, *error, *lsid;   /* "" when not set */
} tb_session_key;

typedef struct tb_session_key_filter {
    const char *task_number;        /* NULL = any */
    const char *state;              /* NULL = any */
    int64_t appliance_id;           /* 0 = any */
    bool pending;                   /* only issued and in_session (the pull's work) */
    size_t limit;                   /* newest first; 0 = 100 */
} tb_session_key_filter;

tb_err store_session_key_list(tb_store *st, const tb_session_key_filter *f, tb_session_key **out, size_t *n);
void tb_session_keys_free(tb_session_key *v, size_t n);

/* Housekeeping, cheap enough for every tick (indexed on state):
 *   - keys whose session is stored become imported;
 *   - an issued key becomes imported when its ticket got a session (on the
 *     same appliance) that started after the key was made and that no other
 *     key claims: an outbound event imported it before any pull saw it;
 *   - import_queued keys whose import job failed become import_failed;
 *   - issued keys past expires_at + grace_s become expired.
 * *changed = keys changed (may be NULL). */
tb_err store_session_key_sweep(tb_store *st, int64_t now, int64_t grace_s, int64_t *changed);

/* The pull found key id's session. A running session makes it in_session;
 * an ended one queues its import (due now) and makes it import_queued, or
 * imported when the session is already stored. *queued = 1 when an import
 * job was queued. A key already tied to another lsid is left alone. */
tb_err store_session_key_seen(tb_store *st, int64_t id, const char *lsid, bool ended, int64_t now, int *queued);

/* Whether some key already holds the session lsid. */
tb_err store_session_key_claimed(tb_store *st, const char *lsid, bool *claimed);

/* Queues a pull job per appliance with keys to look after (issued,
 * in_session, import_queued) and none queued or running, when pulling is on
 * and due (force: now, whatever the schedule), and moves the schedule on.
 * *queued = jobs queued (may be NULL). */
tb_err store_session_key_pull_schedule(tb_store *st, int64_t now, bool force, int64_t *queued);

/* The ticket a key generated on appliance_id ties a session to: the key
 * whose session is lsid, else the newest key whose external key equals
 * external_key (NULL or "" = not used). TB_ERR_NOT_FOUND when none. */
tb_err store_session_key_task(tb_store *st, int64_t appliance_id, const char *lsid, const char *external_key,
                              char table[64], char sys_id[33], char number[64]);

#endif
