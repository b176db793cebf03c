/* Shared between the files of the ServiceNow-compatible Table and Attachment
 * APIs (table_api*.c, attachment_api.c); not a public interface. The pure
 * parts (paths, parameters, roles, bodies, representation, pagination) take
 * no request and are unit-tested on their own. */
#ifndef TB_FLOW_TABLE_API_INT_H
#define TB_FLOW_TABLE_API_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "flow/auth.h"
#include "flow/table_api.h"
#include "http/server.h"
#include "itsm/itsm.h"
#include "itsm/itsm_table.h"
#include "itsm/snquery.h"

#define TAPI_CONTENT_TYPE "application/json;charset=UTF-8"
#define TAPI_DEFAULT_LIMIT 10000
#define TAPI_QUERY_TIMEOUT_MS 10000
#define TAPI_BASE_URL_MAX 300
#define TAPI_LINK_MAX (16u * 1024)   /* a longer Link header is left out (MHD's header space) */
#define TAPI_IGNORED_TEXT 160

/* --- requests ------------------------------------------------------------ */

typedef enum { TAPI_V_LATEST, TAPI_V1, TAPI_V2 } tapi_version;

typedef struct tapi_route_ctx {
    table_api *ta;
    tapi_version version;
} tapi_route_ctx;

/* The path after the API's prefix: "{table}" or "{table}/{sys_id}". */
typedef enum {
    TAPI_PATH_OK,
    TAPI_PATH_NO_RESOURCE,      /* empty, or more segments than the API has */
    TAPI_PATH_BAD_TABLE,        /* not a table name at all */
} tapi_path_status;

typedef struct tapi_path {
    char table[ITSM_MAX_NAME + 1];
    bool has_id;
    bool id_valid;              /* 32 hex digits (lower-cased into sys_id) */
    char sys_id[ITSM_SYS_ID_LEN + 1];
} tapi_path;

tapi_path_status tapi_parse_path(const char *rest, tapi_path *out);
/* 32 hex digits, any case; lower-cased into out. */
bool tapi_parse_sys_id(const char *s, char out[ITSM_SYS_ID_LEN + 1]);

typedef enum { TAPI_DV_FALSE, TAPI_DV_TRUE, TAPI_DV_ALL } tapi_display;

typedef struct tapi_params {
    tapi_display display;
    bool exclude_ref_link;
    bool no_count;
    bool suppress_pagination;
    bool input_display;
    bool limit_given;
    size_t limit;               /* after the cap: 1..ITSM_MAX_ROWS */
    size_t offset;
    const char *query;          /* sysparm_query, NULL if absent */
    const char *fields;         /* sysparm_fields, NULL if absent */
} tapi_params;

/* ServiceNow reads booleans leniently: "true" in any case is true. */
bool tapi_param_true(const char *v);
tapi_display tapi_parse_display(const char *v);
/* A non-negative decimal integer up to max; false otherwise. */
bool tapi_parse_count(const char *v, size_t max, size_t *out);

/* RFC 8288 Link header for a page, as ServiceNow sends it: first, prev (when
 * offset > 0), next (when more rows follow), last (when total is known).
 * url is the request's absolute URL without a query; query holds the other
 * parameters, already percent-encoded ("a=b&c=d" or ""), to which
 * sysparm_offset and sysparm_limit are appended. total < 0: unknown (then
 * next is given when the page was full). */
tb_err tapi_link_header(const char *url, const char *query, size_t offset, size_t limit,
                        long long total, size_t rows, tb_buf *out);
/* Percent-encodes s (RFC 3986 unreserved characters kept) onto out. */
tb_err tapi_url_encode(tb_buf *out, const char *s);

/* --- access -------------------------------------------------------------- */

typedef enum { TAPI_READ, TAPI_WRITE, TAPI_DELETE } tapi_op;

/* The role an operation on table needs: NULL means any authenticated user.
 * Tables the API does not serve need admin (and are refused earlier). */
const char *tapi_required_role(const char *table, tapi_op op);
/* Whether the API serves table at all (else: "Invalid table"). */
bool tapi_table_served(const char *table);

/* --- representation ------------------------------------------------------ */

/* Display field of records of a table (what a reference to it shows), or
 * NULL. */
