/* Deterministic session generation. Content (lsids, people, events, chats)
 * depends only on --seed and the order of generation; timestamps are relative
 * to the wall clock so that time-window report queries work. All functions
 * here run with G.mu held. Event type names are taken only from the list in
 * protocol/beyondtrust.md §3.2. */
#include "btsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int id;
    const char *username, *display, *private_display;
} rep_def;

static const rep_def REPS[] = {
    {1, "admin", "Admin", "Admin"},
    {2, "jdoe", "John Doe", "John D. (L2)"},
    {3, "asa.lindstrom", "\xc3\x85sa Lindstr\xc3\xb6m", "\xc3\x85sa L."},
    {4, "pobrien", "Pat O'Brien", "Pat O'Brien & Team"},
    {5, "mmueller", "Marie M\xc3\xbcller", "Marie <Desk 2>"},
    {6, "kwang", "Kai Wang \xe7\x8e\x8b\xe5\x87\xaf", "Kai Wang"},
};
#define NREPS (sizeof REPS / sizeof REPS[0])

static const char *CUST_NAMES[] = {
    "Alice Smith", "Bob Jones", "Jos\xc3\xa9 \xc3\x81lvarez", "Chen Wei \xe9\x99\x88\xe4\xbc\x9f",
    "Dana \"DJ\" Jackson", "Fran\xc3\xa7oise Dupont", "Unknown",
};
static const char *COMPANIES[] = {
    "Acme Corp", "Globex & Sons", "Initech", "Umbrella <Health>", "M\xc3\xbcller GmbH",
};
static const char *HOSTS[] = {
    "WS-ALICE01", "LAPTOP-BJ22", "DESKTOP-7Q3K", "mac-chen.local", "srv-db-01", "web-frontend-03",
};
static const char *OSES[] = {
    "Windows 11 Enterprise x64 Edition (Build 22631)",
    "Windows Server 2022 Datacenter x64 Edition (Build 20348)",
    "macOS 14.4 Sonoma", "Ubuntu 22.04.4 LTS", "Unknown",
};
static const char *ISSUES[] = {
    "Password reset", "VPN does not connect", "Printer <HP-4F> offline", "Outlook crashes", "Other",
};
static const char *CUST_CHATS[] = {
    "Hi, my VPN client says \"connection refused\" & then exits.",
    "The error is <E_ACCESSDENIED> when I open 'Q3 report.xlsx'",
    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x80\x94 danke! \xe2\x9c\x93",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xa7\xe3\x81\x8a\xe9\xa1\x98\xe3\x81\x84\xe3\x81\x97\xe3\x81\xbe\xe3\x81\x99 (Japanese) caf\xc3\xa9",
    "ok, thanks",
    "It worked before the update :( 5 < 6 && 7 > 3",
};
static const char *REP_CHATS[] = {
    "Hello, I'm taking a look now.",
    "Could you close all Office apps & retry?",
    "I'll push the fix to C:\\Program Files\\<Vendor>\\app.exe",
    "Merci, c'est r\xc3\xa9gl\xc3\xa9 \xe2\x80\x94 anything else?",
};
static const char *FILES[] = {
    "install.log", "report \"final\".pdf", "r\xc3\xa9sum\xc3\xa9.docx", "fix<v2>.ps1", "dump&trace.zip",
};
static const char *NOTES[] = {
    "Customer confirmed the issue is resolved.",
    "Escalate to L3 & attach logs <see ticket>.",
    "Reboot required; user will call back.",
};

#define PICK(arr) (arr[bt_randn((uint32_t)(sizeof arr / sizeof arr[0]))])

