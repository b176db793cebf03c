/* One error type for the whole code base: every fallible function returns a
 * tb_err, and callers propagate with `if (rc) return rc;`. */
#ifndef TB_CORE_ERR_H
#define TB_CORE_ERR_H

typedef enum tb_err {
    TB_OK = 0,
    TB_ERR_NOMEM,       /* allocation failed */
    TB_ERR_INVALID,     /* malformed input or argument */
    TB_ERR_TOO_LARGE,   /* input over its size cap */
    TB_ERR_NOT_FOUND,   /* record does not exist */
    TB_ERR_EXISTS,      /* unique record already exists */
    TB_ERR_DENIED,      /* authentication / authorisation refused */
    TB_ERR_DISABLED,    /* feature or integration switched off */
    TB_ERR_IO,          /* file or socket I/O failed */
    TB_ERR_DB,          /* database error */
    TB_ERR_CRYPTO,      /* encryption / decryption / key error */
    TB_ERR_CONFIG,      /* configuration file or record is wrong */
    TB_ERR_HTTP,        /* HTTP transport error (peer unreachable, bad status) */
    TB_ERR_TIMEOUT,     /* operation exceeded its time limit */
    TB_ERR_BUSY,        /* resource temporarily unavailable, retry later */
    TB_ERR_SHUTDOWN,    /* process is stopping */
    TB_ERR__COUNT
} tb_err;

/* Static, human-readable description; never NULL. */
const char *tb_strerror(tb_err e);

#include <stddef.h>
/* Formats an error message into a fixed buffer; truncation is expected and
 * fine (messages are for people), so callers need not check it. */
void tb_errmsg(char *out, size_t outsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
