/* `ticket`, `ci` and `sys-user`: read and edit the configured ticket store
 * (the embedded one in cfg.database, or ServiceNow) through itsm.h.
 * Argument parsing and printing only. */
#include "cli/cli.h"
#include "itsm/itsm.h"
#include "itsm/itsm_servicenow.h"
#include "itsm/itsm_table.h"
#include "itsm/snquery.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS 64

#define U_TICKET "ticketbridge ticket create|show|list|note|update|attach ... (--help for each)"
#define U_CREATE "ticketbridge ticket create [--table incident] --short-description TEXT" \
                 " [--description T] [--state N] [--assigned-to USER_NAME] [--ci CI_NAME]" \
                 " [--approval V] [--set field=value ...]"
#define U_SHOW "ticketbridge ticket show NUMBER|SYS_ID"
#define U_LIST "ticketbridge ticket list [--table T] [--limit N] [--query ENCODED] [--fields a,b]"
#define U_NOTE "ticketbridge ticket note NUMBER TEXT [--once MARKER]"
#define U_UPDATE "ticketbridge ticket update NUMBER field=value ..."
#define U_ATTACH "ticketbridge ticket attach NUMBER FILE [--type MIME_TYPE] [--name FILE_NAME]"
#define U_CI "ticketbridge ci add NAME [--class C] [--ip A] [--fqdn F] [--os O] | ci list"
#define U_CI_ADD "ticketbridge ci add NAME [--class C] [--ip A] [--fqdn F] [--os O]"
#define U_CI_LIST "ticketbridge ci list"
#define U_USER "ticketbridge sys-user add USER_NAME [--name N] [--email E] [--bt-username U]" \
               " | sys-user list"
#define U_USER_ADD "ticketbridge sys-user add USER_NAME [--name N] [--email E] [--bt-username U]"
#define U_USER_LIST "ticketbridge sys-user list"

static int help(const char *usage)
{
    printf("usage: %s\n", usage);
    return 0;
}

static int is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

static int open_store(tb_cli *c, itsm **h)
{
    char err[512] = "";
    tb_err rc = itsm_is_remote(&c->cfg) ? TB_OK : itsm_embedded_schema(c->cfg.database);
    if (rc)
        return cli_fail("cannot open ticket store %s: %s", c->cfg.database, tb_strerror(rc));
    if ((rc = itsm_open(&c->cfg, h, err, sizeof err)))
        return cli_fail("%s", err[0] ? err : tb_strerror(rc));
    return 0;
}

/* Why a call failed: the backend's own account when it keeps one. */
static const char *why(itsm *h, tb_err rc)
{
    const char *m = itsm_errmsg(h);
    return *m ? m : tb_strerror(rc);
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* sys_id of the single record of table whose field equals value (case-insensitive). */
static tb_err lookup(itsm *h, const char *table, const char *field, const char *value,
                     char sys_id[ITSM_SYS_ID_LEN + 1])
{
    itsm_kv kv[] = {{field, value}};
    itsm_record **v = NULL;
    size_t n = 0;
    tb_err rc = itsm_query(h, table, kv, 1, 1, 1, 0, &v, &n);
    if (!rc && n == 0)
        rc = TB_ERR_NOT_FOUND;
    if (!rc)
        snprintf(sys_id, ITSM_SYS_ID_LEN + 1, "%s", v[0]->sys_id);
    itsm_records_free(v, n);
    return rc;
}

typedef struct subcmd {
    const char *name;
    const char *usage;
    int (*fn)(itsm *, int, char **);
} subcmd;

static int dispatch(tb_cli *c, int argc, char **argv, const subcmd *cmds, size_t ncmds,
                    const char *usage)
{
    if (argc < 2)
        return cli_usage_error(usage);
    if (is_help(argv[1]))
        return help(usage);
    for (size_t i = 0; i < ncmds; i++) {
        if (strcmp(argv[1], cmds[i].name) != 0)
            continue;
        for (int k = 2; k < argc; k++)    /* --help answers before opening the store */
            if (is_help(argv[k]))
                return help(cmds[i].usage);
        itsm *h = NULL;
        int ret = open_store(c, &h);
        if (ret)
            return ret;
        ret = cmds[i].fn(h, argc - 1, argv + 1);
        itsm_close(h);
        return ret;
    }
    return cli_usage_error(usage);
}

/* --- ticket create ------------------------------------------------------ */

typedef struct create_args {
    const char *table;
    itsm_kv kv[MAX_SETS + 8];
    size_t n;
    const char *user;
    const char *ci;
} create_args;

static int add_kv(create_args *a, const char *name, const char *value)
{
    if (a->n >= sizeof a->kv / sizeof a->kv[0])
        return -1;
    a->kv[a->n++] = (itsm_kv){name, value};
    return 0;
}

static int parse_create(int argc, char **argv, create_args *a, char *sets[MAX_SETS])
{
    static const struct option opts[] = {
        {"table", required_argument, NULL, 't'},
        {"short-description", required_argument, NULL, 's'},
        {"description", required_argument, NULL, 'd'},
        {"state", required_argument, NULL, 'S'},
        {"assigned-to", required_argument, NULL, 'a'},
        {"ci", required_argument, NULL, 'c'},
        {"approval", required_argument, NULL, 'A'},
        {"set", required_argument, NULL, 'x'},
        {NULL, 0, NULL, 0},
    };
    size_t nsets = 0;
    int o, have_sd = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int r = 0;
        switch (o) {
        case 't': a->table = optarg; break;
        case 's': r = add_kv(a, "short_description", optarg); have_sd = 1; break;
        case 'd': r = add_kv(a, "description", optarg); break;
        case 'S': r = add_kv(a, "state", optarg); break;
        case 'A': r = add_kv(a, "approval", optarg); break;
        case 'a': a->user = optarg; break;
        case 'c': a->ci = optarg; break;
        case 'x': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || nsets >= MAX_SETS)
                return cli_usage_error(U_CREATE);
            char *name = strndup(optarg, (size_t)(eq - optarg));
            if (!name)
                return cli_fail("out of memory");
            sets[nsets++] = name;
            r = add_kv(a, name, eq + 1);
            break;
        }
        default: return cli_usage_error(U_CREATE);
        }
        if (r)
            return cli_usage_error(U_CREATE);
    }
    if (optind != argc || !have_sd)
        return cli_usage_error(U_CREATE);
    return 0;
}

