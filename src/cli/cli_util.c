#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>

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
