/* Helpers shared by the unit tests. */
#ifndef TB_TESTS_TESTUTIL_H
#define TB_TESTS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A fresh, unused file name under $TMPDIR (else /tmp) for a test database.
 * Returns 0, or -1 if no name could be made. */
static inline int test_db_path(char *out, size_t outsz, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(out, outsz, "%s/%s_XXXXXX", tmp, tag);
    int fd = mkstemp(out);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(out);
    return 0;
}

/* Removes a test database with its WAL, shared-memory and journal files. */
static inline void test_db_remove(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char p[1100];
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        unlink(p);
    }
}

#endif
