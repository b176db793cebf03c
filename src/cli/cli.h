/* Subcommands. Each returns a process exit code: 0 ok, 1 failure (message
 * already printed to stderr), 2 usage error. No business logic lives here:
 * commands parse arguments, call store/itsm/flow, and print. */
#ifndef TB_CLI_CLI_H
#define TB_CLI_CLI_H

#include "core/config.h"

typedef struct tb_cli {
    const char *config_path;    /* NULL when built-in defaults are used */
    tb_config cfg;
} tb_cli;

int cli_init(tb_cli *, int argc, char **argv);
int cli_serve(tb_cli *, int argc, char **argv);
int cli_appliance(tb_cli *, int argc, char **argv);
int cli_incoming(tb_cli *, int argc, char **argv);
int cli_jobs(tb_cli *, int argc, char **argv);
int cli_ticket(tb_cli *, int argc, char **argv);
int cli_ci(tb_cli *, int argc, char **argv);
int cli_sys_user(tb_cli *, int argc, char **argv);
int cli_user(tb_cli *, int argc, char **argv);
int cli_token(tb_cli *, int argc, char **argv);
int cli_oauth_client(tb_cli *, int argc, char **argv);
int cli_parse_report(tb_cli *, int argc, char **argv);
int cli_import(tb_cli *, int argc, char **argv);
int cli_sessions(tb_cli *, int argc, char **argv);
int cli_session(tb_cli *, int argc, char **argv);
int cli_event_types(tb_cli *, int argc, char **argv);
int cli_override(tb_cli *, int argc, char **argv);
int cli_approvals(tb_cli *, int argc, char **argv);
int cli_approval(tb_cli *, int argc, char **argv);
int cli_jump(tb_cli *, int argc, char **argv);
int cli_session_key(tb_cli *, int argc, char **argv);
int cli_session_keys(tb_cli *, int argc, char **argv);
int cli_rs(tb_cli *, int argc, char **argv);
int cli_csm(tb_cli *, int argc, char **argv);
int cli_mapping(tb_cli *, int argc, char **argv);
int cli_case_fields(tb_cli *, int argc, char **argv);
int cli_epm(tb_cli *, int argc, char **argv);
int cli_jit(tb_cli *, int argc, char **argv);

/* Shared helpers for commands (cli_util.c, cli_secret_file.c). */
int cli_usage_error(const char *usage_line);
/* "--help", "-h" or "help". */
bool cli_is_help(const char *s);
/* A command's subcommands: NAME [ARGS...] runs fn(cli, argc - 1, argv + 1);
 * "help" anywhere prints the subcommand's usage (and calls more_help, may be
 * NULL); no or an unknown subcommand is a usage error with usage. */
typedef struct cli_subcmd {
    const char *name;
    const char *usage;
    int (*fn)(tb_cli *, int, char **);
    void (*more_help)(void);
} cli_subcmd;
int cli_dispatch(tb_cli *cli, int argc, char **argv, const cli_subcmd *cmds, size_t ncmds, const char *usage);      /* prints "usage: ...", returns 2 */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* prints "ticketbridge: ...", returns 1 */
/* --limit N (1-100000); prints the error and returns 1 when s is not one. */
int cli_parse_limit(const char *s, size_t *out);
/* Reads a password or secret: the first line of path, or of stdin for "-"
 * (at most 4 KiB, no NUL). On success *out is malloc'd (free with
 * tb_secret_free); else prints why, naming --opt, and returns 1. */
int cli_read_secret_file(const char *opt, const char *path, char **out);

#endif
