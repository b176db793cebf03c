/* Session assembly for the report parser: start/end of a <session>, the
 * derived file-transfer list, listing entries, <error>, and the small public
 * helpers of bt/report.h. */
#include "bt/report_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long long report_parse_ll(const char *s)
{
    if (!s)
        return -1;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    if (!*s || !(isdigit((unsigned char)*s) || *s == '-' || *s == '+'))
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return -1;
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
        end++;
    return *end ? -1 : v;
}

long long report_parse_duration(const char *s)
{
    unsigned long long h = 0, m = 0, sec = 0;
    int nd = 0;
    if (!s)
        return -1;
    for (; isdigit((unsigned char)*s); s++, nd++) {
        if (h > 100000000ULL)
            return -1;
        h = h * 10 + (unsigned)(*s - '0');
    }
    if (!nd || *s++ != ':' || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
        return -1;
    m = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    s += 2;
    if (*s++ != ':' || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2])
        return -1;
    sec = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    if (m > 59 || sec > 59)
        return -1;
    return (long long)(h * 3600 + m * 60 + sec);
}

void report_session_begin(bt_report_parser *p)
{
    report_arena_reset(p);
    bt_session *s = &p->sess;
    memset(s, 0, sizeof *s);
    s->lseq = -1;
    s->duration = -1;
    s->public_site.id = -1;
    s->jumpoint.id = -1;
    s->jump_group.id = -1;
    s->primary_customer.gsnumber = -1;
    s->primary_rep.gsnumber = -1;
    s->primary_rep.id = -1;
    s->file_transfer_count = s->file_move_count = s->file_delete_count = -1;
    p->nusers = p->nevents = p->ncustoms = p->nvals = p->nfiles = 0;
}

static const struct {
    const char *event;
    bt_file_direction dir;
    bool success;
} file_events[] = {
    {"File Upload", BT_FILE_UPLOAD, true},
    {"File Download", BT_FILE_DOWNLOAD, true},
    {"File Upload Failed", BT_FILE_UPLOAD, false},
    {"File Download Failed", BT_FILE_DOWNLOAD, false},
    {"File Transfer Complete", BT_FILE_OTHER, true},    /* PRA; direction not reported */
    {"File Deleted", BT_FILE_OTHER, true},
    {"File Moved", BT_FILE_OTHER, true},
    {"Directory Created", BT_FILE_OTHER, true},
};

static bool derive_files(bt_report_parser *p)
{
    for (size_t i = 0; i < p->nevents; i++) {
        const bt_event *e = &p->events[i];
        if (!e->event_type)
            continue;
        if (strncmp(e->event_type, "File", 4) && strcmp(e->event_type, "Directory Created"))
            continue;
        size_t k = 0;
        while (k < sizeof file_events / sizeof *file_events && strcmp(file_events[k].event, e->event_type))
            k++;
        if (k == sizeof file_events / sizeof *file_events)
            continue;   /* "Files Shared" and the like */
        if (!report_grow(p, (void **)&p->files, &p->files_cap, p->nfiles, sizeof *p->files))
            return false;
        bt_file_transfer *f = &p->files[p->nfiles++];
        memset(f, 0, sizeof *f);
        f->event_index = i;
        f->timestamp = e->timestamp;
        f->event_type = e->event_type;
        f->direction = file_events[k].dir;
        f->success = file_events[k].success;
        f->name = bt_event_data(e, "filename");
        if (!f->name)
            f->name = e->filename;
        const char *size = bt_event_data(e, "filesize");
        f->size = report_parse_ll(size ? size : e->filesize);
        f->old_path = bt_event_data(e, "old_path");
        f->new_path = bt_event_data(e, "new_path");
        f->path = bt_event_data(e, "path");
        if (!f->path)
            f->path = f->new_path;
        f->sha256 = bt_event_data(e, "sha256");
        f->performed_by = e->performed_by;
    }
    return true;
}

void report_session_end(bt_report_parser *p)
{
    bt_session *s = &p->sess;
    if (!derive_files(p))
        return;
    s->users = p->users;
    s->nusers = p->nusers;
    s->events = p->events;
    s->nevents = p->nevents;
    s->custom_attributes = p->customs;
    s->ncustom_attributes = p->ncustoms;
    s->files = p->files;
    s->nfiles = p->nfiles;
    s->has_recording = s->recording_view_url || s->recording_download_url;
    s->customer_info = NULL;
    for (size_t i = 0; i < p->nusers; i++) {
        const bt_user *u = &p->users[i];
        if (u->kind != BT_USER_CUSTOMER || !u->has_info)
            continue;
        if (!s->customer_info || u->primary == 1)
            s->customer_info = &u->info;
        if (u->primary == 1)
            break;
    }
    p->nsessions++;
    tb_err rc = p->cb ? p->cb(s, p->ctx) : TB_OK;
    if (rc)
        report_fail(p, rc, "session callback failed for lsid %.64s: %s", s->lsid ? s->lsid : "?",
                    tb_strerror(rc));
    memset(s, 0, sizeof *s);
    p->nusers = p->nevents = p->ncustoms = p->nvals = p->nfiles = 0;
    report_arena_reset(p);
}