static int ticket_create(itsm *h, int argc, char **argv)
{
    create_args a = {.table = "incident"};
    char *sets[MAX_SETS] = {0};
    char user_id[ITSM_SYS_ID_LEN + 1], ci_id[ITSM_SYS_ID_LEN + 1];
    int ret = parse_create(argc, argv, &a, sets);
    if (ret == 0 && !itsm_is_task_table(a.table))
        ret = cli_fail("not a task table: %s", a.table);
    else if (ret == 0) {
        tb_err rc = TB_OK;
        if (a.user && (rc = lookup(h, "sys_user", "user_name", a.user, user_id)))
            ret = rc == TB_ERR_NOT_FOUND ? cli_fail("no such user: %s", a.user)
                                         : cli_fail("user lookup failed: %s", why(h, rc));
        else if (a.user)
            add_kv(&a, "assigned_to", user_id);
        if (!ret && a.ci && (rc = lookup(h, "cmdb_ci", "name", a.ci, ci_id)))
            ret = rc == TB_ERR_NOT_FOUND ? cli_fail("no such CI: %s", a.ci)
                                         : cli_fail("CI lookup failed: %s", why(h, rc));
        else if (!ret && a.ci)
            add_kv(&a, "cmdb_ci", ci_id);
        itsm_record *r = NULL;
        if (!ret && (rc = itsm_create(h, a.table, a.kv, a.n, &r)))
            ret = cli_fail("cannot create %s: %s%s", a.table, why(h, rc),
                           rc == TB_ERR_INVALID && !*itsm_errmsg(h) ? " (unknown field or bad value)"
                                                                     : "");
        if (!ret)
            printf("%s %s\n", itsm_record_get(r, "number"), r->sys_id);
        itsm_record_free(r);
    }
    for (size_t i = 0; i < MAX_SETS; i++)
        free(sets[i]);
    return ret;
}

/* --- ticket show / list / note ------------------------------------------ */

static int find_ticket(itsm *h, const char *key, itsm_record **r)
{
    tb_err rc = itsm_find_task(h, key, NULL, r);
    if (rc == TB_ERR_NOT_FOUND || rc == TB_ERR_INVALID || rc == TB_ERR_TOO_LARGE)
        return cli_fail("no such ticket: %s", key);
    if (rc)
        return cli_fail("cannot read ticket %s: %s", key, why(h, rc));
    return 0;
}

