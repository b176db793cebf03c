#include "core/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tb_buf_init(tb_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static tb_err grow(tb_buf *b, size_t need)
{
    if (b->max && need > b->max)
        return TB_ERR_TOO_LARGE;
    if (need + 1 <= b->cap)
        return TB_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return TB_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return TB_OK;
}

tb_err tb_buf_append(tb_buf *b, const void *p, size_t n)
{
    if (n > SIZE_MAX / 2 - b->len)
        return TB_ERR_TOO_LARGE;
    tb_err rc = grow(b, b->len + n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return TB_OK;
}

tb_err tb_buf_appends(tb_buf *b, const char *s)
{
    return tb_buf_append(b, s, strlen(s));
}

tb_err tb_buf_printf(tb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return TB_ERR_INVALID;
    tb_err rc = grow(b, b->len + (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return TB_OK;
}

void tb_buf_reset(tb_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *tb_buf_take(tb_buf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void tb_buf_free(tb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
