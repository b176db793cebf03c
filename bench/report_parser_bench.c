/* Session-report parser benchmark.
 *
 * Generates a realistic SupportSession report (sessions of ~50 events: member
 * joins with their data values, chats with entities and UTF-8, file
 * transfers, notes; two or three users; custom attributes) and parses it
 * RUNS times, feeding 64 KiB chunks as a curl write callback would. Prints the
 * median throughput and the peak RSS (getrusage ru_maxrss).
 *
 *   report_parser_bench [--mb N] [--runs N] [--stream]
 *
 * Default: the whole report is built in memory first (N MB, default 25); the
 * output shows the RSS before parsing and the peak, so the parser's own share
 * is visible. --stream never materialises the report: chunks are composed on
 * the fly from a small pool of pre-rendered sessions, so the process's peak
 * RSS is the parser's memory plus a constant; run it at 25 and 100 MB to see
 * that memory does not grow with the report size. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bt/report.h"
#include "core/buf.h"

#define CHUNK (64 * 1024)
#define POOL 64

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}
#define PICK(a) (a[rnd(sizeof a / sizeof a[0])])

static const char *const REPS[] = {"Admin", "John Doe", "\xc3\x85sa Lindstr\xc3\xb6m",
                                   "Pat O&apos;Brien", "Marie M\xc3\xbcller", "Kai Wang \xe7\x8e\x8b\xe5\x87\xaf"};
static const char *const CUSTS[] = {"Alice Smith", "Jos\xc3\xa9 \xc3\x81lvarez", "Dana &quot;DJ&quot; Jackson",
                                    "Chen Wei \xe9\x99\x88\xe4\xbc\x9f", "Unknown"};
static const char *const CHATS[] = {
    "Hi, my VPN client says &quot;connection refused&quot; &amp; then exits.",
    "The error is &lt;E_ACCESSDENIED&gt; when I open &apos;Q3 report.xlsx&apos;",
    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x80\x94 danke! \xe2\x9c\x93",
    "Could you close all Office apps &amp; retry? I will push the fix to C:\\Program Files\\&lt;Vendor&gt;\\app.exe",
    "ok, thanks", "It worked before the update :( 5 &lt; 6 &amp;&amp; 7 &gt; 3",
    "Merci, c&apos;est r\xc3\xa9gl\xc3\xa9 \xe2\x80\x94 anything else?",
};
static const char *const FILES[] = {"install.log", "report &quot;final&quot;.pdf", "r\xc3\xa9sum\xc3\xa9.docx",
                                    "fix&lt;v2&gt;.ps1", "dump&amp;trace.zip"};
static const char *const OSES[] = {"Windows 11 Enterprise x64 Edition (Build 22631)", "macOS 14.4 Sonoma",
                                   "Ubuntu 22.04.4 LTS", "Unknown"};

static void user_xml(tb_buf *b, const char *tag, int gs, int id, const char *name, bool rep)
{
    tb_buf_printf(b, "<%s gsnumber=\"%d\"", tag, gs);
    if (rep)
        tb_buf_printf(b, " id=\"%d\"", id);
    tb_buf_printf(b, "><username>%s</username>", name);
    if (rep)
        tb_buf_printf(b, "<display_name>%s</display_name><public_display_name>%s</public_display_name>"
                         "<private_display_name>%s (L2)</private_display_name>", name, name, name);
    else
        tb_buf_printf(b, "<info><name>%s</name><company>Globex &amp; Sons</company><company_code>C%04u</company_code>"
                         "<details>Submitted via the portal</details><issue>Printer &lt;HP-4F&gt; offline</issue></info>"
                         "<primary_cust>1</primary_cust>", name, rnd(10000));
    if (rnd(3) == 0)
        tb_buf_printf(b, "<public_ip>[2001:db8:%x:%x::%x]:%u</public_ip>", rnd(0xffff), rnd(0xffff), 1 + rnd(0xfffe), 1024 + rnd(60000));
    else
        tb_buf_printf(b, "<public_ip>203.0.113.%u:%u</public_ip>", 1 + rnd(254), 1024 + rnd(60000));
    tb_buf_printf(b, "<private_ip>10.%u.%u.%u</private_ip><hostname>WS-%04u</hostname><os>%s</os>",
                  rnd(256), rnd(256), 1 + rnd(254), rnd(10000), PICK(OSES));
    if (rep)
        tb_buf_printf(b, "<primary_rep>%d</primary_rep><session_owner>%d</session_owner><seconds_involved>%u</seconds_involved>",
                      id == 1, id == 1, rnd(3600));
    tb_buf_printf(b, "</%s>\n", tag);
}

static void member_added(tb_buf *b, long t, const char *type, int gs, const char *name)
{
    tb_buf_printf(b, "<event timestamp=\"%ld\" event_type=\"Conference Member Added\"><destination type=\"%s\" gsnumber=\"%d\">%s</destination>"
                     "<data><value name=\"private_name\" value=\"%s\"/><value name=\"public_name\" value=\"%s\"/>"
                     "<value name=\"username\" value=\"user%d\"/><value name=\"user_id\" value=\"%d\"/>"
                     "<value name=\"private_ip\" value=\"10.0.0.%d\"/><value name=\"public_ip\" value=\"203.0.113.9:%u\"/>"
                     "<value name=\"hostname\" value=\"WS-%d\"/><value name=\"os\" value=\"%s\"/>"
                     "<value name=\"support_teams\" value=\"Tier 1;Service Desk\"/></data></event>\n",
                  t, type, gs, name, name, name, gs, gs, gs, 1024 + rnd(60000), gs, PICK(OSES));
}

/* One session of ~50 events. */
static void session_xml(tb_buf *b, uint64_t seq)
{
    long t0 = 1733000000L + (long)seq * 600, t1 = t0 + 300 + rnd(3000);
    const char *rep = PICK(REPS), *rep2 = PICK(REPS), *cust = PICK(CUSTS);
    tb_buf_printf(b, "<session lsid=\"%016llx%016llx\">\n<session_type>support</session_type>\n<lseq>%u</lseq>\n",
                  (unsigned long long)seq, (unsigned long long)(seq * 2654435761u), 50 + rnd(10));
    tb_buf_printf(b, "<start_time timestamp=\"%ld\">2024-12-03T15:26:05+00:00</start_time>\n"
                     "<end_time timestamp=\"%ld\">2024-12-03T15:41:07+00:00</end_time>\n"
                     "<duration>%02ld:%02ld:%02ld</duration>\n<public_site id=\"1\">support.example.com</public_site>\n",
                  t0, t1, (t1 - t0) / 3600, (t1 - t0) / 60 % 60, (t1 - t0) % 60);
    tb_buf_printf(b, "<external_key>INC%07u</external_key>\n<custom_attributes><custom_attribute display_name=\"ServiceNow Task\" "
                     "code_name=\"snow_task_id\">TASK%07u</custom_attribute></custom_attributes>\n", rnd(10000000), rnd(10000000));
    for (int k = 0; k < 2; k++)
        tb_buf_printf(b, "<session_chat_%s_url>https://support.example.com/session_download?lsid=l%%3D%016llx%%3Bh%%3D"
                         "0123456789abcdef0123456789abcdef01234567%%3Bt%%3Dsd%%3Bm%%3Dchat&amp;dl_action=chat%s</session_chat_%s_url>\n",
                      k ? "download" : "view", (unsigned long long)seq, k ? "" : "&amp;view=1", k ? "download" : "view");
    tb_buf_printf(b, "<file_transfer_count>4</file_transfer_count><file_move_count>0</file_move_count><file_delete_count>1</file_delete_count>\n"
                     "<primary_customer gsnumber=\"22\">%s</primary_customer>\n<primary_rep gsnumber=\"21\" id=\"1\">%s</primary_rep>\n", cust, rep);
    tb_buf_appends(b, "<customer_list>\n");
    user_xml(b, "customer", 22, -1, cust, false);
    tb_buf_appends(b, "</customer_list>\n<rep_list>\n");
    user_xml(b, "representative", 21, 1, rep, true);
    user_xml(b, "representative", 23, 2, rep2, true);
    tb_buf_appends(b, "</rep_list>\n<session_details>\n");
    long t = t0;
    tb_buf_printf(b, "<event timestamp=\"%ld\" event_type=\"Session Start\"></event>\n", t);
    tb_buf_printf(b, "<event timestamp=\"%ld\" event_type=\"Conference Owner Changed\"><destination type=\"system\" gsnumber=\"0\">"
                     "Pre-start Conference</destination><data><value name=\"owner\" value=\"Pre-start Conference\"/></data></event>\n", t);
    member_added(b, t += 5, "customer", 22, cust);
    member_added(b, t += 5, "representative", 21, rep);
    for (int i = 0; i < 36; i++) {
        bool c = rnd(2);
        tb_buf_printf(b, "<event timestamp=\"%ld\" event_type=\"Chat Message\"><performed_by type=\"%s\" gsnumber=\"%d\">%s</performed_by>"
                         "<destination type=\"everyone\" gsnumber=\"0\">Everyone</destination><body>%s</body></event>\n",
                      t += 7, c ? "customer" : "representative", c ? 22 : 21, c ? cust : rep, PICK(CHATS));
    }
    static const char *const fev[] = {"File Upload", "File Download", "File Upload", "File Download Failed"};
    for (int i = 0; i < 4; i++) {
        const char *fn = PICK(FILES);
        tb_buf_printf(b, "<event timestamp=\"%ld\" event_type=\"%s\"><performed_by type=\"representative\" gsnumber=\"21\">%s</performed_by>"
                         "<data><value name=\"filename\" value=\"%s\"/><value name=\"filesize\" value=\"%u\"/>"
                         "<value name=\"path\" value=\"C:\\Users\\Public\\Downloads\\%s\"/></data></event>\n",
                      t += 20, fev[i], rep, fn, 100 + rnd(5000000), fn);
    }
    tb_buf_printf(b, "<event timestamp=\"%ld\" event_type=\"File Deleted\"><performed_by type=\"representative\" gsnumber=\"21\">%s</performed_by>"
                     "<data><value name=\"path\" value=\"C:\\Temp\\old.log\"/></data></event>\n", t += 3, rep);
    member_added(b, t += 5, "representative", 23, rep2);
    tb_buf_printf(b, "<event timestamp=\"%ld\" event_type=\"Session Note Added\"><performed_by type=\"representative\" gsnumber=\"21\">%s</performed_by>"
                     "<body>Escalate to L3 &amp; attach logs &lt;see ticket&gt;.</body></event>\n", t += 9, rep);
    tb_buf_printf(b, "<event timestamp=\"%ld\" event_type=\"Conference Member Departed\"><destination type=\"customer\" gsnumber=\"22\">%s</destination></event>\n"
                     "<event timestamp=\"%ld\" event_type=\"Conference Member Departed\"><destination type=\"representative\" gsnumber=\"21\">%s</destination></event>\n"
                     "<event timestamp=\"%ld\" event_type=\"Session End\"></event>\n</session_details>\n</session>\n",
                  t1, cust, t1, rep, t1);
}

