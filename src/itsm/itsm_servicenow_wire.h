/* What the ServiceNow backend puts on the wire and reads back, without any
 * I/O: request URLs, encoded queries, JSON bodies, records from answers,
 * error mapping and the retry rule. Wire facts: shared/protocol/
 * epm-servicenow.md Part B. Everything returned through an out-parameter
 * belongs to the caller (tb_buf_free, itsm_record_free, free). */
#ifndef TB_ITSM_SERVICENOW_WIRE_H
#define TB_ITSM_SERVICENOW_WIRE_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "itsm/itsm.h"

/* One query parameter; a NULL name ends a list. */
typedef struct sn_param {
    const char *name;
    const char *value;
} sn_param;

/* base + "/api/now/table/<table>[/<sys_id>]" + "?p1=v1&..." (percent-encoded).
 * base has no trailing slash requirement; one is dropped. */
tb_err sn_table_url(tb_buf *out, const char *base, const char *table, const char *sys_id,
                    const sn_param *params);
/* base + "/api/now/attachment" + suffix ("/file", "/<sys_id>", "") + params. */
tb_err sn_attachment_url(tb_buf *out, const char *base, const char *suffix, const sn_param *params);
/* base + path ("/oauth_token.do"). */
tb_err sn_plain_url(tb_buf *out, const char *base, const char *path);

/* The encoded query for "every kv equals" (AND): "f1=v1^f2=v2", an empty
 * value as "fISEMPTY", then "^ORDERBYsys_created_on". A value holding '^'
 * cannot be expressed (ServiceNow splits on it): TB_ERR_INVALID. */
tb_err sn_equality_query(tb_buf *out, const itsm_kv *kv, size_t n);

/* {"f1":"v1",...} (a NULL value is JSON null, which clears the field). */
tb_err sn_json_object(tb_buf *out, const itsm_kv *kv, size_t n);

/* The record in {"result":{...}} (one) or the records in {"result":[...]}.
 * Values are taken as strings; a reference object ({"link","value"}) gives
 * its value, null gives "". table names the records. TB_ERR_INVALID when
 * the body is not that shape. */
tb_err sn_parse_record(const char *body, size_t len, const char *table, itsm_record **out);
tb_err sn_parse_records(const char *body, size_t len, const char *table, itsm_record ***out,
                        size_t *nout);

/* Maps a non-2xx answer to a tb_err and a message naming ServiceNow's
 * error.message and error.detail when the body carries them:
 * 400 INVALID, 401 DENIED (with a hint about the credentials), 403 DENIED,
 * 404 NOT_FOUND, 413 TOO_LARGE, 408/504 TIMEOUT, 429/503 BUSY, other HTTP.
 * what says which call it was ("GET incident"). */
tb_err sn_error_map(long status, const char *body, size_t len, const char *what, char *msg,
                    size_t msgsz);

/* The retry rule for 429 and 503 (the server did not act on the request):
 * milliseconds to wait before attempt number `attempt` + 1, or -1 to give up.
 * Honours Retry-After (seconds, -1 if absent: 1 s, doubled per attempt);
 * gives up after SN_MAX_RETRIES retries or when the wait is over max_wait_ms. */
#define SN_MAX_RETRIES 3
long sn_retry_wait_ms(long status, long retry_after_s, int attempt, long max_wait_ms);

#endif
