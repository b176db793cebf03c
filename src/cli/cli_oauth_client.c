/* ticketbridge oauth-client add|list|remove: the OAuth clients ("Application
 * Registry" entries) that may take tokens at /oauth_token.do. The secret is
 * read from a file and stored only as a hash. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/credential.h"
#include "core/secret.h"
#include "store/store_oauth.h"

#define U_ADD "ticketbridge oauth-client add CLIENT_ID --secret-file F [--run-as USER] [--lifetime SECONDS]"
#define U_LIST "ticketbridge oauth-client list"
#define U_REMOVE "ticketbridge oauth-client remove CLIENT_ID"
#define U_OAUTH                                                                                    \
    "ticketbridge oauth-client COMMAND ...\n"                                                      \
    "  " U_ADD "\n"                                                                                \
    "  " U_LIST "\n"                                                                               \
    "  " U_REMOVE "   (its tokens stop working)\n"                                                 \
    "Clients take tokens at POST /oauth_token.do (password grant, or client_credentials\n"        \
    "acting as --run-as USER)."

static int open_db(tb_cli *cli, bool write, tb_store **st)
{
    tb_err e = store_open(cli->cfg.database, write ? 0 : STORE_READ_ONLY, st);
    if (e)
        return cli_fail("cannot open database %s: %s (run 'ticketbridge init' first?)", cli->cfg.database,
                        tb_strerror(e));
    return 0;
}

static int client_add(tb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"secret-file", required_argument, 0, 's'},
        {"run-as", required_argument, 0, 'r'},
        {"lifetime", required_argument, 0, 'l'},
        {0, 0, 0, 0},
    };
    const char *secret_file = NULL, *run_as = NULL;
    long lifetime = OAUTH_LIFETIME_DEFAULT;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 's': secret_file = optarg; break;
        case 'r': run_as = optarg; break;
        case 'l':
            lifetime = strtol(optarg, &end, 10);
            if (end == optarg || *end || lifetime < 1 || lifetime > OAUTH_LIFETIME_MAX)
                return cli_fail("--lifetime: expected 1-%d seconds, got '%s'", OAUTH_LIFETIME_MAX, optarg);
            break;
        default: return cli_usage_error(U_ADD);
        }
    }
    if (optind != argc - 1 || !secret_file)
        return cli_usage_error(U_ADD);
    const char *client_id = argv[optind];
    if (!credential_username_valid(client_id))
        return cli_fail("client ids are 1-64 letters, digits and . _ - @, starting with a letter or digit");
    if (run_as && !credential_username_valid(run_as))
        return cli_fail("--run-as: not a user name: '%s'", run_as);
    char *secret = NULL;
    int rc = cli_read_secret_file("secret-file", secret_file, &secret);
    if (rc)
        return rc;
    const char *problem = credential_password_problem(secret);
    char hash[128];
    tb_err e = problem ? TB_ERR_INVALID : tb_password_hash(secret, hash);
    tb_secret_free(secret);
    if (problem)
        return cli_fail("--secret-file: the secret %s", problem);
    if (e)
        return cli_fail("cannot hash the secret: %s", tb_strerror(e));
    tb_store *st;
    if ((rc = open_db(cli, true, &st)))
        return rc;
    e = store_oauth_client_add(st, client_id, hash, run_as, lifetime);
    store_close(st);
    if (e == TB_ERR_EXISTS)
        return cli_fail("OAuth client %s already exists (remove it first)", client_id);
    if (e == TB_ERR_NOT_FOUND)
        return cli_fail("--run-as: no such user: %s (see 'ticketbridge user list')", run_as);
    if (e)
        return cli_fail("cannot add OAuth client %s: %s", client_id, tb_strerror(e));
    printf("OAuth client %s added (tokens valid %ld s%s%s)\n", client_id, lifetime,
           run_as ? ", client_credentials as " : "", run_as ? run_as : "");
    return 0;
}

static int client_list(tb_cli *cli, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return cli_usage_error(U_LIST);
    tb_store *st;
    int rc = open_db(cli, false, &st);
    if (rc)
        return rc;
    tb_oauth_client *v;
    size_t n;
    tb_err e = store_oauth_client_list(st, &v, &n);
    store_close(st);
    if (e)
        return cli_fail("cannot list OAuth clients: %s", tb_strerror(e));
    int w = (int)strlen("CLIENT_ID");
    for (size_t i = 0; i < n; i++)
        w = (int)strlen(v[i].client_id) > w ? (int)strlen(v[i].client_id) : w;
    printf("%-*s  %-16s  %-8s  %-11s  %s\n", w, "CLIENT_ID", "RUN AS", "LIFETIME", "LIVE TOKENS", "CREATED (UTC)");
    for (size_t i = 0; i < n; i++) {
        char created[32];
        tb_fmt_utc(v[i].created_at, created, sizeof created);
        printf("%-*s  %-16s  %-8lld  %-11lld  %s\n", w, v[i].client_id, v[i].run_as[0] ? v[i].run_as : "-",
               (long long)v[i].lifetime, (long long)v[i].live_tokens, created);
    }
    free(v);
    return 0;
}

static int client_remove(tb_cli *cli, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-')
        return cli_usage_error(U_REMOVE);
    tb_store *st;
    int rc = open_db(cli, true, &st);
    if (rc)
        return rc;
    tb_err e = store_oauth_client_remove(st, argv[1]);
    store_close(st);
    if (e == TB_ERR_NOT_FOUND)
        return cli_fail("no such OAuth client: %s", argv[1]);
    if (e)
        return cli_fail("cannot remove OAuth client %s: %s", argv[1], tb_strerror(e));
    printf("OAuth client %s removed, with its tokens\n", argv[1]);
    return 0;
}

int cli_oauth_client(tb_cli *cli, int argc, char **argv)
{
    static const cli_subcmd cmds[] = {
        {"add", U_ADD, client_add, NULL},
        {"list", U_LIST, client_list, NULL},
        {"remove", U_REMOVE, client_remove, NULL},
    };
    return cli_dispatch(cli, argc, argv, cmds, sizeof cmds / sizeof *cmds, U_OAUTH);
}
