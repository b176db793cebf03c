/* Report and command XML, structure per protocol/beyondtrust.md §2 and §3.
 * Callers hold G.mu. */
#include "btsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

static void elem(tb_buf *b, const char *name, const char *text)
{
    tb_buf_printf(b, "<%s>", name);
    xml_esc(b, text);
    tb_buf_printf(b, "</%s>", name);
}

static void elem_int(tb_buf *b, const char *name, long long v)
{
    tb_buf_printf(b, "<%s>%lld</%s>", name, v, name);
}

static void actor_xml(tb_buf *b, const char *tag, const bt_actor *a)
{
    if (!a->set)
        return;
    tb_buf_printf(b, "<%s type=\"%s\" gsnumber=\"%d\">", tag, a->type, a->gsnumber);
    xml_esc(b, a->name);
    tb_buf_printf(b, "</%s>", tag);
}

static void custom_attrs_xml(tb_buf *b, const bt_kvs *custom)
{
    tb_buf_appends(b, "<custom_attributes>");
    for (size_t i = 0; i < custom->n; i++) {
        char *dn = bt_display_name(custom->items[i].k);
        tb_buf_appends(b, "<custom_attribute code_name=\"");
        xml_esc(b, custom->items[i].k);
        tb_buf_appends(b, "\" display_name=\"");
        xml_esc(b, dn);
        tb_buf_appends(b, "\">");
        xml_esc(b, custom->items[i].v);
        tb_buf_appends(b, "</custom_attribute>");
        free(dn);
    }
    tb_buf_appends(b, "</custom_attributes>\n");
}

static void time_elem(tb_buf *b, const char *name, int64_t t)
{
    char iso[40];
    bt_iso_time(t, iso, sizeof iso);
    tb_buf_printf(b, "<%s timestamp=\"%lld\">%s</%s>\n", name, (long long)t, iso, name);
}

static void url_elem(tb_buf *b, const char *name, const bt_session *s, const char *kind,
                     bool view)
{
    char *u = bt_strdupf("https://%s/session_download?lsid=l%%3D%s%%3Bh%%3D%s%%3Bt%%3Dsd%%3Bm%%3D%s"
                         "&dl_action=%s%s",
                         G.cfg.hostname, s->lsid, s->chat_hash, kind, kind, view ? "&view=1" : "");
    elem(b, name, u);
    tb_buf_appends(b, "\n");
    free(u);
}

