/* Jump to Configuration Item (seed 000 "Jump to Configuration Item",
 * "Configure Incident CMDB Jump Macros"): from a task and/or a CI, the
 * client-script URL and BRCS text that start a Jump item session on the
 * CI, with session.custom.snow_task_id and snow_cmdb_ci_id set so the
 * session's import links back to them. */
#ifndef TB_FLOW_JUMP_H
#define TB_FLOW_JUMP_H

#include "core/err.h"
#include "itsm/itsm.h"

typedef struct jump_link {
    char task_table[64], task_number[64], task_sys_id[ITSM_SYS_ID_LEN + 1];
    char ci_name[256], ci_sys_id[ITSM_SYS_ID_LEN + 1];
    char file_name[128];
    char *url;                      /* owned */
    char *brcs;                     /* owned */
} jump_link;

/* task: number or sys_id (may be NULL); ci: name or sys_id (may be NULL;
 * then the task's configuration item); one of them is required. site: the
 * appliance's host name. method: NULL or a Jump method. On failure err says
 * why: TB_ERR_NOT_FOUND (no such task / CI), TB_ERR_INVALID (no CI to jump
 * to, a limit exceeded), anything else from the ticket store. */
tb_err jump_build(itsm *t, const char *site, const char *task, const char *ci, const char *method, jump_link *out,
                  char *err, size_t errsz);
void jump_link_free(jump_link *l);
/* {"url", "brcs", "file_name", "search_string", "task": {...}, "ci": {...}}; malloc'd. */
char *jump_link_json(const jump_link *l);

#endif
