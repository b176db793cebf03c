/* ticketbridge user add|list|passwd|roles|disable|enable|remove: the users
 * who may call ticketbridge's API (not the ticket store's sys_user). */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/roles.h"
#include "core/secret.h"
#include "flow/accounts.h"
#include "store/store.h"

#define U_ADD "ticketbridge user add USERNAME [--roles r1,r2] [--password-file FILE|-]"
#define U_LIST "ticketbridge user list"
#define U_PASSWD "ticketbridge user passwd USERNAME [--password-file FILE|-]"
#define U_ROLES "ticketbridge user roles USERNAME [--set r1,r2 | --add r1,r2 | --remove r1,r2] | user roles --list"
#define U_STATE "ticketbridge user disable|enable|remove USERNAME"
#define U_USER                                                                                      \
    "ticketbridge user COMMAND ...\n"                                                               \
    "  " U_ADD "\n"                                                                                 \
    "  " U_LIST "\n"                                                                                \
    "  " U_PASSWD "\n"                                                                              \
    "  " U_ROLES "\n"                                                                               \
    "  " U_STATE "\n"                                                                               \
    "Without --password-file a password is generated and printed once; passwords need at least\n"  \
    "12 characters. 'ticketbridge user roles --list' lists the roles."

static int open_db(tb_cli *cli, bool write, tb_store **st)
{
    tb_err e = store_open(cli->cfg.database, write ? 0 : STORE_READ_ONLY, st);
    if (e)
        return cli_fail("cannot open database %s: %s (run 'ticketbridge init' first?)", cli->cfg.database,
                        tb_strerror(e));
    return 0;
}

static void print_catalogue(void)
{
    for (size_t i = 0; i < tb_roles_count; i++)
        printf("  %-31s %s\n", tb_roles[i].name, tb_roles[i].description);
}

static void warn_deprecated(const char *roles)
{
    uint32_t mask = 0;
    if (roles_mask(roles, &mask, NULL, 0))
        return;
    for (size_t i = 0; i < tb_roles_count; i++)
        if (tb_roles[i].deprecated && (mask & (1u << i)))
            fprintf(stderr, "ticketbridge: warning: %s is deprecated; give %s and %s instead\n", tb_roles[i].name,
                    ROLE_PRA_DATA_VIEWER, ROLE_PRA_JUMP_USER);
}

/* The password from --password-file, else a generated one (*generated). */
static int get_password(const char *file, char **password, bool *generated)
{
    *generated = !file;
    if (file)
        return cli_read_secret_file("password-file", file, password);
    char pw[CREDENTIAL_PASSWORD_GENERATED + 1];
    accounts_new_password(pw);
    *password = strdup(pw);
    sodium_memzero(pw, sizeof pw);
    return *password ? 0 : cli_fail("out of memory");
}

/* Options of the subcommands; each accepts a subset. */
enum { O_ROLES = 1, O_PWFILE = 2, O_SET = 4, O_ADD = 8, O_REMOVE = 16, O_LIST = 32 };

struct opts {
    const char *name;
    const char *roles;
    const char *password_file;
    const char *set, *add, *remove;
    bool list;
};

/* "USERNAME [options]" (or --list alone); argv[0] is the subcommand.
 * Returns 0, or the exit code of a usage error. */
