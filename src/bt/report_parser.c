/* Session-report push parser over expat (see bt/report.h).
 *
 * Shape of the state machine: a stack of element ids, one per open element.
 * A child's id is its local name's id only if that name is allowed under the
 * parent's id (allowed[] below); anything else becomes EL_UNKNOWN, and so does
 * every descendant of an unknown element, so future additions are skipped
 * whole. Leaf elements capture their text into one capped buffer; the end
 * handler stores it into the current session.
 *
 * Public API, errors and the per-session arena: report_api.c. Session
 * assembly and derived data: report_session.c. */
#include "bt/report.h"
#include "bt/report_int.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


enum {
    EL_UNKNOWN = 0,
    EL_SESSION_LIST, EL_SESSION_SUMMARY_LIST, EL_SESSION_SUMMARY, EL_ERROR, EL_SESSION,
    EL_SESSION_TYPE, EL_LSEQ, EL_START_TIME, EL_END_TIME, EL_DURATION, EL_PUBLIC_SITE,
    EL_JUMPOINT, EL_JUMP_GROUP, EL_EXTERNAL_KEY, EL_CUSTOM_ATTRIBUTES, EL_CUSTOM_ATTRIBUTE,
    EL_CHAT_VIEW_URL, EL_CHAT_DOWNLOAD_URL, EL_REC_VIEW_URL, EL_REC_DOWNLOAD_URL,
    EL_FILE_TRANSFER_COUNT, EL_FILE_MOVE_COUNT, EL_FILE_DELETE_COUNT, EL_PRIMARY_CUSTOMER,
    EL_PRIMARY_REP, EL_CUSTOMER_LIST, EL_CUSTOMER, EL_REP_LIST, EL_REPRESENTATIVE,
    EL_USERNAME, EL_DISPLAY_NAME, EL_PUBLIC_DISPLAY_NAME, EL_PRIVATE_DISPLAY_NAME,
    EL_PUBLIC_IP, EL_PRIVATE_IP, EL_HOSTNAME, EL_OS, EL_INFO, EL_NAME, EL_COMPANY,
    EL_COMPANY_CODE, EL_DETAILS, EL_ISSUE, EL_PRIMARY_CUST, EL_SESSION_OWNER,
    EL_SECONDS_INVOLVED, EL_SESSION_DETAILS, EL_EVENT, EL_PERFORMED_BY, EL_DESTINATION,
    EL_DATA, EL_VALUE, EL_BODY, EL_FILENAME, EL_FILESIZE,
    EL__COUNT,
    EL_DOC = EL__COUNT,     /* parent of the root element */
};
_Static_assert(EL__COUNT <= 64, "element ids must fit a 64-bit mask");

static const char *const el_names[EL__COUNT] = {
    [EL_UNKNOWN] = "?",
    [EL_SESSION_LIST] = "session_list", [EL_SESSION_SUMMARY_LIST] = "session_summary_list",
    [EL_SESSION_SUMMARY] = "session_summary", [EL_ERROR] = "error", [EL_SESSION] = "session",
    [EL_SESSION_TYPE] = "session_type", [EL_LSEQ] = "lseq", [EL_START_TIME] = "start_time",
    [EL_END_TIME] = "end_time", [EL_DURATION] = "duration", [EL_PUBLIC_SITE] = "public_site",
    [EL_JUMPOINT] = "jumpoint", [EL_JUMP_GROUP] = "jump_group",
    [EL_EXTERNAL_KEY] = "external_key", [EL_CUSTOM_ATTRIBUTES] = "custom_attributes",
    [EL_CUSTOM_ATTRIBUTE] = "custom_attribute", [EL_CHAT_VIEW_URL] = "session_chat_view_url",
    [EL_CHAT_DOWNLOAD_URL] = "session_chat_download_url",
    [EL_REC_VIEW_URL] = "session_recording_view_url",
    [EL_REC_DOWNLOAD_URL] = "session_recording_download_url",
    [EL_FILE_TRANSFER_COUNT] = "file_transfer_count", [EL_FILE_MOVE_COUNT] = "file_move_count",
    [EL_FILE_DELETE_COUNT] = "file_delete_count", [EL_PRIMARY_CUSTOMER] = "primary_customer",
    [EL_PRIMARY_REP] = "primary_rep", [EL_CUSTOMER_LIST] = "customer_list",
    [EL_CUSTOMER] = "customer", [EL_REP_LIST] = "rep_list", [EL_REPRESENTATIVE] = "representative",
    [EL_USERNAME] = "username", [EL_DISPLAY_NAME] = "display_name",
    [EL_PUBLIC_DISPLAY_NAME] = "public_display_name",
    [EL_PRIVATE_DISPLAY_NAME] = "private_display_name", [EL_PUBLIC_IP] = "public_ip",
    [EL_PRIVATE_IP] = "private_ip", [EL_HOSTNAME] = "hostname", [EL_OS] = "os",
    [EL_INFO] = "info", [EL_NAME] = "name", [EL_COMPANY] = "company",
    [EL_COMPANY_CODE] = "company_code", [EL_DETAILS] = "details", [EL_ISSUE] = "issue",
    [EL_PRIMARY_CUST] = "primary_cust", [EL_SESSION_OWNER] = "session_owner",
    [EL_SECONDS_INVOLVED] = "seconds_involved", [EL_SESSION_DETAILS] = "session_details",
    [EL_EVENT] = "event", [EL_PERFORMED_BY] = "performed_by", [EL_DESTINATION] = "destination",
    [EL_DATA] = "data", [EL_VALUE] = "value", [EL_BODY] = "body", [EL_FILENAME] = "filename",
    [EL_FILESIZE] = "filesize",
};

