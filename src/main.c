/* ticketbridge: argument parsing and dispatch only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/secret.h"
#include "store/store.h"

static const struct {
    const char *name;
    int (*fn)(tb_cli *, int, char **);
    const char *help;
} commands[] = {
    {"init", cli_init, "create the database, its secret key, a Default appliance and an admin user"},
    {"serve", cli_serve, "run the daemon"},
    {"appliance", cli_appliance, "list|show|add|set|remove appliance records"},
    {"incoming", cli_incoming, "list recent incoming requests with status and reason"},
    {"jobs", cli_jobs, "list queued, running and failed jobs"},
    {"ticket", cli_ticket, "create|show|list|note tickets in the embedded ticket store"},
    {"ci", cli_ci, "add|list configuration items in the embedded ticket store"},
    {"user", cli_user, "add|list|passwd|roles|disable|enable|remove users who may call ticketbridge"},
    {"token", cli_token, "create|list|revoke API tokens of those users"},
    {"oauth-client", cli_oauth_client, "add|list|remove OAuth clients that take tokens at /oauth_token.do"},
    {"sys-user", cli_sys_user, "add|list users (sys_user) in the embedded ticket store"},
    {"import", cli_import, "import one session now: --appliance NAME --lsid LSID"},
    {"sessions", cli_sessions, "list imported sessions [--task NUMBER] [--ci NAME]"},
    {"session", cli_session, "show one imported session with its events, users and files [--json]"},
    {"event-types", cli_event_types, "update|list the session event types Events to Import is chosen from"},
    {"override", cli_override, "list|add|remove|move Change Management override rules of an appliance"},
    {"approvals", cli_approvals, "list recorded change-management decisions (PRA Jump ticket system)"},
    {"approval", cli_approval, "fields|states|check: request field names, active states, a dry run"},
    {"jump", cli_jump, "the Jump to Configuration Item link (client-script URL, BRCS) for a task or CI"},
    {"session-key", cli_session_key, "generate a Remote Support session key from a ticket: NUMBER --as USER"},
    {"session-keys", cli_session_keys, "list remembered session keys and their state [--ticket NUMBER]"},
    {"rs", cli_rs, "config show|set: Remote Support integration properties; pull: pull pending sessions now"},
    {"csm", cli_csm, "config|cases|log: automatic case creation (CSM) of an appliance"},
    {"mapping", cli_mapping, "list|add|remove the field mappings of auto-created cases"},
    {"case-fields", cli_case_fields, "update|list the BeyondTrust session fields a mapping can copy"},
    {"epm", cli_epm, "config show|set, init, test: the EPM configuration record Default"},
    {"jit", cli_jit, "list|show|approve|deny EPM just-in-time access requests"},
    {"parse-report", cli_parse_report, "print a session report file as normalized JSON, without storing it"},
};

/* A database made by an earlier version gets the tables and columns added
 * since, before any command reads it. Best effort: a read-only database is
 * left alone (commands then report what they cannot do). */
static void migrate(const char *db)
{
    tb_store *st;
    if (store_open(db, 0, &st))
        return;
    if (store_schema(st))
        fprintf(stderr, "ticketbridge: warning: cannot update the schema of %s: %s\n", db, store_errmsg(st));
    store_close(st);
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: ticketbridge [-c CONFIG] [--db PATH] COMMAND [ARGS]\n\n"
                "Connects BeyondTrust Remote Support / Privileged Remote Access to tickets.\n\n"
                "Options:\n"
                "  -c, --config FILE  configuration file (default: $TICKETBRIDGE_CONFIG, else built-in defaults)\n"
                "  --db PATH          database file (overrides the configuration)\n"
                "  --version          print the version\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(fp, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(fp, "  %-12s %s\n", "help", "this text");
    fprintf(fp, "\nRun 'ticketbridge COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    tb_cli cli;
    memset(&cli, 0, sizeof cli);
    tb_config_defaults(&cli.cfg);
    const char *db = NULL;
    int i = 1;
    cli.config_path = getenv("TICKETBRIDGE_CONFIG");
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
            printf("ticketbridge %s\n", TB_VERSION);
            return 0;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
            cli.config_path = argv[++i];
        } else if (!strcmp(argv[i], "--db") && i + 1 < argc) {
            db = argv[++i];
        } else {
            fprintf(stderr, "ticketbridge: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[i], "help")) {
        usage(stdout);
        return 0;
    }
    if (cli.config_path && *cli.config_path) {
        char err[512];
        if (tb_config_load(cli.config_path, &cli.cfg, err, sizeof err)) {
            fprintf(stderr, "ticketbridge: %s\n", err);
            return 1;
        }
    } else {
        cli.config_path = NULL;
    }
    if (db) {
        if (strlen(db) >= sizeof cli.cfg.database) {
            fprintf(stderr, "ticketbridge: database path too long\n");
            return 2;
        }
        snprintf(cli.cfg.database, sizeof cli.cfg.database, "%s", db);
    }
    if (tb_secret_init()) {
        fprintf(stderr, "ticketbridge: cannot initialise libsodium\n");
        return 1;
    }
    if (strcmp(argv[i], "init") && access(cli.cfg.database, F_OK) == 0)
        migrate(cli.cfg.database);
    for (size_t c = 0; c < sizeof commands / sizeof *commands; c++)
        if (!strcmp(argv[i], commands[c].name))
            return commands[c].fn(&cli, argc - i, argv + i);
    fprintf(stderr, "ticketbridge: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return 2;
}
