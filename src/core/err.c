#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *tb_strerror(tb_err e)
{
    static const char *const msg[TB_ERR__COUNT] = {
        [TB_OK] = "ok",
        [TB_ERR_NOMEM] = "out of memory",
        [TB_ERR_INVALID] = "invalid input",
        [TB_ERR_TOO_LARGE] = "input too large",
        [TB_ERR_NOT_FOUND] = "not found",
        [TB_ERR_EXISTS] = "already exists",
        [TB_ERR_DENIED] = "access denied",
        [TB_ERR_DISABLED] = "disabled",
        [TB_ERR_IO] = "I/O error",
        [TB_ERR_DB] = "database error",
        [TB_ERR_CRYPTO] = "cryptographic error",
        [TB_ERR_CONFIG] = "configuration error",
        [TB_ERR_HTTP] = "HTTP error",
        [TB_ERR_TIMEOUT] = "timed out",
        [TB_ERR_BUSY] = "busy, try again",
        [TB_ERR_SHUTDOWN] = "shutting down",
    };
    if ((unsigned)e >= TB_ERR__COUNT || !msg[e])
        return "unknown error";
    return msg[e];
}

void tb_errmsg(char *out, size_t outsz, const char *fmt, ...)
{
    if (!outsz)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, outsz, fmt, ap);
    va_end(ap);
}
