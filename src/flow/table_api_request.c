/* Table API requests without the request: path segments, sysparm_*
 * values and the Link header of a page. */
#include "flow/table_api_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool tapi_parse_sys_id(const char *s, char out[ITSM_SYS_ID_LEN + 1])
{
    size_t i = 0;
    for (; s[i] && i < ITSM_SYS_ID_LEN; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        out[i] = c;
    }
    if (i != ITSM_SYS_ID_LEN || s[i])
        return false;
    out[i] = '\0';
    return true;
}

static bool table_name(const char *s, size_t n)
{
    if (n == 0 || n > ITSM_MAX_NAME || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* rest is already percent-decoded by the server, so an encoded slash is a
 * slash here and "../x" is two segments: neither can reach another route
 * or a table outside the catalogue. */
tapi_path_status tapi_parse_path(const char *rest, tapi_path *out)
{
    memset(out, 0, sizeof *out);
    const char *slash = strchr(rest, '/');
    size_t tlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (tlen == 0)
        return TAPI_PATH_NO_RESOURCE;
    if (!table_name(rest, tlen)) {
        /* Kept (shortened) for the "Invalid table" message. */
        size_t keep = tlen < ITSM_MAX_NAME ? tlen : ITSM_MAX_NAME;
        memcpy(out->table, rest, keep);
        out->table[keep] = '\0';
        return TAPI_PATH_BAD_TABLE;
    }
    memcpy(out->table, rest, tlen);
    out->table[tlen] = '\0';
    if (!slash || !slash[1])
        return TAPI_PATH_OK;    /* "incident" or "incident/" */
    const char *id = slash + 1;
    const char *end = strchr(id, '/');
    if (end && end[1])
        return TAPI_PATH_NO_RESOURCE;
    out->has_id = true;
    char tmp[ITSM_SYS_ID_LEN + 2];
    size_t ilen = end ? (size_t)(end - id) : strlen(id);
    if (ilen == ITSM_SYS_ID_LEN) {
        memcpy(tmp, id, ilen);
        tmp[ilen] = '\0';
        out->id_valid = tapi_parse_sys_id(tmp, out->sys_id);
    }
    return TAPI_PATH_OK;
}

bool tapi_param_true(const char *v)
{
    return v && strcasecmp(v, "true") == 0;
}

tapi_display tapi_parse_display(const char *v)
{
    if (v && strcasecmp(v, "all") == 0)
        return TAPI_DV_ALL;
    return tapi_param_true(v) ? TAPI_DV_TRUE : TAPI_DV_FALSE;
}

bool tapi_parse_count(const char *v, size_t max, size_t *out)
{
    if (!v || !*v || strlen(v) > 19)
        return false;
    uint64_t n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (n > max)
        return false;
    *out = (size_t)n;
    return true;
}

tb_err tapi_url_encode(tb_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    tb_err rc = TB_OK;
    for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            rc = tb_buf_append(out, p, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = tb_buf_append(out, e, 3);
        }
    }
    return rc;
}

static tb_err link(tb_buf *out, const char *url, const char *query, size_t offset, size_t limit,
                   const char *rel)
{
    return tb_buf_printf(out, "%s<%s?%s%ssysparm_offset=%zu&sysparm_limit=%zu>;rel=\"%s\"",
                         out->len ? "," : "", url, query, *query ? "&" : "", offset, limit, rel);
}

tb_err tapi_link_header(const char *url, const char *query, size_t offset, size_t limit,
                        long long total, size_t rows, tb_buf *out)
{
    if (limit == 0)
        return TB_ERR_INVALID;
    tb_err rc = link(out, url, query, 0, limit, "first");
    if (!rc && offset > 0)
        rc = link(out, url, query, offset > limit ? offset - limit : 0, limit, "prev");
    bool more = total >= 0 ? (unsigned long long)offset + limit < (unsigned long long)total
                           : rows >= limit;
    if (!rc && more)
        rc = link(out, url, query, offset + limit, limit, "next");
    if (!rc && total >= 0) {
        size_t last = total > 0 ? (size_t)((total - 1) / (long long)limit) * limit : 0;
        rc = link(out, url, query, last, limit, "last");
    }
    return rc;
}
