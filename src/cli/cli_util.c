#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
