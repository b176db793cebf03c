/* The one place that picks the ticket-store backend from the configuration. */
#include "itsm/itsm.h"

#include <string.h>

#include "core/config.h"
#include "itsm/itsm_servicenow.h"

int itsm_is_remote(const tb_config *cfg)
{
    return strcmp(cfg->ticket_store, "servicenow") == 0;
}

tb_err itsm_open(const tb_config *cfg, itsm **out, char *err, size_t errsz)
{
    *out = NULL;
    if (itsm_is_remote(cfg))
        return itsm_servicenow_open(cfg, out, err, errsz);
    tb_err rc = itsm_embedded_open(cfg->database, out);
    if (rc)
        tb_errmsg(err, errsz, "cannot open ticket store %s: %s", cfg->database, tb_strerror(rc));
    return rc;
}

const char *itsm_errmsg(itsm *h)
{
    const char *m = itsm_servicenow_errmsg(h);
    return m ? m : "";
}
