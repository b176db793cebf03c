/* The ticket store on a ServiceNow instance (or anything serving its REST
 * Table API and Attachment API, such as another ticketbridge): itsm.h over
 * HTTPS with libcurl. See docs/servicenow-backend.md.
 *
 * A handle owns one libcurl handle (connections are kept and reused) and the
 * credentials read from the configured files; like every itsm handle it is
 * used by one thread at a time. Across handles, a process-wide cap
 * (servicenow_max_connections) bounds the requests in flight, and OAuth
 * tokens are cached per process (one per instance, client and user). */
#ifndef TB_ITSM_SERVICENOW_H
#define TB_ITSM_SERVICENOW_H

#include "core/config.h"
#include "itsm/itsm.h"

/* Reads the password / client secret files now (TB_ERR_CONFIG with a message
 * in err when something is missing or unreadable); makes no request. */
tb_err itsm_servicenow_open(const tb_config *cfg, itsm **out, char *err, size_t errsz);

/* Bounds the handle's requests from now on: every call fails with
 * TB_ERR_TIMEOUT ("no answer within the caller's deadline") once ms have
 * passed, each request's libcurl timeout is cut to the time left, and
 * neither a Retry-After wait nor a wait for a free connection
 * (servicenow_max_connections) runs past it. For a caller that must answer
 * in time (the approval endpoint). 0 removes the bound; TB_ERR_INVALID when
 * h is not a ServiceNow handle. */
tb_err itsm_servicenow_deadline(itsm *h, int ms);

/* The readable reason of the handle's last failed call ("" after a success),
 * e.g. "ServiceNow GET incident: HTTP 404: No Record found (...)". NULL when
 * h is not a ServiceNow handle. */
const char *itsm_servicenow_errmsg(itsm *h);

/* The Retry-After (in ms) of the handle's last failed call when the instance
 * sent one (a 429 or 503 whose wait was too long to honour here), so a job
 * can be retried when the instance asked; -1 otherwise. */
long itsm_servicenow_retry_after_ms(itsm *h);

/* Appends a journal entry unless the record already has one of that element
 * whose text contains marker (read back from sys_journal_field first), so a
 * retried job never writes the same note twice. *written says which
 * happened. marker must not contain '^'. */
tb_err itsm_servicenow_journal_once(itsm *h, const char *table, const char *sys_id,
                                    const char *element, const char *marker, const char *text,
                                    int *written);

#endif
