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

static const rep_def *rep_by_username(const char *u)
{
    for (size_t i = 0; u && i < NREPS; i++)
        if (strcmp(REPS[i].username, u) == 0)
            return &REPS[i];
    return NULL;
}

bool rep_username_known(const char *u) { return rep_by_username(u) != NULL; }

const char *rep_username_by_id(long id)
{
    for (size_t i = 0; i < NREPS; i++)
        if (REPS[i].id == id)
            return REPS[i].username;
    return NULL;
}

const char *rep_username_by_public_name(const char *name)
{
    for (size_t i = 0; name && i < NREPS; i++)
        if (strcmp(REPS[i].display, name) == 0)
            return REPS[i].username;
    return NULL;
}

/* Site 1 is the default public site (named after --hostname); other portal
 * names get the next ids in the order they are first used, up to
 * BT_MAX_PORTALS (later ones share id 0). */
int portal_id(const char *name)
{
    if (!name || !*name || strcmp(name, G.cfg.hostname) == 0)
        return 1;
    for (size_t i = 0; i < G.portals.n; i++)
        if (strcmp(G.portals.items[i].k, name) == 0)
            return (int)i + 2;
    if (G.portals.n >= BT_MAX_PORTALS)
        return 0;
    kvs_add(&G.portals, name, "");
    return (int)G.portals.n + 1;
}

/* ---------------- building blocks ---------------- */
bt_event *sess_event(bt_session *s, int64_t ts, const char *type)
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

void sess_actor(bt_actor *a, const char *type, int gs, const char *name)
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
    bt_event *e = sess_event(s, ts, "Conference Member Added");
    sess_actor(&e->dest, "representative", r->gsnumber, r->public_display_name);
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

/* How the customer appears in events and as primary_customer: PRA shows the
 * endpoint (the Jump Item's name when known); an unattended RS session has
 * no person, only the endpoint [I]. */
const char *sess_cust_display(const bt_session *s, const bt_cust *c)
{
    if (G.cfg.pra)
        return s->jump_item_name ? s->jump_item_name : c->hostname;
    return s->attended ? c->name : c->hostname;
}

static void member_added_cust(bt_session *s, int64_t ts, const bt_cust *c)
{
    bt_event *e = sess_event(s, ts, "Conference Member Added");
    sess_actor(&e->dest, "customer", c->gsnumber, sess_cust_display(s, c));
    kvs_add(&e->data, "public_name", sess_cust_display(s, c));
    kvs_add(&e->data, "private_ip", c->private_ip);
    kvs_add(&e->data, "public_ip", c->public_ip);
    kvs_add(&e->data, "hostname", c->hostname);
    kvs_add(&e->data, "os", c->os);
}

void sess_owner_changed(bt_session *s, int64_t ts, const char *type, int gs, const char *name)
{
    bt_event *e = sess_event(s, ts, "Conference Owner Changed");
    sess_actor(&e->dest, type, gs, name);
    kvs_add(&e->data, "owner", name);
}

static void member_departed(bt_session *s, int64_t ts, const char *type, int gs, const char *name)
{
    bt_event *e = sess_event(s, ts, "Conference Member Departed");
    sess_actor(&e->dest, type, gs, name);
}

void sess_chat(bt_session *s, int64_t ts, const char *bytype, int gs, const char *name,
               const char *body)
{
    bt_event *e = sess_event(s, ts, "Chat Message");
    sess_actor(&e->by, bytype, gs, name);
    sess_actor(&e->dest, "everyone", 0, "Everyone");
    e->body = bt_strdup(body);
}