static const char HEAD[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<session_list xmlns=\"http://www.bomgar.com/namespaces/API/reporting\" "
                           "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n";
static const char TAIL[] = "</session_list>\n";

typedef struct stats {
    uint64_t sessions, events, files, body_bytes;
} stats;

static tb_err on_session(const bt_session *s, void *ctx)
{
    stats *st = ctx;
    st->sessions++;
    st->events += s->nevents;
    st->files += s->nfiles;
    for (size_t i = 0; i < s->nevents; i++)
        if (s->events[i].body)
            st->body_bytes += strlen(s->events[i].body);
    return TB_OK;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Streaming source: HEAD, then sessions cycled from a pool (with fresh lsids
 * patched in), then TAIL, composed into 64 KiB chunks. */
typedef struct source {
    tb_buf pool[POOL];
    uint64_t target, produced, seq;
    size_t cur, off;            /* position in pool[cur] */
    int phase;                  /* 0 head, 1 sessions, 2 tail, 3 done */
} source;

static size_t source_read(source *s, char *out, size_t cap)
{
    size_t n = 0;
    while (n < cap && s->phase < 3) {
        const char *src;
        size_t avail;
        if (s->phase == 0) {
            src = HEAD + s->off;
            avail = sizeof HEAD - 1 - s->off;
        } else if (s->phase == 2) {
            src = TAIL + s->off;
            avail = sizeof TAIL - 1 - s->off;
        } else {
            if (s->off == 0) {  /* a new session: give it a unique lsid */
                char lsid[17];
                snprintf(lsid, sizeof lsid, "%016llx", (unsigned long long)s->seq++);
                memcpy(s->pool[s->cur].data + strlen("<session lsid=\""), lsid, 16);
            }
            src = s->pool[s->cur].data + s->off;
            avail = s->pool[s->cur].len - s->off;
        }
        size_t k = avail < cap - n ? avail : cap - n;
        memcpy(out + n, src, k);
        n += k;
        s->off += k;
        s->produced += k;
        if (s->off == (s->phase == 1 ? s->pool[s->cur].len : s->phase == 0 ? sizeof HEAD - 1 : sizeof TAIL - 1)) {
            s->off = 0;
            if (s->phase == 1) {
                s->cur = (s->cur + 1) % POOL;
                if (s->produced >= s->target)
                    s->phase = 2;
            } else {
                s->phase++;
            }
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    double mb = 25;
    int runs = 5;
    bool stream = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mb") && i + 1 < argc)
            mb = atof(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--stream"))
            stream = true;
        else {
            fprintf(stderr, "usage: %s [--mb N] [--runs N] [--stream]\n", argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > 100 || mb <= 0 || mb > 4000) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    uint64_t target = (uint64_t)(mb * 1024 * 1024);
    bt_report_limits lim;
    bt_report_limits_default(&lim);
    lim.max_input_bytes = (size_t)target + (16u << 20);

    tb_buf doc;
    tb_buf_init(&doc, 0);
    source *src = NULL;
    uint64_t seq = 0;
    if (stream) {
        src = calloc(1, sizeof *src);
        for (int i = 0; i < POOL; i++) {
            tb_buf_init(&src->pool[i], 0);
            session_xml(&src->pool[i], seq++);
        }
    } else {
        tb_buf_appends(&doc, HEAD);
        while (doc.len < target)
            session_xml(&doc, seq++);
        tb_buf_appends(&doc, TAIL);
    }
    long rss_before = maxrss_kb();
    char *chunk = malloc(CHUNK);
    double *mbps = calloc((size_t)runs, sizeof *mbps);
    stats st = {0};
    uint64_t bytes = 0;
    for (int r = 0; r < runs; r++) {
        memset(&st, 0, sizeof st);
        bt_report_parser *p = bt_report_parser_new(&lim, on_session, &st);
        if (!p || !chunk || !mbps)
            return 1;
        tb_err rc = TB_OK;
        bytes = 0;
        double t0 = now();
        if (stream) {
            src->target = target;
            src->produced = src->seq = 0;
            src->cur = src->off = 0;
            src->phase = 0;
            size_t n;
            while (!rc && (n = source_read(src, chunk, CHUNK)) > 0) {
                rc = bt_report_parser_feed(p, chunk, n);
                bytes += n;
            }
        } else {
            for (size_t off = 0; !rc && off < doc.len; off += CHUNK) {
                size_t n = doc.len - off < CHUNK ? doc.len - off : CHUNK;
                rc = bt_report_parser_feed(p, doc.data + off, n);
                bytes += n;
            }
        }
        if (!rc)
            rc = bt_report_parser_finish(p);
        double dt = now() - t0;
        if (rc) {
            fprintf(stderr, "parse failed: %s\n", bt_report_parser_error(p));
            return 1;
        }
        bt_report_parser_free(p);
        mbps[r] = (double)bytes / (1024.0 * 1024.0) / dt;
    }
    qsort(mbps, (size_t)runs, sizeof *mbps, cmp_double);
    long rss_peak = maxrss_kb();
    printf("mode=%s report_mb=%.1f sessions=%llu events=%llu files=%llu events_per_session=%.1f runs=%d\n",
           stream ? "stream" : "in-memory", (double)bytes / (1024.0 * 1024.0), (unsigned long long)st.sessions,
           (unsigned long long)st.events, (unsigned long long)st.files,
           st.sessions ? (double)st.events / (double)st.sessions : 0.0, runs);
    printf("throughput_mb_s median=%.1f min=%.1f max=%.1f\n", mbps[runs / 2], mbps[0], mbps[runs - 1]);
    printf("rss_kb before_parse=%ld peak=%ld parser_delta=%ld\n", rss_before, rss_peak, rss_peak - rss_before);
    free(mbps);
    free(chunk);
    tb_buf_free(&doc);
    if (src) {
        for (int i = 0; i < POOL; i++)
            tb_buf_free(&src->pool[i]);
        free(src);
    }
    return 0;
}
