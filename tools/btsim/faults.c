/* Injected faults (docs/btsim.md, "Faults"): counters that the request paths
 * consume one at a time. */
#include "handler.h"

#include <stdlib.h>
#include <string.h>

bool take_fault(int *counter)
{
    bool hit = false;
    pthread_mutex_lock(&G.mu);
    if (*counter > 0) {
        (*counter)--;
        hit = true;
    }
    pthread_mutex_unlock(&G.mu);
    return hit;
}

tb_err fault_add(const char *spec)
{
    if (!spec)
        return TB_ERR_INVALID;
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    long n = 1;
    if (colon) {
        char *end;
        n = strtol(colon + 1, &end, 10);
        if (*end || n < 0 || n > 1000000 || end == colon + 1)
            return TB_ERR_INVALID;
    }
    tb_err rc = TB_OK;
    pthread_mutex_lock(&G.mu);
#define IS(name) (nl == strlen(name) && strncmp(spec, name, nl) == 0)
    if (IS("token-5xx"))
        G.faults.token_5xx += (int)n;
    else if (IS("report-5xx"))
        G.faults.report_5xx += (int)n;
    else if (IS("report-slow") && colon)
        G.faults.report_slow_ms = (int)n;
    else if (IS("report-timeout"))
        G.faults.report_timeout += (int)n;
    else if (IS("expire-tokens") && !colon)
        G.ntok = 0;
    else if (IS("lose-ack"))
        G.faults.lose_ack += (int)n;
    else if (IS("drop-connection"))
        G.faults.drop_connection += (int)n;
    else
        rc = TB_ERR_INVALID;
#undef IS
    pthread_mutex_unlock(&G.mu);
    return rc;
}
