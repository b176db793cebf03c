/* multipart/form-data splitting (multipart.h). Binary-safe: parts are found
 * with memmem on the delimiter, never with string functions. glibc's memmem
 * is linear in the body (two-way search), so a hostile body of near-matches
 * costs no more than any other. */
#define _GNU_SOURCE     /* memmem */
#include "flow/multipart.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BOUNDARY_MAX 70     /* RFC 2046 */
#define HEADERS_MAX 8192

static void set_err(char *err, size_t errsz, const char *msg)
{
    if (err && errsz)
        snprintf(err, errsz, "%s", msg);
}

/* The boundary parameter, unquoted; 0 when absent or malformed. */
static size_t boundary_of(const char *ct, char out[BOUNDARY_MAX + 1])
{
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return 0;
    const char *p = ct + 19;
    while ((p = strchr(p, ';'))) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "boundary=", 9) != 0)
            continue;
        p += 9;
        bool quoted = *p == '"';
        if (quoted)
            p++;
        size_t n = 0;
        while (p[n] && (quoted ? p[n] != '"' : (p[n] != ';' && p[n] != ' ' && p[n] != '\t')))
            n++;
        if (n == 0 || n > BOUNDARY_MAX || (quoted && p[n] != '"'))
            return 0;
        memcpy(out, p, n);
        out[n] = '\0';
        return n;
    }
    return 0;
}

/* Value of a Content-Disposition parameter (name="x"), quoted or not. */
static bool disposition_param(const char *h, size_t n, const char *key, mp_str *out)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl + 1 < n; i++) {
        if ((i == 0 || h[i - 1] == ';' || h[i - 1] == ' ' || h[i - 1] == '\t') &&
            !strncasecmp(h + i, key, kl) && h[i + kl] == '=') {
            size_t s = i + kl + 1, e;
            if (s < n && h[s] == '"') {
                s++;
                for (e = s; e < n && h[e] != '"'; e++)
                    ;
                if (e == n)
                    return false;
            } else {
                for (e = s; e < n && h[e] != ';' && h[e] != ' ' && h[e] != '\t'; e++)
                    ;
            }
            *out = (mp_str){h + s, e - s};
            return true;
        }
    }
    return false;
}

static tb_err part_headers(const char *h, size_t n, mp_part *part, char *err, size_t errsz)
{
    bool disposition = false;
    for (size_t s = 0; s < n;) {
        const char *eol = memmem(h + s, n - s, "\r\n", 2);
        size_t e = eol ? (size_t)(eol - h) : n;
        const char *line = h + s;
        size_t len = e - s;
        if (len > 20 && !strncasecmp(line, "Content-Disposition:", 20)) {
            disposition = true;
            if (!disposition_param(line + 20, len - 20, "name", &part->name)) {
                set_err(err, errsz, "a part has no name");
                return TB_ERR_INVALID;
            }
            disposition_param(line + 20, len - 20, "filename", &part->filename);
        } else if (len > 13 && !strncasecmp(line, "Content-Type:", 13)) {
            size_t v = 13;
            while (v < len && (line[v] == ' ' || line[v] == '\t'))
                v++;
            part->content_type = (mp_str){line + v, len - v};
        }
        s = e + 2;
    }
    if (!disposition) {
        set_err(err, errsz, "a part has no Content-Disposition");
        return TB_ERR_INVALID;
    }
    return TB_OK;
}

tb_err multipart_parse(const char *content_type, const char *body, size_t len, mp_part *parts,
                       size_t *nparts, char *err, size_t errsz)
{
    *nparts = 0;
    char b[BOUNDARY_MAX + 1], delim[BOUNDARY_MAX + 5];
    size_t bl = boundary_of(content_type, b);
    if (!bl) {
        set_err(err, errsz, "Content-Type must be multipart/form-data with a boundary");
        return TB_ERR_INVALID;
    }
    /* Every delimiter but the first starts with CRLF; the first may begin
     * the body. */
    int dl = snprintf(delim, sizeof delim, "\r\n--%s", b);
    const char *p;
    if (len >= (size_t)dl - 2 && !memcmp(body, delim + 2, (size_t)dl - 2))
        p = body + dl - 2;
    else if ((p = memmem(body, len, delim, (size_t)dl)))
        p += dl;
    else {
        set_err(err, errsz, "the body has no part");
        return TB_ERR_INVALID;
    }
    const char *end = body + len;
    for (;;) {
        /* After a delimiter: "--" closes, else CRLF and a part. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return TB_OK;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            set_err(err, errsz, "malformed part delimiter");
            return TB_ERR_INVALID;
        }
        p += 2;
        if (*nparts == MULTIPART_MAX_PARTS) {
            set_err(err, errsz, "too many parts");
            return TB_ERR_TOO_LARGE;
        }
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        const char *blank = (end - p >= 2 && p[0] == '\r' && p[1] == '\n') ? p : NULL;
        if (!hend && !blank) {
            set_err(err, errsz, "a part has no header end");
            return TB_ERR_INVALID;
        }
        size_t hlen = blank ? 0 : (size_t)(hend - p);
        if (hlen > HEADERS_MAX) {
            set_err(err, errsz, "a part's headers are too long");
            return TB_ERR_INVALID;
        }
        mp_part *part = &parts[*nparts];
        memset(part, 0, sizeof *part);
        tb_err rc = part_headers(p, hlen, part, err, errsz);
        if (rc)
            return rc;
        const char *data = blank ? p + 2 : hend + 4;
        const char *next = memmem(data, (size_t)(end - data), delim, (size_t)dl);
        if (!next) {
            set_err(err, errsz, "the body has no closing delimiter");
            return TB_ERR_INVALID;
        }
        part->data = (mp_str){data, (size_t)(next - data)};
        (*nparts)++;
        p = next + dl;
    }
}

const mp_part *multipart_find(const mp_part *parts, size_t n, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (parts[i].name.n == nl && !memcmp(parts[i].name.p, name, nl))
            return &parts[i];
    return NULL;
}
