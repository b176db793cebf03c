/* Shared by the CSM page handlers (csm_http.c, csm_link.c, csm_records.c,
 * csm_chat.c) only. */
#ifndef TB_FLOW_CSM_HTTP_INT_H
#define TB_FLOW_CSM_HTTP_INT_H

#include <stdbool.h>
#include <sodium.h>

#include "bt/outbound_event.h"
#include "flow/auth.h"
#include "flow/csm_http.h"

#define CSM_FORM_BODY_MAX (16 * 1024)
#define CSM_NAME_MAX 64             /* lsid, user and appliance names */

struct csm_http {
    csm *csm;
    char ticket_store[32];
    char instance_url[512];         /* as servicenow_url */
    unsigned char form_key[crypto_generichash_KEYBYTES];
};

/* A request's parameters: the query string, and for a POST the form body. */
typedef struct csm_params {
    tb_http_req *req;
    bt_form form;
    bool post;
} csm_params;

/* Parses a POST's form body (else answers 400/415 and returns false). */
bool csm_params_open(csm_params *p, tb_http_req *req);
void csm_params_close(csm_params *p);
/* The value (body first, then query), or NULL. */
const char *csm_param(const csm_params *p, const char *name);
/* A text parameter of at most max characters without control characters;
 * NULL when absent or empty. On a bad value answers 400 naming it and sets
 * *bad. */
const char *csm_param_text(const csm_params *p, const char *name, long max, bool *bad);
/* Letters and digits only (a ticket number, a sys_id, a search). */
bool csm_alnum(const char *s, size_t max);

/* The named appliance, else Default; answers 404 and returns NULL. *id and
 * name (≥ 128 bytes) receive the record's. */
bool csm_find_appliance(csm_http *h, tb_http_req *req, const char *name, int64_t *id, char *out_name);

/* The form token for (appliance, lsid, user): 64 hex characters. */
void csm_form_token(const csm_http *h, int64_t appliance_id, const char *lsid, const char *user, char out[65]);
bool csm_form_token_ok(const csm_http *h, int64_t appliance_id, const char *lsid, const char *user, const char *tok);

void csm_link_handle(tb_http_req *req);
void csm_nav_handle(tb_http_req *req);
void csm_ticket_handle(tb_http_req *req);
void csm_chat_handle(tb_http_req *req);
void csm_chat_start_handle(tb_http_req *req);

#endif
