/* ticketbridge parse-report FILE|-: runs the streaming report parser over a
 * saved SupportSession / AccessSession report (or a listing, or an <error>
 * reply) and prints the normalized sessions as one JSON document, without
 * storing anything. Output goes to a temporary file first, so stdout gets the
 * whole document or nothing, while memory stays bounded by the parser's
 * limits however large the report is. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/report.h"
#include "cli/cli.h"

#define USAGE "ticketbridge parse-report [--compact] [--max-input-bytes N] FILE|-"

typedef struct out_ctx {
    FILE *fp;
    size_t flags;           /* jansson dump flags */
    size_t n;               /* items written */
    const char *key;        /* array opened: "sessions" or "session_summaries" */
} out_ctx;

static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }
static json_t *jnum(long long v) { return v >= 0 ? json_integer(v) : json_null(); }
static json_t *jtime(int64_t t) { return t > 0 ? json_integer(t) : json_null(); }
static json_t *jflag(int v) { return v < 0 ? json_null() : json_boolean(v != 0); }

static json_t *actor_json(const bt_actor *a)
{
    if (!a->present)
        return json_null();
    return json_pack("{s:o,s:o,s:o}", "type", jstr(a->type), "gsnumber", jnum(a->gsnumber), "name",
                     jstr(a->name));
}

static json_t *info_json(const bt_customer_info *i)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o}", "name", jstr(i->name), "company", jstr(i->company),
                     "company_code", jstr(i->company_code), "details", jstr(i->details), "issue",
                     jstr(i->issue));
}

static json_t *user_json(const bt_user *u)
{
    json_t *o = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
                          "kind", u->kind == BT_USER_REP ? "representative" : "customer",
                          "gsnumber", jnum(u->gsnumber), "id", jnum(u->id),
                          "username", jstr(u->username), "display_name", jstr(u->display_name),
                          "public_display_name", jstr(u->public_display_name),
                          "private_display_name", jstr(u->private_display_name),
                          "public_ip", jstr(u->public_ip), "private_ip", jstr(u->private_ip),
                          "hostname", jstr(u->hostname), "os", jstr(u->os),
                          "session_owner", jflag(u->session_owner), "primary", jflag(u->primary),
                          "seconds_involved", jnum(u->seconds_involved));
    if (!o)
        return NULL;
    char addr[128];
    int port;
    bool ok = u->public_ip && !bt_split_hostport(u->public_ip, addr, sizeof addr, &port);
    json_object_set_new(o, "public_address", ok ? json_string(addr) : json_null());
    json_object_set_new(o, "public_port", ok && port >= 0 ? json_integer(port) : json_null());
    if (u->kind == BT_USER_CUSTOMER)
        json_object_set_new(o, "info", u->has_info ? info_json(&u->info) : json_null());
    return o;
}

static json_t *event_json(const bt_event *e)
{
    json_t *data = json_array();
    for (size_t i = 0; data && i < e->ndata; i++)
        json_array_append_new(data, json_pack("{s:o,s:o}", "name", jstr(e->data[i].name), "value",
                                              jstr(e->data[i].value)));
    json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "timestamp", jtime(e->timestamp),
                          "event_type", jstr(e->event_type), "performed_by",
                          actor_json(&e->performed_by), "destination", actor_json(&e->destination),
                          "data", data ? data : json_null(), "body", jstr(e->body));
    if (o && (e->filename || e->filesize)) {
        json_object_set_new(o, "filename", jstr(e->filename));
        json_object_set_new(o, "filesize", jstr(e->filesize));
    }
    return o;
}

static json_t *file_json(const bt_file_transfer *f)
{
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:b,s:o,s:o}",
                     "event_index", (json_int_t)f->event_index, "timestamp", jtime(f->timestamp),
                     "event_type", jstr(f->event_type), "name", jstr(f->name), "size", jnum(f->size),
                     "path", jstr(f->path), "old_path", jstr(f->old_path), "new_path",
                     jstr(f->new_path), "direction", bt_file_direction_name(f->direction),
                     "success", f->success, "sha256", jstr(f->sha256), "performed_by",
                     actor_json(&f->performed_by));
}

