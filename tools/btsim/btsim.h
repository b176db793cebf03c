/* btsim: a BeyondTrust RS / PRA appliance simulator for ticketbridge's e2e
 * tests, demo and benchmarks. Wire facts come from
 * shared/protocol/beyondtrust.md; every behaviour that the doc marks as
 * inferred ([I]) is either an option in bt_config or commented as [I] where
 * it is produced.
 *
 * Concurrency: one global state G. G.mu guards sessions, keys, custom field
 * definitions, portals, ticket-system grants and settings, tokens, faults,
 * the RNG and the API counters; G.qmu guards the outbound queue and its
 * counters. Lock order is always G.mu then G.qmu. No lock is held across an
 * outbound HTTP request. */
#ifndef BTSIM_H
#define BTSIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* ---- small key/value list (ordered, duplicates allowed via kvs_add) ---- */
typedef struct bt_kv {
    char *k;
    char *v;
} bt_kv;

typedef struct bt_kvs {
    bt_kv *items;
    size_t n, cap;
} bt_kvs;

void kvs_add(bt_kvs *l, const char *k, const char *v);
void kvs_set(bt_kvs *l, const char *k, const char *v); /* replace or append */
void kvs_del(bt_kvs *l, const char *k);
const char *kvs_get(const bt_kvs *l, const char *k);
void kvs_copy(bt_kvs *dst, const bt_kvs *src);
void kvs_free(bt_kvs *l);

/* ---- configuration (command line) ---- */
typedef struct bt_config {
    char *listen;           /* ADDR:PORT */
    char *port_file;
    bool pra;
    char *ns_report;        /* XML namespace of /api/reporting [I: configurable] */
    char *ns_command;       /* XML namespace of /api/command [I] */
    char *client_id, *client_secret;
    uint64_t seed;
    int sessions;           /* pre-generated ended sessions */
    bt_kvs report_files;    /* lsid -> path */
    char *appliance_id;
    char *hostname;         /* public site hostname used in URLs */
    char *outbound_url;
    char *end_event;        /* [I] PRA event names unverified */
    char *begin_event;
    char *member_event;
    char *owner_event;
    bool lifecycle_events;  /* also send begin/member_added when sessions start */
    bool send_custom_fields;
    char *custom_prefix;    /* [I] how custom fields are named in the POST */
    char *event_version;
    bt_kvs events_to_send;  /* recipient's "Events to Send"; empty = all */
    double retry_interval, retry_duration, send_timeout;
    double token_ttl;
    int max_tokens;         /* [V] 30 */
    double hang_seconds;    /* report-timeout fault hang, default 30 */
    int run_sessions;
    double rate;
    bool exit_when_drained;
    int verbosity;          /* -1 quiet, 0 normal, 1 verbose */
    /* session keys (§2.1) */
    double key_ttl;         /* default ttl of generate_session_key [I] */
    char *key_url_template; /* {host} and {key} replaced [I] */
    bool custom_error_code_name; /* "Invalid custom field code name" instead of
                                  * "Error validating parameter ..." (seed 003) */
    char *company_site;     /* companySiteName in .brcs-<name> (§6.1) */
    /* PRA Jump Policy ticket system (§5, wire format [I]) */
    char *ts_url;           /* Ticket System URL */
    char *ts_header;        /* optional "Name: value" sent with each request [I] */
    char *ts_format;        /* json | form [I] */
    double ts_timeout;      /* seconds to wait for the answer */
} bt_config;

/* ---- session model ---- */
typedef struct bt_actor {
    bool set;
    const char *type;       /* static: customer|representative|system|everyone */
    int gsnumber;
    char *name;
} bt_actor;

typedef struct bt_event {
    int64_t ts;
    const char *type;       /* static, from the protocol doc's list */
    bt_actor by, dest;
    bt_kvs data;
    char *body;
} bt_event;

typedef struct bt_rep {
    int id, gsnumber;
    char *username, *display_name, *public_display_name, *private_display_name;
    char *public_ip, *private_ip, *hostname, *os;
    bool owner;
    int64_t joined, left;   /* left 0 = still present */
} bt_rep;

typedef struct bt_cust {
    int gsnumber;
    char *name, *company, *company_code, *details, *issue;
    char *username, *public_ip, *private_ip, *hostname, *os;
} bt_cust;

