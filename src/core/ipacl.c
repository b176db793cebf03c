#include "core/ipacl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static tb_err parse_entry(const char *s, size_t len, tb_ipacl_entry *e)
{
    char tmp[64];
    if (len == 0 || len >= sizeof tmp)
        return TB_ERR_INVALID;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *slash = strchr(tmp, '/');
    long prefix = -1;
    if (slash) {
        *slash = '\0';
        const char *digits = slash + 1;
        /* digits only: strtol would take "-0" or " +8" */
        if (!*digits || strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 3)
            return TB_ERR_INVALID;
        prefix = strtol(digits, NULL, 10);
    }
    memset(e, 0, sizeof *e);
    if (inet_pton(AF_INET, tmp, e->addr) == 1) {
        e->family = AF_INET;
        if (prefix > 32)
            return TB_ERR_INVALID;
        e->prefix = prefix < 0 ? 32 : (unsigned)prefix;
    } else if (inet_pton(AF_INET6, tmp, e->addr) == 1) {
        e->family = AF_INET6;
        if (prefix > 128)
            return TB_ERR_INVALID;
        e->prefix = prefix < 0 ? 128 : (unsigned)prefix;
    } else {
        return TB_ERR_INVALID;
    }
    return TB_OK;
}

tb_err tb_ipacl_parse(const char *text, tb_ipacl *out, const char **bad)
{
    out->n = 0;
    out->v = NULL;
    if (!text)
        return TB_OK;
    size_t cap = 0;
    const char *p = text;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            p++;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 4;
            tb_ipacl_entry *nv = realloc(out->v, cap * sizeof *nv);
            if (!nv) {
                tb_ipacl_free(out);
                return TB_ERR_NOMEM;
            }
            out->v = nv;
        }
        if (parse_entry(start, (size_t)(p - start), &out->v[out->n])) {
            if (bad)
                *bad = start;
            tb_ipacl_free(out);
            return TB_ERR_INVALID;
        }
        out->n++;
    }
    return TB_OK;
}

void tb_ipacl_free(tb_ipacl *acl)
{
    free(acl->v);
    acl->v = NULL;
    acl->n = 0;
}

static bool prefix_eq(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

bool tb_ipacl_match(const tb_ipacl *acl, const struct sockaddr *sa)
{
    unsigned char a4[4], a6[16];
    bool has4 = false, has6 = false;
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        memcpy(a4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        has4 = true;
        memcpy(a6, v4mapped, 12);
        memcpy(a6 + 12, a4, 4);
        has6 = true;
    } else if (sa->sa_family == AF_INET6) {
        memcpy(a6, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        has6 = true;
        if (memcmp(a6, v4mapped, 12) == 0) {
            memcpy(a4, a6 + 12, 4);
            has4 = true;
        }
    }
    for (size_t i = 0; i < acl->n; i++) {
        const tb_ipacl_entry *e = &acl->v[i];
        if (e->family == AF_INET && has4 && prefix_eq(a4, e->addr, e->prefix))
            return true;
        if (e->family == AF_INET6 && has6 && prefix_eq(a6, e->addr, e->prefix))
            return true;
    }
    return false;
}

void tb_sockaddr_str(const struct sockaddr *sa, char *out, size_t outsz)
{
    if (!outsz)
        return;
    out[0] = '\0';
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outsz);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outsz);
}