void report_summary_end(bt_report_parser *p)
{
    tb_err rc = p->summary_cb ? p->summary_cb(&p->summary, p->summary_ctx) : TB_OK;
    if (rc)
        report_fail(p, rc, "listing callback failed for lsid %.64s: %s",
                    p->summary.lsid ? p->summary.lsid : "?", tb_strerror(rc));
    memset(&p->summary, 0, sizeof p->summary);
    report_arena_reset(p);
}

void report_api_error(bt_report_parser *p, const char *text, size_t len)
{
    /* trim the surrounding whitespace */
    while (len && isspace((unsigned char)*text))
        text++, len--;
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    free(p->api_err);
    p->api_err = malloc(len + 1);
    if (!p->api_err) {
        report_fail(p, TB_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(p->api_err, text, len);
    p->api_err[len] = '\0';
    report_fail(p, TB_ERR_NOT_FOUND, "appliance answered <error>: %.300s", p->api_err);
}

/* ---- public helpers ---- */

const char *bt_event_data(const bt_event *e, const char *name)
{
    for (size_t i = 0; i < e->ndata; i++)
        if (e->data[i].name && !strcmp(e->data[i].name, name))
            return e->data[i].value;
    return NULL;
}

const char *bt_session_custom(const bt_session *s, const char *code_name)
{
    for (size_t i = 0; i < s->ncustom_attributes; i++)
        if (s->custom_attributes[i].code_name && !strcmp(s->custom_attributes[i].code_name, code_name))
            return s->custom_attributes[i].value;
    return NULL;
}

const char *bt_file_direction_name(bt_file_direction d)
{
    switch (d) {
    case BT_FILE_UPLOAD: return "upload";
    case BT_FILE_DOWNLOAD: return "download";
    default: return "other";
    }
}

static int parse_port(const char *s)
{
    if (!*s || strlen(s) > 5)
        return -2;
    int v = 0;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return -2;
        v = v * 10 + (*s - '0');
    }
    return v <= 65535 ? v : -2;
}

tb_err bt_split_hostport(const char *s, char *addr, size_t addrsz, int *port)
{
    const char *a = s, *ae;
    int pt = -1;
    if (!s || !*s || !strcmp(s, "Unknown"))
        return TB_ERR_INVALID;
    if (*s == '[') {
        a = s + 1;
        ae = strchr(a, ']');
        if (!ae || ae == a)
            return TB_ERR_INVALID;
        if (ae[1] == ':') {
            if ((pt = parse_port(ae + 2)) < 0)
                return TB_ERR_INVALID;
        } else if (ae[1]) {
            return TB_ERR_INVALID;
        }
    } else {
        const char *c = strchr(s, ':');
        if (c && !strchr(c + 1, ':')) {     /* exactly one colon: host:port */
            ae = c;
            if (ae == a || (pt = parse_port(c + 1)) < 0)
                return TB_ERR_INVALID;
        } else {                            /* no colon, or a bare IPv6 address */
            ae = s + strlen(s);
        }
        if (strpbrk(s, "[]"))
            return TB_ERR_INVALID;
    }
    size_t n = (size_t)(ae - a);
    if (n + 1 > addrsz)
        return TB_ERR_TOO_LARGE;
    memcpy(addr, a, n);
    addr[n] = '\0';
    if (strpbrk(addr, " \t\r\n"))
        return TB_ERR_INVALID;
    *port = pt;
    return TB_OK;
}

tb_err bt_report_parse_file(const char *path, const bt_report_limits *lim, bt_session_cb cb,
                            void *ctx, char *err, size_t errsz)
{
    FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!fp) {
        if (err)
            snprintf(err, errsz, "cannot open %s: %s", path, strerror(errno));
        return TB_ERR_IO;
    }
    bt_report_parser *p = bt_report_parser_new(lim, cb, ctx);
    char *buf = malloc(64 * 1024);
    tb_err rc = TB_OK;
    if (!p || !buf) {
        rc = TB_ERR_NOMEM;
        if (err)
            snprintf(err, errsz, "out of memory");
        goto out;
    }
    size_t n;
    while (!rc && (n = fread(buf, 1, 64 * 1024, fp)) > 0)
        rc = bt_report_parser_feed(p, buf, n);
    if (!rc && ferror(fp)) {
        rc = TB_ERR_IO;
        if (err)
            snprintf(err, errsz, "cannot read %s", path);
        goto out;
    }
    if (!rc)
        rc = bt_report_parser_finish(p);
    if (rc && err) {
        const char *api = bt_report_parser_api_error(p);
        snprintf(err, errsz, "%s", rc == TB_ERR_NOT_FOUND && api ? api : bt_report_parser_error(p));
    }
out:
    free(buf);
    bt_report_parser_free(p);
    if (fp != stdin)
        fclose(fp);
    return rc;
}