#define BT_MAX_GRANTS 4096
#define BT_MAX_PORTALS 1000
#define BT_MAX_REPS 4
#define BT_MAX_CUSTS 2

typedef struct bt_session {
    char lsid[33];
    int seq;                /* creation order */
    bool active;
    int64_t start, end;
    char *external_key;
    bt_kvs custom;          /* code_name -> value */
    bt_rep reps[BT_MAX_REPS];
    int nreps;
    bt_cust custs[BT_MAX_CUSTS];
    int ncusts;
    bt_event *ev;
    size_t nev, evcap;
    int ft_count, fmove_count, fdel_count;
    bool has_recording;
    int site_id;
    char *site_name;        /* public portal (RS public_site) */
    char *queue_id;         /* queue the session entered: general, rep:N, team:N, issue:X */
    bool attended;          /* false: an unattended endpoint (Jump Client) [I] */
    int next_gs;            /* next gsnumber for a member that joins */
    char *ticket_id;        /* PRA: ticket ID the session was approved with */
    char *jump_item_name;   /* PRA: primary_customer text when set */
    bool live;              /* driven by the control API (see bt_gen_opts) */
    int jumpoint_id;
    char *jumpoint_name;
    int jump_group_id;
    char *jump_group_name;
    char chat_hash[41];
} bt_session;

typedef struct bt_key {
    char short_key[8];
    char *queue_id;
    char *external_key;
    bt_kvs custom;
    int64_t created, expires;
    char *rep_username;     /* rep_username:<u> or rep:<id> resolved */
    int uses;               /* sessions started with it */
} bt_key;

/* A jump item as the ticket-system request describes it (§5, [I]). */
typedef struct bt_jump_item {
    char *id, *name, *hostname;
    char *jump_group_id, *jump_group_name, *jump_group_type;
    char *jumpoint_id, *jumpoint_name;
} bt_jump_item;

/* An allowed ticket-system answer, remembered so that a later session start
 * with the same ticket ID (and jump item) carries its custom attributes. */
typedef struct bt_grant {
    char *ticket_id;
    bt_jump_item item;
    char *user_id, *username, *user_display_name;
    bt_kvs custom;
} bt_grant;

typedef struct bt_token {
    char tok[41];
    double expires;
    uint64_t serial;
} bt_token;

typedef struct bt_faults {
    int token_5xx, report_5xx, report_timeout, lose_ack, drop_connection;
    int report_slow_ms;
} bt_faults;

typedef struct bt_outev {
    bt_kvs fields;
    double first_attempt;   /* 0 = never tried */
    int attempts;
    struct bt_outev *next;
} bt_outev;

typedef struct bt_app {
    bt_config cfg;
    pthread_mutex_t mu;
    /* sessions */
    bt_session **sess;
    size_t nsess, capsess;
    size_t *hidx;           /* open addressing: index+1 into sess, 0 empty */
    size_t hcap;
    bt_key *keys;
    size_t nkeys, capkeys;
    bt_kvs custom_fields;   /* code_name -> "" : fields defined on the appliance */
    bt_kvs portals;         /* public portal names; id = index + 1 */
    bt_grant *grants;       /* ring of the last BT_MAX_GRANTS allowed answers */
    size_t ngrants, grant_next;
    char *ts_url, *ts_header, *ts_format; /* ticket system; malloc'd */
    double ts_timeout;
    bt_token *tokens;       /* max_tokens entries, ntok live */
    int ntok;
    uint64_t tok_serial;
    bt_faults faults;
    uint64_t rng;
    unsigned long long tokens_issued, token_rejects, api_requests;
    /* stop */
    volatile int stopping;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    /* outbound */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    bt_outev *qhead, *qtail;
    unsigned long long ev_queued, ev_delivered, ev_attempts, ev_retried, ev_dropped;
    size_t qdepth;
} bt_app;

extern bt_app G;

/* util.c */
double bt_now(void);
uint64_t bt_rand(void);                 /* G.mu held */
uint32_t bt_randn(uint32_t n);          /* [0,n), G.mu held */
void bt_sleep(double seconds);          /* interruptible by shutdown */
void bt_request_stop(void);
void xml_esc(tb_buf *b, const char *s);
void bt_iso_time(int64_t t, char *out, size_t outsz);
char *bt_strdup(const char *s);
char *bt_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *bt_display_name(const char *code_name);
long bt_utf8_len(const char *s);        /* code points; -1 if not valid UTF-8 */
double bt_mono_ms(void);                /* monotonic clock, milliseconds */

