#include "core/roles.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ROLES_INPUT_MAX 4096

const tb_role tb_roles[] = {
    {ROLE_ADMIN, "every role below; manages ticketbridge itself", false},
    {ROLE_PRA_APP_ADMIN, "PRA: view and manage the integration's configuration", false},
    {ROLE_PRA_DATA_VIEWER, "PRA: view access sessions and their records", false},
    {ROLE_PRA_JUMP_USER, "PRA: Jump to a configuration item from a ticket or the CMDB", false},
    {ROLE_PRA_USER, "PRA, deprecated: Jump and view data as before, but not configure", true},
    {ROLE_ITIL, "RS: generate session keys from incidents", false},
    {ROLE_RS_ITIL, "RS: generate session keys from incidents (the app's own itil role)", false},
    {ROLE_CSM_AGENT, "RS CSM: generate session keys from cases", false},
    {ROLE_JIT_API, "EPM: post to the JIT webhook only (the webhook service account)", false},
    {ROLE_JIT_USER, "EPM: view, approve and deny JIT access requests", false},
    {ROLE_JIT_ADMIN, "EPM: configure the JIT integration", false},
};
const size_t tb_roles_count = sizeof tb_roles / sizeof *tb_roles;

_Static_assert(sizeof tb_roles / sizeof *tb_roles <= 32, "role sets are 32-bit masks");

bool role_known(const char *name)
{
    for (size_t i = 0; i < tb_roles_count; i++)
        if (!strcmp(tb_roles[i].name, name))
            return true;
    return false;
}

void roles_each(const char *csv, void (*fn)(void *ctx, const char *name, size_t len), void *ctx)
{
    const char *p = csv ? csv : "";
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        size_t m = n;
        while (m && (*s == ' ' || *s == '\t'))
            s++, m--;
        while (m && (s[m - 1] == ' ' || s[m - 1] == '\t'))
            m--;
        if (m)
            fn(ctx, s, m);
        p += n;
        if (*p == ',')
            p++;
    }
}

struct grant_ctx {
    const char *required;
    size_t required_len;
    bool granted;
};

static bool is(const char *name, size_t len, const char *role)
{
    return strlen(role) == len && !memcmp(name, role, len);
}

static void grant_one(void *ctx, const char *name, size_t len)
{
    struct grant_ctx *g = ctx;
    const char *req = g->required;
    if (is(name, len, ROLE_ADMIN) || (len == g->required_len && !memcmp(name, req, len)))
        g->granted = true;
    else if (is(name, len, ROLE_PRA_USER) &&
             (!strcmp(req, ROLE_PRA_DATA_VIEWER) || !strcmp(req, ROLE_PRA_JUMP_USER)))
        g->granted = true;
    else if (is(name, len, ROLE_RS_ITIL) && !strcmp(req, ROLE_ITIL))
        g->granted = true;
}

bool roles_grant(const char *held_csv, const char *required)
{
    if (!required || !*required)
        return true;
    if (!role_known(required))
        return false;
    struct grant_ctx g = {required, strlen(required), false};
    roles_each(held_csv, grant_one, &g);
    return g.granted;
}

struct mask_ctx {
    uint32_t mask;
    char *bad;
    size_t badsz;
    bool failed;
};

static void mask_one(void *ctx, const char *name, size_t len)
{
    struct mask_ctx *m = ctx;
    if (m->failed)
        return;
    for (size_t i = 0; i < tb_roles_count; i++)
        if (strlen(tb_roles[i].name) == len && !strncasecmp(tb_roles[i].name, name, len)) {
            m->mask |= 1u << i;
            return;
        }
    m->failed = true;
    if (m->badsz)
        snprintf(m->bad, m->badsz, "%.*s", (int)(len > 100 ? 100 : len), name);
}

tb_err roles_mask(const char *csv, uint32_t *mask, char *bad, size_t badsz)
{
    if (bad && badsz)
        bad[0] = '\0';
    if (csv && strlen(csv) > ROLES_INPUT_MAX)
        return TB_ERR_TOO_LARGE;
    struct mask_ctx m = {0, bad, bad ? badsz : 0, false};
    roles_each(csv, mask_one, &m);
    if (m.failed)
        return TB_ERR_INVALID;
    *mask = m.mask;
    return TB_OK;
}

void roles_join(uint32_t mask, char out[ROLES_CSV_MAX])
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < tb_roles_count; i++) {
        if (!(mask & (1u << i)))
            continue;
        /* The catalogue fits (a unit test checks), so this never truncates. */
        int w = snprintf(out + n, ROLES_CSV_MAX - n, "%s%s", n ? "," : "", tb_roles[i].name);
        if (w < 0 || (size_t)w >= ROLES_CSV_MAX - n)
            break;
        n += (size_t)w;
    }
}

tb_err roles_normalize(const char *csv, char out[ROLES_CSV_MAX], char *bad, size_t badsz)
{
    uint32_t mask;
    tb_err e = roles_mask(csv, &mask, bad, badsz);
    if (e)
        return e;
    roles_join(mask, out);
    return TB_OK;
}
