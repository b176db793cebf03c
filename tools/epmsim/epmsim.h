/* epmsim: a BeyondTrust EPM (PM Cloud) stand-in for ticketbridge's e2e tests
 * and demo. Wire facts come from shared/protocol/epm-servicenow.md Part A and
 * the EPM - ServiceNow integration guide (seed 004). Everything the protocol
 * notes mark as inferred is either a setting in ep_wire (wire.c, one place) or
 * commented [I] where it is produced. See docs/epmsim.md.
 *
 * Concurrency: one global state E.
 *   E.mu  guards cfg, tokens, the request registry, the decision log, the
 *         sink log, faults, the down/up state and the counters in E.st.
 *   E.qmu guards the webhook send list, its queue and the wh_* counters.
 * Lock order is always E.mu then E.qmu. */
#ifndef EPMSIM_H
#define EPMSIM_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define EP_MAX_BODY (1024 * 1024)   /* any request body; larger gets 413 */
#define EP_MAX_TOKENS 4096          /* live tokens; the next evicts the oldest */
#define EP_MAX_LOG 10000            /* decision and sink records kept, oldest dropped */
#define EP_MAX_SENDS 10000          /* webhook sends listed / queued */
#define EP_MAX_REQUESTS 1000000     /* known JIT requests */
#define EP_MAX_FAULTS 256

/* ---- small ordered key/value list (form fields) ---- */
typedef struct ep_kv {
    char *k, *v;
} ep_kv;

typedef struct ep_kvs {
    ep_kv *items;
    size_t n, cap;
} ep_kvs;

void kvs_add(ep_kvs *l, const char *k, const char *v);
const char *kvs_get(const ep_kvs *l, const char *k);
size_t kvs_count(const ep_kvs *l, const char *k);
void kvs_free(ep_kvs *l);

/* ---- wire facts that are not verified (wire.c) ---- */
typedef struct ep_wire {
    char *token_path;               /* [V] /oauth/connect/token */
    char *app_decision_path;        /* [observed] /management-api/v2/AuthorizationRequest/notification */
    char *app_read_path;            /* [observed] GET <this>/{id} */
    char *admin_decision_path;      /* [I] /management-api/v3/AdminAccessRequest */
    char *admin_decision_method;    /* [I] PUT */
    char *admin_read_path;          /* [I] GET <this>/{id} */
    int final_decision_status;      /* [I] 409: a second decision for a request */
    int invalid_client_status;      /* [I] 401: bad OAuth client credentials */
    bool accept_unknown_requests;   /* [I] false: decisions need a known request */
} ep_wire;

void wire_defaults(ep_wire *w);
void wire_free(ep_wire *w);
void wire_copy(ep_wire *dst, const ep_wire *src);
/* Sets one path setting by name (token, app_decision, app_read, admin_decision,
 * admin_read) or admin_decision_method; why gets the reason on failure. */
tb_err wire_set(ep_wire *w, const char *name, const char *value, char *why, size_t whysz);
json_t *wire_json(const ep_wire *w);

/* ---- configuration ---- */
typedef struct ep_config {
    char *address;                  /* listen address, default 127.0.0.1 */
    int port, control_port;         /* control_port -1 = none */
    char *port_file, *control_port_file;
    char *client_id, *client_secret;
    double token_ttl;               /* seconds */
    char *webhook_url;
    char *webhook_user, *webhook_password;  /* Basic auth when user is set */
    char *webhook_auth_header;      /* "Custom": the whole Authorization value */
    double webhook_retry_interval;  /* seconds */
    int webhook_max_attempts;
    double webhook_timeout;         /* seconds per attempt */
    char *tenant_id;
    bool auto_update;               /* send the decision-updated webhook by itself */
    ep_wire wire;
} ep_config;

void config_free(ep_config *c);
void config_copy(ep_config *dst, const ep_config *src);
/* Applies a JSON object of settings onto c (a copy); unknown keys and bad
 * values fail with the reason in why and leave the caller to drop the copy. */
tb_err config_apply_json(ep_config *c, json_t *obj, char *why, size_t whysz);
tb_err config_check(const ep_config *c, char *why, size_t whysz);
bool config_url_ok(const char *u);     /* http(s) URL, or empty */
json_t *config_json(const ep_config *c);

/* ---- JIT requests known to the simulated tenant (registry.c) ---- */
typedef enum { EP_KIND_APP, EP_KIND_ADMIN } ep_kind;
typedef enum { EP_PENDING, EP_APPROVED, EP_DENIED } ep_state;

typedef struct ep_request {
    char id[37];                    /* lowercase GUID */
    ep_kind kind;
    char *ticket_number, *tenant_id, *user, *host, *created, *reason;
    char *duration_requested;       /* admin requests */
    json_t *values;                 /* placeholder values of the created webhook; NULL after a burst */
    ep_state state;
    json_t *decision;               /* the accepted decision's fields */
    char *decided_at;
    struct ep_request *hnext;
} ep_request;

