/* ticketbridge account add: who may log in to ticketbridge's own API/UI. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/secret.h"
#include "store/store.h"

#define ACCOUNT_USAGE "ticketbridge account add USERNAME [--roles r1,r2]  (prints a generated password once)"

int cli_account(tb_cli *cli, int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
        printf("usage: %s\n", ACCOUNT_USAGE);
        return 0;
    }
    if (argc < 3 || strcmp(argv[1], "add"))
        return cli_usage_error(ACCOUNT_USAGE);
    const char *username = argv[2], *roles = "";
    if (argc == 5 && !strcmp(argv[3], "--roles"))
        roles = argv[4];
    else if (argc != 3)
        return cli_usage_error(ACCOUNT_USAGE);
    size_t n = strlen(username);
    if (!n || n > 100 || strpbrk(username, ": \t\r\n"))
        return cli_fail("username must be 1-100 characters without spaces or ':'");
    if (strlen(roles) > 1000 || strpbrk(roles, " \t\r\n"))
        return cli_fail("--roles: comma-separated role names without spaces");
    tb_store *st;
    tb_err e = store_open(cli->cfg.database, 0, &st);
    if (e)
        return cli_fail("cannot open database %s: %s", cli->cfg.database, tb_strerror(e));
    char password[21], hash[128];
    tb_random_token(password, 20);
    e = tb_password_hash(password, hash);
    if (!e)
        e = store_account_add(st, username, hash, roles);
    store_close(st);
    if (e == TB_ERR_EXISTS)
        return cli_fail("account %s already exists", username);
    if (e)
        return cli_fail("cannot add account: %s", tb_strerror(e));
    printf("Account: %s\nPassword: %s\n(shown only now)\n", username, password);
    return 0;
}
