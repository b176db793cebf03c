/* ticketbridge init: database, secret key, Default appliance, admin user. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/secret.h"
#include "flow/accounts.h"
#include "itsm/itsm.h"
#include "store/store.h"

#define INIT_USAGE "ticketbridge init [--product rs|pra] [--hostname HOST] [--admin NAME]"

int cli_init(tb_cli *cli, int argc, char **argv)
{
    const char *product = "rs", *hostname = "", *admin = "admin";
    static const struct option opts[] = {
        {"product", required_argument, 0, 'p'},
        {"hostname", required_argument, 0, 'H'},
        {"admin", required_argument, 0, 'a'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p': product = optarg; break;
        case 'H': hostname = optarg; break;
        case 'a': admin = optarg; break;
        case 'h': printf("usage: %s\n", INIT_USAGE); return 0;
        default: return cli_usage_error(INIT_USAGE);
        }
    }
    if (optind != argc)
        return cli_usage_error(INIT_USAGE);
    if (strcmp(product, "rs") && strcmp(product, "pra"))
        return cli_fail("--product must be rs or pra");
    if (!credential_username_valid(admin))
        return cli_fail("--admin: user names are 1-64 characters: letters, digits and . _ - @, "
                        "starting with a letter or digit");

    const char *db = cli->cfg.database;
    char kp[TB_PATH_MAX + 8];
    tb_config_key_path(&cli->cfg, kp, sizeof kp);
    if (access(db, F_OK) == 0)
        return cli_fail("%s already exists; refusing to initialise it again", db);
    tb_err e = tb_secret_key_create(kp);
    if (e == TB_ERR_EXISTS)
        return cli_fail("secret key %s already exists; move it away or point secret_key_file elsewhere", kp);
    if (e)
        return cli_fail("cannot create secret key %s: %s", kp, tb_strerror(e));

    tb_store *st;
    if ((e = store_open(db, STORE_CREATE, &st))) {
        unlink(kp);
        return cli_fail("cannot create database %s: %s", db, tb_strerror(e));
    }
    chmod(db, 0600);
    int rc = 1;
    if ((e = store_schema(st))) {
        cli_fail("cannot create schema: %s (%s)", tb_strerror(e), store_errmsg(st));
        goto out;
    }
    if ((e = store_event_types_update(st, NULL))) {
        cli_fail("cannot load the event types: %s", tb_strerror(e));
        goto out;
    }
    if ((e = itsm_embedded_schema(db))) {
        cli_fail("cannot create the ticket store schema: %s", tb_strerror(e));
        goto out;
    }
    tb_appliance a = {
        .name = "Default",
        .product = (char *)product,
        .hostname = (char *)hostname,
        .integration_enabled = true,
        .import_external_sessions = true,
        .poll_interval = 300,
    };
    if ((e = store_appliance_insert(st, &a, NULL))) {
        cli_fail("cannot create the Default appliance: %s", tb_strerror(e));
        goto out;
    }
    char password[CREDENTIAL_PASSWORD_GENERATED + 1], err[256];
    accounts_new_password(password);
    if ((e = accounts_add(st, admin, password, ROLE_ADMIN, err, sizeof err))) {
        cli_fail("cannot create the admin user: %s", err);
        goto out;
    }
    printf("Initialised %s\n", db);
    printf("Secret key: %s (keep it with the database; without it stored secrets cannot be read)\n", kp);
    printf("Appliance 'Default' created (product %s); configure it with 'ticketbridge appliance set Default ...'\n",
           product);
    printf("Admin user: %s\nAdmin password: %s\n(shown only now)\n", admin, password);
    rc = 0;
out:
    store_close(st);
    if (rc) {
        unlink(db);
        unlink(kp);
    }
    return rc;
}