const char *tapi_display_field(const char *table);
/* The label of a choice value (state "2" of incident: "In Progress"), or
 * NULL when the field has no choice list or the value is not in it. */
const char *tapi_choice_label(const char *table, const char *field, const char *value);
/* The value of a choice label, case-insensitive ("closed" → "7"), or NULL. */
const char *tapi_choice_value(const char *table, const char *field, const char *label);
/* Journal fields: written to sys_journal_field, read back empty. */
bool tapi_is_journal(const char *table, const char *field);

/* One key of a rendered record. */
typedef struct tapi_out {
    char *name;                 /* output key: "number", "assigned_to.name", "work_notes" */
    const snq_column *col;      /* the column holding the value (the walked one for a walk) */
    const char *col_table;      /* the table col belongs to */
    const char *ref;            /* table a reference value points to, or NULL */
    int value_idx;              /* in tapi_fieldset.query_fields; -1 for journal fields */
    int display_idx;            /* the display walk of a reference, or -1 */
    bool journal;
} tapi_out;

/* What a query must select to render the requested fields: the fields
 * themselves, plus hidden one-step walks for reference display values. */
typedef struct tapi_fieldset {
    tapi_out *out;
    size_t nout;
    char **query_fields;        /* NULL-terminated, for itsm_table_query */
    size_t nquery;
    bool any_journal;
} tapi_fieldset;

typedef struct tapi_view {
    const snq_catalog *cat;
    const char *table;
    tapi_display display;
    bool exclude_link;
    const char *fields;         /* sysparm_fields, NULL: all */
    const char *base_url;       /* "https://host:port" */
} tapi_view;

/* Unknown sysparm_fields entries are skipped, as ServiceNow does; *ignored
 * counts them. TB_ERR_NOT_FOUND: table not in the catalogue. */
tb_err tapi_fieldset_build(const tapi_view *v, tapi_fieldset *fs, size_t *ignored);
void tapi_fieldset_free(tapi_fieldset *fs);

/* A record's journal fields as display values show them: the stacked
 * entries (NULL: none). */
typedef struct tapi_journal_text {
    const char *work_notes;
    const char *comments;
} tapi_journal_text;

/* Renders one record (fields named as fs->query_fields, in that order) as
 * a JSON object. idx maps query field k to its index in r->fields (from
 * tapi_field_index). */
json_t *tapi_render_record(const tapi_view *v, const tapi_fieldset *fs, const itsm_record *r,
                           const int *idx, const tapi_journal_text *journal);
/* idx[k] = index of fs->query_fields[k] in r->fields, or -1. */
void tapi_field_index(const tapi_fieldset *fs, const itsm_record *r, int *idx);
/* A JSON string of s; invalid UTF-8 bytes become U+FFFD, so the answer
 * stays valid JSON whatever a row holds. */
json_t *tapi_json_str(const char *s);

/* Runs a query and renders its rows: *result is a new JSON array. total
 * (when not NULL) gets the match count. */
typedef struct tapi_fetch {
    const tapi_view *view;
    const snquery *q;
    size_t limit, offset;
    unsigned timeout_ms;
    size_t ignored;             /* out: parts of the query and fields left out */
    char first_ignored[TAPI_IGNORED_TEXT]; /* out: the first of them, for the log */
} tapi_fetch;

tb_err tapi_fetch_rows(itsm_table *t, tapi_fetch *f, json_t **result, size_t *total);
/* Counts n more ignored parts; first describes the first of them. */
void tapi_note_ignored(tapi_fetch *f, size_t n, const char *first);
/* One record by sys_id: TB_ERR_NOT_FOUND when absent. */
tb_err tapi_fetch_one(itsm_table *t, const tapi_view *v, const char *sys_id, json_t **record);

/* Name-value filters (?active=true&assigned_to=john.smith) as a query:
 * each pair an AND-ed condition; a reference given by something other than
 * a sys_id also matches its display value (and a user's user_name); a
 * choice field also takes its label. Unknown fields count in *ignored. */
tb_err tapi_filter_query(const snq_catalog *cat, const char *table, const char *const *names,
                         const char *const *values, size_t n, snquery **out, size_t *ignored);

