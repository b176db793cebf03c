/* Generating a Remote Support session key from a ticket (seeds 001/002
 * "Generate Session Key", 003 "Generate Session Key"), shared by the API
 * (session_key_http.c) and the CLI:
 *
 *   sk_check     may this user generate a key for this ticket? (the rules of
 *                session_key_rules.h over the properties, the Default
 *                appliance, the ticket and the user's roles)
 *   sk_generate  generate_session_key on the Default appliance: type=support,
 *                queue_id=rep_username:<the user's BeyondTrust username>, or
 *                the configured fallback queue when the appliance does not
 *                know that rep; the ticket's sys_id in session.custom.
 *                snow_task_id (snow_case_id for cases), external_key = the
 *                ticket number; bounded by a timeout
 *   sk_record    the remembered key (or failed attempt) for the store
 *
 * The BeyondTrust username: the sys_user whose user_name is the
 * ticketbridge user name, its u_beyondtrust_username when set, else the
 * user name itself.
 *
 * Threads: functions take the importer's context for its per-thread
 * handles (HTTP client, ticket store, read-only store) and its shared OAuth
 * token cache, so session keys and imports hold one token per appliance. */
#ifndef TB_FLOW_SESSION_KEY_H
#define TB_FLOW_SESSION_KEY_H

#include <stdbool.h>
#include <stdint.h>

#include "bt/session_key.h"
#include "flow/import.h"
#include "flow/session_key_rules.h"
#include "itsm/itsm.h"
#include "store/store_session_key.h"

#define SK_TIMEOUT_MS 10000L        /* the whole appliance exchange, fallback included */
#define SK_NUMBER_MAX 64
/* [I] when the appliance's answer carries neither expires nor ttl and none
 * was sent, a remembered key is assumed to live this long. */
#define SK_ASSUMED_TTL_S 86400

typedef struct sk_ticket {
    char table[64];
    char sys_id[ITSM_SYS_ID_LEN + 1];
    char number[SK_NUMBER_MAX + 1];
    int64_t state;
    bool has_state;
    bool active;
} sk_ticket;

/* A ticket number or sys_id as the API and CLI accept it: 1 to 64 ASCII
 * letters and digits. */
bool sk_number_valid(const char *number);

typedef struct sk_check_result {
    tb_rs_settings settings;
    bool found;                     /* the ticket exists */
    sk_ticket ticket;               /* when found */
    int64_t appliance_id;           /* the Default appliance, 0 if none */
    sk_verdict verdict;
} sk_check_result;

/* Evaluates the rules for a user holding roles. Errors only when the store
 * or the ticket store cannot be read (err says why); a refusal is a verdict. */
tb_err sk_check(import_ctx *c, const char *number, const char *roles, sk_check_result *out, char *err, size_t errsz);

typedef struct sk_result {
    bool ok;
    bt_session_key key;             /* when ok; freed by sk_result_free */
    char queue_id[BT_SK_QUEUE_MAX + 1];   /* the queue asked for last */
    bool fell_back;                 /* the rep was unknown: the fallback queue was used */
    char bt_username[256];
    int64_t created_at, expires_at;
    bt_sk_failure failure;          /* when not ok */
    int status;                     /* HTTP status for the API when not ok */
    char message[96];               /* when not ok */
    char detail[768];               /* when not ok: what the administrator should do */
} sk_result;

/* Calls the appliance for a checked, allowed ticket. Always fills out; the
 * caller records it (sk_record) and frees it. */
void sk_generate(import_ctx *c, const sk_check_result *chk, const char *acting_user, long timeout_ms, sk_result *out);
void sk_result_free(sk_result *r);

/* The store record of an attempt; borrows from its arguments. */
void sk_record(const sk_check_result *chk, const sk_result *r, const char *acting_user, tb_session_key_rec *rec);

/* JSON texts (malloc'd, NULL on OOM):
 *   the key:      {"id","short_key","key_url","mail_subject","mail_body","expires","expires_at","ttl",
 *                  "queue_id","queue_fallback","bt_username","external_key","ticket":{...}}
 *   the verdict:  {"allowed","reasons":[{"code","message"}],"role","appliance","ticket":{...}|null} */
char *sk_result_json(const sk_check_result *chk, const sk_result *r, int64_t id);
char *sk_verdict_json(const sk_check_result *chk);
/* "reason one; reason two" for error details and CLI messages. */
void sk_verdict_text(const sk_verdict *v, char *out, size_t outsz);

#endif