static int parse(int argc, char **argv, const char *usage, unsigned allowed, struct opts *o)
{
    static const struct option all[] = {
        {"roles", required_argument, 0, O_ROLES},
        {"password-file", required_argument, 0, O_PWFILE},
        {"set", required_argument, 0, O_SET},
        {"add", required_argument, 0, O_ADD},
        {"remove", required_argument, 0, O_REMOVE},
        {"list", no_argument, 0, O_LIST},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c, nchanges = 0;
    while ((c = getopt_long(argc, argv, "", all, NULL)) != -1) {
        if (c == '?' || !((unsigned)c & allowed))
            return cli_usage_error(usage);
        switch (c) {
        case O_ROLES: o->roles = optarg; break;
        case O_PWFILE: o->password_file = optarg; break;
        case O_SET: o->set = optarg; nchanges++; break;
        case O_ADD: o->add = optarg; nchanges++; break;
        case O_REMOVE: o->remove = optarg; nchanges++; break;
        case O_LIST: o->list = true; break;
        }
    }
    if (nchanges > 1)
        return cli_usage_error(usage);
    if (o->list)
        return optind == argc && !nchanges ? 0 : cli_usage_error(usage);
    if (optind != argc - 1)
        return cli_usage_error(usage);
    o->name = argv[optind];
    return 0;
}

static int user_add(tb_cli *cli, int argc, char **argv)
{
    struct opts o;
    int rc = parse(argc, argv, U_ADD, O_ROLES | O_PWFILE, &o);
    if (rc)
        return rc;
    char *password = NULL;
    bool generated;
    if ((rc = get_password(o.password_file, &password, &generated)))
        return rc;
    tb_store *st;
    if ((rc = open_db(cli, true, &st))) {
        tb_secret_free(password);
        return rc;
    }
    char err[256];
    tb_err e = accounts_add(st, o.name, password, o.roles ? o.roles : "", err, sizeof err);
    store_close(st);
    if (e)
        rc = cli_fail("%s", err);
    else if (generated)
        printf("User: %s\nPassword: %s\n(shown only now)\n", o.name, password);
    else
        printf("user %s added\n", o.name);
    if (!e && o.roles)
        warn_deprecated(o.roles);
    tb_secret_free(password);
    return rc;
}

static int user_list(tb_cli *cli, int argc, char **argv)
{
    if (argc != 1)
        return cli_usage_error(U_LIST);
    tb_store *st;
    int rc = open_db(cli, false, &st);
    if (rc)
        return rc;
    tb_account *v;
    size_t n;
    tb_err e = store_account_list(st, &v, &n);
    store_close(st);
    if (e)
        return cli_fail("cannot list users: %s", tb_strerror(e));
    int wu = (int)strlen("USERNAME"), wr = (int)strlen("ROLES");
    for (size_t i = 0; i < n; i++) {
        int lu = (int)strlen(v[i].username), lr = (int)strlen(v[i].roles[0] ? v[i].roles : "-");
        wu = lu > wu ? lu : wu;
        wr = lr > wr ? lr : wr;
    }
    printf("%-*s  %-*s  %-8s  %6s  %s\n", wu, "USERNAME", wr, "ROLES", "DISABLED", "TOKENS", "CREATED (UTC)");
    for (size_t i = 0; i < n; i++) {
        char created[32];
        tb_fmt_utc(v[i].created_at, created, sizeof created);
        printf("%-*s  %-*s  %-8s  %6lld  %s\n", wu, v[i].username, wr, v[i].roles[0] ? v[i].roles : "-",
               v[i].disabled ? "yes" : "no", (long long)v[i].tokens, created);
    }
    tb_accounts_free(v, n);
    return 0;
}

static int user_passwd(tb_cli *cli, int argc, char **argv)
{
    struct opts o;
    int rc = parse(argc, argv, U_PASSWD, O_PWFILE, &o);
    if (rc)
        return rc;
    char *password = NULL;
    bool generated;
    if ((rc = get_password(o.password_file, &password, &generated)))
        return rc;
    tb_store *st;
    if ((rc = open_db(cli, true, &st))) {
        tb_secret_free(password);
        return rc;
    }
    char err[256];
    tb_err e = accounts_set_password(st, o.name, password, err, sizeof err);
    store_close(st);
    if (e)
        rc = cli_fail("%s", err);
    else if (generated)
        printf("User: %s\nNew password: %s\n(shown only now)\n", o.name, password);
    else
        printf("password of %s changed\n", o.name);
    tb_secret_free(password);
    return rc;
}

static int user_roles(tb_cli *cli, int argc, char **argv)
{
    struct opts o;
    int rc = parse(argc, argv, U_ROLES, O_SET | O_ADD | O_REMOVE | O_LIST, &o);
    if (rc)
        return rc;
    if (o.list) {
        print_catalogue();
        return 0;
    }
    const char *change = o.set ? o.set : o.add ? o.add : o.remove;
    tb_store *st;
    if ((rc = open_db(cli, change != NULL, &st)))
        return rc;
    char err[256], roles[ROLES_CSV_MAX];
    tb_err e;
    if (change) {
        accounts_roles_op op = o.set ? ACCOUNTS_ROLES_SET : o.add ? ACCOUNTS_ROLES_ADD : ACCOUNTS_ROLES_REMOVE;
        e = accounts_change_roles(st, o.name, op, change, roles, err, sizeof err);
    } else {
        tb_account a;
        e = store_account_find(st, o.name, &a, NULL);
        if (!e) {
            snprintf(roles, sizeof roles, "%s", a.roles);
            tb_account_clear(&a);
        } else if (e == TB_ERR_NOT_FOUND) {
            snprintf(err, sizeof err, "no such user: %s", o.name);
        } else {
            snprintf(err, sizeof err, "cannot read user %s: %s", o.name, tb_strerror(e));
        }
    }
    store_close(st);
    if (e)
        return cli_fail("%s", err);
    if (change)
        warn_deprecated(roles);
    char *copy = strdup(roles);
    if (!copy)
        return cli_fail("out of memory");
    for (char *save, *r = strtok_r(copy, ",", &save); r; r = strtok_r(NULL, ",", &save))
        printf("%s\n", r);
    free(copy);
    if (!roles[0])
        fprintf(stderr, "(%s has no roles)\n", o.name);
    return 0;
}

static int user_state(tb_cli *cli, int argc, char **argv)
{
    struct opts o;
    int rc = parse(argc, argv, U_STATE, 0, &o);
    if (rc)
        return rc;
    tb_store *st;
    if ((rc = open_db(cli, true, &st)))
        return rc;
    char err[256];
    tb_err e;
    const char *done;
    if (!strcmp(argv[0], "remove")) {
        e = accounts_remove(st, o.name, err, sizeof err);
        done = "removed, with its tokens";
    } else {
        bool disable = !strcmp(argv[0], "disable");
        e = accounts_set_disabled(st, o.name, disable, err, sizeof err);
        done = disable ? "disabled" : "enabled";
    }
    store_close(st);
    if (e)
        return cli_fail("%s", err);
    printf("user %s %s\n", o.name, done);
    return 0;
}

static void roles_help(void)
{
    printf("roles:\n");
    print_catalogue();
}

int cli_user(tb_cli *cli, int argc, char **argv)
{
    static const cli_subcmd cmds[] = {
        {"add", U_ADD, user_add, NULL},       {"list", U_LIST, user_list, NULL},     {"passwd", U_PASSWD, user_passwd, NULL},
        {"roles", U_ROLES, user_roles, roles_help}, {"disable", U_STATE, user_state, NULL},
        {"enable", U_STATE, user_state, NULL}, {"remove", U_STATE, user_state, NULL},
    };
    return cli_dispatch(cli, argc, argv, cmds, sizeof cmds / sizeof *cmds, U_USER);
}