ep_request *registry_find(const char *id);          /* E.mu held; case-insensitive */
/* Registers a request from a created webhook's values; returns the existing
 * one when the id is known. NULL when the registry is full. E.mu held. */
ep_request *registry_add(ep_kind kind, json_t *values, bool keep_values);
size_t registry_count(void);
json_t *registry_request_json(const ep_request *r);  /* control view */
json_t *registry_list_json(void);
void registry_free_all(void);
const char *kind_name(ep_kind k);
const char *state_name(ep_state s);

/* ---- faults (faults.c) ---- */
enum {
    EP_EP_TOKEN = 1,
    EP_EP_APP_DECISION = 2,
    EP_EP_ADMIN_DECISION = 4,
    EP_EP_APP_READ = 8,
    EP_EP_ADMIN_READ = 16,
    EP_EP_SINK = 32,
};

typedef enum { EP_FAULT_STATUS, EP_FAULT_DELAY, EP_FAULT_DROP } ep_fault_kind;

typedef struct ep_fault {
    unsigned endpoints;
    ep_fault_kind kind;
    int status;
    long retry_after;               /* -1 = no header */
    char *message;
    long delay_ms;
    long remaining;                 /* -1 = until cleared */
} ep_fault;

/* Handles a POST /_epmsim/faults body; fills result on success. */
tb_err faults_post(json_t *body, json_t **result, char *why, size_t whysz);
/* Takes the next fault for endpoint (copy into out, message owned by out). */
bool fault_take(unsigned endpoint, ep_fault *out);
void fault_clear_all(void);
json_t *faults_json(void);

/* ---- decisions and the token (oauth.c, decision.c) ---- */
typedef struct ep_reply {
    int status;
    const char *ctype;
    char *body;                     /* malloc'd; NULL = empty */
    bool drop;                      /* close the connection without an answer */
    bool no_store;                  /* Cache-Control: no-store */
    long retry_after;               /* -1 = none */
    char *www_auth;                 /* malloc'd */
} ep_reply;

typedef struct ep_req {
    struct MHD_Connection *conn;
    const char *method, *url;
    tb_buf body;
    bool too_large;
    struct MHD_PostProcessor *pp;
    ep_kvs form;
    bool form_bad;
    bool control_only;              /* arrived on the control listener */
    int64_t t0_ns;
} ep_req;

const char *req_header(const ep_req *r, const char *name);

void reply_json(ep_reply *out, int status, json_t *j);     /* steals j */
void reply_ctl_error(ep_reply *out, int status, const char *message, const char *detail);
/* ASP.NET Core ProblemDetails shape [I]; errors may be NULL (stolen). */
void reply_problem(ep_reply *out, int status, const char *title, const char *detail,
                   json_t *errors);
void reply_empty(ep_reply *out, int status);
typedef enum { EP_STYLE_PROBLEM, EP_STYLE_OAUTH, EP_STYLE_CONTROL } ep_style;
void reply_fault(ep_reply *out, const ep_fault *f, ep_style style);
/* Applies the next fault for endpoint: true when it answered or dropped
 * (a delay fault waits, then returns false so the request proceeds). */
bool apply_fault(unsigned endpoint, ep_style style, ep_reply *out);

void handle_token(ep_req *r, ep_reply *out);
/* Verifies "Authorization: Bearer <live token>"; on failure fills out (401). */
bool bearer_ok(ep_req *r, ep_reply *out);
void tokens_expire_all(void);

void handle_decision(ep_req *r, ep_kind kind, ep_reply *out);
void handle_read(ep_req *r, ep_kind kind, const char *id, ep_reply *out);
json_t *decisions_json(void);
void decisions_clear(void);

/* ---- webhooks (template.c, sender.c, burst.c) ---- */
typedef struct ep_tpl {
    const char *name;               /* the EventType value */
    ep_kind kind;
    bool creates;                   /* a "ticket created" event (registers a request) */
    const char *text;               /* the seed's template, %%Placeholder%% */
} ep_tpl;

const ep_tpl *tpl_find(const char *name);
bool tpl_has(const ep_tpl *t, const char *placeholder);
/* Defaults for every placeholder of t. req: the known request for an update
 * template (NULL: generated). E.mu held (reads E.cfg). */
json_t *tpl_defaults(const ep_tpl *t, const ep_request *req);
/* Checks overrides (object of placeholder -> string) against t. */
tb_err tpl_check_overrides(const ep_tpl *t, json_t *fields, char *why, size_t whysz);
/* Fills the template: every value JSON-escaped by jansson; ascii escapes
 * non-ASCII as \uXXXX. Returns malloc'd text. */
char *tpl_render(const ep_tpl *t, json_t *values, bool ascii);

typedef enum { EP_SEND_QUEUED, EP_SEND_DELIVERED, EP_SEND_FAILED } ep_send_state;