/* ---------------- lsid hash index ---------------- */
static size_t lsid_hash(const char *lsid)
{
    size_t h = 1469598103934665603ULL;
    for (const char *p = lsid; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static void hidx_insert(size_t idx)
{
    size_t m = G.hcap - 1, i = lsid_hash(G.sess[idx]->lsid) & m;
    while (G.hidx[i])
        i = (i + 1) & m;
    G.hidx[i] = idx + 1;
}

static void sess_append(bt_session *s)
{
    if (G.nsess == G.capsess) {
        G.capsess = G.capsess ? G.capsess * 2 : 64;
        G.sess = realloc(G.sess, G.capsess * sizeof *G.sess);
        if (!G.sess)
            abort();
    }
    G.sess[G.nsess++] = s;
    if (G.nsess * 2 > G.hcap) {
        free(G.hidx);
        G.hcap = G.hcap ? G.hcap * 2 : 256;
        while (G.nsess * 2 > G.hcap)
            G.hcap *= 2;
        G.hidx = calloc(G.hcap, sizeof *G.hidx);
        if (!G.hidx)
            abort();
        for (size_t i = 0; i < G.nsess; i++)
            hidx_insert(i);
    } else {
        hidx_insert(G.nsess - 1);
    }
}

bt_session *find_session(const char *lsid)
{
    if (!G.hcap || !lsid)
        return NULL;
    size_t m = G.hcap - 1, i = lsid_hash(lsid) & m;
    while (G.hidx[i]) {
        bt_session *s = G.sess[G.hidx[i] - 1];
        if (strcmp(s->lsid, lsid) == 0)
            return s;
        i = (i + 1) & m;
    }
    return NULL;
}

bool rep_username_known(const char *u)
{
    for (size_t i = 0; i < NREPS; i++)
        if (strcmp(REPS[i].username, u) == 0)
            return true;
    return false;
}

/* ---------------- building blocks ---------------- */
static bt_event *ev_add(bt_session *s, int64_t ts, const char *type)
{
    if (s->nev == s->evcap) {
        s->evcap = s->evcap ? s->evcap * 2 : 16;
        s->ev = realloc(s->ev, s->evcap * sizeof *s->ev);
        if (!s->ev)
            abort();
    }
    bt_event *e = &s->ev[s->nev++];
    memset(e, 0, sizeof *e);
    e->ts = ts;
    e->type = type;
    return e;
}

static void actor(bt_actor *a, const char *type, int gs, const char *name)
{
    a->set = true;
    a->type = type;
    a->gsnumber = gs;
    a->name = bt_strdup(name);
}

static char *gen_public_ip(void)
{
    unsigned port = 1024 + bt_randn(64000);
    if (bt_randn(3) == 0)   /* [V] IPv6 as [addr]:port */
        return bt_strdupf("[2001:db8:%x:%x::%x]:%u", bt_randn(0xffff), bt_randn(0xffff),
                          1 + bt_randn(0xfffe), port);
    return bt_strdupf("203.0.113.%u:%u", 1 + bt_randn(254), port);
}

static char *gen_private_ip(void)
{
    if (bt_randn(6) == 0)   /* [V] literal Unknown */
        return bt_strdup("Unknown");
    return bt_strdupf("10.%u.%u.%u", bt_randn(256), bt_randn(256), 1 + bt_randn(254));
}

static void rep_fill(bt_rep *r, const rep_def *d, const char *username, int gs)
{
    r->id = d ? d->id : 100 + (int)bt_randn(900);
    r->gsnumber = gs;
    r->username = bt_strdup(d ? d->username : username);
    r->display_name = bt_strdup(d ? d->display : username);
    r->public_display_name = bt_strdup(d ? d->display : username);
    r->private_display_name = bt_strdup(d ? d->private_display : username);
    r->public_ip = gen_public_ip();
    r->private_ip = gen_private_ip();
    r->hostname = bt_strdupf("REP-WS%02u", bt_randn(100));
    r->os = bt_strdup(PICK(OSES));
}

static void member_added_rep(bt_session *s, int64_t ts, const bt_rep *r)
{
    bt_event *e = ev_add(s, ts, "Conference Member Added");
    actor(&e->dest, "representative", r->gsnumber, r->public_display_name);
    char id[16];
    snprintf(id, sizeof id, "%d", r->id);
    kvs_add(&e->data, "private_name", r->private_display_name);
    kvs_add(&e->data, "public_name", r->public_display_name);
    kvs_add(&e->data, "username", r->username);
    kvs_add(&e->data, "user_id", id);
    kvs_add(&e->data, "private_ip", r->private_ip);
    kvs_add(&e->data, "public_ip", r->public_ip);
    kvs_add(&e->data, "hostname", r->hostname);
    kvs_add(&e->data, "os", r->os);
    kvs_add(&e->data, "support_teams", G.cfg.pra ? "Admins" : "Tier 1;Service Desk");
}

static void member_added_cust(bt_session *s, int64_t ts, const bt_cust *c)
{
    bt_event *e = ev_add(s, ts, "Conference Member Added");
    actor(&e->dest, "customer", c->gsnumber, G.cfg.pra ? c->hostname : c->name);
    kvs_add(&e->data, "public_name", G.cfg.pra ? c->hostname : c->name);
    kvs_add(&e->data, "private_ip", c->private_ip);
    kvs_add(&e->data, "public_ip", c->public_ip);
    kvs_add(&e->data, "hostname", c->hostname);
    kvs_add(&e->data, "os", c->os);
}

static void owner_changed(bt_session *s, int64_t ts, const char *type, int gs, const char *name)
{
    bt_event *e = ev_add(s, ts, "Conference Owner Changed");
    actor(&e->dest, type, gs, name);
    kvs_add(&e->data, "owner", name);
}

static void member_departed(bt_session *s, int64_t ts, const char *type, int gs, const char *name)
{
    bt_event *e = ev_add(s, ts, "Conference Member Departed");
    actor(&e->dest, type, gs, name);
}

static void chat(bt_session *s, int64_t ts, const char *bytype, int gs, const char *name,
                 const char *body)
{
    bt_event *e = ev_add(s, ts, "Chat Message");
    actor(&e->by, bytype, gs, name);
    actor(&e->dest, "everyone", 0, "Everyone");
    e->body = bt_strdup(body);
}

static void file_event(bt_session *s, int64_t ts, const bt_rep *r, const char *type)
{
    bt_event *e = ev_add(s, ts, type);
    actor(&e->by, "representative", r->gsnumber, r->public_display_name);
    const char *fn = PICK(FILES);
    char size[24];
    snprintf(size, sizeof size, "%u", 100 + bt_randn(5000000));
    kvs_add(&e->data, "filename", fn);
    kvs_add(&e->data, "filesize", size);
    char *path = bt_strdupf("C:\\Users\\Public\\Downloads\\%s", fn);
    kvs_add(&e->data, "path", path);
    free(path);
}

/* Events of the session's middle part, written up to time `upto`. */
static void body_events(bt_session *s, int64_t t0, int64_t t1, bool ended)
{
    bt_rep *r = &s->reps[0];
    bt_cust *c = &s->custs[0];
    int64_t D = t1 - t0;
    if (D < 12)
        D = 12;
#define AT(frac) (t0 + (int64_t)((double)D * (frac)))
    ev_add(s, t0, "Session Start");
    owner_changed(s, t0, "system", 0, "Pre-start Conference");
    member_added_cust(s, AT(0.01), c);
    member_added_rep(s, AT(0.03), r);
    owner_changed(s, AT(0.03), "representative", r->gsnumber, r->public_display_name);
    {
        bt_event *e = ev_add(s, AT(0.04), "Conference Member State Changed");
        actor(&e->dest, "customer", c->gsnumber, G.cfg.pra ? c->hostname : c->name);
        kvs_add(&e->data, "state", "connected");
    }
    if (G.cfg.pra) {
        char *msg = bt_strdupf("%s can now view and control the endpoint.", r->public_display_name);
        chat(s, AT(0.05), "system", 0, "Privileged Remote Access", msg);
        free(msg);
        chat(s, AT(0.06), "representative", r->gsnumber, r->public_display_name, PICK(REP_CHATS));
    } else {
        chat(s, AT(0.05), "representative", r->gsnumber, r->public_display_name, PICK(REP_CHATS));
        chat(s, AT(0.07), "customer", c->gsnumber, c->name, PICK(CUST_CHATS));
        chat(s, AT(0.09), "customer", c->gsnumber, c->name, PICK(CUST_CHATS));
    }
    if (!ended)
        return;
    {
        bt_event *e = ev_add(s, AT(0.15), "System Information Retrieved");
        actor(&e->by, "representative", r->gsnumber, r->public_display_name);
    }
    if (s->has_recording) {
        bt_event *e = ev_add(s, AT(0.16), "Screen Recording");
        actor(&e->by, "system", 0, G.cfg.pra ? "Privileged Remote Access" : "Remote Support");
    }
    if (G.cfg.pra) {
        int n = 1 + (int)bt_randn(3);
        for (int i = 0; i < n; i++) {
            bt_event *e = ev_add(s, AT(0.3 + 0.1 * i), "File Transfer Complete");
            actor(&e->by, "representative", r->gsnumber, r->public_display_name);
            kvs_add(&e->data, "filename", PICK(FILES));
            char sha[65];
            for (int k = 0; k < 64; k++)
                sha[k] = "0123456789abcdef"[bt_randn(16)];
            sha[64] = 0;
            kvs_add(&e->data, "sha256", sha);
            s->ft_count++;
        }
    } else {
        file_event(s, AT(0.3), r, "File Upload");
        file_event(s, AT(0.4), r, "File Download");
        s->ft_count += 2;
        if (bt_randn(3) == 0)
            file_event(s, AT(0.45), r, "File Download Failed");
    }
    if (bt_randn(4) == 0) {
        bt_event *e = ev_add(s, AT(0.47), "File Deleted");
        actor(&e->by, "representative", r->gsnumber, r->public_display_name);
        kvs_add(&e->data, "path", "C:\\Temp\\old.log");
        s->fdel_count++;
    }
    if (s->nreps > 1) {
        bt_rep *r2 = &s->reps[1];
        member_added_rep(s, AT(0.5), r2);
        chat(s, AT(0.55), "representative", r2->gsnumber, r2->public_display_name,
             PICK(REP_CHATS));
        member_departed(s, AT(0.7), "representative", r2->gsnumber, r2->public_display_name);
        r2->left = AT(0.7);
    }
    {
        bt_event *e = ev_add(s, AT(0.9), "Session Note Added");
        actor(&e->by, "representative", r->gsnumber, r->public_display_name);
        e->body = bt_strdup(PICK(NOTES)); /* [I] where the note text goes */
    }
#undef AT
}

static void close_events(bt_session *s, int64_t when)
{
    bt_cust *c = &s->custs[0];
    member_departed(s, when, "customer", c->gsnumber, G.cfg.pra ? c->hostname : c->name);
    for (int i = 0; i < s->nreps; i++) {
        if (!s->reps[i].left) {
            member_departed(s, when, "representative", s->reps[i].gsnumber,
                            s->reps[i].public_display_name);
            s->reps[i].left = when;
        }
    }
    ev_add(s, when, "Session End");
}

bt_session *gen_session(const bt_gen_opts *o)
{
    bt_session *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    uint64_t a = bt_rand(), b = bt_rand();
    snprintf(s->lsid, sizeof s->lsid, "%016llx%016llx", (unsigned long long)a,
             (unsigned long long)b);
    s->seq = (int)G.nsess + 1;
    for (int i = 0; i < 40; i++)
        s->chat_hash[i] = "0123456789abcdef"[bt_randn(16)];

    int64_t now = (int64_t)bt_now();
    int64_t dur = 120 + bt_randn(1680);
    s->active = o->active;
    if (o->active) {
        s->start = now - 5 - bt_randn(60);
        s->end = 0;
    } else {
        s->end = o->end ? o->end : now;
        s->start = s->end - dur;
    }
    s->has_recording = bt_randn(2) == 0;
    s->site_id = 1;
    s->site_name = bt_strdup(G.cfg.hostname);
    s->jumpoint_id = 1 + (int)bt_randn(3);
    s->jumpoint_name = bt_strdupf("Jumpoint-DC%d", s->jumpoint_id);
    s->jump_group_id = 1 + (int)bt_randn(4);
    s->jump_group_name = bt_strdup(s->jump_group_id == 1 ? "Shared Servers" : "Ops & Infra <prod>");

    int gs = 20 + (int)bt_randn(10);
    /* primary rep */
    const rep_def *d = NULL;
    if (o->rep_username) {
        for (size_t i = 0; i < NREPS; i++)
            if (strcmp(REPS[i].username, o->rep_username) == 0)
                d = &REPS[i];
    } else {
        d = &REPS[bt_randn(NREPS)];
    }
    s->nreps = 1;
    rep_fill(&s->reps[0], d, o->rep_username, gs + 1);
    s->reps[0].owner = true;
    if (bt_randn(3) == 0) {
        const rep_def *d2 = &REPS[bt_randn(NREPS)];
        if (d2 != d) {
            rep_fill(&s->reps[1], d2, NULL, gs + 3);
            s->nreps = 2;
        }
    }
    /* customer (RS) / endpoint (PRA) */
    bt_cust *c = &s->custs[0];
    s->ncusts = 1;
    c->gsnumber = gs + 2;
    c->name = bt_strdup(PICK(CUST_NAMES));
    c->company = bt_strdup(PICK(COMPANIES));
    c->company_code = bt_strdupf("C%04u", bt_randn(10000));
    c->details = bt_strdup("Submitted via the public portal; see \"details\" & notes.");
    c->issue = bt_strdup(PICK(ISSUES));
    c->hostname = bt_strdup(o->customer_host ? o->customer_host : PICK(HOSTS));
    c->username = bt_strdup(G.cfg.pra ? "Administrator" : c->name);
    c->public_ip = gen_public_ip();
    c->private_ip = gen_private_ip();
    c->os = bt_strdup(PICK(OSES));

    s->external_key = bt_strdup(o->external_key ? o->external_key : "");
    kvs_copy(&s->custom, o->custom);

    int64_t t1 = s->active ? now : s->end;
    for (int i = 0; i < s->nreps; i++)
        s->reps[i].joined = s->start;
    body_events(s, s->start, t1, !s->active);
    if (!s->active)
        close_events(s, s->end);
    sess_append(s);
    return s;
}

void end_session(bt_session *s, int64_t when)
{
    if (!s->active)
        return;
    s->active = false;
    s->end = when;
    {
        bt_event *e = ev_add(s, when, "Session Note Added");
        actor(&e->by, "representative", s->reps[0].gsnumber, s->reps[0].public_display_name);
        e->body = bt_strdup(PICK(NOTES));
    }
    close_events(s, when);
}

static void actor_free(bt_actor *a) { free(a->name); }

static void session_free(bt_session *s)
{
    for (size_t i = 0; i < s->nev; i++) {
        actor_free(&s->ev[i].by);
        actor_free(&s->ev[i].dest);
        kvs_free(&s->ev[i].data);
        free(s->ev[i].body);
    }
    free(s->ev);
    for (int i = 0; i < s->nreps; i++) {
        bt_rep *r = &s->reps[i];
        free(r->username); free(r->display_name); free(r->public_display_name);
        free(r->private_display_name); free(r->public_ip); free(r->private_ip);
        free(r->hostname); free(r->os);
    }
    for (int i = 0; i < s->ncusts; i++) {
        bt_cust *c = &s->custs[i];
        free(c->name); free(c->company); free(c->company_code); free(c->details);
        free(c->issue); free(c->username); free(c->public_ip); free(c->private_ip);
        free(c->hostname); free(c->os);
    }
    free(s->external_key);
    kvs_free(&s->custom);
    free(s->site_name);
    free(s->jumpoint_name);
    free(s->jump_group_name);
    free(s);
}

void sessions_free_all(void)
{
    for (size_t i = 0; i < G.nsess; i++)
        session_free(G.sess[i]);
    free(G.sess);
    free(G.hidx);
    G.sess = NULL;
    G.hidx = NULL;
    G.nsess = G.capsess = G.hcap = 0;
    for (size_t i = 0; i < G.nkeys; i++) {
        free(G.keys[i].queue_id);
        free(G.keys[i].external_key);
        free(G.keys[i].rep_username);
        kvs_free(&G.keys[i].custom);
    }
    free(G.keys);
    G.keys = NULL;
    G.nkeys = G.capkeys = 0;
}