#define B(x) (1ULL << (x))
#define USER_FIELDS                                                                              \
    (B(EL_USERNAME) | B(EL_DISPLAY_NAME) | B(EL_PUBLIC_DISPLAY_NAME) |                          \
     B(EL_PRIVATE_DISPLAY_NAME) | B(EL_PUBLIC_IP) | B(EL_PRIVATE_IP) | B(EL_HOSTNAME) | B(EL_OS) | \
     B(EL_SESSION_OWNER) | B(EL_SECONDS_INVOLVED))

/* Which children are understood under each parent. */
static const uint64_t allowed[EL__COUNT + 1] = {
    [EL_DOC] = B(EL_SESSION_LIST) | B(EL_SESSION_SUMMARY_LIST) | B(EL_ERROR) | B(EL_SESSION),
    [EL_SESSION_LIST] = B(EL_SESSION) | B(EL_ERROR),
    [EL_SESSION_SUMMARY_LIST] = B(EL_SESSION_SUMMARY) | B(EL_ERROR),
    [EL_SESSION_SUMMARY] = B(EL_EXTERNAL_KEY),
    [EL_SESSION] = B(EL_SESSION_TYPE) | B(EL_LSEQ) | B(EL_START_TIME) | B(EL_END_TIME) |
                   B(EL_DURATION) | B(EL_PUBLIC_SITE) | B(EL_JUMPOINT) | B(EL_JUMP_GROUP) |
                   B(EL_EXTERNAL_KEY) | B(EL_CUSTOM_ATTRIBUTES) | B(EL_CHAT_VIEW_URL) |
                   B(EL_CHAT_DOWNLOAD_URL) | B(EL_REC_VIEW_URL) | B(EL_REC_DOWNLOAD_URL) |
                   B(EL_FILE_TRANSFER_COUNT) | B(EL_FILE_MOVE_COUNT) | B(EL_FILE_DELETE_COUNT) |
                   B(EL_PRIMARY_CUSTOMER) | B(EL_PRIMARY_REP) | B(EL_CUSTOMER_LIST) |
                   B(EL_REP_LIST) | B(EL_SESSION_DETAILS),
    [EL_CUSTOM_ATTRIBUTES] = B(EL_CUSTOM_ATTRIBUTE),
    [EL_CUSTOMER_LIST] = B(EL_CUSTOMER),
    [EL_REP_LIST] = B(EL_REPRESENTATIVE),
    [EL_CUSTOMER] = USER_FIELDS | B(EL_INFO) | B(EL_PRIMARY_CUST),
    [EL_REPRESENTATIVE] = USER_FIELDS | B(EL_PRIMARY_REP),
    [EL_INFO] = B(EL_NAME) | B(EL_COMPANY) | B(EL_COMPANY_CODE) | B(EL_DETAILS) | B(EL_ISSUE),
    [EL_SESSION_DETAILS] = B(EL_EVENT),
    [EL_EVENT] = B(EL_PERFORMED_BY) | B(EL_DESTINATION) | B(EL_DATA) | B(EL_BODY) |
                 B(EL_FILENAME) | B(EL_FILESIZE),
    [EL_DATA] = B(EL_VALUE),
};

