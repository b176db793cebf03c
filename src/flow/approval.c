#include "flow/approval.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/server.h"

const approval_states approval_default_states[] = {
    /* change_request's open states are negative: New -5, Assess -4,
     * Authorize -3, Scheduled -2, Implement -1, Review 0. */
    {"change_request", "-5,-4,-3,-2,-1,0"},
    /* Cases: New 1, Open 10, Awaiting Info 18 (seed 003's key states). */
    {"sn_customerservice_case", "1,10,18"},
    /* Seed 000: "not closed, cancelled or resolved (value is less than 3)". */
    {"*", "<3"},
    {NULL, NULL},
};

static bool parse_number(const char *s, double *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (*end || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

bool approval_compare(const char *a, char cmp, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    double x, y;
    int c;
    if (parse_number(a, &x) && parse_number(b, &y))
        c = x < y ? -1 : x > y ? 1 : 0;
    else
        c = strcmp(a, b);
    switch (cmp) {
    case '=': return c == 0;
    case '<': return c < 0;
    case '>': return c > 0;
    default: return false;          /* unknown comparator: fail closed */
    }
}

/* "<3", "<=3", ">0", ">=1": operator and bound; false if spec is a list. */
static bool parse_bound(const char *spec, char op[3], double *bound)
{
    size_t n = 0;
    while (spec[n] == '<' || spec[n] == '>' || spec[n] == '=')
        n++;
    if (n == 0 || n > 2)
        return false;
    memcpy(op, spec, n);
    op[n] = '\0';
    if (strcmp(op, "<") && strcmp(op, "<=") && strcmp(op, ">") && strcmp(op, ">="))
        return false;
    return parse_number(spec + n, bound);
}

bool approval_states_valid(const char *spec, char *err, size_t errsz)
{
    char op[3];
    double b;
    if (!spec || !*spec || strlen(spec) > 200) {
        snprintf(err, errsz, "expected \"<N\", \"<=N\", \">N\", \">=N\" or a comma-separated list of states");
        return false;
    }
    if (strchr("<>=", spec[0])) {
        if (parse_bound(spec, op, &b))
            return true;
        snprintf(err, errsz, "'%s': expected \"<N\", \"<=N\", \">N\" or \">=N\" with a number", spec);
        return false;
    }
    const char *p = spec;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n > 40) {
            snprintf(err, errsz, "'%s': empty or overlong state in the list", spec);
            return false;
        }
        for (size_t i = 0; i < n; i++)
            if (!isalnum((unsigned char)p[i]) && p[i] != '-' && p[i] != '_') {
                snprintf(err, errsz, "'%s': a state is a number or a word", spec);
                return false;
            }
        p += n;
        if (*p == ',' && !*++p) {
            snprintf(err, errsz, "'%s': trailing comma", spec);
            return false;
        }
    }
    return true;
}

bool approval_state_matches(const char *spec, const char *state)
{
    if (!state || !*state)
        return false;
    char op[3];
    double bound, v;
    if (parse_bound(spec, op, &bound)) {
        if (!parse_number(state, &v))
            return false;
        if (!strcmp(op, "<"))
            return v < bound;
        if (!strcmp(op, "<="))
            return v <= bound;
        if (!strcmp(op, ">"))
            return v > bound;
        return v >= bound;
    }
    size_t sl = strlen(state);
    for (const char *p = spec; *p;) {
        size_t n = strcspn(p, ",");
        if (n == sl && !strncmp(p, state, n))
            return true;
        p += n;
        if (*p)
            p++;
    }
    return false;
}

static const char *states_for(const approval_policy *p, const char *table)
{
    for (size_t i = 0; i < p->nstates; i++)
        if (!strcmp(p->states[i].table, table))
            return p->states[i].states;
    for (size_t i = 0; i < p->nstates; i++)
        if (!strcmp(p->states[i].table, "*"))
            return p->states[i].states;
    for (const approval_states *d = approval_default_states; d->table; d++)
        if (!strcmp(d->table, table) || !strcmp(d->table, "*"))
            return d->spec;
    return "<3";
}