/* gen.c (G.mu held for all) */
typedef struct bt_gen_opts {
    bool active;
    bool live;              /* driven by the control API: only the start events, no
                             * invented chat or notes */
    bool waiting;           /* live: no representative until one joins */
    const char *external_key;
    const bt_kvs *custom;
    const char *rep_username;
    const char *customer_host;
    const char *customer_name, *company, *company_code, *details, *issue;
    const char *public_portal;
    const char *queue_id;
    int attended;           /* 0 default (RS yes, PRA no), 1 yes, -1 no */
    const bt_grant *grant;  /* PRA jump: endpoint, jump group, jumpoint, user */
    int64_t end;            /* ended sessions: end time; 0 = now */
} bt_gen_opts;
bt_session *gen_session(const bt_gen_opts *o);
bt_session *find_session(const char *lsid);
void end_session(bt_session *s, int64_t when);
bool rep_username_known(const char *u);
const char *rep_username_by_id(long id);
const char *rep_username_by_public_name(const char *name);
int portal_id(const char *name);
void sessions_free_all(void);
/* building blocks for live sessions (live.c) */
bt_event *sess_event(bt_session *s, int64_t ts, const char *type);
void sess_actor(bt_actor *a, const char *type, int gs, const char *name);
const char *sess_cust_display(const bt_session *s, const bt_cust *c);
/* Adds a representative (known username: its account; else one made from the
 * arguments) and the Conference Member Added event. NULL when the session
 * already has BT_MAX_REPS. */
bt_rep *sess_add_rep(bt_session *s, const char *username, const char *user_id,
                     const char *display_name, int64_t when);
void sess_owner_changed(bt_session *s, int64_t ts, const char *type, int gs, const char *name);
void sess_chat(bt_session *s, int64_t ts, const char *bytype, int gs, const char *name,
               const char *body);
void grant_free(bt_grant *g);

/* keys.c (G.mu held unless noted) */
#define BT_CODE_NAME_MAX 64
#define BT_MAX_CUSTOM_FIELDS 100
typedef enum { BT_KEY_OK, BT_KEY_UNKNOWN, BT_KEY_EXPIRED } bt_key_state;
bool custom_field_name_valid(const char *name);             /* no lock needed */
tb_err custom_fields_init(const char *csv);                 /* NULL: the default list */
const char *custom_fields_undefined(const bt_kvs *custom);  /* first undefined name or NULL */
char *custom_field_error(const char *name);                 /* the appliance's message */
/* session.custom.<name> params into custom; session.custom.external_key into *ext */
void collect_session_custom(const bt_kvs *params, bt_kvs *custom, const char **ext);
const char *custom_values_check(const bt_kvs *custom, const char *external_key); /* no lock */
/* Takes custom's contents. */
bt_key *key_add(const char *queue_id, const char *rep_username, const char *external_key,
                bt_kvs *custom, long ttl);
bt_key *key_lookup(const char *short_key, bt_key_state *st);
char *key_url(const char *host, const char *short_key);

/* xml.c (G.mu held) */
char *xml_session_list(bt_session **v, size_t n);
char *xml_listing(bt_session **v, size_t n);
char *xml_error(const char *ns, const char *msg);
char *xml_simple(const char *root, const char *text); /* command namespace */

/* outbound.c */
tb_err outbound_start(void);
void outbound_stop(void);
void outbound_queue(bt_kvs *fields);    /* takes ownership of fields' contents */
void outbound_session_event(const bt_session *s, const char *event,
                            const bt_rep *member_rep, const bt_cust *member_cust);
bool outbound_drained(void);

/* server.c */
tb_err server_start(int *port_out);
void server_stop(void);

/* faults.c, control.c */
tb_err fault_add(const char *spec);
char *stats_json(void);

/* jump.c */
void jump_init(void);                   /* ticket-system settings from bt_config */
bool ts_url_valid(const char *url);
bool ts_header_valid(const char *line);  /* one "Name: value" line */
void jump_free(void);
/* The newest remembered grant for ticket_id (and item_id when not NULL). */
const bt_grant *grant_find(const char *ticket_id, const char *item_id);

#endif
