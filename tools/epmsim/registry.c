/* The JIT requests the simulated tenant knows: created by the "ticket created"
 * webhooks epmsim sends, decided through the management API. A hash table by
 * lowercase GUID plus an insertion-ordered list. All functions: E.mu held. */
#include "epmsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ep_request **buckets;
static size_t nbuckets;
static ep_request **order;
static size_t norder, caporder;

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL;    /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void grow(void)
{
    size_t nb = nbuckets ? nbuckets * 2 : 1024;
    ep_request **nbk = calloc(nb, sizeof *nbk);
    if (!nbk)
        abort();
    for (size_t i = 0; i < norder; i++) {
        ep_request *r = order[i];
        size_t b = hash_id(r->id) & (nb - 1);
        r->hnext = nbk[b];
        nbk[b] = r;
    }
    free(buckets);
    buckets = nbk;
    nbuckets = nb;
}

ep_request *registry_find(const char *id)
{
    if (!nbuckets || !id || strlen(id) > 36)
        return NULL;
    char low[37];
    ep_lower_guid(id, low);
    for (ep_request *r = buckets[hash_id(low) & (nbuckets - 1)]; r; r = r->hnext)
        if (strcmp(r->id, low) == 0)
            return r;
    return NULL;
}

static const char *val(json_t *values, const char *k)
{
    const char *s = json_string_value(json_object_get(values, k));
    return s ? s : "";
}

ep_request *registry_add(ep_kind kind, json_t *values, bool keep_values)
{
    const char *id = val(values, "RequestId");
    if (!ep_is_guid(id))
        return NULL;    /* an override made it something else: not addressable by the API */
    ep_request *r = registry_find(id);
    if (r)
        return r;
    if (norder >= EP_MAX_REQUESTS)
        return NULL;
    if (norder >= nbuckets)
        grow();
    if (norder == caporder) {
        caporder = caporder ? caporder * 2 : 1024;
        order = realloc(order, caporder * sizeof *order);
        if (!order)
            abort();
    }
    r = calloc(1, sizeof *r);
    if (!r)
        abort();
    ep_lower_guid(id, r->id);
    r->kind = kind;
    r->ticket_number = ep_strdup(val(values, "TicketNumber"));
    r->tenant_id = ep_strdup(val(values, "TenantId"));
    r->created = ep_strdup(val(values, "Timestamp"));
    r->reason = ep_strdup(val(values, "Reason"));
    if (kind == EP_KIND_APP) {
        r->user = ep_strdup(val(values, "User"));
        r->host = ep_strdup(val(values, "HostName"));
    } else {
        r->user = ep_strdup(val(values, "UserName"));
        r->host = ep_strdup(val(values, "ComputerId"));
        r->duration_requested = ep_strdup(val(values, "DurationRequested"));
    }
    if (keep_values)
        r->values = json_incref(values);
    size_t b = hash_id(r->id) & (nbuckets - 1);
    r->hnext = buckets[b];
    buckets[b] = r;
    order[norder++] = r;
    return r;
}

size_t registry_count(void)
{
    return norder;
}

const char *kind_name(ep_kind k)
{
    return k == EP_KIND_APP ? "application" : "admin";
}

const char *state_name(ep_state s)
{
    return s == EP_APPROVED ? "Approved" : s == EP_DENIED ? "Denied" : "Pending";
}

json_t *registry_request_json(const ep_request *r)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", r->id, "kind",
                          kind_name(r->kind), "ticket_number", r->ticket_number, "tenant_id",
                          r->tenant_id, "user", r->user, "host", r->host, "created", r->created,
                          "state", state_name(r->state));
    if (r->duration_requested)
        json_object_set_new(j, "duration_requested", json_string(r->duration_requested));
    json_object_set_new(j, "decision", r->decision ? json_deep_copy(r->decision) : json_null());
    json_object_set_new(j, "decided_at", r->decided_at ? json_string(r->decided_at) : json_null());
    if (r->values)
        json_object_set_new(j, "values", json_deep_copy(r->values));
    return j;
}

json_t *registry_list_json(void)
{
    json_t *a = json_array();
    for (size_t i = 0; i < norder; i++) {
        const ep_request *r = order[i];
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s}", "id", r->id, "kind",
                                           kind_name(r->kind), "ticket_number",
                                           r->ticket_number, "state", state_name(r->state)));
    }
    return a;
}

void registry_free_all(void)
{
    for (size_t i = 0; i < norder; i++) {
        ep_request *r = order[i];
        free(r->ticket_number);
        free(r->tenant_id);
        free(r->user);
        free(r->host);
        free(r->created);
        free(r->reason);
        free(r->duration_requested);
        json_decref(r->values);
        json_decref(r->decision);
        free(r->decided_at);
        free(r);
    }
    free(order);
    free(buckets);
    order = NULL;
    buckets = NULL;
    norder = caporder = nbuckets = 0;
}