void approval_render_message(const char *tmpl, const char *task_value, char cmp, const char *field_value,
                             char *out, size_t outsz)
{
    static const char *const tokens[] = {"%TaskFieldName%", "%ComparatorSymbol%", "%FieldValue%"};
    char sym[2] = {cmp, 0};
    const char *subst[] = {task_value ? task_value : "", sym, field_value ? field_value : ""};
    size_t o = 0;
    if (!outsz)
        return;
    for (const char *p = tmpl; *p && o + 1 < outsz;) {
        int hit = -1;
        for (int i = 0; i < 3; i++)
            if (!strncmp(p, tokens[i], strlen(tokens[i])))
                hit = i;
        if (hit >= 0) {
            for (const char *s = subst[hit]; *s && o + 1 < outsz; s++)
                out[o++] = *s;
            p += strlen(tokens[hit]);
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

/* ---- the decision ---- */

static void deny(approval_decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void deny(approval_decision *d, const char *fmt, ...)
{
    d->allowed = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
}

static bool past_deadline(const approval_policy *p)
{
    return p->deadline_ns && tb_mono_ns() > p->deadline_ns;
}

static void unavailable(approval_decision *d, tb_err e, bool timeout)
{
    d->allowed = false;
    d->unavailable = true;
    if (timeout)
        snprintf(d->reason, sizeof d->reason, "ticket system unavailable: no answer within the approval timeout");
    else
        snprintf(d->reason, sizeof d->reason, "ticket system unavailable: %s", tb_strerror(e));
}

/* Reads a referenced record; false (and d filled) when the store failed. */
static bool get_ref(itsm *t, const approval_policy *p, const char *table, const char *sys_id, itsm_record **out,
                    approval_decision *d)
{
    *out = NULL;
    if (!sys_id || !*sys_id)
        return true;
    tb_err e = itsm_get(t, table, sys_id, out);
    if (e == TB_ERR_NOT_FOUND || e == TB_ERR_INVALID)
        e = TB_OK;              /* a dangling reference is an empty one */
    if (e || past_deadline(p)) {
        itsm_record_free(*out);
        *out = NULL;
        unavailable(d, e, !e || (e == TB_ERR_TIMEOUT && past_deadline(p)));
        return false;
    }
    return true;
}

static void default_checks(itsm *t, const approval_policy *p, const ts_request *r, const itsm_record *task,
                           approval_decision *d)
{
    const char *num = d->task_number;
    const char *username = ts_get(r, TS_USERNAME);
    const char *computer = ts_request_computer(r);

    /* 2. the rep */
    const char *assigned = itsm_record_get(task, "assigned_to");
    if (!assigned || !*assigned) {
        deny(d, "%s is not assigned to anyone, so it does not authorize %s", num, *username ? username : "this user");
        return;
    }
    if (!*username) {
        deny(d, "the request does not name the user (no username), so %s cannot be matched to its assignee", num);
        return;
    }
    itsm_record *user;
    if (!get_ref(t, p, "sys_user", assigned, &user, d))
        return;
    const char *un = user ? itsm_record_get(user, "user_name") : NULL;
    const char *bt = user ? itsm_record_get(user, "u_beyondtrust_username") : NULL;
    bool rep_ok = (un && !strcasecmp(un, username)) || (bt && *bt && !strcasecmp(bt, username));
    itsm_record_free(user);
    if (!rep_ok) {
        deny(d, "%s is not assigned to %s", num, username);
        return;
    }

    /* 3. the computer */
    const char *ci_id = itsm_record_get(task, "cmdb_ci");
    if (!ci_id || !*ci_id) {
        deny(d, "%s has no configuration item, so it does not cover %s", num, *computer ? computer : "this Jump item");
        return;
    }
    itsm_record *ci;
    if (!get_ref(t, p, "cmdb_ci", ci_id, &ci, d))
        return;
    const char *ci_name = ci ? itsm_record_get(ci, "name") : NULL;
    char ci_name_copy[256];
    snprintf(ci_name_copy, sizeof ci_name_copy, "%s", ci_name ? ci_name : "");
    if (ci)
        snprintf(d->ci_sys_id, sizeof d->ci_sys_id, "%s", ci->sys_id);
    itsm_record_free(ci);
    if (!*computer || strcasecmp(ci_name_copy, computer)) {
        deny(d, "%s's configuration item (%s) is not the computer being accessed (%s)", num,
             *ci_name_copy ? ci_name_copy : "unknown", *computer ? computer : "none named in the request");
        return;
    }

    /* 4. approval */
    const char *approval = itsm_record_get(task, "approval");
    if (!approval || strcmp(approval, "approved")) {
        deny(d, "%s is not approved (approval: %s)", num, approval && *approval ? approval : "none");
        return;
    }

    /* 5. state */
    const char *state = itsm_record_get(task, "state");
    const char *spec = states_for(p, d->task_table);
    if (!approval_state_matches(spec, state)) {
        deny(d, "%s is not in an active state (state %s; active: %s)", num, state && *state ? state : "none", spec);
        return;
    }

    d->allowed = true;
    snprintf(d->reason, sizeof d->reason, "%s authorizes %s on %s", num, username, computer);
}

static void override_checks(const approval_policy *p, const ts_request *r, const itsm_record *task,
                            approval_decision *d)
{
    for (size_t i = 0; i < p->nrules; i++) {
        const tb_override_rule *rule = &p->rules[i];
        const char *tv = itsm_record_get(task, rule->task_field);
        const char *fv = rule->value;
        if (rule->reference) {
            int f = ts_field_by_name(rule->value);
            fv = f >= 0 ? ts_get(r, (ts_field)f) : "";
        }
        if (!approval_compare(tv, rule->comparator, fv)) {
            if (rule->message && *rule->message)
                approval_render_message(rule->message, tv, rule->comparator, fv, d->reason, sizeof d->reason);
            else
                snprintf(d->reason, sizeof d->reason, "%s: %s (%s) %c %s does not hold", d->task_number,
                         rule->task_field, tv ? tv : "", rule->comparator, fv);
            d->allowed = false;
            return;
        }
    }
    d->allowed = true;
    snprintf(d->reason, sizeof d->reason, "%s passes the %zu override rule%s", d->task_number, p->nrules,
             p->nrules == 1 ? "" : "s");
}

void approval_decide(itsm *t, const approval_policy *p, const ts_request *r, approval_decision *d)
{
    memset(d, 0, sizeof *d);
    const char *ticket = ts_get(r, TS_TICKET_ID);
    char key[ITSM_MAX_NAME + 1];
    size_t n = strlen(ticket);
    while (n && ticket[n - 1] == ' ')
        n--;
    while (n && *ticket == ' ')
        ticket++, n--;
    if (n == 0 || n >= sizeof key) {
        deny(d, "'%.80s' is not a ticket number or sys_id", ticket);
        return;
    }
    memcpy(key, ticket, n);
    key[n] = '\0';

    const char *tables[2] = {p->record_type, NULL};
    bool any = !p->override || !p->record_type || !*p->record_type;
    itsm_record *task = NULL;
    tb_err e = itsm_find_task(t, key, any ? NULL : tables, &task);
    if (e == TB_ERR_NOT_FOUND || e == TB_ERR_INVALID) {
        if (any)
            deny(d, "ticket %s was not found", key);
        else
            deny(d, "ticket %s was not found among %s records", key, p->record_type);
        return;
    }
    if (e || past_deadline(p)) {
        itsm_record_free(task);
        unavailable(d, e, !e || (e == TB_ERR_TIMEOUT && past_deadline(p)));
        return;
    }
    snprintf(d->task_table, sizeof d->task_table, "%s", task->table);
    snprintf(d->task_sys_id, sizeof d->task_sys_id, "%s", task->sys_id);
    const char *num = itsm_record_get(task, "number");
    snprintf(d->task_number, sizeof d->task_number, "%s", num && *num ? num : task->sys_id);
    const char *ci = itsm_record_get(task, "cmdb_ci");
    if (ci && strlen(ci) == ITSM_SYS_ID_LEN)
        snprintf(d->ci_sys_id, sizeof d->ci_sys_id, "%s", ci);

    if (p->override && p->nrules)
        override_checks(p, r, task, d);
    else
        default_checks(t, p, r, task, d);
    itsm_record_free(task);
    if (d->allowed && past_deadline(p))
        unavailable(d, TB_OK, true);
}