static int ticket_show(itsm *h, int argc, char **argv)
{
    if (argc != 2)
        return cli_usage_error(U_SHOW);
    itsm_record *r = NULL;
    int ret = find_ticket(h, argv[1], &r);
    if (ret)
        return ret;
    printf("table: %s\n", r->table);
    for (size_t i = 0; i < r->nfields; i++)
        printf("%s: %s\n", r->fields[i].name, r->fields[i].value);

    itsm_kv q[] = {{"element_id", r->sys_id}, {"name", r->table}};
    itsm_record **v = NULL;
    size_t n = 0;
    tb_err rc = itsm_query(h, "sys_journal_field", q, 2, 0, 0, 0, &v, &n);
    if (rc)
        ret = cli_fail("cannot read journal of %s: %s", argv[1], why(h, rc));
    if (n)
        printf("journal:\n");
    for (size_t i = 0; i < n; i++)
        printf("  %s %s (%s): %s\n", itsm_record_get(v[i], "sys_created_on"),
               itsm_record_get(v[i], "sys_created_by"), itsm_record_get(v[i], "element"),
               itsm_record_get(v[i], "value"));
    itsm_records_free(v, n);
    itsm_record_free(r);
    return ret;
}

static void print_ticket_line(itsm *h, const itsm_record *r)
{
    const char *assignee = itsm_record_get(r, "assigned_to");
    itsm_record *u = NULL;
    if (assignee && *assignee && itsm_get(h, "sys_user", assignee, &u) == TB_OK)
        assignee = itsm_record_get(u, "user_name");
    printf("%-14s %-5s %-20s %s\n", itsm_record_get(r, "number"), itsm_record_get(r, "state"),
           or_dash(assignee), itsm_record_get(r, "short_description"));
    itsm_record_free(u);
}

/* --- ticket list --query: a ServiceNow encoded query (itsm_table.h) ------ */

/* The database `ticket list --query` reads through its own itsm_table
 * handle; set by cli_ticket before dispatching. */
static const char *ticket_db_path;

static void warn_ignored(void *ctx, const snq_ignored *p)
{
    (void)ctx;
    if (p->offset == SIZE_MAX)
        fprintf(stderr, "ticketbridge: warning: ignored field '%.*s': %s\n", (int)p->len, p->part,
                p->reason);
    else
        fprintf(stderr, "ticketbridge: warning: ignored query part '%.*s' (at %zu): %s\n",
                (int)p->len, p->part, p->offset, p->reason);
}

/* One line per record: tabs, newlines and backslashes escaped. */
static void print_tsv_value(const char *v)
{
    for (; *v; v++) {
        switch (*v) {
        case '\t': fputs("\\t", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        default: putchar(*v);
        }
    }
}

static void print_tsv(itsm_record **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i == 0) {
            for (size_t k = 0; k < v[0]->nfields; k++)
                printf("%s%s", k ? "\t" : "", v[0]->fields[k].name);
            putchar('\n');
        }
        for (size_t k = 0; k < v[i]->nfields; k++) {
            if (k)
                putchar('\t');
            print_tsv_value(v[i]->fields[k].value);
        }
        putchar('\n');
    }
}

/* Splits "a,b" in place into a NULL-terminated list (empty items kept; the
 * compiler skips them). NULL with *too_many set past SNQ_MAX_PARTS. */
static char **split_fields(char *s, int *too_many)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    if (n > SNQ_MAX_PARTS) {
        *too_many = 1;
        return NULL;
    }
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return NULL;
    size_t i = 0;
    for (char *tok = s;; tok++) {
        v[i++] = tok;
        if (!(tok = strchr(tok, ',')))
            break;
        *tok = '\0';
    }
    return v;
}