static json_t *session_json(const bt_session *s)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
#define SET(k, v) json_object_set_new(o, k, v)
    SET("lsid", jstr(s->lsid));
    SET("session_type", jstr(s->session_type));
    SET("lseq", jnum(s->lseq));
    SET("start_time", jtime(s->start_time));
    SET("start_time_text", jstr(s->start_time_text));
    SET("end_time", jtime(s->end_time));
    SET("end_time_text", jstr(s->end_time_text));
    SET("active", json_boolean(s->end_time == 0));
    SET("duration", jnum(s->duration));
    SET("duration_text", jstr(s->duration_text));
    SET("public_site", s->public_site.id < 0 && !s->public_site.name ? json_null()
        : json_pack("{s:o,s:o}", "id", jnum(s->public_site.id), "name", jstr(s->public_site.name)));
    SET("jumpoint", s->jumpoint.id < 0 && !s->jumpoint.name ? json_null()
        : json_pack("{s:o,s:o}", "id", jnum(s->jumpoint.id), "name", jstr(s->jumpoint.name)));
    SET("jump_group", s->jump_group.id < 0 && !s->jump_group.name ? json_null()
        : json_pack("{s:o,s:o,s:o}", "id", jnum(s->jump_group.id), "type", jstr(s->jump_group.type),
                    "name", jstr(s->jump_group.name)));
    SET("primary_customer", json_pack("{s:o,s:o}", "gsnumber", jnum(s->primary_customer.gsnumber),
                                      "name", jstr(s->primary_customer.name)));
    SET("primary_rep", json_pack("{s:o,s:o,s:o}", "gsnumber", jnum(s->primary_rep.gsnumber), "id",
                                 jnum(s->primary_rep.id), "name", jstr(s->primary_rep.name)));
    SET("external_key", jstr(s->external_key));
    json_t *ca = json_array();
    for (size_t i = 0; ca && i < s->ncustom_attributes; i++)
        json_array_append_new(ca, json_pack("{s:o,s:o,s:o}", "code_name",
                                            jstr(s->custom_attributes[i].code_name), "display_name",
                                            jstr(s->custom_attributes[i].display_name), "value",
                                            jstr(s->custom_attributes[i].value)));
    SET("custom_attributes", ca ? ca : json_null());
    SET("session_chat_view_url", jstr(s->chat_view_url));
    SET("session_chat_download_url", jstr(s->chat_download_url));
    SET("has_recording", json_boolean(s->has_recording));
    SET("session_recording_view_url", jstr(s->recording_view_url));
    SET("session_recording_download_url", jstr(s->recording_download_url));
    SET("file_transfer_count", jnum(s->file_transfer_count));
    SET("file_move_count", jnum(s->file_move_count));
    SET("file_delete_count", jnum(s->file_delete_count));
    SET("customer_info", s->customer_info ? info_json(s->customer_info) : json_null());
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->nusers; i++)
        json_array_append_new(a, user_json(&s->users[i]));
    SET("users", a ? a : json_null());
    a = json_array();
    for (size_t i = 0; a && i < s->nevents; i++)
        json_array_append_new(a, event_json(&s->events[i]));
    SET("events", a ? a : json_null());
    a = json_array();
    for (size_t i = 0; a && i < s->nfiles; i++)
        json_array_append_new(a, file_json(&s->files[i]));
    SET("files", a ? a : json_null());
#undef SET
    return o;
}

static tb_err emit(out_ctx *o, const char *key, json_t *j)
{
    if (!j)
        return TB_ERR_NOMEM;
    if (!o->key) {
        o->key = key;
        fprintf(o->fp, "{\"%s\": [\n", key);
    }
    if (o->n++)
        fputs(",\n", o->fp);
    int rc = json_dumpf(j, o->fp, o->flags);
    json_decref(j);
    return rc || ferror(o->fp) ? TB_ERR_IO : TB_OK;
}

static tb_err on_session(const bt_session *s, void *ctx)
{
    return emit(ctx, "sessions", session_json(s));
}

static tb_err on_summary(const bt_session_summary *s, void *ctx)
{
    return emit(ctx, "session_summaries",
                json_pack("{s:o,s:o,s:o}", "lsid", jstr(s->lsid), "has_recording",
                          jflag(s->has_recording), "external_key", jstr(s->external_key)));
}