/* Elements whose text is kept. */
static const uint64_t leaf_mask =
    B(EL_ERROR) | B(EL_SESSION_TYPE) | B(EL_LSEQ) | B(EL_START_TIME) | B(EL_END_TIME) |
    B(EL_DURATION) | B(EL_PUBLIC_SITE) | B(EL_JUMPOINT) | B(EL_JUMP_GROUP) | B(EL_EXTERNAL_KEY) |
    B(EL_CUSTOM_ATTRIBUTE) | B(EL_CHAT_VIEW_URL) | B(EL_CHAT_DOWNLOAD_URL) | B(EL_REC_VIEW_URL) |
    B(EL_REC_DOWNLOAD_URL) | B(EL_FILE_TRANSFER_COUNT) | B(EL_FILE_MOVE_COUNT) |
    B(EL_FILE_DELETE_COUNT) | B(EL_PRIMARY_CUSTOMER) | B(EL_PRIMARY_REP) | USER_FIELDS |
    B(EL_NAME) | B(EL_COMPANY) | B(EL_COMPANY_CODE) | B(EL_DETAILS) | B(EL_ISSUE) |
    B(EL_PRIMARY_CUST) | B(EL_PERFORMED_BY) | B(EL_DESTINATION) | B(EL_VALUE) | B(EL_BODY) |
    B(EL_FILENAME) | B(EL_FILESIZE);

/* ---- local-name lookup: open addressing over FNV-1a, built once per parser ---- */
#define NAME_SLOTS 256

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static void names_build(uint8_t *slots)
{
    memset(slots, 0, NAME_SLOTS);
    for (int id = 1; id < EL__COUNT; id++) {
        uint32_t i = name_hash(el_names[id], strlen(el_names[id])) & (NAME_SLOTS - 1);
        while (slots[i])
            i = (i + 1) & (NAME_SLOTS - 1);
        slots[i] = (uint8_t)id;
    }
}

/* Local part of an expat "uri\nlocal" name. */
static const char *local_name(const char *name, size_t *len)
{
    const char *l = name, *q = name;
    for (; *q; q++)
        if (*q == NS_SEP)
            l = q + 1;
    *len = (size_t)(q - l);
    return l;
}

static int name_lookup(const bt_report_parser *p, const char *local, size_t n)
{
    uint32_t i = name_hash(local, n) & (NAME_SLOTS - 1);
    for (int id; (id = p->names[i]) != 0; i = (i + 1) & (NAME_SLOTS - 1))
        if (!strncmp(el_names[id], local, n) && el_names[id][n] == '\0')
            return id;
    return EL_UNKNOWN;
}

/* ---- attribute helpers ---- */

static const char *attr(const char **atts, const char *name)
{
    for (; *atts; atts += 2)
        if (!strcmp(atts[0], name))
            return atts[1];
    return NULL;
}

static const char *attr_str(bt_report_parser *p, const char **atts, const char *name)
{
    const char *v = attr(atts, name);
    if (!v)
        return NULL;
    size_t n = strlen(v);
    if (n > p->lim.max_text) {
        report_fail(p, TB_ERR_TOO_LARGE, "attribute %s longer than %zu bytes", name, p->lim.max_text);
        return NULL;
    }
    return report_str(p, v, n);
}

static long long attr_num(const char **atts, const char *name)
{
    const char *v = attr(atts, name);
    return v ? report_parse_ll(v) : -1;
}

/* ---- handlers ---- */