typedef struct ep_send {
    uint64_t id;
    char *event_type;
    char request_id[64];
    char *body;                     /* exact bytes sent */
    char *url;
    char *auth;                     /* "Authorization: ..." header line or NULL; wiped on free */
    char *basic_user, *basic_pass;
    int max_attempts;
    double retry_interval, timeout;
    int attempts;
    long last_status;
    char last_error[160];
    ep_send_state state;
    double queued_at, done_at;
    struct ep_send *qnext;
} ep_send;

/* Snapshot of the delivery settings taken when a webhook is queued. E.mu held. */
void send_settings_from_config(ep_send *s, const char *url_override);
/* Queues s (takes ownership); returns its id, or 0 if the queue is full (s is freed). */
uint64_t sender_queue(ep_send *s);
/* Waits until the send is finished or timeout passes; returns its JSON (NULL: unknown id). */
json_t *sender_wait_json(uint64_t id, double timeout, bool with_body);
json_t *sender_list_json(void);
/* A new, unqueued send with the same event, request id and body (NULL: unknown id). */
ep_send *sender_clone(uint64_t id);
void sender_clear_finished(void);
tb_err sender_start(void);
void sender_stop(void);
void send_free(ep_send *s);

/* POST /_epmsim/webhooks/send (webhook.c); status gets the HTTP status on error. */
tb_err webhook_send(json_t *body, json_t **result, int *status, char *why, size_t whysz);
/* Runs a burst synchronously; body is the parsed request. */
tb_err burst_run(json_t *body, json_t **result, char *why, size_t whysz);

/* Queues the decision-updated webhook for r (auto_update). E.mu held. */
void webhook_queue_update(const ep_request *r);

/* ---- control API (control.c), sink (sink.c) ---- */
void handle_control(ep_req *r, ep_reply *out);
void handle_sink(ep_req *r, ep_reply *out);
json_t *sink_json(void);
void sink_clear(void);

/* ---- listeners (server.c) ---- */
tb_err server_start(void);
/* Goes down: stop accepting at once; in-flight requests are finished. */
void server_go_down(void);
tb_err server_go_up(void);
bool server_is_down(void);
void server_tick(void);             /* main loop: finishes a pending "down" */
void server_stop(void);
int server_port(void);
int server_control_port(void);

/* ---- state ---- */
typedef struct ep_stats {
    uint64_t tokens_issued, token_rejects, bearer_rejects;
    uint64_t decisions_received, decisions_accepted, decisions_rejected;
    uint64_t reads, sink_received, faults_fired, requests_total;
} ep_stats;

typedef struct ep_token {
    char tok[49];
    double expires;
} ep_token;

typedef struct ep_app {
    ep_config cfg;
    pthread_mutex_t mu;
    ep_token *tokens;
    size_t ntok;
    json_t *decisions;              /* array of records, oldest first */
    uint64_t decision_seq, decisions_dropped;
    json_t *sink;
    uint64_t sink_seq, sink_dropped;
    ep_fault *faults;
    size_t nfaults;
    bool want_down;
    double down_until;              /* 0 = until "up" */
    ep_stats st;
    atomic_uint_fast64_t ticket_seq;
    atomic_int stopping;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    /* webhook sender */
    pthread_mutex_t qmu;
    pthread_cond_t qcv, qdone;
    ep_send **sends;                /* oldest first */
    size_t nsends, capsends;
    ep_send *qhead, *qtail;
    size_t qdepth;
    uint64_t send_seq;
    uint64_t wh_queued, wh_delivered, wh_failed, wh_attempts, wh_retried;
} ep_app;

extern ep_app E;

/* ---- util.c ---- */
double ep_now(void);                /* wall clock, seconds */
double ep_mono(void);               /* monotonic, seconds */
void ep_sleep(double seconds);      /* returns early when stopping */
void ep_request_stop(void);
char *ep_strdup(const char *s);     /* aborts on OOM; NULL stays NULL */
char *ep_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ep_set_str(char **dst, const char *s);     /* frees the old value */
void ep_free_secret(char *s);       /* wipes, then frees */
void ep_guid(char out[37]);
void ep_hex(char *out, size_t nchars, bool upper);
void ep_iso_ms(double t, char *out, size_t outsz);  /* 2025-01-31T14:05:09.123Z */
void ep_datetime(double t, char *out, size_t outsz); /* 2025-01-31 14:05:09 (UTC) */
bool ep_is_guid(const char *s);
void ep_lower_guid(const char *s, char out[37]);
bool ep_is_decision_time(const char *s);
bool ep_is_duration(const char *s);
json_t *ep_json_text(const char *p, size_t n);  /* string; invalid UTF-8 shown as \xNN */
/* Parses a control body as a JSON object; NULL with why on failure. */
json_t *ep_parse_object(const ep_req *r, char *why, size_t whysz);
/* Fails when obj has a key not in allowed (NULL-terminated). */
tb_err ep_check_keys(json_t *obj, const char *const *allowed, char *why, size_t whysz);
bool ep_json_number(json_t *v, double *out);

#endif