/* The appliance's text may hold anything; keep control characters off the terminal. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

static int copy_out(FILE *from)
{
    char buf[65536];
    size_t n;
    rewind(from);
    while ((n = fread(buf, 1, sizeof buf, from)) > 0)
        if (fwrite(buf, 1, n, stdout) != n)
            return cli_fail("cannot write output: %s", strerror(errno));
    if (ferror(from) || fflush(stdout))
        return cli_fail("cannot write output");
    return 0;
}

static void help(void)
{
    printf("usage: %s\n\n"
           "Parses a BeyondTrust SupportSession / AccessSession report (or a *Listing, or an\n"
           "<error> reply) and prints the normalized sessions as JSON: {\"sessions\": [...]}\n"
           "(a listing prints {\"session_summaries\": [...]}). Nothing is stored.\n\n"
           "  FILE                 the report; '-' reads standard input\n"
           "  --compact            one line per session instead of indented JSON\n"
           "  --max-input-bytes N  refuse reports larger than N bytes (default %u)\n\n"
           "Exit status: 0 parsed, 1 <error> reply / malformed or oversized report, 2 usage.\n",
           USAGE, (unsigned)BT_REPORT_DEFAULT_MAX_INPUT);
}

int cli_parse_report(tb_cli *c, int argc, char **argv)
{
    (void)c;
    static const struct option opts[] = {
        {"compact", no_argument, 0, 'c'},
        {"max-input-bytes", required_argument, 0, 'm'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    bt_report_limits lim;
    bt_report_limits_default(&lim);
    size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
            break;
        case 'm': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || *end || v == 0 || optarg[0] == '-' || v > (unsigned long long)SIZE_MAX / 2)
                return cli_usage_error(USAGE);
            lim.max_input_bytes = (size_t)v;
            break;
        }
        case 'h':
            help();
            return 0;
        default:
            return cli_usage_error(USAGE);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(USAGE);
    const char *path = argv[optind];

    FILE *in = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!in)
        return cli_fail("cannot open %s: %s", path, strerror(errno));
    out_ctx o = {.flags = flags};
    o.fp = tmpfile();
    if (!o.fp) {
        if (in != stdin)
            fclose(in);
        return cli_fail("cannot create a temporary file: %s", strerror(errno));
    }
    bt_report_parser *p = bt_report_parser_new(&lim, on_session, &o);
    char *buf = malloc(65536);
    int ret = 0;
    if (!p || !buf) {
        ret = cli_fail("out of memory");
        goto out;
    }
    bt_report_parser_on_summary(p, on_summary, &o);
    tb_err rc = TB_OK;
    size_t n;
    while (!rc && (n = fread(buf, 1, 65536, in)) > 0)
        rc = bt_report_parser_feed(p, buf, n);
    if (!rc && ferror(in)) {
        ret = cli_fail("cannot read %s", path);
        goto out;
    }
    if (!rc)
        rc = bt_report_parser_finish(p);
    if (rc == TB_ERR_NOT_FOUND && bt_report_parser_api_error(p)) {
        char *msg = strdup(bt_report_parser_api_error(p));
        if (msg)
            sanitize(msg);
        ret = cli_fail("appliance error: %s", msg ? msg : "(out of memory)");
        free(msg);
        goto out;
    }
    if (rc) {
        ret = cli_fail("%s: %s", strcmp(path, "-") ? path : "stdin", bt_report_parser_error(p));
        goto out;
    }
    if (!o.key)
        fprintf(o.fp, "{\"%s\": [",
                bt_report_parser_root(p) == BT_REPORT_ROOT_LISTING ? "session_summaries" : "sessions");
    fputs(o.n ? "\n]}\n" : "]}\n", o.fp);
    if (fflush(o.fp) || ferror(o.fp))
        ret = cli_fail("cannot write the temporary file");
    else
        ret = copy_out(o.fp);
out:
    free(buf);
    bt_report_parser_free(p);
    fclose(o.fp);
    if (in != stdin)
        fclose(in);
    return ret;
}
