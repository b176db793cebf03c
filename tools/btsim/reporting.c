/* /api/reporting (protocol doc §3): full session reports and listings,
 * selected by lsid(s) or by a start / end window. */
#include "handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

static bool parse_date(const char *s, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s)
        return false;
    int y, mo, d;
    char extra;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &mo, &d, &extra) != 3 || mo < 1 || mo > 12 || d < 1 ||
        d > 31)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    *out = (int64_t)timegm(&tm);
    return true;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    tb_buf b;
    tb_buf_init(&b, 0);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        tb_buf_append(&b, chunk, n);
    fclose(f);
    return tb_buf_take(&b);
}

void handle_reporting(const req *r, reply *out)
{
    const char *ns = G.cfg.ns_report;
    const char *type = P(r, "generate_report");
    const char *full = G.cfg.pra ? "AccessSession" : "SupportSession";
    const char *listing = G.cfg.pra ? "AccessSessionListing" : "SupportSessionListing";
    if (!type) {
        reply_xml(out, xml_error(ns, "Missing generate_report"));
        return;
    }
    bool is_full = strcmp(type, full) == 0, is_list = strcmp(type, listing) == 0;
    if (!is_full && !is_list) {
        reply_xml(out, xml_error(ns, "Invalid report type"));
        return;
    }
    const char *lsid = P(r, "lsid"), *lsids = P(r, "lsids");
    if (is_full && lsid) {
        const char *path = kvs_get(&G.cfg.report_files, lsid);
        if (path) {
            char *x = read_file(path);
            if (x)
                reply_xml(out, x);
            else
                reply_xml(out, xml_error(ns, "Report file unreadable"));
            return;
        }
    }
    int64_t now = (int64_t)bt_now();
    int64_t t0 = 0, dur = 0, dur_mult = 1;
    int mode = 0; /* 1 lsid(s), 2 start window, 3 end window */
    const char *v;
    if (is_full && (lsid || lsids)) {
        mode = 1;
    } else if ((v = P(r, "start_time"))) {
        if (!parse_i64(v, &t0)) goto bad;
        mode = 2;
    } else if ((v = P(r, "end_time"))) {
        if (!parse_i64(v, &t0)) goto bad;
        mode = 3;
    } else if ((v = P(r, "start_date"))) {
        if (!parse_date(v, &t0)) goto bad;
        mode = 2;
        dur_mult = 86400;
    } else if ((v = P(r, "end_date"))) {
        if (!parse_date(v, &t0)) goto bad;
        mode = 3;
        dur_mult = 86400;
    } else {
        goto bad;
    }
    if (mode != 1) {
        const char *d = P(r, "duration");
        if (d && !parse_i64(d, &dur)) goto bad;
        if (dur < 0) goto bad;
        dur *= dur_mult;
    }

    pthread_mutex_lock(&G.mu);
    size_t cap = mode == 1 ? 64 : (G.nsess ? G.nsess : 1), n = 0;
    bt_session **sel = malloc(cap * sizeof *sel);
    if (!sel)
        abort();
    if (mode == 1) {
        char *list = bt_strdup(lsid ? lsid : lsids);
        char *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            bt_session *s = find_session(tok);
            if (!s)
                continue;
            bool dup = false;
            for (size_t i = 0; i < n; i++)
                if (sel[i] == s)
                    dup = true;
            if (dup)
                continue;
            if (n == cap) {
                cap *= 2;
                sel = realloc(sel, cap * sizeof *sel);
                if (!sel)
                    abort();
            }
            sel[n++] = s;
        }
        free(list);
    } else {
        int64_t t1 = dur == 0 ? INT64_MAX : t0 + dur; /* [V] duration=0: until now */
        (void)now;
        for (size_t i = 0; i < G.nsess; i++) {
            bt_session *s = G.sess[i];
            if (mode == 2 && s->start >= t0 && s->start < t1)
                sel[n++] = s;
            else if (mode == 3 && !s->active && s->end >= t0 && s->end < t1)
                sel[n++] = s; /* [V] end window: closed sessions only */
        }
    }
    char *x;
    if (is_list)
        x = xml_listing(sel, n); /* [V] empty list when nothing matches */
    else if (n == 0)
        x = xml_error(ns, "No sessions found for the given search criteria."); /* [V] 200 */
    else
        x = xml_session_list(sel, n);
    pthread_mutex_unlock(&G.mu);
    free(sel);
    reply_xml(out, x);
    return;
bad:
    reply_xml(out, xml_error(ns, "Invalid or missing search criteria"));
}
