/* Growable byte buffer with a hard cap (curl's dynbuf idea): appends past the
 * cap fail with TB_ERR_TOO_LARGE instead of growing without bound. The buffer
 * owns its memory; tb_buf_free releases it. data is always NUL-terminated. */
#ifndef TB_CORE_BUF_H
#define TB_CORE_BUF_H

#include <stddef.h>
#include "core/err.h"

typedef struct tb_buf {
    char *data;
    size_t len;
    size_t cap;     /* allocated bytes */
    size_t max;     /* hard limit on len; 0 = unlimited */
} tb_buf;

void tb_buf_init(tb_buf *b, size_t max);
tb_err tb_buf_append(tb_buf *b, const void *p, size_t n);
tb_err tb_buf_appends(tb_buf *b, const char *s);
tb_err tb_buf_printf(tb_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tb_buf_reset(tb_buf *b);
/* Hands the data to the caller (who must free() it) and resets b. */
char *tb_buf_take(tb_buf *b);
void tb_buf_free(tb_buf *b);

#endif
