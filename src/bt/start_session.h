/* The public site's session start URL (protocol notes §6.2), what a
 * customer's browser opens to start a support session: click-to-chat
 * (c2cjs=1), the customer's name, company, company code and details, an
 * issue from the issue menu, and session.custom.<code_name> values (seed 003
 * "Customer Initiated Chat from Service Portal", "Test Case Creation").
 *
 * Limits: customer.name, .company and .company_code at most 100 characters
 * [V]; customer.details at most 4096 [I]; each custom value at most 1024
 * characters and all of them together at most 10 KB [V, §2.2]. No value may
 * hold control characters (details may hold line breaks and tabs). */
#ifndef TB_BT_START_SESSION_H
#define TB_BT_START_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

#define BT_SS_CUSTOMER_MAX 100
#define BT_SS_DETAILS_MAX 4096
#define BT_SS_CUSTOM_MAX 1024
#define BT_SS_CUSTOM_TOTAL_MAX (10 * 1024)
#define BT_SS_CUSTOM_FIELDS 8

typedef struct bt_start_session {
    const char *customer_name;      /* NULL or "" = not sent */
    const char *customer_company;
    const char *customer_company_code;
    const char *customer_details;
    const char *issue;              /* issue code name: issue_menu=1&codeName=<issue> */
    bool click_to_chat;             /* c2cjs=1 */
    struct {
        const char *name;           /* code name: a-z, 0-9, '_' */
        const char *value;
    } custom[BT_SS_CUSTOM_FIELDS];
    size_t ncustom;
} bt_start_session;

/* Writes "<base_url>/api/start_session?..." into url (parameters percent-
 * encoded, RFC 3986). base_url is "scheme://host[:port]" (bt_api_base_url).
 * TB_ERR_INVALID with err saying which value is wrong. */
tb_err bt_start_session_url(const char *base_url, const bt_start_session *s, tb_buf *url, char *err, size_t errsz);

/* Characters (UTF-8 code points) in s; -1 when s is not valid UTF-8. */
long bt_utf8_chars(const char *s);

#endif
