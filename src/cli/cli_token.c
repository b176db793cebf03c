/* ticketbridge token create|list|revoke: API tokens (Authorization: Bearer)
 * of ticketbridge's users. A token is printed once; only its hash is kept. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "flow/accounts.h"
#include "store/store.h"

#define U_CREATE "ticketbridge token create USERNAME --name NAME [--expires-days N]"
#define U_LIST "ticketbridge token list [USERNAME]"
#define U_REVOKE "ticketbridge token revoke ID"
#define U_TOKEN                                                                                    \
    "ticketbridge token COMMAND ...\n"                                                             \
    "  " U_CREATE "   (prints the token once)\n"                                                   \
    "  " U_LIST "\n"                                                                               \
    "  " U_REVOKE "\n"                                                                             \
    "Clients send it as 'Authorization: Bearer tbk_...'."

static int open_db(tb_cli *cli, bool write, tb_store **st)
{
    tb_err e = store_open(cli->cfg.database, write ? 0 : STORE_READ_ONLY, st);
    if (e)
        return cli_fail("cannot open database %s: %s (run 'ticketbridge init' first?)", cli->cfg.database,
                        tb_strerror(e));
    return 0;
}

static int token_create(tb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, 0, 'n'},
        {"expires-days", required_argument, 0, 'e'},
        {0, 0, 0, 0},
    };
    const char *name = NULL;
    long days = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'n': name = optarg; break;
        case 'e':
            days = strtol(optarg, &end, 10);
            if (end == optarg || *end || days < 1 || days > ACCOUNTS_TOKEN_DAYS_MAX)
                return cli_fail("--expires-days: expected 1-%d, got '%s'", ACCOUNTS_TOKEN_DAYS_MAX, optarg);
            break;
        default: return cli_usage_error(U_CREATE);
        }
    }
    if (optind != argc - 1 || !name)
        return cli_usage_error(U_CREATE);
    const char *username = argv[optind];
    tb_store *st;
    int rc = open_db(cli, true, &st);
    if (rc)
        return rc;
    char token[CREDENTIAL_TOKEN_LEN + 1], err[256];
    int64_t id = 0;
    tb_err e = accounts_token_create(st, username, name, (int)days, token, &id, err, sizeof err);
    store_close(st);
    if (e)
        return cli_fail("%s", err);
    printf("%s\n", token);
    fprintf(stderr, "token %lld for %s; it is shown only now\n", (long long)id, username);
    sodium_memzero(token, sizeof token);
    return 0;
}

static void fmt_time(int64_t t, char *out, size_t outsz)
{
    if (t)
        tb_fmt_utc(t, out, outsz);
    else
        snprintf(out, outsz, "-");
}

static int token_list(tb_cli *cli, int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
        return cli_usage_error(U_LIST);
    const char *username = argc == 2 ? argv[1] : NULL;
    tb_store *st;
    int rc = open_db(cli, false, &st);
    if (rc)
        return rc;
    tb_api_token *v;
    size_t n;
    tb_err e = store_token_list(st, username, &v, &n);
    if (!e && username && !n) {
        tb_account a;
        if (store_account_find(st, username, &a, NULL) == TB_ERR_NOT_FOUND)
            e = TB_ERR_NOT_FOUND;
        else
            tb_account_clear(&a);
    }
    store_close(st);
    if (e == TB_ERR_NOT_FOUND)
        return cli_fail("no such user: %s", username);
    if (e)
        return cli_fail("cannot list tokens: %s", tb_strerror(e));
    int wu = (int)strlen("USER"), wn = (int)strlen("NAME");
    for (size_t i = 0; i < n; i++) {
        int lu = (int)strlen(v[i].username), ln = (int)strlen(v[i].name);
        wu = lu > wu ? lu : wu;
        wn = ln > wn ? ln : wn;
    }
    printf("%-6s  %-*s  %-*s  %-10s  %-19s  %-19s  %-19s  %s\n", "ID", wu, "USER", wn, "NAME", "PREFIX",
           "CREATED (UTC)", "EXPIRES", "LAST USED", "REVOKED");
    for (size_t i = 0; i < n; i++) {
        char created[32], expires[32], used[32], revoked[32];
        fmt_time(v[i].created_at, created, sizeof created);
        fmt_time(v[i].expires_at, expires, sizeof expires);
        fmt_time(v[i].last_used_at, used, sizeof used);
        fmt_time(v[i].revoked_at, revoked, sizeof revoked);
        printf("%-6lld  %-*s  %-*s  %-10s  %-19s  %-19s  %-19s  %s\n", (long long)v[i].id, wu, v[i].username, wn,
               v[i].name, v[i].prefix, created, expires, used, revoked);
    }
    tb_api_tokens_free(v, n);
    return 0;
}

static int token_revoke(tb_cli *cli, int argc, char **argv)
{
    if (argc != 2)
        return cli_usage_error(U_REVOKE);
    char *end;
    long long id = strtoll(argv[1], &end, 10);
    if (end == argv[1] || *end || id < 1)
        return cli_fail("expected a token id (see 'ticketbridge token list'), got '%s'", argv[1]);
    tb_store *st;
    int rc = open_db(cli, true, &st);
    if (rc)
        return rc;
    char err[256];
    tb_err e = accounts_token_revoke(st, (int64_t)id, err, sizeof err);
    store_close(st);
    if (e)
        return cli_fail("%s", err);
    printf("token %lld revoked\n", id);
    return 0;
}

int cli_token(tb_cli *cli, int argc, char **argv)
{
    static const cli_subcmd cmds[] = {
        {"create", U_CREATE, token_create, NULL},
        {"list", U_LIST, token_list, NULL},
        {"revoke", U_REVOKE, token_revoke, NULL},
    };
    return cli_dispatch(cli, argc, argv, cmds, sizeof cmds / sizeof *cmds, U_TOKEN);
}
