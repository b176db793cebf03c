/* BeyondTrust client scripting (protocol notes §6.1): a URL on the appliance,
 * /api/client_script?type=rep&operation=generate&action=..., returns a BRCS
 * file the access or representative console runs: "BRCS1.0", then one
 * command per line, each "action=<a>&k=v..." percent-encoded (RFC 3986).
 *
 * Only start_jump_item_session is built here (seed 000 "Jump to
 * Configuration Item", the x_bmgr_bomgar_pam jump_to macro). The documented
 * limits are enforced: search_string and client.* at most 255 characters,
 * each session.custom.* value at most 1024, all custom values together at
 * most 10 KB. The BRCS file name suffix is documented, its stem is not [I]. */
#ifndef TB_BT_CLIENT_SCRIPT_H
#define TB_BT_CLIENT_SCRIPT_H

#include <stddef.h>
#include "core/buf.h"
#include "core/err.h"

#define BT_CS_SEARCH_MAX 255
#define BT_CS_CUSTOM_MAX 1024
#define BT_CS_CUSTOM_TOTAL_MAX (10 * 1024)

typedef struct bt_jump_item_session {
    const char *search_string;      /* required: the CI's name */
    const char *jump_method;        /* NULL = the console's choice; push|local_push|pinned|rdp|vnc|shelljump */
    struct {
        const char *name;           /* code name, e.g. "snow_task_id" */
        const char *value;
    } custom[8];
    size_t ncustom;
} bt_jump_item_session;

/* Writes the client-script URL for site (host, host:port or URL; https is
 * assumed without a scheme) into url, and the BRCS file text into brcs.
 * TB_ERR_INVALID (err says why) when a limit is exceeded or a value holds
 * control characters. */
tb_err bt_jump_item_script(const char *site, const bt_jump_item_session *s, tb_buf *url, tb_buf *brcs, char *err,
                           size_t errsz);
/* "ticketbridge-jump.brcs-<company>", company = first label of the host. */
void bt_brcs_file_name(const char *site, char *out, size_t outsz);

#endif
