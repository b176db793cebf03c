#include "cli/cli.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_FILE_MAX 4096

int cli_read_secret_file(const char *opt, const char *path, char **out)
{
    FILE *fp = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!fp)
        return cli_fail("--%s: cannot read %s", opt, path);
    char buf[SECRET_FILE_MAX + 1];
    size_t n = fread(buf, 1, SECRET_FILE_MAX, fp);
    int more = fgetc(fp) != EOF;
    if (fp != stdin)
        fclose(fp);
    int rc = 0;
    if (more)
        rc = cli_fail("--%s: longer than %d bytes", opt, SECRET_FILE_MAX);
    else if (memchr(buf, '\0', n))
        rc = cli_fail("--%s: contains a NUL byte", opt);
    if (!rc) {
        buf[n] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!(*out = strdup(buf)))
            rc = cli_fail("out of memory");
    }
    sodium_memzero(buf, sizeof buf);
    return rc;
}