/* --- request bodies ------------------------------------------------------ */

/* A record body: JSON object (or an array whose first object is taken, as
 * ServiceNow does) → column/value pairs, normalized per column kind.
 * Unknown fields and system fields are skipped; journal fields are returned
 * apart. On a bad body: TB_ERR_INVALID with a message and detail for the
 * client. The strings belong to the body (tapi_body_free). */
typedef struct tapi_body {
    json_t *json;
    itsm_kv *kv;
    size_t nkv;
    char **owned;               /* normalized values */
    size_t nowned;
    const char *work_notes;     /* NULL if absent */
    const char *comments;
    size_t skipped;             /* unknown or read-only fields */
} tapi_body;

typedef struct tapi_body_err {
    char message[96];
    char detail[256];
} tapi_body_err;

/* input_display (sysparm_input_display_value): choice fields may be given
 * by label ("Closed"). */
tb_err tapi_body_parse(const snq_table *t, const char *body, size_t len, bool insert,
                       bool input_display, tapi_body *out, tapi_body_err *err);
void tapi_body_free(tapi_body *b);
/* Normalizes value for column c (kind rules: integers, "true"/"false",
 * datetimes, lower-cased sys_ids); NULL when it does not fit, with a reason. */
char *tapi_normalize_value(const snq_column *c, const char *value, const char **why);

/* --- the context --------------------------------------------------------- */

struct table_api {
    table_api_opts opt;
    char *db_path;
    pthread_key_t tls;          /* itsm_table * per HTTP thread */
    /* Writer thread only, created on first use, on the writer's connection. */
    itsm *w_itsm;
    itsm_table *w_table;
    tapi_route_ctx ctx[4];
    tb_route routes[8];
};

/* The calling HTTP thread's read handle (opened on first use). */
itsm_table *tapi_thread_table(table_api *ta, tb_err *e);

/* Replies with ServiceNow's error envelope; detail NULL gives "detail":null. */
void tapi_error(tb_http_req *req, int status, const char *message, const char *detail);
/* 200/201 with {"result": result}; takes result's reference. */
void tapi_reply_result(tb_http_req *req, int status, json_t *result);
/* Maps an error from the store to ServiceNow's answer. */
void tapi_reply_store_error(tb_http_req *req, tb_err e, const char *what);
/* "https://host[:port]" for links, from the Host header. */
void tapi_base_url(tb_http_req *req, const table_api *ta, char out[TAPI_BASE_URL_MAX]);
/* Authenticates the caller (Basic or Bearer), answering 401/429/503
 * itself in ServiceNow's words. */
bool tapi_authenticate(tb_http_req *req, auth_principal *who);
/* Checks role (NULL: any authenticated user) for op, answering 403 as
 * ServiceNow does for a read or a write refused by its ACLs. */
bool tapi_check_role(tb_http_req *req, const auth_principal *who, const char *role, tapi_op op);
/* The method after X-HTTP-Method-Override. */
const char *tapi_method(tb_http_req *req);
/* 406 unless Accept allows JSON (absent: JSON). Returns false after replying. */
bool tapi_accept_json(tb_http_req *req);
/* Every query parameter must be valid UTF-8; false after replying 400. */
bool tapi_query_utf8(tb_http_req *req);
/* 413 and 405 decided by the server, answered in ServiceNow's words. */
bool tapi_refused(tb_http_req *req);
bool tapi_utf8(const char *s, size_t n);
/* Reads the sysparm_* parameters; false after replying 400. */
bool tapi_read_params(tb_http_req *req, tapi_params *p);
/* Sets X-Total-Count and Link for a list answer. */
void tapi_list_headers(tb_http_req *req, const char *base_url, const tapi_params *p, size_t rows,
                       long long total);

/* Handlers. */
void tapi_handle_list(tb_http_req *req, table_api *ta, tapi_version v, const char *table);
void tapi_handle_get(tb_http_req *req, table_api *ta, const tapi_path *path);
void tapi_handle_write(tb_http_req *req, table_api *ta, const char *method, const tapi_path *path,
                       const auth_principal *who);
void attachment_api_handle(tb_http_req *req);
void attachment_api_handle_list(tb_http_req *req);

#endif
