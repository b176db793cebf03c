/* Streaming parser for BeyondTrust RS SupportSession / PRA AccessSession
 * reports, their *Listing variants and <error> replies (protocol notes §2.6,
 * §3). A push parser over expat: bytes go in through bt_report_parser_feed as
 * they arrive (a curl write callback), and a callback receives each session
 * as soon as its </session> is read. One session is held at a time, so memory
 * is bounded by bt_report_limits, not by the size of the report.
 *
 * Namespaces: appliances use several reporting namespaces (bomgar.com,
 * beyondtrust.com/sra, beyondtrust.com, or none); only local names are
 * compared, so all of them parse the same.
 *
 * Hostile input: any DOCTYPE is refused ("DTD not allowed"; real reports have
 * none), which rules out entity expansion and external entities. Input size,
 * element depth, text per element, events per session, attributes per
 * element, retained bytes per session and the size of a single XML token are
 * capped; going over a cap fails with TB_ERR_TOO_LARGE.
 *
 * Lenient where appliances differ: unknown elements (and their subtrees) are
 * ignored, numbers that do not parse read as "absent", text is kept verbatim
 * (including the literal "Unknown" and "[v6]:port" addresses).
 *
 * Not thread-safe per parser; separate parsers are independent. */
#ifndef TB_BT_REPORT_H
#define TB_BT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

/* ---- limits ---- */

typedef struct bt_report_limits {
    size_t max_input_bytes;     /* whole document; default 64 MiB */
    size_t max_depth;           /* element nesting; default 32, at most 1000 */
    size_t max_text;            /* text of one element or attribute; default 64 KiB */
    size_t max_chat_text;       /* text of an event <body> (chat); default 1 MiB */
    size_t max_events;          /* events per session; default 200000 */
    size_t max_attributes;      /* attributes per element; default 64 */
    size_t max_session_bytes;   /* memory retained for one session; default 64 MiB */
    size_t max_token_bytes;     /* one tag/comment/text run expat must buffer whole; default 4 MiB */
} bt_report_limits;

#define BT_REPORT_DEFAULT_MAX_INPUT (64u * 1024 * 1024)

/* Fills *lim with the defaults above. A field left 0 in limits passed to the
 * parser also means "default". */
void bt_report_limits_default(bt_report_limits *lim);

/* ---- normalized session model ----
 * Conventions: a string is NULL when its element/attribute was absent and ""
 * when present but empty; a number is -1 when absent or not a number (times:
 * 0). Every pointer in a bt_session (strings and arrays) is owned by the
 * parser and valid only during the callback; copy what must outlive it. */

typedef struct bt_actor {       /* <performed_by> / <destination> */
    bool present;
    const char *type;           /* "customer", "representative", "system", "everyone", ... */
    long long gsnumber;         /* links to bt_user.gsnumber; 0 for system */
    const char *name;           /* display name (element text) */
} bt_actor;

typedef struct bt_kv {          /* <data><value name=".." value=".."/> */
    const char *name;
    const char *value;
} bt_kv;

typedef struct bt_event {
    int64_t timestamp;          /* @timestamp, unix seconds */
    const char *event_type;     /* @event_type, e.g. "Chat Message" */
    bt_actor performed_by;
    bt_actor destination;
    const bt_kv *data;          /* in document order */
    size_t ndata;
    const char *body;           /* <body>: chat text / note; NULL if none */
    const char *filename;       /* <filename>/<filesize> children (FH's XSD); usually NULL */
    const char *filesize;
} bt_event;

/* First data value called name, or NULL. */
const char *bt_event_data(const bt_event *e, const char *name);

typedef struct bt_custom_attr {
    const char *code_name;      /* e.g. "snow_task_id" */
    const char *display_name;
    const char *value;
} bt_custom_attr;

typedef enum bt_user_kind { BT_USER_CUSTOMER, BT_USER_REP } bt_user_kind;

typedef struct bt_customer_info { /* RS <customer><info> */
    const char *name, *company, *company_code, *details, *issue;
} bt_customer_info;

typedef struct bt_user {        /* <customer_list><customer> / <rep_list><representative> */
    bt_user_kind kind;
    long long gsnumber;
    long long id;               /* reps: user id; customers: -1 */
    const char *username;
    const char *display_name;
    const char *public_display_name;
    const char *private_display_name;
    const char *public_ip;      /* verbatim: "1.2.3.4:5", "[v6]:port" or "Unknown" */
    const char *private_ip;
    const char *hostname;
    const char *os;
    int session_owner;          /* 1, 0, -1 absent */
    int primary;                /* <primary_rep> / <primary_cust>: 1, 0, -1 absent (RS) */
    long long seconds_involved; /* -1 absent */
    bool has_info;
    bt_customer_info info;      /* RS customers; fields NULL when has_info is false */
} bt_user;

typedef enum bt_file_direction {
    BT_FILE_UPLOAD,             /* to the endpoint / customer */
    BT_FILE_DOWNLOAD,           /* from the endpoint / customer */
    BT_FILE_OTHER,              /* PRA File Transfer Complete, delete, move, mkdir */
} bt_file_direction;

const char *bt_file_direction_name(bt_file_direction d);   /* "upload", "download", "other" */

/* Derived from the file events: File Upload, File Download, File Upload
 * Failed, File Download Failed, File Transfer Complete, File Deleted, File
 * Moved, Directory Created. */
