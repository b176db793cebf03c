/* generate_session_key (protocol notes §2.1, RS only): the call, its
 * <session_key> answer, and what an administrator should do when it fails
 * (seed 003 "Troubleshooting").
 *
 * Wire facts: type=support and queue_id forms [V]; ttl [V: SN-TU code, not
 * the official page]; the external key is sent as session.custom.external_key
 * [V: Marval code, and set_session_attributes' documented name], the ticket's
 * custom field as session.custom.<code_name> [V: code usage]. The answer's
 * ten children are [V: client code]. The appliance's error texts for an
 * unknown rep and an undefined custom field are [I] (seed 003 quotes the
 * latter two); they are matched in bt_session_key_classify only. */
#ifndef TB_BT_SESSION_KEY_H
#define TB_BT_SESSION_KEY_H

#include <stdint.h>

#include "bt/api.h"
#include "core/err.h"

#define BT_SK_EXTERNAL_KEY_PARAM "session.custom.external_key"
#define BT_SK_SHORT_KEY_MAX 31
#define BT_SK_TEXT_MAX (16 * 1024)      /* key_url, mail subject and body each */
#define BT_SK_QUEUE_MAX 255

typedef struct bt_session_key_params {
    const char *queue_id;           /* general, rep:<id>, team:<id>, rep_username:<u>, issue:<code> */
    const char *external_key;       /* NULL = not sent */
    const char *custom_name;        /* one session.custom.<custom_name>; NULL = none */
    const char *custom_value;
    long ttl;                       /* seconds; 0 = not sent (the appliance's default) */
} bt_session_key_params;

typedef struct bt_session_key {
    char type[32];
    long ttl;                       /* -1 when absent */
    int64_t expires;                /* unix seconds; 0 when absent */
    char queue[BT_SK_QUEUE_MAX + 1];
    char queue_id[BT_SK_QUEUE_MAX + 1];
    char external_key[1025];
    char short_key[BT_SK_SHORT_KEY_MAX + 1];
    char *key_url;                  /* owned; "" when absent */
    char *mail_subject;             /* owned; "" when absent */
    char *mail_body;                /* owned; "" when absent */
} bt_session_key;

/* Parses a <session_key> answer (any namespace). DTDs are refused, each text
 * is capped, short_key must be present (printable ASCII, at most
 * BT_SK_SHORT_KEY_MAX) and key_url, when present, an http(s) URL without
 * control characters. TB_ERR_INVALID (err says why) otherwise; on success
 * the caller frees out with bt_session_key_free. */
tb_err bt_session_key_parse(const char *xml, size_t len, bt_session_key *out, char *err, size_t errsz);
void bt_session_key_free(bt_session_key *k);

/* POST /api/command action=generate_session_key&type=support&... with the
 * rules of bt_api_command (api.h). On success out must be freed. A
 * malformed answer: TB_ERR_INVALID, res->err says why, appliance_error
 * false. */
tb_err bt_generate_session_key(bt_oauth_cache *tokens, tb_http_client *http, const bt_conn *conn,
                               const bt_session_key_params *p, bt_session_key *out, bt_api_result *res);

typedef enum bt_sk_failure {
    BT_SK_FAIL_OTHER,
    BT_SK_FAIL_UNREACHABLE,         /* no HTTP answer: unknown host, refused, timeout, TLS */
    BT_SK_FAIL_OAUTH,               /* the OAuth client id/secret were refused (401) */
    BT_SK_FAIL_PERMISSION,          /* 403: the API account lacks the command permission */
    BT_SK_FAIL_BUSY,                /* 429, 503 with Retry-After */
    BT_SK_FAIL_CUSTOM_FIELD,        /* the custom field is not defined on the appliance */
    BT_SK_FAIL_UNKNOWN_REP,         /* queue_id rep_username:<u> matches no single user */
    BT_SK_FAIL_APPLIANCE,           /* any other <error> answer */
    BT_SK_FAIL_ANSWER,              /* an answer that is not a usable <session_key> */
} bt_sk_failure;

/* What went wrong, from a failed bt_generate_session_key. */
bt_sk_failure bt_session_key_classify(tb_err rc, const bt_api_result *res);
const char *bt_sk_failure_name(bt_sk_failure f);
/* The administrator's hint for a failure: host is the appliance's host
 * name as configured, field the custom field the call sent. The
 * underlying reason (res->err) follows in parentheses. */
void bt_session_key_hint(bt_sk_failure f, const bt_api_result *res, const char *host, const char *field,
                         char *out, size_t outsz);

#endif