static void file_event(bt_session *s, int64_t ts, const bt_rep *r, const char *type)
{
    bt_event *e = sess_event(s, ts, type);
    sess_actor(&e->by, "representative", r->gsnumber, r->public_display_name);
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
    sess_event(s, t0, "Session Start");
    sess_owner_changed(s, t0, "system", 0, "Pre-start Conference");
    member_added_cust(s, AT(0.01), c);
    member_added_rep(s, AT(0.03), r);
    sess_owner_changed(s, AT(0.03), "representative", r->gsnumber, r->public_display_name);
    {
        bt_event *e = sess_event(s, AT(0.04), "Conference Member State Changed");
        sess_actor(&e->dest, "customer", c->gsnumber, sess_cust_display(s, c));
        kvs_add(&e->data, "state", "connected");
    }
    if (G.cfg.pra) {
        char *msg = bt_strdupf("%s can now view and control the endpoint.", r->public_display_name);
        sess_chat(s, AT(0.05), "system", 0, "Privileged Remote Access", msg);
        free(msg);
        sess_chat(s, AT(0.06), "representative", r->gsnumber, r->public_display_name, PICK(REP_CHATS));
    } else {
        sess_chat(s, AT(0.05), "representative", r->gsnumber, r->public_display_name, PICK(REP_CHATS));
        sess_chat(s, AT(0.07), "customer", c->gsnumber, c->name, PICK(CUST_CHATS));
        sess_chat(s, AT(0.09), "customer", c->gsnumber, c->name, PICK(CUST_CHATS));
    }
    if (!ended)
        return;
    {
        bt_event *e = sess_event(s, AT(0.15), "System Information Retrieved");
        sess_actor(&e->by, "representative", r->gsnumber, r->public_display_name);
    }
    if (s->has_recording) {
        bt_event *e = sess_event(s, AT(0.16), "Screen Recording");
        sess_actor(&e->by, "system", 0, G.cfg.pra ? "Privileged Remote Access" : "Remote Support");
    }
    if (G.cfg.pra) {
        int n = 1 + (int)bt_randn(3);
        for (int i = 0; i < n; i++) {
            bt_event *e = sess_event(s, AT(0.3 + 0.1 * i), "File Transfer Complete");
            sess_actor(&e->by, "representative", r->gsnumber, r->public_display_name);
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
        bt_event *e = sess_event(s, AT(0.47), "File Deleted");
        sess_actor(&e->by, "representative", r->gsnumber, r->public_display_name);
        kvs_add(&e->data, "path", "C:\\Temp\\old.log");
        s->fdel_count++;
    }
    if (s->nreps > 1) {
        bt_rep *r2 = &s->reps[1];
        member_added_rep(s, AT(0.5), r2);
        sess_chat(s, AT(0.55), "representative", r2->gsnumber, r2->public_display_name,
             PICK(REP_CHATS));
        member_departed(s, AT(0.7), "representative", r2->gsnumber, r2->public_display_name);
        r2->left = AT(0.7);
    }
    {
        bt_event *e = sess_event(s, AT(0.9), "Session Note Added");
        sess_actor(&e->by, "representative", r->gsnumber, r->public_display_name);
        e->body = bt_strdup(PICK(NOTES)); /* [I] where the note text goes */
    }
#undef AT
}

static void close_events(bt_session *s, int64_t when)
{
    bt_cust *c = &s->custs[0];
    member_departed(s, when, "customer", c->gsnumber, sess_cust_display(s, c));
    for (int i = 0; i < s->nreps; i++) {
        if (!s->reps[i].left) {
            member_departed(s, when, "representative", s->reps[i].gsnumber,
                            s->reps[i].public_display_name);
            s->reps[i].left = when;
        }
    }
    sess_event(s, when, "Session End");
}

static char *opt_or(const char *given, const char *dflt)
{
    return bt_strdup(given ? given : dflt);
}

static void rep_fill_user(bt_rep *r, const char *username, const char *user_id,
                          const char *display_name, int gs)
{
    const rep_def *d = rep_by_username(username);
    rep_fill(r, d, username, gs);
    if (!d && user_id && *user_id) {
        char *end;
        long id = strtol(user_id, &end, 10);
        if (!*end && id > 0 && id < 1000000000L)
            r->id = (int)id;
    }
    if (!d && display_name && *display_name) {
        free(r->display_name);
        free(r->public_display_name);
        free(r->private_display_name);
        r->display_name = bt_strdup(display_name);
        r->public_display_name = bt_strdup(display_name);
        r->private_display_name = bt_strdup(display_name);
    }
}

bt_rep *sess_add_rep(bt_session *s, const char *username, const char *user_id,
                     const char *display_name, int64_t when)
{
    if (s->nreps >= BT_MAX_REPS)
        return NULL;
    bt_rep *r = &s->reps[s->nreps];
    memset(r, 0, sizeof *r);
    rep_fill_user(r, username, user_id, display_name, s->next_gs++);
    r->owner = s->nreps == 0;
    r->joined = when;
    s->nreps++;
    member_added_rep(s, when, r);
    return r;
}

/* The first events of a live session: it starts, the customer (or endpoint)
 * connects and waits in its queue until a representative joins. */
static void live_start_events(bt_session *s, int64_t t)
{
    bt_cust *c = &s->custs[0];
    sess_event(s, t, "Session Start");
    sess_owner_changed(s, t, "system", 0, "Pre-start Conference");
    member_added_cust(s, t, c);
    bt_event *e = sess_event(s, t, "Conference Member State Changed");
    sess_actor(&e->dest, "customer", c->gsnumber, sess_cust_display(s, c));
    kvs_add(&e->data, "state", "connected");
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
    s->live = o->live;
    s->active = o->active || o->live;
    if (o->live) {
        s->start = now;
    } else if (o->active) {
        s->start = now - 5 - bt_randn(60);
        s->end = 0;
    } else {
        s->end = o->end ? o->end : now;
        s->start = s->end - dur;
    }
    s->has_recording = bt_randn(2) == 0;
    s->site_id = portal_id(o->public_portal);
    s->site_name = bt_strdup(o->public_portal && *o->public_portal ? o->public_portal
                                                                    : G.cfg.hostname);
    s->queue_id = opt_or(o->queue_id, "general");
    s->attended = o->attended ? o->attended > 0 : !G.cfg.pra;
    s->jumpoint_id = 1 + (int)bt_randn(3);
    s->jumpoint_name = bt_strdupf("Jumpoint-DC%d", s->jumpoint_id);
    s->jump_group_id = 1 + (int)bt_randn(4);
    s->jump_group_name = bt_strdup(s->jump_group_id == 1 ? "Shared Servers" : "Ops & Infra <prod>");
    const bt_grant *g = o->grant;
    if (g) {
        const bt_jump_item *it = &g->item;
        s->ticket_id = bt_strdup(g->ticket_id);
        if (it->name && *it->name)
            s->jump_item_name = bt_strdup(it->name);
        if (it->jumpoint_name && *it->jumpoint_name) {
            free(s->jumpoint_name);
            s->jumpoint_name = bt_strdup(it->jumpoint_name);
            s->jumpoint_id = it->jumpoint_id ? atoi(it->jumpoint_id) : 0;
        }
        if (it->jump_group_name && *it->jump_group_name) {
            free(s->jump_group_name);
            s->jump_group_name = bt_strdup(it->jump_group_name);
            s->jump_group_id = it->jump_group_id ? atoi(it->jump_group_id) : 0;
        }
    }

    int gs = 20 + (int)bt_randn(10);
    s->next_gs = gs + 4;
    /* primary rep; a live session has none until one joins */
    const rep_def *d = NULL;
    if (o->rep_username) {
        d = rep_by_username(o->rep_username);
    } else if (!o->live) {
        d = &REPS[bt_randn(NREPS)];
    }
    if (!o->live) {
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
    }
    /* customer (RS) / endpoint (PRA) */
    bt_cust *c = &s->custs[0];
    s->ncusts = 1;
    c->gsnumber = gs + 2;
    const char *name = PICK(CUST_NAMES), *company = PICK(COMPANIES);
    char *code = bt_strdupf("C%04u", bt_randn(10000));
    const char *issue = PICK(ISSUES);
    const char *host = o->customer_host;
    if (!host && g && g->item.hostname && *g->item.hostname)
        host = g->item.hostname;
    c->hostname = bt_strdup(host ? host : PICK(HOSTS));
    if (o->live && !s->attended)
        name = "";
    c->name = opt_or(o->customer_name, name);
    c->company = opt_or(o->company, o->live ? "" : company);
    c->company_code = opt_or(o->company_code, o->live ? "" : code);
    free(code);
    c->details = opt_or(o->details, o->live ? "" : "Submitted via the public portal; see \"details\" & notes.");
    c->issue = opt_or(o->issue, o->live ? "" : issue);
    c->username = bt_strdup(G.cfg.pra ? "Administrator" : c->name);
    c->public_ip = gen_public_ip();
    c->private_ip = gen_private_ip();
    c->os = bt_strdup(PICK(OSES));

    s->external_key = bt_strdup(o->external_key ? o->external_key : "");
    kvs_copy(&s->custom, o->custom);

    if (o->live) {
        live_start_events(s, now);
        if (!o->waiting) {
            const char *u = o->rep_username ? o->rep_username
                            : g                ? g->username
                                               : REPS[bt_randn(NREPS)].username;
            bt_rep *r = sess_add_rep(s, u, g ? g->user_id : NULL,
                                     g ? g->user_display_name : NULL, now);
            sess_owner_changed(s, now, "representative", r->gsnumber, r->public_display_name);
        }
        sess_append(s);
        return s;
    }
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
    if (!s->live && s->nreps > 0) {
        bt_event *e = sess_event(s, when, "Session Note Added");
        sess_actor(&e->by, "representative", s->reps[0].gsnumber, s->reps[0].public_display_name);
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
    free(s->queue_id);
    free(s->ticket_id);
    free(s->jump_item_name);
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
    for (size_t i = 0; i < G.ngrants; i++)
        grant_free(&G.grants[i]);
    free(G.grants);
    G.grants = NULL;
    G.ngrants = G.grant_next = 0;
    kvs_free(&G.portals);
}

void grant_free(bt_grant *g)
{
    bt_jump_item *it = &g->item;
    free(it->id); free(it->name); free(it->hostname);
    free(it->jump_group_id); free(it->jump_group_name); free(it->jump_group_type);
    free(it->jumpoint_id); free(it->jumpoint_name);
    free(g->ticket_id); free(g->user_id); free(g->username); free(g->user_display_name);
    kvs_free(&g->custom);
    memset(g, 0, sizeof *g);
}