static int ticket_query(itsm *h, const char *table, const char *query, const char *fields_arg,
                        size_t limit)
{
    if (!ticket_db_path)
        return cli_fail("ticket list --query and --fields read the embedded store only; "
                        "ticket_store is servicenow");
    char err[256];
    snquery *q = NULL;
    tb_err rc = snquery_parse(query, strlen(query), &q, err, sizeof err);
    if (rc)
        return cli_fail("invalid --query: %s", err);
    char *fields_buf = NULL;
    char **fields = NULL;
    int too_many = 0, ret = 0;
    if (fields_arg && (!(fields_buf = strdup(fields_arg)) ||
                       !(fields = split_fields(fields_buf, &too_many))))
        ret = too_many ? cli_fail("--fields: too many fields (the limit is %d)", SNQ_MAX_PARTS)
                       : cli_fail("out of memory");
    itsm_table *t = NULL;
    if (!ret && (rc = itsm_table_open(ticket_db_path, &t)))
        ret = cli_fail("cannot open ticket store %s: %s", ticket_db_path, tb_strerror(rc));
    itsm_record **v = NULL;
    size_t n = 0, total = 0;
    if (!ret) {
        itsm_table_query req = {.table = table, .q = q, .fields = (const char *const *)fields,
                                .limit = limit, .on_ignored = warn_ignored};
        rc = itsm_embedded_table_query(t, &req, &v, &n, &total);
        if (rc == TB_ERR_NOT_FOUND)
            ret = cli_fail("no such table: %s", table);
        else if (rc)
            ret = cli_fail("query failed: %s", tb_strerror(rc));
    }
    if (!ret && !fields && itsm_is_task_table(table)) {
        for (size_t i = 0; i < n; i++)
            print_ticket_line(h, v[i]);
    } else if (!ret) {
        print_tsv(v, n);
    }
    if (!ret && n < total)
        fprintf(stderr, "ticketbridge: %zu of %zu matching records shown\n", n, total);
    itsm_records_free(v, n);
    itsm_table_close(t);
    free(fields);
    free(fields_buf);
    snquery_free(q);
    return ret;
}

static int ticket_list(itsm *h, int argc, char **argv)
{
    static const struct option opts[] = {
        {"table", required_argument, NULL, 't'},
        {"limit", required_argument, NULL, 'l'},
        {"query", required_argument, NULL, 'q'},
        {"fields", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    const char *one[2] = {NULL, NULL};
    const char *query = NULL, *fields = NULL;
    size_t limit = 0;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (o) {
        case 't': one[0] = optarg; break;
        case 'q': query = optarg; break;
        case 'f': fields = optarg; break;
        case 'l':
            limit = strtoul(optarg, &end, 10);
            if (*end || !*optarg || *optarg == '-' || limit == 0 || limit > ITSM_MAX_ROWS)
                return cli_usage_error(U_LIST);
            break;
        default: return cli_usage_error(U_LIST);
        }
    }
    if (optind != argc)
        return cli_usage_error(U_LIST);
    if (query || fields)
        return ticket_query(h, one[0] ? one[0] : "incident", query ? query : "", fields, limit);
    if (one[0] && !itsm_is_task_table(one[0]))
        return cli_fail("not a task table: %s", one[0]);
    const char *const *tables = one[0] ? one : itsm_task_tables;
    size_t printed = 0;
    for (size_t t = 0; tables[t] && (!limit || printed < limit); t++) {
        itsm_record **v = NULL;
        size_t n = 0;
        tb_err rc = itsm_query(h, tables[t], NULL, 0, 0, limit ? limit - printed : 0, 0, &v, &n);
        if (rc)
            return cli_fail("cannot list %s: %s", tables[t], why(h, rc));
        for (size_t i = 0; i < n; i++)
            print_ticket_line(h, v[i]);
        printed += n;
        itsm_records_free(v, n);
    }
    return 0;
}

static int ticket_note(itsm *h, int argc, char **argv)
{
    /* --once MARKER: only if no work note of the ticket contains MARKER (the
     * ServiceNow store; how jobs keep notes idempotent across retries) */
    const char *marker = NULL;
    if (argc == 5 && strcmp(argv[3], "--once") == 0 && *argv[4])
        marker = argv[4];
    else if (argc != 3)
        return cli_usage_error(U_NOTE);
    if (!*argv[2])
        return cli_usage_error(U_NOTE);
    if (marker && !itsm_servicenow_errmsg(h))
        return cli_fail("--once needs ticket_store = servicenow");
    itsm_record *r = NULL;
    int ret = find_ticket(h, argv[1], &r);
    if (ret)
        return ret;
    const char *who = getenv("USER");
    if (!who || !*who || strlen(who) > 64)
        who = "ticketbridge";
    int written = 1;
    tb_err rc = marker ? itsm_servicenow_journal_once(h, r->table, r->sys_id, "work_notes", marker,
                                                      argv[2], &written)
                       : itsm_add_journal(h, r->table, r->sys_id, "work_notes", argv[2], who);
    if (rc)
        ret = cli_fail("cannot add note to %s: %s", argv[1], why(h, rc));
    else if (!written)
        printf("a note with that marker is already there\n");
    itsm_record_free(r);
    return ret;
}

static int ticket_update(itsm *h, int argc, char **argv)
{
    if (argc < 3 || argc - 2 > MAX_SETS)
        return cli_usage_error(U_UPDATE);
    itsm_kv kv[MAX_SETS];
    char *sets[MAX_SETS] = {0};
    int ret = 0;
    size_t n = 0;
    for (int i = 2; !ret && i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i] || !(sets[n] = strdup(argv[i])))
            ret = eq && eq != argv[i] ? cli_fail("out of memory") : cli_usage_error(U_UPDATE);
        else {
            sets[n][eq - argv[i]] = '\0';
            kv[n] = (itsm_kv){sets[n], sets[n] + (eq - argv[i]) + 1};
            n++;
        }
    }
    itsm_record *r = NULL;
    if (!ret)
        ret = find_ticket(h, argv[1], &r);
    tb_err rc;
    if (!ret && (rc = itsm_update(h, r->table, r->sys_id, kv, n)))
        ret = cli_fail("cannot update %s: %s", argv[1], why(h, rc));
    itsm_record_free(r);
    for (size_t i = 0; i < n; i++)
        free(sets[i]);
    return ret;
}

