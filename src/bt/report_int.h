/* Internals shared by report_parser.c (expat handlers), report_api.c (public
 * API, errors, arena) and report_session.c (session assembly, derived data,
 * helpers). */
#ifndef TB_BT_REPORT_INT_H
#define TB_BT_REPORT_INT_H

#include <expat.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include "bt/report.h"

#define REPORT_CHUNK (64 * 1024)

/* Namespace separator: a URI containing it is rejected by expat (>= 2.4.5),
 * and attribute normalisation turns a literal newline into a space. */
#define NS_SEP '\n'

typedef struct report_chunk {
    struct report_chunk *next;
    size_t size, used;
    _Alignas(8) char data[];
} report_chunk;

struct bt_report_parser {
    XML_Parser xp;
    bt_report_limits lim;
    bt_session_cb cb;
    void *ctx;
    bt_summary_cb summary_cb;
    void *summary_ctx;

    uint8_t names[256];         /* local-name hash table */
    uint8_t *stack;             /* element ids, lim.max_depth deep */
    size_t depth;

    bool capture;               /* inside a leaf whose text is kept */
    char *text;                 /* its text so far (not NUL-terminated) */
    size_t tlen, tcap, tmax;

    /* the session being read; arrays reused between sessions */
    bt_session sess;
    bt_user *users;
    size_t nusers, users_cap;
    bt_event *events;
    size_t nevents, events_cap;
    bt_custom_attr *customs;
    size_t ncustoms, customs_cap;
    bt_kv *vals;                /* data values of the current event */
    size_t nvals, vals_cap;
    bt_file_transfer *files;
    size_t nfiles, files_cap;
    bt_session_summary summary;

    report_chunk *arena;
    size_t sess_bytes;          /* retained by the current session */

    bt_report_root root;
    size_t nsessions;
    uint64_t nbytes;            /* fed so far */
    uint64_t progress;          /* handler calls, to spot a token expat is buffering */
    uint64_t stalled;           /* bytes fed since a handler last fired */
    bool in_handler;            /* inside XML_Parse: errors must stop expat */
    bool finished;

    tb_err err;                 /* sticky */
    char errmsg[512];
    char *api_err;              /* <error> text */
};

/* report_api.c. Errors: the first one sticks; it is stamped with the current
 * line/column when pos is set and stops expat when raised inside a handler. */
void report_failv(bt_report_parser *p, tb_err code, bool pos, const char *fmt, va_list ap);
void report_fail(bt_report_parser *p, tb_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Session memory, counted against max_session_bytes; NULL/false after
 * recording the error. */
void *report_alloc(bt_report_parser *p, size_t n);
const char *report_str(bt_report_parser *p, const char *s, size_t n);
bool report_grow(bt_report_parser *p, void **arr, size_t *cap, size_t n, size_t esz);
void report_arena_reset(bt_report_parser *p);

/* report_parser.c: handlers and hardening on p->xp. */
void report_parser_setup(bt_report_parser *p);

/* report_session.c */

void report_session_begin(bt_report_parser *p);
void report_session_end(bt_report_parser *p);
void report_summary_end(bt_report_parser *p);
void report_api_error(bt_report_parser *p, const char *text, size_t len);

/* Decimal integer with optional surrounding blanks; -1 if not a number. */
long long report_parse_ll(const char *s);
/* "HH:MM:SS" (hours may exceed 99) to seconds; -1 if malformed. */
long long report_parse_duration(const char *s);

#endif