static void on_start(void *ud, const char *name, const char **atts)
{
    bt_report_parser *p = ud;
    if (p->err)
        return;
    p->progress++;
    int parent = p->depth ? p->stack[p->depth - 1] : EL_DOC;
    if (p->depth >= p->lim.max_depth) {
        report_fail(p, TB_ERR_TOO_LARGE, "elements nested deeper than %zu", p->lim.max_depth);
        return;
    }
    size_t nattr = 0;
    for (const char **a = atts; *a; a += 2)
        nattr++;
    if (nattr > p->lim.max_attributes) {
        report_fail(p, TB_ERR_TOO_LARGE, "element with more than %zu attributes", p->lim.max_attributes);
        return;
    }
    int id = EL_UNKNOWN;
    if (allowed[parent]) {
        size_t n;
        const char *l = local_name(name, &n);
        id = name_lookup(p, l, n);
        if (!(allowed[parent] & B(id)))
            id = EL_UNKNOWN;
        if (parent == EL_DOC && id == EL_UNKNOWN) {
            report_fail(p, TB_ERR_INVALID,
                 "unexpected root element <%.64s>; expected session_list, "
                 "session_summary_list or error",
                 l);
            return;
        }
    }
    p->stack[p->depth++] = (uint8_t)id;
    if (id == EL_UNKNOWN)
        return;
    if (leaf_mask & B(id)) {
        p->capture = true;
        p->tlen = 0;
        p->tmax = id == EL_BODY ? p->lim.max_chat_text : p->lim.max_text;
    }
    bt_session *s = &p->sess;
    switch (id) {
    case EL_SESSION_LIST:
        p->root = BT_REPORT_ROOT_SESSIONS;
        break;
    case EL_SESSION_SUMMARY_LIST:
        p->root = BT_REPORT_ROOT_LISTING;
        break;
    case EL_ERROR:
        if (parent == EL_DOC)
            p->root = BT_REPORT_ROOT_ERROR;
        break;
    case EL_SESSION:
        if (parent == EL_DOC)
            p->root = BT_REPORT_ROOT_SESSIONS;
        report_session_begin(p);
        s->lsid = attr_str(p, atts, "lsid");
        break;
    case EL_SESSION_SUMMARY:
        report_arena_reset(p);
        memset(&p->summary, 0, sizeof p->summary);
        p->summary.lsid = attr_str(p, atts, "lsid");
        p->summary.has_recording = (int)attr_num(atts, "has_recording");
        p->summary.external_key = attr_str(p, atts, "external_key");
        break;
    case EL_START_TIME: {
        long long t = attr_num(atts, "timestamp");
        s->start_time = t > 0 ? t : 0;
        break;
    }
    case EL_END_TIME: {
        long long t = attr_num(atts, "timestamp");
        s->end_time = t > 0 ? t : 0;
        break;
    }
    case EL_PUBLIC_SITE:
        s->public_site.id = attr_num(atts, "id");
        break;
    case EL_JUMPOINT:
        s->jumpoint.id = attr_num(atts, "id");
        break;
    case EL_JUMP_GROUP:
        s->jump_group.id = attr_num(atts, "id");
        s->jump_group.type = attr_str(p, atts, "type");
        break;
    case EL_PRIMARY_CUSTOMER:
        s->primary_customer.gsnumber = attr_num(atts, "gsnumber");
        break;
    case EL_PRIMARY_REP:
        if (parent == EL_SESSION) {
            s->primary_rep.gsnumber = attr_num(atts, "gsnumber");
            s->primary_rep.id = attr_num(atts, "id");
        }
        break;
    case EL_CUSTOM_ATTRIBUTE: {
        if (!report_grow(p, (void **)&p->customs, &p->customs_cap, p->ncustoms, sizeof *p->customs))
            return;
        bt_custom_attr *c = &p->customs[p->ncustoms++];
        c->code_name = attr_str(p, atts, "code_name");
        c->display_name = attr_str(p, atts, "display_name");
        c->value = NULL;
        break;
    }
    case EL_CUSTOMER:
    case EL_REPRESENTATIVE: {
        if (!report_grow(p, (void **)&p->users, &p->users_cap, p->nusers, sizeof *p->users))
            return;
        bt_user *u = &p->users[p->nusers++];
        memset(u, 0, sizeof *u);
        u->kind = id == EL_CUSTOMER ? BT_USER_CUSTOMER : BT_USER_REP;
        u->gsnumber = attr_num(atts, "gsnumber");
        u->id = attr_num(atts, "id");
        u->session_owner = -1;
        u->primary = -1;
        u->seconds_involved = -1;
        break;
    }
    case EL_INFO:
        p->users[p->nusers - 1].has_info = true;
        break;
    case EL_EVENT: {
        if (p->nevents >= p->lim.max_events) {
            report_fail(p, TB_ERR_TOO_LARGE, "session %.64s has more than %zu events (max_events)",
                 s->lsid ? s->lsid : "?", p->lim.max_events);
            return;
        }
        if (!report_grow(p, (void **)&p->events, &p->events_cap, p->nevents, sizeof *p->events))
            return;
        bt_event *e = &p->events[p->nevents++];
        memset(e, 0, sizeof *e);
        long long t = attr_num(atts, "timestamp");
        e->timestamp = t > 0 ? t : 0;
        e->event_type = attr_str(p, atts, "event_type");
        p->nvals = 0;
        break;
    }
    case EL_PERFORMED_BY:
    case EL_DESTINATION: {
        bt_event *e = &p->events[p->nevents - 1];
        bt_actor *a = id == EL_PERFORMED_BY ? &e->performed_by : &e->destination;
        a->present = true;
        a->type = attr_str(p, atts, "type");
        a->gsnumber = attr_num(atts, "gsnumber");
        break;
    }
    case EL_VALUE: {
        if (!report_grow(p, (void **)&p->vals, &p->vals_cap, p->nvals, sizeof *p->vals))
            return;
        bt_kv *kv = &p->vals[p->nvals++];
        kv->name = attr_str(p, atts, "name");
        kv->value = attr_str(p, atts, "value");
        break;
    }
    default:
        break;
    }
}

