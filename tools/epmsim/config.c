/* Run-time settings: validation shared by the command line and
 * POST /_epmsim/config, and their JSON view (secrets are never shown). */
#include "epmsim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_free(ep_config *c)
{
    free(c->address);
    free(c->port_file);
    free(c->control_port_file);
    free(c->client_id);
    ep_free_secret(c->client_secret);
    free(c->webhook_url);
    free(c->webhook_user);
    ep_free_secret(c->webhook_password);
    ep_free_secret(c->webhook_auth_header);
    free(c->tenant_id);
    wire_free(&c->wire);
    memset(c, 0, sizeof *c);
}

void config_copy(ep_config *dst, const ep_config *src)
{
    *dst = *src;
    dst->address = ep_strdup(src->address);
    dst->port_file = ep_strdup(src->port_file);
    dst->control_port_file = ep_strdup(src->control_port_file);
    dst->client_id = ep_strdup(src->client_id);
    dst->client_secret = ep_strdup(src->client_secret);
    dst->webhook_url = ep_strdup(src->webhook_url);
    dst->webhook_user = ep_strdup(src->webhook_user);
    dst->webhook_password = ep_strdup(src->webhook_password);
    dst->webhook_auth_header = ep_strdup(src->webhook_auth_header);
    dst->tenant_id = ep_strdup(src->tenant_id);
    wire_copy(&dst->wire, &src->wire);
}

/* Header values must not smuggle a line break into the request. */
static bool header_safe(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || *s == 0x7f || ((unsigned char)*s < 0x20 && *s != '\t'))
            return false;
    return true;
}

static tb_err str_field(json_t *v, const char *name, size_t max, bool allow_empty, bool header,
                        char **slot, char *why, size_t whysz)
{
    if (!json_is_string(v)) {
        snprintf(why, whysz, "%s must be a string", name);
        return TB_ERR_INVALID;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n != strlen(s)) {
        snprintf(why, whysz, "%s must not contain NUL", name);
        return TB_ERR_INVALID;
    }
    if (!allow_empty && n == 0) {
        snprintf(why, whysz, "%s must not be empty", name);
        return TB_ERR_INVALID;
    }
    if (n > max) {
        snprintf(why, whysz, "%s is longer than %zu characters", name, max);
        return TB_ERR_INVALID;
    }
    if (header && !header_safe(s)) {
        snprintf(why, whysz, "%s must not contain control characters", name);
        return TB_ERR_INVALID;
    }
    ep_set_str(slot, s);
    return TB_OK;
}

static tb_err num_field(json_t *v, const char *name, double lo, double hi, double *out,
                        char *why, size_t whysz)
{
    double d;
    if (!ep_json_number(v, &d) || !isfinite(d) || d < lo || d > hi) {
        snprintf(why, whysz, "%s must be a number from %g to %g", name, lo, hi);
        return TB_ERR_INVALID;
    }
    *out = d;
    return TB_OK;
}

static tb_err int_field(json_t *v, const char *name, long lo, long hi, int *out, char *why,
                        size_t whysz)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(why, whysz, "%s must be an integer from %ld to %ld", name, lo, hi);
        return TB_ERR_INVALID;
    }
    *out = (int)json_integer_value(v);
    return TB_OK;
}

static tb_err bool_field(json_t *v, const char *name, bool *out, char *why, size_t whysz)
{
    if (!json_is_boolean(v)) {
        snprintf(why, whysz, "%s must be true or false", name);
        return TB_ERR_INVALID;
    }
    *out = json_is_true(v);
    return TB_OK;
}

