/* ticketbridge event-types update | list: the catalogue Events to Import is
 * chosen from (seed: "Update BeyondTrust PRA Session Event Types"). */
#include <stdio.h>
#include <string.h>

#include "bt/event_types.h"
#include "cli/cli.h"
#include "store/store.h"

#define EVENT_TYPES_USAGE "ticketbridge event-types update | list [--product rs|pra]"

struct list_ctx {
    const char *product;
    int n;
};

static void print_type(void *ctx, const char *name, const char *product)
{
    struct list_ctx *c = ctx;
    if (c->product && strcmp(product, "both") && strcmp(product, c->product))
        return;
    printf("%-45s %s\n", name, product);
    c->n++;
}

int cli_event_types(tb_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(EVENT_TYPES_USAGE);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        printf("usage: %s\n", EVENT_TYPES_USAGE);
        return 0;
    }
    bool update = !strcmp(argv[1], "update");
    struct list_ctx lc = {0};
    if (update) {
        if (argc != 2)
            return cli_usage_error(EVENT_TYPES_USAGE);
    } else if (!strcmp(argv[1], "list")) {
        if (argc == 4 && !strcmp(argv[2], "--product") && (!strcmp(argv[3], "rs") || !strcmp(argv[3], "pra")))
            lc.product = argv[3];
        else if (argc != 2)
            return cli_usage_error(EVENT_TYPES_USAGE);
    } else {
        return cli_usage_error(EVENT_TYPES_USAGE);
    }
    tb_store *st;
    tb_err e = store_open(cli->cfg.database, update ? 0 : STORE_READ_ONLY, &st);
    if (e)
        return cli_fail("cannot open database %s: %s (run 'ticketbridge init' first?)", cli->cfg.database,
                        tb_strerror(e));
    int rc = 0;
    if (update) {
        int64_t added = 0;
        if ((e = store_event_types_update(st, &added)))
            rc = cli_fail("cannot load the event types: %s", tb_strerror(e));
        else
            printf("%zu event types known, %lld new\n", bt_event_types_count, (long long)added);
    } else {
        if ((e = store_event_types_each(st, print_type, &lc)))
            rc = cli_fail("cannot list the event types: %s", tb_strerror(e));
        else if (!lc.n)
            fprintf(stderr, "no event types loaded: run 'ticketbridge event-types update'\n");
    }
    store_close(st);
    return rc;
}