static void on_text(void *ud, const char *s, int len)
{
    bt_report_parser *p = ud;
    p->progress++;
    if (!p->capture || p->err || len <= 0)
        return;
    size_t n = (size_t)len;
    if (n > p->tmax - p->tlen) {
        report_fail(p, TB_ERR_TOO_LARGE, "text of <%s> longer than %zu bytes",
             el_names[p->stack[p->depth - 1]], p->tmax);
        return;
    }
    if (p->tlen + n + 1 > p->tcap) {
        size_t nc = p->tcap ? p->tcap : 1024;
        while (nc < p->tlen + n + 1)
            nc *= 2;
        char *t = realloc(p->text, nc);
        if (!t) {
            report_fail(p, TB_ERR_NOMEM, "out of memory");
            return;
        }
        p->text = t;
        p->tcap = nc;
    }
    memcpy(p->text + p->tlen, s, n);
    p->tlen += n;
}

static void on_end(void *ud, const char *name)
{
    (void)name;
    bt_report_parser *p = ud;
    if (p->err)
        return;
    p->progress++;
    int id = p->stack[--p->depth];
    if (id == EL_UNKNOWN)
        return;
    int parent = p->depth ? p->stack[p->depth - 1] : EL_DOC;
    const char *t = NULL;
    if (leaf_mask & B(id)) {
        p->capture = false;
        if (id == EL_ERROR) {
            report_api_error(p, p->text ? p->text : "", p->tlen);
            return;
        }
        t = report_str(p, p->text ? p->text : "", p->tlen);
        if (!t)
            return;
    }
    bt_session *s = &p->sess;
    bt_user *u = p->nusers ? &p->users[p->nusers - 1] : NULL;
    bt_event *e = p->nevents ? &p->events[p->nevents - 1] : NULL;
    switch (id) {
    case EL_SESSION: report_session_end(p); break;
    case EL_SESSION_SUMMARY: report_summary_end(p); break;
    case EL_SESSION_TYPE: s->session_type = t; break;
    case EL_LSEQ: s->lseq = report_parse_ll(t); break;
    case EL_START_TIME: s->start_time_text = t; break;
    case EL_END_TIME: s->end_time_text = t; break;
    case EL_DURATION:
        s->duration_text = t;
        s->duration = report_parse_duration(t);
        break;
    case EL_PUBLIC_SITE: s->public_site.name = t; break;
    case EL_JUMPOINT: s->jumpoint.name = t; break;
    case EL_JUMP_GROUP: s->jump_group.name = t; break;
    case EL_EXTERNAL_KEY:
        if (parent == EL_SESSION_SUMMARY)
            p->summary.external_key = t;
        else
            s->external_key = t;
        break;
    case EL_CUSTOM_ATTRIBUTE: p->customs[p->ncustoms - 1].value = t; break;
    case EL_CHAT_VIEW_URL: s->chat_view_url = t; break;
    case EL_CHAT_DOWNLOAD_URL: s->chat_download_url = t; break;
    case EL_REC_VIEW_URL: s->recording_view_url = t; break;
    case EL_REC_DOWNLOAD_URL: s->recording_download_url = t; break;
    case EL_FILE_TRANSFER_COUNT: s->file_transfer_count = report_parse_ll(t); break;
    case EL_FILE_MOVE_COUNT: s->file_move_count = report_parse_ll(t); break;
    case EL_FILE_DELETE_COUNT: s->file_delete_count = report_parse_ll(t); break;
    case EL_PRIMARY_CUSTOMER: s->primary_customer.name = t; break;
    case EL_PRIMARY_REP:
        if (parent == EL_SESSION)
            s->primary_rep.name = t;
        else
            u->primary = (int)report_parse_ll(t);
        break;
    case EL_PRIMARY_CUST: u->primary = (int)report_parse_ll(t); break;
    case EL_USERNAME: u->username = t; break;
    case EL_DISPLAY_NAME: u->display_name = t; break;
    case EL_PUBLIC_DISPLAY_NAME: u->public_display_name = t; break;
    case EL_PRIVATE_DISPLAY_NAME: u->private_display_name = t; break;
    case EL_PUBLIC_IP: u->public_ip = t; break;
    case EL_PRIVATE_IP: u->private_ip = t; break;
    case EL_HOSTNAME: u->hostname = t; break;
    case EL_OS: u->os = t; break;
    case EL_SESSION_OWNER: u->session_owner = (int)report_parse_ll(t); break;
    case EL_SECONDS_INVOLVED: u->seconds_involved = report_parse_ll(t); break;
    case EL_NAME: u->info.name = t; break;
    case EL_COMPANY: u->info.company = t; break;
    case EL_COMPANY_CODE: u->info.company_code = t; break;
    case EL_DETAILS: u->info.details = t; break;
    case EL_ISSUE: u->info.issue = t; break;
    case EL_PERFORMED_BY: e->performed_by.name = t; break;
    case EL_DESTINATION: e->destination.name = t; break;
    case EL_BODY: e->body = t; break;
    case EL_FILENAME: e->filename = t; break;
    case EL_FILESIZE: e->filesize = t; break;
    case EL_VALUE:
        if (!p->vals[p->nvals - 1].value)
            p->vals[p->nvals - 1].value = t;
        break;
    case EL_EVENT:
        if (p->nvals) {
            bt_kv *d = report_alloc(p, p->nvals * sizeof *d);
            if (!d)
                return;
            memcpy(d, p->vals, p->nvals * sizeof *d);
            e->data = d;
            e->ndata = p->nvals;
            p->nvals = 0;
        }
        break;
    default:
        break;
    }
}