/* The whole file, at most ITSM_MAX_ATTACHMENT bytes. */
static int read_upload(const char *path, char **data, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cli_fail("cannot read %s", path);
    tb_buf b;
    tb_buf_init(&b, ITSM_MAX_ATTACHMENT);
    char chunk[65536];
    size_t got;
    tb_err rc = TB_OK;
    while (!rc && (got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        rc = tb_buf_append(&b, chunk, got);
    int bad = ferror(fp);
    fclose(fp);
    if (rc || bad) {
        tb_buf_free(&b);
        return rc == TB_ERR_TOO_LARGE ? cli_fail("%s is larger than %u bytes", path, ITSM_MAX_ATTACHMENT)
                                      : cli_fail("cannot read %s", path);
    }
    *len = b.len;
    *data = tb_buf_take(&b);
    return 0;
}

static int ticket_attach(itsm *h, int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 't'},
        {"name", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    const char *type = "application/octet-stream", *name = NULL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 't')
            type = optarg;
        else if (o == 'n')
            name = optarg;
        else
            return cli_usage_error(U_ATTACH);
    }
    if (argc - optind != 2)
        return cli_usage_error(U_ATTACH);
    const char *key = argv[optind], *path = argv[optind + 1];
    if (!name) {
        const char *slash = strrchr(path, '/');
        name = slash ? slash + 1 : path;
    }
    char *data = NULL;
    size_t len = 0;
    itsm_record *r = NULL, *a = NULL;
    int ret = read_upload(path, &data, &len);
    if (!ret)
        ret = find_ticket(h, key, &r);
    tb_err rc;
    if (!ret && (rc = itsm_attach(h, r->table, r->sys_id, name, type, data, len, &a)))
        ret = cli_fail("cannot attach %s to %s: %s", name, key, why(h, rc));
    if (!ret)
        printf("%s %s\n", a->sys_id, or_dash(itsm_record_get(a, "size_bytes")));
    itsm_record_free(a);
    itsm_record_free(r);
    free(data);
    return ret;
}

int cli_ticket(tb_cli *c, int argc, char **argv)
{
    ticket_db_path = itsm_is_remote(&c->cfg) ? NULL : c->cfg.database;
    static const subcmd cmds[] = {
        {"create", U_CREATE, ticket_create},
        {"show", U_SHOW, ticket_show},
        {"list", U_LIST, ticket_list},
        {"note", U_NOTE, ticket_note},
        {"update", U_UPDATE, ticket_update},
        {"attach", U_ATTACH, ticket_attach},
    };
    return dispatch(c, argc, argv, cmds, sizeof cmds / sizeof cmds[0], U_TICKET);
}

/* --- ci ----------------------------------------------------------------- */

static int ci_add(itsm *h, int argc, char **argv)
{
    static const struct option opts[] = {
        {"class", required_argument, NULL, 'c'},
        {"ip", required_argument, NULL, 'i'},
        {"fqdn", required_argument, NULL, 'f'},
        {"os", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    itsm_kv kv[6];
    size_t n = 0;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'c': kv[n++] = (itsm_kv){"sys_class_name", optarg}; break;
        case 'i': kv[n++] = (itsm_kv){"ip_address", optarg}; break;
        case 'f': kv[n++] = (itsm_kv){"fqdn", optarg}; break;
        case 'o': kv[n++] = (itsm_kv){"os", optarg}; break;
        default: return cli_usage_error(U_CI_ADD);
        }
        if (n > 4)
            return cli_usage_error(U_CI_ADD);
    }
    if (optind != argc - 1 || !*argv[optind])
        return cli_usage_error(U_CI_ADD);
    const char *name = argv[optind];
    char id[ITSM_SYS_ID_LEN + 1];
    tb_err rc = lookup(h, "cmdb_ci", "name", name, id);
    if (rc == TB_OK)
        return cli_fail("CI already exists: %s", name);
    kv[n++] = (itsm_kv){"name", name};
    itsm_record *r = NULL;
    if ((rc = itsm_create(h, "cmdb_ci", kv, n, &r)))
        return cli_fail("cannot add CI %s: %s", name, why(h, rc));
    printf("%s %s\n", name, r->sys_id);
    itsm_record_free(r);
    return 0;
}

