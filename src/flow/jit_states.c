#include "flow/jit_states.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct state_name {
    int value;
    const char *name;
    bool closed;
} state_name;

typedef struct table_states {
    const char *table;
    const state_name *v;
    size_t n;
} table_states;

static const state_name incident[] = {
    {1, "New", false},      {2, "In Progress", false}, {3, "On Hold", false},
    {6, "Resolved", false}, {7, "Closed", true},       {8, "Canceled", true},
};
static const state_name change_request[] = {
    {-5, "New", false},      {-4, "Assess", false}, {-3, "Authorize", false}, {-2, "Scheduled", false},
    {-1, "Implement", false}, {0, "Review", false}, {3, "Closed", true},      {4, "Canceled", true},
};
/* sc_task and sc_req_item, with the embedded store's values. */
static const state_name catalog[] = {
    {-5, "Pending", false},         {1, "Open", false},
    {2, "Work in Progress", false}, {3, "Closed Complete", true},
    {4, "Closed Incomplete", true}, {7, "Closed Skipped", true},
};

static const table_states tables[] = {
    {"incident", incident, sizeof incident / sizeof *incident},
    {"change_request", change_request, sizeof change_request / sizeof *change_request},
    {"sc_task", catalog, sizeof catalog / sizeof *catalog},
    {"sc_req_item", catalog, sizeof catalog / sizeof *catalog},
};

static const table_states *states_of(const char *table)
{
    for (size_t i = 0; table && i < sizeof tables / sizeof *tables; i++)
        if (!strcmp(tables[i].table, table))
            return &tables[i];
    return NULL;
}

bool jit_ticket_type_valid(const char *table)
{
    return states_of(table) != NULL;
}

/* The state an item names (a name, or a value the table has). */
static const state_name *find_item(const table_states *t, const char *item, size_t len)
{
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->v[i].name) == len && !strncasecmp(t->v[i].name, item, len))
            return &t->v[i];
    char num[16];
    if (len == 0 || len >= sizeof num)
        return NULL;
    memcpy(num, item, len);
    num[len] = '\0';
    char *end;
    long v = strtol(num, &end, 10);
    if (*end || end == num)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].value == v)
            return &t->v[i];
    return NULL;
}

/* Calls fn(item, len) for each trimmed, non-empty item; stops at false. */
static bool each_item(const char *spec, bool (*fn)(void *ctx, const char *item, size_t len), void *ctx)
{
    const char *p = spec ? spec : "";
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (e > s && !fn(ctx, s, (size_t)(e - s)))
            return false;
        p += n;
        if (*p == ',')
            p++;
    }
    return true;
}

struct valid_ctx {
    const table_states *t;
    char *err;
    size_t errsz;
};

static bool check_item(void *ctx, const char *item, size_t len)
{
    struct valid_ctx *c = ctx;
    if (find_item(c->t, item, len))
        return true;
    int off = snprintf(c->err, c->errsz, "'%.*s' is not a state of %s (states:", (int)(len > 60 ? 60 : len), item,
                       c->t->table);
    for (size_t i = 0; i < c->t->n && off > 0 && (size_t)off < c->errsz; i++)
        off += snprintf(c->err + off, c->errsz - (size_t)off, "%s %s (%d)", i ? "," : "", c->t->v[i].name,
                        c->t->v[i].value);
    if (off > 0 && (size_t)off < c->errsz)
        snprintf(c->err + off, c->errsz - (size_t)off, ")");
    return false;
}

bool jit_states_valid(const char *table, const char *spec, char *err, size_t errsz)
{
    const table_states *t = states_of(table);
    if (!t) {
        snprintf(err, errsz, "'%s' is not a ticket type (incident, change_request, sc_task or sc_req_item)",
                 table ? table : "");
        return false;
    }
    if (spec && strlen(spec) > 1024) {
        snprintf(err, errsz, "the list of active states is too long");
        return false;
    }
    struct valid_ctx c = {t, err, errsz};
    return each_item(spec, check_item, &c);
}

struct active_ctx {
    const table_states *t;
    int state;
    bool known;         /* some item named a state of the table */
    bool match;
};

static bool match_item(void *ctx, const char *item, size_t len)
{
    struct active_ctx *c = ctx;
    const state_name *s = find_item(c->t, item, len);
    if (s) {
        c->known = true;
        c->match |= s->value == c->state;
    }
    return true;
}

bool jit_state_active(const char *table, const char *spec, const char *state)
{
    const table_states *t = states_of(table);
    if (!t || !state || !*state)
        return false;
    char *end;
    long v = strtol(state, &end, 10);
    if (*end || end == state)
        return false;
    struct active_ctx c = {t, (int)v, false, false};
    each_item(spec, match_item, &c);
    if (c.known)
        return c.match;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].value == v)
            return !t->v[i].closed;
    return false;
}

const char *jit_state_name(const char *table, const char *state)
{
    const table_states *t = states_of(table);
    if (t && state) {
        const state_name *s = find_item(t, state, strlen(state));
        if (s && s->value == atoi(state))
            return s->name;
    }
    return state ? state : "";
}

size_t jit_close_fields(const char *table, bool approved, const char *notes, char state_buf[8], itsm_kv kv[4])
{
    size_t n = 0;
    int state;
    const char *code = NULL;
    if (!strcmp(table, "incident")) {
        state = 7;
        code = "Solved (Permanently)";
    } else if (!strcmp(table, "change_request")) {
        state = 3;
        code = approved ? "successful" : "unsuccessful";
    } else {
        state = approved ? 3 : 4;       /* Closed Complete / Closed Incomplete */
    }
    snprintf(state_buf, 8, "%d", state);
    kv[n++] = (itsm_kv){"state", state_buf};
    if (code)
        kv[n++] = (itsm_kv){"close_code", code};
    kv[n++] = (itsm_kv){"close_notes", notes};
    return n;
}