static void on_doctype(void *ud, const char *name, const char *sysid, const char *pubid,
                       int has_internal_subset)
{
    (void)sysid; (void)pubid; (void)has_internal_subset;
    bt_report_parser *p = ud;
    report_fail(p, TB_ERR_INVALID, "DTD not allowed (<!DOCTYPE %.64s>)", name ? name : "");
}

/* Never reached while the DOCTYPE handler stops the parse; kept as a second
 * line of defence should that handler ever be removed. */
static void on_entity_decl(void *ud, const char *name, int is_pe, const char *value, int vlen,
                           const char *base, const char *sysid, const char *pubid,
                           const char *notation)
{
    (void)is_pe; (void)value; (void)vlen; (void)base; (void)sysid; (void)pubid; (void)notation;
    bt_report_parser *p = ud;
    report_fail(p, TB_ERR_INVALID, "entity declarations not allowed (%.64s)", name ? name : "");
}

static int on_external_entity(XML_Parser xp, const char *context, const char *base,
                              const char *sysid, const char *pubid)
{
    (void)context; (void)base; (void)pubid;
    bt_report_parser *p = XML_GetUserData(xp);
    report_fail(p, TB_ERR_INVALID, "external entity not allowed (%.64s)", sysid ? sysid : "");
    return XML_STATUS_ERROR;
}

static void on_progress(void *ud, const char *data) /* comments, PIs */
{
    (void)data;
    ((bt_report_parser *)ud)->progress++;
}

static void on_pi(void *ud, const char *target, const char *data)
{
    (void)target;
    on_progress(ud, data);
}

/* Installs the handlers and hardening on a fresh expat parser. */
void report_parser_setup(bt_report_parser *p)
{
    names_build(p->names);
    XML_SetUserData(p->xp, p);
    XML_SetElementHandler(p->xp, on_start, on_end);
    XML_SetCharacterDataHandler(p->xp, on_text);
    XML_SetStartDoctypeDeclHandler(p->xp, on_doctype);
    XML_SetEntityDeclHandler(p->xp, on_entity_decl);
    XML_SetExternalEntityRefHandler(p->xp, on_external_entity);
    XML_SetCommentHandler(p->xp, on_progress);
    XML_SetProcessingInstructionHandler(p->xp, on_pi);
    XML_SetParamEntityParsing(p->xp, XML_PARAM_ENTITY_PARSING_NEVER);
}