typedef struct bt_file_transfer {
    size_t event_index;         /* into bt_session.events */
    int64_t timestamp;
    const char *event_type;
    const char *name;           /* data "filename" (or <filename>); NULL if absent */
    long long size;             /* data "filesize"; -1 if absent */
    const char *path;           /* data "path", else "new_path" */
    const char *old_path;       /* File Moved */
    const char *new_path;
    bt_file_direction direction;
    bool success;               /* false for the "... Failed" events */
    const char *sha256;         /* PRA File Transfer Complete */
    bt_actor performed_by;
} bt_file_transfer;

typedef struct bt_session {
    const char *lsid;
    const char *session_type;   /* "support" */
    long long lseq;
    int64_t start_time;         /* @timestamp; 0 if absent */
    const char *start_time_text;/* ISO 8601 text */
    int64_t end_time;           /* 0 = still active (empty <end_time>) */
    const char *end_time_text;
    long long duration;         /* seconds from HH:MM:SS; -1 if absent/unparseable */
    const char *duration_text;
    struct { long long id; const char *name; } public_site;                  /* RS */
    struct { long long id; const char *name; } jumpoint;                     /* PRA; -1 none */
    struct { long long id; const char *type; const char *name; } jump_group; /* PRA; -1 none */
    struct { long long gsnumber; const char *name; } primary_customer; /* PRA: the endpoint */
    struct { long long gsnumber; long long id; const char *name; } primary_rep;
    const char *external_key;
    const bt_custom_attr *custom_attributes;
    size_t ncustom_attributes;
    const char *chat_view_url;  /* entities decoded (&amp; -> &) */
    const char *chat_download_url;
    const char *recording_view_url;     /* [I] element names; NULL when no recording */
    const char *recording_download_url;
    bool has_recording;         /* a recording URL is present */
    long long file_transfer_count, file_move_count, file_delete_count;
    const bt_customer_info *customer_info; /* RS: the primary customer's info; else NULL */
    const bt_user *users;       /* customers and reps, in document order */
    size_t nusers;
    const bt_event *events;     /* in document order */
    size_t nevents;
    const bt_file_transfer *files;
    size_t nfiles;
} bt_session;

/* First custom attribute with that code_name, or NULL. */
const char *bt_session_custom(const bt_session *s, const char *code_name);

/* <session_summary_list><session_summary lsid has_recording/> (listings). */
typedef struct bt_session_summary {
    const char *lsid;
    int has_recording;          /* 1, 0, -1 absent */
    const char *external_key;   /* [I] attribute or child; usually NULL */
} bt_session_summary;

/* Splits "1.2.3.4:5", "[2a01::1]:56722", "10.0.0.4" or a bare IPv6 address
 * into the address (brackets removed) and port (-1 when none). Returns
 * TB_ERR_INVALID for "", "Unknown" and anything malformed (out-of-range
 * port, unbalanced brackets), TB_ERR_TOO_LARGE if addr does not fit. */
tb_err bt_split_hostport(const char *s, char *addr, size_t addrsz, int *port);

/* ---- parser ---- */

typedef struct bt_report_parser bt_report_parser;

/* Called after each </session>, from inside bt_report_parser_feed/finish; s
 * and everything it points to are freed when the callback returns. A non-zero
 * return aborts parsing with that code. The callback must not feed, finish or
 * free the parser that called it. */
typedef tb_err (*bt_session_cb)(const bt_session *s, void *ctx);
typedef tb_err (*bt_summary_cb)(const bt_session_summary *s, void *ctx);

typedef enum bt_report_root {
    BT_REPORT_ROOT_NONE,        /* no root element read yet */
    BT_REPORT_ROOT_SESSIONS,    /* <session_list> (or a bare <session>) */
    BT_REPORT_ROOT_LISTING,     /* <session_summary_list> */
    BT_REPORT_ROOT_ERROR,       /* <error> */
} bt_report_root;

/* lim may be NULL (defaults); it is copied. NULL on OOM. */
bt_report_parser *bt_report_parser_new(const bt_report_limits *lim, bt_session_cb cb, void *ctx);
/* Listing entries; without it they are skipped. */
void bt_report_parser_on_summary(bt_report_parser *p, bt_summary_cb cb, void *ctx);

/* Feeds the next len bytes. Errors are sticky: once one is returned, every
 * later feed/finish returns it again.
 *   TB_ERR_INVALID    not well-formed, DTD, unexpected root, bad encoding
 *   TB_ERR_TOO_LARGE  a limit was exceeded
 *   TB_ERR_NOT_FOUND  the appliance answered <error> (text: bt_report_parser_api_error)
 *   TB_ERR_NOMEM
 *   anything the callback returned. */
tb_err bt_report_parser_feed(bt_report_parser *p, const char *buf, size_t len);
/* End of input: fails with TB_ERR_INVALID if the document is truncated. */
tb_err bt_report_parser_finish(bt_report_parser *p);

/* Human-readable description of the last error, with "line L, column C"
 * where it applies; "" when there is none. Valid until the parser is freed. */
const char *bt_report_parser_error(const bt_report_parser *p);
/* The text of an <error> reply (after TB_ERR_NOT_FOUND), else NULL. */
const char *bt_report_parser_api_error(const bt_report_parser *p);
bt_report_root bt_report_parser_root(const bt_report_parser *p);
size_t bt_report_parser_sessions(const bt_report_parser *p);   /* sessions delivered */
uint64_t bt_report_parser_bytes(const bt_report_parser *p);    /* bytes fed */
void bt_report_parser_free(bt_report_parser *p);

/* Convenience: parses a whole file ("-" = stdin) in 64 KiB reads. On error,
 * err (if not NULL) receives the parser's message, or the appliance's
 * <error> text for TB_ERR_NOT_FOUND. */
tb_err bt_report_parse_file(const char *path, const bt_report_limits *lim, bt_session_cb cb,
                            void *ctx, char *err, size_t errsz);

#endif