static void session_xml(tb_buf *b, const bt_session *s)
{
    int64_t now = (int64_t)bt_now();
    tb_buf_printf(b, "<session lsid=\"%s\">\n", s->lsid);
    elem(b, "session_type", "support");
    tb_buf_appends(b, "\n");
    elem_int(b, "lseq", (long long)s->nev);
    tb_buf_appends(b, "\n");
    time_elem(b, "start_time", s->start);
    if (s->active)
        tb_buf_appends(b, "<end_time></end_time>\n"); /* [V] empty while active */
    else
        time_elem(b, "end_time", s->end);
    long long d = (long long)((s->active ? now : s->end) - s->start);
    if (d < 0)
        d = 0;
    tb_buf_printf(b, "<duration>%02lld:%02lld:%02lld</duration>\n", d / 3600, (d / 60) % 60, d % 60);
    if (!G.cfg.pra) {
        tb_buf_printf(b, "<public_site id=\"%d\">", s->site_id);
        xml_esc(b, s->site_name);
        tb_buf_appends(b, "</public_site>\n");
    } else {
        tb_buf_printf(b, "<jumpoint id=\"%d\">", s->jumpoint_id);
        xml_esc(b, s->jumpoint_name);
        tb_buf_appends(b, "</jumpoint>\n");
    }
    elem(b, "external_key", s->external_key);
    tb_buf_appends(b, "\n");
    custom_attrs_xml(b, &s->custom);
    url_elem(b, "session_chat_view_url", s, "chat", true);
    url_elem(b, "session_chat_download_url", s, "chat", false);
    if (s->has_recording && !s->active) {
        /* [I] element names of the recording links */
        url_elem(b, "session_recording_view_url", s, "rec", true);
        url_elem(b, "session_recording_download_url", s, "rec", false);
    }
    elem_int(b, "file_transfer_count", s->ft_count);
    elem_int(b, "file_move_count", s->fmove_count);
    elem_int(b, "file_delete_count", s->fdel_count);
    tb_buf_appends(b, "\n");
    const bt_cust *pc = &s->custs[0];
    tb_buf_printf(b, "<primary_customer gsnumber=\"%d\">", pc->gsnumber);
    xml_esc(b, sess_cust_display(s, pc)); /* [V] PRA: endpoint name */
    tb_buf_appends(b, "</primary_customer>\n");
    if (G.cfg.pra) {
        tb_buf_printf(b, "<jump_group type=\"shared\" id=\"%d\">", s->jump_group_id);
        xml_esc(b, s->jump_group_name);
        tb_buf_appends(b, "</jump_group>\n");
    }
    if (s->nreps > 0) { /* [I] omitted while a session waits in its queue */
        const bt_rep *pr = &s->reps[0];
        tb_buf_printf(b, "<primary_rep gsnumber=\"%d\" id=\"%d\">", pr->gsnumber, pr->id);
        xml_esc(b, pr->public_display_name);
        tb_buf_appends(b, "</primary_rep>\n");
    }

    tb_buf_appends(b, "<customer_list>\n");
    for (int i = 0; i < s->ncusts; i++) {
        const bt_cust *c = &s->custs[i];
        tb_buf_printf(b, "<customer gsnumber=\"%d\">", c->gsnumber);
        elem(b, "username", c->username);
        if (!G.cfg.pra) {
            tb_buf_appends(b, "<info>");
            elem(b, "name", c->name);
            elem(b, "company", c->company);
            elem(b, "company_code", c->company_code);
            elem(b, "details", c->details);
            elem(b, "issue", c->issue);
            tb_buf_appends(b, "</info>");
            elem_int(b, "primary_cust", i == 0);
        }
        elem(b, "public_ip", c->public_ip);
        elem(b, "private_ip", c->private_ip);
        elem(b, "hostname", c->hostname);
        elem(b, "os", c->os);
        tb_buf_appends(b, "</customer>\n");
    }
    tb_buf_appends(b, "</customer_list>\n<rep_list>\n");
    for (int i = 0; i < s->nreps; i++) {
        const bt_rep *r = &s->reps[i];
        tb_buf_printf(b, "<representative gsnumber=\"%d\" id=\"%d\">", r->gsnumber, r->id);
        elem(b, "username", r->username);
        elem(b, "display_name", r->display_name);
        elem(b, "public_display_name", r->public_display_name);
        elem(b, "private_display_name", r->private_display_name);
        elem(b, "public_ip", r->public_ip);
        elem(b, "private_ip", r->private_ip);
        elem(b, "hostname", r->hostname);
        elem(b, "os", r->os);
        if (!G.cfg.pra)
            elem_int(b, "primary_rep", i == 0);
        elem_int(b, "session_owner", r->owner);
        int64_t left = r->left ? r->left : (s->active ? now : s->end);
        elem_int(b, "seconds_involved", (long long)(left > r->joined ? left - r->joined : 0));
        tb_buf_appends(b, "</representative>\n");
    }
    tb_buf_appends(b, "</rep_list>\n<session_details>\n");
    for (size_t i = 0; i < s->nev; i++) {
        const bt_event *e = &s->ev[i];
        tb_buf_printf(b, "<event timestamp=\"%lld\" event_type=\"", (long long)e->ts);
        xml_esc(b, e->type);
        tb_buf_appends(b, "\">");
        actor_xml(b, "performed_by", &e->by);
        actor_xml(b, "destination", &e->dest);
        if (e->data.n) {
            tb_buf_appends(b, "<data>");
            for (size_t k = 0; k < e->data.n; k++) {
                tb_buf_appends(b, "<value name=\"");
                xml_esc(b, e->data.items[k].k);
                tb_buf_appends(b, "\" value=\"");
                xml_esc(b, e->data.items[k].v);
                tb_buf_appends(b, "\"/>");
            }
            tb_buf_appends(b, "</data>");
        }
        if (e->body)
            elem(b, "body", e->body);
        tb_buf_appends(b, "</event>\n");
    }
    tb_buf_appends(b, "</session_details>\n</session>\n");
}

char *xml_session_list(bt_session **v, size_t n)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, XML_DECL "<session_list xmlns=\"");
    xml_esc(&b, G.cfg.ns_report);
    tb_buf_appends(&b, "\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n");
    for (size_t i = 0; i < n; i++)
        session_xml(&b, v[i]);
    tb_buf_appends(&b, "</session_list>\n");
    return tb_buf_take(&b);
}

char *xml_listing(bt_session **v, size_t n)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_appends(&b, XML_DECL "<session_summary_list xmlns=\"");
    xml_esc(&b, G.cfg.ns_report);
    tb_buf_appends(&b, "\">\n");
    for (size_t i = 0; i < n; i++)
        tb_buf_printf(&b, "<session_summary lsid=\"%s\" has_recording=\"%d\"/>\n", v[i]->lsid,
                      v[i]->has_recording && !v[i]->active ? 1 : 0);
    tb_buf_appends(&b, "</session_summary_list>\n");
    return tb_buf_take(&b);
}

char *xml_error(const char *ns, const char *msg)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    /* [V] shape of the real example: declaration, blank line, namespaced root */
    tb_buf_appends(&b, XML_DECL "\n<error xmlns=\"");
    xml_esc(&b, ns);
    tb_buf_appends(&b, "\">");
    xml_esc(&b, msg);
    tb_buf_appends(&b, "</error>\n");
    return tb_buf_take(&b);
}

char *xml_simple(const char *root, const char *text)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_printf(&b, XML_DECL "<%s xmlns=\"", root);
    xml_esc(&b, G.cfg.ns_command);
    tb_buf_appends(&b, "\">");
    xml_esc(&b, text);
    tb_buf_printf(&b, "</%s>\n", root);
    return tb_buf_take(&b);
}