bool config_url_ok(const char *u)
{
    if (!*u)
        return true;    /* no webhook recipient */
    if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
        return false;
    for (const char *c = u; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return false;
    return strlen(u) > 8;
}

tb_err config_apply_json(ep_config *c, json_t *obj, char *why, size_t whysz)
{
    static const char *const keys[] = {
        "client_id", "client_secret", "token_ttl", "webhook_url", "webhook_user",
        "webhook_password", "webhook_auth_header", "webhook_retry_interval",
        "webhook_max_attempts", "webhook_timeout", "tenant_id", "auto_update",
        "accept_unknown_requests", "final_decision_status", "invalid_client_status", "paths",
        NULL};
    tb_err rc = ep_check_keys(obj, keys, why, whysz);
    if (rc)
        return rc;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (strcmp(k, "client_id") == 0)
            rc = str_field(v, k, 256, false, true, &c->client_id, why, whysz);
        else if (strcmp(k, "client_secret") == 0)
            rc = str_field(v, k, 256, false, true, &c->client_secret, why, whysz);
        else if (strcmp(k, "token_ttl") == 0)
            rc = num_field(v, k, 0.05, 31536000, &c->token_ttl, why, whysz);
        else if (strcmp(k, "webhook_url") == 0) {
            rc = str_field(v, k, 2048, true, true, &c->webhook_url, why, whysz);
            if (!rc && !config_url_ok(c->webhook_url)) {
                snprintf(why, whysz, "webhook_url must be an http:// or https:// URL (or empty)");
                rc = TB_ERR_INVALID;
            }
        } else if (strcmp(k, "webhook_user") == 0)
            rc = str_field(v, k, 256, true, true, &c->webhook_user, why, whysz);
        else if (strcmp(k, "webhook_password") == 0)
            rc = str_field(v, k, 256, true, true, &c->webhook_password, why, whysz);
        else if (strcmp(k, "webhook_auth_header") == 0)
            rc = str_field(v, k, 4096, true, true, &c->webhook_auth_header, why, whysz);
        else if (strcmp(k, "webhook_retry_interval") == 0)
            rc = num_field(v, k, 0, 3600, &c->webhook_retry_interval, why, whysz);
        else if (strcmp(k, "webhook_max_attempts") == 0)
            rc = int_field(v, k, 1, 1000, &c->webhook_max_attempts, why, whysz);
        else if (strcmp(k, "webhook_timeout") == 0)
            rc = num_field(v, k, 0.05, 600, &c->webhook_timeout, why, whysz);
        else if (strcmp(k, "tenant_id") == 0) {
            rc = str_field(v, k, 36, false, true, &c->tenant_id, why, whysz);
            if (!rc && !ep_is_guid(c->tenant_id)) {
                snprintf(why, whysz, "tenant_id must be a GUID");
                rc = TB_ERR_INVALID;
            }
        } else if (strcmp(k, "auto_update") == 0)
            rc = bool_field(v, k, &c->auto_update, why, whysz);
        else if (strcmp(k, "accept_unknown_requests") == 0)
            rc = bool_field(v, k, &c->wire.accept_unknown_requests, why, whysz);
        else if (strcmp(k, "final_decision_status") == 0)
            rc = int_field(v, k, 400, 599, &c->wire.final_decision_status, why, whysz);
        else if (strcmp(k, "invalid_client_status") == 0) {
            rc = int_field(v, k, 400, 401, &c->wire.invalid_client_status, why, whysz);
        } else if (strcmp(k, "paths") == 0) {
            if (!json_is_object(v)) {
                snprintf(why, whysz, "paths must be an object");
                return TB_ERR_INVALID;
            }
            const char *pk;
            json_t *pv;
            json_object_foreach(v, pk, pv) {
                if (!json_is_string(pv)) {
                    snprintf(why, whysz, "paths.%.60s must be a string", pk);
                    return TB_ERR_INVALID;
                }
                rc = wire_set(&c->wire, pk, json_string_value(pv), why, whysz);
                if (rc)
                    return rc;
            }
        }
        if (rc)
            return rc;
    }
    return TB_OK;
}

tb_err config_check(const ep_config *c, char *why, size_t whysz)
{
    if (c->webhook_user && *c->webhook_user && c->webhook_auth_header &&
        *c->webhook_auth_header) {
        snprintf(why, whysz, "webhook authentication is either Basic (webhook_user) or Custom "
                 "(webhook_auth_header), not both; clear one with \"\"");
        return TB_ERR_INVALID;
    }
    const ep_wire *w = &c->wire;
    const char *exact[] = {w->token_path, w->app_decision_path, w->admin_decision_path};
    const char *names[] = {"token", "app_decision", "admin_decision"};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (strcmp(exact[i], exact[j]) == 0) {
                snprintf(why, whysz, "paths %s and %s must differ", names[i], names[j]);
                return TB_ERR_INVALID;
            }
    if (strcmp(w->app_read_path, w->admin_read_path) == 0) {
        snprintf(why, whysz, "paths app_read and admin_read must differ");
        return TB_ERR_INVALID;
    }
    return TB_OK;
}

json_t *config_json(const ep_config *c)
{
    const char *auth = c->webhook_auth_header && *c->webhook_auth_header ? "custom"
                       : c->webhook_user && *c->webhook_user            ? "basic"
                                                                        : "none";
    json_t *j = json_pack(
        "{s:s,s:b,s:f,s:s,s:s,s:s,s:b,s:f,s:i,s:f,s:s,s:b,s:b,s:i,s:i,s:o}", "client_id",
        c->client_id, "client_secret_set", c->client_secret && *c->client_secret, "token_ttl",
        c->token_ttl, "webhook_url", c->webhook_url ? c->webhook_url : "", "webhook_auth", auth,
        "webhook_user", c->webhook_user ? c->webhook_user : "", "webhook_password_set",
        c->webhook_password && *c->webhook_password, "webhook_retry_interval",
        c->webhook_retry_interval, "webhook_max_attempts", c->webhook_max_attempts,
        "webhook_timeout", c->webhook_timeout, "tenant_id", c->tenant_id, "auto_update",
        c->auto_update, "accept_unknown_requests", c->wire.accept_unknown_requests,
        "final_decision_status", c->wire.final_decision_status, "invalid_client_status",
        c->wire.invalid_client_status, "paths", wire_json(&c->wire));
    return j;
}
