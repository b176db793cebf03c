/* The roles a ticketbridge user can hold (the ServiceNow apps' roles, from
 * the vendor guides) and the one rule for checking them.
 *
 * Roles are independent of each other ("there is no hierarchy to these
 * roles"), except:
 *   - admin holds every known role, as in ServiceNow;
 *   - the deprecated x_bmgr_bomgar_pam.user still satisfies checks for
 *     x_bmgr_bomgar_pam.data_viewer and .jump_user, but not .app_admin;
 *   - a check for itil is satisfied by itil or x_bmgr_bomgar_inte.itil.
 * A user's roles are stored as a comma-separated list in catalogue order
 * (roles_normalize). */
#ifndef TB_CORE_ROLES_H
#define TB_CORE_ROLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

#define ROLE_ADMIN "admin"
#define ROLE_PRA_APP_ADMIN "x_bmgr_bomgar_pam.app_admin"
#define ROLE_PRA_DATA_VIEWER "x_bmgr_bomgar_pam.data_viewer"
#define ROLE_PRA_JUMP_USER "x_bmgr_bomgar_pam.jump_user"
#define ROLE_PRA_USER "x_bmgr_bomgar_pam.user"
#define ROLE_ITIL "itil"
#define ROLE_RS_ITIL "x_bmgr_bomgar_inte.itil"
#define ROLE_CSM_AGENT "x_bmgr_crm.agent"
#define ROLE_JIT_API "x_bets_pmc_jit.api"
#define ROLE_JIT_USER "x_bets_pmc_jit.user"
#define ROLE_JIT_ADMIN "x_bets_pmc_jit.admin"

/* Longest normalized list (every role once, with commas) plus room to grow. */
#define ROLES_CSV_MAX 512

typedef struct tb_role {
    const char *name;
    const char *description;    /* one line, for `user roles --list` and docs */
    bool deprecated;
} tb_role;

extern const tb_role tb_roles[];
extern const size_t tb_roles_count;

/* Exact (case-sensitive) catalogue membership. */
bool role_known(const char *name);
/* Whether a user holding held_csv (normalized or not: spaces around names
 * are ignored) passes a check for required. NULL or "" required: true.
 * An unknown required role is refused even for admin, so that a misspelt
 * check fails closed. */
bool roles_grant(const char *held_csv, const char *required);
/* Parses a comma-separated list (names matched case-insensitively, spaces
 * and empty items ignored, duplicates dropped) into out, in catalogue
 * order. On an unknown name: TB_ERR_INVALID and the name (truncated) in
 * bad. TB_ERR_TOO_LARGE when csv is over 4 KiB. out needs ROLES_CSV_MAX. */
tb_err roles_normalize(const char *csv, char out[ROLES_CSV_MAX], char *bad, size_t badsz);
/* The same parse as a set: bit i = tb_roles[i]. Joining a set gives the
 * normalized list. */
tb_err roles_mask(const char *csv, uint32_t *mask, char *bad, size_t badsz);
void roles_join(uint32_t mask, char out[ROLES_CSV_MAX]);
/* Calls fn for each name of a comma-separated list (trimmed, non-empty). */
void roles_each(const char *csv, void (*fn)(void *ctx, const char *name, size_t len), void *ctx);

#endif