static int ci_list(itsm *h, int argc, char **argv)
{
    if (argc != 1)
        return cli_usage_error(U_CI_LIST);
    itsm_record **v = NULL;
    size_t n = 0;
    tb_err rc = itsm_query(h, "cmdb_ci", NULL, 0, 0, 0, 0, &v, &n);
    if (rc)
        return cli_fail("cannot list CIs: %s", why(h, rc));
    for (size_t i = 0; i < n; i++)
        printf("%-24s %-20s %-16s %s\n", or_dash(itsm_record_get(v[i], "name")),
               or_dash(itsm_record_get(v[i], "sys_class_name")),
               or_dash(itsm_record_get(v[i], "ip_address")),
               or_dash(itsm_record_get(v[i], "fqdn")));
    itsm_records_free(v, n);
    return 0;
}

/* --- sys-user ----------------------------------------------------------- */

static int user_add(itsm *h, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"email", required_argument, NULL, 'e'},
        {"bt-username", required_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    const char *full = NULL, *email = NULL, *bt = NULL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'n': full = optarg; break;
        case 'e': email = optarg; break;
        case 'b': bt = optarg; break;
        default: return cli_usage_error(U_USER_ADD);
        }
    }
    if (optind != argc - 1 || !*argv[optind])
        return cli_usage_error(U_USER_ADD);
    const char *user_name = argv[optind];
    itsm_kv kv[6];
    size_t n = 0;
    kv[n++] = (itsm_kv){"user_name", user_name};
    char *first = NULL;
    if (full) {
        /* ServiceNow keeps name = "first last" next to its parts. */
        const char *sp = strchr(full, ' ');
        kv[n++] = (itsm_kv){"name", full};
        if (sp && (first = strndup(full, (size_t)(sp - full)))) {
            kv[n++] = (itsm_kv){"first_name", first};
            kv[n++] = (itsm_kv){"last_name", sp + 1};
        }
    }
    if (email)
        kv[n++] = (itsm_kv){"email", email};
    if (bt)
        kv[n++] = (itsm_kv){"u_beyondtrust_username", bt};
    itsm_record *r = NULL;
    tb_err rc = itsm_create(h, "sys_user", kv, n, &r);
    free(first);
    if (rc == TB_ERR_EXISTS)
        return cli_fail("user already exists: %s", user_name);
    if (rc)
        return cli_fail("cannot add user %s: %s", user_name, why(h, rc));
    printf("%s %s\n", user_name, r->sys_id);
    itsm_record_free(r);
    return 0;
}

static int user_list(itsm *h, int argc, char **argv)
{
    if (argc != 1)
        return cli_usage_error(U_USER_LIST);
    itsm_record **v = NULL;
    size_t n = 0;
    tb_err rc = itsm_query(h, "sys_user", NULL, 0, 0, 0, 0, &v, &n);
    if (rc)
        return cli_fail("cannot list users: %s", why(h, rc));
    for (size_t i = 0; i < n; i++)
        printf("%-20s %-24s %-28s %s\n", itsm_record_get(v[i], "user_name"),
               or_dash(itsm_record_get(v[i], "name")), or_dash(itsm_record_get(v[i], "email")),
               or_dash(itsm_record_get(v[i], "u_beyondtrust_username")));
    itsm_records_free(v, n);
    return 0;
}

int cli_ci(tb_cli *c, int argc, char **argv)
{
    static const subcmd cmds[] = {{"add", U_CI_ADD, ci_add}, {"list", U_CI_LIST, ci_list}};
    return dispatch(c, argc, argv, cmds, 2, U_CI);
}

int cli_sys_user(tb_cli *c, int argc, char **argv)
{
    static const subcmd cmds[] = {{"add", U_USER_ADD, user_add},
                                  {"list", U_USER_LIST, user_list}};
    return dispatch(c, argc, argv, cmds, 2, U_USER);
}
