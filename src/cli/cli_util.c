#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(const char *usage_line)
{
    fprintf(stderr, "usage: %s\n", usage_line);
    return 2;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("ticketbridge: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_parse_limit(const char *s, size_t *out)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (end == s || *end || n < 1 || n > 100000)
        return cli_fail("--limit: expected 1-100000, got '%s'", s);
    *out = (size_t)n;
    return 0;
}

bool cli_is_help(const char *s)
{
    return !strcmp(s, "--help") || !strcmp(s, "-h") || !strcmp(s, "help");
}

int cli_dispatch(tb_cli *cli, int argc, char **argv, const cli_subcmd *cmds, size_t ncmds, const char *usage)
{
    if (argc < 2)
        return cli_usage_error(usage);
    if (cli_is_help(argv[1])) {
        printf("usage: %s\n", usage);
        return 0;
    }
    for (size_t i = 0; i < ncmds; i++) {
        if (strcmp(argv[1], cmds[i].name))
            continue;
        for (int k = 2; k < argc; k++)
            if (cli_is_help(argv[k])) {
                printf("usage: %s\n", cmds[i].usage);
                if (cmds[i].more_help)
                    cmds[i].more_help();
                return 0;
            }
        return cmds[i].fn(cli, argc - 1, argv + 1);
    }
    return cli_usage_error(usage);
}
